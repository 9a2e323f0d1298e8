//! An in-memory [`KeyStore`] for tests (handler tests, the cache tests). It keeps the same
//! optimistic-concurrency rule as the real stores, so code tested against it behaves the
//! same against DynamoDB: a `put` must carry the version it read, version 0 means "must not
//! exist yet", and each successful write returns the stored version + 1.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{KeyStore, StoreRecord};
use crate::AdapterError;
use crate::clock::now_unix;

/// Holds records in a process-local map. Nothing is encrypted or persisted: never use it
/// outside tests.
#[derive(Debug, Default)]
pub struct MemoryKeyStore {
    records: Mutex<HashMap<String, StoreRecord>>,
}

impl MemoryKeyStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store pre-filled with `records`, each stored at version 1 (whatever version it
    /// carries), as if written once through [`KeyStore::put`].
    pub fn with_records(records: impl IntoIterator<Item = StoreRecord>) -> Self {
        let store = Self::new();
        {
            let mut map = store.lock();
            for mut record in records {
                record.version = 1;
                map.insert(record.store_id.clone(), record);
            }
        }
        store
    }

    /// Number of stores held, for test assertions.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// Every record held, for the scan.
    pub(crate) fn records(&self) -> Vec<StoreRecord> {
        self.lock().values().cloned().collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, StoreRecord>> {
        // A panic while holding the lock cannot leave the map half-written (every change is
        // a single insert/remove), so a poisoned lock is still safe to use.
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        let now = now_unix();
        Ok(self
            .lock()
            .get(store_id)
            .filter(|r| !r.expired(now))
            .cloned())
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        let now = now_unix();
        let mut map = self.lock();
        // An expired deletion marker reads as absent, so a first put may replace it.
        let current = map
            .get(&record.store_id)
            .filter(|r| !r.expired(now))
            .map_or(0, |r| r.version);
        if current != record.version {
            return Err(AdapterError::Conflict {
                store_id: record.store_id.clone(),
            });
        }
        let version = current + 1;
        let mut stored = record.clone();
        stored.version = version;
        map.insert(record.store_id.clone(), stored);
        Ok(version)
    }

    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.lock().remove(store_id);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::keystore::{KlaviyoConnection, update};

    fn klaviyo(key: &str) -> KlaviyoConnection {
        KlaviyoConnection {
            private_key: Secret::new(key),
            account_name: Some("Acme".into()),
            account_id: Some("AbC123".into()),
            validated_at: 1_700_000_000,
            needs_reconnect: false,
        }
    }

    #[tokio::test]
    async fn put_get_delete_round_trip() {
        let store = MemoryKeyStore::new();
        let mut record = StoreRecord::new("s1");
        record.klaviyo = Some(klaviyo("pk_one"));
        assert_eq!(store.put(&record).await.unwrap(), 1);

        let got = store.get("s1").await.unwrap().expect("stored");
        assert_eq!(got.version, 1);
        assert_eq!(got.klaviyo, record.klaviyo);

        store.delete("s1").await.unwrap();
        assert!(store.get("s1").await.unwrap().is_none());
        store.delete("s1").await.unwrap(); // deleting a missing store is fine
    }

    #[tokio::test]
    async fn stale_version_conflicts() {
        let store = MemoryKeyStore::new();
        let record = StoreRecord::new("s2");
        assert_eq!(store.put(&record).await.unwrap(), 1);
        // Version 0 again: the record exists now, so this writer lost.
        assert!(matches!(
            store.put(&record).await,
            Err(AdapterError::Conflict { .. })
        ));
        let mut fresh = store.get("s2").await.unwrap().unwrap();
        fresh.klaviyo = Some(klaviyo("pk_two"));
        assert_eq!(store.put(&fresh).await.unwrap(), 2);
        // A version ahead of the stored one is a conflict too.
        fresh.version = 7;
        assert!(matches!(
            store.put(&fresh).await,
            Err(AdapterError::Conflict { .. })
        ));
    }

    #[tokio::test]
    async fn an_expired_marker_reads_as_absent_and_may_be_replaced() {
        let now = now_unix();
        let mut live = StoreRecord::new("m1");
        live.ttl = Some(now + 3600);
        let mut expired = StoreRecord::new("m2");
        expired.ttl = Some(now - 1);
        let store = MemoryKeyStore::with_records([live, expired]);
        assert!(store.get("m1").await.unwrap().is_some());
        assert_eq!(store.version("m1").await.unwrap(), Some(1));
        assert!(store.get("m2").await.unwrap().is_none());
        assert_eq!(store.version("m2").await.unwrap(), None);
        // A first put replaces the expired marker; the live one is still a conflict.
        assert_eq!(store.put(&StoreRecord::new("m2")).await.unwrap(), 1);
        assert!(store.get("m2").await.unwrap().unwrap().ttl.is_none());
        assert!(matches!(
            store.put(&StoreRecord::new("m1")).await,
            Err(AdapterError::Conflict { .. })
        ));
    }

    #[tokio::test]
    async fn update_applies_change_and_bumps_version() {
        let store = MemoryKeyStore::with_records([StoreRecord::new("s3")]);
        let written = update(&store, "s3", |r| r.klaviyo = Some(klaviyo("pk_three")))
            .await
            .unwrap();
        assert_eq!(written.version, 2);
        assert_eq!(store.get("s3").await.unwrap().unwrap(), written);
    }

    /// Only the lifecycle writer (`update`) touches a deletion marker or creates a record
    /// unasked; `update_live` refuses both, saying which.
    #[tokio::test]
    async fn live_writers_never_touch_a_marker_or_create_unasked() {
        use crate::keystore::{IfAbsent, NotWritten, update_live};
        let store = MemoryKeyStore::new();
        let set = |r: &mut StoreRecord| r.klaviyo = Some(klaviyo("pk_live"));
        assert_eq!(
            update_live(&store, "a", IfAbsent::Skip, set).await.unwrap(),
            Err(NotWritten::Absent)
        );
        assert!(store.is_empty());
        let created = update_live(&store, "a", IfAbsent::Create, set)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(created.version, 1);

        let now = now_unix();
        update(&store, "a", |r| r.mark_uninstalled(now, now))
            .await
            .unwrap();
        let marker = store.get("a").await.unwrap();
        for if_absent in [IfAbsent::Skip, IfAbsent::Create] {
            assert_eq!(
                update_live(&store, "a", if_absent, set).await.unwrap(),
                Err(NotWritten::Uninstalled)
            );
        }
        assert_eq!(store.get("a").await.unwrap(), marker);
        // The lifecycle writer may (a reinstall clears the marker's ttl).
        let reinstalled = update(&store, "a", |r| r.ttl = None).await.unwrap();
        assert_eq!(reinstalled.version, 3);
    }
}
