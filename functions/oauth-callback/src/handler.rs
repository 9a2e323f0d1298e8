//! The HTTP edge: routing, error → page, one structured log line.

use std::time::Instant;

use adapters::web;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::deps::{Authorizer, Deps};
use crate::error::CallbackError;
use crate::{connect, page};

/// Handles `GET …/callback`. Never returns an error: every failure is a page with a status.
pub async fn handle<A: Authorizer>(deps: &Deps<A>, req: Request) -> Response<Body> {
    let started = Instant::now();
    let result = route(deps, &req).await;
    let latency_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(done) => {
            tracing::info!(event = "oauth_callback", store_id = %done.store_id, outcome = "connected", status = 302, latency_ms);
            web::redirect(StatusCode::FOUND, &done.location, None)
        }
        Err(e) => {
            let status = e.status();
            tracing::warn!(
                event = "oauth_callback",
                outcome = e.code(),
                status = status.as_u16(),
                latency_ms,
                error = %e
            );
            web::html(status, page::failure(&e))
        }
    }
}

async fn route<A: Authorizer>(
    deps: &Deps<A>,
    req: &Request,
) -> Result<crate::outcome::Connected, CallbackError> {
    if req.method() != Method::GET {
        return Err(CallbackError::MethodNotAllowed);
    }
    if !matches!(web::last_segment(req.uri().path()), "" | "callback") {
        return Err(CallbackError::NotFound);
    }
    connect::connect(deps, req).await
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KeyStore, SallaTokens};
    use adapters::salla::oauth::MerchantInfo;
    use adapters::session::{self, Purpose};
    use adapters::{AdapterError, Secret};
    use async_trait::async_trait;
    use lambda_http::http::header;

    use super::*;

    const SECRET: &str = "test-session-secret-0123456789-abcdef";

    /// How the fake answers a code exchange.
    type Answer = fn(&str) -> Result<(), AdapterError>;

    /// Salla's OAuth endpoints, answering each code exchange per `answer`.
    struct FakeSalla {
        answer: Answer,
        redirect_uris: Mutex<Vec<String>>,
    }

    #[async_trait]
    impl Authorizer for FakeSalla {
        async fn exchange_code(
            &self,
            code: &str,
            redirect_uri: &str,
        ) -> Result<SallaTokens, AdapterError> {
            self.redirect_uris.lock().unwrap().push(redirect_uri.into());
            (self.answer)(code)?;
            Ok(SallaTokens {
                access_token: Secret::new("access"),
                refresh_token: Secret::new("refresh"),
                expires_at: 2_000_000_000,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            })
        }

        async fn user_info(&self, access_token: &Secret) -> Result<MerchantInfo, AdapterError> {
            assert_eq!(access_token.expose(), "access");
            Ok(MerchantInfo {
                id: "42".into(),
                name: Some("متجر <b>العطور</b>".into()),
                domain: Some("https://salla.sa/perfume".into()),
            })
        }
    }

    fn deps(answer: Answer) -> (Deps<FakeSalla>, Arc<MemoryKeyStore>) {
        let keys = Arc::new(MemoryKeyStore::new());
        let deps = Deps {
            oauth: FakeSalla {
                answer,
                redirect_uris: Mutex::default(),
            },
            keys: keys.clone(),
            session_secret: Secret::new(SECRET),
            onboarding_url: "https://onboarding.example/?x=1".into(),
            redirect_uri: String::new(),
            history: Default::default(),
        };
        (deps, keys)
    }

    fn accept(_: &str) -> Result<(), AdapterError> {
        Ok(())
    }

    fn request(method: Method, uri: &str) -> Request {
        lambda_http::http::Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "cb.example")
            .body(Body::Empty)
            .unwrap()
    }

    fn html(resp: &Response<Body>) -> &str {
        match resp.body() {
            Body::Text(t) => t,
            _ => "",
        }
    }

    #[tokio::test]
    async fn a_good_code_stores_the_tokens_and_hands_over_to_onboarding() {
        let (deps, keys) = deps(accept);
        let resp = handle(&deps, request(Method::GET, "/callback?code=good&state=s")).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        let location = resp.headers()[header::LOCATION].to_str().unwrap();
        let handoff = location
            .strip_prefix("https://onboarding.example/?x=1&handoff=")
            .unwrap();
        let now = adapters::clock::now_unix();
        let claims = session::open(SECRET.as_bytes(), handoff, Purpose::Handoff, now).unwrap();
        assert_eq!(claims.store_id, "42");
        // Short-lived, and naming the store for the merchant to confirm on the page.
        assert!(claims.expires_at <= now + 30, "{}", claims.expires_at - now);
        assert_eq!(claims.store.name.as_deref(), Some("متجر <b>العطور</b>"));
        assert_eq!(
            claims.store.domain.as_deref(),
            Some("https://salla.sa/perfume")
        );
        let record = keys.get("42").await.unwrap().unwrap();
        assert_eq!(record.salla.unwrap().refresh_token.expose(), "refresh");
        // No configured redirect URI: the function's own URL as it was reached.
        assert_eq!(
            deps.oauth.redirect_uris.lock().unwrap().as_slice(),
            ["https://cb.example/callback"]
        );
    }

    /// Tokens for a store that already holds a Klaviyo key complete its connection: one
    /// import is queued, and a second install of the same store queues none.
    #[tokio::test]
    async fn tokens_that_complete_the_connection_queue_one_import() {
        let (mut deps, keys) = deps(accept);
        let queue = Arc::new(adapters::history::memory::MemoryHistoryQueue::new());
        deps.history = adapters::history::start::HistoryStart::new(queue.clone());
        let mut keyed = adapters::keystore::StoreRecord::new("42");
        keyed.klaviyo = Some(adapters::keystore::KlaviyoConnection {
            private_key: Secret::new("pk_test_0123456789abcdef"),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        });
        keys.put(&keyed).await.unwrap();
        for _ in 0..2 {
            let resp = handle(&deps, request(Method::GET, "/callback?code=good&state=s")).await;
            assert_eq!(resp.status(), StatusCode::FOUND);
        }
        assert_eq!(
            queue.bodies(),
            vec![adapters::history::Task::import("42").to_body()]
        );
    }

    /// An install after an uninstall: the deletion marker stops expiring, and the install
    /// time orders later lifecycle events (a late uninstall sent before it is stale).
    #[tokio::test]
    async fn an_install_clears_a_deletion_marker() {
        let (deps, keys) = deps(accept);
        let now = adapters::clock::now_unix();
        let mut marker = adapters::keystore::StoreRecord::new("42");
        marker.mark_uninstalled(now - 60, now - 60);
        keys.put(&marker).await.unwrap();
        let resp = handle(&deps, request(Method::GET, "/callback?code=good&state=s")).await;
        assert_eq!(resp.status(), StatusCode::FOUND);
        let record = keys.get("42").await.unwrap().unwrap();
        assert_eq!(record.ttl, None);
        assert!(record.lifecycle.authorized_at >= Some(now));
        assert_eq!(record.lifecycle.uninstalled_at, Some(now - 60));
        assert!(record.salla.is_some());
    }

    #[tokio::test]
    async fn code_exchange_failures_become_pages_and_store_nothing() {
        let cases: [(Answer, StatusCode); 3] = [
            (
                |_| {
                    Err(AdapterError::Rejected {
                        service: adapters::error::Service::Salla,
                        status: 400,
                        code: "invalid_grant".into(),
                        detail: String::new(),
                    })
                },
                StatusCode::BAD_REQUEST,
            ),
            (
                |_| {
                    Err(AdapterError::Rejected {
                        service: adapters::error::Service::Salla,
                        status: 401,
                        code: "invalid_client".into(),
                        detail: String::new(),
                    })
                },
                StatusCode::BAD_GATEWAY,
            ),
            (
                |_| {
                    Err(AdapterError::Unavailable {
                        service: adapters::error::Service::Salla,
                        detail: "timeout".into(),
                    })
                },
                StatusCode::SERVICE_UNAVAILABLE,
            ),
        ];
        for (answer, status) in cases {
            let (deps, keys) = deps(answer);
            let resp = handle(&deps, request(Method::GET, "/?code=c")).await;
            assert_eq!(resp.status(), status);
            assert!(html(&resp).contains("<html lang=\"ar\" dir=\"rtl\">"));
            assert!(keys.is_empty());
        }
    }

    #[tokio::test]
    async fn routing_method_and_missing_code() {
        let (deps, keys) = deps(accept);
        let cases = [
            (
                Method::POST,
                "/callback?code=c",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (Method::GET, "/elsewhere?code=c", StatusCode::NOT_FOUND),
            (Method::POST, "/elsewhere", StatusCode::METHOD_NOT_ALLOWED),
            (Method::GET, "/callback?state=only", StatusCode::BAD_REQUEST),
            (Method::GET, "/callback?code=", StatusCode::BAD_REQUEST),
            (
                Method::GET,
                "/callback?error=access_denied",
                StatusCode::BAD_REQUEST,
            ),
            (
                Method::GET,
                "/callback?error=server_error",
                StatusCode::BAD_GATEWAY,
            ),
        ];
        for (method, uri, status) in cases {
            let resp = handle(&deps, request(method.clone(), uri)).await;
            assert_eq!(resp.status(), status, "{method} {uri}");
            assert_eq!(resp.headers()[header::CACHE_CONTROL], "no-store");
        }
        let long = format!("/callback?code={}", "c".repeat(3000));
        assert_eq!(
            handle(&deps, request(Method::GET, &long)).await.status(),
            StatusCode::BAD_REQUEST
        );
        assert!(keys.is_empty());
        assert!(deps.oauth.redirect_uris.lock().unwrap().is_empty());
    }
}
