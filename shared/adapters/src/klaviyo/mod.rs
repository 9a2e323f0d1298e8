//! Klaviyo REST client: pinned revision, JSON:API bodies, retries that respect Salla's 30 s
//! webhook window, and the account-level pieces built on it: the metric mapping set at
//! connect (`mapped_metrics`) and the repair of a profile conflict that splits one shopper in
//! two (`profiles`, with the rule for when two profiles may be merged).

mod client;
pub mod errors;
pub mod mapped_metrics;
pub mod profiles;
mod retry;

pub use client::{AccountInfo, Delivery, KlaviyoApi, KlaviyoClient};
pub use errors::KlaviyoError;
pub use retry::RetryPolicy;

/// The API revision every request pins. The OpenAPI spec we validate against is this one, and
/// `backfill` (needed for historical sync) exists only from 2026-04-15 on.
pub const REVISION: &str = "2026-07-15";

/// JSON:API media type Klaviyo documents for request and response bodies.
pub const JSON_API: &str = "application/vnd.api+json";

/// Sent as `X-Klaviyo-User-Agent`, like Klaviyo's own integrations, so Klaviyo support can
/// tell our traffic apart from the merchant's other private-key integrations.
pub const USER_AGENT: &str = concat!("klaviyo-for-salla/", env!("CARGO_PKG_VERSION"));

/// Scopes a merchant must tick when creating the private key (shown on the onboarding page).
pub const REQUIRED_SCOPES: &[&str] = &[
    "accounts:read",
    "events:write",
    "profiles:write",
    "catalogs:write",
    "lists:write",
    "subscriptions:write",
    // Metric mapping at connect (`mapped_metrics::ensure`): reading our metrics and the
    // account's mappings, then pointing unset mappings at them.
    "metrics:read",
    "metrics:write",
    // One profile per shopper (`profiles::resolve_duplicate`): reading the profile a 409
    // names before deciding whether it may be merged.
    "profiles:read",
];

/// Longest key we send to Klaviyo; real private keys are ~40 characters.
pub const MAX_PRIVATE_KEY_LEN: usize = 200;

/// Whether a trimmed string can be a Klaviyo private key: it starts with `pk_`, is not absurdly
/// long, and holds only visible ASCII. The 6-character public key (site id) is the usual
/// mistake, and spaces or control characters mean a bad paste. The onboarding page, Salla's
/// Validation URL and the settings webhook all use this one check, so a key one of them refuses
/// cannot reach the store through another.
pub fn is_private_key_shape(key: &str) -> bool {
    key.starts_with("pk_")
        && key.len() > "pk_".len()
        && key.len() <= MAX_PRIVATE_KEY_LEN
        && key.chars().all(|c| c.is_ascii_graphic())
}

#[cfg(test)]
mod shape_tests {
    use super::is_private_key_shape;

    #[test]
    fn only_private_key_shapes_pass() {
        assert!(is_private_key_shape("pk_abc123"));
        for bad in [
            "",
            "pk_",
            "AbC123",
            "pk_a b",
            "pk_a\u{7f}",
            "pk_\u{645}",
            &format!("pk_{}", "a".repeat(300)),
        ] {
            assert!(!is_private_key_shape(bad), "{bad:?}");
        }
    }
}
