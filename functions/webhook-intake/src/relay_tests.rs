//! A revoked key flags its store for reconnection only while it is still the store's key.

use std::sync::Arc;

use adapters::config::{Config, Profile};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{self, KeyStore, KlaviyoConnection, StoreRecord};
use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use lambda_http::{Body, Request};
use serde_json::Value;
use tokio::time::Instant;

use crate::Deps;

const SECRET: &str = "relay-test-secret";
const OLD_KEY: &str = "pk_old_key_0123456789abcdef0123";
const NEW_KEY: &str = "pk_new_key_0123456789abcdef0123";

/// Klaviyo refusing the old key (401) after the merchant connected a new one while the
/// request was in flight: the fake writes the new key to the store first.
struct RevokedWhileReplaced {
    store: Arc<dyn KeyStore>,
    store_id: String,
}

#[async_trait]
impl KlaviyoApi for RevokedWhileReplaced {
    async fn get_account(&self, _: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("no key check on this path")
    }
    async fn call(
        &self,
        key: &Secret,
        _: &'static str,
        _: &str,
        _: Option<&Value>,
        _: Instant,
    ) -> Result<Delivery, AdapterError> {
        assert_eq!(key.expose(), OLD_KEY, "only the old key is sent");
        keystore::update(self.store.as_ref(), &self.store_id, |r| {
            if let Some(k) = r.klaviyo.as_mut() {
                k.private_key = Secret::new(NEW_KEY);
            }
        })
        .await
        .unwrap();
        Ok(Delivery {
            status: 401,
            attempts: 1,
            error: None,
        })
    }
}

fn login_delivery() -> (String, Request) {
    let body = include_str!("../../../tests/fixtures/salla-samples/customer.login.json");
    let store_id = serde_json::from_str::<Value>(body).unwrap()["merchant"].to_string();
    let signature = adapters::salla::signature::sign(SECRET.as_bytes(), body.as_bytes());
    let req = lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhook")
        .header("x-salla-signature", signature)
        .body(Body::Text(body.to_string()))
        .unwrap();
    (store_id, req)
}

#[tokio::test]
async fn a_401_for_a_key_replaced_meanwhile_does_not_flag_the_new_key() {
    let (store_id, req) = login_delivery();
    let mut record = StoreRecord::new(&store_id);
    record.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new(OLD_KEY),
        account_name: None,
        account_id: Some("A".into()),
        validated_at: 1,
        needs_reconnect: false,
    });
    let (config, _) = Config::from_lookup(
        |k| (k == "SALLA_WEBHOOK_SECRET").then(|| SECRET.to_string()),
        Profile::Dev { port: 0 },
    )
    .unwrap();
    let store: Arc<dyn KeyStore> = Arc::new(MemoryKeyStore::with_records([record]));
    let mut deps = Deps::new(&config, store.clone());
    deps.klaviyo = Arc::new(RevokedWhileReplaced {
        store: store.clone(),
        store_id: store_id.clone(),
    });

    let resp = crate::handle(&deps, req).await;
    assert_eq!(resp.status().as_u16(), 424, "the old key was refused");

    let held = store
        .get(&store_id)
        .await
        .unwrap()
        .unwrap()
        .klaviyo
        .unwrap();
    assert_eq!(held.private_key.expose(), NEW_KEY);
    assert!(
        !held.needs_reconnect,
        "the new key was flagged for the old key's 401"
    );
}
