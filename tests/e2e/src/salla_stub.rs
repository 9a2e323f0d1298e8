//! A local stand-in for Salla's accounts host: `POST /oauth2/token` (authorization-code and
//! refresh grants, form-encoded, single-use codes and refresh tokens) and
//! `GET /oauth2/user/info` (both documented envelope shapes); and for the Merchant API's
//! `GET /apps/{app_id}/settings` (the store's app settings, read with a token it issued); and
//! for the exchange authority's `POST /exchange-authority/v1/introspect` (the embedded page's
//! token check, with the request shape Salla's embedded SDK sends).
//! Failures are switchable so tests can see what the callback does when Salla is down.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// Token lifetime the stub reports, like Salla's token endpoint (seconds, `expires`).
pub const EXPIRES: i64 = 1_209_599;

/// How `/oauth2/user/info` wraps the merchant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserInfoShape {
    /// `{"status":200,"success":true,"data":{…,"merchant":{"id":<number>}}}`
    Wrapped,
    /// `{…,"merchant":{"id":"<string>"}}` (no envelope, id as a string)
    Bare,
}

/// One token-endpoint call as the stub saw it (the client secret is only compared, not kept).
#[derive(Debug, Clone, PartialEq)]
pub struct TokenCall {
    pub grant_type: String,
    pub redirect_uri: Option<String>,
    pub client_ok: bool,
}

#[derive(Debug)]
struct State {
    client_id: String,
    client_secret: String,
    /// Unused authorization codes → merchant id.
    codes: HashMap<String, String>,
    /// Live access tokens → merchant id.
    access: HashMap<String, String>,
    /// Unused refresh tokens → merchant id.
    refresh: HashMap<String, String>,
    shape: UserInfoShape,
    fail_status: Option<u16>,
    calls: Vec<TokenCall>,
    issued: u64,
    /// The app id the settings route answers for.
    app_id: String,
    /// Merchant id → that store's app settings values.
    app_settings: HashMap<String, Value>,
    /// Settings reads so far: (app id in the path, merchant of the token, if any).
    settings_reads: Vec<(String, Option<String>)>,
    /// Accepted settings updates.
    settings_writes: u64,
    /// Embedded-page tokens → (merchant id, expiry unix seconds).
    embedded_tokens: HashMap<String, (String, i64)>,
    introspections: u64,
}

/// The app id the stub's settings route knows (what `SALLA_APP_ID` is set to in tests).
pub const APP_ID: &str = "513499943";

/// The running stub. Dropping it stops the server.
pub struct SallaStub {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SallaStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SallaStub {
    /// Listens on 127.0.0.1 (a free port) and accepts only these client credentials.
    pub async fn start(client_id: &str, client_secret: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Salla stub on loopback");
        let addr = listener.local_addr().expect("stub address");
        let state = Arc::new(Mutex::new(State {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            codes: HashMap::new(),
            access: HashMap::new(),
            refresh: HashMap::new(),
            shape: UserInfoShape::Wrapped,
            fail_status: None,
            calls: Vec::new(),
            issued: 0,
            app_id: APP_ID.into(),
            app_settings: HashMap::new(),
            settings_reads: Vec::new(),
            settings_writes: 0,
            embedded_tokens: HashMap::new(),
            introspections: 0,
        }));
        let shared = state.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| answer(state.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base_url: format!("http://{addr}"),
            state,
            task,
        }
    }

    /// Makes `code` a valid, single-use authorization code for `merchant_id`.
    pub fn add_code(&self, code: &str, merchant_id: &str) {
        self.lock().codes.insert(code.into(), merchant_id.into());
    }

    pub fn set_user_info_shape(&self, shape: UserInfoShape) {
        self.lock().shape = shape;
    }

    /// Every endpoint answers `status` (e.g. 503) until set back to `None`.
    pub fn fail_with(&self, status: Option<u16>) {
        self.lock().fail_status = status;
    }

    /// Token-endpoint calls so far.
    pub fn token_calls(&self) -> Vec<TokenCall> {
        self.lock().calls.clone()
    }

    /// Whether `access_token` was issued by this stub for `merchant_id`.
    pub fn issued_access_token(&self, access_token: &str, merchant_id: &str) -> bool {
        self.lock().access.get(access_token).map(String::as_str) == Some(merchant_id)
    }

    /// A live access token for `merchant_id`, as the `app.store.authorize` webhook brings.
    pub fn issue_access_token(&self, merchant_id: &str) -> String {
        let mut st = self.lock();
        st.issued += 1;
        let token = format!("at_stub_{}_{}", merchant_id, st.issued);
        st.access.insert(token.clone(), merchant_id.into());
        token
    }

    /// What the merchant saved in the app's settings form, as Salla then holds it.
    pub fn set_app_settings(&self, merchant_id: &str, settings: Value) {
        self.lock()
            .app_settings
            .insert(merchant_id.into(), settings);
    }

    /// Settings reads so far: (app id in the path, merchant whose token was used).
    pub fn settings_reads(&self) -> Vec<(String, Option<String>)> {
        self.lock().settings_reads.clone()
    }

    /// A token Salla's dashboard would append to the embedded page's URL for `merchant_id`,
    /// valid until `expires_at` (unix seconds).
    pub fn add_embedded_token(&self, token: &str, merchant_id: &str, expires_at: i64) {
        self.lock()
            .embedded_tokens
            .insert(token.into(), (merchant_id.into(), expires_at));
    }

    /// Introspection requests so far (well-formed or not).
    pub fn introspections(&self) -> u64 {
        self.lock().introspections
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let auth = header("authorization");
    let s_source = header("s-source");
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(status) = st.fail_status {
        return Ok(reply(status, json!({"error": "temporarily_unavailable"})));
    }
    Ok(match (method, path.as_str()) {
        (Method::POST, "/oauth2/token") => token(&mut st, &body),
        (Method::GET, "/oauth2/user/info") => user_info(&st, auth.as_deref()),
        (Method::GET, p) if p.starts_with("/apps/") && p.ends_with("/settings") => {
            let app_id = p["/apps/".len()..p.len() - "/settings".len()].to_string();
            app_settings(&mut st, &app_id, auth.as_deref())
        }
        (Method::POST, p) if p.starts_with("/apps/") && p.ends_with("/settings") => {
            let app_id = p["/apps/".len()..p.len() - "/settings".len()].to_string();
            write_app_settings(&mut st, &app_id, auth.as_deref(), &body)
        }
        (Method::POST, "/exchange-authority/v1/introspect") => {
            introspect(&mut st, s_source.as_deref(), &body)
        }
        _ => reply(404, json!({"error": "not_found"})),
    })
}

fn token(st: &mut State, body: &[u8]) -> Response<Full<Bytes>> {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).cloned();
    let client_ok = field("client_id").as_deref() == Some(st.client_id.as_str())
        && field("client_secret").as_deref() == Some(st.client_secret.as_str());
    let grant_type = field("grant_type").unwrap_or_default();
    st.calls.push(TokenCall {
        grant_type: grant_type.clone(),
        redirect_uri: field("redirect_uri"),
        client_ok,
    });
    if !client_ok {
        return reply(401, json!({"error": "invalid_client"}));
    }
    // Codes and refresh tokens are single-use, as at Salla: a second use is invalid_grant.
    let merchant = match grant_type.as_str() {
        "authorization_code" => field("code").and_then(|c| st.codes.remove(&c)),
        "refresh_token" => field("refresh_token").and_then(|r| st.refresh.remove(&r)),
        _ => return reply(400, json!({"error": "unsupported_grant_type"})),
    };
    let Some(merchant) = merchant else {
        return reply(400, json!({"error": "invalid_grant"}));
    };
    st.issued += 1;
    let access = format!("at_stub_{}_{}", merchant, st.issued);
    let refresh = format!("rt_stub_{}_{}", merchant, st.issued);
    st.access.insert(access.clone(), merchant.clone());
    st.refresh.insert(refresh.clone(), merchant);
    let lifetime = if grant_type == "refresh_token" {
        "expires_in"
    } else {
        "expires"
    };
    reply(
        200,
        json!({
            "access_token": access,
            lifetime: EXPIRES,
            "refresh_token": refresh,
            "scope": "webhooks.read_write orders.read customers.read carts.read products.read offline_access",
            "token_type": "bearer"
        }),
    )
}

fn user_info(st: &State, auth: Option<&str>) -> Response<Full<Bytes>> {
    let Some(merchant) = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|t| st.access.get(t))
    else {
        return reply(401, json!({"error": "invalid_token"}));
    };
    let user = |merchant_id: Value| {
        json!({"id": 1771165749, "name": "Test User", "role": "user",
               "merchant": {"id": merchant_id, "username": "dev-store", "name": "dev-store",
                            "domain": "https://salla.sa/dev-store"}})
    };
    match st.shape {
        UserInfoShape::Wrapped => {
            let id: Value = merchant
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(merchant.as_str()));
            reply(
                200,
                json!({"status": 200, "success": true, "data": user(id)}),
            )
        }
        UserInfoShape::Bare => reply(200, user(Value::from(merchant.as_str()))),
    }
}

/// Salla's "App Setting Details": 401 without a live token, 404 (Salla's `NotFoundResponse`)
/// for another app or a store that has not saved the settings form.
fn app_settings(st: &mut State, app_id: &str, auth: Option<&str>) -> Response<Full<Bytes>> {
    let merchant = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|t| st.access.get(t))
        .cloned();
    st.settings_reads
        .push((app_id.to_string(), merchant.clone()));
    let Some(merchant) = merchant else {
        return reply(401, json!({"error": "invalid_token"}));
    };
    let not_found = json!({"success": false, "status": 404, "error": {"code": 404,
        "message": "The content you are trying to access is no longer available"}});
    if app_id != st.app_id {
        return reply(404, not_found);
    }
    match st.app_settings.get(&merchant) {
        Some(settings) => reply(
            200,
            json!({"status": 200, "success": true,
                   "data": {"app_id": st.app_id, "app_slug": "klaviyo", "settings": settings}}),
        ),
        None => reply(404, not_found),
    }
}

/// Salla's "Update App Settings": the body replaces the store's whole settings object (keys
/// left out become null, as Salla warns), and the write is counted.
fn write_app_settings(
    st: &mut State,
    app_id: &str,
    auth: Option<&str>,
    body: &[u8],
) -> Response<Full<Bytes>> {
    let merchant = auth
        .and_then(|a| a.strip_prefix("Bearer "))
        .and_then(|t| st.access.get(t))
        .cloned();
    let Some(merchant) = merchant else {
        return reply(401, json!({"error": "invalid_token"}));
    };
    if app_id != st.app_id || !st.app_settings.contains_key(&merchant) {
        return reply(404, json!({"success": false, "status": 404}));
    }
    let Ok(Value::Object(new)) = serde_json::from_slice::<Value>(body) else {
        return reply(422, json!({"success": false, "status": 422}));
    };
    let held = st.app_settings.get(&merchant).cloned().unwrap_or_default();
    let mut replaced = serde_json::Map::new();
    if let Value::Object(old) = held {
        for k in old.keys() {
            replaced.insert(k.clone(), Value::Null);
        }
    }
    replaced.extend(new);
    st.app_settings
        .insert(merchant.clone(), Value::Object(replaced.clone()));
    st.settings_writes += 1;
    reply(
        200,
        json!({"status": 200, "success": true, "data": replaced}),
    )
}

/// The store's settings as the stub holds them now.
impl SallaStub {
    pub fn app_settings_of(&self, merchant_id: &str) -> Option<Value> {
        self.lock().app_settings.get(merchant_id).cloned()
    }

    pub fn settings_writes(&self) -> u64 {
        self.lock().settings_writes
    }
}

/// The exchange authority: `S-Source` must be the app's id (the token's audience), the body
/// the SDK's `{token, iss, subject, env}`. Unknown, foreign-app and expired tokens get Salla's
/// 401 `{"success":false,"error":{"message":"Decryption failed"}}`.
fn introspect(st: &mut State, s_source: Option<&str>, body: &[u8]) -> Response<Full<Bytes>> {
    st.introspections += 1;
    let refused = json!({"status": 401, "success": false,
        "error": {"message": "Decryption failed", "code": 0}});
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return reply(422, json!({"status": 422, "success": false}));
    };
    let shaped = req["iss"] == "merchant-dashboard"
        && req["subject"] == "embedded-page"
        && req["env"] == "prod"
        && req["token"].is_string();
    if !shaped {
        return reply(422, json!({"status": 422, "success": false}));
    }
    if s_source != Some(st.app_id.as_str()) {
        return reply(401, refused);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    match req["token"]
        .as_str()
        .and_then(|t| st.embedded_tokens.get(t))
    {
        Some((merchant, exp)) if *exp > now => {
            let merchant: Value = merchant
                .parse::<u64>()
                .map(Value::from)
                .unwrap_or_else(|_| Value::from(merchant.as_str()));
            let exp = time::OffsetDateTime::from_unix_timestamp(*exp)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            reply(
                200,
                json!({"status": 200, "success": true,
                       "data": {"merchant_id": merchant, "user_id": 987654, "exp": exp}}),
            )
        }
        _ => reply(401, refused),
    }
}

fn reply(status: u16, body: Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}
