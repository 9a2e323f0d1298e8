//! Handler tests' world: the memory key store, a fake Klaviyo, signed sessions and requests.

use std::sync::Arc;
use tokio::time::Instant;

use adapters::keystore::memory::MemoryKeyStore;
use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
use adapters::salla::embedded::{EmbeddedIdentity, EmbeddedTokenError, EmbeddedTokens};
use adapters::session::{self, Purpose, SESSION_TTL_SECS};
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use lambda_http::http::{Method, header};
use lambda_http::{Body, Request, Response};
use serde_json::Value;

use crate::Deps;
use crate::session::SESSION_COOKIE;

pub const SECRET: &str = "test-session-secret-0123456789-abcdef";
pub const STORE: &str = "42";
pub const GOOD_KEY: &str = "pk_good_key_WXYZ";
pub const NO_SCOPE_KEY: &str = "pk_no_scope";
pub const DOWN_KEY: &str = "pk_klaviyo_down";

/// Klaviyo's accounts endpoint: one good key, one without scopes, one that finds Klaviyo
/// down; any other key is invalid.
#[derive(Default)]
pub struct FakeKlaviyo {
    /// How many key checks reached "Klaviyo".
    pub calls: Arc<std::sync::atomic::AtomicUsize>,
    /// How many events were posted.
    pub events: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl KlaviyoApi for FakeKlaviyo {
    async fn get_account(&self, key: &Secret) -> Result<AccountInfo, AdapterError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match key.expose() {
            GOOD_KEY => Ok(AccountInfo {
                id: "AbC".into(),
                name: Some("<b>Shop</b>".into()),
                preferred_currency: None,
            }),
            NO_SCOPE_KEY => Err(AdapterError::Unauthorized {
                service: adapters::error::Service::Klaviyo,
                status: 403,
                code: None,
            }),
            DOWN_KEY => Err(AdapterError::Unavailable {
                service: adapters::error::Service::Klaviyo,
                detail: "timeout".into(),
            }),
            _ => Err(AdapterError::Unauthorized {
                service: adapters::error::Service::Klaviyo,
                status: 401,
                code: None,
            }),
        }
    }

    /// The test event (`POST /api/events`): accepted for the good key, 403 without scopes,
    /// 401 for any other key, unreachable for the down key. Everything else (the metric
    /// mapping) finds Klaviyo unreachable.
    async fn call(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        _body: Option<&Value>,
        _deadline: Instant,
    ) -> Result<Delivery, AdapterError> {
        let unreachable = Err(AdapterError::Unavailable {
            service: adapters::error::Service::Klaviyo,
            detail: "unreachable".into(),
        });
        if (method, path) != ("POST", "/api/events") {
            return unreachable;
        }
        self.events
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let status = match key.expose() {
            DOWN_KEY => return unreachable,
            GOOD_KEY => 202,
            NO_SCOPE_KEY => 403,
            _ => 401,
        };
        Ok(Delivery {
            status,
            attempts: 1,
            error: None,
        })
    }
}

/// Salla's token check for the embedded page: `em_good` is store [`STORE`]'s, `em_other`
/// another store's, `em_expired` has expired, `em_down` finds Salla down; anything else is
/// refused.
#[derive(Default)]
pub struct FakeEmbedded {
    pub calls: Arc<std::sync::atomic::AtomicUsize>,
}

#[async_trait]
impl EmbeddedTokens for FakeEmbedded {
    async fn introspect(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Result<EmbeddedIdentity, EmbeddedTokenError>, AdapterError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let identity = |store: &str| EmbeddedIdentity {
            store_id: store.into(),
            user_id: Some("9".into()),
            expires_at: now + 300,
        };
        match token {
            "em_good" => Ok(Ok(identity(STORE))),
            "em_other" => Ok(Ok(identity("43"))),
            "em_expired" => Ok(Err(EmbeddedTokenError::Expired)),
            "em_down" => Err(AdapterError::Unavailable {
                service: adapters::error::Service::Salla,
                detail: "timeout".into(),
            }),
            _ => Ok(Err(EmbeddedTokenError::Refused)),
        }
    }
}

pub fn deps() -> (Deps, Arc<MemoryKeyStore>) {
    let (deps, keys, _) = deps_counting();
    (deps, keys)
}

/// [`deps`], plus the number of key checks that reached the fake Klaviyo.
pub fn deps_counting() -> (
    Deps,
    Arc<MemoryKeyStore>,
    Arc<std::sync::atomic::AtomicUsize>,
) {
    let keys = Arc::new(MemoryKeyStore::new());
    let klaviyo = FakeKlaviyo::default();
    let calls = klaviyo.calls.clone();
    let deps = Deps {
        keys: keys.clone(),
        klaviyo: Arc::new(klaviyo),
        session_secret: Secret::new(SECRET),
        handoffs: Arc::new(adapters::once::memory::MemorySpentMarks::new()),
        embedded: Some(Arc::new(FakeEmbedded::default())),
        dashboard_origin: adapters::web::SALLA_DASHBOARD_ORIGIN.into(),
        health: Arc::new(adapters::health::memory::MemoryHealth::new()),
        settings_sync: None,
        history: Default::default(),
        mapping_cache: Default::default(),
    };
    (deps, keys, calls)
}

/// A session cookie for `store` issued `age` seconds ago.
pub fn session_token(store: &str, age: i64) -> String {
    let now = adapters::clock::now_unix();
    session::issue(
        SECRET.as_bytes(),
        store,
        Purpose::Session,
        now - age,
        SESSION_TTL_SECS,
    )
}

pub fn handoff_token(store: &str) -> String {
    let now = adapters::clock::now_unix();
    session::issue(
        SECRET.as_bytes(),
        store,
        Purpose::Handoff,
        now,
        session::HANDOFF_TTL_SECS,
    )
}

pub fn csrf(token: &str) -> String {
    session::csrf_token(SECRET.as_bytes(), token)
}

pub fn request(method: Method, uri: &str, cookie: Option<&str>, body: &str) -> Request {
    let mut builder = lambda_http::http::Request::builder()
        .method(method)
        .uri(uri);
    if let Some(token) = cookie {
        builder = builder.header(header::COOKIE, format!("{SESSION_COOKIE}={token}"));
    }
    let body = if body.is_empty() {
        Body::Empty
    } else {
        Body::Text(body.into())
    };
    builder.body(body).unwrap()
}

/// A form post of `fields` with the session's CSRF token, store id and store confirmation
/// unless given.
pub fn form(token: &str, fields: &[(&str, &str)]) -> Request {
    let csrf = csrf(token);
    let mut all: Vec<(&str, &str)> = vec![
        ("csrf", &csrf),
        ("store_id", STORE),
        ("lang", "en"),
        ("confirm_store", "yes"),
    ];
    for (k, v) in fields {
        all.retain(|(name, _)| name != k);
        all.push((k, v));
    }
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(all)
        .finish();
    request(Method::POST, "/onboarding", Some(token), &body)
}

pub fn text(resp: &Response<Body>) -> &str {
    match resp.body() {
        Body::Text(t) => t,
        Body::Binary(b) => std::str::from_utf8(b).unwrap_or(""),
        _ => "",
    }
}
