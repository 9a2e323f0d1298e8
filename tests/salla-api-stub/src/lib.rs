//! A local Salla Merchant API for the history import's tests and load runs.
//!
//! It serves under the base URL the adapters use as `SALLA_API_URL` (production
//! `https://api.salla.dev/admin/v2`), so the routes are `/orders`, `/orders/{id}`, `/customers`
//! and `/products`, the product detail `/products/{id}` the live path's enrichment reads, plus
//! the order status update `POST /orders/{id}/status`. Each store has a bearer token and a generated dataset ([`Dataset`]);
//! answers use Salla's envelopes, pagination and rate-limit headers; tokens can expire;
//! faults and latency can be injected; every call is recorded (path, query, status, store:
//! never a body or a token).

mod data;
mod limits;
mod points;
mod server;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use tokio::net::TcpListener;

pub use data::{Dataset, local_day, local_text, parse_day};
pub use limits::{Admission, Bucket, RateConfig};
pub use points::PointsOrder;

/// One answered call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The store the token belonged to; `None` when the token was unknown.
    pub store_id: Option<String>,
    pub method: String,
    pub path: String,
    pub query: String,
    pub status: u16,
}

/// One accepted order status update (`POST /orders/{id}/status`), for exactly-once assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdate {
    pub store_id: String,
    pub order_id: u64,
    pub slug: String,
}

/// Counters for assertions and the binary's summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StubStats {
    pub requests: u64,
    pub by_status: BTreeMap<u16, u64>,
    /// 429 answers (the general budget and the customers cap together).
    pub throttled: u64,
    pub by_store: BTreeMap<String, u64>,
}

pub(crate) struct StoreState {
    pub store: data::Store,
    pub token: String,
    /// Requests the token still answers before it expires (`None`: never).
    pub expires_after: Option<u64>,
    pub expired: bool,
    /// Scopes the token lacks (e.g. `customers.read`): such routes answer 401 like Salla.
    pub missing_scopes: HashSet<String>,
    pub bucket: Bucket,
    pub customers_bucket: Bucket,
    /// Status slugs set through the API (or by a test), over the generated ones.
    pub statuses: HashMap<u64, String>,
}

pub(crate) struct State {
    pub stores: BTreeMap<String, StoreState>,
    /// Token → store id, current tokens only.
    pub tokens: HashMap<String, String>,
    pub rate: RateConfig,
    pub customers_rate: RateConfig,
    pub latency: Duration,
    /// Injected failures: (status, how many answers left).
    pub faults: Vec<(u16, u64)>,
    pub record: bool,
    pub calls: Vec<Call>,
    pub status_updates: Vec<StatusUpdate>,
    pub stats: StubStats,
    /// Explicit customers, orders and reviews for the loyalty points' reads.
    pub points: points::PointsData,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    /// Ties the monotonic clock to wall time for `X-RateLimit-Reset`.
    pub started: Instant,
    pub started_wall: SystemTime,
}

impl Shared {
    pub fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking test thread must not poison every later answer.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The running stub; dropping it stops the server.
pub struct SallaApiStub {
    /// `http://127.0.0.1:PORT`: the value for `SALLA_API_URL`.
    pub base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for SallaApiStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for SallaApiStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SallaApiStub")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl SallaApiStub {
    /// Starts on an ephemeral port. Panics only if the loopback cannot be bound (tests).
    pub async fn start() -> SallaApiStub {
        match SallaApiStub::start_on(0).await {
            Ok(stub) => stub,
            Err(e) => panic!("salla-api-stub: cannot listen on 127.0.0.1: {e}"),
        }
    }

    /// Starts on `port` (0 = ephemeral). Rate limits default to [`RateConfig::PLUS_FAST`] and
    /// [`RateConfig::CUSTOMERS_FAST`].
    pub async fn start_on(port: u16) -> std::io::Result<SallaApiStub> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                stores: BTreeMap::new(),
                tokens: HashMap::new(),
                rate: RateConfig::PLUS_FAST,
                customers_rate: RateConfig::CUSTOMERS_FAST,
                latency: Duration::ZERO,
                faults: Vec::new(),
                record: true,
                calls: Vec::new(),
                status_updates: Vec::new(),
                stats: StubStats::default(),
                points: Default::default(),
            }),
            started: Instant::now(),
            started_wall: SystemTime::now(),
        });
        let task = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared)));
        Ok(SallaApiStub {
            base_url,
            shared,
            task,
        })
    }

    /// Adds (or replaces) a store answering to `token`.
    pub fn add_store(&self, store_id: &str, token: &str, dataset: Dataset) {
        let mut s = self.shared.lock();
        let now = Instant::now();
        if let Some(old) = s.stores.get(store_id).map(|st| st.token.clone()) {
            s.tokens.remove(&old);
        }
        s.tokens.insert(token.to_owned(), store_id.to_owned());
        s.stores.insert(
            store_id.to_owned(),
            StoreState {
                store: data::Store::new(dataset),
                token: token.to_owned(),
                expires_after: None,
                expired: false,
                missing_scopes: HashSet::new(),
                bucket: Bucket::new(now),
                customers_bucket: Bucket::new(now),
                statuses: HashMap::new(),
            },
        );
    }

    /// Every accepted status update, in order.
    pub fn status_updates(&self) -> Vec<StatusUpdate> {
        self.shared.lock().status_updates.clone()
    }

    /// Sets an order's status slug as the merchant would in the dashboard (not recorded as
    /// an API update).
    pub fn set_order_status(&self, store_id: &str, order_id: u64, slug: &str) {
        if let Some(st) = self.shared.lock().stores.get_mut(store_id) {
            st.statuses.insert(order_id, slug.to_owned());
        }
    }

    /// The store's token answers `n` more requests, then 401 until [`Self::rotate_token`].
    /// `None` switches expiry off again.
    pub fn expire_token_after(&self, store_id: &str, n: Option<u64>) {
        if let Some(st) = self.shared.lock().stores.get_mut(store_id) {
            st.expires_after = n;
            st.expired = n == Some(0);
        }
    }

    /// Replaces the store's token (as a refresh does); the old one stops working at once.
    pub fn rotate_token(&self, store_id: &str, new_token: &str) {
        let mut s = self.shared.lock();
        let Some(old) = s.stores.get(store_id).map(|st| st.token.clone()) else {
            return;
        };
        s.tokens.remove(&old);
        s.tokens.insert(new_token.to_owned(), store_id.to_owned());
        if let Some(st) = s.stores.get_mut(store_id) {
            st.token = new_token.to_owned();
            st.expires_after = None;
            st.expired = false;
        }
    }

    /// The token lacks `scope` (e.g. `customers.read`): the routes needing it answer 401 with
    /// Salla's scope message.
    pub fn deny_scope(&self, store_id: &str, scope: &str) {
        if let Some(st) = self.shared.lock().stores.get_mut(store_id) {
            st.missing_scopes.insert(scope.to_owned());
        }
    }

    /// Adds `n` orders to the store, dated after every existing one (orders placed while an
    /// import pages).
    pub fn add_orders(&self, store_id: &str, n: usize) {
        if let Some(st) = self.shared.lock().stores.get_mut(store_id) {
            st.store.add_orders(n);
        }
    }

    /// Every order id of the store in id order (for completeness assertions).
    pub fn order_ids(&self, store_id: &str) -> Vec<u64> {
        let s = self.shared.lock();
        s.stores.get(store_id).map_or_else(Vec::new, |st| {
            (0..st.store.order_count())
                .map(|i| st.store.order_id(i))
                .collect()
        })
    }

    /// The detail body (`data`) of an order, as `GET /orders/{id}` serves it.
    pub fn order_detail(&self, store_id: &str, order_id: u64) -> Option<serde_json::Value> {
        let s = self.shared.lock();
        let st = s.stores.get(store_id)?;
        st.store
            .order_index(order_id)
            .map(|i| server::with_status(st.store.order_detail(i), st.statuses.get(&order_id)))
    }

    /// Every customer record of the store (for privacy scans).
    pub fn customers(&self, store_id: &str) -> Vec<serde_json::Value> {
        let s = self.shared.lock();
        s.stores.get(store_id).map_or_else(Vec::new, |st| {
            (0..st.store.data.customers)
                .map(|i| st.store.customer(i))
                .collect()
        })
    }

    /// Sets the per-store budget and the customers cap (both apply to stores added before too).
    pub fn set_rate_limits(&self, rate: RateConfig, customers: RateConfig) {
        let mut s = self.shared.lock();
        s.rate = rate;
        s.customers_rate = customers;
        let now = Instant::now();
        for st in s.stores.values_mut() {
            st.bucket = Bucket::new(now);
            st.customers_bucket = Bucket::new(now);
        }
    }

    /// The next `n` answers (after authentication) are `status` (e.g. 500, 503).
    pub fn fail_next(&self, n: u64, status: u16) {
        if n > 0 {
            self.shared.lock().faults.push((status, n));
        }
    }

    /// Added before every answer.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.lock().latency = latency;
    }

    /// `false` keeps counters only (long load runs).
    pub fn set_recording(&self, on: bool) {
        self.shared.lock().record = on;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.shared.lock().calls.clone()
    }

    pub fn stats(&self) -> StubStats {
        self.shared.lock().stats.clone()
    }
}
