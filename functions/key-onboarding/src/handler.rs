//! The HTTP edge: routing only, on the last path segment (the last two for the tokened
//! Validation URL), so a function URL and the dev server's prefixes route alike.

use adapters::web;
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

use crate::{Deps, form, validate, view};

/// Never returns an error: every outcome is a page, a redirect or a JSON answer.
pub async fn handle(deps: &Deps, req: Request) -> Response<Body> {
    let mut resp = route(deps, req).await;
    web::framed_by(&mut resp, &deps.dashboard_origin);
    resp
}

async fn route(deps: &Deps, req: Request) -> Response<Body> {
    let (parent, segment) = last_two_segments(req.uri().path());
    // `validate/<token>`: the token is the last segment. A wrong one is not found, before
    // the body or the key store is looked at.
    if parent == "validate" {
        if !validate::token_matches(deps.secret(), segment) {
            return web::plain(StatusCode::NOT_FOUND);
        }
        return match *req.method() {
            Method::POST => validate::handle(deps, &req, validate::Access::Tokened).await,
            _ => web::plain(StatusCode::METHOD_NOT_ALLOWED),
        };
    }
    match (req.method(), segment) {
        (&Method::POST, "validate") => {
            validate::handle(deps, &req, validate::Access::Untokened).await
        }
        (&Method::GET, "" | "onboarding") => view::get(deps, &req).await,
        (&Method::POST, "" | "onboarding") => form::post(deps, &req).await,
        (_, "" | "onboarding" | "validate") => web::plain(StatusCode::METHOD_NOT_ALLOWED),
        _ => web::plain(StatusCode::NOT_FOUND),
    }
}

/// The path's last segment and the one before it (`""` when there is none), trailing
/// slashes ignored, as [`web::last_segment`] reads the last.
fn last_two_segments(path: &str) -> (&str, &str) {
    let mut segments = path.trim_end_matches('/').rsplit('/');
    let last = segments.next().unwrap_or("");
    (segments.next().unwrap_or(""), last)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
    use adapters::{AdapterError, Secret};
    use lambda_http::http::header;
    use serde_json::{Value, json};

    use super::*;
    use crate::test_support::*;

    fn location(resp: &Response<Body>) -> &str {
        resp.headers()[header::LOCATION].to_str().unwrap()
    }

    fn connected(store: &str, with_salla: bool) -> StoreRecord {
        let mut record = StoreRecord::new(store);
        record.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new("pk_old_key_ABCD"),
            account_name: Some("Old".into()),
            account_id: Some("Old1".into()),
            validated_at: 1_795_000_000,
            needs_reconnect: false,
        });
        if with_salla {
            record.salla = Some(SallaTokens {
                access_token: Secret::new("a"),
                refresh_token: Secret::new("r"),
                expires_at: 2_000_000_000,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            });
        }
        record
    }

    #[tokio::test]
    async fn routes_by_last_segment_and_method() {
        let (deps, _) = deps();
        let cases = [
            (Method::GET, "/elsewhere", StatusCode::NOT_FOUND),
            (Method::PUT, "/", StatusCode::METHOD_NOT_ALLOWED),
            (
                Method::DELETE,
                "/onboarding",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (
                Method::GET,
                "/onboarding/validate",
                StatusCode::METHOD_NOT_ALLOWED,
            ),
            (Method::GET, "/onboarding", StatusCode::UNAUTHORIZED),
            (Method::GET, "/", StatusCode::UNAUTHORIZED),
        ];
        for (method, uri, status) in cases {
            let resp = handle(&deps, request(method.clone(), uri, None, "")).await;
            assert_eq!(resp.status(), status, "{method} {uri}");
        }
    }

    #[tokio::test]
    async fn missing_or_expired_session_shows_the_signed_out_page() {
        let (deps, _) = deps();
        let expired = session_token(STORE, adapters::session::SESSION_TTL_SECS + 5);
        for cookie in [None, Some("not-a-token"), Some(expired.as_str())] {
            let resp = handle(&deps, request(Method::GET, "/?lang=en", cookie, "")).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
            let html = text(&resp);
            assert!(html.contains("Your session has expired"), "{html}");
            assert!(!html.contains("<form"));
        }
    }

    #[tokio::test]
    async fn handoff_sets_the_session_cookie_and_drops_the_token() {
        let (deps, _) = deps();
        let uri = format!("/onboarding?lang=en&handoff={}", handoff_token(STORE));
        let resp = handle(&deps, request(Method::GET, &uri, None, "")).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/onboarding?lang=en");
        let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(
            cookie.starts_with(&format!("{}=", crate::SESSION_COOKIE)),
            "{cookie}"
        );
        assert!(cookie.contains("SameSite=None; Partitioned"));

        let session = session_token(STORE, 0);
        let forged = request(Method::GET, &format!("/?handoff={session}"), None, "");
        assert_eq!(
            handle(&deps, forged).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }

    /// `__Host-`: the browser only keeps it when Secure, Path=/ and without Domain, so no
    /// sibling host can plant or overwrite the session cookie.
    #[tokio::test]
    async fn the_session_cookie_is_host_only() {
        let (deps, _) = deps();
        let uri = format!("/?handoff={}", handoff_token(STORE));
        let resp = handle(&deps, request(Method::GET, &uri, None, "")).await;
        let cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(cookie.starts_with("__Host-"), "{cookie}");
        assert!(cookie.contains("; Secure") && cookie.contains("; Path=/;"));
        assert!(!cookie.to_ascii_lowercase().contains("domain="), "{cookie}");
    }

    /// A function URL hands the raw path over as sent: `//evil.example/onboarding` must not
    /// become `Location: //evil.example/onboarding` (a protocol-relative URL to another host).
    #[tokio::test]
    async fn redirects_go_to_a_fixed_path_whatever_the_request_path() {
        let (deps, _) = deps();
        for (path, fixed) in [
            ("//evil.example/onboarding", "/onboarding"),
            ("//evil.example/", "/"),
            ("/\\evil.example/onboarding", "/onboarding"),
            ("/a/b/onboarding", "/onboarding"),
        ] {
            let uri = format!("{path}?lang=en&handoff={}", handoff_token(STORE));
            let resp = handle(&deps, request(Method::GET, &uri, None, "")).await;
            if resp.status() == StatusCode::SEE_OTHER {
                assert_eq!(location(&resp), format!("{fixed}?lang=en"), "{path}");
            }
            let token = session_token(STORE, 0);
            let mut post = form(&token, &[("action", "disconnect")]);
            *post.uri_mut() = path.parse().unwrap();
            let resp = handle(&deps, post).await;
            if resp.status() == StatusCode::SEE_OTHER {
                assert_eq!(
                    location(&resp),
                    format!("{fixed}?lang=en&notice=disconnected"),
                    "{path}"
                );
            }
        }
    }

    #[tokio::test]
    async fn a_handoff_works_once() {
        let (deps, _) = deps();
        let uri = format!("/?handoff={}", handoff_token(STORE));
        let first = handle(&deps, request(Method::GET, &uri, None, "")).await;
        assert_eq!(first.status(), StatusCode::SEE_OTHER);
        let again = handle(&deps, request(Method::GET, &uri, None, "")).await;
        assert_eq!(again.status(), StatusCode::UNAUTHORIZED);
        assert!(again.headers().get(header::SET_COOKIE).is_none());
        assert!(
            text(&again).contains("Your session has expired")
                || text(&again).contains("انتهت الجلسة")
        );
    }

    /// The callback's own lifetime: a handoff issued 31 s ago is refused.
    #[tokio::test]
    async fn a_handoff_older_than_thirty_seconds_is_refused() {
        let (deps, _) = deps();
        let now = adapters::clock::now_unix();
        let old = adapters::session::issue(
            SECRET.as_bytes(),
            STORE,
            adapters::session::Purpose::Handoff,
            now - 31,
            adapters::session::HANDOFF_TTL_SECS,
        );
        let resp = handle(
            &deps,
            request(Method::GET, &format!("/?handoff={old}"), None, ""),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(resp.headers().get(header::SET_COOKIE).is_none());
    }

    #[tokio::test]
    async fn signed_in_page_shows_the_store_and_its_forms() {
        let (deps, keys) = deps();
        keys.put(&connected(STORE, true)).await.unwrap();
        let token = session_token(STORE, 10);
        let resp = handle(&deps, request(Method::GET, "/?lang=en", Some(&token), "")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = text(&resp);
        assert!(html.contains("••••ABCD"));
        assert!(!html.contains("pk_old_key"));
        assert!(html.contains(&format!("name=\"csrf\" value=\"{}\"", csrf(&token))));
        assert!(html.contains("id=\"disconnect-form\""));
    }

    #[tokio::test]
    async fn a_valid_key_is_saved_and_redirects() {
        let (deps, keys) = deps();
        let token = session_token(STORE, 0);
        let resp = handle(
            &deps,
            form(&token, &[("action", "save"), ("private_key", GOOD_KEY)]),
        )
        .await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/onboarding?lang=en&notice=saved");
        let saved = keys.get(STORE).await.unwrap().unwrap().klaviyo.unwrap();
        assert_eq!(saved.private_key.expose(), GOOD_KEY);
        assert_eq!(saved.account_name.as_deref(), Some("<b>Shop</b>"));
    }

    /// The page names the store; a key is attached only once the merchant confirmed it.
    #[tokio::test]
    async fn a_key_is_attached_only_after_the_store_is_confirmed() {
        let (deps, keys) = deps();
        for confirm in ["", "no"] {
            let token = session_token(STORE, 0);
            let fields = [
                ("action", "save"),
                ("private_key", GOOD_KEY),
                ("confirm_store", confirm),
            ];
            let resp = handle(&deps, form(&token, &fields)).await;
            assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{confirm:?}");
            assert!(text(&resp).contains("tick the confirmation box"));
            assert!(text(&resp).contains("id=\"save-form\""));
        }
        assert!(keys.is_empty());
    }

    /// The handoff's store label reaches the page through the cookie session.
    #[tokio::test]
    async fn the_page_shows_the_store_named_at_sign_in() {
        let (deps, _) = deps();
        let label = adapters::session::StoreLabel::new(
            Some("<b>متجر العطور</b>"),
            Some("https://perfume.example"),
        );
        let handoff = adapters::session::issue_for(
            SECRET.as_bytes(),
            STORE,
            &label,
            adapters::session::Purpose::Handoff,
            adapters::clock::now_unix(),
            adapters::session::HANDOFF_TTL_SECS,
        );
        let uri = format!("/?lang=en&handoff={handoff}");
        let resp = handle(&deps, request(Method::GET, &uri, None, "")).await;
        let set_cookie = resp.headers()[header::SET_COOKIE].to_str().unwrap();
        let token = set_cookie
            .split(';')
            .next()
            .and_then(|c| c.split_once('='))
            .unwrap()
            .1
            .to_string();
        let resp = handle(&deps, request(Method::GET, "/?lang=en", Some(&token), "")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = text(&resp);
        assert!(html.contains("&lt;b&gt;متجر العطور&lt;/b&gt;"), "{html}");
        assert!(!html.contains("<b>متجر"));
        assert!(html.contains("https://perfume.example"));
        assert!(html.contains("id=\"confirm_store\""));
    }

    #[tokio::test]
    async fn refused_keys_show_the_problem_and_store_nothing() {
        let cases = [
            ("", StatusCode::BAD_REQUEST, "Paste your private key first."),
            (
                "AbC123",
                StatusCode::BAD_REQUEST,
                "That isn't a private key.",
            ),
            (
                "pk_wrong",
                StatusCode::BAD_REQUEST,
                "Klaviyo did not accept this key.",
            ),
            (NO_SCOPE_KEY, StatusCode::BAD_REQUEST, "missing permissions"),
            (
                DOWN_KEY,
                StatusCode::SERVICE_UNAVAILABLE,
                "couldn't reach Klaviyo",
            ),
        ];
        for (key, status, message) in cases {
            let (deps, keys) = deps();
            let token = session_token(STORE, 0);
            let resp = handle(
                &deps,
                form(&token, &[("action", "save"), ("private_key", key)]),
            )
            .await;
            assert_eq!(resp.status(), status, "{key}");
            let html = text(&resp);
            assert!(html.contains(message), "{key}: {html}");
            assert!(html.contains("id=\"save-form\""));
            assert!(keys.is_empty());
        }
    }

    #[tokio::test]
    async fn csrf_and_store_mismatches_are_refused() {
        let (deps, keys) = deps();
        let token = session_token(STORE, 0);
        let save = [("action", "save"), ("private_key", GOOD_KEY)];

        let bad_csrf = [save[0], save[1], ("csrf", "forged")];
        let resp = handle(&deps, form(&token, &bad_csrf)).await;
        assert_eq!(resp.status(), StatusCode::FORBIDDEN);
        assert!(text(&resp).contains("This form has expired."));

        let other_store = [save[0], save[1], ("store_id", "43")];
        let resp = handle(&deps, form(&token, &other_store)).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        assert!(!text(&resp).contains("<form"));

        let resp = handle(&deps, form(&token, &[("action", "delete-everything")])).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);

        let too_large = "a=".to_string() + &"x".repeat(9 * 1024);
        let resp = handle(&deps, request(Method::POST, "/", Some(&token), &too_large)).await;
        assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(keys.is_empty());
    }

    #[tokio::test]
    async fn disconnect_keeps_salla_tokens_and_the_record() {
        let (deps, keys) = deps();
        keys.put(&connected(STORE, true)).await.unwrap();
        let token = session_token(STORE, 0);
        let resp = handle(&deps, form(&token, &[("action", "disconnect")])).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&resp), "/onboarding?lang=en&notice=disconnected");
        let record = keys.get(STORE).await.unwrap().unwrap();
        assert!(record.klaviyo.is_none() && record.salla.is_some());

        let (deps, keys) = crate::test_support::deps();
        keys.put(&connected(STORE, false)).await.unwrap();
        let resp = handle(&deps, form(&token, &[("action", "disconnect")])).await;
        assert_eq!(resp.status(), StatusCode::SEE_OTHER);
        let kept = keys.get(STORE).await.unwrap().unwrap();
        assert!(kept.klaviyo.is_none() && kept.version == 2);
    }

    /// The Validation URL's token for the tests' session secret, as
    /// `infra/scripts/validation-url.sh` derives it with openssl.
    const VALIDATION_TOKEN: &str = "F5ul_rfd8yp-GA4H37QqCT";

    async fn validate(deps: &crate::Deps, body: &str) -> (StatusCode, Value) {
        validate_at(deps, &format!("/validate/{VALIDATION_TOKEN}"), body).await
    }

    async fn validate_at(deps: &crate::Deps, path: &str, body: &str) -> (StatusCode, Value) {
        let resp = handle(deps, request(Method::POST, path, None, body)).await;
        let value = serde_json::from_str(text(&resp)).unwrap_or(Value::Null);
        (resp.status(), value)
    }

    /// A key store that counts its reads, around the memory store.
    struct CountingKeys {
        inner: Arc<MemoryKeyStore>,
        reads: AtomicUsize,
    }

    #[async_trait::async_trait]
    impl KeyStore for CountingKeys {
        async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.get(store_id).await
        }
        async fn version(&self, store_id: &str) -> Result<Option<u64>, AdapterError> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            self.inner.version(store_id).await
        }
        async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
            self.inner.put(record).await
        }
        async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
            self.inner.delete(store_id).await
        }
    }

    /// Deps whose key store counts reads and whose Klaviyo counts key checks; store `8` is
    /// installed.
    async fn counting_deps() -> (crate::Deps, Arc<CountingKeys>, Arc<AtomicUsize>) {
        let (mut deps, memory, klaviyo_calls) = crate::test_support::deps_counting();
        memory.put(&installed("8")).await.unwrap();
        let keys = Arc::new(CountingKeys {
            inner: memory,
            reads: AtomicUsize::new(0),
        });
        deps.keys = keys.clone();
        (deps, keys, klaviyo_calls)
    }

    fn settings_for(store: &str, key: &str) -> String {
        json!({"merchant_id": store, "settings": {"klaviyo_private_key": key}}).to_string()
    }

    /// The URL is the credential: with the right token the installed-store rule and the one
    /// Klaviyo attempt apply; a wrong token, or any other path under `validate/`, is not found
    /// and reads nothing.
    #[tokio::test]
    async fn a_wrong_validation_token_is_not_found_and_reads_nothing() {
        let (deps, keys, klaviyo_calls) = counting_deps().await;
        assert_eq!(
            validate(&deps, &settings_for("8", GOOD_KEY)).await,
            (StatusCode::OK, json!({"success": true}))
        );
        assert_eq!(keys.reads.load(Ordering::SeqCst), 1);
        assert_eq!(klaviyo_calls.load(Ordering::SeqCst), 1);

        let almost = &VALIDATION_TOKEN[..VALIDATION_TOKEN.len() - 1];
        let lower = VALIDATION_TOKEN.to_ascii_lowercase();
        let wrong = [
            "/validate/wrong".to_string(),
            format!("/validate/{almost}"),
            format!("/validate/{almost}A"),
            format!("/validate/{VALIDATION_TOKEN}x"),
            format!("/validate/{lower}"),
            format!("/validate/{VALIDATION_TOKEN}/more"),
            format!("/validate/x/{VALIDATION_TOKEN}"),
            format!("/onboarding/validate/{almost}"),
            "/validate/onboarding".to_string(),
        ];
        for path in &wrong {
            for method in [Method::POST, Method::GET] {
                let req = request(method.clone(), path, None, &settings_for("8", GOOD_KEY));
                let resp = handle(&deps, req).await;
                assert_eq!(resp.status(), StatusCode::NOT_FOUND, "{method} {path}");
            }
        }
        assert_eq!(
            keys.reads.load(Ordering::SeqCst),
            1,
            "a wrong token read the store"
        );
        assert_eq!(klaviyo_calls.load(Ordering::SeqCst), 1);
    }

    /// The right token under the dev server's prefix, with a trailing slash, and any method
    /// other than POST.
    #[tokio::test]
    async fn the_tokened_validation_url_routes_under_any_prefix() {
        let (deps, _, _) = counting_deps().await;
        for path in [
            format!("/onboarding/validate/{VALIDATION_TOKEN}"),
            format!("/validate/{VALIDATION_TOKEN}/"),
        ] {
            assert_eq!(
                validate_at(&deps, &path, &settings_for("8", GOOD_KEY)).await,
                (StatusCode::OK, json!({"success": true})),
                "{path}"
            );
        }
        let path = format!("/validate/{VALIDATION_TOKEN}");
        let resp = handle(&deps, request(Method::GET, &path, None, "")).await;
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    /// Salla's form still answers while the operator has not entered the tokened URL: the
    /// shape is checked, nothing is read, Klaviyo is not asked. The signed settings webhook
    /// checks the key with Klaviyo and confirms it with Salla before anything is stored.
    #[tokio::test]
    async fn the_plain_validation_url_checks_the_shape_only() {
        let (deps, keys, klaviyo_calls) = counting_deps().await;
        for path in ["/validate", "/onboarding/validate", "/validate/"] {
            for store in ["8", "99"] {
                let (status, answer) =
                    validate_at(&deps, path, &settings_for(store, "pk_wrong")).await;
                assert_eq!(
                    (status, answer),
                    (StatusCode::OK, json!({"success": true})),
                    "{path} {store}"
                );
            }
            let (status, answer) = validate_at(&deps, path, &settings_for("8", "AbC123")).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(answer["success"], false);
            assert_eq!(answer["error"]["field"], crate::KEY_FIELD);
            let (status, _) = validate_at(&deps, path, "[1]").await;
            assert_eq!(status, StatusCode::BAD_REQUEST);
        }
        assert_eq!(keys.reads.load(Ordering::SeqCst), 0);
        assert_eq!(klaviyo_calls.load(Ordering::SeqCst), 0);
        assert!(
            keys.inner
                .get("8")
                .await
                .unwrap()
                .unwrap()
                .klaviyo
                .is_none()
        );
    }

    /// A store that installed the app: Salla's tokens held, no Klaviyo key yet.
    fn installed(store: &str) -> StoreRecord {
        let mut record = connected(store, true);
        record.klaviyo = None;
        record
    }

    #[tokio::test]
    async fn validation_url_refuses_stores_that_did_not_install_the_app_without_asking_klaviyo() {
        let (deps, keys, calls) = crate::test_support::deps_counting();
        let body = |store: &str| {
            json!({"merchant_id": store, "settings": {"klaviyo_private_key": GOOD_KEY}}).to_string()
        };
        // Unknown store, no store id at all, and a store whose record holds no Salla tokens.
        keys.put(&connected("7", false)).await.unwrap();
        for request in [
            body("99"),
            body("7"),
            json!({"settings": {"klaviyo_private_key": GOOD_KEY}}).to_string(),
        ] {
            let (status, answer) = validate(&deps, &request).await;
            assert_eq!(status, StatusCode::OK);
            assert_eq!(answer["success"], false, "{request}");
            assert_eq!(answer["error"]["field"], crate::KEY_FIELD);
            // The answer says nothing about the key: it was never checked.
            let en = answer["error"]["message"]["en"].as_str().unwrap();
            assert!(en.contains("install"), "{en}");
        }
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
        keys.put(&installed("8")).await.unwrap();
        assert_eq!(
            validate(&deps, &body("8")).await,
            (StatusCode::OK, json!({"success": true}))
        );
    }

    #[tokio::test]
    async fn validation_url_answers_salla_and_stores_nothing() {
        let (deps, keys) = deps();
        keys.put(&installed("1")).await.unwrap();
        let body = |key: &str| {
            json!({"merchant_id": 1, "settings": {"klaviyo_private_key": key}}).to_string()
        };
        assert_eq!(
            validate(&deps, &body(GOOD_KEY)).await,
            (StatusCode::OK, json!({"success": true}))
        );
        let (status, answer) = validate(&deps, &body("pk_wrong")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(answer["success"], false);
        assert_eq!(answer["error"]["field"], crate::KEY_FIELD);
        assert!(answer["error"]["message"]["ar"].is_string());
        let (status, answer) = validate(&deps, "[1]").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(answer["success"], false);
        let (status, _) = validate(&deps, &"x".repeat(17 * 1024)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let record = keys.get("1").await.unwrap().unwrap();
        assert!(
            record.klaviyo.is_none(),
            "the unsigned validation request must not store"
        );
    }
}
