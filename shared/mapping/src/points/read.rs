//! Orders and reviews as read from Salla's Merchant API listings (`GET /orders?customer_id=`,
//! `GET /reviews`), each item read leniently: an item without an id is skipped, a missing
//! field is `None`.

use super::{OrderFacts, ReviewFacts};
use crate::MappingError;
use crate::salla::date;
use crate::salla::json::{self, Json, JsonContainerTrait, JsonValueTrait};
use crate::salla::lenient::{self, get};

fn items(body: &[u8]) -> Result<Vec<Json>, MappingError> {
    let page = json::parse(body)?;
    match page.get("data") {
        Some(data) if data.is_array() => Ok(data
            .as_array()
            .map(|a| a.iter().cloned().collect())
            .unwrap_or_default()),
        Some(_) => Err(MappingError::WrongType {
            field: "data",
            expected: "array",
        }),
        None => Err(MappingError::MissingField("data")),
    }
}

/// Unix seconds of any date shape Salla sends.
pub(crate) fn unix(value: Option<&Json>) -> Option<i64> {
    let text = date::timestamp(value)?;
    time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

/// The orders of one listing page (`GET /orders` → `data[]`, short form) or of an order
/// detail wrapped in a one-item list.
pub fn orders_from_listing(body: &[u8]) -> Result<Vec<OrderFacts>, MappingError> {
    Ok(items(body)?.iter().filter_map(order).collect())
}

pub(crate) fn order(item: &Json) -> Option<OrderFacts> {
    let id = lenient::id(item.get("id"))?;
    let status = lenient::text(get(item, &["status", "slug"]))
        .or_else(|| lenient::text(item.get("status")))?
        .to_ascii_lowercase();
    let total = get(item, &["total"]).or_else(|| get(item, &["amounts", "total"]));
    let money = lenient::money(total)?;
    let minor = (money.amount * 100.0).floor();
    let total_minor = if minor.is_finite() && minor >= 0.0 {
        minor as u64
    } else {
        0
    };
    Some(OrderFacts {
        id,
        status,
        total_minor,
        currency: money
            .currency
            .or_else(|| lenient::currency_code(item.get("currency"))),
        date: unix(item.get("date")).or_else(|| unix(item.get("created_at"))),
        delivered_at: unix(item.get("delivered_at")),
        changed_at: unix(item.get("updated_at")),
    })
}

/// The product reviews by `customer_id` on one listing page (`GET /reviews` → `data[]`).
/// The customer filter is applied here as well, in case Salla ignores the query's; an item
/// naming another customer is skipped, one naming none is kept only when the listing was
/// already filtered by customer (`trust_filter`).
pub fn reviews_from_listing(
    body: &[u8],
    customer_id: &str,
    trust_filter: bool,
) -> Result<Vec<ReviewFacts>, MappingError> {
    Ok(items(body)?
        .iter()
        .filter_map(|item| {
            let id = lenient::id(item.get("id"))?;
            let by = lenient::id(get(item, &["customer", "id"]))
                .or_else(|| lenient::id(item.get("customer_id")));
            match by {
                Some(by) if by != customer_id => return None,
                None if !trust_filter => return None,
                _ => {}
            }
            // Store testimonials and questions earn nothing: a product review names a product.
            let kind = lenient::text(item.get("type"));
            if kind.is_some_and(|k| k != "rating") {
                return None;
            }
            Some(ReviewFacts {
                id,
                product_id: lenient::id(get(item, &["product", "id"]))
                    .or_else(|| lenient::id(item.get("product_id"))),
                date: unix(item.get("created_at")).or_else(|| unix(item.get("date"))),
            })
        })
        .collect())
}
