//! Salla's OAuth endpoints on the accounts host: code exchange (Custom Mode callback), token
//! refresh (single-use refresh tokens: callers must serialise refreshes per store), and the
//! user-info call that tells us which store a token belongs to.

use std::time::Duration;

use serde_json::Value;

use super::refresh::RefreshError;
use crate::keystore::SallaTokens;
use crate::{AdapterError, Secret, Service};

/// A merchant is waiting on a redirect; better a clear "try again" page than a hang.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone)]
pub struct SallaOAuth {
    http: reqwest::Client,
    accounts_url: String,
    client_id: String,
    client_secret: Secret,
}

impl SallaOAuth {
    /// `accounts_url` is e.g. `https://accounts.salla.sa` (no trailing `/oauth2`).
    pub fn new(
        accounts_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Self {
        let http = crate::http::client();
        Self {
            http,
            accounts_url: accounts_url.into().trim_end_matches('/').to_string(),
            client_id: client_id.into(),
            client_secret,
        }
    }

    /// Exchanges an authorization code (single-use) for tokens. A reused or unknown code is
    /// [`AdapterError::Rejected`] with code `invalid_grant`.
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
    ) -> Result<SallaTokens, AdapterError> {
        self.token_request(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
        ])
        .await
    }

    /// Trades a refresh token for a new access AND refresh token (the old one is dead
    /// afterwards), cut off after `timeout`, its failure told apart by whether Salla may
    /// have used the token (see [`RefreshError`]); callers go through
    /// [`super::refresh::TokenRefresh`].
    pub async fn refresh_within(
        &self,
        refresh_token: &Secret,
        timeout: Duration,
    ) -> Result<SallaTokens, RefreshError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token.expose()),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose()),
        ];
        let sent = self
            .http
            .post(format!("{}/oauth2/token", self.accounts_url))
            .timeout(timeout)
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await;
        let resp = match sent {
            Ok(resp) => resp,
            // Never connected: Salla cannot have seen the token.
            Err(e) if e.is_connect() => return Err(RefreshError::NotSpent(network_error(e))),
            Err(e) => return Err(RefreshError::Unclear(network_error(e))),
        };
        let status = resp.status().as_u16();
        let body = resp
            .bytes()
            .await
            .map_err(|e| RefreshError::Unclear(network_error(e)))?;
        if (200..300).contains(&status) {
            return parse_token_response(&body, crate::clock::now_unix())
                .map_err(RefreshError::Unclear);
        }
        let e = status_error(status, &body, "token request refused");
        Err(match (status, &e) {
            // Rate limited, or our client credentials refused: the token was not looked at.
            (429, _) | (_, AdapterError::Unauthorized { .. }) => RefreshError::NotSpent(e),
            (500..=599, _) => RefreshError::Unclear(e),
            _ => RefreshError::Rejected(e),
        })
    }

    /// The merchant (store) the access token belongs to: its id, name and domain.
    pub async fn user_info(&self, access_token: &Secret) -> Result<MerchantInfo, AdapterError> {
        let resp = self
            .http
            .get(format!("{}/oauth2/user/info", self.accounts_url))
            .timeout(REQUEST_TIMEOUT)
            .bearer_auth(access_token.expose())
            .header("Accept", "application/json")
            .send()
            .await
            .map_err(network_error)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(network_error)?;
        match status {
            200..=299 => parse_user_info(&body),
            401 | 403 => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status,
                code: error_code(&body),
            }),
            _ => Err(status_error(status, &body, "user info refused")),
        }
    }

    async fn token_request(&self, params: &[(&str, &str)]) -> Result<SallaTokens, AdapterError> {
        let mut form: Vec<(&str, &str)> = params.to_vec();
        form.push(("client_id", &self.client_id));
        form.push(("client_secret", self.client_secret.expose()));
        let resp = self
            .http
            .post(format!("{}/oauth2/token", self.accounts_url))
            .timeout(REQUEST_TIMEOUT)
            .header("Accept", "application/json")
            .form(&form)
            .send()
            .await
            .map_err(network_error)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(network_error)?;
        if (200..300).contains(&status) {
            return parse_token_response(&body, crate::clock::now_unix());
        }
        Err(status_error(status, &body, "token request refused"))
    }
}

/// Tokens from a token-endpoint (or `app.store.authorize`) body, with the expiry made absolute.
pub fn parse_token_response(body: &[u8], now: i64) -> Result<SallaTokens, AdapterError> {
    let bad = |detail: &str| AdapterError::BadResponse {
        service: Service::Salla,
        detail: detail.to_string(),
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("token body is not JSON"))?;
    // Some Salla answers wrap the payload in `data`; the token endpoint does not.
    let v = v.get("data").filter(|d| d.is_object()).unwrap_or(&v);
    let text = |name: &str| {
        v.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let access_token = text("access_token").ok_or_else(|| bad("token body has no access_token"))?;
    let refresh_token = text("refresh_token").unwrap_or_default();
    let expires = v
        .get("expires_in")
        .or_else(|| v.get("expires"))
        .and_then(number);
    Ok(SallaTokens {
        access_token: Secret::new(access_token),
        refresh_token: Secret::new(refresh_token),
        expires_at: SallaTokens::expiry_from(expires, now),
        scope: text("scope"),
        refresh_lease_until: None,
        refresh_blocked_at: None,
    })
}

/// The store a user-info body names. The name and domain are for the merchant to recognise
/// their store on the onboarding page; they are optional (the id is what matters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MerchantInfo {
    pub id: String,
    pub name: Option<String>,
    /// As Salla gives it, e.g. `https://salla.sa/my-store` or the store's own domain.
    pub domain: Option<String>,
}

/// The merchant's id ([`parse_merchant_id`]), name and domain from a user-info body.
pub fn parse_user_info(body: &[u8]) -> Result<MerchantInfo, AdapterError> {
    let id = parse_merchant_id(body)?;
    let v: Value = serde_json::from_slice(body).unwrap_or_default();
    let merchant = v
        .pointer("/data/merchant")
        .or_else(|| v.pointer("/merchant"));
    let text = |name: &str| {
        merchant
            .and_then(|m| m.get(name))
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    Ok(MerchantInfo {
        id,
        name: text("name"),
        domain: text("domain"),
    })
}

/// The merchant id from a user-info body: `data.merchant.id` (documented envelope) or bare
/// `merchant.id` (what some apps report), as a number or a string.
pub fn parse_merchant_id(body: &[u8]) -> Result<String, AdapterError> {
    let bad = |detail: &str| AdapterError::BadResponse {
        service: Service::Salla,
        detail: detail.to_string(),
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("user info is not JSON"))?;
    let id = v
        .pointer("/data/merchant/id")
        .or_else(|| v.pointer("/merchant/id"))
        .ok_or_else(|| bad("user info has no merchant id"))?;
    let id = match id {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_string(),
        _ => return Err(bad("merchant id is neither a number nor a string")),
    };
    if id.is_empty()
        || id.len() > crate::keystore::MAX_STORE_ID_LEN
        || !id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(bad("merchant id has an unexpected form"));
    }
    Ok(id)
}

fn number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// Salla's OAuth error code: bare `{"error":"invalid_grant"}` or the API envelope
/// `{"error":{"code":…}}`. Only short identifier-like codes are kept: never a message that
/// might quote our request.
fn error_code(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let code = match v.get("error")? {
        Value::String(s) => s.clone(),
        Value::Object(o) => match o.get("code")? {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return None,
        },
        _ => return None,
    };
    (!code.is_empty()
        && code.len() <= 64
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
    .then_some(code)
}

fn status_error(status: u16, body: &[u8], what: &str) -> AdapterError {
    let code = error_code(body);
    match status {
        429 | 500..=599 => AdapterError::Unavailable {
            service: Service::Salla,
            detail: format!("HTTP {status}"),
        },
        // A wrong client id/secret is our configuration, not the merchant's code.
        401 if code.as_deref() != Some("invalid_grant") => AdapterError::Unauthorized {
            service: Service::Salla,
            status,
            code,
        },
        _ if code.as_deref() == Some("invalid_client") => AdapterError::Unauthorized {
            service: Service::Salla,
            status,
            code,
        },
        _ => AdapterError::Rejected {
            service: Service::Salla,
            status,
            code: code.unwrap_or_else(|| "http".into()),
            detail: what.to_string(),
        },
    }
}

fn network_error(e: reqwest::Error) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::Salla,
        detail: if e.is_timeout() {
            "timeout"
        } else {
            "request failed"
        }
        .into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn sample(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/../../tests/fixtures/salla-samples/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn token_response_sample_has_a_lifetime() {
        let t = parse_token_response(&sample("oauth2.token.response.json"), NOW).unwrap();
        assert!(t.access_token.expose().starts_with("ory_at_"));
        assert!(t.refresh_token.expose().starts_with("ory_rt_"));
        assert_eq!(t.expires_at, NOW + 1_209_599);
        assert!(t.scope.unwrap().contains("offline_access"));
    }

    #[test]
    fn expires_in_and_absolute_expiry() {
        let t = parse_token_response(
            br#"{"access_token":"a","refresh_token":"r","expires_in":"3600"}"#,
            NOW,
        )
        .unwrap();
        assert_eq!(t.expires_at, NOW + 3600);
        // The authorize event's `data`, with an absolute timestamp.
        let t = parse_token_response(&sample("app.store.authorize.json"), NOW).unwrap();
        assert_eq!(t.expires_at, 1_634_819_484);
        let t = parse_token_response(br#"{"access_token":"a"}"#, NOW).unwrap();
        assert_eq!(t.expires_at, NOW + SallaTokens::DEFAULT_LIFETIME_SECS);
        assert!(parse_token_response(br#"{"refresh_token":"r"}"#, NOW).is_err());
        assert!(parse_token_response(b"<html>", NOW).is_err());
    }

    #[test]
    fn merchant_id_in_both_shapes() {
        assert_eq!(
            parse_merchant_id(&sample("oauth2.user.info.data-member.json")).unwrap(),
            "1803665367"
        );
        assert_eq!(
            parse_merchant_id(
                br#"{"status":200,"success":true,"data":{"id":1,"merchant":{"id":"42"}}}"#
            )
            .unwrap(),
            "42"
        );
        assert!(parse_merchant_id(br#"{"data":{"id":1}}"#).is_err());
        assert!(parse_merchant_id(br#"{"merchant":{"id":"../x"}}"#).is_err());
        assert!(parse_merchant_id(br#"{"merchant":{"id":null}}"#).is_err());
    }

    #[test]
    fn user_info_names_the_store() {
        let info = parse_user_info(&sample("oauth2.user.info.data-member.json")).unwrap();
        assert_eq!(info.id, "1803665367");
        assert_eq!(info.name.as_deref(), Some("dev-j8gtzhp59w3irgsw"));
        assert_eq!(
            info.domain.as_deref(),
            Some("https://salla.sa/YOUR-DOMAIN-NAME")
        );
        let wrapped =
            parse_user_info(br#"{"data":{"merchant":{"id":7,"name":" \u0645 ","domain":5}}}"#)
                .unwrap();
        assert_eq!(
            wrapped,
            MerchantInfo {
                id: "7".into(),
                name: Some("\u{645}".into()),
                domain: None
            }
        );
    }

    #[test]
    fn errors_map_to_adapter_errors() {
        let reused = status_error(400, br#"{"error":"invalid_grant"}"#, "x");
        assert!(
            matches!(reused, AdapterError::Rejected { ref code, .. } if code == "invalid_grant")
        );
        let client = status_error(
            401,
            br#"{"error":"invalid_client","error_description":"bad"}"#,
            "x",
        );
        assert!(matches!(
            client,
            AdapterError::Unauthorized { status: 401, .. }
        ));
        assert!(status_error(503, b"", "x").is_transient());
        assert!(status_error(429, b"", "x").is_transient());
        let enveloped = status_error(
            422,
            br#"{"success":false,"error":{"code":"validation"}}"#,
            "x",
        );
        assert!(
            matches!(enveloped, AdapterError::Rejected { ref code, .. } if code == "validation")
        );
        // A message-like code is dropped rather than echoed.
        assert_eq!(error_code(br#"{"error":"code abc@x.y was used"}"#), None);
    }
}
