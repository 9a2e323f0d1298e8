//! The CRM the app builds inside the merchant's own Klaviyo: tier ladders and churn-risk
//! segments (and the draft flows that use them), as pure data. Nothing here calls Klaviyo; the
//! provisioning adapter looks up the Placed Order metric id, finds what the app created before
//! by [`NAME_PREFIX`], and sends the bodies built here.
//!
//! Every segment is an exact Klaviyo definition on our Placed Order metric (`count` of orders,
//! `sum` of `$value`), so membership is computed by Klaviyo from events it already holds: the
//! app keeps no customer data to compute it.

mod flows;
mod segments;
mod settings;
mod tiers;

pub use flows::{FlowInputs, FlowSpec, SEND_AT, Waiting, flows};

pub use segments::{SegmentSpec, churn_segments, segments, tier_segments};
pub use settings::CrmSettings;
pub use tiers::{
    CHURN_DAYS, DEFAULT_MARGIN_BP, Ladder, MAX_ORDERS, MAX_SPENT_MINOR, MAX_TIERS, OrderWindow,
    TierRule, TierThreshold, custom_ladder, preset_a, preset_b,
};

/// Every name the app gives a segment or flow starts with this, so a re-run finds its own
/// (and removal touches nothing else in the account). Merchants' names never start with it
/// unless they copy ours.
pub const NAME_PREFIX: &str = "Salla app · ";

/// The profile property that carries the tier (see the README's "CRM in your Klaviyo").
pub const TIER_PROPERTY: &str = "Salla Tier";
