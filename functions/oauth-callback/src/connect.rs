//! The callback's work: read the code, trade it with Salla, store the tokens, and hand the
//! merchant over to the onboarding page.

use adapters::keystore;
use adapters::session::{self, HANDOFF_TTL_SECS, Purpose, StoreLabel};
use adapters::web;
use lambda_http::Request;

use crate::deps::{Authorizer, Deps};
use crate::error::{CallbackError, Refusal};
use crate::outcome::Connected;

/// Longest `code`/`state` we pass on; Salla's are well under this.
const MAX_PARAM_LEN: usize = 2048;

pub async fn connect<A: Authorizer>(
    deps: &Deps<A>,
    req: &Request,
) -> Result<Connected, CallbackError> {
    let query = web::query_pairs(req);
    let param = |name: &str| web::param(&query, name).filter(|v| !v.is_empty());
    if let Some(error) = param("error") {
        return Err(if error == "access_denied" {
            CallbackError::Denied
        } else {
            CallbackError::SallaRefused(Refusal::Redirect)
        });
    }
    // `state` is not checked: on App Store installs Salla calls us with a state of its own
    // (with hyphens stripped), so there is nothing of ours to compare it to. The code itself
    // is single-use and bound to our client secret.
    let code = param("code").ok_or(CallbackError::MissingCode)?;
    if code.len() > MAX_PARAM_LEN || param("state").is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return Err(CallbackError::MissingCode);
    }

    let redirect_uri = redirect_uri(deps, req);
    let tokens = deps
        .oauth
        .exchange_code(code, &redirect_uri)
        .await
        .map_err(CallbackError::from_salla)?;
    let merchant = deps
        .oauth
        .user_info(&tokens.access_token)
        .await
        .map_err(CallbackError::from_salla)?;
    let store_id = merchant.id;
    // The merchant installed just now: that is newer than any uninstall we hold, so a
    // deletion marker stops expiring, and lifecycle events sent before now are stale.
    let installed_at = adapters::clock::now_unix();
    let saved = keystore::update(deps.keys.as_ref(), &store_id, |record| {
        record.salla = Some(tokens.clone());
        record.lifecycle.authorized_at = record.lifecycle.authorized_at.max(Some(installed_at));
        record.ttl = None;
    })
    .await
    .map_err(|e| {
        tracing::error!(event = "oauth_callback_store", store_id = %store_id, error = %e);
        CallbackError::StorageDown(e)
    })?;
    deps.history
        .import_if_connected(deps.keys.as_ref(), &saved, "oauth_callback")
        .await;

    // The store's name and domain ride in the signed handoff (never in the table) so the page
    // can show the merchant which store they are about to connect.
    let label = StoreLabel::new(merchant.name.as_deref(), merchant.domain.as_deref());
    let handoff = session::issue_for(
        deps.session_secret.expose().as_bytes(),
        &store_id,
        &label,
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
    Ok(Connected { store_id, location })
}

/// The configured redirect URI, or, when unset (the first deploy: a function cannot name its
/// own URL in the template), this function URL as the request reached it. Salla's token
/// endpoint compares it with the URI registered in the Partner Portal.
fn redirect_uri<A>(deps: &Deps<A>, req: &Request) -> String {
    if !deps.redirect_uri.is_empty() {
        return deps.redirect_uri.clone();
    }
    let host = web::header(req.headers(), lambda_http::http::header::HOST).unwrap_or_default();
    format!("https://{host}{}", req.uri().path())
}
