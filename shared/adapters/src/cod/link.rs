//! Self-contained, signed confirm/cancel links for cash-on-delivery orders.
//!
//! A token is `base64url(payload || mac)`: the payload is 22 bytes (version, action, expiry
//! as unix seconds, store id, order id, big-endian) and the MAC is HMAC-SHA256 over a domain
//! label and the payload, truncated to 128 bits. 38 bytes encode to 51 characters, short
//! enough for an email button. Everything a link means is inside the signed payload, so it
//! cannot be moved to another order or store, or turned from confirm into cancel, and nothing
//! has to be stored to check it.
//!
//! Salla's store and order ids are numeric (the key store accepts only digits for a store id),
//! so both travel as `u64`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::Secret;
use crate::salla::signature::PreviousSecret;

type HmacSha256 = Hmac<Sha256>;

/// How long a link works when the merchant has chosen nothing else: long enough for a shopper
/// who reads email once a day, short enough that a forwarded message goes stale before the
/// order ships.
pub const DEFAULT_LINK_LIFETIME_SECS: i64 = 72 * 3600;

/// Shortest `COD_LINK_SECRET` (bytes) accepted: a short secret makes links forgeable.
pub const MIN_SECRET_LEN: usize = 32;

const VERSION: u8 = 1;
const PAYLOAD_LEN: usize = 22;
const MAC_LEN: usize = 16;
const TOKEN_LEN: usize = 51;
/// Keeps these MACs apart from any other HMAC made with the same secret.
const LABEL: &[u8] = b"klaviyo-salla/cod-link/v1";

/// What a link asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Confirm,
    Cancel,
}

impl Action {
    fn tag(self) -> u8 {
        match self {
            Action::Confirm => 1,
            Action::Cancel => 2,
        }
    }

    fn from_tag(tag: u8) -> Option<Self> {
        match tag {
            1 => Some(Action::Confirm),
            2 => Some(Action::Cancel),
            _ => None,
        }
    }

    /// The lower-case name logs and event ids use.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Cancel => "cancel",
        }
    }
}

/// Everything a link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    pub store_id: u64,
    pub order_id: u64,
    pub action: Action,
    /// Unix seconds; the link is refused from this second on.
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not ours: malformed, forged, altered, or signed with a retired secret.
    Invalid,
    /// Ours, but past its expiry. Carries what it said so the page can say which order.
    Expired(Link),
}

/// The secrets links are checked with: the current one, and during a rotation the previous
/// one until the end of its overlap window.
#[derive(Debug, Clone)]
pub struct LinkSecrets {
    pub current: Secret,
    pub previous: Option<PreviousSecret>,
}

impl LinkSecrets {
    pub fn new(current: Secret) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// A link signed with the current secret.
    pub fn issue(&self, link: &Link) -> String {
        issue(self.current.expose().as_bytes(), link)
    }

    /// What `token` says, if the current secret (or, before its window ends, the previous
    /// one) signed it and it has not expired at `now`.
    pub fn open(&self, token: &str, now: i64) -> Result<Link, LinkError> {
        let bytes = decode(token).ok_or(LinkError::Invalid)?;
        let signed_by = |secret: &Secret| {
            let secret = secret.expose().as_bytes();
            !secret.is_empty()
                && bool::from(mac(secret, &bytes[..PAYLOAD_LEN]).ct_eq(&bytes[PAYLOAD_LEN..]))
        };
        let ours = signed_by(&self.current)
            || matches!(&self.previous, Some(p) if now < p.until && signed_by(&p.secret));
        if !ours {
            return Err(LinkError::Invalid);
        }
        let link = parse(&bytes[..PAYLOAD_LEN]).ok_or(LinkError::Invalid)?;
        if now >= link.expires_at {
            return Err(LinkError::Expired(link));
        }
        Ok(link)
    }
}

/// Makes a COD order's confirm and cancel URLs: the page's base URL followed by the token.
#[derive(Debug, Clone)]
pub struct LinkIssuer {
    pub secrets: LinkSecrets,
    /// The confirmation page's URL, ending in `/` (the function URL, or `/cod/` locally).
    pub base_url: String,
}

impl LinkIssuer {
    /// An issuer for `base_url`, or `None` when links are not configured (no page URL, or a
    /// secret too short to sign with).
    pub fn new(secrets: LinkSecrets, base_url: &str) -> Option<Self> {
        let base = base_url.trim();
        if base.is_empty() || secrets.current.expose().len() < MIN_SECRET_LEN {
            return None;
        }
        let base_url = if base.ends_with('/') {
            base.to_owned()
        } else {
            format!("{base}/")
        };
        Some(Self { secrets, base_url })
    }

    /// `(confirm URL, cancel URL)` for the order, valid from `now` for `lifetime_secs` (the
    /// merchant's setting).
    pub fn urls(
        &self,
        store_id: u64,
        order_id: u64,
        now: i64,
        lifetime_secs: i64,
    ) -> (String, String) {
        let url = |action| {
            let token = self.secrets.issue(&Link {
                store_id,
                order_id,
                action,
                expires_at: now.saturating_add(lifetime_secs),
            });
            format!("{}{token}", self.base_url)
        };
        (url(Action::Confirm), url(Action::Cancel))
    }
}

/// A link for `link`, signed with `secret`. An expiry outside the 32-bit unix range is
/// clamped into it (a past expiry yields an expired link, never a valid one).
pub fn issue(secret: &[u8], link: &Link) -> String {
    let mut bytes = Vec::with_capacity(PAYLOAD_LEN + MAC_LEN);
    bytes.push(VERSION);
    bytes.push(link.action.tag());
    let exp = link.expires_at.clamp(0, i64::from(u32::MAX)) as u32;
    bytes.extend_from_slice(&exp.to_be_bytes());
    bytes.extend_from_slice(&link.store_id.to_be_bytes());
    bytes.extend_from_slice(&link.order_id.to_be_bytes());
    let tag = mac(secret, &bytes);
    bytes.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode(token: &str) -> Option<Vec<u8>> {
    // The length is checked before decoding, so junk of any size costs nothing.
    if token.len() != TOKEN_LEN {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    (bytes.len() == PAYLOAD_LEN + MAC_LEN).then_some(bytes)
}

fn parse(payload: &[u8]) -> Option<Link> {
    if payload.len() != PAYLOAD_LEN || payload[0] != VERSION {
        return None;
    }
    let action = Action::from_tag(payload[1])?;
    let exp = u32::from_be_bytes(payload[2..6].try_into().ok()?);
    let store_id = u64::from_be_bytes(payload[6..14].try_into().ok()?);
    let order_id = u64::from_be_bytes(payload[14..22].try_into().ok()?);
    Some(Link {
        store_id,
        order_id,
        action,
        expires_at: i64::from(exp),
    })
}

fn mac(secret: &[u8], payload: &[u8]) -> [u8; MAC_LEN] {
    // HMAC takes a key of any length, so this cannot fail.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(secret).expect("HMAC takes any key length");
    m.update(LABEL);
    m.update(payload);
    let full = m.finalize().into_bytes();
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&full[..MAC_LEN]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_796_000_000;
    const SECRET: &str = "cod-link-secret-for-tests-0123456789abcdef";

    fn secrets() -> LinkSecrets {
        LinkSecrets::new(Secret::new(SECRET))
    }

    fn link(action: Action) -> Link {
        Link {
            store_id: 1_234_567_890,
            order_id: 987_654_321,
            action,
            expires_at: NOW + DEFAULT_LINK_LIFETIME_SECS,
        }
    }

    /// Re-signs a token's payload after `edit`, with the given secret.
    fn tampered(token: &str, edit: impl Fn(&mut [u8]), resign_with: Option<&[u8]>) -> String {
        let mut bytes = URL_SAFE_NO_PAD.decode(token).unwrap();
        edit(&mut bytes[..PAYLOAD_LEN]);
        if let Some(secret) = resign_with {
            let tag = mac(secret, &bytes[..PAYLOAD_LEN]);
            bytes[PAYLOAD_LEN..].copy_from_slice(&tag);
        }
        URL_SAFE_NO_PAD.encode(bytes)
    }

    #[test]
    fn a_link_round_trips_and_is_short() {
        for action in [Action::Confirm, Action::Cancel] {
            let token = secrets().issue(&link(action));
            assert_eq!(token.len(), TOKEN_LEN);
            assert!(token.len() < 100);
            assert!(
                token
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            assert_eq!(secrets().open(&token, NOW), Ok(link(action)));
        }
        let max = Link {
            store_id: u64::MAX,
            order_id: u64::MAX,
            ..link(Action::Confirm)
        };
        assert_eq!(secrets().open(&secrets().issue(&max), NOW), Ok(max));
    }

    #[test]
    fn a_forged_link_is_refused() {
        let token = secrets().issue(&link(Action::Confirm));
        let other = LinkSecrets::new(Secret::new("another-deployment-secret-0123456789"));
        assert_eq!(other.open(&token, NOW), Err(LinkError::Invalid));
        let forged = issue(b"guessed", &link(Action::Confirm));
        assert_eq!(secrets().open(&forged, NOW), Err(LinkError::Invalid));
        // One flipped bit anywhere, payload or MAC.
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0x01;
            let t = URL_SAFE_NO_PAD.encode(b);
            assert_eq!(secrets().open(&t, NOW), Err(LinkError::Invalid), "byte {i}");
        }
        // An empty secret never verifies, even a link "signed" with it.
        let empty = LinkSecrets::new(Secret::new(""));
        assert_eq!(
            empty.open(&issue(b"", &link(Action::Confirm)), NOW),
            Err(LinkError::Invalid)
        );
    }

    #[test]
    fn a_link_cannot_be_moved_to_another_order_or_store() {
        let token = secrets().issue(&link(Action::Confirm));
        let other_order = tampered(&token, |p| p[21] ^= 1, None);
        let other_store = tampered(&token, |p| p[13] ^= 1, None);
        let later = tampered(&token, |p| p[5] ^= 1, None);
        for t in [other_order, other_store, later] {
            assert_eq!(secrets().open(&t, NOW), Err(LinkError::Invalid));
        }
    }

    #[test]
    fn a_confirm_link_cannot_become_a_cancel_link() {
        let confirm = secrets().issue(&link(Action::Confirm));
        let swapped = tampered(&confirm, |p| p[1] = Action::Cancel.tag(), None);
        assert_eq!(secrets().open(&swapped, NOW), Err(LinkError::Invalid));
        // The two actions' tokens differ in more than the action byte: the MAC as well.
        let cancel = secrets().issue(&link(Action::Cancel));
        assert_ne!(confirm[30..], cancel[30..]);
        // An unknown action, even correctly signed, is refused.
        let unknown = tampered(&confirm, |p| p[1] = 9, Some(SECRET.as_bytes()));
        assert_eq!(secrets().open(&unknown, NOW), Err(LinkError::Invalid));
        let version = tampered(&confirm, |p| p[0] = 2, Some(SECRET.as_bytes()));
        assert_eq!(secrets().open(&version, NOW), Err(LinkError::Invalid));
    }

    #[test]
    fn an_expired_link_says_so() {
        let l = link(Action::Cancel);
        let token = secrets().issue(&l);
        assert!(secrets().open(&token, l.expires_at - 1).is_ok());
        assert_eq!(
            secrets().open(&token, l.expires_at),
            Err(LinkError::Expired(l))
        );
        let past = Link {
            expires_at: -5,
            ..l
        };
        assert!(matches!(
            secrets().open(&secrets().issue(&past), NOW),
            Err(LinkError::Expired(_))
        ));
    }

    #[test]
    fn the_previous_secret_verifies_only_inside_its_overlap() {
        let old = "the-previous-cod-link-secret-0123456789";
        let token = issue(old.as_bytes(), &link(Action::Confirm));
        let rotating = LinkSecrets {
            current: Secret::new(SECRET),
            previous: Some(PreviousSecret {
                secret: Secret::new(old),
                until: NOW + 60,
            }),
        };
        assert_eq!(rotating.open(&token, NOW), Ok(link(Action::Confirm)));
        assert_eq!(rotating.open(&token, NOW + 60), Err(LinkError::Invalid));
        assert_eq!(secrets().open(&token, NOW), Err(LinkError::Invalid));
        // New links are signed with the current secret.
        let fresh = rotating.issue(&link(Action::Confirm));
        assert_eq!(
            secrets().open(&fresh, NOW + 3600),
            Ok(link(Action::Confirm))
        );
    }

    #[test]
    fn the_issuer_makes_both_urls_or_none_at_all() {
        assert!(LinkIssuer::new(secrets(), "").is_none());
        assert!(LinkIssuer::new(LinkSecrets::new(Secret::new("short")), "https://c/").is_none());
        let issuer = LinkIssuer::new(secrets(), "https://cod.example").unwrap();
        let (confirm, cancel) = issuer.urls(7, 55, NOW, DEFAULT_LINK_LIFETIME_SECS);
        let token = confirm.strip_prefix("https://cod.example/").unwrap();
        let link = secrets().open(token, NOW).unwrap();
        assert_eq!(
            (link.store_id, link.order_id, link.action),
            (7, 55, Action::Confirm)
        );
        assert_eq!(link.expires_at, NOW + DEFAULT_LINK_LIFETIME_SECS);
        let token = cancel.strip_prefix("https://cod.example/").unwrap();
        assert_eq!(secrets().open(token, NOW).unwrap().action, Action::Cancel);
        assert!(confirm.len() < 100);
    }

    #[test]
    fn junk_is_refused_without_panicking() {
        let valid = secrets().issue(&link(Action::Confirm));
        let mut junk: Vec<String> = vec![
            String::new(),
            ".".into(),
            "=".repeat(TOKEN_LEN),
            "é".repeat(TOKEN_LEN),
            format!("{}=", &valid[..TOKEN_LEN - 1]),
            valid[..TOKEN_LEN - 1].to_string(),
            format!("{valid}A"),
            "A".repeat(100_000),
            valid.replace(|c: char| c.is_ascii_lowercase(), "+"),
        ];
        // Every prefix and every single-character substitution of a valid token.
        for i in 0..valid.len() {
            junk.push(valid[..i].to_string());
            let mut s = valid.clone().into_bytes();
            s[i] = b'/';
            junk.push(String::from_utf8(s).unwrap());
        }
        for t in junk {
            assert_eq!(secrets().open(&t, NOW), Err(LinkError::Invalid), "{t:.60}");
        }
    }
}
