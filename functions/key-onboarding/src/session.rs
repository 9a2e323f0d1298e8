//! The page's session: the handoff token from the OAuth callback is traded for a cookie
//! session, and every request after that carries the cookie.

use adapters::session::{self, Purpose, SESSION_TTL_SECS};
use adapters::web;
use lambda_http::Request;

use crate::Deps;
use crate::error::OnboardingError;

/// The onboarding page's cookie.
pub const SESSION_COOKIE: &str = "kfs_session";

/// A valid cookie session.
pub struct Session {
    pub token: String,
    pub store_id: String,
}

/// The cookie's session, if valid now.
pub fn current(deps: &Deps, req: &Request, now: i64) -> Result<Session, OnboardingError> {
    let token = web::cookie(req.headers(), SESSION_COOKIE).ok_or(OnboardingError::NoSession)?;
    match session::verify(deps.secret(), &token, Purpose::Session, now) {
        Ok(store_id) => Ok(Session { token, store_id }),
        Err(e) => {
            tracing::info!(event = "onboarding_session", reason = %e);
            Err(OnboardingError::NoSession)
        }
    }
}

/// Verifies a handoff token and returns its store id with the `Set-Cookie` value of the new
/// session.
pub fn from_handoff(
    deps: &Deps,
    handoff: &str,
    now: i64,
) -> Result<(String, String), OnboardingError> {
    let store_id = session::verify(deps.secret(), handoff, Purpose::Handoff, now).map_err(|e| {
        tracing::info!(event = "onboarding_handoff", reason = %e, ttl = session::HANDOFF_TTL_SECS);
        OnboardingError::BadHandoff(e)
    })?;
    let token = session::issue(
        deps.secret(),
        &store_id,
        Purpose::Session,
        now,
        SESSION_TTL_SECS,
    );
    let cookie = web::session_cookie(SESSION_COOKIE, &token, SESSION_TTL_SECS);
    Ok((store_id, cookie))
}

/// The CSRF token for this session's forms.
pub fn csrf(deps: &Deps, session: &Session) -> String {
    session::csrf_token(deps.secret(), &session.token)
}

/// Whether the form's CSRF token belongs to this session.
pub fn csrf_ok(deps: &Deps, session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|c| session::verify_csrf(deps.secret(), &session.token, c))
}
