use std::time::Duration;

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

use super::errors::{self, KlaviyoError};
use super::retry::{RetryPolicy, parse_retry_after};
use super::{JSON_API, REVISION, USER_AGENT};
use crate::{AdapterError, Secret, Service};

/// The account a private key belongs to (`GET /api/accounts`), shown on the onboarding page.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountInfo {
    pub id: String,
    pub name: Option<String>,
    pub preferred_currency: Option<String>,
}

/// A final answer from Klaviyo that retrying will not change: a 2xx or a 4xx other than 429.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub status: u16,
    pub attempts: u32,
    /// Klaviyo's error code/detail for a 4xx, log-safe.
    pub error: Option<KlaviyoError>,
}

impl Delivery {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// Turns a 4xx into the adapter error the handlers map to HTTP statuses.
    pub fn into_result(self) -> Result<Delivery, AdapterError> {
        match self.status {
            200..=299 => Ok(self),
            401 | 403 => Err(AdapterError::Unauthorized {
                service: Service::Klaviyo,
                status: self.status,
                code: self.error.map(|e| e.code),
            }),
            status => {
                let e = self.error.unwrap_or_else(|| errors::parse(b""));
                Err(AdapterError::Rejected {
                    service: Service::Klaviyo,
                    status,
                    code: e.code,
                    detail: e.detail,
                })
            }
        }
    }
}

/// What the functions need from Klaviyo. A trait so handlers can be exercised without HTTP,
/// and so a later bulk/backfill client can slot in beside this one.
#[async_trait]
pub trait KlaviyoApi: Send + Sync {
    /// Validates a private key: which account it belongs to, or Unauthorized (401 invalid key,
    /// 403 missing scopes).
    async fn get_account(&self, key: &Secret) -> Result<AccountInfo, AdapterError>;

    /// Sends one request, retrying 429 (honouring Retry-After), 5xx and network errors until
    /// `deadline` (the invocation's: no attempt or backoff reaches past it). `Ok` carries any
    /// final 2xx/4xx answer; `Err(Unavailable)` means Klaviyo could not be reached in time and
    /// the webhook should be answered with 503.
    async fn call(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Delivery, AdapterError>;

    /// [`KlaviyoApi::call`] that also hands back a final answer's JSON body (reads such as
    /// `GET /api/metrics`, and error `meta`). The default has no body: implementations that
    /// only count requests keep working, and callers treat a missing body as "nothing known".
    async fn call_json(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<(Delivery, Option<Value>), AdapterError> {
        Ok((self.call(key, method, path, body, deadline).await?, None))
    }
}

/// How long a key check may wait for Klaviyo's one answer.
const KEY_CHECK_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Debug, Clone)]
pub struct KlaviyoClient {
    http: reqwest::Client,
    base_url: String,
    retry: RetryPolicy,
}

impl KlaviyoClient {
    /// Builds the client once per cold start; the connection pool is reused across events.
    pub fn new(base_url: impl Into<String>) -> Self {
        Self::with_policy(base_url, RetryPolicy::default())
    }

    pub fn with_policy(base_url: impl Into<String>, retry: RetryPolicy) -> Self {
        Self {
            http: crate::http::client(),
            base_url: base_url.into().trim_end_matches('/').to_string(),
            retry,
        }
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.retry
    }

    fn request(
        &self,
        key: &Secret,
        method: Method,
        path: &str,
        body: Option<&Value>,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base_url, path))
            .timeout(timeout)
            .header("Authorization", format!("Klaviyo-API-Key {}", key.expose()))
            .header("revision", REVISION)
            .header("Accept", JSON_API)
            .header("X-Klaviyo-User-Agent", USER_AGENT)
            .header("User-Agent", USER_AGENT);
        if let Some(body) = body {
            req = req
                .header("Content-Type", JSON_API)
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        req
    }
}

#[async_trait]
impl KlaviyoApi for KlaviyoClient {
    async fn get_account(&self, key: &Secret) -> Result<AccountInfo, AdapterError> {
        // The accounts endpoint allows 1 request/s per account and is reachable from public
        // pages: one short attempt, never a retry loop. A 429 or 5xx is "Klaviyo busy, try
        // again" for the merchant (or a 503 that Salla redelivers, on the webhook path).
        let deadline = Instant::now() + KEY_CHECK_TIMEOUT;
        let (delivery, body) = self
            .call_raw(key, Method::GET, "/api/accounts", None, deadline, 1)
            .await?;
        delivery.into_result()?;
        parse_account(&body)
    }

    async fn call(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Delivery, AdapterError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| AdapterError::Config(format!("unsupported HTTP method {method}")))?;
        Ok(self
            .call_raw(key, method, path, body, deadline, u32::MAX)
            .await?
            .0)
    }

    async fn call_json(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<(Delivery, Option<Value>), AdapterError> {
        let method = Method::from_bytes(method.as_bytes())
            .map_err(|_| AdapterError::Config(format!("unsupported HTTP method {method}")))?;
        let (delivery, bytes) = self
            .call_raw(key, method, path, body, deadline, u32::MAX)
            .await?;
        Ok((delivery, serde_json::from_slice(&bytes).ok()))
    }
}

impl KlaviyoClient {
    pub(crate) async fn call_raw(
        &self,
        key: &Secret,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
        max_attempts: u32,
    ) -> Result<(Delivery, Vec<u8>), AdapterError> {
        let mut attempts = 0u32;
        let mut failures = 0u32;
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(unavailable("retry budget spent"));
            }
            let timeout = remaining.min(self.retry.attempt_timeout);
            let sent = self
                .request(key, method.clone(), path, body, timeout)
                .send()
                .await;
            let wait = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = parse_retry_after(
                        resp.headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok()),
                    );
                    if status == 429 {
                        failures += 1;
                        // Klaviyo tells us when the window resets; guessing shorter only
                        // burns another request of the merchant's shared quota, and waiting
                        // out a long one only holds this function (see RetryPolicy).
                        match self.retry.rate_limit_wait(retry_after, failures) {
                            Some(wait) => wait,
                            None => return Err(unavailable("rate limited past the wait cap")),
                        }
                    } else if is_retryable_status(status) {
                        failures += 1;
                        retry_after.unwrap_or_else(|| self.retry.backoff(failures))
                    } else {
                        let bytes = resp.bytes().await.unwrap_or_default().to_vec();
                        let error = (status >= 400).then(|| errors::parse(&bytes));
                        return Ok((
                            Delivery {
                                status,
                                attempts,
                                error,
                            },
                            bytes,
                        ));
                    }
                }
                Err(_) => {
                    // Timeouts, refused or dropped connections. A lost 202 is safe to
                    // repeat: every event carries a deterministic unique_id.
                    failures += 1;
                    self.retry.backoff(failures)
                }
            };
            if attempts >= self.retry.max_attempts.min(max_attempts) {
                return Err(unavailable("retries exhausted"));
            }
            if Instant::now() + wait >= deadline {
                return Err(unavailable("next retry would pass the deadline"));
            }
            tokio::time::sleep(wait).await;
        }
    }
}

fn unavailable(detail: &str) -> AdapterError {
    AdapterError::Unavailable {
        service: Service::Klaviyo,
        detail: detail.to_string(),
    }
}

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 500 | 502 | 503 | 504 | 520..=524)
}

fn parse_account(body: &[u8]) -> Result<AccountInfo, AdapterError> {
    let bad = |detail: &str| AdapterError::BadResponse {
        service: Service::Klaviyo,
        detail: detail.to_string(),
    };
    let v: Value = serde_json::from_slice(body).map_err(|_| bad("accounts body is not JSON"))?;
    let account = v
        .get("data")
        .and_then(|d| match d {
            Value::Array(items) => items.first(),
            other => Some(other),
        })
        .ok_or_else(|| bad("accounts body has no data"))?;
    let attrs = account.get("attributes");
    let id = account
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| bad("account has no id"))?;
    let name = attrs
        .and_then(|a| a.pointer("/contact_information/organization_name"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let preferred_currency = attrs
        .and_then(|a| a.get("preferred_currency"))
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(AccountInfo {
        id,
        name,
        preferred_currency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn account_parses_list_and_single_shapes() {
        let list = br#"{"data":[{"type":"account","id":"AbC123","attributes":{"contact_information":{"organization_name":"\u0645\u062a\u062c\u0631"},"preferred_currency":"SAR"}}]}"#;
        let a = parse_account(list).unwrap();
        assert_eq!(a.id, "AbC123");
        assert_eq!(a.name.as_deref(), Some("متجر"));
        assert_eq!(a.preferred_currency.as_deref(), Some("SAR"));
        let single = br#"{"data":{"type":"account","id":"X"}}"#;
        assert_eq!(parse_account(single).unwrap().id, "X");
        assert!(parse_account(b"{}").is_err());
        assert!(parse_account(b"nope").is_err());
    }

    /// A loopback server that answers every request with `status` (and `Retry-After: 0`),
    /// counting the requests it gets.
    async fn answering(status: u16) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        answering_after(status, 0).await
    }

    async fn answering_after(
        status: u16,
        retry_after: u32,
    ) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\nRetry-After: {retry_after}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = sock.write_all(answer.as_bytes()).await;
            }
        });
        (url, hits)
    }

    #[tokio::test]
    async fn a_key_check_is_one_attempt_whatever_klaviyo_answers() {
        // The accounts endpoint allows one request per second per account: retrying a 429 or a
        // 5xx inside the check only holds the function longer and spends more of the quota.
        for status in [429, 503] {
            let (url, hits) = answering(status).await;
            let client = KlaviyoClient::new(url);
            let err = client
                .get_account(&Secret::new("pk_test"))
                .await
                .unwrap_err();
            assert!(matches!(err, AdapterError::Unavailable { .. }), "{err}");
            assert_eq!(
                hits.load(std::sync::atomic::Ordering::SeqCst),
                1,
                "status {status}"
            );
        }
    }

    /// One event request to `url` with `within` of deadline; Klaviyo never accepts it here.
    async fn send_event(url: String, within: Duration) -> AdapterError {
        KlaviyoClient::new(url)
            .call(
                &Secret::new("pk_test"),
                "POST",
                "/api/events",
                None,
                Instant::now() + within,
            )
            .await
            .unwrap_err()
    }

    #[tokio::test]
    async fn a_steady_window_429_is_handed_back_at_once() {
        // Klaviyo's minute window answers Retry-After up to 60 s: sleeping that out inside the
        // invocation holds a Lambda for most of Salla's 30 s, so it is a 503 now.
        let (url, hits) = answering_after(429, 10).await;
        let started = Instant::now();
        let err = send_event(url, Duration::from_secs(20)).await;
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_burst_window_429_is_waited_out() {
        let (url, hits) = answering_after(429, 1).await;
        let err = send_event(url, Duration::from_secs(4)).await;
        assert!(matches!(err, AdapterError::Unavailable { .. }), "{err}");
        assert!(hits.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    }

    #[test]
    fn retryable_statuses() {
        for s in [500, 502, 503, 504, 524] {
            assert!(is_retryable_status(s));
        }
        for s in [200, 202, 400, 401, 403, 404, 409, 429] {
            assert!(!is_retryable_status(s));
        }
    }
}
