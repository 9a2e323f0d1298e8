//! Abandoned-cart enrichment. Salla's `abandoned.cart` webhook carries only product ids; a
//! Klaviyo cart email needs names, prices, images and links. When the store has Salla tokens
//! we look the products up (cached in the warm process), refreshing the access token first if
//! it is about to expire. Every failure here degrades to "send what we have": enrichment must
//! never cost the merchant the event.

use std::time::{Duration, Instant};

use adapters::clock::now_unix;
use adapters::deadline::Deadline;
use adapters::keystore::StoreRecord;
use adapters::salla::api::{Product, SallaApi};
use adapters::salla::refresh::TokenRefresh;
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use futures::future::join_all;
use mapping::{Enrichment, ProductDetails};

use crate::Deps;

/// Product data changes rarely against a cart's lifetime; ten minutes keeps Salla API calls low.
const PRODUCT_TTL: Duration = Duration::from_secs(600);
const PRODUCT_CACHE_MAX: usize = 20_000;
/// At most this many product lookups per cart: a huge cart must not eat the time budget.
const MAX_LOOKUPS: usize = 20;
/// Enrichment (a token refresh included) ends this long after it starts at the latest...
pub const ENRICH_BUDGET: Duration = Duration::from_secs(8);
/// ...and leaves this much of the invocation's deadline to Klaviyo (half of it when the
/// whole budget is shorter than twice this).
pub const KLAVIYO_RESERVE: Duration = Duration::from_secs(10);

/// The Merchant API's product lookup. A trait so the time budget is testable without HTTP.
#[async_trait]
pub trait ProductLookup: Send + Sync {
    async fn get_product(
        &self,
        access_token: &Secret,
        product_id: &str,
    ) -> Result<Option<Product>, AdapterError>;

    /// The order's `data` as JSON text, for a shipment event that names no customer.
    async fn get_order(
        &self,
        _access_token: &Secret,
        _order_id: &str,
    ) -> Result<Option<String>, AdapterError> {
        Ok(None)
    }
}

#[async_trait]
impl ProductLookup for SallaApi {
    async fn get_product(
        &self,
        access_token: &Secret,
        product_id: &str,
    ) -> Result<Option<Product>, AdapterError> {
        SallaApi::get_product(self, access_token, product_id).await
    }

    async fn get_order(
        &self,
        access_token: &Secret,
        order_id: &str,
    ) -> Result<Option<String>, AdapterError> {
        SallaApi::get_order(self, access_token, order_id).await
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

/// Looks up what the cart's products need; never fails, and is done by
/// [`enrichment_deadline`] of the invocation's `deadline`.
pub async fn enrichment(
    deps: &Deps,
    record: &StoreRecord,
    product_ids: &[String],
    deadline: Deadline,
) -> Enrichment {
    let deadline = enrichment_deadline(deadline);
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
    let Some(token) = access_token(deps, record, deadline).await else {
        return enrichment;
    };
    let lookups = missing.iter().map(|id| {
        deadline.run(
            adapters::Service::Salla,
            deps.salla_api.get_product(&token, id),
        )
    });
    for (id, result) in missing.iter().zip(join_all(lookups).await) {
        match result {
            Ok(Some(product)) => {
                let details = ProductDetails::from(product);
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

/// The order of a shipment event that names no customer (Salla's outbound shipment
/// payloads often carry only the order id): its customer receives the shipment's events.
/// `Ok(None)` when the store has no usable token or Salla refuses it: the mapping then
/// ignores the event rather than sending it to the gift recipient in `ship_to`. Salla being
/// down is an error, so the delivery is answered 503 and Salla sends it again.
pub async fn shipment_order(
    deps: &Deps,
    record: &StoreRecord,
    order_id: &str,
    deadline: Deadline,
) -> Result<Option<String>, AdapterError> {
    let deadline = enrichment_deadline(deadline);
    let Some(token) = access_token(deps, record, deadline).await else {
        return Ok(None);
    };
    match deadline
        .run(
            adapters::Service::Salla,
            deps.salla_api.get_order(&token, order_id),
        )
        .await
    {
        Ok(order) => Ok(order),
        Err(e) if e.is_transient() => Err(e),
        Err(e) => {
            tracing::warn!(store_id = %record.store_id, error = %e, "shipment order lookup refused");
            Ok(None)
        }
    }
}

/// The part of the invocation's deadline enrichment may use.
pub fn enrichment_deadline(deadline: Deadline) -> Deadline {
    let reserve = KLAVIYO_RESERVE.min(deadline.remaining() / 2);
    deadline.reserving(reserve).within(ENRICH_BUDGET)
}

/// A usable access token, refreshing it first when it is close to expiry and time allows.
pub(crate) async fn access_token(
    deps: &Deps,
    record: &StoreRecord,
    deadline: Deadline,
) -> Option<Secret> {
    TokenRefresh {
        store: deps.store.as_ref(),
        refresher: deps.refresher.as_ref(),
        locks: &deps.refresh_locks,
    }
    .access_token(record, now_unix(), deadline)
    .await
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
