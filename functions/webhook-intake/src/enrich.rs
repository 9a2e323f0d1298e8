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

/// Refresh when less than this is left: a store quiet for days still finds a live token.
const REFRESH_MARGIN_SECS: i64 = 3 * 24 * 3600;
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

/// Product details per (store, product id), shared by all invocations of a warm process.
#[derive(Default)]
pub struct ProductCache {
    entries: Mutex<HashMap<(String, String), (Instant, ProductDetails)>>,
}

impl ProductCache {
    fn get(&self, store_id: &str, product_id: &str) -> Option<ProductDetails> {
        let entries = self.entries.lock().ok()?;
        let (at, details) = entries.get(&(store_id.to_string(), product_id.to_string()))?;
        (at.elapsed() < PRODUCT_TTL).then(|| details.clone())
    }

    fn put(&self, store_id: &str, product_id: &str, details: ProductDetails) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= PRODUCT_CACHE_MAX {
                entries.retain(|_, (at, _)| at.elapsed() < PRODUCT_TTL);
                if entries.len() >= PRODUCT_CACHE_MAX {
                    entries.clear();
                }
            }
            entries.insert(
                (store_id.to_string(), product_id.to_string()),
                (Instant::now(), details),
            );
        }
    }

    /// Drops a store's entries (uninstall).
    pub fn forget_store(&self, store_id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.retain(|(s, _), _| s != store_id);
        }
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
    if tokens.expires_at - now > REFRESH_MARGIN_SECS {
        return Some(tokens.access_token.clone());
    }
    let still_valid = (tokens.expires_at > now).then(|| tokens.access_token.clone());
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
    if tokens.expires_at - now > REFRESH_MARGIN_SECS {
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
