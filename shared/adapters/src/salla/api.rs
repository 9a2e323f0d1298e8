//! The Salla Merchant API, as far as the relay needs it: product details to enrich abandoned
//! carts (Salla's cart webhook carries only product ids), and the app settings as Salla holds
//! them, to confirm a Klaviyo key that arrives in a settings webhook.

use std::time::Duration;

use serde_json::Value;

use crate::{AdapterError, Secret, Service};

/// What a cart line needs to render in a Klaviyo email.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Product {
    pub name: Option<String>,
    pub sku: Option<String>,
    pub price: Option<f64>,
    pub currency: Option<String>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    /// Category names, for the order's `Categories`.
    pub categories: Vec<String>,
    pub brand: Option<String>,
}

/// What the mapping uses of a product (the live enrichment and the history import alike).
impl From<Product> for mapping::ProductDetails {
    fn from(p: Product) -> Self {
        mapping::ProductDetails {
            name: p.name,
            sku: p.sku,
            price: p.price,
            url: p.url,
            image_url: p.image_url,
            categories: p.categories,
            brand: p.brand,
        }
    }
}

/// What Salla holds in a store's app settings compared with a key a webhook carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppSettingCheck {
    /// The store's settings hold exactly this value.
    Matches,
    /// They hold another value, or none.
    Differs,
    /// Salla answers 403/404: the app is not installed or not active on the store, or the
    /// token lacks the scope.
    AppNotActive,
}

/// The public settings field the storefront snippet reads the Klaviyo public key (site id)
/// from (`salla.config.get("app.klaviyo_public_key")`); filled by us, never typed.
pub const PUBLIC_KEY_SETTING: &str = "klaviyo_public_key";

/// What [`SallaApi::write_app_settings`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SettingsWrite {
    Written,
    /// Salla already held these values.
    Unchanged,
    /// Salla answers 403/404: the app is not active on the store, or the token lacks the scope.
    AppNotActive,
    /// The answer had no `settings` object to write back.
    Unreadable,
}

#[derive(Debug, Clone)]
pub struct SallaApi {
    http: reqwest::Client,
    api_url: String,
}

impl SallaApi {
    pub fn new(api_url: impl Into<String>) -> Self {
        let http = crate::http::client();
        Self {
            http,
            api_url: api_url.into().trim_end_matches('/').to_string(),
        }
    }

    /// `GET /products/{id}`. 401 → Unauthorized (token expired or revoked), 404 → Ok(None).
    pub async fn get_product(
        &self,
        access_token: &Secret,
        product_id: &str,
    ) -> Result<Option<Product>, AdapterError> {
        if product_id.is_empty() || !product_id.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Ok(None);
        }
        let path = format!("/products/{product_id}");
        match self.get_json(access_token, &path, "product lookup").await? {
            Fetched::Body(body) => Ok(Some(parse_product(body.get("data").unwrap_or(&body)))),
            Fetched::NotFound => Ok(None),
            Fetched::Forbidden(status) => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status,
                code: None,
            }),
        }
    }

    /// `GET /orders/{id}`: the order's `data` object as JSON text (for the mapping, which
    /// reads it like a webhook's), `None` when Salla has no such order.
    pub async fn get_order(
        &self,
        access_token: &Secret,
        order_id: &str,
    ) -> Result<Option<String>, AdapterError> {
        if order_id.is_empty() || !order_id.chars().all(|c| c.is_ascii_digit()) {
            return Ok(None);
        }
        let path = format!("/orders/{order_id}");
        match self.get_json(access_token, &path, "order lookup").await? {
            Fetched::Body(body) => Ok(body
                .get("data")
                .filter(|d| d.is_object())
                .map(Value::to_string)),
            Fetched::NotFound => Ok(None),
            Fetched::Forbidden(status) => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status,
                code: None,
            }),
        }
    }

    /// `GET /apps/{app_id}/settings` with the store's own token, comparing `field` with
    /// `expected` in constant time. Response `{"data":{"app_id","app_slug","settings":{…}}}`
    /// (Salla's "App Setting Details"; as documented in SallaApp/salla-partners-agent-kit,
    /// not yet seen from a live store, so a missing `settings` object reads as "differs").
    pub async fn check_app_setting(
        &self,
        access_token: &Secret,
        app_id: &str,
        field: &str,
        expected: &Secret,
    ) -> Result<AppSettingCheck, AdapterError> {
        if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AdapterError::Config(
                "the Salla app id must be numeric".into(),
            ));
        }
        let path = format!("/apps/{app_id}/settings");
        match self
            .get_json(access_token, &path, "app settings lookup")
            .await?
        {
            Fetched::Body(body) => Ok(compare_setting(&body, field, expected)),
            // Salla's NotFoundResponse: not installed, inactive, or the token lacks the scope.
            Fetched::NotFound | Fetched::Forbidden(403) => Ok(AppSettingCheck::AppNotActive),
            Fetched::Forbidden(status) => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status,
                code: None,
            }),
        }
    }

    /// Sets `changes` in the store's app settings when they differ from what Salla holds:
    /// `GET /apps/{app_id}/settings`, then `POST` of the whole settings object with the
    /// changes applied (Salla's update replaces every key, so the others are sent back as they
    /// are: SallaApp/salla-partners-agent-kit, `salla-app-settings/references/api-spec.md`).
    /// Nothing is written when the values already match, which also ends the
    /// `app.settings.updated` round a write may trigger. A body without a `settings` object is
    /// never written over: a partial write would erase the merchant's other settings.
    pub async fn write_app_settings(
        &self,
        access_token: &Secret,
        app_id: &str,
        changes: &[(&str, Value)],
    ) -> Result<SettingsWrite, AdapterError> {
        if app_id.is_empty() || !app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AdapterError::Config(
                "the Salla app id must be numeric".into(),
            ));
        }
        let path = format!("/apps/{app_id}/settings");
        let body = match self
            .get_json(access_token, &path, "app settings lookup")
            .await?
        {
            Fetched::Body(body) => body,
            Fetched::NotFound | Fetched::Forbidden(403) => return Ok(SettingsWrite::AppNotActive),
            Fetched::Forbidden(status) => {
                return Err(AdapterError::Unauthorized {
                    service: Service::Salla,
                    status,
                    code: None,
                });
            }
        };
        let Some(mut settings) = body
            .pointer("/data/settings")
            .and_then(Value::as_object)
            .cloned()
        else {
            return Ok(SettingsWrite::Unreadable);
        };
        let differs = changes
            .iter()
            .any(|(field, value)| settings.get(*field) != Some(value));
        if !differs {
            return Ok(SettingsWrite::Unchanged);
        }
        for (field, value) in changes {
            settings.insert((*field).to_owned(), value.clone());
        }
        let resp = self
            .http
            .post(format!("{}{path}", self.api_url))
            .bearer_auth(access_token.expose())
            .timeout(Duration::from_secs(4))
            .header("Accept", "application/json")
            .json(&settings)
            .send()
            .await
            .map_err(|_| AdapterError::Unavailable {
                service: Service::Salla,
                detail: "settings update failed".into(),
            })?;
        match resp.status().as_u16() {
            200..=299 => Ok(SettingsWrite::Written),
            429 | 500..=599 => Err(AdapterError::Unavailable {
                service: Service::Salla,
                detail: format!("HTTP {}", resp.status().as_u16()),
            }),
            status => Err(AdapterError::Rejected {
                service: Service::Salla,
                status,
                code: "settings_update_refused".into(),
                detail: "Salla refused the app settings update".into(),
            }),
        }
    }

    /// One short `GET` with the store's token: a page load or a webhook waits on it, so a
    /// slow Salla must not eat the time budget. 429 and 5xx are transient; other refusals
    /// than 401/403/404 are `Rejected` under `what`.
    async fn get_json(
        &self,
        access_token: &Secret,
        path: &str,
        what: &str,
    ) -> Result<Fetched, AdapterError> {
        let resp = self
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(access_token.expose())
            .timeout(Duration::from_secs(4))
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(|e| AdapterError::Unavailable {
                service: Service::Salla,
                detail: if e.is_timeout() {
                    "timeout"
                } else {
                    "request failed"
                }
                .into(),
            })?;
        let status = resp.status().as_u16();
        match status {
            200 => {}
            404 => return Ok(Fetched::NotFound),
            401 | 403 => return Ok(Fetched::Forbidden(status)),
            429 | 500..=599 => {
                return Err(AdapterError::Unavailable {
                    service: Service::Salla,
                    detail: format!("HTTP {status}"),
                });
            }
            _ => {
                return Err(AdapterError::Rejected {
                    service: Service::Salla,
                    status,
                    code: "http".into(),
                    detail: format!("{what} refused"),
                });
            }
        }
        resp.json()
            .await
            .map(Fetched::Body)
            .map_err(|_| AdapterError::BadResponse {
                service: Service::Salla,
                detail: format!("{what}: body is not JSON"),
            })
    }
}

/// What a Merchant API read found.
enum Fetched {
    Body(Value),
    NotFound,
    /// 401 or 403.
    Forbidden(u16),
}

/// The settings value Salla holds for `field`, trimmed as the webhook's is, against `expected`.
pub fn compare_setting(body: &Value, field: &str, expected: &Secret) -> AppSettingCheck {
    use subtle::ConstantTimeEq;
    let held = body
        .pointer("/data/settings")
        .and_then(|s| s.get(field))
        .and_then(Value::as_str)
        .map(str::trim);
    match held {
        Some(held) if bool::from(held.as_bytes().ct_eq(expected.expose().as_bytes())) => {
            AppSettingCheck::Matches
        }
        _ => AppSettingCheck::Differs,
    }
}

/// Lenient: Salla sends prices as `{amount, currency}` objects or bare numbers.
pub fn parse_product(p: &Value) -> Product {
    let text = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let price_value = p
        .get("sale_price")
        .filter(|v| amount(v).is_some_and(|a| a > 0.0))
        .or_else(|| p.get("price"));
    Product {
        name: text(p.get("name")),
        sku: text(p.get("sku")),
        price: price_value.and_then(amount),
        currency: price_value
            .and_then(|v| v.get("currency"))
            .and_then(Value::as_str)
            .map(str::to_string),
        url: text(p.get("url")).or_else(|| text(p.pointer("/urls/customer"))),
        image_url: text(p.pointer("/main_image"))
            .or_else(|| text(p.pointer("/thumbnail")))
            .or_else(|| text(p.pointer("/images/0/url"))),
        // `categories: [{id, name}]` and `brand: {id, name}` in Salla's product details;
        // plain strings are read too.
        categories: p
            .get("categories")
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|c| text(c.get("name")).or_else(|| text(Some(c))))
                    .take(20)
                    .collect()
            })
            .unwrap_or_default(),
        brand: text(p.pointer("/brand/name")).or_else(|| text(p.get("brand"))),
    }
}

fn amount(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Object(o) => o.get("amount").and_then(amount),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_shapes() {
        let p = serde_json::json!({"name":"عطر","sku":"S1","price":{"amount":100,"currency":"SAR"},
            "sale_price":{"amount":0,"currency":"SAR"},"urls":{"customer":"https://s/p"},"main_image":"https://i/1.jpg"});
        let got = parse_product(&p);
        assert_eq!(got.name.as_deref(), Some("عطر"));
        assert_eq!(got.price, Some(100.0));
        assert_eq!(got.currency.as_deref(), Some("SAR"));
        assert_eq!(got.url.as_deref(), Some("https://s/p"));
        assert_eq!(got.image_url.as_deref(), Some("https://i/1.jpg"));
        let sale = serde_json::json!({"price":"120.5","sale_price":{"amount":99}});
        assert_eq!(parse_product(&sale).price, Some(99.0));
        assert_eq!(parse_product(&serde_json::json!([])), Product::default());
    }

    #[test]
    fn a_setting_matches_only_the_exact_value_salla_holds() {
        let key = Secret::new("pk_abc");
        let body = |settings: Value| {
            serde_json::json!({"status":200,"success":true,
            "data":{"app_id":"513499943","app_slug":"klaviyo","settings":settings}})
        };
        let check = |b: &Value| compare_setting(b, "klaviyo_private_key", &key);
        assert_eq!(
            check(&body(serde_json::json!({"klaviyo_private_key":" pk_abc "}))),
            AppSettingCheck::Matches
        );
        for other in [
            body(serde_json::json!({"klaviyo_private_key":"pk_abd"})),
            body(serde_json::json!({"klaviyo_private_key":"pk_ab"})),
            body(serde_json::json!({"klaviyo_private_key":null})),
            body(serde_json::json!({"other":"pk_abc"})),
            body(serde_json::json!("pk_abc")),
            serde_json::json!({"data":{}}),
            serde_json::json!([]),
        ] {
            assert_eq!(check(&other), AppSettingCheck::Differs, "{other}");
        }
    }
}
