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
//! - products: `salla:{store}:product:{product}`: the catalog item's `external_id` and the
//!   `ProductID` of every event that names the product, so Klaviyo joins them
//! - catalog variants: `salla:{store}:product:{product}:sku:{sku}`
//! - catalog categories: `salla:{store}:category:{category}`

pub fn customer(store: &str, customer_id: &str) -> String {
    ["salla:", store, ":customer:", customer_id].concat()
}

pub fn customer_event(store: &str, customer_id: &str, what: &str) -> String {
    ["salla:", store, ":customer:", customer_id, ":", what].concat()
}

pub fn order(store: &str, order_id: &str) -> String {
    ["salla:", store, ":order:", order_id].concat()
}

pub fn order_milestone(store: &str, order_id: &str, milestone: &str) -> String {
    ["salla:", store, ":order:", order_id, ":", milestone].concat()
}

pub fn order_status(store: &str, order_id: &str, slug: &str, status_id: Option<&str>) -> String {
    match status_id {
        Some(id) => [
            "salla:", store, ":order:", order_id, ":status:", slug, ":", id,
        ]
        .concat(),
        None => ["salla:", store, ":order:", order_id, ":status:", slug].concat(),
    }
}

/// The line index keeps two lines of one order apart even if Salla repeated an item id.
pub fn order_line(store: &str, order_id: &str, index: usize, item_id: &str) -> String {
    [
        "salla:",
        store,
        ":order:",
        order_id,
        ":item:",
        itoa::Buffer::new().format(index),
        ":",
        item_id,
    ]
    .concat()
}

pub fn order_coupon(store: &str, order_id: &str, code: &str) -> String {
    ["salla:", store, ":order:", order_id, ":coupon:", code].concat()
}

pub fn cart(store: &str, cart_id: &str, version: Option<&str>) -> String {
    match version {
        Some(v) => ["salla:", store, ":cart:", cart_id, ":", v].concat(),
        None => ["salla:", store, ":cart:", cart_id].concat(),
    }
}

pub fn cart_coupon(store: &str, cart_id: &str, code: &str) -> String {
    ["salla:", store, ":cart:", cart_id, ":coupon:", code].concat()
}

pub fn shipment(store: &str, shipment_key: &str, action: &str) -> String {
    ["salla:", store, ":shipment:", shipment_key, ":", action].concat()
}

pub fn review(store: &str, parts: &[&str]) -> String {
    ["salla:", store, ":review:", &parts.join(":")].concat()
}

/// The one product id Klaviyo sees for a Salla product: the catalog item's `external_id` and
/// the `ProductID` on Placed Order items, Ordered Product, Started Checkout items, Submitted
/// Review and the storefront's Viewed Product / Added to Cart. Klaviyo joins a catalog item and
/// events on this value (recommendations, product feeds, "ordered/viewed product" filters);
/// the store id keeps two Salla stores in one Klaviyo account (one `$default` catalog) apart.
pub fn product_id(store: &str, product: &str) -> String {
    ["salla:", store, ":product:", product].concat()
}

/// A catalog variant: one Salla SKU of a product.
pub fn product_variant(store: &str, product: &str, sku: &str) -> String {
    ["salla:", store, ":product:", product, ":sku:", sku].concat()
}

/// A catalog category.
pub fn category(store: &str, category: &str) -> String {
    ["salla:", store, ":category:", category].concat()
}

/// Order-scoped shipment events that carry no shipment id, only the shipping number.
pub fn order_shipment(store: &str, order_id: &str, shipping_number: &str, action: &str) -> String {
    [
        "salla:",
        store,
        ":order:",
        order_id,
        ":shipment:",
        shipping_number,
        ":",
        action,
    ]
    .concat()
}
