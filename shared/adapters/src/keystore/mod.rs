//! Per-store connection secrets: the merchant's Klaviyo private key and the Salla OAuth
//! tokens, keyed by Salla store ID. Nothing about the store's customers or orders is ever
//! held here.
//!
//! Implementations:
//! - [`dynamo::DynamoKeyStore`]: one DynamoDB item per store, secrets encrypted with KMS
//!   under an encryption context carrying the store ID.
//! - [`embedded::EmbeddedKeyStore`]: the local development default; a file per store under
//!   a data directory, encrypted with a locally generated key.
//! - [`memory::MemoryKeyStore`]: in-process map for tests, same version rule.
//! - [`cached::CachedKeyStore`]: wraps either with a short-TTL in-process cache so a warm
//!   process pays no KMS/DynamoDB call per event.
//!
//! [`build`] picks one from the [`Config`] once per cold start.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{Config, KeyStoreKind};
use crate::{AdapterError, Secret};

/// Longest store (merchant) id the adapters accept, in bytes: the embedded store's file
/// names, signed sessions and Salla's user info all hold to it. Salla's ids are ~10 digits.
pub const MAX_STORE_ID_LEN: usize = 64;

pub mod cached;
pub mod dynamo;
pub mod embedded;
pub mod memory;
pub mod scan;
mod tokens;

/// The configured key store without the cache, and its token scan (the same store). For a
/// job that must read the latest record, such as the scheduled token refresh.
pub async fn open(
    config: &Config,
) -> Result<(Arc<dyn KeyStore>, Arc<dyn scan::TokenScan>), AdapterError> {
    Ok(match &config.key_store {
        KeyStoreKind::Embedded { data_dir } => {
            let store = Arc::new(embedded::EmbeddedKeyStore::open(data_dir.clone())?);
            (store.clone(), store)
        }
        KeyStoreKind::DynamoDb { table, kms_key_id } => {
            let store =
                Arc::new(dynamo::DynamoKeyStore::from_env(table.clone(), kms_key_id.clone()).await);
            (store.clone(), store)
        }
    })
}

/// The configured key store, wrapped in the warm-process cache. Called once per cold start.
pub async fn build(config: &Config) -> Result<Arc<dyn KeyStore>, AdapterError> {
    let (inner, _) = open(config).await?;
    Ok(Arc::new(cached::CachedKeyStore::new(
        inner,
        config.key_cache_ttl,
    )))
}

/// The merchant's Klaviyo connection.
#[derive(Debug, Clone, PartialEq)]
pub struct KlaviyoConnection {
    pub private_key: Secret,
    /// Klaviyo account display name, from `GET /api/accounts` at validation time.
    pub account_name: Option<String>,
    /// Klaviyo account id (the public API key / site id), for the onboarding page.
    pub account_id: Option<String>,
    /// Unix seconds of the last successful validation against Klaviyo.
    pub validated_at: i64,
    /// Set when Klaviyo answered 401/403 for this key on a live event: the merchant must
    /// reconnect. Cleared when a new key is validated.
    pub needs_reconnect: bool,
}

/// Salla OAuth tokens for the store's Merchant API (cart enrichment, later backfill).
#[derive(Debug, Clone, PartialEq)]
pub struct SallaTokens {
    pub access_token: Secret,
    /// Single-use: every refresh returns a new one, and reusing an old one forces the
    /// merchant to reinstall. Only ever refreshed under [`KeyStore::put`]'s version check.
    pub refresh_token: Secret,
    /// Absolute expiry of the access token, unix seconds (see [`SallaTokens::expiry_from`]
    /// and [`SallaTokens::needs_refresh`]).
    pub expires_at: i64,
    pub scope: Option<String>,
    /// Unix seconds until which one process holds the right to spend the refresh token.
    /// Written with a version-checked put before refreshing, so two Lambda instances never
    /// use the same single-use refresh token. Non-secret metadata; store it as plain.
    pub refresh_lease_until: Option<i64>,
    /// Unix seconds at which refreshing stopped for this store: a refresh may have spent the
    /// single-use refresh token without our learning the new one (timeout, 5xx), or Salla
    /// refused it (`invalid_grant`). No refresh is tried while set; new tokens from
    /// `app.store.authorize` or the OAuth callback clear it. Non-secret metadata.
    pub refresh_blocked_at: Option<i64>,
}

/// Everything we hold for one store.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StoreRecord {
    pub store_id: String,
    pub klaviyo: Option<KlaviyoConnection>,
    pub salla: Option<SallaTokens>,
    /// Optimistic-concurrency version. 0 means "not stored yet". [`KeyStore::put`] succeeds
    /// only if the stored version still equals this value, and returns the new version.
    pub version: u64,
    /// When the newest lifecycle event of each kind we applied was sent.
    pub lifecycle: Lifecycle,
    /// Unix seconds after which the record reads as absent: set on a deletion marker (an
    /// uninstalled store), so it vanishes even before DynamoDB's TTL sweep removes it.
    pub ttl: Option<i64>,
    /// The history import's progress and cursor (counts, times, an error code).
    pub history: Option<crate::history::HistoryProgress>,
    /// The merchant's COD confirmation settings (configuration: no shopper data); `None`
    /// until the settings form sends them, read as the defaults.
    pub cod: Option<mapping::CodSettings>,
    /// The merchant's CRM tier choice (configuration: no shopper data); `None` until the
    /// page saves one, read as Preset A at the default margin.
    pub crm: Option<mapping::crm::CrmSettings>,
    /// The merchant's loyalty points rules (configuration: no shopper data); `None` until
    /// the settings form sends them, read as points off.
    pub loyalty: Option<mapping::points::PointsRules>,
}

/// Unix seconds of the newest lifecycle event of each kind applied to a store (the event's
/// own `created_at`, or the install time for the OAuth callback). Salla neither orders nor
/// deduplicates deliveries, so an event older than these is stale and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifecycle {
    pub authorized_at: Option<i64>,
    pub settings_at: Option<i64>,
    pub uninstalled_at: Option<i64>,
}

impl StoreRecord {
    /// How long a deletion marker outlives the uninstall: far longer than Salla's retries and
    /// the oldest lifecycle body accepted, so any late event still finds it.
    pub const MARKER_TTL_SECS: i64 = 48 * 3600;

    /// Turns the record into a deletion marker: nothing but the store id, the version (which
    /// keeps increasing, so a warm cache never mistakes a reinstall for what it holds), the
    /// lifecycle times and the marker's expiry. `at` is the uninstall's time.
    pub fn mark_uninstalled(&mut self, at: i64, now: i64) {
        let mut lifecycle = self.lifecycle;
        lifecycle.uninstalled_at = lifecycle.uninstalled_at.max(Some(at));
        *self = StoreRecord {
            store_id: std::mem::take(&mut self.store_id),
            version: self.version,
            lifecycle,
            ttl: Some(now.saturating_add(Self::MARKER_TTL_SECS)),
            ..StoreRecord::default()
        };
    }

    /// Whether the record is a deletion marker: the store uninstalled the app. (A marker past
    /// its `ttl` reads as absent, so a record as read is a marker only while it lives.)
    pub fn is_marker(&self) -> bool {
        self.ttl.is_some()
    }

    /// Whether the record has expired (a deletion marker past its `ttl`): it reads as absent.
    pub fn expired(&self, now: i64) -> bool {
        self.ttl.is_some_and(|ttl| ttl <= now)
    }
}

impl StoreRecord {
    pub fn new(store_id: impl Into<String>) -> Self {
        Self {
            store_id: store_id.into(),
            ..Self::default()
        }
    }
}

#[async_trait]
pub trait KeyStore: Send + Sync {
    /// The record for a store, or `None` if we hold nothing for it (an expired deletion
    /// marker included). A put at version 0 may replace an expired marker.
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError>;

    /// The record as stored now, never a cached copy (which may be seconds behind): what a
    /// decision that refuses an event is confirmed on, since a refused event is not retried.
    async fn get_current(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        self.get(store_id).await
    }

    /// The stored record's version, or `None` if we hold nothing for the store: what the
    /// warm-process cache compares to confirm an entry. An implementation overrides it when
    /// it can answer without decrypting anything (DynamoDB: one projected read, no KMS).
    async fn version(&self, store_id: &str) -> Result<Option<u64>, AdapterError> {
        Ok(self.get(store_id).await?.map(|r| r.version))
    }

    /// Writes the whole record if the stored version equals `record.version` (0: must not
    /// exist yet). Returns the new version; [`AdapterError::Conflict`] if another writer won.
    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError>;

    /// Deletes everything held for the store. Deleting a missing store is not an error.
    ///
    /// No production path calls it: deleting restarts the store's version at 1, which a warm
    /// cache confirming by version could mistake for the record it holds, and an uninstall
    /// leaves a deletion marker instead. Kept for tests and tools that need a store gone.
    async fn delete(&self, store_id: &str) -> Result<(), AdapterError>;
}

/// Read-modify-write with optimistic concurrency: re-reads and re-applies `change` when
/// another writer got there first. Returns the record as written.
///
/// For the lifecycle writers only (install, uninstall): it creates the record of a store we
/// hold nothing for and writes onto a deletion marker. Every other writer uses
/// [`update_live`], so no page action, token save or history claim brings back a store that
/// was uninstalled.
pub async fn update<F>(
    store: &dyn KeyStore,
    store_id: &str,
    mut change: F,
) -> Result<StoreRecord, AdapterError>
where
    F: FnMut(&mut StoreRecord) + Send,
{
    // The lifecycle writer is never refused: no `NotWritten` comes back.
    write(store, store_id, Writer::Lifecycle, &mut change)
        .await?
        .map_err(|_| AdapterError::Conflict {
            store_id: store_id.to_string(),
        })
}

/// Why [`update_live`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotWritten {
    /// We hold nothing for the store: never installed, or its deletion marker expired.
    Absent,
    /// The store uninstalled the app: its record is a deletion marker, which only the
    /// lifecycle events (a reinstall) may change.
    Uninstalled,
}

/// What [`update_live`] does for a store we hold nothing for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfAbsent {
    /// Writes nothing ([`NotWritten::Absent`]): a token save, a history claim or a
    /// reconnection flag belongs to a record that exists.
    Skip,
    /// Creates the record: the page's key save only, since the merchant may connect a key
    /// before `app.store.authorize` reaches us.
    Create,
}

/// [`update`] for every writer that is not a lifecycle event: nothing is written onto a
/// deletion marker ([`NotWritten::Uninstalled`]), and a store we hold nothing for gets a
/// record only with [`IfAbsent::Create`]. Decided inside the version-checked write, so an
/// uninstall landing between the read and the write wins. Returns the record as written.
pub async fn update_live<F>(
    store: &dyn KeyStore,
    store_id: &str,
    if_absent: IfAbsent,
    mut change: F,
) -> Result<Result<StoreRecord, NotWritten>, AdapterError>
where
    F: FnMut(&mut StoreRecord) + Send,
{
    write(store, store_id, Writer::Live(if_absent), &mut change).await
}

#[derive(Clone, Copy)]
enum Writer {
    Lifecycle,
    Live(IfAbsent),
}

async fn write<F>(
    store: &dyn KeyStore,
    store_id: &str,
    writer: Writer,
    change: &mut F,
) -> Result<Result<StoreRecord, NotWritten>, AdapterError>
where
    F: FnMut(&mut StoreRecord) + Send,
{
    const ATTEMPTS: usize = 5;
    let mut last = None;
    for _ in 0..ATTEMPTS {
        let mut record = match (store.get(store_id).await?, writer) {
            (Some(record), Writer::Live(_)) if record.is_marker() => {
                return Ok(Err(NotWritten::Uninstalled));
            }
            (Some(record), _) => record,
            (None, Writer::Live(IfAbsent::Skip)) => return Ok(Err(NotWritten::Absent)),
            (None, _) => StoreRecord::new(store_id),
        };
        change(&mut record);
        match store.put(&record).await {
            Ok(version) => {
                record.version = version;
                return Ok(Ok(record));
            }
            Err(e @ AdapterError::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(AdapterError::Conflict {
        store_id: store_id.to_string(),
    }))
}
