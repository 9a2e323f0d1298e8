//! Abandoned-cart enrichment. Salla's `abandoned.cart` webhook carries only product ids; a
//! Klaviyo cart email needs names, prices, images and links. When the store has Salla tokens
//! we look the products up (cached in the warm process), refreshing the access token first if
//! it is about to expire. Every failure here degrades to "send what we have": enrichment must
//! never cost the merchant the event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use adapters::clock::now_unix;
use adapters::config::Config;
use adapters::keystore::{SallaTokens, StoreRecord};
use adapters::salla::api::Product;
use adapters::salla::oauth::SallaOAuth;
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use futures::future::join_all;
use mapping::{Enrichment, ProductDetails};

use crate::Deps;

/// How long one process may hold the refresh lease (a refresh takes well under a second).
const LEASE_SECS: i64 = 30;
/// Product data changes rarely against a cart's lifetime; ten minutes keeps Salla API calls low.
const PRODUCT_TTL: Duration = Duration::from_secs(600);
const PRODUCT_CACHE_MAX: usize = 20_000;
/// At most this many product lookups per cart: a huge cart must not eat the time budget.
const MAX_LOOKUPS: usize = 20;

/// Exchanges a refresh token for new tokens. A trait so the lease logic is testable.
#[async_trait]
pub trait TokenRefresher: Send + Sync {
    async fn refresh(&self, refresh_token: &Secret) -> Result<SallaTokens, AdapterError>;
}

pub struct OAuthRefresher {
    oauth: SallaOAuth,
}

impl OAuthRefresher {
    pub fn new(config: &Config) -> Self {
        Self {
            oauth: SallaOAuth::new(
                config.salla_accounts_url.clone(),
                config.salla_client_id.clone(),
                config.salla_client_secret.clone(),
            ),
        }
    }
}

#[async_trait]
impl TokenRefresher for OAuthRefresher {
    async fn refresh(&self, refresh_token: &Secret) -> Result<SallaTokens, AdapterError> {
        self.oauth.refresh(refresh_token).await
    }
}

/// Product details per (store, product id), shared by all invocations of a warm process:
/// at most `capacity` entries (the least useful are evicted), each served for `ttl`.
pub struct ProductCache {
    entries: quick_cache::sync::Cache<(String, String), (Instant, ProductDetails)>,
    ttl: Duration,
}

impl Default for ProductCache {
    fn default() -> Self {
        Self::new(PRODUCT_CACHE_MAX, PRODUCT_TTL)
    }
}

impl ProductCache {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: quick_cache::sync::Cache::new(capacity),
            ttl,
        }
    }

    fn get(&self, store_id: &str, product_id: &str) -> Option<ProductDetails> {
        let key = (store_id.to_string(), product_id.to_string());
        let (at, details) = self.entries.get(&key)?;
        if at.elapsed() < self.ttl {
            return Some(details);
        }
        self.entries.remove(&key);
        None
    }

    fn put(&self, store_id: &str, product_id: &str, details: ProductDetails) {
        self.entries.insert(
            (store_id.to_string(), product_id.to_string()),
            (Instant::now(), details),
        );
    }

    /// Drops a store's entries (uninstall).
    pub fn forget_store(&self, store_id: &str) {
        self.entries.retain(|(s, _), _| s != store_id);
    }

    /// How many entries are held, expired ones included until they are looked up or evicted.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// One async mutex per store, so concurrent invocations in this process refresh once.
#[derive(Default)]
pub struct RefreshLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl RefreshLocks {
    fn for_store(&self, store_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.locks.lock() {
            Ok(mut locks) => locks.entry(store_id.to_string()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// Looks up what the cart's products need; never fails.
pub async fn enrichment(deps: &Deps, record: &StoreRecord, product_ids: &[String]) -> Enrichment {
    let store_id = record.store_id.as_str();
    let mut enrichment = Enrichment::default();
    let mut missing = Vec::new();
    for id in product_ids.iter().take(MAX_LOOKUPS) {
        match deps.products.get(store_id, id) {
            Some(details) => {
                enrichment.products.insert(id.clone(), details);
            }
            None => missing.push(id.clone()),
        }
    }
    if missing.is_empty() {
        return enrichment;
    }
    let Some(token) = access_token(deps, record).await else {
        return enrichment;
    };
    let lookups = missing
        .iter()
        .map(|id| deps.salla_api.get_product(&token, id));
    for (id, result) in missing.iter().zip(join_all(lookups).await) {
        match result {
            Ok(Some(product)) => {
                let details = to_details(product);
                deps.products.put(store_id, id, details.clone());
                enrichment.products.insert(id.clone(), details);
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(store_id, error = %e, "cart enrichment lookup failed; sending without it");
            }
        }
    }
    enrichment
}

fn to_details(p: Product) -> ProductDetails {
    ProductDetails {
        name: p.name,
        sku: p.sku,
        price: p.price,
        url: p.url,
        image_url: p.image_url,
        categories: Vec::new(),
        brand: None,
    }
}

/// A usable access token, refreshing it first when it is close to expiry.
async fn access_token(deps: &Deps, record: &StoreRecord) -> Option<Secret> {
    let tokens = record.salla.as_ref()?;
    let now = now_unix();
    if !tokens.needs_refresh(now) {
        return Some(tokens.access_token.clone());
    }
    let still_valid = tokens.live_access_token(now).cloned();
    match refresh_under_lease(deps, &record.store_id).await {
        Ok(Some(fresh)) => Some(fresh),
        Ok(None) => still_valid,
        Err(e) => {
            tracing::warn!(store_id = %record.store_id, error = %e, "salla token refresh failed");
            still_valid
        }
    }
}

/// Refreshes the store's Salla tokens at most once across every process: the refresh token is
/// single-use, and a second use makes Salla revoke the grant (the merchant must reinstall).
/// The lease is taken with a version-checked write, so of two racing processes only one wins.
/// Returns the new access token, or None when another process holds the lease.
pub async fn refresh_under_lease(
    deps: &Deps,
    store_id: &str,
) -> Result<Option<Secret>, AdapterError> {
    let lock = deps.refresh_locks.for_store(store_id);
    let _guard = lock.lock().await;
    let now = now_unix();

    // Re-read after taking the local lock: another invocation may have refreshed already.
    let Some(mut record) = deps.store.get(store_id).await? else {
        return Ok(None);
    };
    let Some(tokens) = record.salla.clone() else {
        return Ok(None);
    };
    if !tokens.needs_refresh(now) {
        return Ok(Some(tokens.access_token));
    }
    if tokens.refresh_lease_until.is_some_and(|until| until > now) {
        return Ok(None);
    }
    // Take the lease. A Conflict means another process wrote first: let it refresh.
    record.salla = Some(SallaTokens {
        refresh_lease_until: Some(now + LEASE_SECS),
        ..tokens.clone()
    });
    match deps.store.put(&record).await {
        Ok(version) => record.version = version,
        Err(AdapterError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }

    let fresh = match deps.refresher.refresh(&tokens.refresh_token).await {
        Ok(fresh) => fresh,
        Err(e) => {
            // Leave the lease to expire rather than retrying at once: whether Salla consumed
            // the refresh token is unknown, and a second use would revoke the grant.
            return Err(e);
        }
    };
    let access = fresh.access_token.clone();
    record.salla = Some(SallaTokens {
        refresh_lease_until: None,
        ..fresh
    });
    // The old refresh token is spent: the new one must be persisted, so retry the write
    // (we hold the lease, nobody else should be writing the tokens).
    for _ in 0..3 {
        match deps.store.put(&record).await {
            Ok(_) => return Ok(Some(access)),
            Err(AdapterError::Conflict { .. }) => {
                let Some(latest) = deps.store.get(store_id).await? else {
                    return Ok(Some(access));
                };
                record.version = latest.version;
                record.klaviyo = latest.klaviyo;
            }
            Err(e) => return Err(e),
        }
    }
    Err(AdapterError::Conflict {
        store_id: store_id.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn details(name: &str) -> ProductDetails {
        ProductDetails {
            name: Some(name.to_string()),
            ..ProductDetails::default()
        }
    }

    #[test]
    fn default_cache_serves_what_it_was_given() {
        let cache = ProductCache::default();
        assert_eq!(cache.get("1", "p"), None);
        cache.put("1", "p", details("Oud"));
        assert_eq!(cache.get("1", "p"), Some(details("Oud")));
        // Keyed by store as well as product.
        assert_eq!(cache.get("2", "p"), None);
        cache.put("1", "p", details("Musk"));
        assert_eq!(cache.get("1", "p"), Some(details("Musk")));
    }

    #[test]
    fn expired_entries_are_not_served() {
        let cache = ProductCache::new(10, Duration::ZERO);
        cache.put("1", "p", details("Oud"));
        assert_eq!(cache.get("1", "p"), None);
        assert!(
            cache.is_empty(),
            "an expired entry is dropped when looked up"
        );

        let cache = ProductCache::new(10, Duration::from_millis(30));
        cache.put("1", "p", details("Oud"));
        assert!(cache.get("1", "p").is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(cache.get("1", "p"), None);
    }

    #[test]
    fn the_cache_stays_within_its_bound() {
        let cache = ProductCache::new(100, PRODUCT_TTL);
        for i in 0..1_000 {
            cache.put("1", &i.to_string(), details("x"));
        }
        assert!(cache.len() <= 100, "{} entries", cache.len());
        // The newest entry is kept.
        assert!(cache.get("1", "999").is_some());

        let default = ProductCache::default();
        for i in 0..PRODUCT_CACHE_MAX + 500 {
            default.put("1", &i.to_string(), details("x"));
        }
        assert!(
            default.len() <= PRODUCT_CACHE_MAX,
            "{} entries",
            default.len()
        );
    }

    #[test]
    fn forgetting_a_store_keeps_the_others() {
        let cache = ProductCache::default();
        cache.put("1", "a", details("a"));
        cache.put("1", "b", details("b"));
        cache.put("2", "a", details("c"));
        cache.forget_store("1");
        assert_eq!(cache.get("1", "a"), None);
        assert_eq!(cache.get("1", "b"), None);
        assert_eq!(cache.get("2", "a"), Some(details("c")));
    }
}
