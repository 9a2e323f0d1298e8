//! Handler tests for merchant onboarding: the OAuth callback (against a local Salla accounts
//! stub), the key onboarding page and Salla's settings Validation URL (against the Klaviyo
//! stub), with an in-memory key store. Requests are built as `lambda_http::Request` values, on
//! both the function-URL paths (`/`, `/validate`, `/callback`) and the dev-server paths.

use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::{KlaviyoClient, RetryPolicy};
use adapters::once::memory::MemorySpentMarks;
use adapters::salla::embedded::SallaEmbedded;
use adapters::salla::oauth::SallaOAuth;
use adapters::session::{self, Purpose};
use e2e::salla_stub::{APP_ID, EXPIRES, SallaStub, UserInfoShape};
use klaviyo_stub::{Fault, KlaviyoStub, StubAccount};
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

const SESSION_SECRET: &str = "test-session-secret-0123456789-abcdef";
const CLIENT_ID: &str = "client-123";
const CLIENT_SECRET: &str = "client-secret-xyz";
const ONBOARDING_URL: &str = "https://onboarding.example/onboarding";
const REDIRECT_URI: &str = "https://callback.example/oauth/callback";
const STORE: &str = "1803665367";
const OTHER_STORE: &str = "555000111";
const GOOD_KEY: &str = "pk_good_0123456789abcdefWXYZ";
const SCOPELESS_KEY: &str = "pk_scopeless_0123456789abcdQRST";
const UNKNOWN_KEY: &str = "pk_unknown_0123456789abcdefJKLM";
const ACCOUNT_NAME: &str = "متجر العطور";
const ACCOUNT_ID: &str = "AbC123";

struct World {
    salla: SallaStub,
    klaviyo: KlaviyoStub,
    keys: Arc<MemoryKeyStore>,
    callback: oauth_callback::Deps,
    onboarding: key_onboarding::Deps,
}

async fn world() -> World {
    let salla = SallaStub::start(CLIENT_ID, CLIENT_SECRET).await;
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new(ACCOUNT_NAME, ACCOUNT_ID));
    klaviyo.add_account(
        SCOPELESS_KEY,
        StubAccount {
            name: "Other".into(),
            id: "XyZ789".into(),
            scopes_ok: false,
        },
    );
    let keys = Arc::new(MemoryKeyStore::new());
    // Fast retries so the "Klaviyo down" cases take milliseconds, not seconds.
    let policy = RetryPolicy {
        base_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(10),
        max_attempts: 3,
        ..RetryPolicy::default()
    };
    World {
        callback: oauth_callback::Deps {
            oauth: SallaOAuth::new(&salla.base_url, CLIENT_ID, Secret::new(CLIENT_SECRET)),
            keys: keys.clone(),
            session_secret: Secret::new(SESSION_SECRET),
            onboarding_url: ONBOARDING_URL.into(),
            redirect_uri: REDIRECT_URI.into(),
            history: Default::default(),
        },
        onboarding: key_onboarding::Deps {
            keys: keys.clone(),
            klaviyo: Arc::new(KlaviyoClient::with_policy(&klaviyo.base_url, policy)),
            session_secret: Secret::new(SESSION_SECRET),
            handoffs: Arc::new(MemorySpentMarks::new()),
            embedded: Some(Arc::new(SallaEmbedded::new(
                &format!("{}/exchange-authority/v1", salla.base_url),
                APP_ID,
            ))),
            dashboard_origin: adapters::web::SALLA_DASHBOARD_ORIGIN.into(),
            health: Arc::new(adapters::health::memory::MemoryHealth::new()),
            settings_sync: None,
            history: Default::default(),
            mapping_cache: Default::default(),
        },
        salla,
        klaviyo,
        keys,
    }
}

fn now() -> i64 {
    adapters::clock::now_unix()
}

fn request(method: Method, uri: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body.to_string())
    };
    builder.body(body).expect("valid test request")
}

fn get(uri: &str) -> Request {
    request(Method::GET, uri, &[], "")
}

fn session_for(store: &str) -> String {
    session::issue(
        SESSION_SECRET.as_bytes(),
        store,
        Purpose::Session,
        now(),
        session::SESSION_TTL_SECS,
    )
}

fn cookie(token: &str) -> String {
    format!("other=1; {}={token}", key_onboarding::SESSION_COOKIE)
}

/// A form post as the page's forms send it.
fn post_form(path: &str, token: &str, fields: &[(&str, &str)]) -> Request {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let cookie = cookie(token);
    request(
        Method::POST,
        path,
        &[
            ("cookie", cookie.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &body,
    )
}

fn csrf(token: &str) -> String {
    session::csrf_token(SESSION_SECRET.as_bytes(), token)
}

fn text(resp: &Response<Body>) -> String {
    String::from_utf8_lossy(resp.body().as_ref()).into_owned()
}

fn header<'a>(resp: &'a Response<Body>, name: &str) -> &'a str {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// The hidden CSRF field the page rendered.
fn csrf_in_page(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("page has a csrf field") + marker.len();
    let len = html[start..].find('"').expect("csrf value ends");
    html[start..start + len].to_string()
}

fn assert_page_headers(headers: &HeaderMap) {
    let csp = headers
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .expect("CSP header");
    assert!(csp.contains("default-src 'none'"), "{csp}");
    assert!(csp.contains("form-action 'self'"), "{csp}");
    // Salla's dashboard only: no wildcard, no storefront host.
    assert!(
        csp.ends_with("; frame-ancestors https://s.salla.sa"),
        "{csp}"
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
}

fn salla_tokens(access: &str) -> SallaTokens {
    SallaTokens {
        access_token: Secret::new(access),
        refresh_token: Secret::new("rt_existing"),
        expires_at: now() + 3600,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    }
}

fn connection(key: &str, needs_reconnect: bool) -> KlaviyoConnection {
    KlaviyoConnection {
        private_key: Secret::new(key),
        account_name: Some("Old account".into()),
        account_id: Some("OLD111".into()),
        validated_at: now() - 86_400,
        needs_reconnect,
    }
}

/// A store that went through the callback and connected a key earlier.
async fn seed_connected(w: &World, store: &str, key: &str) -> StoreRecord {
    let mut record = StoreRecord::new(store);
    record.salla = Some(salla_tokens("at_existing"));
    record.klaviyo = Some(connection(key, false));
    w.keys.put(&record).await.expect("seed record");
    w.keys.get(store).await.unwrap().unwrap()
}

async fn seed_authorized(w: &World, store: &str) -> StoreRecord {
    let mut record = StoreRecord::new(store);
    record.salla = Some(salla_tokens("at_existing"));
    w.keys.put(&record).await.expect("seed record");
    w.keys.get(store).await.unwrap().unwrap()
}

// ---------------------------------------------------------------------------------------------
// OAuth callback
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn callback_exchanges_code_stores_tokens_and_hands_off_to_the_page() {
    let w = world().await;
    w.salla.add_code("code-1", STORE);
    let resp = oauth_callback::handle(
        &w.callback,
        get("/oauth/callback?code=code-1&state=abc&scope=offline_access"),
    )
    .await;

    assert_eq!(resp.status(), StatusCode::FOUND);
    let location = header(&resp, "location");
    let handoff = location
        .strip_prefix(&format!("{ONBOARDING_URL}?handoff="))
        .unwrap_or_else(|| panic!("unexpected location {location}"));
    assert_eq!(
        session::verify(SESSION_SECRET.as_bytes(), handoff, Purpose::Handoff, now()).unwrap(),
        STORE
    );
    // A handoff token is not a cookie session.
    assert!(session::verify(SESSION_SECRET.as_bytes(), handoff, Purpose::Session, now()).is_err());
    assert_eq!(header(&resp, "cache-control"), "no-store");
    assert_eq!(header(&resp, "referrer-policy"), "no-referrer");

    let calls = w.salla.token_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].grant_type, "authorization_code");
    assert_eq!(calls[0].redirect_uri.as_deref(), Some(REDIRECT_URI));
    assert!(calls[0].client_ok);

    let record = w.keys.get(STORE).await.unwrap().expect("record stored");
    let tokens = record.salla.expect("salla tokens stored");
    assert!(
        w.salla
            .issued_access_token(tokens.access_token.expose(), STORE)
    );
    assert!(tokens.refresh_token.expose().starts_with("rt_stub_"));
    // `expires` is a lifetime on the token endpoint.
    assert!(
        (tokens.expires_at - (now() + EXPIRES)).abs() <= 5,
        "{}",
        tokens.expires_at
    );
    assert!(record.klaviyo.is_none());
    assert!(!text(&resp).contains(tokens.access_token.expose()));
}

#[tokio::test]
async fn callback_keeps_an_existing_klaviyo_connection() {
    let w = world().await;
    seed_connected(&w, STORE, GOOD_KEY).await;
    w.salla.add_code("code-2", STORE);
    let resp = oauth_callback::handle(&w.callback, get("/callback?code=code-2&state=s")).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let record = w.keys.get(STORE).await.unwrap().unwrap();
    assert_eq!(record.klaviyo.unwrap().private_key.expose(), GOOD_KEY);
    assert_ne!(record.salla.unwrap().access_token.expose(), "at_existing");
}

#[tokio::test]
async fn callback_accepts_the_bare_user_info_shape() {
    let w = world().await;
    w.salla.set_user_info_shape(UserInfoShape::Bare);
    w.salla.add_code("code-3", OTHER_STORE);
    let resp = oauth_callback::handle(&w.callback, get("/callback?code=code-3")).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert!(w.keys.get(OTHER_STORE).await.unwrap().is_some());
}

#[tokio::test]
async fn callback_denied_shows_a_clear_page_and_calls_nothing() {
    let w = world().await;
    let resp = oauth_callback::handle(
        &w.callback,
        get("/oauth/callback?error=access_denied&error_description=The+resource+owner+denied"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = text(&resp);
    assert!(body.contains("لقد ألغيت منح الصلاحية"), "{body}");
    assert!(body.contains("You cancelled the authorization"));
    assert!(
        !body.contains("resource owner"),
        "must not echo the request"
    );
    assert_page_headers(resp.headers());
    assert!(w.salla.token_calls().is_empty());
    assert!(w.keys.is_empty());
}

#[tokio::test]
async fn callback_with_a_reused_code_says_the_link_expired() {
    let w = world().await;
    w.salla.add_code("code-4", STORE);
    let first = oauth_callback::handle(&w.callback, get("/callback?code=code-4")).await;
    assert_eq!(first.status(), StatusCode::FOUND);
    let stored = w.keys.get(STORE).await.unwrap().unwrap();

    let again = oauth_callback::handle(&w.callback, get("/callback?code=code-4")).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);
    let body = text(&again);
    assert!(body.contains("This link has expired"), "{body}");
    assert!(body.contains("انتهت صلاحية الرابط"));
    assert!(again.headers().get("location").is_none());
    assert_eq!(
        w.keys.get(STORE).await.unwrap().unwrap(),
        stored,
        "nothing changed"
    );
}

#[tokio::test]
async fn callback_when_salla_is_down_answers_503_with_a_page() {
    let w = world().await;
    w.salla.add_code("code-5", STORE);
    w.salla.fail_with(Some(503));
    let resp = oauth_callback::handle(&w.callback, get("/callback?code=code-5")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = text(&resp);
    assert!(body.contains("Salla is not reachable"), "{body}");
    assert!(body.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(w.keys.is_empty());
}

#[tokio::test]
async fn callback_when_salla_is_unreachable_answers_503() {
    let w = world().await;
    let deps = oauth_callback::Deps {
        // Nothing listens on port 9 of loopback: connection refused.
        oauth: SallaOAuth::new("http://127.0.0.1:9", CLIENT_ID, Secret::new(CLIENT_SECRET)),
        keys: w.keys.clone(),
        session_secret: Secret::new(SESSION_SECRET),
        onboarding_url: ONBOARDING_URL.into(),
        redirect_uri: REDIRECT_URI.into(),
        history: Default::default(),
    };
    let resp = oauth_callback::handle(&deps, get("/callback?code=x")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn callback_with_wrong_client_credentials_is_a_bad_gateway_page() {
    let w = world().await;
    w.salla.add_code("code-6", STORE);
    let deps = oauth_callback::Deps {
        oauth: SallaOAuth::new(&w.salla.base_url, CLIENT_ID, Secret::new("wrong")),
        keys: w.keys.clone(),
        session_secret: Secret::new(SESSION_SECRET),
        onboarding_url: ONBOARDING_URL.into(),
        redirect_uri: REDIRECT_URI.into(),
        history: Default::default(),
    };
    let resp = oauth_callback::handle(&deps, get("/callback?code=code-6")).await;
    assert_eq!(resp.status(), StatusCode::BAD_GATEWAY);
    assert!(!text(&resp).contains("wrong"));
    assert!(w.keys.is_empty());
}

#[tokio::test]
async fn callback_without_code_or_with_another_method_or_path() {
    let w = world().await;
    let resp = oauth_callback::handle(&w.callback, get("/callback?state=only")).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let resp = oauth_callback::handle(
        &w.callback,
        request(Method::POST, "/callback?code=x", &[], ""),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = oauth_callback::handle(&w.callback, get("/elsewhere?code=x")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    assert!(w.salla.token_calls().is_empty());
}

// ---------------------------------------------------------------------------------------------
// Validation URL
// ---------------------------------------------------------------------------------------------

async fn validate(w: &World, path: &str, body: &str) -> (StatusCode, Value) {
    let resp = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::POST,
            path,
            &[("content-type", "application/json")],
            body,
        ),
    )
    .await;
    assert_eq!(header(&resp, "content-type"), "application/json");
    assert_eq!(header(&resp, "cache-control"), "no-store");
    let status = resp.status();
    let text = text(&resp);
    for key in [GOOD_KEY, SCOPELESS_KEY, UNKNOWN_KEY] {
        assert!(!text.contains(key), "validation answer echoes the key");
    }
    (status, serde_json::from_str(&text).expect("JSON answer"))
}

/// The store of [`settings`], installed: Salla's tokens held, no Klaviyo key.
async fn seed_installed(w: &World) {
    let mut record = StoreRecord::new(VALIDATED_STORE);
    record.salla = Some(salla_tokens("access"));
    w.keys.put(&record).await.expect("seed");
}

/// `path` followed by the Validation URL's token, as the operator enters it in the Portal.
fn tokened(w: &World, path: &str) -> String {
    format!("{path}/{}", w.onboarding.validation_token())
}

/// No Klaviyo key was stored by a validation request.
async fn no_key_stored(w: &World) -> bool {
    w.keys
        .get(VALIDATED_STORE)
        .await
        .expect("read")
        .is_none_or(|r| r.klaviyo.is_none())
}

const VALIDATED_STORE: &str = "1803665367";

fn settings(key: &str) -> String {
    json!({"merchant_id": 1803665367, "store_id": 1803665367, "settings": {"klaviyo_private_key": key, "other": "x"}})
        .to_string()
}

#[tokio::test]
async fn validation_url_accepts_a_good_key_and_stores_nothing() {
    let w = world().await;
    seed_installed(&w).await;
    let (status, body) = validate(&w, &tokened(&w, "/validate"), &settings(GOOD_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"success": true}));
    assert!(
        no_key_stored(&w).await,
        "the unsigned validation request must not store"
    );
    let calls = w.klaviyo.requests();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].path, "/api/accounts");
    assert_eq!(calls[0].api_key.as_deref(), Some(GOOD_KEY));
}

#[tokio::test]
async fn validation_url_rejects_an_unknown_key_in_both_languages() {
    let w = world().await;
    seed_installed(&w).await;
    let (status, body) = validate(
        &w,
        &tokened(&w, "/onboarding/validate"),
        &settings(UNKNOWN_KEY),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["field"], "klaviyo_private_key");
    assert!(
        body["error"]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("did not accept")
    );
    assert!(
        body["error"]["message"]["ar"]
            .as_str()
            .unwrap()
            .contains("لم يقبل Klaviyo")
    );
    assert!(no_key_stored(&w).await);
}

#[tokio::test]
async fn validation_url_names_the_missing_scopes() {
    let w = world().await;
    seed_installed(&w).await;
    let (_, body) = validate(&w, &tokened(&w, "/validate"), &settings(SCOPELESS_KEY)).await;
    assert_eq!(body["success"], false);
    for lang in ["en", "ar"] {
        let message = body["error"]["message"][lang].as_str().unwrap();
        for scope in adapters::klaviyo::REQUIRED_SCOPES {
            assert!(message.contains(scope), "{lang}: {message}");
        }
    }
}

#[tokio::test]
async fn validation_url_when_klaviyo_is_down() {
    let w = world().await;
    seed_installed(&w).await;
    w.klaviyo.push_fault(Fault::Status {
        status: 503,
        retry_after: None,
        times: 10,
    });
    let (status, body) = validate(&w, &tokened(&w, "/validate"), &settings(GOOD_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], false);
    assert!(
        body["error"]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("couldn't reach Klaviyo")
    );
    assert!(no_key_stored(&w).await);
}

#[tokio::test]
async fn validation_url_refuses_a_store_that_has_not_installed_the_app() {
    let w = world().await;
    let (status, body) = validate(&w, &tokened(&w, "/validate"), &settings(GOOD_KEY)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["field"], "klaviyo_private_key");
    assert!(
        body["error"]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("installation")
    );
    assert!(
        w.klaviyo.requests().is_empty(),
        "no Klaviyo call for an unknown store"
    );
    assert!(w.keys.is_empty());
}

#[tokio::test]
async fn validation_url_checks_shape_before_calling_klaviyo() {
    let w = world().await;
    let (_, body) = validate(
        &w,
        &tokened(&w, "/validate"),
        &json!({"store_id": 1, "settings": {}}).to_string(),
    )
    .await;
    assert_eq!(body["success"], false);
    assert!(
        body["error"]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("Paste your private key")
    );
    let (_, body) = validate(&w, &tokened(&w, "/validate"), &settings("AbC123")).await;
    assert!(
        body["error"]["message"]["en"]
            .as_str()
            .unwrap()
            .contains("start with pk_")
    );
    assert!(w.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn validation_url_bad_json_and_oversized_bodies() {
    let w = world().await;
    let (status, body) = validate(&w, &tokened(&w, "/validate"), "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["success"], false);
    let (status, _) = validate(&w, &tokened(&w, "/validate"), "[1,2]").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(40_000));
    let (status, _) = validate(&w, &tokened(&w, "/validate"), &big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(w.klaviyo.requests().is_empty());
}

/// The token is the credential: a wrong one is not found, whatever the body, and Klaviyo is
/// not asked.
#[tokio::test]
async fn validation_url_with_a_wrong_token_is_not_found() {
    let w = world().await;
    seed_installed(&w).await;
    let token = w.onboarding.validation_token();
    for path in [
        format!("/validate/{}", &token[..token.len() - 1]),
        format!("/onboarding/validate/{token}x"),
        "/validate/anything".to_string(),
    ] {
        let resp = key_onboarding::handle(
            &w.onboarding,
            request(
                Method::POST,
                &path,
                &[("content-type", "application/json")],
                &settings(GOOD_KEY),
            ),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!text(&resp).contains("success"));
    }
    assert!(w.klaviyo.requests().is_empty());
}

/// A Partner Portal still holding the plain URL: Salla's form keeps working on the key's
/// shape alone; no Klaviyo call, nothing stored, so the answer says nothing about the key.
#[tokio::test]
async fn the_plain_validation_url_answers_from_the_shape_alone() {
    let w = world().await;
    seed_installed(&w).await;
    for path in ["/validate", "/onboarding/validate"] {
        for key in [GOOD_KEY, UNKNOWN_KEY, SCOPELESS_KEY] {
            let (status, body) = validate(&w, path, &settings(key)).await;
            assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
        }
        let (_, body) = validate(&w, path, &settings("AbC123")).await;
        assert_eq!(body["success"], false);
    }
    assert!(w.klaviyo.requests().is_empty());
    assert!(no_key_stored(&w).await);
}

// ---------------------------------------------------------------------------------------------
// The page: handoff, session, language, headers
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn page_without_a_session_is_401_with_no_form() {
    let w = world().await;
    let resp = key_onboarding::handle(&w.onboarding, get("/onboarding")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_page_headers(resp.headers());
    let body = text(&resp);
    assert!(body.contains("<html lang=\"ar\" dir=\"rtl\">"));
    assert!(body.contains("انتهت الجلسة"));
    assert!(!body.contains("<form"));
}

#[tokio::test]
async fn handoff_sets_a_secure_cookie_and_cleans_the_url() {
    let w = world().await;
    let handoff = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Handoff,
        now(),
        120,
    );
    let resp = key_onboarding::handle(
        &w.onboarding,
        get(&format!("/onboarding?handoff={handoff}")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&resp, "location"), "/onboarding");
    let set_cookie = header(&resp, "set-cookie");
    for attr in [
        "HttpOnly",
        "Secure",
        "SameSite=None",
        "Max-Age=1800",
        "Path=/",
    ] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    let token = set_cookie
        .strip_prefix(&format!("{}=", key_onboarding::SESSION_COOKIE))
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    assert_eq!(
        session::verify(SESSION_SECRET.as_bytes(), token, Purpose::Session, now()).unwrap(),
        STORE
    );

    // On the function URL the page is `/`, and an explicit language survives the redirect
    // (a fresh handoff: each one signs in once).
    let handoff = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Handoff,
        now(),
        session::HANDOFF_TTL_SECS,
    );
    let resp =
        key_onboarding::handle(&w.onboarding, get(&format!("/?lang=en&handoff={handoff}"))).await;
    assert_eq!(header(&resp, "location"), "/?lang=en");
}

#[tokio::test]
async fn bad_handoffs_are_401() {
    let w = world().await;
    let expired = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Handoff,
        now() - 600,
        120,
    );
    let cookie_token = session_for(STORE);
    let forged = session::issue(
        b"another-secret-entirely-0123456789",
        STORE,
        Purpose::Handoff,
        now(),
        120,
    );
    for token in [expired, cookie_token, forged, "garbage".to_string()] {
        let resp =
            key_onboarding::handle(&w.onboarding, get(&format!("/onboarding?handoff={token}")))
                .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().get("set-cookie").is_none());
    }
}

#[tokio::test]
async fn page_with_a_session_shows_status_form_and_csrf() {
    let w = world().await;
    seed_authorized(&w, STORE).await;
    let token = session_for(STORE);
    let cookie = cookie(&token);
    let resp = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::GET,
            "/onboarding",
            &[("cookie", cookie.as_str())],
            "",
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_page_headers(resp.headers());
    let body = text(&resp);
    assert!(body.contains("لم يتم ربط حساب Klaviyo بعد"));
    assert_eq!(csrf_in_page(&body), csrf(&token));
    assert!(body.contains(&format!("name=\"store_id\" value=\"{STORE}\"")));
    assert!(body.contains("type=\"password\""));
    assert!(
        !body.contains("id=\"disconnect\""),
        "nothing to disconnect yet"
    );
    for scope in adapters::klaviyo::REQUIRED_SCOPES {
        assert!(body.contains(scope));
    }
    assert!(
        !body.contains("http://") && !body.contains("https://"),
        "no external assets or links"
    );
}

#[tokio::test]
async fn page_language_follows_the_parameter_then_accept_language() {
    let w = world().await;
    let token = session_for(STORE);
    let cookie = cookie(&token);
    let page = |uri: &'static str, accept: &'static str| {
        let cookie = cookie.clone();
        let deps = &w.onboarding;
        async move {
            let mut headers = vec![("cookie", cookie.as_str())];
            if !accept.is_empty() {
                headers.push(("accept-language", accept));
            }
            text(&key_onboarding::handle(deps, request(Method::GET, uri, &headers, "")).await)
        }
    };
    let en = page("/onboarding?lang=en", "ar").await;
    assert!(en.contains("<html lang=\"en\" dir=\"ltr\">"));
    assert!(en.contains("No Klaviyo account is connected yet."));
    assert!(
        page("/onboarding", "en-US,en;q=0.9")
            .await
            .contains("lang=\"en\"")
    );
    assert!(
        page("/onboarding", "fr-FR")
            .await
            .contains("lang=\"ar\" dir=\"rtl\"")
    );
}

#[tokio::test]
async fn connected_page_shows_name_last4_and_reconnect_but_never_the_key() {
    let w = world().await;
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(KlaviyoConnection {
        account_name: Some("<b>Shop</b>".into()),
        ..connection(GOOD_KEY, true)
    });
    w.keys.put(&record).await.unwrap();
    let cookie = cookie(&session_for(STORE));
    let resp = key_onboarding::handle(
        &w.onboarding,
        request(Method::GET, "/?lang=en", &[("cookie", cookie.as_str())], ""),
    )
    .await;
    let body = text(&resp);
    assert!(
        body.contains("&lt;b&gt;Shop&lt;/b&gt;"),
        "account name is escaped"
    );
    assert!(body.contains("••••WXYZ"));
    assert!(body.contains("Reconnection needed"));
    assert!(body.contains("id=\"disconnect\""));
    assert!(
        !body.contains(GOOD_KEY) && !body.contains("pk_good"),
        "key leaked"
    );
}

// ---------------------------------------------------------------------------------------------
// Save, disconnect, and who may do it
// ---------------------------------------------------------------------------------------------

fn save_fields<'a>(csrf: &'a str, key: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("action", "save"),
        ("csrf", csrf),
        ("store_id", STORE),
        ("lang", "ar"),
        ("private_key", key),
        ("confirm_store", "yes"),
    ]
}

#[tokio::test]
async fn save_good_key_stores_the_connection_and_keeps_salla_tokens() {
    let w = world().await;
    seed_authorized(&w, STORE).await;
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form(
            "/onboarding",
            &token,
            &save_fields(&csrf, &format!("  {GOOD_KEY}\n")),
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER, "{}", text(&resp));
    assert_eq!(
        header(&resp, "location"),
        "/onboarding?lang=ar&notice=saved"
    );
    assert!(!text(&resp).contains(GOOD_KEY));

    let record = w.keys.get(STORE).await.unwrap().unwrap();
    let k = record.klaviyo.expect("connection stored");
    assert_eq!(k.private_key.expose(), GOOD_KEY, "trimmed key stored");
    assert_eq!(k.account_name.as_deref(), Some(ACCOUNT_NAME));
    assert_eq!(k.account_id.as_deref(), Some(ACCOUNT_ID));
    assert!((k.validated_at - now()).abs() <= 5);
    assert!(!k.needs_reconnect);
    assert_eq!(record.salla.unwrap().access_token.expose(), "at_existing");

    // The page after the redirect.
    let cookie = cookie(&token);
    let page = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::GET,
            "/onboarding?lang=ar&notice=saved",
            &[("cookie", cookie.as_str())],
            "",
        ),
    )
    .await;
    let body = text(&page);
    assert!(body.contains(ACCOUNT_NAME));
    assert!(body.contains("••••WXYZ"));
    assert!(body.contains("تم الربط بنجاح"));
    assert!(!body.contains(GOOD_KEY));
}

#[tokio::test]
async fn replacing_a_key_clears_reconnection_needed() {
    let w = world().await;
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(connection("pk_old_revoked_key_0000", true));
    w.keys.put(&record).await.unwrap();
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/", &token, &save_fields(&csrf, GOOD_KEY)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&resp, "location"), "/?lang=ar&notice=saved");
    let k = w.keys.get(STORE).await.unwrap().unwrap().klaviyo.unwrap();
    assert_eq!(k.private_key.expose(), GOOD_KEY);
    assert!(!k.needs_reconnect);
}

#[tokio::test]
async fn save_bad_key_shows_the_arabic_error_and_changes_nothing() {
    let w = world().await;
    let before = seed_connected(&w, STORE, GOOD_KEY).await;
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/onboarding", &token, &save_fields(&csrf, UNKNOWN_KEY)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert_page_headers(resp.headers());
    let body = text(&resp);
    assert!(body.contains("لم يقبل Klaviyo هذا المفتاح"), "{body}");
    assert!(body.contains("id=\"error\""));
    assert!(
        !body.contains(UNKNOWN_KEY) && !body.contains(GOOD_KEY),
        "no key in the page"
    );
    assert!(
        !body.contains("value=\"pk_"),
        "the input is never prefilled"
    );
    // The form is rendered again with a working CSRF token.
    assert_eq!(csrf_in_page(&body), csrf);
    assert_eq!(w.keys.get(STORE).await.unwrap().unwrap(), before);
}

#[tokio::test]
async fn save_key_without_scopes_names_them() {
    let w = world().await;
    seed_authorized(&w, STORE).await;
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let mut fields = save_fields(&csrf, SCOPELESS_KEY);
    fields[3] = ("lang", "en");
    let resp =
        key_onboarding::handle(&w.onboarding, post_form("/onboarding", &token, &fields)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = text(&resp);
    assert!(body.contains("missing permissions"));
    for scope in adapters::klaviyo::REQUIRED_SCOPES {
        assert!(body.contains(scope));
    }
    assert!(!body.contains(SCOPELESS_KEY));
    assert!(w.keys.get(STORE).await.unwrap().unwrap().klaviyo.is_none());
}

#[tokio::test]
async fn save_when_klaviyo_is_down_is_503_and_changes_nothing() {
    let w = world().await;
    seed_authorized(&w, STORE).await;
    w.klaviyo.push_fault(Fault::Status {
        status: 500,
        retry_after: None,
        times: 10,
    });
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/onboarding", &token, &save_fields(&csrf, GOOD_KEY)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(&resp).contains("تعذر الوصول إلى Klaviyo"));
    assert!(w.keys.get(STORE).await.unwrap().unwrap().klaviyo.is_none());
}

#[tokio::test]
async fn save_empty_or_public_key_never_calls_klaviyo() {
    let w = world().await;
    seed_authorized(&w, STORE).await;
    let token = session_for(STORE);
    let csrf = csrf(&token);
    for key in ["", "AbC123"] {
        let resp = key_onboarding::handle(
            &w.onboarding,
            post_form("/onboarding", &token, &save_fields(&csrf, key)),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    }
    assert!(w.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn disconnect_deletes_the_key_and_keeps_salla_tokens() {
    let w = world().await;
    seed_connected(&w, STORE, GOOD_KEY).await;
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let fields = [
        ("action", "disconnect"),
        ("csrf", csrf.as_str()),
        ("store_id", STORE),
        ("lang", "en"),
    ];
    let resp =
        key_onboarding::handle(&w.onboarding, post_form("/onboarding", &token, &fields)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        header(&resp, "location"),
        "/onboarding?lang=en&notice=disconnected"
    );
    let record = w.keys.get(STORE).await.unwrap().unwrap();
    assert!(record.klaviyo.is_none());
    assert_eq!(record.salla.unwrap().access_token.expose(), "at_existing");

    let cookie = cookie(&token);
    let page = text(
        &key_onboarding::handle(
            &w.onboarding,
            request(
                Method::GET,
                "/onboarding?lang=en&notice=disconnected",
                &[("cookie", cookie.as_str())],
                "",
            ),
        )
        .await,
    );
    assert!(page.contains("Klaviyo disconnected"));
    assert!(page.contains("No Klaviyo account is connected yet."));
}

/// The record stays (its version counting on, for the warm caches that confirm by it); only
/// the key goes.
#[tokio::test]
async fn disconnect_without_salla_tokens_keeps_the_record_without_its_key() {
    let w = world().await;
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(connection(GOOD_KEY, false));
    w.keys.put(&record).await.unwrap();
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let fields = [
        ("action", "disconnect"),
        ("csrf", csrf.as_str()),
        ("store_id", STORE),
    ];
    let resp = key_onboarding::handle(&w.onboarding, post_form("/", &token, &fields)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let kept = w.keys.get(STORE).await.unwrap().expect("kept");
    assert_eq!((kept.klaviyo, kept.version, kept.ttl), (None, 2, None));
}

/// Every way of posting without a right to: 401 (session) or 403 (CSRF), and the record is
/// byte-for-byte what it was.
#[tokio::test]
async fn forged_expired_and_other_store_sessions_change_nothing() {
    let w = world().await;
    let before = seed_connected(&w, STORE, GOOD_KEY).await;
    let other_before = seed_connected(&w, OTHER_STORE, "pk_other_store_key_1111").await;

    let forged = session::issue(
        b"not-our-secret-0123456789abcdefgh",
        STORE,
        Purpose::Session,
        now(),
        1800,
    );
    let expired = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Session,
        now() - 3600,
        1800,
    );
    let handoff_as_cookie = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Handoff,
        now(),
        120,
    );
    let other_store = session_for(OTHER_STORE);

    for (name, token) in [
        ("forged", forged),
        ("expired", expired),
        ("handoff", handoff_as_cookie),
        ("other store", other_store),
    ] {
        let csrf = csrf(&token);
        for action in ["save", "disconnect"] {
            let fields = [
                ("action", action),
                ("csrf", csrf.as_str()),
                ("store_id", STORE),
                ("private_key", SCOPELESS_KEY),
            ];
            let resp =
                key_onboarding::handle(&w.onboarding, post_form("/onboarding", &token, &fields))
                    .await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{name} {action}");
            assert!(
                !text(&resp).contains("<form"),
                "{name}: no form for a bad session"
            );
        }
    }
    // No cookie at all.
    let resp = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::POST,
            "/onboarding",
            &[("content-type", "application/x-www-form-urlencoded")],
            "action=disconnect",
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    assert_eq!(w.keys.get(STORE).await.unwrap().unwrap(), before);
    assert_eq!(
        w.keys.get(OTHER_STORE).await.unwrap().unwrap(),
        other_before
    );
    assert!(w.klaviyo.requests().is_empty(), "nothing reached Klaviyo");
}

#[tokio::test]
async fn missing_or_foreign_csrf_is_403_and_changes_nothing() {
    let w = world().await;
    let before = seed_connected(&w, STORE, GOOD_KEY).await;
    let token = session_for(STORE);
    // A CSRF token from another (older) session of the same store.
    let older = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Session,
        now() - 10,
        1800,
    );
    let foreign = csrf(&older);
    for csrf in [None, Some(""), Some(foreign.as_str()), Some("abc")] {
        for action in ["save", "disconnect"] {
            let mut fields = vec![
                ("action", action),
                ("store_id", STORE),
                ("private_key", GOOD_KEY),
            ];
            if let Some(c) = csrf {
                fields.push(("csrf", c));
            }
            let resp =
                key_onboarding::handle(&w.onboarding, post_form("/onboarding", &token, &fields))
                    .await;
            assert_eq!(resp.status(), StatusCode::FORBIDDEN, "{csrf:?} {action}");
            assert!(!text(&resp).contains(GOOD_KEY));
        }
    }
    assert_eq!(w.keys.get(STORE).await.unwrap().unwrap(), before);
    assert!(w.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn unknown_routes_methods_and_actions() {
    let w = world().await;
    let resp = key_onboarding::handle(&w.onboarding, get("/somewhere")).await;
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = key_onboarding::handle(
        &w.onboarding,
        request(Method::DELETE, "/onboarding", &[], ""),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let resp = key_onboarding::handle(&w.onboarding, get("/onboarding/validate")).await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let fields = [
        ("action", "explode"),
        ("csrf", csrf.as_str()),
        ("store_id", STORE),
    ];
    let resp =
        key_onboarding::handle(&w.onboarding, post_form("/onboarding", &token, &fields)).await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let big = "x".repeat(20_000);
    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/onboarding", &token, &[("pad", big.as_str())]),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// The whole flow through both handlers: callback → handoff → cookie → page → save.
#[tokio::test]
async fn callback_to_saved_key_end_to_end() {
    let w = world().await;
    w.salla.add_code("code-flow", STORE);
    let resp = oauth_callback::handle(&w.callback, get("/callback?code=code-flow")).await;
    let location = header(&resp, "location").to_string();
    let query = location.split_once('?').unwrap().1;
    let resp = key_onboarding::handle(&w.onboarding, get(&format!("/onboarding?{query}"))).await;
    let set_cookie = header(&resp, "set-cookie").to_string();
    let cookie = set_cookie.split(';').next().unwrap().to_string();
    assert!(cookie.starts_with("__Host-"), "{cookie}");
    // The same handoff URL a second time (history, a copied link): refused, no cookie.
    let again = key_onboarding::handle(&w.onboarding, get(&format!("/onboarding?{query}"))).await;
    assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
    assert!(again.headers().get("set-cookie").is_none());
    let page = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::GET,
            "/onboarding",
            &[("cookie", cookie.as_str())],
            "",
        ),
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    let csrf = csrf_in_page(&text(&page));
    // The page names the store from Salla's user info, for the merchant to confirm.
    let html = text(&page);
    assert!(
        html.contains("<dd id=\"store-name\"><bdi>dev-store</bdi></dd>"),
        "{html}"
    );
    assert!(html.contains("https://salla.sa/dev-store"));
    let body = format!("action=save&csrf={csrf}&store_id={STORE}&private_key={GOOD_KEY}");
    let unconfirmed = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::POST,
            "/onboarding",
            &[
                ("cookie", cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            &body,
        ),
    )
    .await;
    assert_eq!(unconfirmed.status(), StatusCode::BAD_REQUEST);
    assert!(w.keys.get(STORE).await.unwrap().unwrap().klaviyo.is_none());
    let body = format!("{body}&confirm_store=yes");
    let resp = key_onboarding::handle(
        &w.onboarding,
        request(
            Method::POST,
            "/onboarding",
            &[
                ("cookie", cookie.as_str()),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
            &body,
        ),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let record = w.keys.get(STORE).await.unwrap().unwrap();
    assert!(record.salla.is_some() && record.klaviyo.is_some());
    assert!(
        w.klaviyo.violations().is_empty(),
        "{:?}",
        w.klaviyo.violations()
    );
}

/// First deploy: OAUTH_REDIRECT_URI is not set yet (a function cannot name its own URL in the
/// template), so the callback sends the URL the request reached it on.
#[tokio::test]
async fn callback_without_configured_redirect_uri_uses_its_own_url() {
    let mut w = world().await;
    w.callback.redirect_uri = String::new();
    w.salla.add_code("code-own-url", STORE);
    let req = request(
        Method::GET,
        "/callback?code=code-own-url&state=s",
        &[("host", "abc123.lambda-url.me-south-1.on.aws")],
        "",
    );
    let resp = oauth_callback::handle(&w.callback, req).await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    let calls = w.salla.token_calls();
    assert_eq!(
        calls[0].redirect_uri.as_deref(),
        Some("https://abc123.lambda-url.me-south-1.on.aws/callback")
    );
}

/// What a Lambda function URL delivers for `https://<url>//evil.example/onboarding?handoff=…`:
/// `rawPath` as sent, and lambda_http keeps it as the request path. The redirect after the
/// handoff still goes to the page's fixed path on this host.
#[tokio::test]
async fn a_function_url_raw_path_never_reaches_the_location_header() {
    let w = world().await;
    w.salla.add_code("code-raw", STORE);
    let resp = oauth_callback::handle(&w.callback, get("/callback?code=code-raw")).await;
    let location = header(&resp, "location").to_string();
    let query = location.split_once('?').unwrap().1.to_string();
    let host = "abcdefg.lambda-url.me-south-1.on.aws";
    let event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "//evil.example/onboarding",
        "rawQueryString": query,
        "headers": {"host": host},
        "requestContext": {
            "accountId": "anonymous", "apiId": "abcdefg", "domainName": host,
            "domainPrefix": "abcdefg", "requestId": "r1", "routeKey": "$default",
            "stage": "$default", "time": "02/Dec/2026:08:00:00 +0000", "timeEpoch": 1796198400000u64,
            "http": {"method": "GET", "path": "//evil.example/onboarding", "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.9", "userAgent": "x"}
        },
        "isBase64Encoded": false
    });
    let req = lambda_http::request::from_str(&event.to_string()).expect("a function URL event");
    assert_eq!(
        req.uri().path(),
        "//evil.example/onboarding",
        "passed through as sent"
    );
    let resp = key_onboarding::handle(&w.onboarding, req).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&resp, "location"), "/onboarding");
}

/// The hidden session field the page rendered inside Salla's dashboard frame.
fn session_in_page(html: &str) -> String {
    let marker = "name=\"session\" value=\"";
    let start = html.find(marker).expect("page has a session field") + marker.len();
    let len = html[start..].find('"').expect("session value ends");
    html[start..start + len].to_string()
}

/// Easy Mode: Salla never calls the OAuth callback; the merchant opens the app inside the
/// dashboard, whose frame URL carries a token the page verifies with Salla.
#[tokio::test]
async fn the_embedded_page_signs_in_with_the_dashboard_s_token_and_works_without_cookies() {
    let w = world().await;
    w.salla
        .add_embedded_token("em_tok_live", STORE, now() + 300);
    let resp = key_onboarding::handle(
        &w.onboarding,
        get("/?token=em_tok_live&theme=dark&lang=en&app_id=1"),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    assert_page_headers(resp.headers());
    assert!(header(&resp, "set-cookie").starts_with("__Host-kfs_session="));
    let html = text(&resp);
    assert!(
        html.contains(&format!("name=\"store_id\" value=\"{STORE}\"")),
        "{html}"
    );
    assert_eq!(w.salla.introspections(), 1);

    // The page's form, posted from the frame without the cookie (a browser refusing
    // third-party cookies): the session travels in the form.
    let session = session_in_page(&html);
    let csrf = csrf_in_page(&html);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("session", session.as_str()),
            ("csrf", csrf.as_str()),
            ("store_id", STORE),
            ("lang", "en"),
            ("confirm_store", "yes"),
            ("action", "save"),
            ("private_key", GOOD_KEY),
        ])
        .finish();
    let post = request(
        Method::POST,
        "/",
        &[("content-type", "application/x-www-form-urlencoded")],
        &body,
    );
    let resp = key_onboarding::handle(&w.onboarding, post).await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    let held = w.keys.get(STORE).await.unwrap().unwrap().klaviyo.unwrap();
    assert_eq!(held.private_key.expose(), GOOD_KEY);
}

#[tokio::test]
async fn forged_expired_and_foreign_tokens_never_sign_in() {
    let w = world().await;
    w.salla.add_embedded_token("em_tok_old", STORE, now() - 1);
    for token in ["em_tok_forged", "em_tok_old"] {
        let resp =
            key_onboarding::handle(&w.onboarding, get(&format!("/?lang=en&token={token}"))).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{token}");
        assert_eq!(header(&resp, "set-cookie"), "");
        assert!(!text(&resp).contains("<form"));
    }
    // A token for another app: the page asks under its own app id, so Salla refuses it.
    let other_app = key_onboarding::Deps {
        embedded: Some(Arc::new(SallaEmbedded::new(
            &format!("{}/exchange-authority/v1", w.salla.base_url),
            "999",
        ))),
        ..world_onboarding(&w)
    };
    w.salla
        .add_embedded_token("em_tok_live", STORE, now() + 300);
    let resp = key_onboarding::handle(&other_app, get("/?token=em_tok_live")).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    w.salla.fail_with(Some(503));
    let resp = key_onboarding::handle(&w.onboarding, get("/?lang=en&token=em_tok_live")).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(text(&resp).contains("check your sign-in with Salla"));
}

/// The world's onboarding wiring, to vary one dependency.
fn world_onboarding(w: &World) -> key_onboarding::Deps {
    key_onboarding::Deps {
        keys: w.keys.clone(),
        klaviyo: w.onboarding.klaviyo.clone(),
        session_secret: Secret::new(SESSION_SECRET),
        handoffs: Arc::new(MemorySpentMarks::new()),
        embedded: None,
        dashboard_origin: adapters::web::SALLA_DASHBOARD_ORIGIN.into(),
        health: Arc::new(adapters::health::memory::MemoryHealth::new()),
        settings_sync: None,
        history: Default::default(),
        mapping_cache: Default::default(),
    }
}

/// The page's save and disconnect are written back into the app's settings at Salla (the
/// form shows the same key, and Salla's next settings event cannot bring back a key the
/// merchant disconnected here); the merchant's other settings are sent back as they were.
#[tokio::test]
async fn save_and_disconnect_are_mirrored_into_salla_s_settings() {
    let mut w = world().await;
    w.onboarding.settings_sync = Some(key_onboarding::settings_sync::SettingsSync {
        api: adapters::salla::api::SallaApi::new(w.salla.base_url.clone()),
        app_id: APP_ID.into(),
    });
    let mut record = StoreRecord::new(STORE);
    record.salla = Some(salla_tokens(&w.salla.issue_access_token(STORE)));
    w.keys.put(&record).await.unwrap();
    w.salla.set_app_settings(
        STORE,
        json!({"klaviyo_private_key": "", "cod_link_hours": 24}),
    );
    let token = session_for(STORE);
    let csrf = csrf(&token);

    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/onboarding", &token, &save_fields(&csrf, GOOD_KEY)),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let held = w.salla.app_settings_of(STORE).unwrap();
    assert_eq!(held["klaviyo_private_key"], GOOD_KEY);
    assert_eq!(held["klaviyo_public_key"], ACCOUNT_ID);
    assert_eq!(held["cod_link_hours"], 24, "other settings kept");

    let fields = [
        ("action", "disconnect"),
        ("csrf", csrf.as_str()),
        ("store_id", STORE),
        ("lang", "en"),
    ];
    let resp =
        key_onboarding::handle(&w.onboarding, post_form("/onboarding", &token, &fields)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    let held = w.salla.app_settings_of(STORE).unwrap();
    assert_eq!(held["klaviyo_private_key"], "");
    assert_eq!(held["klaviyo_public_key"], "");
    assert_eq!(held["cod_link_hours"], 24);
    assert_eq!(w.salla.settings_writes(), 2);
}

/// The points rules saved on the page are stored and written into the app's settings at
/// Salla in the form's own fields, so Salla's next settings event (which the intake reads)
/// carries the same rules; the merchant's other settings are kept. A rule out of bounds is
/// refused naming its field, and nothing is stored or written.
#[tokio::test]
async fn points_rules_saved_on_the_page_are_the_ones_salla_s_settings_hold() {
    let mut w = world().await;
    w.onboarding.settings_sync = Some(key_onboarding::settings_sync::SettingsSync {
        api: adapters::salla::api::SallaApi::new(w.salla.base_url.clone()),
        app_id: APP_ID.into(),
    });
    let mut record = StoreRecord::new(STORE);
    record.salla = Some(salla_tokens(&w.salla.issue_access_token(STORE)));
    record.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new(GOOD_KEY),
        account_name: Some("Store".into()),
        account_id: Some(ACCOUNT_ID.into()),
        validated_at: now(),
        needs_reconnect: false,
    });
    w.keys.put(&record).await.unwrap();
    w.salla.set_app_settings(
        STORE,
        json!({"klaviyo_private_key": GOOD_KEY, "cod_link_hours": 24}),
    );
    let token = session_for(STORE);
    let csrf = csrf(&token);
    let fields = |percent: &'static str| {
        vec![
            ("action", "points_save"),
            ("csrf", csrf.as_str()),
            ("store_id", STORE),
            ("lang", "en"),
            ("points_enabled", "yes"),
            ("points_percent", percent),
            ("points_review", "10"),
            ("points_award_status", "delivered"),
            ("points_multiplier_gold", "150"),
        ]
    };
    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/onboarding", &token, &fields("9")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    assert!(text(&resp).contains("points_percent"), "{}", text(&resp));
    assert!(w.keys.get(STORE).await.unwrap().unwrap().loyalty.is_none());
    assert_eq!(w.salla.settings_writes(), 0);

    let resp = key_onboarding::handle(
        &w.onboarding,
        post_form("/onboarding", &token, &fields("3")),
    )
    .await;
    assert_eq!(resp.status(), StatusCode::OK, "{}", text(&resp));
    assert!(text(&resp).contains("Points rules saved."));
    let stored = w.keys.get(STORE).await.unwrap().unwrap().loyalty.unwrap();
    assert!(stored.enabled);
    assert_eq!((stored.percent, stored.review_points), (3, 10));

    let held = w.salla.app_settings_of(STORE).unwrap();
    assert_eq!(held["points_enabled"], true);
    assert_eq!(held["points_percent"], 3);
    assert_eq!(held["cod_link_hours"], 24, "other settings kept");
    assert_eq!(held["klaviyo_private_key"], GOOD_KEY);
    // Salla's next settings event carries them: the intake reads the same rules.
    let event = json!({
        "event": "app.settings.updated",
        "merchant": STORE.parse::<u64>().unwrap(),
        "created_at": "2026-12-02 10:00:00",
        "data": {"settings": held},
    });
    let envelope = mapping::parse_envelope(event.to_string().as_bytes()).unwrap();
    assert_eq!(mapping::points::rules_in(&envelope), Some(stored));
}
