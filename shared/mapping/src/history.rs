//! History import: objects read from Salla's Merchant API become the requests the live relay
//! sends for the same facts.
//!
//! Each object is wrapped into the delivery Salla would have sent for it and run through the
//! live rules table, so an imported order has byte-identical `unique_id`s and properties to
//! its live events and Klaviyo keeps one of each (README "History import").
//!
//! - an order detail (`GET /orders/{id}` → `data`, the webhook order model) becomes what
//!   `order.created` sends (Placed Order, one Ordered Product per line, the shopper's profile
//!   in each) plus what `order.status.updated` sends for the order's current status
//! - a customer (`GET /customers` item) becomes the profile `customer.*` imports
//! - a product (`GET /products` item) becomes the catalog upsert `product.created` sends

use crate::MappingError;
use crate::klaviyo::{CatalogUpsert, EventRequest, KlaviyoRequest, Profile};
use crate::plan::Action;
use crate::rules;
use crate::salla::enrichment::Enrichment;
use crate::salla::envelope;
use crate::salla::json::{self, Json, JsonValueTrait, Object};
use crate::salla::lenient::{self, get};

/// Whether imported events carry Klaviyo's `backfill: true` (recorded, but no flow fires).
/// The import of a store's past sends `Yes`; a repair pass sends recent events with `No` so
/// the merchant's flows still run for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backfill {
    Yes,
    No,
}

/// The events the live relay sends for one order: `order.created`'s, then the current
/// status's (`order.status.updated` with that status). A draft order yields none, as live.
///
/// `detail` is the `data` object of `GET /orders/{id}`. The detail has no time of its status
/// change, so the status events are timed at the latest time known not to precede it: the
/// order's `updated_at`, else `first_complete_at` (when it first reached completed), else the
/// order date.
pub fn history_order(
    detail: &[u8],
    store_id: &str,
    enrichment: &Enrichment,
    backfill: Backfill,
) -> Result<Vec<EventRequest>, MappingError> {
    let detail = parse_object(detail)?;
    let created = envelope::wrap("order.created", store_id, detail.clone())?;
    let mut out = match rules::plan(&created, enrichment)? {
        Action::Send(requests) => events(requests),
        _ => return Ok(Vec::new()),
    };
    if lenient::text(get(&detail, &["status", "slug"])).is_some() {
        // The shape of an `order.status.updated` entry: the order nested, the change's time
        // beside it; the status itself is read from the order.
        let mut entry = Object::new();
        let at = ["updated_at", "first_complete_at", "date"]
            .iter()
            .find_map(|key| detail.get(*key).filter(|v| !v.is_null()));
        if let Some(at) = at {
            entry.insert("created_at", at.clone());
        }
        entry.insert("order", detail);
        let changed = envelope::wrap("order.status.updated", store_id, entry.into())?;
        if let Action::Send(requests) = rules::plan(&changed, enrichment)? {
            // A paid status re-sends Placed Order (and an unpaid order's creation is already
            // its status event): what the created part sent is not sent twice.
            for event in events(requests) {
                let seen = out
                    .iter()
                    .any(|e| e.metric == event.metric && e.unique_id == event.unique_id);
                if !seen {
                    out.push(event);
                }
            }
        }
    }
    for event in &mut out {
        event.backfill = backfill == Backfill::Yes;
    }
    Ok(out)
}

/// The product ids the live path looks up for this order (`GET /products/{id}`, see
/// [`crate::products_to_enrich`]) before it maps `order.created`: the history import passes
/// the same details in its [`Enrichment`], so the order's `Categories` and `Brands` match.
pub fn history_products_to_enrich(
    detail: &[u8],
    store_id: &str,
) -> Result<Vec<String>, MappingError> {
    let detail = parse_object(detail)?;
    let created = envelope::wrap("order.created", store_id, detail)?;
    Ok(crate::products_to_enrich(&created))
}

/// The profile the live `customer.*` path imports for one `GET /customers` item. Consent is
/// never taken from history: a list item carries no opt-in, and an old opt-in would need its
/// original `consented_at`.
pub fn history_customer(item: &[u8], store_id: &str) -> Result<Profile, MappingError> {
    let env = envelope::wrap("customer.updated", store_id, parse_object(item)?)?;
    let Action::Send(requests) = rules::plan(&env, &Enrichment::default())? else {
        return Err(MappingError::MissingField("data.id"));
    };
    requests
        .into_iter()
        .find_map(|r| match r {
            KlaviyoRequest::ImportProfile(import) => Some(import.profile),
            _ => None,
        })
        .ok_or(MappingError::MissingField("data.id"))
}

/// The catalog upsert the live `product.created` path builds for one `GET /products` item.
pub fn history_product(item: &[u8], store_id: &str) -> Result<CatalogUpsert, MappingError> {
    history_catalog(item, store_id)?
        .into_iter()
        .find_map(|r| match r {
            // Sent alone, the item must not point at categories nobody created.
            KlaviyoRequest::UpsertCatalogItem(item) => Some(CatalogUpsert {
                categories: None,
                ..item
            }),
            _ => None,
        })
        .ok_or(MappingError::MissingField("data.id"))
}

/// Everything `product.created` sends for one `GET /products` item, in order: its catalog
/// categories, the item (pointing at them) and one variant per SKU. Send them in this order.
pub fn history_catalog(item: &[u8], store_id: &str) -> Result<Vec<KlaviyoRequest>, MappingError> {
    let env = envelope::wrap("product.created", store_id, parse_object(item)?)?;
    match rules::plan(&env, &Enrichment::default())? {
        Action::Send(requests) => Ok(requests),
        _ => Err(MappingError::MissingField("data.id")),
    }
}

fn parse_object(bytes: &[u8]) -> Result<Json, MappingError> {
    let value = json::parse(bytes)?;
    if value.is_object() {
        Ok(value)
    } else {
        Err(MappingError::NotObject)
    }
}

/// Order rules produce only events; anything else would not be history.
fn events(requests: Vec<KlaviyoRequest>) -> Vec<EventRequest> {
    requests
        .into_iter()
        .filter_map(|r| match r {
            KlaviyoRequest::CreateEvent(event) => Some(event),
            _ => None,
        })
        .collect()
}
