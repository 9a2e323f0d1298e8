//! The Salla Merchant API, as far as the relay needs it: product details to enrich abandoned
//! carts (Salla's cart webhook carries only product ids).

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
        let resp = self
            .http
            .get(format!("{}/products/{}", self.api_url, product_id))
            .bearer_auth(access_token.expose())
            // Enrichment is a nicety: a slow Salla must not eat the webhook's time budget.
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
            404 => return Ok(None),
            401 | 403 => {
                return Err(AdapterError::Unauthorized {
                    service: Service::Salla,
                    status,
                    code: None,
                });
            }
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
                    detail: "product lookup refused".into(),
                });
            }
        }
        let body: Value = resp.json().await.map_err(|_| AdapterError::BadResponse {
            service: Service::Salla,
            detail: "product body is not JSON".into(),
        })?;
        Ok(Some(parse_product(body.get("data").unwrap_or(&body))))
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
}
