//! The page's session. Two ways in: the handoff token from the OAuth callback (Custom Mode),
//! traded once for a cookie session; or the token Salla's dashboard appends to the embedded
//! page's URL (Easy Mode), verified with Salla. A page opened in the dashboard's frame also
//! carries the session in its forms, because a browser may refuse a third-party cookie
//! (partitioned or not); the cookie is still set for those that keep it.

use adapters::once::Claim;
use adapters::salla::embedded::{EmbeddedTokenError, is_token_shape};
use adapters::session::{self, Purpose, SESSION_TTL_SECS, StoreLabel};
use adapters::web;
use lambda_http::Request;

use crate::Deps;
use crate::error::OnboardingError;

/// The onboarding page's cookie. `__Host-`: browsers keep it only with Secure, Path=/ and no
/// Domain, so no other host (not even a sibling subdomain) can set or shadow it.
pub const SESSION_COOKIE: &str = "__Host-kfs_session";

/// How the request carried its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carrier {
    Cookie,
    /// The page's own forms (inside Salla's dashboard frame).
    Page,
}

/// A valid session.
pub struct Session {
    pub token: String,
    pub store_id: String,
    /// The store's name and domain for the merchant to confirm (may be empty).
    pub store: StoreLabel,
    pub carrier: Carrier,
}

/// The cookie's session, if valid now.
pub fn current(deps: &Deps, req: &Request, now: i64) -> Result<Session, OnboardingError> {
    let token = web::cookie(req.headers(), SESSION_COOKIE).ok_or(OnboardingError::NoSession)?;
    open(deps, token, Carrier::Cookie, now)
}

/// The cookie's session, else the one a posted form carries (`session` field).
pub fn current_or_form(
    deps: &Deps,
    req: &Request,
    form_session: Option<&str>,
    now: i64,
) -> Result<Session, OnboardingError> {
    match (web::cookie(req.headers(), SESSION_COOKIE), form_session) {
        (Some(token), _) => open(deps, token, Carrier::Cookie, now),
        (None, Some(token)) => open(deps, token.to_string(), Carrier::Page, now),
        (None, None) => Err(OnboardingError::NoSession),
    }
}

fn open(
    deps: &Deps,
    token: String,
    carrier: Carrier,
    now: i64,
) -> Result<Session, OnboardingError> {
    match session::open(deps.secret(), &token, Purpose::Session, now) {
        Ok(claims) => Ok(Session {
            token,
            store_id: claims.store_id,
            store: claims.store,
            carrier,
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

/// Verifies the token Salla's dashboard gave the embedded page and opens a session for its
/// store. Returns the session (carried by the page) and the `Set-Cookie` value.
pub async fn from_embedded(
    deps: &Deps,
    token: &str,
    now: i64,
) -> Result<(Session, String), OnboardingError> {
    let Some(embedded) = deps.embedded.as_ref() else {
        tracing::info!(
            event = "onboarding_embedded",
            reason = "no app id configured"
        );
        return Err(OnboardingError::NoSession);
    };
    if !is_token_shape(token) {
        tracing::info!(event = "onboarding_embedded", reason = %EmbeddedTokenError::Malformed);
        return Err(OnboardingError::BadEmbeddedToken(
            EmbeddedTokenError::Malformed,
        ));
    }
    let identity = match embedded.introspect(token, now).await {
        Ok(Ok(identity)) => identity,
        Ok(Err(e)) => {
            tracing::info!(event = "onboarding_embedded", reason = %e);
            return Err(OnboardingError::BadEmbeddedToken(e));
        }
        Err(e) => {
            tracing::warn!(event = "onboarding_embedded", error = %e);
            return Err(OnboardingError::SallaDown(e));
        }
    };
    // Our own session from here, as long as one from the OAuth handoff: Salla's token is
    // short-lived (its lifetime is not documented) and only proves the sign-in.
    let ttl = SESSION_TTL_SECS;
    let store = StoreLabel::default();
    let token = session::issue_for(
        deps.secret(),
        &identity.store_id,
        &store,
        Purpose::Session,
        now,
        ttl,
    );
    let cookie = web::session_cookie(SESSION_COOKIE, &token, ttl);
    Ok((
        Session {
            token,
            store_id: identity.store_id,
            store,
            carrier: Carrier::Page,
        },
        cookie,
    ))
}

/// The CSRF token for this session's forms.
pub fn csrf(deps: &Deps, session: &Session) -> String {
    session::csrf_token(deps.secret(), &session.token)
}

/// Whether the form's CSRF token belongs to this session.
pub fn csrf_ok(deps: &Deps, session: &Session, given: Option<&str>) -> bool {
    given.is_some_and(|c| session::verify_csrf(deps.secret(), &session.token, c))
}
