//! Webhook authenticity. Salla signs the raw body bytes (never a re-serialisation: key order,
//! escaping and Arabic text would change) with HMAC-SHA256 and the app's webhook secret, as
//! lowercase hex in `X-Salla-Signature`. The `token` strategy instead sends the secret itself
//! in `Authorization`. Both comparisons are constant-time.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Secret;

type HmacSha256 = Hmac<Sha256>;

/// Which credential Salla attaches, as configured per app in the Partner Portal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Signature,
    Token,
}

impl Strategy {
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "signature" => Some(Self::Signature),
            "token" => Some(Self::Token),
            _ => None,
        }
    }
}

/// Hex HMAC-SHA256 of `body`: what Salla puts in `X-Salla-Signature` (used by tests and the
/// send-sample tool).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a delivery's credential. `signature_header` is `X-Salla-Signature`,
/// `authorization_header` is `Authorization`.
pub fn verify(
    strategy: Strategy,
    secret: &[u8],
    body: &[u8],
    signature_header: Option<&str>,
    authorization_header: Option<&str>,
) -> bool {
    if secret.is_empty() {
        return false;
    }
    match strategy {
        Strategy::Signature => {
            let Some(given) = signature_header else {
                return false;
            };
            // Tolerate an upper-case hex or a "sha256=" prefix; anything else is not hex
            // and fails here without ever touching the MAC.
            let given = given.trim();
            let given = given.strip_prefix("sha256=").unwrap_or(given);
            let Ok(given) = hex::decode(given.to_ascii_lowercase()) else {
                return false;
            };
            let Ok(mut mac) = HmacSha256::new_from_slice(secret) else {
                return false;
            };
            mac.update(body);
            mac.verify_slice(&given).is_ok()
        }
        Strategy::Token => {
            let Some(given) = authorization_header else {
                return false;
            };
            // Salla sends the bare secret (no "Bearer"); accept the prefix in case a proxy adds it.
            let given = given.trim();
            let given = given.strip_prefix("Bearer ").unwrap_or(given);
            given.as_bytes().ct_eq(secret).into()
        }
    }
}

/// The secrets a delivery may be authenticated with. Rotating the app's webhook secret in the
/// Partner Portal is not atomic with a deploy, and Salla retries a failed delivery for ~15
/// minutes with the body it first signed, so for an overlap window the operator sets the
/// previous secret still verifies. After `until` it is refused, whatever the configuration says.
#[derive(Debug, Clone)]
pub struct WebhookSecrets {
    pub current: Secret,
    pub previous: Option<PreviousSecret>,
}

/// The secret being rotated out, and the end of its overlap window (unix seconds).
#[derive(Debug, Clone)]
pub struct PreviousSecret {
    pub secret: Secret,
    pub until: i64,
}

/// Which secret authenticated a delivery; the intake logs deliveries that still use the
/// previous one so the operator can see when the overlap may end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    Current,
    Previous,
}

impl WebhookSecrets {
    pub fn new(current: Secret) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// Checks a delivery against the current secret, then (inside its window) the previous one.
    pub fn verify(
        &self,
        strategy: Strategy,
        body: &[u8],
        signature_header: Option<&str>,
        authorization_header: Option<&str>,
        now: i64,
    ) -> Option<Verified> {
        let check = |secret: &Secret| {
            verify(
                strategy,
                secret.expose().as_bytes(),
                body,
                signature_header,
                authorization_header,
            )
        };
        if check(&self.current) {
            return Some(Verified::Current);
        }
        match &self.previous {
            Some(p) if now < p.until && check(&p.secret) => Some(Verified::Previous),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_secret_verifies_only_inside_its_window() {
        let body = br#"{"event":"order.created"}"#;
        let secrets = WebhookSecrets {
            current: Secret::new("new-secret"),
            previous: Some(PreviousSecret {
                secret: Secret::new("old-secret"),
                until: 1_000,
            }),
        };
        let signed_new = sign(b"new-secret", body);
        let signed_old = sign(b"old-secret", body);
        let signed_other = sign(b"other-secret", body);
        let at = |sig: &str, now| secrets.verify(Strategy::Signature, body, Some(sig), None, now);
        assert_eq!(at(&signed_new, 999), Some(Verified::Current));
        assert_eq!(at(&signed_old, 999), Some(Verified::Previous));
        assert_eq!(at(&signed_old, 1_000), None, "window over");
        assert_eq!(at(&signed_new, 5_000), Some(Verified::Current));
        assert_eq!(at(&signed_other, 999), None);
        let token = |t: &str| secrets.verify(Strategy::Token, body, None, Some(t), 10);
        assert_eq!(token("old-secret"), Some(Verified::Previous));
        assert_eq!(token("new-secret"), Some(Verified::Current));
        assert_eq!(
            WebhookSecrets::new(Secret::new("new-secret")).verify(
                Strategy::Signature,
                body,
                Some(&signed_old),
                None,
                0
            ),
            None
        );
    }

    const SECRET: &[u8] = b"webhook-secret";

    #[test]
    fn signature_round_trip_on_raw_bytes() {
        let body =
            "{\"event\":\"order.created\",\"merchant\":1,\"data\":{\"name\":\"عميل\"}}".as_bytes();
        let sig = sign(SECRET, body);
        assert_eq!(sig.len(), 64);
        assert!(verify(Strategy::Signature, SECRET, body, Some(&sig), None));
        assert!(verify(
            Strategy::Signature,
            SECRET,
            body,
            Some(&sig.to_uppercase()),
            None
        ));
        // One changed byte, a wrong secret, a missing or non-hex header: all rejected.
        let mut tampered = body.to_vec();
        tampered[10] ^= 1;
        assert!(!verify(
            Strategy::Signature,
            SECRET,
            &tampered,
            Some(&sig),
            None
        ));
        assert!(!verify(
            Strategy::Signature,
            b"other",
            body,
            Some(&sig),
            None
        ));
        assert!(!verify(Strategy::Signature, SECRET, body, None, None));
        assert!(!verify(Strategy::Signature, SECRET, body, Some("zz"), None));
        assert!(!verify(
            Strategy::Signature,
            SECRET,
            body,
            Some(&sig[..63]),
            None
        ));
        // The signature strategy ignores a correct token.
        assert!(!verify(
            Strategy::Signature,
            SECRET,
            body,
            None,
            Some("webhook-secret")
        ));
    }

    #[test]
    fn token_strategy_compares_the_secret() {
        assert!(verify(
            Strategy::Token,
            SECRET,
            b"{}",
            None,
            Some("webhook-secret")
        ));
        assert!(verify(
            Strategy::Token,
            SECRET,
            b"{}",
            None,
            Some("Bearer webhook-secret")
        ));
        assert!(!verify(
            Strategy::Token,
            SECRET,
            b"{}",
            None,
            Some("webhook-secre")
        ));
        assert!(!verify(Strategy::Token, SECRET, b"{}", None, None));
        assert!(!verify(Strategy::Token, b"", b"{}", None, Some("")));
    }

    #[test]
    fn strategy_parses() {
        assert_eq!(Strategy::parse("Signature"), Some(Strategy::Signature));
        assert_eq!(Strategy::parse("token"), Some(Strategy::Token));
        assert_eq!(Strategy::parse("none"), None);
    }
}
