//! CachedKeyStore over an in-memory store, counting the calls that reach it. (The same
//! behaviour counted at the AWS SDK level is in suite/keystore_moto.rs.)

use crate::keystore_support;

use std::sync::Arc;
use std::time::Duration;

use adapters::keystore::cached::{CacheStats, CachedKeyStore, CallCounts, CountingKeyStore};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, StoreRecord, update};
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use keystore_support::*;

fn setup(ttl: Duration) -> (Arc<MemoryKeyStore>, Arc<CountingKeyStore>, CachedKeyStore) {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let counting = Arc::new(CountingKeyStore::new(memory.clone()));
    let cache = CachedKeyStore::new(counting.clone(), ttl);
    (memory, counting, cache)
}

#[tokio::test]
async fn second_get_within_ttl_is_served_from_memory() {
    let (_, counting, cache) = setup(Duration::from_secs(60));
    let first = cache.get("1").await.unwrap().unwrap();
    let second = cache.get("1").await.unwrap().unwrap();
    assert_eq!(first, second);
    assert_eq!(second.klaviyo.unwrap().private_key.expose(), KLAVIYO_KEY);
    assert_eq!(counting.counts().gets, 1);
    assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1 });
}

#[tokio::test]
async fn not_found_is_cached() {
    let (_, counting, cache) = setup(Duration::from_secs(60));
    assert_eq!(cache.get("nope").await.unwrap(), None);
    assert_eq!(cache.get("nope").await.unwrap(), None);
    assert_eq!(counting.counts().gets, 1);
}

#[tokio::test]
async fn not_found_expires_sooner_than_records() {
    let memory = Arc::new(MemoryKeyStore::new());
    let cache = CachedKeyStore::new(memory.clone(), Duration::from_secs(60))
        .with_negative_ttl(Duration::from_millis(50));
    assert_eq!(cache.get("new").await.unwrap(), None);
    // The merchant connects through another process (straight to the backing store).
    memory.put(&StoreRecord::new("new")).await.unwrap();
    assert_eq!(
        cache.get("new").await.unwrap(),
        None,
        "still within the negative window"
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        cache.get("new").await.unwrap().is_some(),
        "seen once the short window passed"
    );
}

#[tokio::test]
async fn entries_expire_after_ttl() {
    let (memory, counting, cache) = setup(Duration::from_millis(100));
    cache.get("1").await.unwrap();
    // A change made by another process (straight to the backing store)...
    let mut changed = memory.get("1").await.unwrap().unwrap();
    changed.klaviyo.as_mut().unwrap().needs_reconnect = true;
    memory.put(&changed).await.unwrap();
    // ...is not seen within the TTL...
    assert!(
        !cache
            .get("1")
            .await
            .unwrap()
            .unwrap()
            .klaviyo
            .unwrap()
            .needs_reconnect
    );
    tokio::time::sleep(Duration::from_millis(150)).await;
    // ...and is seen after it.
    assert!(
        cache
            .get("1")
            .await
            .unwrap()
            .unwrap()
            .klaviyo
            .unwrap()
            .needs_reconnect
    );
    assert_eq!(counting.counts().gets, 2);
}

#[tokio::test]
async fn put_through_the_cache_is_visible_at_once() {
    let (_, counting, cache) = setup(Duration::from_secs(60));
    let mut record = cache.get("1").await.unwrap().unwrap();
    record.klaviyo.as_mut().unwrap().private_key = Secret::new("pk_live_new_key_1111");
    assert_eq!(cache.put(&record).await.unwrap(), 2);
    let got = cache.get("1").await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(
        got.klaviyo.unwrap().private_key.expose(),
        "pk_live_new_key_1111"
    );
    assert_eq!(
        counting.counts(),
        CallCounts {
            gets: 1,
            puts: 1,
            deletes: 0,
            versions: 0
        }
    );

    // A brand-new store written through the cache needs no read either.
    cache.put(&StoreRecord::new("2")).await.unwrap();
    assert_eq!(cache.get("2").await.unwrap().unwrap().version, 1);
    assert_eq!(counting.counts().gets, 1);
}

#[tokio::test]
async fn delete_through_the_cache_is_visible_at_once() {
    let (memory, counting, cache) = setup(Duration::from_secs(60));
    cache.get("1").await.unwrap();
    cache.delete("1").await.unwrap();
    assert_eq!(cache.get("1").await.unwrap(), None);
    assert_eq!(memory.get("1").await.unwrap(), None);
    assert_eq!(counting.counts().gets, 1);
}

#[tokio::test]
async fn a_conflict_evicts_the_stale_entry() {
    let (memory, counting, cache) = setup(Duration::from_secs(60));
    let stale = cache.get("1").await.unwrap().unwrap();
    // Another process writes first.
    memory.put(&stale).await.unwrap();
    assert!(matches!(
        cache.put(&stale).await,
        Err(AdapterError::Conflict { .. })
    ));
    // The next read fetches the winner instead of serving our stale copy.
    assert_eq!(cache.get("1").await.unwrap().unwrap().version, 2);
    assert_eq!(counting.counts().gets, 2);
}

#[tokio::test]
async fn zero_ttl_disables_caching() {
    let (_, counting, cache) = setup(Duration::ZERO);
    cache.get("1").await.unwrap();
    cache.get("1").await.unwrap();
    assert_eq!(counting.counts().gets, 2);
    assert_eq!(cache.stats(), CacheStats { hits: 0, misses: 2 });
}

/// Returns what it read *before* sleeping, so a write can land while a read is in flight.
struct SlowReads(Arc<MemoryKeyStore>);

#[async_trait]
impl KeyStore for SlowReads {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        let snapshot = self.0.get(store_id).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        snapshot
    }
    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        self.0.put(record).await
    }
    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.0.delete(store_id).await
    }
}

#[tokio::test]
async fn a_read_racing_a_write_does_not_cache_the_older_record() {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let cache = Arc::new(CachedKeyStore::new(
        Arc::new(SlowReads(memory.clone())),
        Duration::from_secs(60),
    ));
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("1").await })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut newer = memory.get("1").await.unwrap().unwrap();
    newer.klaviyo.as_mut().unwrap().needs_reconnect = true;
    cache.put(&newer).await.unwrap();
    // The in-flight read returns the version it saw...
    assert_eq!(reader.await.unwrap().unwrap().unwrap().version, 1);
    // ...but the cache keeps the write.
    assert_eq!(cache.get("1").await.unwrap().unwrap().version, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_tasks_share_one_cache() {
    let (_, counting, cache) = setup(Duration::from_secs(60));
    let cache = Arc::new(cache);
    cache.get("1").await.unwrap();
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let cache = cache.clone();
            tokio::spawn(async move { cache.get("1").await.unwrap().unwrap().version })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 1);
    }
    assert_eq!(counting.counts().gets, 1);
    assert_eq!(
        cache.stats(),
        CacheStats {
            hits: 64,
            misses: 1
        }
    );
}

/// A store whose reads and writes can be held at a gate, so a test orders a read against a
/// write step by step (no sleeps). A held read has already taken its snapshot; a held write
/// has not yet reached the backing store.
struct Gated {
    inner: Arc<MemoryKeyStore>,
    hold_gets: std::sync::atomic::AtomicBool,
    hold_writes: std::sync::atomic::AtomicBool,
    get_entered: tokio::sync::Semaphore,
    get_release: tokio::sync::Semaphore,
    write_entered: tokio::sync::Semaphore,
    write_release: tokio::sync::Semaphore,
}

impl Gated {
    fn new(inner: Arc<MemoryKeyStore>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            hold_gets: false.into(),
            hold_writes: false.into(),
            get_entered: tokio::sync::Semaphore::new(0),
            get_release: tokio::sync::Semaphore::new(0),
            write_entered: tokio::sync::Semaphore::new(0),
            write_release: tokio::sync::Semaphore::new(0),
        })
    }

    fn hold(&self, gets: bool, writes: bool) {
        use std::sync::atomic::Ordering::SeqCst;
        self.hold_gets.store(gets, SeqCst);
        self.hold_writes.store(writes, SeqCst);
    }

    async fn gate(
        &self,
        held: &std::sync::atomic::AtomicBool,
        entered: &tokio::sync::Semaphore,
        release: &tokio::sync::Semaphore,
    ) {
        if held.load(std::sync::atomic::Ordering::SeqCst) {
            entered.add_permits(1);
            release.acquire().await.unwrap().forget();
        }
    }

    async fn wait_get_entered(&self) {
        self.get_entered.acquire().await.unwrap().forget();
    }

    async fn wait_write_entered(&self) {
        self.write_entered.acquire().await.unwrap().forget();
    }
}

#[async_trait]
impl KeyStore for Gated {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        let snapshot = self.inner.get(store_id).await;
        self.gate(&self.hold_gets, &self.get_entered, &self.get_release)
            .await;
        snapshot
    }
    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        self.gate(&self.hold_writes, &self.write_entered, &self.write_release)
            .await;
        self.inner.put(record).await
    }
    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.gate(&self.hold_writes, &self.write_entered, &self.write_release)
            .await;
        self.inner.delete(store_id).await
    }
}

/// A read that starts while a write is in flight (after the write began, before it reached
/// the store) and returns after the write finished holds the older record: it must not
/// replace what the write cached.
#[tokio::test]
async fn a_read_started_during_a_put_does_not_cache_the_older_record() {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let gated = Gated::new(memory.clone());
    let cache = Arc::new(CachedKeyStore::new(gated.clone(), Duration::from_secs(60)));
    let mut newer = memory.get("1").await.unwrap().unwrap();
    newer.klaviyo.as_mut().unwrap().needs_reconnect = true;

    gated.hold(true, true);
    let writer = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.put(&newer).await })
    };
    gated.wait_write_entered().await;
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("1").await })
    };
    gated.wait_get_entered().await;
    gated.write_release.add_permits(1);
    assert_eq!(writer.await.unwrap().unwrap(), 2);
    gated.get_release.add_permits(1);
    assert_eq!(reader.await.unwrap().unwrap().unwrap().version, 1);

    gated.hold(false, false);
    let cached = cache.get("1").await.unwrap().unwrap();
    assert_eq!(cached.version, 2, "the older read replaced the write");
    assert!(cached.klaviyo.unwrap().needs_reconnect);
}

/// The same race against a delete: the in-flight read saw the record, the delete removed it;
/// the cache must answer "nothing held", not resurrect the deleted secrets.
#[tokio::test]
async fn a_read_started_during_a_delete_does_not_resurrect_the_record() {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let gated = Gated::new(memory.clone());
    let cache = Arc::new(CachedKeyStore::new(gated.clone(), Duration::from_secs(60)));

    gated.hold(true, true);
    let deleter = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.delete("1").await })
    };
    gated.wait_write_entered().await;
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("1").await })
    };
    gated.wait_get_entered().await;
    gated.write_release.add_permits(1);
    deleter.await.unwrap().unwrap();
    gated.get_release.add_permits(1);
    assert!(reader.await.unwrap().unwrap().is_some());

    gated.hold(false, false);
    assert_eq!(
        cache.get("1").await.unwrap(),
        None,
        "the deleted record came back from the cache"
    );
}

/// A read that started before a write and returns after it must not be cached either.
#[tokio::test]
async fn a_read_started_before_a_put_does_not_cache_the_older_record() {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let gated = Gated::new(memory.clone());
    let cache = Arc::new(CachedKeyStore::new(gated.clone(), Duration::from_secs(60)));
    let mut newer = memory.get("1").await.unwrap().unwrap();
    newer.klaviyo.as_mut().unwrap().needs_reconnect = true;

    gated.hold(true, false);
    let reader = {
        let cache = cache.clone();
        tokio::spawn(async move { cache.get("1").await })
    };
    gated.wait_get_entered().await;
    assert_eq!(cache.put(&newer).await.unwrap(), 2);
    gated.get_release.add_permits(1);
    assert_eq!(reader.await.unwrap().unwrap().unwrap().version, 1);

    gated.hold(false, false);
    assert_eq!(cache.get("1").await.unwrap().unwrap().version, 2);
}

/// A cache that confirms every entry before using it (recheck interval zero), over a
/// counted in-memory store standing in for what other processes write.
fn rechecking() -> (Arc<MemoryKeyStore>, Arc<CountingKeyStore>, CachedKeyStore) {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let counting = Arc::new(CountingKeyStore::new(memory.clone()));
    let cache =
        CachedKeyStore::new(counting.clone(), Duration::from_secs(60)).with_recheck(Duration::ZERO);
    (memory, counting, cache)
}

/// A key replaced in another process (the onboarding function, another intake) is used from
/// the next recheck on, not after the whole TTL.
#[tokio::test]
async fn a_key_replaced_elsewhere_is_used_from_the_next_recheck() {
    let (memory, _, cache) = rechecking();
    cache.get("1").await.unwrap().unwrap();
    let mut replaced = memory.get("1").await.unwrap().unwrap();
    replaced.klaviyo.as_mut().unwrap().private_key = Secret::new("pk_live_replaced_key_2222");
    memory.put(&replaced).await.unwrap();
    let got = cache.get("1").await.unwrap().unwrap();
    assert_eq!(
        got.klaviyo.unwrap().private_key.expose(),
        "pk_live_replaced_key_2222",
        "the replaced key was still served"
    );
}

/// A store whose record was deleted in another process (app.uninstalled) stops being served.
#[tokio::test]
async fn a_store_removed_elsewhere_stops_being_served_at_the_next_recheck() {
    let (memory, _, cache) = rechecking();
    cache.get("1").await.unwrap().unwrap();
    memory.delete("1").await.unwrap();
    assert_eq!(cache.get("1").await.unwrap(), None);
}

/// An uninstall leaves a deletion marker whose version keeps counting, so an uninstall and
/// a reinstall with another key, both in other processes between two checks, can never
/// bring back the version this cache holds (a delete would restart it at 1, and the cached
/// old key would be confirmed until the TTL).
#[tokio::test]
async fn an_uninstall_and_reinstall_elsewhere_is_seen_at_the_next_recheck() {
    let (memory, _, cache) = rechecking();
    let now = adapters::clock::now_unix();
    assert_eq!(cache.get("1").await.unwrap().unwrap().version, 1);
    update(memory.as_ref(), "1", |r| r.mark_uninstalled(now, now))
        .await
        .unwrap();
    update(memory.as_ref(), "1", |r| {
        r.ttl = None;
        r.klaviyo = full_record("1").klaviyo.map(|mut k| {
            k.private_key = Secret::new("pk_live_reinstalled_key_3333");
            k
        });
    })
    .await
    .unwrap();
    let got = cache.get("1").await.unwrap().unwrap();
    assert_eq!(
        got.klaviyo.unwrap().private_key.expose(),
        "pk_live_reinstalled_key_3333",
        "the key from before the uninstall was still served"
    );
}

/// The deletion marker holds the store id, the version, the lifecycle times and its expiry:
/// no key, no token, no account detail.
#[test]
fn a_deletion_marker_holds_no_store_data() {
    let mut record = full_record("1");
    record.version = 4;
    record.lifecycle.authorized_at = Some(100);
    record.mark_uninstalled(200, 1_000);
    assert_eq!(
        record,
        StoreRecord {
            store_id: "1".into(),
            version: 4,
            lifecycle: adapters::keystore::Lifecycle {
                authorized_at: Some(100),
                settings_at: None,
                uninstalled_at: Some(200),
            },
            ttl: Some(1_000 + StoreRecord::MARKER_TTL_SECS),
            ..StoreRecord::default()
        }
    );
    // A late uninstall never moves the time back.
    record.mark_uninstalled(150, 1_000);
    assert_eq!(record.lifecycle.uninstalled_at, Some(200));
}

/// Confirming an unchanged entry costs a version read only: no full read (for DynamoDB, no
/// KMS decrypt), and the entry keeps being served.
#[tokio::test]
async fn an_unchanged_entry_is_confirmed_by_its_version_alone() {
    let (_, counting, cache) = rechecking();
    cache.get("1").await.unwrap().unwrap();
    for _ in 0..3 {
        cache.get("1").await.unwrap().unwrap();
    }
    assert_eq!(
        counting.counts(),
        CallCounts {
            gets: 1,
            versions: 3,
            ..CallCounts::default()
        }
    );
}

/// Within the recheck interval an entry is served with no call at all.
#[tokio::test]
async fn within_the_recheck_interval_an_entry_is_served_with_no_call() {
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1")]));
    let counting = Arc::new(CountingKeyStore::new(memory.clone()));
    let cache = CachedKeyStore::new(counting.clone(), Duration::from_secs(60))
        .with_recheck(Duration::from_secs(60));
    for _ in 0..3 {
        cache.get("1").await.unwrap().unwrap();
    }
    assert_eq!(
        counting.counts(),
        CallCounts {
            gets: 1,
            ..CallCounts::default()
        }
    );
}

/// A store that installed the app (Salla tokens held) but has no Klaviyo key yet: the
/// intake would answer "no key" and drop the event. The merchant connects in another
/// process; the very next read must see the key, whatever the recheck interval.
#[tokio::test]
async fn a_record_without_a_klaviyo_key_is_confirmed_before_every_use() {
    let mut installed = full_record("1");
    installed.klaviyo = None;
    let memory = Arc::new(MemoryKeyStore::with_records([installed]));
    let counting = Arc::new(CountingKeyStore::new(memory.clone()));
    let cache = CachedKeyStore::new(counting.clone(), Duration::from_secs(60))
        .with_recheck(Duration::from_secs(60));
    assert!(cache.get("1").await.unwrap().unwrap().klaviyo.is_none());

    let mut connected = memory.get("1").await.unwrap().unwrap();
    connected.klaviyo = full_record("1").klaviyo;
    memory.put(&connected).await.unwrap();

    let got = cache.get("1").await.unwrap().unwrap();
    assert!(
        got.klaviyo.is_some(),
        "the key connected elsewhere was not seen"
    );
    // One version read found the change; the connected record is then served as any other.
    cache.get("1").await.unwrap().unwrap();
    let counts = counting.counts();
    assert_eq!((counts.gets, counts.versions), (2, 1), "{counts:?}");
}

/// A version read that fails (DynamoDB throttled) keeps a cached key in use until the TTL:
/// an AWS brownout must not stop relaying for stores whose key we hold. A cached record
/// without a key is not believed on a failed check: the caller gets the (transient) error,
/// so the intake answers 503 and Salla redelivers instead of the event being dropped.
#[tokio::test]
async fn a_failed_recheck_keeps_a_key_but_never_confirms_no_key() {
    struct VersionFails(Arc<MemoryKeyStore>);
    #[async_trait]
    impl KeyStore for VersionFails {
        async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
            self.0.get(store_id).await
        }
        async fn version(&self, _: &str) -> Result<Option<u64>, AdapterError> {
            Err(AdapterError::Unavailable {
                service: adapters::Service::DynamoDb,
                detail: "throttled".into(),
            })
        }
        async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
            self.0.put(record).await
        }
        async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
            self.0.delete(store_id).await
        }
    }
    let mut installed = full_record("2");
    installed.klaviyo = None;
    let memory = Arc::new(MemoryKeyStore::with_records([full_record("1"), installed]));
    let cache = CachedKeyStore::new(Arc::new(VersionFails(memory)), Duration::from_secs(60))
        .with_recheck(Duration::ZERO);
    cache.get("1").await.unwrap().unwrap();
    assert!(cache.get("1").await.unwrap().unwrap().klaviyo.is_some());

    assert!(cache.get("2").await.unwrap().unwrap().klaviyo.is_none());
    assert!(cache.get("2").await.unwrap_err().is_transient());
}
