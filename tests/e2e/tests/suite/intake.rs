//! Webhook intake end to end: signed bodies over HTTP into the real handler, out to the
//! Klaviyo stub, which checks every request against Klaviyo's OpenAPI spec (strict).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, SallaTokens, StoreRecord};
use adapters::klaviyo::RetryPolicy;
use e2e::harness::{
    GOOD_KEY, Harness, fast_policy, fresh, merchant_of, sample, sample_names, sign,
};
use klaviyo_stub::{Fault, StubAccount};
use serde_json::{Value, json};

/// Samples that are store events (app lifecycle samples change what we hold and have their own
/// tests; the OAuth samples are not webhooks).
fn store_event_samples() -> Vec<String> {
    sample_names()
        .into_iter()
        .filter(|n| !n.starts_with("app.") && !n.starts_with("oauth2."))
        .collect()
}

#[tokio::test]
async fn every_store_sample_is_relayed_valid_and_replays_are_idempotent() {
    let h = Harness::start().await;
    let samples = store_event_samples();
    assert!(
        samples.len() >= 15,
        "expected the whole sample corpus, got {}",
        samples.len()
    );
    for name in &samples {
        if let Some(store) = merchant_of(&sample(name)) {
            h.connect(&store, GOOD_KEY).await;
        }
    }

    let mut first_answers = Vec::new();
    for name in &samples {
        let a = h.post_signed(&sample(name)).await;
        let text = a.body.to_string();
        assert!(
            !text.contains('@'),
            "{name}: the answer must not echo payload data: {text}"
        );
        first_answers.push((name.clone(), a.status, a.body));
    }
    for (name, status, body) in &first_answers {
        if name.starts_with("invoice.created.data-only") {
            // No envelope at all (a documentation excerpt): a clear 400, never a 5xx.
            assert_eq!(*status, 400, "{name}: {body}");
        } else {
            assert_eq!(*status, 200, "{name}: {body}");
        }
    }
    assert_eq!(
        h.klaviyo.violations(),
        Vec::<String>::new(),
        "every request must validate strictly"
    );
    let first_ids = h.event_unique_ids();
    assert!(
        first_ids.len() >= 10,
        "samples should produce events, got {}",
        first_ids.len()
    );
    let sent: Vec<_> = first_answers
        .iter()
        .filter(|(_, _, b)| b["outcome"] == "sent")
        .collect();
    assert!(
        sent.len() >= 10,
        "most samples relay something: {first_answers:?}"
    );
    let distinct_after_first = h.klaviyo.distinct_event_ids();
    let accepted_after_first = h.klaviyo.events().len();

    // Salla redelivers: identical unique_ids, nothing new recorded by Klaviyo's dedup.
    for name in &samples {
        h.post_signed(&sample(name)).await;
    }
    let all_ids = h.event_unique_ids();
    assert_eq!(all_ids.len(), first_ids.len() * 2);
    assert_eq!(
        &all_ids[first_ids.len()..],
        &first_ids[..],
        "replays must carry identical unique_ids"
    );
    assert_eq!(h.klaviyo.distinct_event_ids(), distinct_after_first);
    assert_eq!(h.klaviyo.events().len(), accepted_after_first);
    assert!(h.klaviyo.violations().is_empty());

    // Headers Klaviyo needs on every request.
    for r in h.klaviyo.requests() {
        assert_eq!(r.revision.as_deref(), Some("2026-07-15"));
        assert_eq!(r.api_key.as_deref(), Some(GOOD_KEY));
        assert!(
            r.klaviyo_user_agent
                .as_deref()
                .unwrap_or("")
                .starts_with("klaviyo-for-salla/")
        );
    }
}

#[tokio::test]
async fn bad_or_missing_credentials_get_401_and_make_no_klaviyo_call() {
    let h = Harness::start().await;
    let body = sample("order.created.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;

    let wrong = adapters::salla::signature::sign(b"not-the-secret", &body);
    for headers in [
        vec![("x-salla-signature", wrong.as_str())],
        vec![],
        vec![("x-salla-signature", "zz-not-hex")],
        vec![("authorization", "e2e-webhook-secret")],
    ] {
        let a = h.post(&body, &headers).await;
        assert_eq!(a.status, 401, "{headers:?}");
        assert_eq!(a.body["error"], "unauthenticated");
    }
    // A valid signature over different bytes (re-serialised JSON) does not pass either.
    let reserialised =
        serde_json::to_vec(&serde_json::from_slice::<Value>(&body).unwrap()).unwrap();
    let a = h
        .post(
            &reserialised,
            &[("x-salla-signature", sign(&body).as_str())],
        )
        .await;
    assert_eq!(a.status, 401);
    assert!(
        h.klaviyo.requests().is_empty(),
        "no Klaviyo call before authentication"
    );
}

#[tokio::test]
async fn token_strategy_accepts_the_secret_in_authorization() {
    let h = Harness::start_with(
        Arc::new(MemoryKeyStore::new()),
        fast_policy(),
        &[("SALLA_WEBHOOK_STRATEGY", "token")],
    )
    .await;
    let body = sample("customer.login.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    assert_eq!(
        h.post(&body, &[("authorization", "wrong")]).await.status,
        401
    );
    assert_eq!(
        h.post(&body, &[("x-salla-signature", sign(&body).as_str())])
            .await
            .status,
        401
    );
    let a = h
        .post(&body, &[("authorization", "e2e-webhook-secret")])
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(!h.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn store_without_key_answers_200_and_sends_nothing() {
    let h = Harness::start().await;
    let a = h.post_signed(&sample("order.created.json")).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["outcome"], "no_klaviyo_key");
    assert!(h.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn unknown_and_unused_events_are_ignored_with_200() {
    let h = Harness::start().await;
    h.connect("42", GOOD_KEY).await;
    let body = br#"{"event":"brand.created","merchant":42,"created_at":"2024-01-01 10:00:00","data":{"id":1}}"#;
    let a = h.post_signed(body).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["outcome"], "ignored");
    assert!(h.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn malformed_authentic_bodies_get_a_clear_400() {
    let h = Harness::start().await;
    for body in [
        &b"not json"[..],
        b"[]",
        b"{\"event\":\"order.created\"}",
        b"{\"event\":\"order.created\",\"merchant\":1,\"data\":{\"id\":null}}",
        b"\xff\xfe\x00",
    ] {
        let a = h.post_signed(body).await;
        assert!(
            a.status == 400 || (a.status == 200 && a.body["outcome"] == "no_klaviyo_key"),
            "{:?} → {} {}",
            String::from_utf8_lossy(body),
            a.status,
            a.body
        );
    }
    let huge = vec![b' '; 2 * 1024 * 1024];
    let a = h.post_signed(&huge).await;
    assert_eq!(a.status, 413);
}

#[tokio::test]
async fn klaviyo_outage_gives_503_and_replay_after_recovery_delivers_exactly_once() {
    let h = Harness::start().await;
    let body = sample("order.created.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;

    // Klaviyo down for longer than our budget.
    h.klaviyo.push_fault(Fault::Status {
        status: 503,
        retry_after: None,
        times: 1000,
    });
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.body["error"], "unavailable");
    assert!(
        a.elapsed < Duration::from_secs(5),
        "answered within the budget: {:?}",
        a.elapsed
    );
    assert_eq!(h.klaviyo.events().len(), 0);

    // Recovery, then Salla's redeliveries (twice, as duplicates happen).
    h.klaviyo.reset();
    let first = h.post_signed(&body).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let expected = h.klaviyo.distinct_event_ids();
    assert!(expected >= 2, "Placed Order + Ordered Product at least");
    assert_eq!(h.post_signed(&body).await.status, 200);
    assert_eq!(h.klaviyo.distinct_event_ids(), expected);
    assert_eq!(
        h.klaviyo.events().len(),
        expected,
        "each event recorded exactly once"
    );
}

#[tokio::test]
async fn partial_failure_is_retried_by_salla_without_duplicates() {
    // One attempt per request: the first two requests fail, the rest go through.
    let policy = RetryPolicy {
        max_attempts: 1,
        ..fast_policy()
    };
    let h = Harness::start_with(Arc::new(MemoryKeyStore::new()), policy, &[]).await;
    let body = sample("order.created.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    h.klaviyo.push_fault(Fault::Status {
        status: 500,
        retry_after: None,
        times: 2,
    });
    assert_eq!(h.post_signed(&body).await.status, 503);
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let ids: BTreeSet<String> = h.event_unique_ids().into_iter().collect();
    assert_eq!(h.klaviyo.distinct_event_ids(), ids.len());
    assert_eq!(h.klaviyo.events().len(), ids.len());
}

#[tokio::test]
async fn rate_limit_honours_retry_after_then_succeeds() {
    let h = Harness::start().await;
    let body = sample("customer.login.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    h.klaviyo.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(1),
        times: 1,
    });
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(
        a.elapsed >= Duration::from_secs(1),
        "waited Retry-After: {:?}",
        a.elapsed
    );
    let statuses: Vec<u16> = h.klaviyo.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses[0], 429);
    assert!(
        statuses[1..].iter().all(|s| (200..300).contains(s)),
        "{statuses:?}"
    );

    // A Retry-After past our budget: hand the retry to Salla at once.
    h.klaviyo.reset();
    h.klaviyo.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(60),
        times: 1,
    });
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 503);
    assert!(a.elapsed < Duration::from_secs(2), "{:?}", a.elapsed);
}

#[tokio::test]
async fn a_minute_window_429_is_handed_to_salla_even_with_budget_left() {
    // Klaviyo's steady window answers Retry-After up to 60 s. With 20 s of budget left the
    // intake could sleep 10 s, but that holds a Lambda (and a slot of the reserved
    // concurrency) for nothing Salla's redelivery would not do: answered 503 at once.
    let policy = RetryPolicy {
        budget: Duration::from_secs(20),
        ..fast_policy()
    };
    let h = Harness::start_with(Arc::new(MemoryKeyStore::new()), policy, &[]).await;
    let body = sample("customer.login.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    h.klaviyo.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(10),
        times: 1,
    });
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(a.elapsed < Duration::from_secs(2), "{:?}", a.elapsed);
    let statuses: Vec<u16> = h.klaviyo.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429]);

    // Salla's redelivery, once the window has reset, lands it.
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

#[tokio::test]
async fn dropped_connections_and_slow_answers_are_retried() {
    let h = Harness::start().await;
    let body = sample("customer.login.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    h.klaviyo.push_fault(Fault::Drop { times: 1 });
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);

    // Slower than one attempt's timeout (1 s in the fast policy): retried, then delivered.
    h.klaviyo.reset();
    h.klaviyo.push_fault(Fault::Delay {
        delay: Duration::from_millis(1500),
        times: 1,
    });
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(h.klaviyo.events().len(), h.klaviyo.distinct_event_ids());
}

#[tokio::test]
async fn revoked_key_answers_424_and_marks_the_store_for_reconnection() {
    let h = Harness::start().await;
    let body = sample("customer.login.json");
    let store = merchant_of(&body).unwrap();
    h.connect(&store, "pk_revoked_key_9999").await;
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 424, "{}", a.body);
    assert_eq!(a.body["error"], "klaviyo_key_revoked");
    let record = h.store.get(&store).await.unwrap().unwrap();
    assert!(record.klaviyo.unwrap().needs_reconnect);
}

#[tokio::test]
async fn duplicate_profile_phone_is_resent_without_the_phone() {
    let h = Harness::start().await;
    let body = sample("order.created.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    h.klaviyo.duplicate_profile_phone("+966501806978");
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let requests = h.klaviyo.requests();
    assert!(
        requests.iter().any(|r| r.status == 400 || r.status == 409),
        "the phone was refused once"
    );
    let placed_ok = requests.iter().any(|r| {
        (200..300).contains(&r.status)
            && r.body.as_ref().is_some_and(|b| {
                b.pointer("/data/attributes/metric/data/attributes/name")
                    == Some(&json!("Placed Order"))
                    && b.pointer("/data/attributes/profile/data/attributes/phone_number")
                        .is_none()
            })
    });
    assert!(placed_ok, "Placed Order went through without the phone");
    assert!(h.klaviyo.violations().is_empty());
}

#[tokio::test]
async fn lifecycle_authorize_settings_and_uninstall() {
    let h = Harness::start().await;
    let authorize = fresh(&sample("app.store.authorize.json"));
    let store = merchant_of(&authorize).unwrap();

    let a = h.post_signed(&authorize).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "salla_tokens_stored");
    let tokens = h
        .store
        .get(&store)
        .await
        .unwrap()
        .unwrap()
        .salla
        .expect("tokens stored");
    assert!(!tokens.access_token.is_empty());
    assert!(tokens.expires_at > 1_000_000_000);

    // Settings with an invalid key: validated, not stored.
    let mut settings: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    settings["data"]["settings"]["klaviyo_private_key"] = json!("pk_not_a_real_key");
    let bad = fresh(&serde_json::to_vec(&settings).unwrap());
    let a = h.post_signed(&bad).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "klaviyo_key_rejected");
    assert!(
        h.store
            .get(&store)
            .await
            .unwrap()
            .unwrap()
            .klaviyo
            .is_none()
    );

    // A valid key: stored with the account name, and the tokens kept.
    settings["data"]["settings"]["klaviyo_private_key"] = json!(GOOD_KEY);
    let good = fresh(&serde_json::to_vec(&settings).unwrap());
    let a = h.post_signed(&good).await;
    assert_eq!(a.body["outcome"], "klaviyo_key_stored", "{}", a.body);
    let record = h.store.get(&store).await.unwrap().unwrap();
    let k = record.klaviyo.expect("key stored");
    assert_eq!(k.private_key.expose(), GOOD_KEY);
    assert_eq!(k.account_id.as_deref(), Some("AbC123"));
    assert!(record.salla.is_some(), "settings must not drop the tokens");
    // The same delivery again changes nothing (idempotent).
    assert_eq!(
        h.post_signed(&good).await.body["outcome"],
        "klaviyo_key_stored"
    );

    // Uninstall deletes everything for the store at once, leaving a deletion marker.
    let a = h.post_signed(&fresh(&sample("app.uninstalled.json"))).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["outcome"], "store_deleted");
    let marker = h.store.get(&store).await.unwrap().expect("deletion marker");
    assert!(marker.klaviyo.is_none() && marker.salla.is_none() && marker.ttl.is_some());
    // Events after uninstall reach nobody.
    let login =
        br#"{"event":"customer.login","merchant":1234509876,"data":{"id":1,"email":"x@y.z"}}"#;
    assert_eq!(h.post_signed(login).await.body["outcome"], "no_klaviyo_key");
}

#[tokio::test]
async fn base64_function_url_bodies_are_verified_on_the_decoded_bytes() {
    use base64::Engine;
    let encode = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let h = Harness::start().await;
    let body = sample("customer.login.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    // A function-URL event as Lambda delivers it, body base64-encoded.
    let event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": "/", "rawQueryString": "",
        "headers": {"content-type": "application/json", "x-salla-signature": sign(&body)},
        "requestContext": {"accountId": "anonymous", "apiId": "x", "domainName": "x.lambda-url.us-east-1.on.aws",
            "domainPrefix": "x", "http": {"method": "POST", "path": "/", "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1", "userAgent": "Salla"}, "requestId": "r", "routeKey": "$default",
            "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": encode(&body), "isBase64Encoded": true
    });
    let req = lambda_http::request::from_str(&event.to_string()).expect("function URL event");
    let store: Arc<dyn KeyStore> = h.store.clone();
    let (config, _) = adapters::config::Config::from_lookup(
        |k| match k {
            "SALLA_WEBHOOK_SECRET" => Some(e2e::harness::WEBHOOK_SECRET.into()),
            "KLAVIYO_API_URL" => Some(h.klaviyo.base_url.clone()),
            _ => None,
        },
        adapters::config::Profile::Dev { port: 0 },
    )
    .unwrap();
    let deps = webhook_intake::Deps::new(&config, store);
    let resp = webhook_intake::handle(&deps, req).await;
    assert_eq!(resp.status().as_u16(), 200);
    assert!(!h.klaviyo.requests().is_empty());
}

/// Cart enrichment refreshes a nearly expired Salla token exactly once under concurrency.
#[tokio::test]
async fn concurrent_refreshes_spend_the_refresh_token_once() {
    use refresher::CountingRefresher;
    let store = Arc::new(MemoryKeyStore::new());
    let mut record = StoreRecord::new("77");
    record.salla = Some(SallaTokens {
        access_token: Secret::new("old-access"),
        refresh_token: Secret::new("single-use-refresh"),
        expires_at: adapters::clock::now_unix() + 60,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    store.put(&record).await.unwrap();
    let (config, _) =
        adapters::config::Config::from_lookup(|_| None, adapters::config::Profile::Dev { port: 0 })
            .unwrap();
    let mut deps = webhook_intake::Deps::new(&config, store.clone());
    let refresher = Arc::new(CountingRefresher::default());
    deps.refresher = refresher.clone();
    let deps = Arc::new(deps);
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let deps = deps.clone();
        tasks.push(tokio::spawn(async move {
            let refresh = adapters::salla::refresh::TokenRefresh {
                store: deps.store.as_ref(),
                refresher: deps.refresher.as_ref(),
                locks: &deps.refresh_locks,
            };
            let deadline = adapters::deadline::Deadline::after(Duration::from_secs(20));
            refresh.run("77", deadline).await
        }));
    }
    let mut fresh = 0;
    for t in tasks {
        if let Ok(adapters::salla::refresh::Refresh::Refreshed(token)) = t.await.unwrap() {
            assert_eq!(token.expose(), "new-access");
            fresh += 1;
        }
    }
    assert_eq!(
        refresher.calls(),
        1,
        "the single-use refresh token is spent once"
    );
    assert!(fresh >= 1);
    let stored = store.get("77").await.unwrap().unwrap().salla.unwrap();
    assert_eq!(stored.refresh_token.expose(), "next-refresh");
    assert_eq!(stored.refresh_lease_until, None);
}

mod refresher {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[derive(Default)]
    pub struct CountingRefresher {
        calls: AtomicUsize,
    }

    impl CountingRefresher {
        pub fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait::async_trait]
    impl adapters::salla::refresh::TokenRefresher for CountingRefresher {
        async fn refresh(
            &self,
            _refresh_token: &Secret,
            _timeout: Duration,
        ) -> Result<SallaTokens, adapters::salla::refresh::RefreshError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(50)).await;
            Ok(SallaTokens {
                access_token: Secret::new("new-access"),
                refresh_token: Secret::new("next-refresh"),
                expires_at: adapters::clock::now_unix() + 1_209_599,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            })
        }
    }
}

#[tokio::test]
async fn revoked_key_recovers_after_reconnect() {
    let h = Harness::start().await;
    let body = sample("customer.login.json");
    let store = merchant_of(&body).unwrap();
    h.klaviyo.add_account(
        "pk_scope_less_key",
        StubAccount {
            name: "x".into(),
            id: "Zz9".into(),
            scopes_ok: false,
        },
    );
    h.connect(&store, "pk_scope_less_key").await;
    assert_eq!(h.post_signed(&body).await.status, 424);
    h.connect(&store, GOOD_KEY).await;
    assert_eq!(h.post_signed(&body).await.status, 200);
}

/// A tiny Salla Merchant API: `GET /products/{id}` for one bearer token, counting lookups.
async fn product_api(token: &'static str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use http_body_util::Full;
    use hyper::body::Bytes;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        counter.fetch_add(1, Ordering::SeqCst);
                        let authorised = req
                            .headers()
                            .get("authorization")
                            .and_then(|v| v.to_str().ok())
                            == Some(&format!("Bearer {token}"));
                        let id = req
                            .uri()
                            .path()
                            .trim_start_matches("/products/")
                            .to_string();
                        let (status, body) = if !authorised {
                            (401, json!({"status": 401, "success": false}))
                        } else {
                            (
                                200,
                                json!({"status": 200, "success": true, "data": {
                            "id": id, "name": format!("منتج {id}"), "sku": format!("SKU-{id}"),
                            "price": {"amount": 120, "currency": "SAR"},
                            "url": format!("https://shop.example/p{id}"),
                            "main_image": format!("https://cdn.example/{id}.jpg")}}),
                            )
                        };
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                hyper::Response::builder()
                                    .status(status)
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(body.to_string())))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (url, calls)
}

#[tokio::test]
async fn abandoned_cart_is_enriched_from_the_salla_api_and_cached() {
    let (api_url, lookups) = product_api("live-access-token").await;
    let h = Harness::start_with(
        Arc::new(MemoryKeyStore::new()),
        fast_policy(),
        &[("SALLA_API_URL", api_url.as_str())],
    )
    .await;
    let body = sample("abandoned.cart.json");
    let store = merchant_of(&body).unwrap();
    let mut record = StoreRecord::new(store.as_str());
    record.salla = Some(SallaTokens {
        access_token: Secret::new("live-access-token"),
        refresh_token: Secret::new("unused-refresh"),
        expires_at: adapters::clock::now_unix() + 10 * 24 * 3600,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    h.store.put(&record).await.unwrap();
    h.connect(&store, GOOD_KEY).await;

    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let checkout = h
        .klaviyo
        .requests()
        .into_iter()
        .filter_map(|r| r.body)
        .find(|b| {
            b.pointer("/data/attributes/metric/data/attributes/name")
                == Some(&json!("Started Checkout"))
        })
        .expect("Started Checkout sent");
    let items = checkout
        .pointer("/data/attributes/properties/Items")
        .unwrap()
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["ProductName"], "منتج 401511871");
    assert_eq!(items[0]["ImageURL"], "https://cdn.example/401511871.jpg");
    assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), 2);
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );

    // Salla redelivers: the products come from the warm cache, the request is byte-identical.
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200);
    assert_eq!(
        lookups.load(std::sync::atomic::Ordering::SeqCst),
        2,
        "no second lookup"
    );
    let bodies: Vec<Value> = h
        .klaviyo
        .requests()
        .into_iter()
        .filter_map(|r| r.body)
        .filter(|b| {
            b.pointer("/data/attributes/metric/data/attributes/name")
                == Some(&json!("Started Checkout"))
        })
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1]);
}

#[tokio::test]
async fn abandoned_cart_without_salla_tokens_still_goes_out() {
    let h = Harness::start().await;
    let body = sample("abandoned.cart.json");
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "sent");
    assert!(h.klaviyo.violations().is_empty());
}

#[tokio::test]
async fn switching_a_store_to_another_klaviyo_account_is_reported_as_such() {
    let h = Harness::start().await;
    let mut settings: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    h.klaviyo
        .add_account("pk_other_account_key", StubAccount::new("Other", "Other9"));
    settings["data"]["settings"]["klaviyo_private_key"] = json!(GOOD_KEY);
    let first = h
        .post_signed(&fresh(&serde_json::to_vec(&settings).unwrap()))
        .await;
    assert_eq!(
        first.body["outcome"], "klaviyo_key_stored",
        "{}",
        first.body
    );
    // A new key of the same account is a plain replacement; another account is a switch,
    // which the operator must be able to see and count.
    settings["data"]["settings"]["klaviyo_private_key"] = json!("pk_other_account_key");
    let switch = h
        .post_signed(&fresh(&serde_json::to_vec(&settings).unwrap()))
        .await;
    assert_eq!(switch.status, 200);
    assert_eq!(
        switch.body["outcome"], "klaviyo_account_changed",
        "{}",
        switch.body
    );
    let record = h.store.get(&store).await.unwrap().unwrap();
    assert_eq!(
        record.klaviyo.unwrap().account_id.as_deref(),
        Some("Other9")
    );
}
