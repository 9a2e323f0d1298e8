//! Signed, expiring session tokens bound to one Salla store ID.
//!
//! Format: `base64url(payload) "." base64url(HMAC-SHA256(secret, label || payload))` where the
//! payload is a small JSON object: version, purpose, expiry, store id, a random token id and
//! the store's name and domain (see [`StoreLabel`]). The purpose is inside the signed
//! payload, so a 30-second handoff token can never be replayed as a 30-minute cookie session
//! (or back).
//!
//! Why two purposes: on AWS the OAuth callback and the onboarding page are different
//! function-URL hosts, so a cookie set by the callback never reaches the page. The callback
//! hands over a short-lived `Handoff` token in the redirect URL; the page verifies it, spends
//! its id (a handoff token works once, see [`crate::once`]) and sets its own `Session` cookie.
//!
//! CSRF tokens ([`csrf_token`]) are derived from the session token itself, so a form is only
//! accepted together with the cookie session it was rendered for.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Lifetime of the token the OAuth callback puts in the redirect URL: one redirect takes well
/// under a second, and a URL leaked from a browser history or a proxy log is useless after
/// this (and after its first use).
pub const HANDOFF_TTL_SECS: i64 = 30;
/// Lifetime of the onboarding page's cookie session.
pub const SESSION_TTL_SECS: i64 = 30 * 60;

/// Shortest `SESSION_SECRET` (bytes) the functions start with: a short secret makes every
/// session forgeable by brute force.
pub const MIN_SECRET_LEN: usize = 32;

/// Longest store name a token carries, in bytes (cut at a character boundary).
pub const MAX_STORE_NAME_BYTES: usize = 120;
/// Longest store domain a token carries, in bytes; a longer one is left out, not cut.
pub const MAX_STORE_DOMAIN_BYTES: usize = 255;

/// Longest token we even try to decode; anything longer is not ours. A token with the longest
/// name and domain stays under half of it, and well under a browser's 4 KiB cookie limit.
const MAX_TOKEN_LEN: usize = 2048;

/// Payload layout version.
const VERSION: u8 = 2;

/// What a token may be used for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Callback → onboarding page redirect ([`HANDOFF_TTL_SECS`], single use).
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

/// The store as Salla's user info named it when the merchant signed in: shown on the page so
/// the merchant can confirm it is their store before attaching a Klaviyo key. It travels
/// only inside the signed token (never stored), bounded in size and free of control
/// characters; the page escapes it like any other text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreLabel {
    pub name: Option<String>,
    pub domain: Option<String>,
}

impl StoreLabel {
    /// A label from Salla's values: trimmed, control characters removed, the name cut to
    /// [`MAX_STORE_NAME_BYTES`], a domain over [`MAX_STORE_DOMAIN_BYTES`] dropped; empty
    /// values are `None`.
    pub fn new(name: Option<&str>, domain: Option<&str>) -> Self {
        Self {
            name: name.and_then(|n| clean(n, MAX_STORE_NAME_BYTES, true)),
            domain: domain.and_then(|d| clean(d, MAX_STORE_DOMAIN_BYTES, false)),
        }
    }

    fn bounded(self) -> Self {
        Self::new(self.name.as_deref(), self.domain.as_deref())
    }
}

fn clean(value: &str, max_bytes: usize, cut: bool) -> Option<String> {
    let text: String = value.chars().filter(|c| !c.is_control()).collect();
    let text = text.trim();
    if text.len() > max_bytes && !cut {
        return None;
    }
    let mut end = text.len().min(max_bytes);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let text = text[..end].trim_end();
    (!text.is_empty()).then(|| text.to_string())
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    pub store_id: String,
    /// Random per token (128 bits, base64url): the key of a handoff's spent-marker.
    pub id: String,
    /// Unix seconds; the token is refused from this second on.
    pub expires_at: i64,
    pub store: StoreLabel,
}

#[derive(Serialize, Deserialize)]
struct Payload {
    v: u8,
    p: String,
    exp: i64,
    sid: String,
    jti: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dom: Option<String>,
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

/// A token for `store_id` without a store label, valid for `ttl_secs` from `now` (unix
/// seconds).
pub fn issue(secret: &[u8], store_id: &str, purpose: Purpose, now: i64, ttl_secs: i64) -> String {
    issue_for(
        secret,
        store_id,
        &StoreLabel::default(),
        purpose,
        now,
        ttl_secs,
    )
}

/// A token for `store_id` carrying `store` (bounded again here), valid for `ttl_secs` from
/// `now`, with a fresh random id.
pub fn issue_for(
    secret: &[u8],
    store_id: &str,
    store: &StoreLabel,
    purpose: Purpose,
    now: i64,
    ttl_secs: i64,
) -> String {
    let store = store.clone().bounded();
    let payload = Payload {
        v: VERSION,
        p: purpose.tag().to_string(),
        exp: now.saturating_add(ttl_secs),
        sid: store_id.to_string(),
        jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        name: store.name,
        dom: store.domain,
    };
    // Serialising a struct of strings and integers cannot fail.
    let json = serde_json::to_vec(&payload).unwrap_or_default();
    let encoded = URL_SAFE_NO_PAD.encode(json);
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
    open(secret, token, purpose, now).map(|claims| claims.store_id)
}

/// Everything a token says, if it is ours, for `purpose`, and not expired at `now`.
pub fn open(
    secret: &[u8],
    token: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Claims, SessionError> {
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
    let payload: Payload = URL_SAFE_NO_PAD
        .decode(encoded)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(SessionError::Invalid)?;
    if payload.v != VERSION {
        return Err(SessionError::Invalid);
    }
    if payload.p != purpose.tag() {
        return Err(SessionError::WrongPurpose);
    }
    if now >= payload.exp {
        return Err(SessionError::Expired);
    }
    if payload.sid.is_empty() || payload.sid.len() > crate::keystore::MAX_STORE_ID_LEN {
        return Err(SessionError::Invalid);
    }
    Ok(Claims {
        store_id: payload.sid,
        id: payload.jti,
        expires_at: payload.exp,
        store: StoreLabel {
            name: payload.name,
            domain: payload.dom,
        }
        .bounded(),
    })
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

/// What the Validation URL's token signs: the token serves that URL and nothing else.
const VALIDATION_URL_LABEL: &[u8] = b"salla-validation-url";
/// 22 base64url characters: 132 bits of the HMAC, more than anyone can guess.
pub const VALIDATION_URL_TOKEN_CHARS: usize = 22;

/// The Validation URL's last segment: base64url (no padding) of
/// HMAC-SHA256(session secret, "salla-validation-url"), its first 22 characters.
/// `infra/scripts/validation-url.sh` derives the same with openssl, so the label is MACed
/// bare (not through [`sign`]'s `label|data` form).
pub fn validation_url_token(secret: &[u8]) -> String {
    // HMAC takes a key of any length, so this cannot fail; an empty token never matches.
    let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(VALIDATION_URL_LABEL);
    let mut token = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    token.truncate(VALIDATION_URL_TOKEN_CHARS);
    token
}

/// Whether `given` is the Validation URL's token. Constant-time.
pub fn verify_validation_url_token(secret: &[u8], given: &str) -> bool {
    let expected = validation_url_token(secret);
    !expected.is_empty() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
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
    fn handoff_tokens_live_at_most_thirty_seconds() {
        const { assert!(HANDOFF_TTL_SECS <= 30) };
        let t = issue(SECRET, "1", Purpose::Handoff, NOW - 31, HANDOFF_TTL_SECS);
        assert_eq!(
            verify(SECRET, &t, Purpose::Handoff, NOW),
            Err(SessionError::Expired)
        );
    }

    #[test]
    fn every_token_has_its_own_random_id() {
        let a = open(
            SECRET,
            &issue(SECRET, "1", Purpose::Handoff, NOW, 30),
            Purpose::Handoff,
            NOW,
        )
        .unwrap();
        let b = open(
            SECRET,
            &issue(SECRET, "1", Purpose::Handoff, NOW, 30),
            Purpose::Handoff,
            NOW,
        )
        .unwrap();
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 22);
        assert!(crate::once::valid_id(&a.id));
        assert_eq!(a.expires_at, NOW + 30);
    }

    #[test]
    fn the_store_label_is_carried_bounded_and_clean() {
        let label = StoreLabel::new(
            Some("  متجر\u{0}\n \"العطور\" <b>  "),
            Some("https://salla.sa/dev-store"),
        );
        assert_eq!(label.name.as_deref(), Some("متجر \"العطور\" <b>"));
        let t = issue_for(SECRET, "7", &label, Purpose::Session, NOW, 60);
        let claims = open(SECRET, &t, Purpose::Session, NOW).unwrap();
        assert_eq!(claims.store, label);
        assert_eq!(claims.store_id, "7");

        // The longest name is cut at a character boundary; a too-long domain is left out.
        let long = StoreLabel::new(Some(&"م".repeat(200)), Some(&"d".repeat(300)));
        let name = long.name.clone().unwrap();
        assert!(name.len() <= MAX_STORE_NAME_BYTES && name.chars().all(|c| c == 'م'));
        assert_eq!(long.domain, None);
        assert_eq!(
            StoreLabel::new(Some(" \t "), Some("")),
            StoreLabel::default()
        );
        // Even the largest label (every byte escaped in JSON) fits a cookie.
        let worst = StoreLabel::new(
            Some(&"\"".repeat(MAX_STORE_NAME_BYTES)),
            Some(&"\\".repeat(MAX_STORE_DOMAIN_BYTES)),
        );
        let t = issue_for(SECRET, &"9".repeat(64), &worst, Purpose::Session, NOW, 60);
        assert!(t.len() <= MAX_TOKEN_LEN && t.len() < 4000, "{}", t.len());
        assert_eq!(
            open(SECRET, &t, Purpose::Session, NOW).unwrap().store,
            worst
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
        for junk in ["", ".", "abc", "a.b", "%%%.%%%", &"x".repeat(2100)] {
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
