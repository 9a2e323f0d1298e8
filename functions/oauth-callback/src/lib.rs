//! OAuth callback (Salla Custom Mode and "manage connection"): Salla redirects the merchant
//! here with `?code=…&state=…`. We exchange the code, ask Salla which store it is for, store
//! the store's tokens encrypted, and redirect to the key onboarding page with a short-lived
//! handoff token bound to that store. Every failure is a plain bilingual page, never a trace.

mod pages;

use std::sync::Arc;
use std::time::Instant;

use adapters::config::Config;
use adapters::keystore::{self, KeyStore};
use adapters::salla::oauth::SallaOAuth;
use adapters::session::{self, HANDOFF_TTL_SECS, Purpose};
use adapters::{AdapterError, Secret};
use lambda_http::{Body, Request, Response};

pub use pages::Failure;

/// Longest `code`/`state` we pass on; Salla's are well under this.
const MAX_PARAM_LEN: usize = 2048;

/// Everything the handler needs, built once per cold start.
pub struct Deps {
    pub oauth: SallaOAuth,
    pub keys: Arc<dyn KeyStore>,
    pub session_secret: Secret,
    /// The onboarding page the merchant lands on afterwards (`ONBOARDING_URL`).
    pub onboarding_url: String,
    /// The redirect URI registered with Salla; the token endpoint requires the same value.
    pub redirect_uri: String,
}

impl Deps {
    /// Fails (naming the setting) when the session secret is too short to sign with.
    pub fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError> {
        session::check_secret(&config.session_secret)?;
        Ok(Self {
            oauth: SallaOAuth::new(
                config.salla_accounts_url.clone(),
                config.salla_client_id.clone(),
                config.salla_client_secret.clone(),
            ),
            keys,
            session_secret: config.session_secret.clone(),
            onboarding_url: config.onboarding_url.clone(),
            redirect_uri: config.oauth_redirect_uri.clone(),
        })
    }
}

/// Handles `GET …/callback`. Never returns an error: every failure is a page with a status.
pub async fn handle(deps: &Deps, req: Request) -> Response<Body> {
    let started = Instant::now();
    let outcome = callback(deps, &req).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match outcome {
        Ok((store_id, location)) => {
            tracing::info!(event = "oauth_callback", store_id = %store_id, outcome = "connected", status = 302, latency_ms);
            pages::redirect(&location)
        }
        Err(failure) => {
            let resp = pages::failure(failure);
            tracing::warn!(
                event = "oauth_callback",
                outcome = failure.name(),
                status = resp.status().as_u16(),
                latency_ms
            );
            resp
        }
    }
}

async fn callback(deps: &Deps, req: &Request) -> Result<(String, String), Failure> {
    if req.method() != lambda_http::http::Method::GET {
        return Err(Failure::MethodNotAllowed);
    }
    let last = req
        .uri()
        .path()
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or("");
    if !matches!(last, "" | "callback") {
        return Err(Failure::NotFound);
    }
    let query = query_pairs(req);
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    if let Some(error) = param("error") {
        return Err(if error == "access_denied" {
            Failure::Denied
        } else {
            Failure::SallaRefused
        });
    }
    // `state` is not checked: on App Store installs Salla calls us with a state of its own
    // (with hyphens stripped), so there is nothing of ours to compare it to. The code itself
    // is single-use and bound to our client secret.
    let code = param("code").ok_or(Failure::MissingCode)?;
    if code.len() > MAX_PARAM_LEN || param("state").is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return Err(Failure::MissingCode);
    }

    let redirect_uri = redirect_uri(deps, req);
    let tokens = deps
        .oauth
        .exchange_code(code, &redirect_uri)
        .await
        .map_err(salla_failure)?;
    let store_id = deps
        .oauth
        .user_info(&tokens.access_token)
        .await
        .map_err(salla_failure)?;
    keystore::update(deps.keys.as_ref(), &store_id, |record| {
        record.salla = Some(tokens.clone())
    })
    .await
    .map_err(|e| {
        tracing::error!(event = "oauth_callback_store", store_id = %store_id, error = %e);
        Failure::StorageDown
    })?;

    let handoff = session::issue(
        deps.session_secret.expose().as_bytes(),
        &store_id,
        Purpose::Handoff,
        adapters::clock::now_unix(),
        HANDOFF_TTL_SECS,
    );
    let separator = if deps.onboarding_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let location = format!("{}{separator}handoff={handoff}", deps.onboarding_url);
    Ok((store_id, location))
}

/// The configured redirect URI, or, when unset (the first deploy: a function cannot name its
/// own URL in the template), this function URL as the request reached it. Salla's token
/// endpoint compares it with the URI registered in the Partner Portal.
fn redirect_uri(deps: &Deps, req: &Request) -> String {
    if !deps.redirect_uri.is_empty() {
        return deps.redirect_uri.clone();
    }
    let host = req
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    format!("https://{host}{}", req.uri().path())
}

fn salla_failure(e: AdapterError) -> Failure {
    tracing::warn!(event = "oauth_callback_salla", error = %e);
    match e {
        AdapterError::Rejected { ref code, .. } if code == "invalid_grant" => Failure::CodeUsed,
        e if e.is_transient() => Failure::SallaDown,
        _ => Failure::SallaRefused,
    }
}

/// Query pairs from the URI (function URLs and the dev server both keep it there), falling
/// back to the API Gateway parameter map.
fn query_pairs(req: &Request) -> Vec<(String, String)> {
    use lambda_http::RequestExt;
    if let Some(q) = req.uri().query() {
        return url::form_urlencoded::parse(q.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    }
    req.query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
