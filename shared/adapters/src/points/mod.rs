//! Loyalty points at the edges: reading one customer's orders and product reviews from Salla's
//! Merchant API with the store's token, and sending what `mapping::points` decides to Klaviyo.
//! Nothing read is stored or logged: the facts live for one evaluation.
//!
//! Salla, as far as confirmed (salla.md §7.3): `GET /orders` takes `customer_id`, `page` and
//! `per_page` (≤ 60) and answers the short form with `status.slug`, `total` and `date`.
//! Assumed, not confirmed: `GET /reviews` takes `customer_id` and `type=rating`; each item is
//! checked against the customer anyway, and a reviews listing Salla refuses (missing scope,
//! unknown route) reads as "no reviews" instead of failing the order's points.

use tokio::time::Instant;

use async_trait::async_trait;
use mapping::KlaviyoRequest;
use mapping::points::{OrderFacts, ReviewFacts};
use serde_json::Value;

use crate::klaviyo::KlaviyoApi;
use crate::salla::merchant::MerchantApi;
use crate::{AdapterError, Secret, Service};

/// Order pages read per customer (60 each): 600 orders, far above nearly every shopper.
pub const MAX_ORDER_PAGES: u32 = 10;
/// Review pages read per customer.
pub const MAX_REVIEW_PAGES: u32 = 3;
const PER_PAGE: u32 = 60;

/// Salla's listings, as a trait so the intake and the worker run against fakes.
#[async_trait]
pub trait PointsSource: Send + Sync {
    /// `GET {path}?{query}`'s 200 body, `None` on 404.
    async fn get_page(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<String>, AdapterError>;
}

#[async_trait]
impl PointsSource for MerchantApi {
    async fn get_page(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<String>, AdapterError> {
        self.get_raw(token, path, query).await.into_result()
    }
}

/// The tier ladder the points multipliers use for `record`'s store: the merchant's tier
/// choice from the page (the segments' ladder), or Preset A at the default margin when none
/// is stored or the stored one no longer validates.
pub fn ladder(record: &crate::keystore::StoreRecord) -> mapping::crm::Ladder {
    record
        .crm
        .as_ref()
        .and_then(|crm| crm.ladder().ok())
        .or_else(|| mapping::crm::preset_a(mapping::crm::DEFAULT_MARGIN_BP).ok())
        .unwrap_or_else(mapping::crm::preset_b)
}

/// One customer's facts at Salla, and what reading them cost.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CustomerFacts {
    pub orders: Vec<OrderFacts>,
    pub reviews: Vec<ReviewFacts>,
    /// Merchant API calls made.
    pub salla_calls: u32,
    /// Whether the reviews could be read (a refused listing counts as none).
    pub reviews_read: bool,
}

/// Names counts only: the facts are a shopper's.
impl std::fmt::Debug for CustomerFacts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomerFacts")
            .field("orders", &self.orders.len())
            .field("reviews", &self.reviews.len())
            .field("salla_calls", &self.salla_calls)
            .field("reviews_read", &self.reviews_read)
            .finish()
    }
}

fn bad(detail: &str) -> AdapterError {
    AdapterError::BadResponse {
        service: Service::Salla,
        detail: detail.to_owned(),
    }
}

/// Salla ids are digits; anything else is not looked up (and never lands in a query).
fn is_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 20 && id.bytes().all(|b| b.is_ascii_digit())
}

/// A listing's `pagination.totalPages` (1 when absent).
pub fn total_pages(body: &str) -> u32 {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            let p = v.get("pagination")?;
            p.get("totalPages")
                .or_else(|| p.get("total_pages"))
                .and_then(|n| n.as_u64().or_else(|| n.as_str()?.parse().ok()))
        })
        .map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// The customer's orders (every status) and product reviews.
pub async fn read_customer(
    source: &dyn PointsSource,
    token: &Secret,
    customer_id: &str,
) -> Result<CustomerFacts, AdapterError> {
    if !is_id(customer_id) {
        return Err(AdapterError::Rejected {
            service: Service::Salla,
            status: 400,
            code: "customer_id".into(),
            detail: "not a Salla customer id".into(),
        });
    }
    let mut facts = CustomerFacts::default();
    let mut page = 1;
    loop {
        let query = [
            ("customer_id", customer_id.to_owned()),
            ("page", page.to_string()),
            ("per_page", PER_PAGE.to_string()),
        ];
        facts.salla_calls += 1;
        let body = source
            .get_page(token, "/orders", &query)
            .await?
            .ok_or_else(|| bad("order list not found"))?;
        let orders = mapping::points::orders_from_listing(body.as_bytes())
            .map_err(|_| bad("order list unreadable"))?;
        facts.orders.extend(orders);
        if page >= total_pages(&body).min(MAX_ORDER_PAGES) {
            break;
        }
        page += 1;
    }
    facts.reviews_read = true;
    for page in 1..=MAX_REVIEW_PAGES {
        let query = [
            ("customer_id", customer_id.to_owned()),
            ("type", "rating".to_owned()),
            ("page", page.to_string()),
            ("per_page", PER_PAGE.to_string()),
        ];
        facts.salla_calls += 1;
        let body = match source.get_page(token, "/reviews", &query).await {
            Ok(Some(body)) => body,
            Err(e) if e.is_transient() => return Err(e),
            Ok(None) | Err(_) => {
                facts.reviews_read = false;
                break;
            }
        };
        let Ok(reviews) = mapping::points::reviews_from_listing(body.as_bytes(), customer_id, true)
        else {
            facts.reviews_read = false;
            break;
        };
        facts.reviews.extend(reviews);
        if page >= total_pages(&body) {
            break;
        }
    }
    Ok(facts)
}

/// The customer of one order, as Salla's order detail holds it (`data.customer`), as JSON
/// text for `mapping::points::customer_profile`; `None` when the order is gone or has none.
pub async fn order_customer(
    source: &dyn PointsSource,
    token: &Secret,
    order_id: &str,
) -> Result<Option<(String, String)>, AdapterError> {
    if !is_id(order_id) {
        return Ok(None);
    }
    let Some(body) = source
        .get_page(token, &format!("/orders/{order_id}"), &[])
        .await?
    else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(&body).map_err(|_| bad("order unreadable"))?;
    let Some(customer) = value.pointer("/data/customer").filter(|c| c.is_object()) else {
        return Ok(None);
    };
    let id = match customer.get("id") {
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.trim().to_owned(),
        _ => return Ok(None),
    };
    Ok(is_id(&id).then(|| (id, customer.to_string())))
}

/// Sends `requests` in order: each event, then the balance. A 409 or 400 over the phone is
/// resent without it, as the live relay does; Klaviyo being unreachable is transient.
/// Returns the Klaviyo calls made.
pub async fn send(
    klaviyo: &dyn KlaviyoApi,
    key: &Secret,
    requests: &[KlaviyoRequest],
    deadline: Instant,
) -> Result<u32, AdapterError> {
    let mut calls = 0;
    for request in requests {
        let body = request.body();
        calls += 1;
        let first = klaviyo
            .call(
                key,
                request.method(),
                &request.path(),
                body.as_ref(),
                deadline,
            )
            .await?;
        if first.is_success() {
            continue;
        }
        if matches!(first.status, 400 | 409)
            && let Some(retry) = request.without_phone()
        {
            calls += 1;
            let body = retry.body();
            klaviyo
                .call(key, retry.method(), &retry.path(), body.as_ref(), deadline)
                .await?
                .into_result()?;
            continue;
        }
        first.into_result()?;
    }
    Ok(calls)
}

#[cfg(test)]
mod tests;
