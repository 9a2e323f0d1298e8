//! The HTTP side: one request per call, the status mapped to [`AdapterError`], and the
//! rate-limit headers of every answer (success or not) handed back in an [`Answer`] so the
//! caller can feed its [`super::Pacer`]. No retries here: the import decides, after pacing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::parse::{self, OrderRef, RawJson, Record};
use super::{DateWindow, Page};
use crate::config::Config;
use crate::{AdapterError, Secret, Service};

/// Per-call timeout: a page of 60 or a detail answers well within it; beyond it the call is
/// `Unavailable` and the import retries from its cursor.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

/// Salla's page-size ceiling (KIT salla-api-core: max 60).
const MAX_PER_PAGE: u32 = 60;

/// The rate-limit state one answer reported. Every field is optional: a proxy or an error
/// page may strip the headers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateInfo {
    /// The HTTP status, 0 when no answer arrived (timeout, connection error).
    pub status: u16,
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    /// `X-RateLimit-Reset` (UTC epoch seconds) as a time: when the window resets.
    pub reset_at: Option<SystemTime>,
    /// `Retry-After` (seconds), sent with 429.
    pub retry_after: Option<Duration>,
}

impl RateInfo {
    fn read(status: u16, headers: &HeaderMap) -> RateInfo {
        let text = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        };
        let count = |name: &str| text(name).and_then(|v| v.parse::<u32>().ok());
        // Salla sends whole seconds; fractions are accepted too (the stub's time-scaled mode
        // sends them so a one-second window is not rounded away).
        let seconds = |name: &str| {
            text(name)
                .and_then(|v| v.parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 1e11)
                .map(Duration::from_secs_f64)
        };
        RateInfo {
            status,
            limit: count("x-ratelimit-limit"),
            remaining: count("x-ratelimit-remaining"),
            reset_at: seconds("x-ratelimit-reset").map(|s| UNIX_EPOCH + s),
            retry_after: seconds("retry-after"),
        }
    }

    /// Whether Salla refused the call for its rate (wait `retry_after`, then try again).
    pub fn rate_limited(&self) -> bool {
        self.status == 429
    }
}

/// The outcome of one call plus the rate state it reported. On 429 the result is
/// `AdapterError::Unavailable` (transient) and `rate.retry_after` carries Salla's wait.
#[derive(Debug)]
pub struct Answer<T> {
    pub result: Result<T, AdapterError>,
    pub rate: RateInfo,
}

impl<T> Answer<T> {
    pub fn into_result(self) -> Result<T, AdapterError> {
        self.result
    }
}

#[derive(Debug, Clone)]
pub struct MerchantApi {
    http: reqwest::Client,
    api_url: String,
    timeout: Duration,
}

impl MerchantApi {
    /// `api_url` is `SALLA_API_URL` (production `https://api.salla.dev/admin/v2`).
    pub fn new(api_url: impl Into<String>, timeout: Duration) -> Self {
        MerchantApi {
            http: crate::http::client(),
            api_url: api_url.into().trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    pub fn from_config(config: &Config) -> Self {
        MerchantApi::new(config.salla_api_url.clone(), DEFAULT_TIMEOUT)
    }

    /// `GET /orders?from_date&to_date&sort_by=id-asc&page&per_page`: the short form, oldest
    /// first inside the window, so orders placed while the import pages land after it.
    pub async fn list_orders(
        &self,
        token: &Secret,
        window: DateWindow,
        page: u32,
        per_page: u32,
    ) -> Answer<Page<OrderRef>> {
        let query = [
            ("from_date", day(window.from)),
            ("to_date", day(window.to)),
            ("sort_by", "id-asc".to_owned()),
            ("page", page.max(1).to_string()),
            ("per_page", per_page.clamp(1, MAX_PER_PAGE).to_string()),
        ];
        self.get(token, "/orders", &query, |body| {
            parse::order_page(body).map(Some)
        })
        .await
        .flatten_missing("order list")
    }

    /// `GET /orders/{id}`: the detail's `data` as raw JSON for the mapping crate; 404 → `None`.
    pub async fn get_order(&self, token: &Secret, order_id: u64) -> Answer<Option<RawJson>> {
        let path = format!("/orders/{order_id}");
        let mut answer = self
            .get(token, &path, &[], |body| parse::detail(body).map(Some))
            .await;
        if answer.rate.status == 404 {
            answer.result = Ok(None);
        }
        answer
    }

    /// `GET /products/{id}`: what the live path's enrichment reads of a product (the same
    /// call and reading as `SallaApi::get_product`, with the rate headers); 404 → `None`.
    pub async fn get_product(
        &self,
        token: &Secret,
        product_id: u64,
    ) -> Answer<Option<crate::salla::api::Product>> {
        let path = format!("/products/{product_id}");
        let mut answer = self
            .get(token, &path, &[], |body| {
                body.get("data")
                    .filter(|d| d.is_object())
                    .map(|d| Some(crate::salla::api::parse_product(d)))
            })
            .await;
        if answer.rate.status == 404 {
            answer.result = Ok(None);
        }
        answer
    }

    /// `GET /customers?page&per_page=60` (its own cap: 500 requests per 10 minutes).
    pub async fn list_customers(&self, token: &Secret, page: u32) -> Answer<Page<Record>> {
        self.list_records(token, "/customers", page).await
    }

    /// `GET /products?page&per_page=60`.
    pub async fn list_products(&self, token: &Secret, page: u32) -> Answer<Page<Record>> {
        self.list_records(token, "/products", page).await
    }

    /// `GET {path}?{query}`: a 200 body as JSON text for the mapping crate to read (the
    /// loyalty points' order and review listings); 404 → `None`.
    pub async fn get_raw(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Answer<Option<String>> {
        self.get(token, path, query, |body| Some(Some(body.to_string())))
            .await
    }

    async fn list_records(&self, token: &Secret, path: &str, page: u32) -> Answer<Page<Record>> {
        let query = [
            ("page", page.max(1).to_string()),
            ("per_page", MAX_PER_PAGE.to_string()),
        ];
        self.get(token, path, &query, |body| {
            parse::record_page(body).map(Some)
        })
        .await
        .flatten_missing(path.trim_start_matches('/'))
    }

    /// One GET. `parse` reads a 200 body; `None` from it is a malformed answer.
    async fn get<T>(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
        parse: impl FnOnce(&Value) -> Option<Option<T>>,
    ) -> Answer<Option<T>> {
        let Ok(mut url) = url::Url::parse(&format!("{}{path}", self.api_url)) else {
            return Answer {
                result: Err(AdapterError::Config("SALLA_API_URL is not a URL".into())),
                rate: RateInfo::default(),
            };
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let sent = self
            .http
            .get(url)
            .bearer_auth(token.expose())
            .header("Accept", "application/json")
            .timeout(self.timeout)
            .send()
            .await;
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Answer {
                    result: Err(unavailable(if e.is_timeout() {
                        "timeout"
                    } else {
                        "request failed"
                    })),
                    rate: RateInfo::default(),
                };
            }
        };
        let status = resp.status().as_u16();
        let rate = RateInfo::read(status, resp.headers());
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                let detail = if e.is_timeout() {
                    "timeout"
                } else {
                    "body interrupted"
                };
                return Answer {
                    result: Err(unavailable(detail)),
                    rate,
                };
            }
        };
        // Error bodies are Salla's envelope; a non-JSON one (a proxy page) reads as `Null`.
        let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let result = match status {
            200 => parse(&json).ok_or_else(|| AdapterError::BadResponse {
                service: Service::Salla,
                detail: format!("unexpected body for {}", route(path)),
            }),
            404 => Ok(None),
            401 | 403 => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status,
                code: auth_code(&json),
            }),
            429 => Err(unavailable(&match rate.retry_after {
                Some(after) => {
                    format!("rate limited (HTTP 429), retry after {} s", after.as_secs())
                }
                None => "rate limited (HTTP 429)".to_owned(),
            })),
            500..=599 => Err(unavailable(&format!("HTTP {status}"))),
            _ => Err(rejected(status, &json)),
        };
        Answer { result, rate }
    }
}

impl<T> Answer<Option<T>> {
    /// For lists, a 404 is not "absent" but a wrong route or a missing feature.
    fn flatten_missing(self, what: &str) -> Answer<T> {
        let status = self.rate.status;
        Answer {
            result: self.result.and_then(|v| {
                v.ok_or_else(|| AdapterError::Rejected {
                    service: Service::Salla,
                    status,
                    code: "not_found".into(),
                    detail: format!("{what} not found"),
                })
            }),
            rate: self.rate,
        }
    }
}

fn day(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The path without ids, for error details (`/orders/{id}`).
fn route(path: &str) -> &str {
    if path.starts_with("/orders/") {
        "/orders/{id}"
    } else {
        path
    }
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::Salla,
        detail: detail.to_owned(),
    }
}

/// Names the missing scope when Salla's message says so (`The access token should have access
/// to one of those scopes: customers.read`): `missing_scope:customers.read`. A reused refresh
/// token answers the bare OAuth `{"error": "invalid_grant"}`; anything else is `None`.
pub(crate) fn auth_code(body: &Value) -> Option<String> {
    if body.get("error").and_then(Value::as_str) == Some("invalid_grant") {
        return Some("invalid_grant".into());
    }
    let message = body.pointer("/error/message").and_then(Value::as_str)?;
    let (_, scopes) = message.split_once("scopes:")?;
    let scopes: Vec<&str> = scopes
        .split([',', ' '])
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        })
        .collect();
    (!scopes.is_empty()).then(|| format!("missing_scope:{}", scopes.join(",")))
}

/// A refused request: Salla's error code and the names (never the values) of invalid fields.
pub(crate) fn rejected(status: u16, body: &Value) -> AdapterError {
    let code = body
        .pointer("/error/code")
        .and_then(Value::as_str)
        .filter(|c| c.len() <= 64)
        .unwrap_or("http")
        .to_owned();
    let fields: Vec<&str> = body
        .pointer("/error/fields")
        .and_then(Value::as_object)
        .map(|f| f.keys().map(String::as_str).take(10).collect())
        .unwrap_or_default();
    AdapterError::Rejected {
        service: Service::Salla,
        status,
        code,
        detail: if fields.is_empty() {
            "request refused".into()
        } else {
            format!("invalid fields: {}", fields.join(", "))
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scope_messages_name_the_scope() {
        let body = json!({"status": 401, "success": false, "error": {"code": "Unauthorized",
            "message": "The access token should have access to one of those scopes: products.read_write"}});
        assert_eq!(
            auth_code(&body).as_deref(),
            Some("missing_scope:products.read_write")
        );
        let two =
            json!({"error": {"message": "… one of those scopes: orders.read, orders.read_write"}});
        assert_eq!(
            auth_code(&two).as_deref(),
            Some("missing_scope:orders.read,orders.read_write")
        );
        assert_eq!(
            auth_code(&json!({"error": {"message": "The access token is invalid"}})),
            None
        );
        assert_eq!(
            auth_code(&json!({"error": "invalid_grant"})).as_deref(),
            Some("invalid_grant")
        );
        assert_eq!(auth_code(&Value::Null), None);
        assert_eq!(
            auth_code(&json!({"error": {"message": "scopes: <script>"}})),
            None
        );
    }

    #[test]
    fn rejections_name_fields_not_values() {
        let body = json!({"status": 422, "success": false, "error": {"code": "error",
            "message": "alert.invalid_fields", "fields": {"per_page": ["must be ≤ 60, got 99"]}}});
        let err = rejected(422, &body);
        let text = err.to_string();
        assert!(text.contains("per_page") && !text.contains("99"), "{text}");
        assert!(
            matches!(err, AdapterError::Rejected { status: 422, ref code, .. } if code == "error")
        );
        assert!(
            matches!(rejected(418, &Value::Null), AdapterError::Rejected { ref code, .. } if code == "http")
        );
    }

    #[test]
    fn rate_headers_are_read_leniently() {
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", "120".parse().unwrap());
        h.insert("x-ratelimit-remaining", " 7 ".parse().unwrap());
        h.insert("x-ratelimit-reset", "1796083260".parse().unwrap());
        h.insert("retry-after", "soon".parse().unwrap());
        let r = RateInfo::read(429, &h);
        let reset = UNIX_EPOCH + Duration::from_secs(1_796_083_260);
        assert_eq!(
            (r.limit, r.remaining, r.reset_at),
            (Some(120), Some(7), Some(reset))
        );
        assert_eq!(r.retry_after, None);
        h.insert("retry-after", "1.5".parse().unwrap());
        h.insert("x-ratelimit-remaining", "-1".parse().unwrap());
        let r = RateInfo::read(429, &h);
        assert_eq!(r.retry_after, Some(Duration::from_millis(1500)));
        assert_eq!(r.remaining, None);
        assert!(r.rate_limited());
        assert_eq!(
            RateInfo::read(200, &HeaderMap::new()),
            RateInfo {
                status: 200,
                ..RateInfo::default()
            }
        );
    }

    #[test]
    fn windows_are_sent_as_days() {
        assert_eq!(day(time::macros::date!(2026 - 01 - 05)), "2026-01-05");
    }
}
