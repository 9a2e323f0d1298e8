//! App lifecycle events end to end: what a settings, authorize or uninstall delivery may change
//! in what we hold for a store, whatever order or how often Salla delivers them.

use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::clock::now_unix;
use adapters::keystore::cached::CachedKeyStore;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, StoreRecord, update};
use e2e::harness::{GOOD_KEY, Harness, fast_policy, fresh, merchant_of, sample, stamped};
use klaviyo_stub::{Fault, StubAccount};
use serde_json::{Value, json};

/// A second key of another Klaviyo account, known to the stub once added.
const OTHER_KEY: &str = "pk_e2e_other_key_0002";

fn settings_with(key: Value) -> Vec<u8> {
    fresh(&settings_body(key))
}

fn settings_body(key: Value) -> Vec<u8> {
    let mut settings: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    settings["data"]["settings"]["klaviyo_private_key"] = key;
    serde_json::to_vec(&settings).unwrap()
}

/// `body` for `store`, sent `ago` seconds before now.
fn sent(body: &[u8], store: &str, ago: i64) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v["merchant"] = json!(store.parse::<u64>().unwrap());
    stamped(&serde_json::to_vec(&v).unwrap(), now_unix() - ago)
}

fn settings(store: &str, key: &str, ago: i64) -> Vec<u8> {
    sent(&settings_body(json!(key)), store, ago)
}

fn authorize(store: &str, ago: i64) -> Vec<u8> {
    sent(&sample("app.store.authorize.json"), store, ago)
}

fn uninstall(store: &str, ago: i64) -> Vec<u8> {
    sent(&sample("app.uninstalled.json"), store, ago)
}

/// A harness over `memory` (so a test can look at everything held), with a second Klaviyo
/// account known to the stub.
async fn over(memory: &Arc<MemoryKeyStore>) -> Harness {
    let h = Harness::start_with(memory.clone(), fast_policy(), &[]).await;
    h.klaviyo
        .add_account(OTHER_KEY, StubAccount::new("Other", "Other9"));
    h
}

async fn outcome(h: &Harness, body: &[u8]) -> String {
    let a = h.post_signed(body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["outcome"].as_str().unwrap_or_default().to_string()
}

async fn held_key(h: &Harness, store: &str) -> Option<String> {
    h.store
        .get(store)
        .await
        .unwrap()
        .and_then(|r| r.klaviyo)
        .map(|k| k.private_key.expose().to_owned())
}

#[tokio::test]
async fn settings_without_the_key_field_keep_the_store_connected() {
    let h = Harness::start().await;
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    h.connect(&store, GOOD_KEY).await;

    // The sample's settings carry no key field at all.
    let a = h
        .post_signed(&fresh(&sample("app.settings.updated.json")))
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "settings_without_key");
    assert_eq!(held_key(&h, &store).await.as_deref(), Some(GOOD_KEY));

    let a = h.post_signed(&settings_with(Value::Null)).await;
    assert_eq!(a.body["outcome"], "settings_without_key", "{}", a.body);
    assert_eq!(held_key(&h, &store).await.as_deref(), Some(GOOD_KEY));

    // Only an explicit empty value disconnects.
    let a = h.post_signed(&settings_with(json!(""))).await;
    assert_eq!(a.body["outcome"], "klaviyo_key_removed", "{}", a.body);
    assert_eq!(held_key(&h, &store).await, None);
}

#[tokio::test]
async fn a_malformed_settings_key_is_refused_without_asking_klaviyo() {
    let h = Harness::start().await;
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    let before = h.klaviyo.requests().len();
    let a = h.post_signed(&settings_with(json!("AbC123"))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "klaviyo_key_malformed");
    assert_eq!(
        h.klaviyo.requests().len(),
        before,
        "no key check for a non-key"
    );
    assert_eq!(held_key(&h, &store).await, None);
}

#[tokio::test]
async fn a_klaviyo_outage_while_saving_the_key_makes_salla_redeliver() {
    let h = Harness::start().await;
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    let body = settings_with(json!(GOOD_KEY));
    for status in [503, 429] {
        h.klaviyo.push_fault_on(
            "GET",
            "/api/accounts",
            Fault::Status {
                status,
                retry_after: None,
                times: 1,
            },
        );
        let a = h.post_signed(&body).await;
        assert_eq!(a.status, 503, "Klaviyo {status}: {}", a.body);
        assert_eq!(held_key(&h, &store).await, None);
    }
    // Salla's redelivery, once Klaviyo answers again, stores the key.
    let a = h.post_signed(&body).await;
    assert_eq!(a.body["outcome"], "klaviyo_key_stored", "{}", a.body);
    assert_eq!(held_key(&h, &store).await.as_deref(), Some(GOOD_KEY));
}

/// Salla redelivers an older settings event after a newer one: the newer key stays.
#[tokio::test]
async fn an_older_settings_event_delivered_late_keeps_the_newer_key() {
    let memory = Arc::new(MemoryKeyStore::new());
    let h = over(&memory).await;
    let store = "1234509876";
    assert_eq!(
        outcome(&h, &settings(store, OTHER_KEY, 60)).await,
        "klaviyo_key_stored"
    );
    assert_eq!(
        outcome(&h, &settings(store, GOOD_KEY, 360)).await,
        "stale_lifecycle"
    );
    assert_eq!(held_key(&h, store).await.as_deref(), Some(OTHER_KEY));
}

/// A settings event sent before the uninstall but delivered after it stores nothing: the
/// table holds the deletion marker and nothing else.
#[tokio::test]
async fn settings_after_an_uninstall_store_nothing() {
    let memory = Arc::new(MemoryKeyStore::new());
    let h = over(&memory).await;
    let store = "1234509876";
    assert_eq!(
        outcome(&h, &authorize(store, 120)).await,
        "salla_tokens_stored"
    );
    assert_eq!(outcome(&h, &uninstall(store, 30)).await, "store_deleted");
    assert_eq!(
        outcome(&h, &settings(store, GOOD_KEY, 60)).await,
        "stale_lifecycle"
    );
    assert_eq!(outcome(&h, &authorize(store, 120)).await, "stale_lifecycle");

    assert_eq!(memory.len(), 1, "only the marker");
    let marker = memory.get(store).await.unwrap().expect("marker");
    assert_eq!(
        marker,
        StoreRecord {
            store_id: store.into(),
            version: marker.version,
            lifecycle: marker.lifecycle,
            ttl: marker.ttl,
            ..StoreRecord::default()
        }
    );
    assert!(marker.ttl.is_some_and(|t| t > now_unix()));
}

/// An uninstall from before a reinstall, delivered after it, leaves the reinstall alone.
#[tokio::test]
async fn a_late_uninstall_keeps_the_reinstall() {
    let memory = Arc::new(MemoryKeyStore::new());
    let h = over(&memory).await;
    let store = "1234509876";
    assert_eq!(
        outcome(&h, &authorize(store, 300)).await,
        "salla_tokens_stored"
    );
    assert_eq!(outcome(&h, &uninstall(store, 200)).await, "store_deleted");
    assert_eq!(
        outcome(&h, &authorize(store, 100)).await,
        "salla_tokens_stored"
    );
    assert_eq!(
        outcome(&h, &settings(store, GOOD_KEY, 90)).await,
        "klaviyo_key_stored"
    );
    // Salla's retry of an uninstall sent between the two installs.
    assert_eq!(outcome(&h, &uninstall(store, 150)).await, "stale_lifecycle");
    let record = memory.get(store).await.unwrap().unwrap();
    assert!(record.salla.is_some() && record.ttl.is_none());
    assert_eq!(held_key(&h, store).await.as_deref(), Some(GOOD_KEY));
}

/// A replayed authorize (the same signed body) after the tokens were refreshed: the
/// refreshed tokens stay, and the spent refresh token is never restored.
#[tokio::test]
async fn a_replayed_authorize_keeps_the_refreshed_tokens() {
    let memory = Arc::new(MemoryKeyStore::new());
    let h = over(&memory).await;
    let store = "1234509876";
    let body = authorize(store, 600);
    assert_eq!(outcome(&h, &body).await, "salla_tokens_stored");
    let now = now_unix();
    update(memory.as_ref(), store, |r| {
        let s = r.salla.as_mut().unwrap();
        s.access_token = Secret::new("refreshed-access");
        s.refresh_token = Secret::new("refreshed-refresh");
        s.expires_at = now + 14 * 24 * 3600;
    })
    .await
    .unwrap();
    assert_eq!(outcome(&h, &body).await, "stale_lifecycle");
    let tokens = memory.get(store).await.unwrap().unwrap().salla.unwrap();
    assert_eq!(tokens.refresh_token.expose(), "refreshed-refresh");
}

/// A lifecycle body sent seven hours ago is a replay, not a retry: ignored.
#[tokio::test]
async fn a_seven_hour_old_lifecycle_body_is_ignored() {
    let memory = Arc::new(MemoryKeyStore::new());
    let h = over(&memory).await;
    let store = "1234509876";
    let old = 7 * 3600;
    assert_eq!(
        outcome(&h, &settings(store, GOOD_KEY, old)).await,
        "lifecycle_too_old"
    );
    assert_eq!(
        outcome(&h, &authorize(store, old)).await,
        "lifecycle_too_old"
    );
    assert!(memory.is_empty());
    // Far ahead of our clock: ignored too.
    assert_eq!(
        outcome(&h, &settings(store, GOOD_KEY, -2 * 3600)).await,
        "lifecycle_from_future"
    );
    assert!(memory.is_empty());
}

/// Two warm intakes over one table: one relays for the store, the other sees it uninstalled
/// and reinstalled with another key. The first relays with the new key from its next check
/// of the record, not the key from before the uninstall until its cache entry expires.
#[tokio::test]
async fn a_reinstall_with_a_new_key_is_used_at_once() {
    let memory = Arc::new(MemoryKeyStore::new());
    let warm = |memory: &Arc<MemoryKeyStore>| -> Arc<dyn KeyStore> {
        Arc::new(
            CachedKeyStore::new(memory.clone(), Duration::from_secs(60))
                .with_recheck(Duration::ZERO),
        )
    };
    let relaying = Harness::start_with(warm(&memory), fast_policy(), &[]).await;
    relaying
        .klaviyo
        .add_account(OTHER_KEY, StubAccount::new("Other", "Other9"));
    let other = Harness::start_with(warm(&memory), fast_policy(), &[]).await;
    other
        .klaviyo
        .add_account(OTHER_KEY, StubAccount::new("Other", "Other9"));

    let order = sample("order.created.json");
    let store = merchant_of(&order).unwrap();
    assert_eq!(
        outcome(&other, &authorize(&store, 300)).await,
        "salla_tokens_stored"
    );
    assert_eq!(
        outcome(&other, &settings(&store, GOOD_KEY, 290)).await,
        "klaviyo_key_stored"
    );
    assert_eq!(outcome(&relaying, &order).await, "sent");

    assert_eq!(
        outcome(&other, &uninstall(&store, 200)).await,
        "store_deleted"
    );
    assert_eq!(
        outcome(&other, &authorize(&store, 100)).await,
        "salla_tokens_stored"
    );
    assert_eq!(
        outcome(&other, &settings(&store, OTHER_KEY, 90)).await,
        "klaviyo_key_stored"
    );

    let before = relaying.klaviyo.requests().len();
    assert_eq!(outcome(&relaying, &order).await, "sent");
    let keys: Vec<Option<String>> = relaying.klaviyo.requests()[before..]
        .iter()
        .map(|r| r.api_key.clone())
        .collect();
    assert!(!keys.is_empty());
    assert!(
        keys.iter().all(|k| k.as_deref() == Some(OTHER_KEY)),
        "relayed with the key from before the uninstall: {keys:?}"
    );
}
