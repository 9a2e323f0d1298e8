//! The scheduled token refresh against moto (DynamoDB + KMS) and the Salla OAuth stub: a
//! store whose tokens expire in a day is refreshed and saved; one with ten days left and a
//! blocked one are left alone, their refresh tokens unspent.

use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::clock::now_unix;
use adapters::deadline::Deadline;
use adapters::keystore::dynamo::DynamoKeyStore;
use adapters::keystore::{KeyStore, SallaTokens, StoreRecord};
use adapters::salla::oauth::SallaOAuth;
use adapters::salla::refresh::RefreshLocks;
use e2e::harness::moto_url;
use e2e::salla_stub::SallaStub;

const DAY: i64 = 24 * 3600;
const CLIENT_ID: &str = "refresh-client";
const CLIENT_SECRET: &str = "refresh-client-secret";

async fn moto_store(url: &str) -> DynamoKeyStore {
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .endpoint_url(url)
        .load()
        .await;
    let kms = aws_sdk_kms::Client::new(&conf);
    let key = kms
        .create_key()
        .description("e2e token refresh")
        .send()
        .await
        .expect("moto create_key");
    let key_id = key
        .key_metadata()
        .expect("key metadata")
        .key_id()
        .to_string();
    let table = format!("e2e-refresh-{:08x}", rand_suffix());
    let store = DynamoKeyStore::new(aws_sdk_dynamodb::Client::new(&conf), kms, table, key_id);
    adapters::keystore::dynamo::dev::create_table_if_missing(&store)
        .await
        .expect("create table");
    store
}

fn rand_suffix() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() ^ (d.as_secs() as u32))
        .unwrap_or(0)
}

/// Stores tokens the stub really issued for `store_id`, expiring in `expires_in`.
async fn connect(
    stub: &SallaStub,
    oauth: &SallaOAuth,
    store: &DynamoKeyStore,
    store_id: &str,
    expires_in: i64,
    blocked: bool,
) -> SallaTokens {
    let code = format!("code-{store_id}");
    stub.add_code(&code, store_id);
    let mut tokens = oauth
        .exchange_code(&code, "https://app.example/callback")
        .await
        .expect("code exchange");
    tokens.expires_at = now_unix() + expires_in;
    tokens.refresh_blocked_at = blocked.then(now_unix);
    let mut record = StoreRecord::new(store_id);
    record.salla = Some(tokens.clone());
    store.put(&record).await.expect("store tokens");
    tokens
}

async fn tokens(store: &DynamoKeyStore, store_id: &str) -> SallaTokens {
    store
        .get(store_id)
        .await
        .expect("read")
        .expect("record")
        .salla
        .expect("tokens")
}

#[tokio::test]
async fn due_stores_are_refreshed_and_saved_the_others_left() {
    let Some(url) = moto_url() else { return };
    let store = Arc::new(moto_store(&url).await);
    let stub = SallaStub::start(CLIENT_ID, CLIENT_SECRET).await;
    let oauth = SallaOAuth::new(&stub.base_url, CLIENT_ID, Secret::new(CLIENT_SECRET));

    let soon = connect(&stub, &oauth, &store, "1001", DAY, false).await;
    let later = connect(&stub, &oauth, &store, "1002", 10 * DAY, false).await;
    let blocked = connect(&stub, &oauth, &store, "1003", DAY, true).await;
    let deps = token_refresh::Deps {
        store: store.clone(),
        scan: store.clone(),
        refresher: Arc::new(oauth),
        locks: RefreshLocks::default(),
    };

    let summary = token_refresh::run(&deps, Deadline::after(Duration::from_secs(60)))
        .await
        .expect("run");
    assert_eq!(
        (
            summary.scanned,
            summary.due,
            summary.refreshed,
            summary.failed
        ),
        (3, 1, 1, 0),
        "{summary:?}"
    );

    let fresh = tokens(&store, "1001").await;
    assert_ne!(fresh.refresh_token, soon.refresh_token);
    assert!(stub.issued_access_token(fresh.access_token.expose(), "1001"));
    assert!(fresh.expires_at > now_unix() + 13 * DAY);
    assert_eq!(fresh.refresh_lease_until, None);
    assert_eq!(tokens(&store, "1002").await, later);
    assert_eq!(tokens(&store, "1003").await, blocked);
    let refreshes = stub
        .token_calls()
        .iter()
        .filter(|c| c.grant_type == "refresh_token")
        .count();
    assert_eq!(refreshes, 1);

    // The next run finds nothing due and spends nothing.
    let again = token_refresh::run(&deps, Deadline::after(Duration::from_secs(60)))
        .await
        .expect("second run");
    assert_eq!((again.due, again.refreshed), (0, 0));
}
