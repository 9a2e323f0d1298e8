//! Pure mapping from one verified Salla webhook body to the Klaviyo API requests to send.
//!
//! No I/O, no async, no clock: the same body (and enrichment) always yields byte-identical
//! requests, so Salla's retries and duplicate deliveries are harmless (Klaviyo keeps one event
//! per profile, metric and `unique_id`). See README.md for the event → metric → flow table,
//! the `unique_id` scheme and the property vocabulary.
//!
//! Layout: the input side (`salla/`) reads a delivery, the output side (`klaviyo/`) holds the
//! requests and their bodies, and between them `rules/` holds the event table and one file per
//! event family, deciding an [`Action`] (`plan.rs`) from what the input side read. Neither
//! side imports the rules or the plan.
//!
//! History import (`history.rs`): objects read from Salla's Merchant API (order details,
//! customers, products) are wrapped into the deliveries Salla would have sent and run through
//! the same rules, and `klaviyo/bulk.rs` packs the results into Klaviyo's bulk jobs.
//!
//! ```
//! let body = br#"{"event":"app.uninstalled","merchant":1234509876,"data":{}}"#;
//! let env = mapping::parse_envelope(body).unwrap();
//! let action = mapping::plan(&env, &mapping::Enrichment::default()).unwrap();
//! assert_eq!(action, mapping::Action::Uninstalled);
//! ```

pub mod crm;
mod error;
mod history;
mod klaviyo;
mod plan;
pub mod points;
mod rules;
mod salla;

#[cfg(test)]
mod layers;

pub use error::MappingError;
pub use history::{
    Backfill, history_catalog, history_customer, history_order, history_product,
    history_products_to_enrich,
};
pub use klaviyo::metrics;
pub use klaviyo::unique_id::product_id;
pub use klaviyo::{
    BulkLimits, CatalogCategoryUpsert, CatalogUpsert, CatalogVariantUpsert, EventBulkJob,
    EventPacker, EventRequest, KlaviyoRequest, Location, Profile, ProfileBulkJob, ProfileImport,
    ProfilePacker, Properties, SubscribeRequest, catalog_item_id, pack_events, pack_events_within,
    pack_profiles, pack_profiles_within,
};
pub use plan::{Action, KeySetting, SallaAuthorization};
pub use rules::{
    EMAIL_OPT_IN_FLAGS, KLAVIYO_KEY_SETTING, SMS_OPT_IN_FLAGS, STATUS_METRICS, StatusKey,
    known_events, plan,
};
pub use salla::cod_settings::{
    COD_CANCEL_SETTING, COD_ENABLED_SETTING, COD_HOURS_SETTING, COD_STATUS_SETTING, CodSettings,
    DEFAULT_CONFIRMED_STATUS, DEFAULT_LINK_HOURS,
};
pub use salla::enrichment::{
    CodLinks, Enrichment, MAX_PRODUCTS_TO_ENRICH, ProductDetails, cod_order_to_link,
    products_to_enrich, shipment_order_to_enrich,
};
pub use salla::envelope::{Envelope, parse_envelope};
pub use salla::profile::STORE_PROPERTY;

/// A shopper's phone in E.164 by the same rule as every profile the mapping builds (Salla's
/// `mobile_code` + `mobile`, national trunk zero dropped, validated), so a request made
/// outside the mapping (the COD page's event) joins the same Klaviyo profile.
pub fn e164_phone(
    mobile_code: Option<&str>,
    mobile: Option<&str>,
    country_code: Option<&str>,
) -> Option<String> {
    let code = mobile_code.map(salla::json::Json::from);
    let mobile = mobile.map(salla::json::Json::from);
    salla::phone::e164(code.as_ref(), mobile.as_ref(), country_code)
}

/// Loads the phone-number metadata now instead of on the first event. `rlibphonenumber`
/// decodes its metadata on first use and compiles a country's patterns on first sight, which
/// would otherwise land on the first webhook after a cold start; callers run this on a spare
/// thread at start-up so it overlaps with the rest of the cold start (figures in
/// docs/performance.md).
pub fn warm_up() {
    let _ = salla::phone::e164(
        Some(&salla::json::Json::from("+966")),
        Some(&salla::json::Json::from(501234567u64)),
        Some("SA"),
    );
}
