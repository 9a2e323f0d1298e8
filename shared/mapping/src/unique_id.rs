//! Deterministic Klaviyo `unique_id`s and `external_id`s, built from the store id and Salla ids
//! only (never a clock), so a retried or duplicated webhook yields byte-identical requests and
//! Klaviyo keeps one event per (profile, metric, unique_id).
//!
//! Scheme (all ids are Salla's, `{store}` is the top-level `merchant`):
//! - order-level: `salla:{store}:order:{order}`: Placed Order, and Cancelled/Refunded Order
//!   (Klaviyo's CLV matches those to the Placed Order by this id)
//! - order milestones: `salla:{store}:order:{order}:{milestone}` (fulfilled, shipped, …)
//! - status changes: `salla:{store}:order:{order}:status:{slug}[:{status id}]`
//! - order lines: `salla:{store}:order:{order}:item:{index}:{item id}`
//! - coupons: `salla:{store}:order:{order}:coupon:{code}`, `salla:{store}:cart:{cart}:coupon:{code}`
//! - carts: `salla:{store}:cart:{cart}[:{updated_at}]`
//! - shipments: `salla:{store}:shipment:{shipment}:{action}`
//! - customers: `salla:{store}:customer:{customer}` (also the profile `external_id`)
//! - catalog: `salla:{store}:product:{product}` (catalog item `external_id`)

pub fn customer(store: &str, customer_id: &str) -> String {
    format!("salla:{store}:customer:{customer_id}")
}

pub fn customer_event(store: &str, customer_id: &str, what: &str) -> String {
    format!("salla:{store}:customer:{customer_id}:{what}")
}

pub fn order(store: &str, order_id: &str) -> String {
    format!("salla:{store}:order:{order_id}")
}

pub fn order_milestone(store: &str, order_id: &str, milestone: &str) -> String {
    format!("salla:{store}:order:{order_id}:{milestone}")
}

pub fn order_status(store: &str, order_id: &str, slug: &str, status_id: Option<&str>) -> String {
    match status_id {
        Some(id) => format!("salla:{store}:order:{order_id}:status:{slug}:{id}"),
        None => format!("salla:{store}:order:{order_id}:status:{slug}"),
    }
}

/// The line index keeps two lines of one order apart even if Salla repeated an item id.
pub fn order_line(store: &str, order_id: &str, index: usize, item_id: &str) -> String {
    format!("salla:{store}:order:{order_id}:item:{index}:{item_id}")
}

pub fn order_coupon(store: &str, order_id: &str, code: &str) -> String {
    format!("salla:{store}:order:{order_id}:coupon:{code}")
}

pub fn cart(store: &str, cart_id: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => format!("salla:{store}:cart:{cart_id}:{v}"),
        None => format!("salla:{store}:cart:{cart_id}"),
    }
}

pub fn cart_coupon(store: &str, cart_id: &str, code: &str) -> String {
    format!("salla:{store}:cart:{cart_id}:coupon:{code}")
}

pub fn shipment(store: &str, shipment_key: &str, action: &str) -> String {
    format!("salla:{store}:shipment:{shipment_key}:{action}")
}

pub fn review(store: &str, parts: &[&str]) -> String {
    format!("salla:{store}:review:{}", parts.join(":"))
}

pub fn product(store: &str, product_id: &str) -> String {
    format!("salla:{store}:product:{product_id}")
}

/// Order-scoped shipment events that carry no shipment id, only the shipping number.
pub fn order_shipment(store: &str, order_id: &str, shipping_number: &str, action: &str) -> String {
    format!("salla:{store}:order:{order_id}:shipment:{shipping_number}:{action}")
}
