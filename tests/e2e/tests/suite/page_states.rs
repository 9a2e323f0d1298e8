//! The merchant's page with a connected store, against the strict Klaviyo stub: the test event
//! reaches Klaviyo spec-valid (and each refusal is named), and, in headless Chromium inside
//! the fake Salla dashboard, every signed-in state in Arabic and English, light and dark,
//! with the history import mid-way, is screenshotted (`target/artifacts/page-*.png`).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::history::{HistoryProgress, Phase};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::KlaviyoClient;
use bytes::Bytes;
use e2e::salla_stub::SallaStub;
use fantoccini::Locator;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use klaviyo_stub::{KlaviyoStub, StubAccount};
use lambda_http::http::{Method, StatusCode, header};
use tokio::net::TcpListener;

use crate::browser::{browser, chromedriver, screenshot, start_driver, text_of};

const SESSION_SECRET: &str = "page-states-session-secret-0123456789";
const STORE: &str = "1803665367";
const GOOD_KEY: &str = "pk_page_good_0123456789WXYZ";
const TOKEN: &str = "em_tok_page_states";

fn connected(key: &str, now: i64) -> StoreRecord {
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new(key),
        account_name: Some("متجر العطور".into()),
        account_id: Some("AbC123".into()),
        validated_at: now - 3600,
        needs_reconnect: false,
    });
    record.salla = Some(SallaTokens {
        access_token: Secret::new("a"),
        refresh_token: Secret::new("r"),
        expires_at: now + 86_400,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    let mut h = HistoryProgress::started(now - 900);
    h.phase = Phase::OrdersRecent;
    h.products_done = 48;
    h.customers_done = 1_250;
    h.customers_total = 1_250;
    h.orders_done = 2_310;
    h.orders_total = 5_400;
    h.updated_at = now - 10;
    record.history = Some(h);
    record
}

/// A day of relayed events and one recent outage, as the intake would have counted them.
async fn health(now: i64) -> Arc<adapters::health::memory::MemoryHealth> {
    use adapters::health::HealthStore;
    let health = Arc::new(adapters::health::memory::MemoryHealth::new());
    let mut day = adapters::health::DayStats::default();
    let this_hour = ((now.rem_euclid(86_400)) / 3600) as u8;
    for hour in 0..=this_hour {
        let n = 3 + u64::from(hour % 5) * 4;
        day.counts.insert((hour, "Placed Order".into()), n);
        day.counts.insert((hour, "Ordered Product".into()), n * 2);
        day.counts.insert((hour, "Started Checkout".into()), n + 6);
    }
    day.failures.insert("klaviyo_outage".into(), 3);
    day.failure_last
        .insert("klaviyo_outage".into(), now - 4 * 3600);
    day.last_ok = Some(now - 40);
    health
        .add(STORE, adapters::health::day_of(now), &day)
        .await
        .expect("memory health");
    health
}

fn deps(
    klaviyo: &KlaviyoStub,
    keys: Arc<MemoryKeyStore>,
    salla: Option<(&SallaStub, String)>,
    health: Arc<adapters::health::memory::MemoryHealth>,
) -> key_onboarding::Deps {
    key_onboarding::Deps {
        keys,
        klaviyo: Arc::new(KlaviyoClient::new(&klaviyo.base_url)),
        session_secret: Secret::new(SESSION_SECRET),
        handoffs: Arc::new(adapters::once::memory::MemorySpentMarks::new()),
        embedded: salla.as_ref().map(|(s, _)| {
            Arc::new(adapters::salla::embedded::SallaEmbedded::new(
                &format!("{}/exchange-authority/v1", s.base_url),
                e2e::salla_stub::APP_ID,
            )) as Arc<dyn adapters::salla::embedded::EmbeddedTokens>
        }),
        dashboard_origin: salla.map_or_else(
            || adapters::web::SALLA_DASHBOARD_ORIGIN.to_string(),
            |(_, origin)| origin,
        ),
        health,
        settings_sync: None,
        history: Default::default(),
        mapping_cache: Default::default(),
    }
}

fn post(session: &str, action: &str) -> lambda_http::Request {
    let csrf = adapters::session::csrf_token(SESSION_SECRET.as_bytes(), session);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("store_id", STORE),
            ("lang", "en"),
            ("action", action),
        ])
        .finish();
    lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri("/onboarding")
        .header(
            header::COOKIE,
            format!("{}={session}", key_onboarding::SESSION_COOKIE),
        )
        .body(lambda_http::Body::Text(body))
        .unwrap()
}

fn body(resp: &lambda_http::Response<lambda_http::Body>) -> String {
    String::from_utf8_lossy(resp.body().as_ref()).into_owned()
}

/// One spec-valid event per click, deterministic per minute; a key Klaviyo refuses is named.
#[tokio::test]
async fn the_test_event_reaches_the_strict_stub_and_refusals_are_named() {
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new("Shop", "AbC123"));
    let now = adapters::clock::now_unix();
    let keys = Arc::new(MemoryKeyStore::with_records([connected(GOOD_KEY, now)]));
    let deps = deps(&klaviyo, keys.clone(), None, health(now).await);
    let session = adapters::session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        adapters::session::Purpose::Session,
        now,
        adapters::session::SESSION_TTL_SECS,
    );
    let resp = key_onboarding::handle(&deps, post(&session, "test_event")).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", body(&resp));
    assert_eq!(
        resp.headers()[header::LOCATION],
        "/onboarding?lang=en&notice=test_sent"
    );
    assert_eq!(klaviyo.violations(), Vec::<String>::new());
    let events = klaviyo.events();
    assert_eq!(events.len(), 1, "{events:?}");
    let text = events[0].to_string();
    assert!(text.contains("Salla Test Event"), "{text}");
    assert!(text.contains(&format!("salla:{STORE}:test")), "{text}");

    // A key Klaviyo no longer knows: the page says so, nothing is recorded, no key shown.
    let revoked = "pk_page_revoked_0123456789ABCD";
    keystore_set_key(keys.as_ref(), revoked).await;
    let resp = key_onboarding::handle(&deps, post(&session, "test_event")).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    let html = body(&resp);
    assert!(html.contains("rejected the saved key"), "{html}");
    assert!(!html.contains(revoked));
    assert_eq!(klaviyo.events().len(), 1);
}

async fn keystore_set_key(keys: &dyn KeyStore, key: &str) {
    adapters::keystore::update(keys, STORE, |r| {
        if let Some(k) = r.klaviyo.as_mut() {
            k.private_key = Secret::new(key);
        }
    })
    .await
    .unwrap();
}

/// A dashboard page framing ours with the given `lang` and `theme` (path `/{lang}/{theme}`).
async fn start_dashboard(app_base: String) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind dashboard");
    let port = listener.local_addr().expect("dashboard address").port();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let app_base = app_base.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: hyper::Request<Incoming>| {
                    let mut parts = req.uri().path().trim_matches('/').split('/');
                    let lang = parts.next().unwrap_or("ar").to_string();
                    let theme = parts.next().unwrap_or("light").to_string();
                    let background = if theme == "dark" {
                        "#0b0c0e"
                    } else {
                        "#eef0f3"
                    };
                    let html = format!(
                        "<!doctype html><html><body style=\"margin:0;background:{background}\">\
                         <iframe id=\"app\" style=\"border:0\" width=\"420\" height=\"1000\" \
                         src=\"{app_base}/onboarding?token={TOKEN}&theme={theme}&lang={lang}&app_id=1\">\
                         </iframe></body></html>"
                    );
                    async move {
                        Ok::<_, Infallible>(
                            hyper::Response::builder()
                                .header("content-type", "text/html; charset=utf-8")
                                .body(Full::new(Bytes::from(html)))
                                .expect("dashboard page"),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    port
}

async fn serve_page(deps: Arc<key_onboarding::Deps>, listener: TcpListener) {
    use http_body_util::BodyExt;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let deps = deps.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<Incoming>| {
                let deps = deps.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let bytes = body
                        .collect()
                        .await
                        .map(|b| b.to_bytes())
                        .unwrap_or_default();
                    let body = if bytes.is_empty() {
                        lambda_http::Body::Empty
                    } else {
                        lambda_http::Body::Binary(bytes.to_vec())
                    };
                    let req = lambda_http::http::Request::from_parts(parts, body);
                    let (parts, body) = key_onboarding::handle(&deps, req).await.into_parts();
                    Ok::<_, Infallible>(hyper::Response::from_parts(
                        parts,
                        Full::new(Bytes::copy_from_slice(body.as_ref())),
                    ))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// Every signed-in state, ar/en × light/dark, inside the dashboard frame: the import mid-way
/// (progress bar, phase, counts) and the test event's answer.
#[tokio::test]
async fn signed_in_states_in_both_languages_and_themes() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let now = adapters::clock::now_unix();
    let salla = SallaStub::start("page-client", "page-secret").await;
    salla.add_embedded_token(TOKEN, STORE, now + 600);
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new("Shop", "AbC123"));
    let keys = Arc::new(MemoryKeyStore::with_records([connected(GOOD_KEY, now)]));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let dashboard = start_dashboard(base).await;
    let origin = format!("http://localhost:{dashboard}");
    let deps = Arc::new(deps(
        &klaviyo,
        keys,
        Some((&salla, origin)),
        health(now).await,
    ));
    tokio::spawn(serve_page(deps, listener));

    let (_driver, webdriver) = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("browser profile dir");
    let client = browser(&webdriver, profile.path()).await;
    let run = {
        let client = client.clone();
        let klaviyo_events = move || klaviyo.events().len();
        tokio::spawn(async move {
            let e = |e: fantoccini::error::CmdError| e.to_string();
            for lang in ["ar", "en"] {
                for theme in ["light", "dark"] {
                    client
                        .goto(&format!("http://localhost:{dashboard}/{lang}/{theme}"))
                        .await
                        .map_err(e)?;
                    client.enter_frame(0).await.map_err(e)?;
                    let status = text_of(&client, "#history-status").await;
                    assert!(!status.is_empty());
                    let metrics = text_of(&client, "#metrics").await;
                    assert!(metrics.contains("Placed Order"), "{metrics}");
                    let class = client
                        .find(Locator::Css("html"))
                        .await
                        .map_err(e)?
                        .attr("class")
                        .await
                        .map_err(e)?;
                    assert_eq!(class.as_deref() == Some("dark"), theme == "dark");
                    let lang_attr = client
                        .find(Locator::Css("html"))
                        .await
                        .map_err(e)?
                        .attr("lang")
                        .await
                        .map_err(e)?;
                    assert_eq!(lang_attr.as_deref(), Some(lang));
                    screenshot(&client, &format!("page-{lang}-{theme}-1-connected.png")).await;
                    client
                        .execute(
                            "document.getElementById('history').scrollIntoView()",
                            vec![],
                        )
                        .await
                        .map_err(e)?;
                    screenshot(&client, &format!("page-{lang}-{theme}-2-history.png")).await;
                    // The test event: answered in the frame, the theme kept.
                    client
                        .find(Locator::Css("#send-test"))
                        .await
                        .map_err(e)?
                        .click()
                        .await
                        .map_err(e)?;
                    let notice = text_of(&client, "#notice").await;
                    assert!(notice.contains("Klaviyo"), "{notice}");
                    let class = client
                        .find(Locator::Css("html"))
                        .await
                        .map_err(e)?
                        .attr("class")
                        .await
                        .map_err(e)?;
                    assert_eq!(class.as_deref() == Some("dark"), theme == "dark");
                    screenshot(&client, &format!("page-{lang}-{theme}-3-test-event.png")).await;
                    client.enter_parent_frame().await.map_err(e)?;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            // Four clicks within a minute or two: one or two distinct events in Klaviyo.
            assert!(klaviyo_events() >= 1);
            Ok::<(), String>(())
        })
    };
    let outcome = run.await;
    let _ = client.close().await;
    match outcome {
        Ok(result) => result.expect("page states"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("page states task failed: {e}"),
    }
}
