//! A Klaviyo key from a settings webhook is confirmed with Salla (the store's app settings,
//! read with the store's own token) before it connects a store or moves it to another Klaviyo
//! account: holding the app-wide webhook secret is not enough to redirect a store's data.

use std::sync::Arc;

use adapters::Secret;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{SallaTokens, StoreRecord};
use e2e::harness::{GOOD_KEY, Harness, fast_policy, fresh, merchant_of, sample};
use e2e::salla_stub::{APP_ID, SallaStub};
use klaviyo_stub::StubAccount;
use serde_json::{Value, json};

const FORGED_KEY: &str = "pk_e2e_someone_elses_01";

fn settings_with(key: &str) -> Vec<u8> {
    let mut settings: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    settings["data"]["settings"]["klaviyo_private_key"] = json!(key);
    fresh(&serde_json::to_vec(&settings).unwrap())
}

async fn held_key(h: &Harness, store: &str) -> Option<String> {
    h.store
        .get(store)
        .await
        .unwrap()
        .and_then(|r| r.klaviyo)
        .map(|k| k.private_key.expose().to_owned())
}

/// The intake wired to confirm keys with the Salla stub, and a second Klaviyo account the
/// forged key belongs to.
async fn confirming(salla: &SallaStub) -> Harness {
    let h = Harness::start_with(
        Arc::new(MemoryKeyStore::new()),
        fast_policy(),
        &[
            ("SALLA_APP_ID", APP_ID),
            ("SALLA_API_URL", salla.base_url.as_str()),
        ],
    )
    .await;
    h.klaviyo
        .add_account(FORGED_KEY, StubAccount::new("Someone else", "Evil99"));
    h
}

/// Stores live Salla tokens for the store, as `app.store.authorize` would.
async fn authorize(h: &Harness, salla: &SallaStub, store: &str) {
    let mut record = h
        .store
        .get(store)
        .await
        .unwrap()
        .unwrap_or_else(|| StoreRecord::new(store));
    record.salla = Some(SallaTokens {
        access_token: Secret::new(salla.issue_access_token(store)),
        refresh_token: Secret::new("rt_e2e"),
        expires_at: adapters::clock::now_unix() + 86_400,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    h.store.put(&record).await.unwrap();
}

#[tokio::test]
async fn a_forged_settings_event_cannot_move_a_store_to_another_klaviyo_account() {
    let salla = SallaStub::start("client", "secret").await;
    let h = confirming(&salla).await;
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    authorize(&h, &salla, &store).await;
    h.connect(&store, GOOD_KEY).await;
    salla.set_app_settings(&store, json!({"klaviyo_private_key": GOOD_KEY}));

    // Signed with the webhook secret, but Salla holds the merchant's own key.
    let a = h.post_signed(&settings_with(FORGED_KEY)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "klaviyo_key_unconfirmed");
    assert_eq!(held_key(&h, &store).await.as_deref(), Some(GOOD_KEY));
    assert_eq!(
        salla.settings_reads(),
        vec![(APP_ID.to_string(), Some(store.clone()))],
        "read with the store's own token, under the app's id"
    );

    // The merchant really switches accounts: Salla holds the new key, so it is stored.
    salla.set_app_settings(&store, json!({"klaviyo_private_key": FORGED_KEY}));
    let a = h.post_signed(&settings_with(FORGED_KEY)).await;
    assert_eq!(a.body["outcome"], "klaviyo_account_changed", "{}", a.body);
    assert_eq!(held_key(&h, &store).await.as_deref(), Some(FORGED_KEY));
}

#[tokio::test]
async fn a_first_key_waits_for_the_store_s_salla_tokens() {
    let salla = SallaStub::start("client", "secret").await;
    let h = confirming(&salla).await;
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    salla.set_app_settings(&store, json!({"klaviyo_private_key": GOOD_KEY}));
    let body = settings_with(GOOD_KEY);

    // Settings before authorize (Salla does not order deliveries): nothing to confirm with.
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(held_key(&h, &store).await, None);

    // Salla's redelivery, after the tokens arrived, connects the store.
    authorize(&h, &salla, &store).await;
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "klaviyo_key_stored");
    assert_eq!(held_key(&h, &store).await.as_deref(), Some(GOOD_KEY));

    // The account's public key went into the storefront's settings field, the merchant's
    // other settings were sent back as they were, and a repeat writes nothing.
    let held = salla.app_settings_of(&store).unwrap();
    assert_eq!(held["klaviyo_public_key"], "AbC123");
    assert_eq!(held["klaviyo_private_key"], GOOD_KEY);
    assert_eq!(salla.settings_writes(), 1);
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        salla.settings_writes(),
        1,
        "unchanged values are not written again"
    );
}

#[tokio::test]
async fn salla_down_or_the_app_inactive_never_stores_an_unconfirmed_key() {
    let salla = SallaStub::start("client", "secret").await;
    let h = confirming(&salla).await;
    let store = merchant_of(&sample("app.settings.updated.json")).unwrap();
    authorize(&h, &salla, &store).await;
    let body = settings_with(GOOD_KEY);

    // The store never saved the settings form under this app: Salla answers 404.
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "klaviyo_key_unconfirmed");
    assert_eq!(held_key(&h, &store).await, None);

    salla.set_app_settings(&store, json!({"klaviyo_private_key": GOOD_KEY}));
    salla.fail_with(Some(503));
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(held_key(&h, &store).await, None);

    salla.fail_with(None);
    let a = h.post_signed(&body).await;
    assert_eq!(a.body["outcome"], "klaviyo_key_stored", "{}", a.body);
}
