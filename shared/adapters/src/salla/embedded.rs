//! Sign-in from Salla's dashboard: the app page Salla shows as an iframe gets `?token=…`, and
//! the backend asks Salla whose it is (`POST {exchange}/introspect`, header `S-Source: <app
//! id>`, no secret). The request body and answer are the ones Salla's embedded SDK sends and
//! reads (`@salla.sa/embedded-sdk` `auth.introspect`, and SallaApp/embedded-sdk-playground):
//! `{"token","iss":"merchant-dashboard","subject":"embedded-page","env":"prod"}` →
//! `{"data":{"merchant_id":<number>,"user_id":<number>,"exp":"<ISO 8601>"}}`. The app id in
//! `S-Source` is the token's audience: a token Salla issued for another app does not verify.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};

use crate::{AdapterError, Service};

/// Longest embedded token accepted before asking Salla (they are a few hundred bytes).
pub const MAX_TOKEN_LEN: usize = 4096;

/// Whose dashboard the token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddedIdentity {
    /// The store (merchant) id, as the webhooks' `merchant` carries it.
    pub store_id: String,
    /// The dashboard user, for the log line only.
    pub user_id: Option<String>,
    /// When Salla says the token stops being valid, unix seconds.
    pub expires_at: i64,
}

/// Why a token did not sign anyone in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmbeddedTokenError {
    #[error("not a token")]
    Malformed,
    #[error("Salla did not verify the token")]
    Refused,
    #[error("the token has expired")]
    Expired,
    #[error("Salla's answer names no store")]
    NoStore,
}

/// Salla's token check. A trait so the page's sign-in is testable without HTTP.
#[async_trait]
pub trait EmbeddedTokens: Send + Sync {
    /// `Ok(Err(_))` when the token is not valid; `Err(_)` when Salla could not say.
    async fn introspect(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Result<EmbeddedIdentity, EmbeddedTokenError>, AdapterError>;
}

/// Whether `token` can be an embedded token at all: checked before any call, so a flood of
/// junk costs Salla nothing and us no outbound request.
pub fn is_token_shape(token: &str) -> bool {
    !token.is_empty() && token.len() <= MAX_TOKEN_LEN && token.bytes().all(|b| b.is_ascii_graphic())
}

pub struct SallaEmbedded {
    http: reqwest::Client,
    url: String,
    app_id: String,
}

impl SallaEmbedded {
    /// `exchange_url` is the exchange-authority base (`…/exchange-authority/v1`).
    pub fn new(exchange_url: &str, app_id: impl Into<String>) -> Self {
        Self {
            http: crate::http::client(),
            url: format!("{}/introspect", exchange_url.trim_end_matches('/')),
            app_id: app_id.into(),
        }
    }
}

#[async_trait]
impl EmbeddedTokens for SallaEmbedded {
    async fn introspect(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Result<EmbeddedIdentity, EmbeddedTokenError>, AdapterError> {
        if !is_token_shape(token) {
            return Ok(Err(EmbeddedTokenError::Malformed));
        }
        let unavailable = |detail: String| AdapterError::Unavailable {
            service: Service::Salla,
            detail,
        };
        let resp = self
            .http
            .post(&self.url)
            .header("S-Source", &self.app_id)
            .header("Accept", "application/json")
            .json(&json!({
                "env": "prod",
                "token": token,
                "iss": "merchant-dashboard",
                "subject": "embedded-page",
            }))
            // A page load waits on this; Salla's answer is a lookup.
            .timeout(Duration::from_secs(4))
            .send()
            .await
            .map_err(|e| {
                unavailable(
                    if e.is_timeout() {
                        "timeout"
                    } else {
                        "request failed"
                    }
                    .into(),
                )
            })?;
        let status = resp.status().as_u16();
        match status {
            200 => {}
            // Salla answers 401 ("Decryption failed") for tokens it did not issue to this app;
            // 400/403/404/422 are read the same way: the token signs nobody in.
            400..=499 if status != 408 && status != 429 => {
                return Ok(Err(EmbeddedTokenError::Refused));
            }
            _ => return Err(unavailable(format!("HTTP {status}"))),
        }
        let body: Value = resp.json().await.map_err(|_| AdapterError::BadResponse {
            service: Service::Salla,
            detail: "introspection body is not JSON".into(),
        })?;
        Ok(parse_introspection(&body, now))
    }
}

/// Reads Salla's answer: the store must be named and the token not yet expired. `success`
/// false (or a missing `exp`) is a refusal, never a sign-in.
pub fn parse_introspection(body: &Value, now: i64) -> Result<EmbeddedIdentity, EmbeddedTokenError> {
    if body.get("success").and_then(Value::as_bool) == Some(false) {
        return Err(EmbeddedTokenError::Refused);
    }
    let data = body.get("data").ok_or(EmbeddedTokenError::Refused)?;
    let id = |v: Option<&Value>| match v {
        Some(Value::Number(n)) if n.is_u64() => Some(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            Some(s.clone())
        }
        _ => None,
    };
    let store_id = id(data.get("merchant_id"))
        .filter(|s| s.len() <= crate::keystore::MAX_STORE_ID_LEN)
        .ok_or(EmbeddedTokenError::NoStore)?;
    let expires_at = data
        .get("exp")
        .and_then(expiry)
        .ok_or(EmbeddedTokenError::Refused)?;
    if expires_at <= now {
        return Err(EmbeddedTokenError::Expired);
    }
    Ok(EmbeddedIdentity {
        store_id,
        user_id: id(data.get("user_id")),
        expires_at,
    })
}

/// `exp` is an ISO 8601 string in the SDK's typings; a unix number is accepted too.
fn expiry(v: &Value) -> Option<i64> {
    match v {
        Value::String(s) => {
            time::OffsetDateTime::parse(s.trim(), &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| t.unix_timestamp())
        }
        Value::Number(n) => n.as_i64(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_768_824_000; // 2026-01-19T12:00:00Z

    #[test]
    fn a_verified_token_names_its_store_until_it_expires() {
        let body = json!({"status":200,"success":true,
            "data":{"merchant_id":123456,"user_id":987654,"exp":"2026-01-19T12:05:00Z"}});
        assert_eq!(
            parse_introspection(&body, NOW),
            Ok(EmbeddedIdentity {
                store_id: "123456".into(),
                user_id: Some("987654".into()),
                expires_at: NOW + 300,
            })
        );
        assert_eq!(
            parse_introspection(&body, NOW + 300),
            Err(EmbeddedTokenError::Expired)
        );
        let string_id = json!({"data":{"merchant_id":"123456","exp":"2026-01-19T12:05:00+00:00"}});
        assert_eq!(
            parse_introspection(&string_id, NOW).unwrap().store_id,
            "123456"
        );
    }

    #[test]
    fn anything_short_of_a_clear_answer_signs_nobody_in() {
        let cases = [
            (
                json!({"status":401,"success":false,"error":{"message":"Decryption failed","code":0}}),
                EmbeddedTokenError::Refused,
            ),
            (
                json!({"success":false,"data":{"merchant_id":1,"exp":"2030-01-01T00:00:00Z"}}),
                EmbeddedTokenError::Refused,
            ),
            (
                json!({"data":{"merchant_id":1}}),
                EmbeddedTokenError::Refused,
            ),
            (
                json!({"data":{"merchant_id":1,"exp":"tomorrow"}}),
                EmbeddedTokenError::Refused,
            ),
            (
                json!({"data":{"exp":"2030-01-01T00:00:00Z"}}),
                EmbeddedTokenError::NoStore,
            ),
            (
                json!({"data":{"merchant_id":-4,"exp":"2030-01-01T00:00:00Z"}}),
                EmbeddedTokenError::NoStore,
            ),
            (
                json!({"data":{"merchant_id":"1/../2","exp":"2030-01-01T00:00:00Z"}}),
                EmbeddedTokenError::NoStore,
            ),
            (
                json!({"data":{"merchant_id":1.5,"exp":"2030-01-01T00:00:00Z"}}),
                EmbeddedTokenError::NoStore,
            ),
            (json!([]), EmbeddedTokenError::Refused),
        ];
        for (body, want) in cases {
            assert_eq!(parse_introspection(&body, NOW), Err(want), "{body}");
        }
    }

    #[test]
    fn junk_is_refused_before_any_call() {
        assert!(is_token_shape("em_tok_abc.DEF-123"));
        for bad in ["", "a b", "tok\n", "تو", &"x".repeat(MAX_TOKEN_LEN + 1)] {
            assert!(!is_token_shape(bad), "{bad:?}");
        }
    }
}
