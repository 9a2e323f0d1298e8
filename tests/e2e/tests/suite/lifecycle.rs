//! App lifecycle events end to end: what a settings, authorize or uninstall delivery may change
//! in what we hold for a store, whatever order or how often Salla delivers them.

use e2e::harness::{GOOD_KEY, Harness, merchant_of, sample};
use klaviyo_stub::Fault;
use serde_json::{Value, json};

fn settings_with(key: Value) -> Vec<u8> {
    let mut settings: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    settings["data"]["settings"]["klaviyo_private_key"] = key;
    serde_json::to_vec(&settings).unwrap()
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
    let a = h.post_signed(&sample("app.settings.updated.json")).await;
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
