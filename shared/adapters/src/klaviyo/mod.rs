//! Klaviyo REST client: pinned revision, JSON:API bodies, retries that respect Salla's 30 s
//! webhook window, and the two documented special cases (catalog create → 409 → update;
//! profile conflicts → resend once without the phone).

mod client;
pub mod errors;
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
];
