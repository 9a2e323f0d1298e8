//! An order's status through the Merchant API, read and changed with the store's own token.
//!
//! Confirmed (docs.salla.dev "Update Order Status", mirrored in public copies of the docs):
//! `POST /orders/{order_id}/status` with a JSON body of `slug` (an original Salla status such
//! as `in_progress` or `canceled`) or `status_id` (a custom status), scope
//! `orders.read_write`; 201 `{status, success, data{message, code}}` on success, 401 with the
//! scope message, 404 for an unknown order, 422 naming the missing field. Reading the order is
//! `GET /orders/{order_id}` (scope `orders.read`, included in `orders.read_write`).
//! Assumed: that the update does not itself refuse a transition (we check the current status
//! first), and that a 2xx other than 201 also means success.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use super::merchant::{MerchantApi, auth_code, rejected};
use crate::{AdapterError, Secret, Service};

/// Per-call timeout: a shopper is waiting on the page.
pub const TIMEOUT: Duration = Duration::from_secs(6);

/// What the confirmation page and its event need from an order.
#[derive(Clone, PartialEq, Default)]
pub struct OrderSummary {
    pub id: u64,
    /// The order number the shopper knows (`reference_id`), falling back to the id.
    pub number: String,
    /// The status slug (`status.slug`); empty when Salla sent none.
    pub status: String,
    pub payment_method: String,
    /// `amounts.total`: amount as Salla wrote it, and currency.
    pub total: Option<(String, String)>,
    pub customer: Customer,
}

/// The order's customer, for the Klaviyo profile only: never logged.
#[derive(Clone, PartialEq, Default)]
pub struct Customer {
    pub id: Option<String>,
    pub email: Option<String>,
    /// E.164 (`+966500000000`), by the mapping's rule, so the COD events join the profile the
    /// relay built.
    pub phone: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

impl std::fmt::Debug for OrderSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderSummary")
            .field("id", &self.id)
            .field("status", &self.status)
            .field("payment_method", &self.payment_method)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Customer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Customer(***)")
    }
}

/// Reading and changing an order's status. A trait so the confirmation logic is testable
/// without HTTP.
#[async_trait]
pub trait OrderStatusApi: Send + Sync {
    /// The order, or `None` when Salla does not know it (404).
    async fn get_order(
        &self,
        token: &Secret,
        order_id: u64,
    ) -> Result<Option<OrderSummary>, AdapterError>;

    /// Moves the order to the original status `slug`. 404 is `Rejected` with code
    /// `not_found`.
    async fn set_status(
        &self,
        token: &Secret,
        order_id: u64,
        slug: &str,
    ) -> Result<(), AdapterError>;
}

#[derive(Debug, Clone)]
pub struct OrderStatusClient {
    http: reqwest::Client,
    api_url: String,
    merchant: MerchantApi,
    timeout: Duration,
}

impl OrderStatusClient {
    /// `api_url` is `SALLA_API_URL`.
    pub fn new(api_url: impl Into<String>, timeout: Duration) -> Self {
        let api_url = api_url.into().trim_end_matches('/').to_owned();
        OrderStatusClient {
            http: crate::http::client(),
            merchant: MerchantApi::new(api_url.clone(), timeout),
            api_url,
            timeout,
        }
    }
}

#[async_trait]
impl OrderStatusApi for OrderStatusClient {
    async fn get_order(
        &self,
        token: &Secret,
        order_id: u64,
    ) -> Result<Option<OrderSummary>, AdapterError> {
        let Some(raw) = self
            .merchant
            .get_order(token, order_id)
            .await
            .into_result()?
        else {
            return Ok(None);
        };
        let data: Value = serde_json::from_str(raw.as_str()).map_err(|_| bad("order detail"))?;
        Ok(Some(parse_order(order_id, &data)))
    }

    async fn set_status(
        &self,
        token: &Secret,
        order_id: u64,
        slug: &str,
    ) -> Result<(), AdapterError> {
        let url = format!("{}/orders/{order_id}/status", self.api_url);
        let sent = self
            .http
            .post(url)
            .bearer_auth(token.expose())
            .header("Accept", "application/json")
            .json(&json!({ "slug": slug }))
            .timeout(self.timeout)
            .send()
            .await;
        let resp = sent.map_err(|e| {
            unavailable(if e.is_timeout() {
                "timeout"
            } else {
                "request failed"
            })
        })?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.unwrap_or_default();
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match status {
            200..=299 => Ok(()),
            401 | 403 => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status,
                code: auth_code(&json),
            }),
            404 => Err(AdapterError::Rejected {
                service: Service::Salla,
                status,
                code: "not_found".into(),
                detail: "order not found".into(),
            }),
            429 => Err(unavailable("rate limited (HTTP 429)")),
            500..=599 => Err(unavailable(&format!("HTTP {status}"))),
            _ => Err(rejected(status, &json)),
        }
    }
}

/// The summary of an order detail's `data`. Missing fields stay empty: the page shows what
/// there is, and an empty status is never "awaiting confirmation".
pub fn parse_order(order_id: u64, data: &Value) -> OrderSummary {
    let text = |v: Option<&Value>| -> Option<String> {
        match v? {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let customer = data.get("customer");
    let field = |name: &str| text(customer.and_then(|c| c.get(name)));
    let phone = mapping::e164_phone(
        field("mobile_code").as_deref(),
        field("mobile").as_deref(),
        field("country_code").as_deref(),
    );
    let total = data.pointer("/amounts/total").and_then(|t| {
        Some((
            text(t.get("amount"))?,
            text(t.get("currency")).unwrap_or_default(),
        ))
    });
    OrderSummary {
        id: order_id,
        number: text(data.get("reference_id")).unwrap_or_else(|| order_id.to_string()),
        status: text(data.pointer("/status/slug")).unwrap_or_default(),
        payment_method: text(data.get("payment_method")).unwrap_or_default(),
        total,
        customer: Customer {
            id: field("id"),
            email: field("email").filter(|e| e.contains('@')),
            phone,
            first_name: field("first_name"),
            last_name: field("last_name"),
        },
    }
}

fn bad(what: &str) -> AdapterError {
    AdapterError::BadResponse {
        service: Service::Salla,
        detail: format!("unexpected {what}"),
    }
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::Salla,
        detail: detail.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_order_detail_reads_into_a_summary() {
        let data = json!({
            "id": 5,
            "reference_id": 71234,
            "status": {"id": 566146469, "slug": "under_review", "name": "x"},
            "payment_method": "cod",
            "amounts": {"total": {"amount": 120.5, "currency": "SAR"}},
            "customer": {
                "id": 9, "first_name": "Sara", "last_name": "Ali",
                "email": "s@example.com", "mobile": 500000001, "mobile_code": "+966"
            }
        });
        let s = parse_order(5, &data);
        assert_eq!(s.number, "71234");
        assert_eq!(s.status, "under_review");
        assert_eq!(s.payment_method, "cod");
        assert_eq!(s.total, Some(("120.5".into(), "SAR".into())));
        assert_eq!(s.customer.phone.as_deref(), Some("+966500000001"));
        // The relay's rule: a national trunk zero is dropped, as on every other profile.
        let national = parse_order(
            5,
            &serde_json::json!({"customer": {"mobile": "0500000001", "mobile_code": "+966"}}),
        );
        assert_eq!(national.customer.phone.as_deref(), Some("+966500000001"));
        assert_eq!(s.customer.email.as_deref(), Some("s@example.com"));
        // Nothing personal in Debug.
        let debug = format!("{s:?}");
        assert!(!debug.contains("Sara") && !debug.contains("example") && !debug.contains("5000"));
    }

    #[test]
    fn junk_reads_as_an_empty_summary() {
        for data in [
            json!(null),
            json!([]),
            json!({"status": 3, "customer": "x"}),
        ] {
            let s = parse_order(7, &data);
            assert_eq!(s.number, "7");
            assert_eq!(s.status, "");
            assert_eq!(s.total, None);
            assert_eq!(s.customer, Customer::default());
        }
    }
}
