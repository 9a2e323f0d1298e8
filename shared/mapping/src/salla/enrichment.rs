//! Hooks for product details the intake fetches from Salla's API when a payload lacks them.
//!
//! Salla's `abandoned.cart` items carry only `product_id` and `quantity`, and the 2025 product
//! events (`product.price.updated`, `product.status.updated`) carry only ids and the changed
//! fields. The mapping stays pure: it names the ids it would like ([`products_to_enrich`]) and
//! uses whatever the intake could fetch ([`Enrichment`]); with nothing fetched it still works.

use super::envelope::Envelope;
use super::json::{JsonContainerTrait, JsonValueTrait};
use super::{lenient, urls};
use std::collections::HashMap;

/// Upper bound on ids requested per delivery, to stay well inside Salla's API rate limit.
pub const MAX_PRODUCTS_TO_ENRICH: usize = 50;

/// Product details fetched by the intake (`GET /admin/v2/products/{id}`), keyed by product id.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Enrichment {
    pub products: HashMap<String, ProductDetails>,
    /// The signed confirm/cancel links of a cash-on-delivery order, made by the intake (it has
    /// the clock and the link secret); rendered on Placed Order when the order is COD.
    pub cod_links: Option<CodLinks>,
    /// The `data` object of `GET /orders/{id}` for the order of a shipment event that names no
    /// customer ([`shipment_order_to_enrich`]), as the JSON text Salla returned: its customer
    /// receives the shipment's events, and its items and total fill the order milestones.
    pub order: Option<String>,
}

/// A COD order's confirmation links, for the merchant's email buttons.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CodLinks {
    pub confirm_url: String,
    /// `None` when the merchant does not let shoppers cancel from the message.
    pub cancel_url: Option<String>,
}

/// What the mapping uses of a Salla product.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ProductDetails {
    pub name: Option<String>,
    pub sku: Option<String>,
    pub price: Option<f64>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub categories: Vec<String>,
    pub brand: Option<String>,
}

/// The id of the order whose Placed Order would carry COD links: an `order.created` paid
/// on delivery, with a numeric id (the links carry it as a number).
pub fn cod_order_to_link(env: &Envelope) -> Option<u64> {
    if env.event != "order.created" {
        return None;
    }
    let data = env.data();
    let cod =
        lenient::text(data.get("payment_method")).is_some_and(|m| m.eq_ignore_ascii_case("cod"));
    if !cod || lenient::flag(data.get("draft")) == Some(true) {
        return None;
    }
    lenient::id(data.get("id"))?.parse().ok()
}

/// The order id of an outbound shipment event whose payload names no `customer`: the intake
/// may fetch that order and pass it as [`Enrichment::order`]. Without it such an event is
/// ignored, because the shipment's `ship_to` may be a gift recipient, who must never become a
/// marketing profile.
pub fn shipment_order_to_enrich(env: &Envelope) -> Option<String> {
    let outbound = matches!(
        env.event.as_str(),
        "shipment.created"
            | "shipment.updated"
            | "shipment.cancelled"
            | "order.shipment.created"
            | "order.shipment.cancelled"
    );
    let d = env.data();
    let is_return = lenient::text(d.get("type")) == Some("return");
    if !outbound || is_return || d.get("customer").is_some_and(|c| c.is_object()) {
        return None;
    }
    lenient::id(d.get("order_id"))
        .or_else(|| lenient::id(d.get("id")).filter(|_| d.get("order_id").is_none()))
}

/// Product ids whose details would complete this event's requests, in payload order, without
/// duplicates, at most [`MAX_PRODUCTS_TO_ENRICH`]: the items of an `abandoned.cart`, the
/// products of an `order.created` whose lines lack categories or a brand (Salla's order items
/// carry neither, and Klaviyo's guide asks for `Categories` and `Brands` on orders), and the
/// product of a `product.*` event whose payload lacks a name or URL.
pub fn products_to_enrich(env: &Envelope) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    if env.event == "order.created" {
        let items = env.data().get("items").and_then(|v| v.as_array());
        for item in items.into_iter().flatten() {
            let product = item.get("product");
            let known = product.is_some_and(|p| {
                p.get("categories")
                    .and_then(|c| c.as_array())
                    .is_some_and(|c| !c.is_empty())
                    && p.get("brand").is_some_and(|b| !b.is_null())
            });
            let Some(id) = lenient::id(item.get("product_id"))
                .or_else(|| lenient::id(product.and_then(|p| p.get("id"))))
            else {
                continue;
            };
            if !known && !ids.contains(&id) && ids.len() < MAX_PRODUCTS_TO_ENRICH {
                ids.push(id);
            }
        }
    } else if env.event == "abandoned.cart" {
        let items = env.data().get("items").and_then(|v| v.as_array());
        for item in items.into_iter().flatten() {
            let Some(id) = lenient::id(item.get("product_id"))
                .or_else(|| lenient::id(lenient::get(item, &["product", "id"])))
            else {
                continue;
            };
            if !ids.contains(&id) && ids.len() < MAX_PRODUCTS_TO_ENRICH {
                ids.push(id);
            }
        }
    } else if env.event.starts_with("product.") && env.event != "product.deleted" {
        let incomplete = lenient::text(env.data().get("name")).is_none()
            || urls::product_url(env.data()).is_none();
        if incomplete && let Some(id) = lenient::id(env.data().get("id")) {
            ids.push(id);
        }
    }
    ids
}
