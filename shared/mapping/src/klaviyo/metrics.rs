//! Klaviyo metric names. They are part of every merchant's flows and reports, so they never
//! change once shipped (Klaviyo's SFCC cartridge warns that a rename "causes a break in
//! reporting and functionality"). Klaviyo's own e-commerce names where one exists.

pub const PLACED_ORDER: &str = "Placed Order";
pub const ORDERED_PRODUCT: &str = "Ordered Product";
pub const FULFILLED_ORDER: &str = "Fulfilled Order";
pub const SHIPPED_ORDER: &str = "Shipped Order";
pub const OUT_FOR_DELIVERY: &str = "Out for Delivery";
pub const DELIVERED_ORDER: &str = "Delivered Order";
pub const CANCELLED_ORDER: &str = "Cancelled Order";
pub const RETURN_REQUESTED: &str = "Return Requested";
pub const REFUNDED_ORDER: &str = "Refunded Order";
pub const ORDER_STATUS_UPDATED: &str = "Order Status Updated";
pub const SHIPMENT_CREATED: &str = "Shipment Created";
pub const SHIPMENT_UPDATED: &str = "Shipment Updated";
pub const SHIPMENT_CANCELLED: &str = "Shipment Cancelled";
pub const RETURN_SHIPMENT_CREATED: &str = "Return Shipment Created";
pub const RETURN_SHIPMENT_CANCELLED: &str = "Return Shipment Cancelled";
pub const STARTED_CHECKOUT: &str = "Started Checkout";
pub const APPLIED_COUPON: &str = "Applied Coupon";
pub const CREATED_ACCOUNT: &str = "Created Account";
pub const LOGGED_IN: &str = "Logged In";
pub const SUBMITTED_REVIEW: &str = "Submitted Review";

/// Metrics whose Klaviyo convention carries the order's revenue in `value`: Placed Order (and
/// Ordered Product, with its line total), Fulfilled Order, and the Cancelled / Refunded Order
/// that Klaviyo nets against it by `unique_id`. Milestones and status changes that fire
/// several times per order keep the amount as an `OrderTotal` property instead, so they never
/// multiply an order's value in a report.
pub const REVENUE_METRICS: &[&str] = &[
    PLACED_ORDER,
    ORDERED_PRODUCT,
    FULFILLED_ORDER,
    CANCELLED_ORDER,
    REFUNDED_ORDER,
];

/// Whether `metric` carries `value` (see [`REVENUE_METRICS`]).
pub fn carries_revenue(metric: &str) -> bool {
    REVENUE_METRICS.contains(&metric)
}
