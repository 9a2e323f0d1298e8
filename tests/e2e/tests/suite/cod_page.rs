//! The cash-on-delivery confirmation page in a real headless Chromium, against the Salla API
//! stub (orders and their status route) and the Klaviyo stub (spec-strict): a link scanner's
//! GET changes nothing; the shopper's button press moves the order once and sends one
//! "COD Confirmed"; re-opening shows the state; the cancel link of a confirmed order, an
//! expired link, a forged one and one for a store we do not hold change nothing. Screenshots
//! in Arabic and English go to `<repo>/target/artifacts/cod-*.png`.
//!
//! Gate: `CHROMEDRIVER`, as for the onboarding browser test (fails in CI when unset).

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::cod::link::{Action, Link, LinkSecrets};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::KlaviyoClient;
use adapters::salla::oauth::SallaOAuth;
use adapters::salla::order_status::{OrderStatusClient, TIMEOUT};
use adapters::salla::refresh::RefreshLocks;
use bytes::Bytes;
use fantoccini::{Client, Locator};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use klaviyo_stub::{KlaviyoStub, StubAccount};
use salla_api_stub::{Dataset, RateConfig, SallaApiStub};
use tokio::net::TcpListener;

use crate::browser::{browser, chromedriver, screenshot, start_driver, text_of, text_once_it_has};

const SECRET: &str = "cod-browser-link-secret-0123456789abcdef";
const STORE: u64 = 7;
const TOKEN: &str = "tok-cod-browser";
const KEY: &str = "pk_cod_browser_0123456789";

async fn serve(
    deps: Arc<cod_confirm::Deps>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
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
    let resp =
        cod_confirm::handle(&deps, lambda_http::http::Request::from_parts(parts, body)).await;
    let (parts, body) = resp.into_parts();
    Ok(hyper::Response::from_parts(
        parts,
        Full::new(Bytes::copy_from_slice(body.as_ref())),
    ))
}

async fn start_page(deps: Arc<cod_confirm::Deps>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let deps = deps.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(deps.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn link(store_id: u64, order_id: u64, action: Action, expires_at: i64) -> String {
    LinkSecrets::new(Secret::new(SECRET)).issue(&Link {
        store_id,
        order_id,
        action,
        expires_at,
    })
}

struct World {
    salla: SallaApiStub,
    klaviyo: KlaviyoStub,
    base: String,
    order: u64,
}

#[tokio::test]
async fn the_cod_page_in_headless_chromium() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let salla = SallaApiStub::start().await;
    salla.set_rate_limits(RateConfig::OFF, RateConfig::OFF);
    salla.add_store(&STORE.to_string(), TOKEN, Dataset::new(11, 40, 10, 5));
    let order = salla
        .order_ids(&STORE.to_string())
        .into_iter()
        .find(|id| salla.order_detail(&STORE.to_string(), *id).unwrap()["payment_method"] == "cod")
        .expect("a cod order in the dataset");
    salla.set_order_status(&STORE.to_string(), order, "under_review");
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(KEY, StubAccount::new("COD", "CoD123"));

    let now = adapters::clock::now_unix();
    let keys = MemoryKeyStore::new();
    keys.put(&StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(KEY),
            account_name: None,
            account_id: None,
            validated_at: now,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("refresh-unused"),
            expires_at: now + 10 * 86_400,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        ..StoreRecord::new(STORE.to_string())
    })
    .await
    .expect("seed the store");
    let deps = Arc::new(cod_confirm::Deps {
        keys: Arc::new(keys),
        orders: Arc::new(OrderStatusClient::new(salla.base_url.clone(), TIMEOUT)),
        klaviyo: Arc::new(KlaviyoClient::new(&klaviyo.base_url)),
        // The token is fresh: a refresh would fail against this closed port, visibly.
        refresher: Arc::new(SallaOAuth::new(
            "http://127.0.0.1:9",
            "cid",
            Secret::new("csecret"),
        )),
        refresh_locks: RefreshLocks::default(),
        links: LinkSecrets::new(Secret::new(SECRET)),
        answers: Arc::new(adapters::once::memory::MemorySpentMarks::new()),
        now: adapters::clock::now_unix,
    });
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind page");
    let base = format!(
        "http://127.0.0.1:{}/cod/",
        listener.local_addr().expect("address").port()
    );
    tokio::spawn(start_page(deps, listener));

    let (_driver, webdriver) = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("browser profile dir");
    let client = browser(&webdriver, profile.path()).await;
    let world = World {
        salla,
        klaviyo,
        base,
        order,
    };
    let outcome = tokio::spawn(flow(client.clone(), world)).await;
    let _ = client.close().await;
    match outcome {
        Ok(result) => result.expect("cod page flow"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("cod page flow task failed: {e}"),
    }
}

async fn flow(client: Client, w: World) -> Result<(), String> {
    let now = adapters::clock::now_unix();
    let confirm = link(STORE, w.order, Action::Confirm, now + 3600);
    let updates = || w.salla.status_updates().len();

    // 1. A link scanner (or the shopper) opens the link: Arabic, one button, nothing moves.
    client
        .goto(&format!("{}{confirm}", w.base))
        .await
        .map_err(|e| e.to_string())?;
    let button = text_of(&client, "button").await;
    if button != "تأكيد الطلب" {
        return Err(format!("the Arabic confirm button: {button:?}"));
    }
    let dir = client
        .find(Locator::Css("html"))
        .await
        .map_err(|e| e.to_string())?
        .attr("dir")
        .await
        .map_err(|e| e.to_string())?;
    if dir.as_deref() != Some("rtl") {
        return Err(format!("the page is right to left: {dir:?}"));
    }
    screenshot(&client, "cod-1-ask-ar.png").await;
    client.refresh().await.map_err(|e| e.to_string())?;
    if updates() != 0 {
        return Err("a GET moved the order".into());
    }

    // 2. The button press confirms, once.
    client
        .find(Locator::Css("button"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    let done = text_once_it_has(&client, "main p", "تم تأكيد طلبك").await;
    if !done.contains("تم تأكيد طلبك") {
        return Err(format!("confirmed page: {done:?}"));
    }
    screenshot(&client, "cod-2-confirmed-ar.png").await;
    let sent = w.salla.status_updates();
    if sent.len() != 1 || sent[0].slug != "in_progress" || sent[0].order_id != w.order {
        return Err(format!("one status update to in_progress: {sent:?}"));
    }

    // 3. Re-opening shows the state; no button, no second update.
    client
        .goto(&format!("{}{confirm}", w.base))
        .await
        .map_err(|e| e.to_string())?;
    text_of(&client, "main p").await;
    if client.find(Locator::Css("button")).await.is_ok() || updates() != 1 {
        return Err("a confirmed order offered a button or moved again".into());
    }

    // 4. The cancel link of the confirmed order, in English: the state, nothing moves.
    let cancel = link(STORE, w.order, Action::Cancel, now + 3600);
    client
        .goto(&format!("{}{cancel}?lang=en", w.base))
        .await
        .map_err(|e| e.to_string())?;
    let settled = text_of(&client, "main p").await;
    if !settled.contains("can no longer be changed") || !settled.contains("Confirmed") {
        return Err(format!("settled page: {settled:?}"));
    }
    screenshot(&client, "cod-3-settled-en.png").await;

    // 5. Expired, forged and foreign-store links say so and never reach Salla's update.
    let other = w.salla.order_ids(&STORE.to_string())[0];
    let expired = link(STORE, other, Action::Confirm, now - 60);
    let forged =
        LinkSecrets::new(Secret::new("someone-else-s-secret-0123456789abc")).issue(&Link {
            store_id: STORE,
            order_id: other,
            action: Action::Confirm,
            expires_at: now + 3600,
        });
    let foreign = link(8, other, Action::Confirm, now + 3600);
    for (token, expected, shot) in [
        (&expired, "expired", Some("cod-4-expired-en.png")),
        (&forged, "not valid", Some("cod-5-forged-en.png")),
        (&foreign, "not valid", None),
    ] {
        client
            .goto(&format!("{}{token}?lang=en", w.base))
            .await
            .map_err(|e| e.to_string())?;
        let text = text_of(&client, "main p").await;
        if !text.contains(expected) {
            return Err(format!("{expected:?} page: {text:?}"));
        }
        if let Some(name) = shot {
            screenshot(&client, name).await;
        }
    }
    if updates() != 1 {
        return Err(format!("more updates: {:?}", w.salla.status_updates()));
    }

    // 6. One "COD Confirmed" reached Klaviyo, valid against its spec.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let events = w.klaviyo.events();
    let names: Vec<_> = events
        .iter()
        .map(|e| e["data"]["attributes"]["metric"]["data"]["attributes"]["name"].clone())
        .collect();
    if names != [serde_json::json!("COD Confirmed")] {
        return Err(format!("one COD Confirmed event: {names:?}"));
    }
    let violations = w.klaviyo.violations();
    if !violations.is_empty() {
        return Err(format!("spec violations: {violations:?}"));
    }
    Ok(())
}
