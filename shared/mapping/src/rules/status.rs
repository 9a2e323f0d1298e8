//! Which Klaviyo metrics an order status fires, shared by the order-status and the shipment
//! rules so a milestone reported by both routes is one Klaviyo event.
//!
//! Status metrics are chosen by the status **slug**, never the name: merchants rename statuses
//! and create custom ones, but a custom status keeps its parent's slug.

use crate::klaviyo::metrics;

/// Which `unique_id` a status metric uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusKey {
    /// The Placed Order's id: Klaviyo matches Cancelled/Refunded to it for lifetime value.
    PlacedOrder,
    /// `salla:{store}:order:{order}:{milestone}`: once per order, whichever event brings it.
    Milestone(&'static str),
}

const FULFILLED: (&str, StatusKey) = (metrics::FULFILLED_ORDER, StatusKey::Milestone("fulfilled"));

/// Status slug → the metrics it triggers besides "Order Status Updated". Shipped, delivering
/// and delivered are sub-statuses of completed in Salla, so each also counts as fulfilment;
/// the shared milestone id makes "Fulfilled Order" fire once per order.
#[rustfmt::skip]
pub const STATUS_METRICS: &[(&str, &[(&str, StatusKey)])] = &[
    ("canceled",   &[(metrics::CANCELLED_ORDER, StatusKey::PlacedOrder)]),
    ("completed",  &[FULFILLED]),
    ("delivered",  &[FULFILLED, (metrics::DELIVERED_ORDER, StatusKey::Milestone("delivered"))]),
    ("delivering", &[FULFILLED, (metrics::OUT_FOR_DELIVERY, StatusKey::Milestone("out-for-delivery"))]),
    ("restored",   &[(metrics::REFUNDED_ORDER, StatusKey::PlacedOrder)]),
    ("restoring",  &[(metrics::RETURN_REQUESTED, StatusKey::Milestone("return-requested"))]),
    ("shipped",    &[FULFILLED, (metrics::SHIPPED_ORDER, StatusKey::Milestone("shipped"))]),
];

/// The metrics `slug` fires besides "Order Status Updated"; none for other slugs.
pub(crate) fn metrics_for(slug: &str) -> &'static [(&'static str, StatusKey)] {
    STATUS_METRICS
        .iter()
        .find(|(s, _)| *s == slug)
        .map(|(_, m)| *m)
        .unwrap_or_default()
}
