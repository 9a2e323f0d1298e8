//! Signed, expiring session tokens bound to one Salla store ID.
//!
//! Format: `base64url(payload) "." base64url(HMAC-SHA256(secret, label || payload))` where the
//! payload is `v1.<purpose>.<expires_at>.<store_id>`. The purpose is inside the signed payload,
//! so a 2-minute handoff token can never be replayed as a 30-minute cookie session (or back).
//!
//! Why two purposes: on AWS the OAuth callback and the onboarding page are different
//! function-URL hosts, so a cookie set by the callback never reaches the page. The callback
//! hands over a short-lived `Handoff` token in the redirect URL; the page verifies it and sets
//! its own `Session` cookie.
//!
//! CSRF tokens ([`csrf_token`]) are derived from the session token itself, so a form is only
//! accepted together with the cookie session it was rendered for.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Lifetime of the token the OAuth callback puts in the redirect URL: long enough for one
/// redirect, short enough that a URL leaked from a browser history is useless.
pub const HANDOFF_TTL_SECS: i64 = 120;
/// Lifetime of the onboarding page's cookie session.
pub const SESSION_TTL_SECS: i64 = 30 * 60;

/// Shortest `SESSION_SECRET` (bytes) the functions start with: a short secret makes every
/// session forgeable by brute force.
pub const MIN_SECRET_LEN: usize = 32;

/// Longest token we even try to decode; anything longer is not ours.
const MAX_TOKEN_LEN: usize = 512;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Callback → onboarding page redirect ([`HANDOFF_TTL_SECS`]).
    Handoff,
    /// The onboarding page's cookie ([`SESSION_TTL_SECS`]).
    Session,
}

impl Purpose {
    fn tag(self) -> &'static str {
        match self {
            Purpose::Handoff => "handoff",
            Purpose::Session => "session",
        }
    }
}

/// Why a token was refused. Deliberately coarse: callers answer 401 for all of them and only
/// log the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionError {
    /// Not a token of ours: bad shape, bad encoding, bad signature, or an empty secret.
    Invalid,
    /// Signed by us for the other purpose.
    WrongPurpose,
    /// Signed by us, but past its expiry.
    Expired,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionError::Invalid => "invalid session token",
            SessionError::WrongPurpose => "session token used for the wrong purpose",
            SessionError::Expired => "session token expired",
        })
    }
}

impl std::error::Error for SessionError {}

/// Refuses a `SESSION_SECRET` shorter than [`MIN_SECRET_LEN`], naming the setting.
pub fn check_secret(secret: &crate::Secret) -> Result<(), crate::AdapterError> {
    if secret.expose().len() < MIN_SECRET_LEN {
        return Err(crate::AdapterError::Config(format!(
            "SESSION_SECRET must be at least {MIN_SECRET_LEN} characters"
        )));
    }
    Ok(())
}

/// A token for `store_id`, valid for `ttl_secs` from `now` (unix seconds).
pub fn issue(secret: &[u8], store_id: &str, purpose: Purpose, now: i64, ttl_secs: i64) -> String {
    let payload = format!(
        "v1.{}.{}.{}",
        purpose.tag(),
        now.saturating_add(ttl_secs),
        store_id
    );
    let encoded = URL_SAFE_NO_PAD.encode(payload.as_bytes());
    let mac = URL_SAFE_NO_PAD.encode(sign(secret, b"token", encoded.as_bytes()));
    format!("{encoded}.{mac}")
}

/// The store id a token was issued for, if it is ours, for `purpose`, and not expired at `now`.
pub fn verify(
    secret: &[u8],
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<String, SessionError> {
    if secret.is_empty() || token.len() > MAX_TOKEN_LEN {
        return Err(SessionError::Invalid);
    }
    let (encoded, mac) = token.split_once('.').ok_or(SessionError::Invalid)?;
    let given = URL_SAFE_NO_PAD
        .decode(mac)
        .map_err(|_| SessionError::Invalid)?;
    // The signature is checked before the payload is even decoded.
    let expected = sign(secret, b"token", encoded.as_bytes());
    if !bool::from(expected.as_slice().ct_eq(given.as_slice())) {
        return Err(SessionError::Invalid);
    }
    let payload = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or(SessionError::Invalid)?;
    let mut parts = payload.splitn(4, '.');
    let (Some("v1"), Some(tag), Some(expires_at), Some(store_id)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(SessionError::Invalid);
    };
    if tag != purpose.tag() {
        return Err(SessionError::WrongPurpose);
    }
    let expires_at: i64 = expires_at.parse().map_err(|_| SessionError::Invalid)?;
    if now >= expires_at {
        return Err(SessionError::Expired);
    }
    if store_id.is_empty() || store_id.len() > crate::keystore::MAX_STORE_ID_LEN {
        return Err(SessionError::Invalid);
    }
    Ok(store_id.to_string())
}

/// The CSRF token for forms rendered under `session_token`: a MAC of the session token, so it
/// changes with every session and cannot be computed without the secret.
pub fn csrf_token(secret: &[u8], session_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(sign(secret, b"csrf", session_token.as_bytes()))
}

/// Whether `given` is the CSRF token of `session_token`. Constant-time.
pub fn verify_csrf(secret: &[u8], session_token: &str, given: &str) -> bool {
    if secret.is_empty() || given.is_empty() {
        return false;
    }
    csrf_token(secret, session_token)
        .as_bytes()
        .ct_eq(given.as_bytes())
        .into()
}

/// HMAC with a label prefix, so a token MAC and a CSRF MAC over the same bytes differ.
fn sign(secret: &[u8], label: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail; an empty Vec would simply never
    // verify.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return Vec::new();
    };
    mac.update(label);
    mac.update(b"|");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a-session-secret-of-decent-length";
    const NOW: i64 = 1_800_000_000;

    #[test]
    fn round_trip_returns_the_store() {
        let t = issue(
            SECRET,
            "1803665367",
            Purpose::Session,
            NOW,
            SESSION_TTL_SECS,
        );
        assert_eq!(
            verify(SECRET, &t, Purpose::Session, NOW).unwrap(),
            "1803665367"
        );
        assert_eq!(
            verify(SECRET, &t, Purpose::Session, NOW + SESSION_TTL_SECS - 1).unwrap(),
            "1803665367"
        );
    }

    #[test]
    fn expiry_is_enforced() {
        let t = issue(SECRET, "1", Purpose::Handoff, NOW, HANDOFF_TTL_SECS);
        assert_eq!(
            verify(SECRET, &t, Purpose::Handoff, NOW + HANDOFF_TTL_SECS),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn purposes_do_not_mix() {
        let handoff = issue(SECRET, "1", Purpose::Handoff, NOW, HANDOFF_TTL_SECS);
        assert_eq!(
            verify(SECRET, &handoff, Purpose::Session, NOW),
            Err(SessionError::WrongPurpose)
        );
    }

    #[test]
    fn forged_tokens_are_invalid() {
        let t = issue(SECRET, "1", Purpose::Session, NOW, SESSION_TTL_SECS);
        assert_eq!(
            verify(b"other-secret", &t, Purpose::Session, NOW),
            Err(SessionError::Invalid)
        );
        assert_eq!(
            verify(b"", &t, Purpose::Session, NOW),
            Err(SessionError::Invalid)
        );
        // Swap in another store's payload under the original signature.
        let other = issue(SECRET, "2", Purpose::Session, NOW, SESSION_TTL_SECS);
        let forged = format!(
            "{}.{}",
            other.split_once('.').unwrap().0,
            t.split_once('.').unwrap().1
        );
        assert_eq!(
            verify(SECRET, &forged, Purpose::Session, NOW),
            Err(SessionError::Invalid)
        );
        for junk in ["", ".", "abc", "a.b", "%%%.%%%", &"x".repeat(600)] {
            assert_eq!(
                verify(SECRET, junk, Purpose::Session, NOW),
                Err(SessionError::Invalid)
            );
        }
    }

    #[test]
    fn short_secrets_are_refused_by_name() {
        let err = check_secret(&crate::Secret::new("short")).unwrap_err();
        assert!(err.to_string().contains("SESSION_SECRET"));
        assert!(!err.to_string().contains("short"), "never echo the value");
        assert!(check_secret(&crate::Secret::new("x".repeat(MIN_SECRET_LEN))).is_ok());
    }

    #[test]
    fn csrf_is_bound_to_the_session() {
        let a = issue(SECRET, "1", Purpose::Session, NOW, SESSION_TTL_SECS);
        let b = issue(SECRET, "1", Purpose::Session, NOW + 1, SESSION_TTL_SECS);
        let csrf = csrf_token(SECRET, &a);
        assert!(verify_csrf(SECRET, &a, &csrf));
        assert!(!verify_csrf(SECRET, &b, &csrf));
        assert!(!verify_csrf(SECRET, &a, ""));
        assert!(!verify_csrf(b"other", &a, &csrf));
        assert_ne!(
            csrf,
            a.split_once('.').unwrap().1,
            "csrf must not equal the token MAC"
        );
    }
}
