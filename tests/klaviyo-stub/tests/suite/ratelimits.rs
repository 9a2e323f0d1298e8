//! The rate-limit mode: Klaviyo's per-account burst (1 s) and steady (1 min) windows per
//! endpoint, 429 with `Retry-After` and Klaviyo's JSON:API error, and recovery once the
//! window rolls over. The stub's clock is manual here, so no test waits or depends on speed.

use crate::common;

use std::time::Duration;

use common::{KEY, client, event, into_parts, request_with, send, stub};
use klaviyo_stub::{KlaviyoStub, REVISION, RateLimitMode, StubAccount};
use serde_json::Value;

const OTHER_KEY: &str = "pk_other_account_0000000000";

async fn limited_stub() -> KlaviyoStub {
    let stub = stub().await;
    stub.add_account(OTHER_KEY, StubAccount::new("Other", "ZzZ999"));
    stub.set_rate_limits(RateLimitMode::Klaviyo);
    stub.use_manual_clock();
    stub.set_recording(false);
    stub
}

/// Sends `n` distinct events (unique ids `{tag}-{i}`) on one connection; returns the statuses.
async fn events(stub: &KlaviyoStub, key: &str, tag: &str, n: usize) -> Vec<u16> {
    let c = client();
    let mut statuses = Vec::with_capacity(n);
    for i in 0..n {
        let e = event(
            "shopper@example.com",
            "Placed Order",
            Some(&format!("{tag}-{i}")),
        );
        let r = c
            .post(format!("{}/api/events", stub.base_url))
            .header("Authorization", format!("Klaviyo-API-Key {key}"))
            .header("revision", REVISION)
            .header("Content-Type", "application/vnd.api+json")
            .body(e.to_string())
            .send()
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    statuses
}

/// One event that must be throttled: (Retry-After seconds, the error object).
async fn throttled_event(stub: &KlaviyoStub, unique_id: &str) -> (u64, Value) {
    let e = event("shopper@example.com", "Placed Order", Some(unique_id));
    let r = common::request(stub, "POST", "/api/events", Some(&e))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 429);
    let retry_after = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .expect("Retry-After in whole seconds");
    assert!(
        r.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("application/vnd.api+json")),
        "a JSON:API error body"
    );
    let (_, body) = into_parts(r).await;
    let err = body.expect("error body")["errors"][0].clone();
    (retry_after, err)
}

#[tokio::test]
async fn off_by_default_a_burst_past_klaviyo_s_limit_is_served() {
    let stub = stub().await;
    stub.set_recording(false);
    let statuses = events(&stub, KEY, "o", 360).await;
    assert!(statuses.iter().all(|s| *s == 202), "{statuses:?}");
    assert_eq!(stub.stats().throttled, 0);
}

#[tokio::test]
async fn events_burst_past_350_in_a_second_is_429_with_retry_after_then_recovers() {
    let stub = limited_stub().await;
    let statuses = events(&stub, KEY, "burst", 350).await;
    assert!(statuses.iter().all(|s| *s == 202));

    let (retry_after, err) = throttled_event(&stub, "burst-350").await;
    assert_eq!(retry_after, 1);
    assert_eq!(err["status"], 429);
    assert_eq!(err["code"], "throttled");
    assert_eq!(err["title"], "Request was throttled.");
    assert!(err["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(
        err["detail"]
            .as_str()
            .is_some_and(|d| d.contains("Expected available in 1 second")),
        "{err}"
    );
    assert_eq!(
        stub.distinct_event_ids(),
        350,
        "a throttled event is not recorded"
    );

    // Another account's quota is its own.
    assert_eq!(events(&stub, OTHER_KEY, "other", 5).await, [202; 5]);

    stub.advance_clock(Duration::from_secs(1));
    assert_eq!(
        send(
            &stub,
            "POST",
            "/api/events",
            Some(&event(
                "shopper@example.com",
                "Placed Order",
                Some("burst-350")
            ))
        )
        .await
        .0,
        202
    );
    assert_eq!(stub.distinct_event_ids(), 356);
    let stats = stub.stats();
    assert_eq!(stats.throttled, 1);
    assert_eq!(stats.throttled_by["POST /api/events burst"], 1);
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
}

#[tokio::test]
async fn events_past_3500_in_a_minute_wait_for_the_minute_then_recover() {
    let stub = limited_stub().await;
    for second in 0..10 {
        let statuses = events(&stub, KEY, &format!("s{second}"), 350).await;
        assert!(statuses.iter().all(|s| *s == 202), "second {second}");
        stub.advance_clock(Duration::from_secs(1));
    }
    // Ten seconds in, the minute's 3,500 are spent: come back in 50 s.
    let (retry_after, err) = throttled_event(&stub, "late").await;
    assert_eq!((retry_after, err["code"].as_str()), (50, Some("throttled")));

    stub.advance_clock(Duration::from_secs(49));
    let (retry_after, _) = throttled_event(&stub, "late").await;
    assert_eq!(retry_after, 1);

    stub.advance_clock(Duration::from_secs(1));
    assert_eq!(events(&stub, KEY, "next-minute", 3).await, [202; 3]);
    let stats = stub.stats();
    assert_eq!(stats.distinct_events, 3_503);
    assert_eq!(stats.throttled_by["POST /api/events steady"], 2);
}

#[tokio::test]
async fn other_endpoints_use_their_own_tier_from_the_spec() {
    let stub = limited_stub().await;
    // GET /api/accounts: 1/s, 15/m.
    let accounts = || async { send(&stub, "GET", "/api/accounts", None).await.0 };
    assert_eq!(accounts().await, 200);
    assert_eq!(accounts().await, 429);
    for _ in 1..15 {
        stub.advance_clock(Duration::from_secs(1));
        assert_eq!(accounts().await, 200);
    }
    stub.advance_clock(Duration::from_secs(1));
    let r = common::request(&stub, "GET", "/api/accounts", None)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("45")
    );
    // Events are a different endpoint with a different counter.
    assert_eq!(events(&stub, KEY, "ev", 2).await, [202; 2]);

    // POST /api/profile-import: 75/s.
    let profile = common::body("profile_import.json");
    let c = client();
    let mut statuses = Vec::new();
    for _ in 0..76 {
        let r = request_with(&c, &stub, "POST", "/api/profile-import", Some(&profile))
            .send()
            .await
            .expect("send");
        statuses.push(r.status().as_u16());
    }
    assert!(statuses[..75].iter().all(|s| *s == 200 || *s == 201));
    assert_eq!(statuses[75], 429);
}

#[tokio::test]
async fn landings_count_first_arrivals_and_dropped_duplicates() {
    let stub = stub().await;
    stub.set_track_landings(true);
    let e = event("shopper@example.com", "Placed Order", Some("o-1"));
    for _ in 0..3 {
        assert_eq!(send(&stub, "POST", "/api/events", Some(&e)).await.0, 202);
    }
    let landings = stub.landings();
    assert_eq!(landings.len(), 1);
    let (metric, unique_id, landing) = &landings[0];
    assert_eq!(
        (metric.as_str(), unique_id.as_str()),
        ("Placed Order", "o-1")
    );
    assert_eq!(landing.duplicates, 2);
    let stats = stub.stats();
    assert_eq!(
        (
            stats.events_accepted,
            stats.distinct_events,
            stats.duplicate_events
        ),
        (3, 1, 2)
    );
    assert_eq!(stats.last_new_event_unix_ms, Some(landing.first_unix_ms));
}
