//! The page's session: the handoff token from the OAuth callback is traded (once) for a
//! cookie session, and every request after that carries the cookie.

use adapters::once::Claim;
use adapters::session::{self, Purpose, SESSION_TTL_SECS, StoreLabel};
use adapters::web;
use lambda_http::Request;

use crate::Deps;
use crate::error::OnboardingError;

/// The onboarding page's cookie. `__Host-`: browsers keep it only with Secure, Path=/ and no
/// Domain, so no other host (not even a sibling subdomain) can set or shadow it.
pub const SESSION_COOKIE: &str = "__Host-kfs_session";

/// A valid cookie session.
pub struct Session {
    pub token: String,
    pub store_id: String,
    /// The store's name and domain for the merchant to confirm (may be empty).
    pub store: StoreLabel,
}

/// The cookie's session, if valid now.
pub fn current(deps: &Deps, req: &Request, now: i64) -> Result<Session, OnboardingError> {
    let token = web::cookie(req.headers(), SESSION_COOKIE).ok_or(OnboardingError::NoSession)?;
    match session::open(deps.secret(), &token, Purpose::Session, now) {
        Ok(claims) => Ok(Session {
            token,
            store_id: claims.store_id,
            store: claims.store,
        }),
        Err(e) => {
            tracing::info!(event = "onboarding_session", reason = %e);
            Err(OnboardingError::NoSession)
        }
    }
}

/// Verifies a handoff token, spends its id, and returns its store id with the `Set-Cookie`
/// value of the new session (which carries the handoff's store label on).
pub async fn from_handoff(
    deps: &Deps,
    handoff: &str,
    now: i64,
) -> Result<(String, String), OnboardingError> {
    let claims = session::open(deps.secret(), handoff, Purpose::Handoff, now).map_err(|e| {
        tracing::info!(event = "onboarding_handoff", reason = %e, ttl = session::HANDOFF_TTL_SECS);
        OnboardingError::BadHandoff(e)
    })?;
    // Spent only after the signature and expiry passed: forged or stale tokens cost no write.
    match deps.handoffs.claim(&claims.id, claims.expires_at).await {
        Ok(Claim::First) => {}
        Ok(Claim::Spent) => return Err(OnboardingError::HandoffUsed),
        Err(e) => {
            tracing::error!(event = "onboarding_handoff_claim", store_id = %claims.store_id, error = %e);
            return Err(OnboardingError::StorageDown(e));
        }
    }
    let token = session::issue_for(
        deps.secret(),
        &claims.store_id,
        &claims.store,
        Purpose::Session,
        now,
        SESSION_TTL_SECS,
    );
    let cookie = web::session_cookie(SESSION_COOKIE, &token, SESSION_TTL_SECS);
    Ok((claims.store_id, cookie))
}

/// The CSRF token for this session's forms.
pub fn csrf(deps: &Deps, session: &Session) -> String {
    session::csrf_token(deps.secret(), &session.token)
}

/// Whether the form's CSRF token belongs to this session.
pub fn csrf_ok(deps: &Deps, session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|c| session::verify_csrf(deps.secret(), &session.token, c))
}
