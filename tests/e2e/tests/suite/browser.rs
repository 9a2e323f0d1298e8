//! The onboarding flow in a real headless Chromium (Debian's `chromium` + `chromium-driver`,
//! installed by `infra/scripts/chromium.sh`), driven over WebDriver with fantoccini:
//! open the page through the OAuth callback (Salla stub), submit a bad key (error in Arabic),
//! a good key (connected: account name + last four), then disconnect. A PNG screenshot of
//! each state goes to `<repo>/target/artifacts/`.
//!
//! Gate: `CHROMEDRIVER` (path to the chromedriver binary). Unset → the test prints "skipping",
//! unless `CI` is set, where it fails.

use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::keystore::KeyStore;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::klaviyo::KlaviyoClient;
use adapters::salla::oauth::SallaOAuth;
use bytes::Bytes;
use e2e::salla_stub::SallaStub;
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use klaviyo_stub::{KlaviyoStub, StubAccount};
use tokio::net::TcpListener;

const SESSION_SECRET: &str = "browser-test-session-secret-0123456789";
const STORE: &str = "1803665367";
const GOOD_KEY: &str = "pk_browser_good_0123456789WXYZ";
const BAD_KEY: &str = "pk_browser_bad_0123456789ABCD";
const ACCOUNT_NAME: &str = "متجر العطور";

/// Both handlers behind one local HTTP server, routed like the dev server.
struct App {
    callback: oauth_callback::Deps,
    onboarding: key_onboarding::Deps,
}

async fn serve(
    app: Arc<App>,
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
    let req = lambda_http::http::Request::from_parts(parts, body);
    let resp = if req.uri().path().starts_with("/oauth/") {
        oauth_callback::handle(&app.callback, req).await
    } else {
        key_onboarding::handle(&app.onboarding, req).await
    };
    let (parts, body) = resp.into_parts();
    let bytes = Bytes::copy_from_slice(body.as_ref());
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}

async fn start_app(app: Arc<App>, listener: TcpListener) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve(app.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// chromedriver, killed when the test ends (pass or panic).
pub(crate) struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

pub(crate) async fn start_driver(path: &str) -> (Driver, String) {
    let port = free_port();
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start chromedriver at {path}: {e}"));
    let driver = Driver(child);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return (driver, format!("http://127.0.0.1:{port}"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {addr} within 10 s");
}

pub(crate) async fn browser(webdriver: &str, profile: &std::path::Path) -> Client {
    let args = vec![
        "--headless".to_string(),
        "--no-sandbox".into(),
        "--disable-gpu".into(),
        "--disable-quic".into(),
        "--no-first-run".into(),
        "--disable-background-networking".into(),
        "--disable-component-update".into(),
        "--disable-sync".into(),
        "--disable-dev-shm-usage".into(),
        // A phone-sized window: the page must work there (and inside Salla's frame).
        "--window-size=420,1000".into(),
        // An Arabic-speaking merchant: the page must pick Arabic from Accept-Language.
        "--lang=ar".into(),
        format!("--user-data-dir={}", profile.display()),
    ];
    let mut options = serde_json::json!({
        "args": args,
        "prefs": {"intl.accept_languages": "ar"},
    });
    if let Ok(binary) = std::env::var("CHROMIUM") {
        options["binary"] = binary.into();
    }
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert("goog:chromeOptions".into(), options);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(webdriver)
        .await
        .unwrap_or_else(|e| panic!("cannot open a Chromium session via {webdriver}: {e}"))
}

pub(crate) fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/artifacts"
            ))
        });
    std::fs::create_dir_all(&dir).expect("create the artifacts directory");
    dir
}

pub(crate) async fn screenshot(client: &Client, name: &str) -> PathBuf {
    let png = client.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    let path = artifacts_dir().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    path
}

pub(crate) async fn text_of(client: &Client, css: &str) -> String {
    // An element found just as a form's answer replaces the page is stale by the time its
    // text is read: it is looked up again on the new page.
    for _ in 0..20 {
        let element = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} not on the page: {e}"));
        match element.text().await {
            Ok(text) => return text,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("element text of {css}: {e}"),
        }
    }
    panic!("{css} went stale on every read")
}

/// The text of `css` once it contains `expected` (a form's answer has replaced the page), or
/// its last text after 10 s.
pub(crate) async fn text_once_it_has(client: &Client, css: &str, expected: &str) -> String {
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let text = text_of(client, css).await;
        if text.contains(expected) || tokio::time::Instant::now() >= until {
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `CHROMEDRIVER`, or `None` (the test skips) outside CI; in CI a missing driver fails.
pub(crate) fn chromedriver() -> Option<String> {
    match std::env::var("CHROMEDRIVER") {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => panic!(
            "CHROMEDRIVER is not set: run infra/scripts/chromium.sh and export CHROMEDRIVER=$(command -v chromedriver)"
        ),
        Err(_) => {
            println!("skipping: CHROMEDRIVER is not set (see infra/scripts/chromium.sh)");
            None
        }
    }
}

#[tokio::test]
async fn onboarding_in_headless_chromium() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };

    let salla = SallaStub::start("browser-client", "browser-secret").await;
    salla.add_code("browser-code", STORE);
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new(ACCOUNT_NAME, "AbC123"));
    let keys = Arc::new(MemoryKeyStore::new());

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let port = listener.local_addr().expect("app address").port();
    // 127.0.0.1 over plain HTTP, as the dev server runs: Chromium treats loopback as a secure
    // context, so it keeps the page's `__Host-` (Secure, SameSite=None) session cookie here
    // as it does over HTTPS on AWS. If it did not, step 1 would land signed out.
    let base = format!("http://127.0.0.1:{port}");
    let app = Arc::new(App {
        callback: oauth_callback::Deps {
            oauth: SallaOAuth::new(
                &salla.base_url,
                "browser-client",
                Secret::new("browser-secret"),
            ),
            keys: keys.clone(),
            session_secret: Secret::new(SESSION_SECRET),
            onboarding_url: format!("{base}/onboarding"),
            redirect_uri: format!("{base}/oauth/callback"),
            history: Default::default(),
        },
        onboarding: key_onboarding::Deps {
            keys: keys.clone(),
            klaviyo: Arc::new(KlaviyoClient::new(&klaviyo.base_url)),
            session_secret: Secret::new(SESSION_SECRET),
            handoffs: Arc::new(adapters::once::memory::MemorySpentMarks::new()),
            embedded: None,
            dashboard_origin: adapters::web::SALLA_DASHBOARD_ORIGIN.into(),
            health: Arc::new(adapters::health::memory::MemoryHealth::new()),
            settings_sync: None,
            history: Default::default(),
            mapping_cache: Default::default(),
        },
    });
    tokio::spawn(start_app(app, listener));

    let (_driver, webdriver) = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("browser profile dir");
    let client = browser(&webdriver, profile.path()).await;

    // The flow runs in its own task so a failed assertion still closes the browser (no
    // orphaned Chromium) before the panic is passed on.
    let outcome = tokio::spawn(flow(client.clone(), base, keys)).await;
    let _ = client.close().await;
    match outcome {
        Ok(result) => result.expect("browser flow"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("browser flow task failed: {e}"),
    }
}

async fn flow(client: Client, base: String, keys: Arc<MemoryKeyStore>) -> Result<(), String> {
    let client = &client;
    // 1. Salla sends the merchant to our callback; we land on the page, signed in.
    client
        .goto(&format!("{base}/oauth/callback?code=browser-code&state=st"))
        .await
        .map_err(|e| e.to_string())?;
    let url = client.current_url().await.map_err(|e| e.to_string())?;
    assert_eq!(url.path(), "/onboarding", "landed on {url}");
    assert!(
        url.query().is_none(),
        "the handoff token must leave the address bar: {url}"
    );
    let status = text_of(client, "#not-connected").await;
    assert!(status.contains("لم يتم ربط حساب Klaviyo بعد"), "{status}");
    let html = client.source().await.map_err(|e| e.to_string())?;
    assert!(html.contains("lang=\"ar\"") && html.contains("dir=\"rtl\""));
    assert!(keys.get(STORE).await.unwrap().unwrap().salla.is_some());
    let cookies = client.get_all_cookies().await.map_err(|e| e.to_string())?;
    let names: Vec<&str> = cookies.iter().map(|c| c.name()).collect();
    assert_eq!(names, [key_onboarding::SESSION_COOKIE], "{names:?}");
    assert!(key_onboarding::SESSION_COOKIE.starts_with("__Host-"));
    // The store as Salla named it, to confirm before a key is attached.
    assert_eq!(text_of(client, "#store-name").await, "dev-store");
    assert_eq!(
        text_of(client, "#store-domain").await,
        "https://salla.sa/dev-store"
    );
    screenshot(client, "onboarding-1-signed-in.png").await;

    // 2. A key Klaviyo rejects: the error, in Arabic, and nothing stored.
    submit_key(client, BAD_KEY).await?;
    let error = text_of(client, "#error").await;
    assert!(error.contains("لم يقبل Klaviyo هذا المفتاح"), "{error}");
    let value = client
        .find(Locator::Css("#private_key"))
        .await
        .map_err(|e| e.to_string())?
        .prop("value")
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(
        value.as_deref(),
        Some(""),
        "the key is not sent back into the input"
    );
    assert!(keys.get(STORE).await.unwrap().unwrap().klaviyo.is_none());
    screenshot(client, "onboarding-2-bad-key.png").await;

    // 3. A good key: connected, with the account name and the key's last four.
    submit_key(client, GOOD_KEY).await?;
    wait_for_query(client, "notice=saved").await?;
    assert!(text_of(client, "#notice").await.contains("تم الربط بنجاح"));
    assert_eq!(text_of(client, "#account").await, ACCOUNT_NAME);
    assert_eq!(text_of(client, "#last4").await, "••••WXYZ");
    let html = client.source().await.map_err(|e| e.to_string())?;
    assert!(
        !html.contains(GOOD_KEY),
        "the key must never reach the browser"
    );
    let stored = keys
        .get(STORE)
        .await
        .unwrap()
        .unwrap()
        .klaviyo
        .expect("key stored");
    assert_eq!(stored.private_key.expose(), GOOD_KEY);
    screenshot(client, "onboarding-3-connected.png").await;

    // 4. Disconnect: the key is gone, the Salla tokens stay.
    client
        .find(Locator::Css("#disconnect"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    wait_for_query(client, "notice=disconnected").await?;
    assert!(text_of(client, "#notice").await.contains("تم فصل Klaviyo"));
    assert!(
        text_of(client, "#not-connected")
            .await
            .contains("لم يتم ربط")
    );
    let record = keys.get(STORE).await.unwrap().unwrap();
    assert!(record.klaviyo.is_none() && record.salla.is_some());
    screenshot(client, "onboarding-4-disconnected.png").await;
    Ok(())
}

async fn submit_key(client: &Client, key: &str) -> Result<(), String> {
    let input = client
        .find(Locator::Css("#private_key"))
        .await
        .map_err(|e| e.to_string())?;
    input.clear().await.map_err(|e| e.to_string())?;
    input.send_keys(key).await.map_err(|e| e.to_string())?;
    let confirm = client
        .find(Locator::Css("#confirm_store"))
        .await
        .map_err(|e| e.to_string())?;
    if !confirm.is_selected().await.map_err(|e| e.to_string())? {
        confirm.click().await.map_err(|e| e.to_string())?;
    }
    client
        .find(Locator::Css("#save"))
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

/// Waits for the post/redirect/get to land, so the next lookup cannot hit the previous page
/// (which may carry an element with the same id).
async fn wait_for_query(client: &Client, expected: &str) -> Result<(), String> {
    for _ in 0..100 {
        let url = client.current_url().await.map_err(|e| e.to_string())?;
        if url.query().is_some_and(|q| q.contains(expected)) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("the page never reached ?{expected}"))
}

/// A stand-in for Salla's merchant dashboard: `/` frames the app page with a valid token,
/// `/forged` with one Salla never issued.
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
                    let token = if req.uri().path() == "/forged" {
                        "em_tok_forged"
                    } else {
                        EMBEDDED_TOKEN
                    };
                    let html = format!(
                        "<!doctype html><html><body><h1>Salla</h1>\
                         <iframe id=\"app\" width=\"400\" height=\"820\" \
                         src=\"{app_base}/onboarding?token={token}&theme=light&lang=en&app_id=1\">\
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

const EMBEDDED_TOKEN: &str = "em_tok_browser_live";

/// Easy Mode: the page inside a dashboard frame on another site (`localhost` frames
/// `127.0.0.1`), signed in by the token in the frame's URL, saving a key from inside the
/// frame; a dashboard on another origin cannot frame it; a forged token signs nobody in.
#[tokio::test]
async fn the_embedded_page_in_a_dashboard_frame() {
    let Some(chromedriver) = chromedriver() else {
        return;
    };
    let salla = SallaStub::start("browser-client", "browser-secret").await;
    salla.add_embedded_token(EMBEDDED_TOKEN, STORE, adapters::clock::now_unix() + 600);
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new(ACCOUNT_NAME, "AbC123"));
    let keys = Arc::new(MemoryKeyStore::new());

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let dashboard = start_dashboard(base.clone()).await;
    let elsewhere = start_dashboard(base.clone()).await;
    let app = Arc::new(App {
        callback: oauth_callback::Deps {
            oauth: SallaOAuth::new(&salla.base_url, "browser-client", Secret::new("x")),
            keys: keys.clone(),
            session_secret: Secret::new(SESSION_SECRET),
            onboarding_url: format!("{base}/onboarding"),
            redirect_uri: format!("{base}/oauth/callback"),
            history: Default::default(),
        },
        onboarding: key_onboarding::Deps {
            keys: keys.clone(),
            klaviyo: Arc::new(KlaviyoClient::new(&klaviyo.base_url)),
            session_secret: Secret::new(SESSION_SECRET),
            handoffs: Arc::new(adapters::once::memory::MemorySpentMarks::new()),
            embedded: Some(Arc::new(adapters::salla::embedded::SallaEmbedded::new(
                &format!("{}/exchange-authority/v1", salla.base_url),
                e2e::salla_stub::APP_ID,
            ))),
            dashboard_origin: format!("http://localhost:{dashboard}"),
            health: Arc::new(adapters::health::memory::MemoryHealth::new()),
            settings_sync: None,
            history: Default::default(),
            mapping_cache: Default::default(),
        },
    });
    tokio::spawn(start_app(app, listener));

    let (_driver, webdriver) = start_driver(&chromedriver).await;
    let profile = tempfile::tempdir().expect("browser profile dir");
    let client = browser(&webdriver, profile.path()).await;
    let flow = embedded_flow(client.clone(), dashboard, elsewhere, keys);
    let outcome = tokio::spawn(flow).await;
    let _ = client.close().await;
    match outcome {
        Ok(result) => result.expect("embedded flow"),
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => panic!("embedded flow task failed: {e}"),
    }
}

async fn embedded_flow(
    client: Client,
    dashboard: u16,
    elsewhere: u16,
    keys: Arc<MemoryKeyStore>,
) -> Result<(), String> {
    let client = &client;
    let e = |e: fantoccini::error::CmdError| e.to_string();
    // 1. Opened from the dashboard: signed in inside the frame.
    client
        .goto(&format!("http://localhost:{dashboard}/"))
        .await
        .map_err(e)?;
    client.enter_frame(0).await.map_err(e)?;
    let status = text_of(client, "#not-connected").await;
    assert!(
        status.contains("No Klaviyo account is connected"),
        "{status}"
    );
    screenshot(client, "embedded-1-signed-in.png").await;

    // 2. A key saved from inside the frame (the session travels in the form).
    submit_key(client, GOOD_KEY).await?;
    assert_eq!(text_of(client, "#account").await, ACCOUNT_NAME);
    assert_eq!(text_of(client, "#last4").await, "••••WXYZ");
    let stored = keys.get(STORE).await.unwrap().unwrap().klaviyo;
    assert_eq!(
        stored.map(|k| k.private_key.expose().to_owned()).as_deref(),
        Some(GOOD_KEY)
    );
    screenshot(client, "embedded-2-connected.png").await;

    // 3. A dashboard on another origin: the browser refuses to show the page in its frame.
    client.enter_parent_frame().await.map_err(e)?;
    client
        .goto(&format!("http://localhost:{elsewhere}/"))
        .await
        .map_err(e)?;
    client.enter_frame(0).await.map_err(e)?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let shown = client.find(Locator::Css("#save-form")).await;
    assert!(shown.is_err(), "another origin framed the page");
    screenshot(client, "embedded-3-foreign-frame-refused.png").await;

    // 4. A token Salla never issued: the signed-out page, no forms.
    client.enter_parent_frame().await.map_err(e)?;
    client
        .goto(&format!("http://localhost:{dashboard}/forged"))
        .await
        .map_err(e)?;
    client.enter_frame(0).await.map_err(e)?;
    let problem = text_of(client, "#error").await;
    assert!(problem.contains("Open the app again"), "{problem}");
    assert!(client.find(Locator::Css("form")).await.is_err());
    screenshot(client, "embedded-4-forged-token.png").await;
    Ok(())
}
