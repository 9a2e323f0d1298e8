//! The output side: the Klaviyo API requests the mapping produces (revision 2026-07-15).
//!
//! - [`request`]: the typed requests and the profile, event, consent and catalog structs in them
//! - [`route`]: each request's method and path, and its fallback on a given error status
//! - [`wire`]: the exact JSON:API bodies
//! - [`properties`], [`props`]: event and profile properties (a sorted map, and setters that
//!   leave absent values out)
//! - [`bulk`]: packing events and profiles into Klaviyo's bulk jobs within their limits
//! - [`limits`]: Klaviyo's ingestion limits, applied to every event's properties
//! - [`unique_id`]: deterministic `unique_id`s and `external_id`s
//! - [`metrics`]: the metric names merchants' flows are built on
//!
//! Nothing here reads a Salla payload: the rules turn the input side's readings into these
//! types.

pub(crate) mod bulk;
pub(crate) mod limits;
pub mod metrics;
pub(crate) mod properties;
pub(crate) mod props;
pub(crate) mod request;
pub(crate) mod route;
pub(crate) mod unique_id;
pub(crate) mod wire;

pub use bulk::{
    BulkLimits, EventPacker, ProfilePacker, pack_events, pack_events_within, pack_profiles,
    pack_profiles_within,
};
pub use properties::Properties;
pub use request::{
    CatalogCategoryUpsert, CatalogUpsert, CatalogVariantUpsert, EventBulkJob, EventRequest,
    KlaviyoRequest, Location, Profile, ProfileBulkJob, ProfileImport, SubscribeRequest,
    catalog_item_id,
};
