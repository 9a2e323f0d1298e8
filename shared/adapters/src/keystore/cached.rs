//! A short-TTL, in-process cache of decrypted store records.
//!
//! Every webhook needs the store's Klaviyo key; without a cache each event would pay a
//! DynamoDB read plus a KMS decrypt (tens of milliseconds and a per-request charge). A warm
//! Lambda process keeps the decrypted record for at most `ttl`, and confirms it is still
//! current by its version (a read that decrypts nothing, [`KeyStore::version`]):
//! - a record with a Klaviyo key: when its last confirmation is older than `recheck`
//!   (default [`RECHECK`]), so a key replaced or removed in another process stops being
//!   used within seconds; if the check itself fails, the key is used until `ttl`;
//! - a record without a Klaviyo key: before every use, because "no key" makes the intake
//!   drop the event, and the merchant may have connected a moment ago in the onboarding
//!   function; if the check fails the caller gets the error (the intake answers 503);
//! - "we hold nothing for this store": believed for a short negative TTL, so a burst of
//!   events for an unknown store does not hammer DynamoDB.
//!
//! Writes made through this cache update it at once, so the process that saved a new key
//! uses it for the very next event.
//!
//! The locks are `std::sync` ones and are never held across an `.await`: the inner store is
//! called with no lock taken.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{KeyStore, StoreRecord};
use crate::AdapterError;

/// Above this many cached stores, expired entries are swept on the next insert (and if
/// nothing has expired, the cache starts over) so memory stays bounded in a long-lived process.
const MAX_ENTRIES: usize = 10_000;

/// Upper bound on how long "we hold nothing for this store" is believed.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// How long a confirmed record with a Klaviyo key is used before its version is checked
/// again: the longest a key replaced or removed in another process keeps being used.
pub const RECHECK: Duration = Duration::from_secs(5);

/// Counters for the load tool and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// `get` calls answered from the cache.
    pub hits: u64,
    /// `get` calls that went to the inner store.
    pub misses: u64,
}

struct Entry {
    /// `None` caches "not found".
    record: Option<StoreRecord>,
    stored_at: Instant,
    /// When the inner store last confirmed `record`'s version (first: `stored_at`).
    checked_at: Instant,
}

/// What the cache knows about one store before calling the inner store.
enum Lookup {
    /// Use it as it is.
    Fresh(Option<StoreRecord>),
    /// Use it once the inner store confirms this version.
    Confirm(StoreRecord),
    /// Read the inner store.
    Miss,
}

pub struct CachedKeyStore {
    inner: Arc<dyn KeyStore>,
    ttl: Duration,
    negative_ttl: Duration,
    recheck: Duration,
    entries: RwLock<HashMap<String, Entry>>,
    /// Bumped twice by every write through the cache: when it starts, and (under the entries
    /// lock, together with caching its result) when it ends. A `get` caches what it read only
    /// if the counter has not moved since before its read, checked under the same lock, so a
    /// read that overlapped any part of a write never replaces what the write cached.
    writes: AtomicU64,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl CachedKeyStore {
    pub fn new(inner: Arc<dyn KeyStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            negative_ttl: ttl.min(NEGATIVE_TTL),
            recheck: ttl.min(RECHECK),
            entries: RwLock::new(HashMap::new()),
            writes: AtomicU64::new(0),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Overrides how long "not found" is cached (never longer than the TTL).
    pub fn with_negative_ttl(mut self, negative_ttl: Duration) -> Self {
        self.negative_ttl = negative_ttl.min(self.ttl);
        self
    }

    /// Overrides how long a confirmed record with a key is used before the next version check
    /// (never longer than the TTL; zero checks before every use).
    pub fn with_recheck(mut self, recheck: Duration) -> Self {
        self.recheck = recheck.min(self.ttl);
        self
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    /// Drops every cached entry (e.g. after an out-of-band change in tests).
    pub fn clear(&self) {
        self.write_entries().clear();
    }

    fn lookup(&self, store_id: &str) -> Lookup {
        let entries = self
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(entry) = entries.get(store_id) else {
            return Lookup::Miss;
        };
        match &entry.record {
            // "Not found" is kept only briefly (see the module comment).
            None if entry.stored_at.elapsed() < self.negative_ttl => Lookup::Fresh(None),
            None => Lookup::Miss,
            Some(_) if entry.stored_at.elapsed() >= self.ttl => Lookup::Miss,
            Some(record) if record.klaviyo.is_none() => Lookup::Confirm(record.clone()),
            Some(record) if entry.checked_at.elapsed() < self.recheck => {
                Lookup::Fresh(Some(record.clone()))
            }
            Some(record) => Lookup::Confirm(record.clone()),
        }
    }

    /// Records that the inner store confirmed `version`, unless a write began since
    /// `writes_before` (the write's own result is then what the cache holds).
    fn confirmed(&self, store_id: &str, version: u64, writes_before: u64) {
        let mut entries = self.write_entries();
        if self.writes.load(Ordering::Acquire) != writes_before {
            return;
        }
        if let Some(entry) = entries.get_mut(store_id)
            && entry.record.as_ref().map(|r| r.version) == Some(version)
        {
            entry.checked_at = Instant::now();
        }
    }

    fn write_entries(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Entry>> {
        // Every change under this lock is a single insert/remove/clear, so a poisoned lock
        // (a panic elsewhere while holding it) cannot leave a half-written entry.
        self.entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Caches a record read from the inner store, unless a write began since `writes_before`.
    fn store_read(&self, store_id: &str, record: Option<StoreRecord>, writes_before: u64) {
        let mut entries = self.write_entries();
        if self.writes.load(Ordering::Acquire) == writes_before {
            self.insert(&mut entries, store_id, record);
        }
    }

    /// Caches (`Some`) or evicts (`None`) the result of a finished write.
    fn store_written(&self, store_id: &str, result: Option<Option<StoreRecord>>) {
        let mut entries = self.write_entries();
        self.writes.fetch_add(1, Ordering::AcqRel);
        match result {
            Some(record) => self.insert(&mut entries, store_id, record),
            None => {
                entries.remove(store_id);
            }
        }
    }

    fn insert(
        &self,
        entries: &mut HashMap<String, Entry>,
        store_id: &str,
        record: Option<StoreRecord>,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(store_id) {
            let ttl = self.ttl;
            entries.retain(|_, e| e.stored_at.elapsed() < ttl);
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
        }
        let now = Instant::now();
        entries.insert(
            store_id.to_string(),
            Entry {
                record,
                stored_at: now,
                checked_at: now,
            },
        );
    }
}

#[async_trait]
impl KeyStore for CachedKeyStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        match self.lookup(store_id) {
            Lookup::Fresh(cached) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(cached);
            }
            Lookup::Confirm(cached) => {
                let writes_before = self.writes.load(Ordering::Acquire);
                match self.inner.version(store_id).await {
                    Ok(Some(version)) if version == cached.version => {
                        self.confirmed(store_id, version, writes_before);
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(Some(cached));
                    }
                    // Changed or deleted elsewhere: read it again below.
                    Ok(_) => {}
                    Err(e) if cached.klaviyo.is_some() => {
                        tracing::warn!(store_id, error = %e, "key store version check failed; using the cached key");
                        self.hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(Some(cached));
                    }
                    Err(e) => return Err(e),
                }
            }
            Lookup::Miss => {}
        }
        self.get_current(store_id).await
    }

    async fn get_current(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let writes_before = self.writes.load(Ordering::Acquire);
        let record = self.inner.get(store_id).await?;
        self.store_read(store_id, record.clone(), writes_before);
        Ok(record)
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        match self.inner.put(record).await {
            Ok(version) => {
                let mut stored = record.clone();
                stored.version = version;
                self.store_written(&record.store_id, Some(Some(stored)));
                Ok(version)
            }
            Err(e) => {
                // A conflict means our cached copy is stale; any other failure leaves us
                // unsure what is stored. Either way the next read goes to the inner store.
                self.store_written(&record.store_id, None);
                Err(e)
            }
        }
    }

    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.writes.fetch_add(1, Ordering::AcqRel);
        match self.inner.delete(store_id).await {
            Ok(()) => {
                self.store_written(store_id, Some(None));
                Ok(())
            }
            Err(e) => {
                self.store_written(store_id, None);
                Err(e)
            }
        }
    }
}

/// Counts of calls that reached a wrapped store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CallCounts {
    pub gets: u64,
    pub puts: u64,
    pub deletes: u64,
    /// [`KeyStore::version`] calls (the cache's confirmations).
    pub versions: u64,
}

/// Wraps a store and counts the calls that reach it, so tests can assert that a cache (or a
/// handler) did or did not go to the backing store.
pub struct CountingKeyStore {
    inner: Arc<dyn KeyStore>,
    counts: Mutex<CallCounts>,
}

impl CountingKeyStore {
    pub fn new(inner: Arc<dyn KeyStore>) -> Self {
        Self {
            inner,
            counts: Mutex::new(CallCounts::default()),
        }
    }

    pub fn counts(&self) -> CallCounts {
        *self
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self, which: impl FnOnce(&mut CallCounts)) {
        which(
            &mut self
                .counts
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        );
    }
}

#[async_trait]
impl KeyStore for CountingKeyStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        self.bump(|c| c.gets += 1);
        self.inner.get(store_id).await
    }

    async fn version(&self, store_id: &str) -> Result<Option<u64>, AdapterError> {
        self.bump(|c| c.versions += 1);
        self.inner.version(store_id).await
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        self.bump(|c| c.puts += 1);
        self.inner.put(record).await
    }

    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.bump(|c| c.deletes += 1);
        self.inner.delete(store_id).await
    }
}
