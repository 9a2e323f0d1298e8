//! The intake's limits toward Klaviyo: a bounded number of requests in flight per webhook,
//! and a revoked key not called again on every event.

use std::time::Duration;

use e2e::harness::{GOOD_KEY, Harness, merchant_of, sample};
use serde_json::Value;

/// An order.created sample with `lines` order lines (each its own Ordered Product event).
fn big_order(lines: usize) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample("order.created.json")).unwrap();
    let item = v["data"]["items"][0].clone();
    let items: Vec<Value> = (0..lines)
        .map(|i| {
            let mut it = item.clone();
            it["id"] = Value::from(1_000_000 + i as u64);
            it
        })
        .collect();
    v["data"]["items"] = Value::Array(items);
    serde_json::to_vec(&v).unwrap()
}

/// A 300-line order must not open 300 connections to Klaviyo at once.
#[tokio::test]
async fn a_large_order_keeps_klaviyo_requests_in_flight_bounded() {
    let h = Harness::start().await;
    let body = big_order(300);
    h.connect(&merchant_of(&body).unwrap(), GOOD_KEY).await;
    // Latency makes concurrent requests overlap at the stub; nothing here is timed.
    h.klaviyo.set_latency(Duration::from_millis(20));
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let sent = a.body["requests"].as_u64().unwrap() as usize;
    assert!(sent > 300, "every line became a request: {sent}");
    let max = h.klaviyo.max_in_flight();
    assert!(
        (2..=webhook_intake::relay::MAX_IN_FLIGHT).contains(&max),
        "{max} Klaviyo requests in flight at once"
    );
}

/// While a store is flagged for reconnection its key is not sent on every event: the intake
/// answers 424 (Salla redelivers, so the event is not lost) without calling Klaviyo.
#[tokio::test]
async fn a_revoked_key_is_not_called_on_every_event() {
    let h = Harness::start().await;
    let body = sample("customer.login.json");
    let store = merchant_of(&body).unwrap();
    h.connect(&store, "pk_revoked_key_9999").await;
    assert_eq!(h.post_signed(&body).await.status, 424);
    let after_first = h.klaviyo.stats().requests;
    assert!(after_first > 0);
    for _ in 0..3 {
        let a = h.post_signed(&body).await;
        assert_eq!(a.status, 424, "{}", a.body);
        assert_eq!(a.body["error"], "klaviyo_key_revoked");
    }
    assert_eq!(
        h.klaviyo.stats().requests,
        after_first,
        "the revoked key was sent again"
    );
    // A new key clears the flag and relays at once.
    h.connect(&store, GOOD_KEY).await;
    assert_eq!(h.post_signed(&body).await.status, 200);
}
