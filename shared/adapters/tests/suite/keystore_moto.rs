//! DynamoKeyStore against moto (DynamoDB + KMS). Needs MOTO_URL (infra/scripts/moto.sh
//! start); skips without it, fails without it under CI. Each test makes its own KMS key,
//! table and store ids, so they run in parallel.

use crate::keystore_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use adapters::Secret;
use adapters::keystore::cached::CachedKeyStore;
use adapters::keystore::dynamo::DynamoKeyStore;
use adapters::keystore::{KeyStore, Lifecycle, StoreRecord, update};
use adapters::{AdapterError, Service};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use keystore_support::*;

async fn raw_item(
    moto: &Moto,
    store: &DynamoKeyStore,
    store_id: &str,
) -> std::collections::HashMap<String, AttributeValue> {
    moto.dynamo
        .get_item()
        .table_name(store.table())
        .key("store_id", AttributeValue::S(store_id.into()))
        .consistent_read(true)
        .send()
        .await
        .expect("raw get_item")
        .item
        .expect("item exists")
}

async fn set_attr(
    moto: &Moto,
    store: &DynamoKeyStore,
    store_id: &str,
    name: &str,
    value: AttributeValue,
) {
    moto.dynamo
        .update_item()
        .table_name(store.table())
        .key("store_id", AttributeValue::S(store_id.into()))
        .update_expression("SET #a = :v")
        .expression_attribute_names("#a", name)
        .expression_attribute_values(":v", value)
        .send()
        .await
        .expect("raw update_item");
}

fn blob(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> Vec<u8> {
    match item.get(name) {
        Some(AttributeValue::B(b)) => b.as_ref().to_vec(),
        other => panic!("{name} should be a binary attribute, got {other:?}"),
    }
}

#[tokio::test]
async fn round_trip_put_get_delete() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("roundtrip").await;
    let id = unique("store");

    assert_eq!(store.get(&id).await.unwrap(), None);
    let record = full_record(&id);
    assert_eq!(store.put(&record).await.unwrap(), 1);

    let got = store.get(&id).await.unwrap().expect("stored");
    assert_eq!(
        got,
        StoreRecord {
            version: 1,
            ..record.clone()
        }
    );

    // Secrets are KMS ciphertext at rest; metadata is plain.
    let item = raw_item(&moto, &store, &id).await;
    for (attr, plain) in [
        ("klaviyo_private_key", KLAVIYO_KEY),
        ("salla_access_token", ACCESS_TOKEN),
        ("salla_refresh_token", REFRESH_TOKEN),
    ] {
        let ct = blob(&item, attr);
        assert!(
            !ct.windows(plain.len()).any(|w| w == plain.as_bytes()),
            "{attr} holds the plaintext"
        );
    }
    assert_eq!(
        item.get("klaviyo_account_name"),
        Some(&AttributeValue::S("Acme Store".into()))
    );
    assert_eq!(item.get("version"), Some(&AttributeValue::N("1".into())));
    assert!(item.contains_key("updated_at"));

    // A record with only a Klaviyo key: the Salla attributes go away on rewrite.
    let mut klaviyo_only = got.clone();
    klaviyo_only.salla = None;
    klaviyo_only.klaviyo.as_mut().unwrap().needs_reconnect = true;
    assert_eq!(store.put(&klaviyo_only).await.unwrap(), 2);
    let got = store.get(&id).await.unwrap().unwrap();
    assert_eq!(got.salla, None);
    assert!(got.klaviyo.unwrap().needs_reconnect);
    assert!(
        !raw_item(&moto, &store, &id)
            .await
            .contains_key("salla_access_token")
    );

    store.delete(&id).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap(), None);
    store.delete(&id).await.unwrap(); // deleting a missing store is fine
}

#[tokio::test]
async fn wrong_encryption_context_is_rejected() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("context").await;
    let id = unique("store");
    store.put(&full_record(&id)).await.unwrap();
    let ct = blob(&raw_item(&moto, &store, &id).await, "klaviyo_private_key");

    let decrypt = |store_id: String, secret: &'static str| {
        moto.kms
            .decrypt()
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(ct.clone()))
            .encryption_context("store_id", store_id)
            .encryption_context("secret", secret)
            .send()
    };
    // The right context opens it (so the failures below are about the context)...
    let ok = decrypt(id.clone(), "klaviyo_private_key").await.unwrap();
    assert_eq!(ok.plaintext().unwrap().as_ref(), KLAVIYO_KEY.as_bytes());
    // ...another store id or another attribute name does not.
    for (store_id, secret) in [
        ("someone-else".to_string(), "klaviyo_private_key"),
        (id.clone(), "salla_access_token"),
    ] {
        let err = decrypt(store_id, secret).await.unwrap_err();
        let svc = err.as_service_error().expect("a KMS service error");
        assert!(
            svc.is_invalid_ciphertext_exception()
                || aws_sdk_kms::error::ProvideErrorMetadata::code(svc)
                    == Some("AccessDeniedException"),
            "unexpected KMS error {svc:?}"
        );
    }

    // A valid ciphertext of the same key, made by hand for another store, swapped in.
    let foreign = moto
        .kms
        .encrypt()
        .key_id(key_id_of(&moto, &store, &id).await)
        .plaintext(aws_sdk_kms::primitives::Blob::new(KLAVIYO_KEY))
        .encryption_context("store_id", "another-store")
        .encryption_context("secret", "klaviyo_private_key")
        .send()
        .await
        .unwrap();
    set_attr(
        &moto,
        &store,
        &id,
        "klaviyo_private_key",
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
            foreign.ciphertext_blob().unwrap().as_ref(),
        )),
    )
    .await;
    let err = store.get(&id).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Decrypt { store_id } if *store_id == id),
        "{err:?}"
    );
    assert!(!err.to_string().contains(KLAVIYO_KEY));

    // A ciphertext moved to another attribute of the same item fails too.
    let id2 = unique("store");
    store.put(&full_record(&id2)).await.unwrap();
    let refresh_ct = blob(&raw_item(&moto, &store, &id2).await, "salla_refresh_token");
    set_attr(
        &moto,
        &store,
        &id2,
        "salla_access_token",
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(refresh_ct)),
    )
    .await;
    assert!(matches!(
        store.get(&id2).await,
        Err(AdapterError::Decrypt { .. })
    ));
}

/// The KMS key the store's ciphertexts were made under (read from KMS, not assumed).
async fn key_id_of(moto: &Moto, store: &DynamoKeyStore, store_id: &str) -> String {
    let ct = blob(
        &raw_item(moto, store, store_id).await,
        "klaviyo_private_key",
    );
    moto.kms
        .decrypt()
        .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(ct))
        .encryption_context("store_id", store_id)
        .encryption_context("secret", "klaviyo_private_key")
        .send()
        .await
        .unwrap()
        .key_id()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn ciphertext_swapped_between_stores_fails_to_decrypt() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("swap").await;
    let (a, b) = (unique("store-a"), unique("store-b"));
    let mut record_b = full_record(&b);
    record_b.klaviyo.as_mut().unwrap().private_key = Secret::new("pk_live_bbbbbbbbbbbbbbbbbbbb");
    store.put(&full_record(&a)).await.unwrap();
    store.put(&record_b).await.unwrap();

    let b_ct = blob(&raw_item(&moto, &store, &b).await, "klaviyo_private_key");
    set_attr(
        &moto,
        &store,
        &a,
        "klaviyo_private_key",
        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(b_ct)),
    )
    .await;

    let err = store.get(&a).await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Decrypt { store_id } if *store_id == a),
        "{err:?}"
    );
    assert!(!err.is_transient());
    // B itself is untouched.
    let got_b = store.get(&b).await.unwrap().unwrap();
    assert_eq!(
        got_b.klaviyo.unwrap().private_key.expose(),
        "pk_live_bbbbbbbbbbbbbbbbbbbb"
    );
}

#[tokio::test]
async fn conditional_write_conflict_one_writer_wins() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("conflict").await;
    let id = unique("store");

    let record = full_record(&id);
    assert_eq!(store.put(&record).await.unwrap(), 1);
    // Version 0 means "must not exist": a second create loses.
    assert!(matches!(
        store.put(&record).await,
        Err(AdapterError::Conflict { .. })
    ));

    // Two writers that both read version 1.
    let base = store.get(&id).await.unwrap().unwrap();
    let mut first = base.clone();
    first.klaviyo.as_mut().unwrap().account_name = Some("first".into());
    let mut second = base.clone();
    second.klaviyo.as_mut().unwrap().account_name = Some("second".into());
    let (r1, r2) = tokio::join!(store.put(&first), store.put(&second));
    let (winner, outcome) = match (&r1, &r2) {
        (Ok(2), Err(AdapterError::Conflict { .. })) => ("first", r1),
        (Err(AdapterError::Conflict { .. }), Ok(2)) => ("second", r2),
        _ => panic!("expected exactly one winner, got {r1:?} / {r2:?}"),
    };
    assert_eq!(outcome.unwrap(), 2);
    let stored = store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored.version, 2);
    assert_eq!(
        stored.klaviyo.unwrap().account_name.as_deref(),
        Some(winner)
    );

    // A version from the future is a conflict too, and changes nothing.
    let mut ahead = base;
    ahead.version = 9;
    assert!(matches!(
        store.put(&ahead).await,
        Err(AdapterError::Conflict { .. })
    ));
    assert_eq!(store.get(&id).await.unwrap().unwrap().version, 2);
}

/// Lets one competing writer in just before the first `put` through it.
struct RacingStore {
    inner: Arc<DynamoKeyStore>,
    raced: AtomicBool,
}

#[async_trait]
impl KeyStore for RacingStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        self.inner.get(store_id).await
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        if !self.raced.swap(true, Ordering::SeqCst) {
            let mut other = self.inner.get(&record.store_id).await?.unwrap();
            other.salla.as_mut().unwrap().refresh_lease_until = Some(42);
            self.inner.put(&other).await?;
        }
        self.inner.put(record).await
    }

    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.inner.delete(store_id).await
    }
}

#[tokio::test]
async fn update_retries_after_a_conflict() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = Arc::new(moto.store("update").await);
    let id = unique("store");
    store.put(&full_record(&id)).await.unwrap();

    let racing = RacingStore {
        inner: store.clone(),
        raced: AtomicBool::new(false),
    };
    let calls = AtomicUsize::new(0);
    let written = update(&racing, &id, |r| {
        calls.fetch_add(1, Ordering::SeqCst);
        r.klaviyo.as_mut().unwrap().needs_reconnect = true;
    })
    .await
    .unwrap();

    assert_eq!(calls.load(Ordering::SeqCst), 2, "one conflict, one retry");
    assert_eq!(written.version, 3);
    let stored = store.get(&id).await.unwrap().unwrap();
    assert_eq!(stored, written);
    // Both writers' changes survive: the retry re-read the competitor's write.
    assert!(stored.klaviyo.unwrap().needs_reconnect);
    assert_eq!(stored.salla.unwrap().refresh_lease_until, Some(42));
}

#[tokio::test]
async fn cache_serves_warm_reads_without_aws_calls() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let dynamo = Arc::new(moto.store("cache").await);
    let cache = CachedKeyStore::new(dynamo.clone(), Duration::from_millis(700));
    let id = unique("store");
    dynamo.put(&full_record(&id)).await.unwrap();

    // Cold: one GetItem and three decrypts (in parallel).
    let before = moto.requests.get();
    let cold_start = Instant::now();
    let cold = cache.get(&id).await.unwrap().unwrap();
    let cold_time = cold_start.elapsed();
    assert_eq!(moto.requests.get() - before, 4);

    // Warm: zero requests.
    let before = moto.requests.get();
    let warm_start = Instant::now();
    let warm = cache.get(&id).await.unwrap().unwrap();
    let warm_time = warm_start.elapsed();
    assert_eq!(moto.requests.get(), before, "warm get reached AWS");
    assert_eq!(warm, cold);
    assert_eq!(cache.stats().hits, 1);
    assert_eq!(cache.stats().misses, 1);
    eprintln!(
        "figures: cold get {cold_time:?} (1 GetItem + 3 parallel Decrypt), warm get {warm_time:?}"
    );

    // "Not found" is cached too.
    let missing = unique("missing");
    assert_eq!(cache.get(&missing).await.unwrap(), None);
    let before = moto.requests.get();
    assert_eq!(cache.get(&missing).await.unwrap(), None);
    assert_eq!(moto.requests.get(), before);

    // After the TTL the next read goes back to AWS.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let before = moto.requests.get();
    cache.get(&id).await.unwrap().unwrap();
    assert!(moto.requests.get() > before, "expired entry was served");
}

#[tokio::test]
async fn cache_put_and_delete_are_visible_at_once() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let dynamo = Arc::new(moto.store("cachewrite").await);
    let cache = CachedKeyStore::new(dynamo.clone(), Duration::from_secs(300));
    let id = unique("store");
    cache.put(&full_record(&id)).await.unwrap();
    cache.get(&id).await.unwrap().unwrap();

    let mut changed = cache.get(&id).await.unwrap().unwrap();
    changed.klaviyo.as_mut().unwrap().private_key = Secret::new("pk_live_rotated_key_000000");
    assert_eq!(cache.put(&changed).await.unwrap(), 2);
    let before = moto.requests.get();
    let got = cache.get(&id).await.unwrap().unwrap();
    assert_eq!(moto.requests.get(), before, "read after put went to AWS");
    assert_eq!(got.version, 2);
    assert_eq!(
        got.klaviyo.unwrap().private_key.expose(),
        "pk_live_rotated_key_000000"
    );
    // And it really is stored, not just cached.
    assert_eq!(dynamo.get(&id).await.unwrap().unwrap().version, 2);

    cache.delete(&id).await.unwrap();
    let before = moto.requests.get();
    assert_eq!(cache.get(&id).await.unwrap(), None);
    assert_eq!(moto.requests.get(), before);
    assert_eq!(dynamo.get(&id).await.unwrap(), None);
}

#[tokio::test]
async fn unreachable_dynamodb_is_unavailable() {
    // No emulator needed: nothing listens on port 9 of loopback.
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let store = DynamoKeyStore::new(
        aws_sdk_dynamodb::Client::new(&conf),
        aws_sdk_kms::Client::new(&conf),
        "t",
        "k",
    );
    let err = store.get("123").await.unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unavailable {
                service: Service::DynamoDb,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    let err = store.put(&full_record("123")).await.unwrap_err();
    assert!(
        matches!(
            err,
            AdapterError::Unavailable {
                service: Service::Kms,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn missing_table_is_rejected_not_transient() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = DynamoKeyStore::new(
        moto.dynamo.clone(),
        moto.kms.clone(),
        unique("no-such-table"),
        "alias/none",
    );
    let err = store.get("1").await.unwrap_err();
    assert!(!err.is_transient());
    assert!(
        matches!(&err, AdapterError::Rejected { service: Service::DynamoDb, status: 400, code, .. } if code == "ResourceNotFoundException"),
        "{err:?}"
    );
}

/// An item written attribute by attribute in the stored layout reads back as the record, and
/// a rewrite keeps every attribute's name and type.
#[tokio::test]
async fn item_in_the_stored_layout_reads_and_rewrites_alike() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("layout").await;
    let probe = unique("probe");
    store.put(&full_record(&probe)).await.unwrap();
    let key_id = key_id_of(&moto, &store, &probe).await;

    let id = unique("store");
    let encrypt = |secret: &'static str, plain: &'static str| {
        let (kms, key_id, id) = (moto.kms.clone(), key_id.clone(), id.clone());
        async move {
            let out = kms
                .encrypt()
                .key_id(key_id)
                .plaintext(aws_sdk_kms::primitives::Blob::new(plain))
                .encryption_context("store_id", id)
                .encryption_context("secret", secret)
                .send()
                .await
                .unwrap();
            AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(
                out.ciphertext_blob().unwrap().as_ref(),
            ))
        }
    };
    let s = |v: &str| AttributeValue::S(v.to_string());
    let n = |v: i64| AttributeValue::N(v.to_string());
    let stored = std::collections::HashMap::from([
        ("store_id".to_string(), s(&id)),
        ("version".to_string(), n(4)),
        ("updated_at".to_string(), n(1_760_000_100)),
        (
            "klaviyo_private_key".to_string(),
            encrypt("klaviyo_private_key", KLAVIYO_KEY).await,
        ),
        ("klaviyo_account_name".to_string(), s("Acme Store")),
        ("klaviyo_account_id".to_string(), s("XyZ123")),
        ("klaviyo_validated_at".to_string(), n(1_760_000_000)),
        (
            "klaviyo_needs_reconnect".to_string(),
            AttributeValue::Bool(false),
        ),
        (
            "salla_access_token".to_string(),
            encrypt("salla_access_token", ACCESS_TOKEN).await,
        ),
        (
            "salla_refresh_token".to_string(),
            encrypt("salla_refresh_token", REFRESH_TOKEN).await,
        ),
        ("salla_expires_at".to_string(), n(1_760_086_400)),
        ("salla_scope".to_string(), s("offline_access orders.read")),
        ("salla_refresh_lease_until".to_string(), n(1_760_000_030)),
    ]);
    moto.dynamo
        .put_item()
        .table_name(store.table())
        .set_item(Some(stored.clone()))
        .send()
        .await
        .expect("raw put_item");

    let got = store.get(&id).await.unwrap().expect("stored");
    assert_eq!(
        got,
        StoreRecord {
            version: 4,
            ..full_record(&id)
        }
    );

    assert_eq!(store.put(&got).await.unwrap(), 5);
    let rewritten = raw_item(&moto, &store, &id).await;
    let mut names: Vec<&String> = rewritten.keys().collect();
    let mut stored_names: Vec<&String> = stored.keys().collect();
    names.sort();
    stored_names.sort();
    assert_eq!(names, stored_names);
    for (name, before) in &stored {
        let after = &rewritten[name];
        assert_eq!(
            std::mem::discriminant(after),
            std::mem::discriminant(before),
            "{name} changed type"
        );
        if !matches!(before, AttributeValue::B(_))
            && !["version", "updated_at"].contains(&name.as_str())
        {
            assert_eq!(after, before, "{name}");
        }
    }
    assert_eq!(rewritten["version"], n(5));
}

/// The cache's confirmation read: one DynamoDB request, no KMS call, the stored version (or
/// `None` once deleted); and a cache that confirms every use pays exactly that per warm read.
#[tokio::test]
async fn version_read_is_one_request_without_kms() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let dynamo = Arc::new(moto.store("version").await);
    let id = unique("store");
    dynamo.put(&full_record(&id)).await.unwrap();
    let mut record = dynamo.get(&id).await.unwrap().unwrap();
    record.klaviyo.as_mut().unwrap().needs_reconnect = true;
    dynamo.put(&record).await.unwrap();

    let before = moto.requests.get();
    assert_eq!(dynamo.version(&id).await.unwrap(), Some(2));
    assert_eq!(
        moto.requests.get() - before,
        1,
        "a version read decrypted something"
    );
    assert_eq!(dynamo.version(&unique("missing")).await.unwrap(), None);

    let cache =
        CachedKeyStore::new(dynamo.clone(), Duration::from_secs(60)).with_recheck(Duration::ZERO);
    cache.get(&id).await.unwrap().unwrap();
    let before = moto.requests.get();
    assert_eq!(cache.get(&id).await.unwrap().unwrap().version, 2);
    assert_eq!(moto.requests.get() - before, 1, "a confirmed warm read");

    dynamo.delete(&id).await.unwrap();
    assert_eq!(dynamo.version(&id).await.unwrap(), None);
    assert_eq!(
        cache.get(&id).await.unwrap(),
        None,
        "a deleted store was served"
    );
}

/// Lifecycle times and a deletion marker's `ttl` are plain numbers; a marker past its `ttl`
/// reads as absent (DynamoDB's sweep is lazy) and a first put may replace it, while a live
/// marker still refuses one.
#[tokio::test]
async fn lifecycle_times_and_expired_markers() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("marker").await;
    let now = adapters::clock::now_unix();
    let id = unique("store");
    let mut marker = StoreRecord::new(&id);
    marker.lifecycle = Lifecycle {
        authorized_at: Some(now - 20),
        settings_at: Some(now - 10),
        uninstalled_at: Some(now),
    };
    marker.ttl = Some(now + 3600);
    assert_eq!(store.put(&marker).await.unwrap(), 1);
    let got = store.get(&id).await.unwrap().expect("live marker");
    assert_eq!((got.lifecycle, got.ttl), (marker.lifecycle, marker.ttl));
    assert_eq!(store.version(&id).await.unwrap(), Some(1));
    let item = raw_item(&moto, &store, &id).await;
    assert_eq!(
        item.get("ttl"),
        Some(&AttributeValue::N((now + 3600).to_string()))
    );
    assert_eq!(
        item.get("uninstalled_at"),
        Some(&AttributeValue::N(now.to_string()))
    );
    assert!(matches!(
        store.put(&StoreRecord::new(&id)).await,
        Err(AdapterError::Conflict { .. })
    ));

    set_attr(
        &moto,
        &store,
        &id,
        "ttl",
        AttributeValue::N((now - 1).to_string()),
    )
    .await;
    assert_eq!(store.get(&id).await.unwrap(), None);
    assert_eq!(store.version(&id).await.unwrap(), None);
    assert_eq!(store.put(&full_record(&id)).await.unwrap(), 1);
    let fresh = store.get(&id).await.unwrap().expect("replaced");
    assert_eq!((fresh.ttl, fresh.lifecycle), (None, Lifecycle::default()));
    assert!(!raw_item(&moto, &store, &id).await.contains_key("ttl"));
}

/// The deletion marker as DynamoDB holds it: the store id, the version, the lifecycle times,
/// the expiry and the write time, nothing else (no ciphertext, no account detail).
#[tokio::test]
async fn a_deletion_marker_item_holds_no_store_data() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("marker_item").await;
    let now = adapters::clock::now_unix();
    let id = unique("store");
    let mut record = full_record(&id);
    record.lifecycle.authorized_at = Some(now - 60);
    record.version = store.put(&record).await.unwrap();
    record.mark_uninstalled(now, now);
    store.put(&record).await.unwrap();
    let item = raw_item(&moto, &store, &id).await;
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "authorized_at",
            "store_id",
            "ttl",
            "uninstalled_at",
            "updated_at",
            "version"
        ]
    );
}

#[tokio::test]
async fn history_progress_is_stored_as_plain_metadata_only() {
    use adapters::history::{Cursor, HistoryProgress, Phase};
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("history_item").await;
    let id = unique("store");
    let mut progress = HistoryProgress::started(1_796_000_000);
    progress.phase = Phase::OrdersRecent;
    progress.orders_done = 120;
    progress.orders_total = 10_000;
    progress.customers_done = 300;
    progress.last_error = Some("salla_token_revoked".into());
    progress.cursor = Some(Cursor {
        page: 3,
        ..Cursor::phase_start(
            Phase::OrdersRecent,
            Some((
                time::macros::date!(2026 - 09 - 03),
                time::macros::date!(2026 - 12 - 03),
            )),
        )
    });
    let mut record = full_record(&id);
    record.history = Some(progress.clone());
    record.version = store.put(&record).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap(), Some(record.clone()));

    let item = raw_item(&moto, &store, &id).await;
    let Some(AttributeValue::M(history)) = item.get("history") else {
        panic!("history is not a map");
    };
    // Only counts, times, names and codes: every string is one of the plain words the
    // progress uses, a day or the error code; nothing else is held.
    fn plain(values: &std::collections::HashMap<String, AttributeValue>) {
        for (name, value) in values {
            match value {
                AttributeValue::N(_) => {}
                AttributeValue::S(s) => assert!(
                    s.bytes().all(|b| b.is_ascii_lowercase()
                        || b.is_ascii_digit()
                        || b"_-:".contains(&b)),
                    "{name}"
                ),
                AttributeValue::M(inner) => plain(inner),
                other => panic!("{name} is {other:?}"),
            }
        }
    }
    plain(history);
    let mut names: Vec<&str> = history.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "cursor",
            "customers_done",
            "customers_total",
            "job",
            "last_error",
            "orders_before",
            "orders_done",
            "orders_total",
            "phase",
            "products_done",
            "started_at",
            "status",
            "updated_at"
        ]
    );

    // An uninstall's deletion marker keeps no progress.
    record.mark_uninstalled(1_796_000_100, adapters::clock::now_unix());
    store.put(&record).await.unwrap();
    assert!(!raw_item(&moto, &store, &id).await.contains_key("history"));
}

#[tokio::test]
async fn crm_settings_round_trip_as_plain_configuration() {
    use mapping::crm::{CrmSettings, OrderWindow, TierThreshold};
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("crm_item").await;
    let id = unique("store");
    let mut record = full_record(&id);
    record.crm = Some(CrmSettings::Custom {
        window: OrderWindow::AllTime,
        tiers: vec![
            TierThreshold {
                min_spent_minor: None,
                min_orders: 2,
            },
            TierThreshold {
                min_spent_minor: None,
                min_orders: 7,
            },
        ],
    });
    record.version = store.put(&record).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap(), Some(record.clone()));
    let item = raw_item(&moto, &store, &id).await;
    let Some(AttributeValue::M(crm)) = item.get("crm") else {
        panic!("crm is not a map");
    };
    let mut names: Vec<&str> = crm.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["preset", "tiers", "window"]);

    // Switching preset replaces the whole choice.
    record.crm = Some(CrmSettings::A { margin_bp: 2_000 });
    record.version = store.put(&record).await.unwrap();
    assert_eq!(store.get(&id).await.unwrap().unwrap().crm, record.crm);

    // An uninstall's deletion marker keeps no settings.
    record.mark_uninstalled(1_796_000_100, adapters::clock::now_unix());
    store.put(&record).await.unwrap();
    assert!(!raw_item(&moto, &store, &id).await.contains_key("crm"));
}

/// The writers that are not lifecycle events (`update_live`) against DynamoDB: nothing onto a
/// live deletion marker, nothing for an absent store unless the writer may create it, and an
/// expired marker is absent (replaced only by a creating writer).
#[tokio::test]
async fn live_writers_leave_markers_and_absent_stores_alone() {
    use adapters::keystore::{IfAbsent, NotWritten, update_live};
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("live_writers").await;
    let now = adapters::clock::now_unix();
    let key = |r: &mut StoreRecord| r.klaviyo = full_record("x").klaviyo;

    let absent = unique("store");
    let written = update_live(&store, &absent, IfAbsent::Skip, key)
        .await
        .unwrap();
    assert_eq!(written, Err(NotWritten::Absent));
    assert_eq!(store.get(&absent).await.unwrap(), None);
    let created = update_live(&store, &absent, IfAbsent::Create, key)
        .await
        .unwrap()
        .expect("created");
    assert_eq!(created.version, 1);
    let changed = update_live(&store, &absent, IfAbsent::Skip, |r| r.klaviyo = None)
        .await
        .unwrap()
        .expect("changed");
    assert_eq!((changed.version, changed.klaviyo), (2, None));

    let id = unique("store");
    let mut record = full_record(&id);
    record.version = store.put(&record).await.unwrap();
    record.mark_uninstalled(now, now);
    store.put(&record).await.unwrap();
    let marker = store.get(&id).await.unwrap().expect("marker");
    for if_absent in [IfAbsent::Skip, IfAbsent::Create] {
        let written = update_live(&store, &id, if_absent, key).await.unwrap();
        assert_eq!(written, Err(NotWritten::Uninstalled));
    }
    assert_eq!(store.get(&id).await.unwrap(), Some(marker));
    assert_eq!(store.version(&id).await.unwrap(), Some(2));

    // Past its ttl the marker is absent: skipped, or replaced by a creating writer.
    set_attr(
        &moto,
        &store,
        &id,
        "ttl",
        AttributeValue::N((now - 1).to_string()),
    )
    .await;
    let skipped = update_live(&store, &id, IfAbsent::Skip, key).await.unwrap();
    assert_eq!(skipped, Err(NotWritten::Absent));
    let replaced = update_live(&store, &id, IfAbsent::Create, key)
        .await
        .unwrap()
        .expect("replaced");
    assert_eq!((replaced.ttl, replaced.version), (None, 1));
}
