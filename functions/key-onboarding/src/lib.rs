//! Key onboarding: the merchant's own page to connect, replace or disconnect their Klaviyo
//! private key (reached through the OAuth callback's handoff), and Salla's settings
//! Validation URL. Routes on the last path segment, so the same handler serves the Lambda
//! function URL (`/`, `/validate`) and the dev server (`/onboarding`, `/onboarding/validate`).

mod i18n;
mod key_check;
mod page;
mod validate;
mod web;

use std::sync::Arc;
use std::time::Instant;

use adapters::config::Config;
use adapters::keystore::{self, KeyStore, KlaviyoConnection};
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::session::{self, HANDOFF_TTL_SECS, Purpose, SESSION_TTL_SECS};
use adapters::{AdapterError, Secret};
use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, Response};

pub use i18n::{Lang, Problem};
pub use validate::KEY_FIELD;
pub use web::SESSION_COOKIE;

/// A form post is a key and four short fields.
const MAX_FORM_BODY: usize = 8 * 1024;

/// Everything the handler needs, built once per cold start.
pub struct Deps {
    pub keys: Arc<dyn KeyStore>,
    pub klaviyo: Arc<dyn KlaviyoApi>,
    pub session_secret: Secret,
}

impl Deps {
    /// Fails (naming the setting) when the session secret is too short to sign with.
    pub fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        session::check_secret(&config.session_secret)?;
        Ok(Self {
            keys,
            klaviyo: Arc::new(KlaviyoClient::new(config.klaviyo_api_url.clone())),
            session_secret: config.session_secret.clone(),
        })
    }

    fn secret(&self) -> &[u8] {
        self.session_secret.expose().as_bytes()
    }
}

/// Never returns an error: every outcome is a page, a redirect or a JSON answer.
pub async fn handle(deps: &Deps, req: Request) -> Response<Body> {
    let segment = web::last_segment(req.uri().path());
    match (req.method(), segment) {
        (&Method::POST, "validate") => validate::handle(deps, &req).await,
        (&Method::GET, "" | "onboarding") => get_page(deps, &req).await,
        (&Method::POST, "" | "onboarding") => post_form(deps, &req).await,
        (_, "" | "onboarding" | "validate") => plain(StatusCode::METHOD_NOT_ALLOWED),
        _ => plain(StatusCode::NOT_FOUND),
    }
}

/// How a page request ended, for the log line.
struct Outcome {
    store_id: Option<String>,
    name: &'static str,
}

fn log(action: &'static str, outcome: &Outcome, resp: &Response<Body>, started: Instant) {
    tracing::info!(
        event = "onboarding",
        action,
        store_id = outcome.store_id.as_deref().unwrap_or(""),
        outcome = outcome.name,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64
    );
}

async fn get_page(deps: &Deps, req: &Request) -> Response<Body> {
    let started = Instant::now();
    let query = web::query_pairs(req);
    let explicit_lang = web::param(&query, "lang");
    let lang = Lang::negotiate(
        explicit_lang,
        web::header(req.headers(), header::ACCEPT_LANGUAGE),
    );
    let now = adapters::clock::now_unix();

    // Arriving from the OAuth callback: trade the handoff token for our own cookie, then
    // reload without the token so it leaves the address bar and history.
    if let Some(handoff) = web::param(&query, "handoff") {
        let (resp, outcome) = match session::verify(deps.secret(), handoff, Purpose::Handoff, now) {
            Ok(store_id) => {
                let token = session::issue(
                    deps.secret(),
                    &store_id,
                    Purpose::Session,
                    now,
                    SESSION_TTL_SECS,
                );
                let location = page_location(req, explicit_lang.and_then(Lang::parse), None);
                let cookie = web::set_session_cookie(&token, SESSION_TTL_SECS);
                let outcome = Outcome {
                    store_id: Some(store_id),
                    name: "handoff",
                };
                (web::see_other(&location, Some(&cookie)), outcome)
            }
            Err(e) => {
                tracing::info!(event = "onboarding_handoff", reason = %e, ttl = HANDOFF_TTL_SECS);
                let resp = render(
                    lang,
                    StatusCode::UNAUTHORIZED,
                    None,
                    None,
                    Some(Problem::SessionExpired),
                );
                (
                    resp,
                    Outcome {
                        store_id: None,
                        name: "bad_handoff",
                    },
                )
            }
        };
        log("handoff", &outcome, &resp, started);
        return resp;
    }

    let notice = web::param(&query, "notice").and_then(i18n::Notice::parse);
    let (resp, outcome) = match current_session(deps, req, now) {
        None => (
            render(
                lang,
                StatusCode::UNAUTHORIZED,
                None,
                None,
                Some(Problem::SessionExpired),
            ),
            Outcome {
                store_id: None,
                name: "no_session",
            },
        ),
        Some((token, store_id)) => match deps.keys.get(&store_id).await {
            Ok(record) => {
                let klaviyo = record.and_then(|r| r.klaviyo);
                let resp = render_signed(
                    deps,
                    lang,
                    StatusCode::OK,
                    &token,
                    &store_id,
                    klaviyo.as_ref(),
                    notice,
                    None,
                );
                (
                    resp,
                    Outcome {
                        store_id: Some(store_id),
                        name: "shown",
                    },
                )
            }
            Err(e) => {
                tracing::error!(event = "onboarding_read", store_id = %store_id, error = %e);
                let resp = render(
                    lang,
                    StatusCode::SERVICE_UNAVAILABLE,
                    None,
                    None,
                    Some(Problem::StorageDown),
                );
                (
                    resp,
                    Outcome {
                        store_id: Some(store_id),
                        name: "storage_down",
                    },
                )
            }
        },
    };
    log("view", &outcome, &resp, started);
    resp
}

async fn post_form(deps: &Deps, req: &Request) -> Response<Body> {
    let started = Instant::now();
    let accept = web::header(req.headers(), header::ACCEPT_LANGUAGE);
    let Some(bytes) = web::body_bytes(req, MAX_FORM_BODY) else {
        let lang = Lang::negotiate(None, accept);
        return render(
            lang,
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            None,
            Some(Problem::BadRequest),
        );
    };
    let form = web::parse_pairs(bytes);
    let field = |name| web::param(&form, name);
    let lang = Lang::negotiate(field("lang"), accept);
    let now = adapters::clock::now_unix();

    // 1. A valid session, 2. for the store this form was rendered for, 3. with the form's
    // CSRF token. Nothing is read or changed before all three pass.
    let Some((token, store_id)) = current_session(deps, req, now) else {
        return refuse_post(lang, None, "no_session", started);
    };
    if field("store_id") != Some(store_id.as_str()) {
        return refuse_post(lang, Some(store_id), "other_store", started);
    }
    let csrf_ok = field("csrf").is_some_and(|c| session::verify_csrf(deps.secret(), &token, c));

    let (action, result) = match field("action") {
        _ if !csrf_ok => ("post", Err((StatusCode::FORBIDDEN, Problem::FormExpired))),
        Some("save") => (
            "save",
            save(deps, &store_id, field("private_key"), now).await,
        ),
        Some("disconnect") => ("disconnect", disconnect(deps, &store_id).await),
        _ => ("post", Err((StatusCode::BAD_REQUEST, Problem::BadRequest))),
    };
    let (resp, name) = match result {
        // Post/redirect/get: a reload must not resubmit the key.
        Ok(notice) => {
            let location = page_location(req, Some(lang), Some(notice));
            (web::see_other(&location, None), notice.param())
        }
        Err((status, problem)) => {
            // Re-read so the page shows the current state next to the error.
            let klaviyo = deps
                .keys
                .get(&store_id)
                .await
                .ok()
                .flatten()
                .and_then(|r| r.klaviyo);
            let resp = render_signed(
                deps,
                lang,
                status,
                &token,
                &store_id,
                klaviyo.as_ref(),
                None,
                Some(problem),
            );
            (resp, problem_name(problem))
        }
    };
    log(
        action,
        &Outcome {
            store_id: Some(store_id),
            name,
        },
        &resp,
        started,
    );
    resp
}

/// A form post without a usable session: the same 401 page whatever the reason, so a caller
/// learns nothing about other stores; the reason goes to the log only.
fn refuse_post(
    lang: Lang,
    store_id: Option<String>,
    name: &'static str,
    started: Instant,
) -> Response<Body> {
    let resp = render(
        lang,
        StatusCode::UNAUTHORIZED,
        None,
        None,
        Some(Problem::SessionExpired),
    );
    log("post", &Outcome { store_id, name }, &resp, started);
    resp
}

type ActionResult = Result<i18n::Notice, (StatusCode, Problem)>;

async fn save(deps: &Deps, store_id: &str, raw_key: Option<&str>, now: i64) -> ActionResult {
    let key = key_check::shape(raw_key).map_err(|p| (StatusCode::BAD_REQUEST, p))?;
    let account = key_check::with_klaviyo(deps.klaviyo.as_ref(), &key)
        .await
        .map_err(|p| {
            let status = match p {
                Problem::KlaviyoDown => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, p)
        })?;
    let connection = KlaviyoConnection {
        private_key: key,
        account_name: account.name,
        account_id: Some(account.id),
        validated_at: now,
        needs_reconnect: false,
    };
    keystore::update(deps.keys.as_ref(), store_id, |record| {
        record.klaviyo = Some(connection.clone())
    })
    .await
    .map_err(storage_down(store_id))?;
    Ok(i18n::Notice::Saved)
}

/// Deletes the Klaviyo key only: the Salla tokens stay so the merchant can reconnect without
/// reinstalling. A record left with nothing in it is deleted outright.
async fn disconnect(deps: &Deps, store_id: &str) -> ActionResult {
    let existing = deps
        .keys
        .get(store_id)
        .await
        .map_err(storage_down(store_id))?;
    match existing {
        Some(record) if record.salla.is_none() => deps
            .keys
            .delete(store_id)
            .await
            .map_err(storage_down(store_id))?,
        Some(record) if record.klaviyo.is_some() => {
            keystore::update(deps.keys.as_ref(), store_id, |r| r.klaviyo = None)
                .await
                .map_err(storage_down(store_id))?;
        }
        _ => {}
    }
    Ok(i18n::Notice::Disconnected)
}

fn storage_down(store_id: &str) -> impl Fn(AdapterError) -> (StatusCode, Problem) + '_ {
    move |e| {
        tracing::error!(event = "onboarding_write", store_id = %store_id, error = %e);
        (StatusCode::SERVICE_UNAVAILABLE, Problem::StorageDown)
    }
}

/// The cookie's session token and its store id, if valid now.
fn current_session(deps: &Deps, req: &Request, now: i64) -> Option<(String, String)> {
    let token = web::session_cookie(req.headers())?;
    match session::verify(deps.secret(), &token, Purpose::Session, now) {
        Ok(store_id) => Some((token, store_id)),
        Err(e) => {
            tracing::info!(event = "onboarding_session", reason = %e);
            None
        }
    }
}

/// Same path, only our own parameters: relative, so it works behind any host.
fn page_location(req: &Request, lang: Option<Lang>, notice: Option<i18n::Notice>) -> String {
    let mut params = Vec::new();
    if let Some(lang) = lang {
        params.push(format!("lang={}", lang.code()));
    }
    if let Some(notice) = notice {
        params.push(format!("notice={}", notice.param()));
    }
    let path = req.uri().path();
    let path = if path.is_empty() { "/" } else { path };
    if params.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", params.join("&"))
    }
}

fn render(
    lang: Lang,
    status: StatusCode,
    signed: Option<page::Signed<'_>>,
    notice: Option<i18n::Notice>,
    problem: Option<Problem>,
) -> Response<Body> {
    web::html(
        status,
        page::render(&page::View {
            lang,
            signed,
            notice,
            problem,
        }),
    )
}

#[allow(clippy::too_many_arguments)]
fn render_signed(
    deps: &Deps,
    lang: Lang,
    status: StatusCode,
    token: &str,
    store_id: &str,
    klaviyo: Option<&KlaviyoConnection>,
    notice: Option<i18n::Notice>,
    problem: Option<Problem>,
) -> Response<Body> {
    let csrf = session::csrf_token(deps.secret(), token);
    let signed = page::Signed {
        store_id,
        klaviyo,
        csrf: &csrf,
    };
    render(lang, status, Some(signed), notice, problem)
}

fn problem_name(problem: Problem) -> &'static str {
    match problem {
        Problem::EmptyKey => "empty_key",
        Problem::NotPrivateKey => "not_private_key",
        Problem::InvalidKey => "invalid_key",
        Problem::MissingScopes => "missing_scopes",
        Problem::KlaviyoDown => "klaviyo_down",
        Problem::StorageDown => "storage_down",
        Problem::SessionExpired => "session_expired",
        Problem::FormExpired => "csrf_failed",
        Problem::BadRequest => "bad_request",
    }
}

fn plain(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    resp
}
