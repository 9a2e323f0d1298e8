//! A courier's shipment webhook that names no customer (Salla's outbound shipment payloads
//! carry the order id and the `ship_to` address) reaches the order's customer: the intake
//! reads the order from Salla's Merchant API (the stub) with the store's token, and the
//! Klaviyo stub receives the milestones on that customer's profile, never on `ship_to`'s.
//! Salla down answers 503, so Salla redelivers instead of the event being dropped.

use std::sync::Arc;

use adapters::Secret;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use e2e::harness::{GOOD_KEY, Harness, fast_policy, fresh, sample};
use salla_api_stub::{Dataset, RateConfig, SallaApiStub};
use serde_json::{Value, json};

const STORE: &str = "1305146711";
const TOKEN: &str = "ory_at_shipment_e2e";

async fn world() -> (Harness, SallaApiStub, u64, String) {
    let salla = SallaApiStub::start().await;
    salla.set_rate_limits(RateConfig::OFF, RateConfig::OFF);
    salla.add_store(STORE, TOKEN, Dataset::new(3, 10, 5, 5));
    let order = salla.order_ids(STORE)[0];
    let email = salla.order_detail(STORE, order).unwrap()["customer"]["email"]
        .as_str()
        .expect("the order's customer has an email")
        .to_owned();
    let now = adapters::clock::now_unix();
    let keys = Arc::new(MemoryKeyStore::new());
    keys.put(&StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(GOOD_KEY),
            account_name: None,
            account_id: None,
            validated_at: now,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("ory_rt_shipment_e2e"),
            expires_at: now + 10 * 86_400,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        ..StoreRecord::new(STORE)
    })
    .await
    .unwrap();
    let h = Harness::start_with(
        keys,
        fast_policy(),
        &[("SALLA_API_URL", salla.base_url.as_str())],
    )
    .await;
    (h, salla, order, email)
}

fn shipment(order: u64) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample("shipment.creating.json")).unwrap();
    v["event"] = json!("shipment.updated");
    v["merchant"] = json!(STORE.parse::<u64>().unwrap());
    v["data"]["order_id"] = json!(order);
    v["data"].as_object_mut().unwrap().remove("customer");
    v["data"]["ship_to"]["email"] = json!("gift.recipient@example.com");
    fresh(&serde_json::to_vec(&v).unwrap())
}

#[tokio::test]
async fn a_shipment_without_a_customer_reaches_the_order_s_customer() {
    let (h, salla, order, email) = world().await;
    let answer = h.post_signed(&shipment(order)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let events = h.klaviyo.events();
    assert!(!events.is_empty(), "the shipment's milestones were sent");
    for e in &events {
        let profile = &e["data"]["attributes"]["profile"]["data"]["attributes"];
        assert_eq!(profile["email"], json!(email), "{e}");
    }
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );
    let reads: Vec<_> = salla
        .calls()
        .into_iter()
        .filter(|c| c.method == "GET" && c.path.starts_with("/orders/"))
        .collect();
    assert_eq!(reads.len(), 1, "{reads:?}");
}

#[tokio::test]
async fn salla_down_is_answered_503_for_a_redelivery() {
    let (h, salla, order, _) = world().await;
    salla.fail_next(20, 503);
    let answer = h.post_signed(&shipment(order)).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(h.klaviyo.events().is_empty());
}
