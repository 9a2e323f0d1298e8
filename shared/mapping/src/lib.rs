//! Pure mapping from one verified Salla webhook body to the Klaviyo API requests to send.
//!
//! No I/O, no async, no clock: the same body (and enrichment) always yields byte-identical
//! requests, so Salla's retries and duplicate deliveries are harmless (Klaviyo keeps one event
//! per profile, metric and `unique_id`). See README.md for the event → metric → flow table,
//! the `unique_id` scheme and the property vocabulary.
//!
//! ```
//! let body = br#"{"event":"app.uninstalled","merchant":1234509876,"data":{}}"#;
//! let env = mapping::parse_envelope(body).unwrap();
//! let action = mapping::plan(&env, &mapping::Enrichment::default()).unwrap();
//! assert_eq!(action, mapping::Action::Uninstalled);
//! ```

mod app;
mod cart;
mod catalog;
mod customer;
mod date;
mod enrichment;
mod envelope;
mod error;
mod items;
mod json;
mod klaviyo;
mod lenient;
mod limits;
pub mod metrics;
mod order;
mod phone;
mod profile;
mod properties;
mod props;
mod rules;
mod shipment;
mod unique_id;

pub use app::{KLAVIYO_KEY_SETTING, SallaAuthorization};
pub use customer::{EMAIL_OPT_IN_FLAGS, SMS_OPT_IN_FLAGS};
pub use enrichment::{Enrichment, MAX_PRODUCTS_TO_ENRICH, ProductDetails, products_to_enrich};
pub use envelope::{Envelope, parse_envelope};
pub use error::MappingError;
pub use klaviyo::{
    CatalogUpsert, EventRequest, KlaviyoRequest, Location, Profile, ProfileImport, Properties,
    SubscribeRequest, catalog_item_id,
};
pub use order::{STATUS_METRICS, StatusKey};
pub use profile::STORE_PROPERTY;
pub use rules::{Action, known_events, plan};

/// Loads the phone-number metadata now instead of on the first event. `rlibphonenumber`
/// decodes its metadata on first use (~11 ms here, against ~80 ms for the `phonenumber`
/// crate it replaced; each further country compiles its regexes on first sight, ~2 ms),
/// which would otherwise land on the first webhook after a cold start; callers run this on a
/// spare thread at start-up so it overlaps with the rest of the cold start.
pub fn warm_up() {
    let _ = phone::e164(
        Some(&json::Json::from("+966")),
        Some(&json::Json::from(501234567u64)),
        Some("SA"),
    );
}
