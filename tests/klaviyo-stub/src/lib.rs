//! A local stand-in for the parts of Klaviyo's API the relay uses.
//!
//! It checks what a real Klaviyo would not tell us clearly: every body is validated against the
//! saved OpenAPI spec in strict mode (unknown keys rejected), headers are checked (key, pinned
//! revision, JSON:API media type), and everything is recorded for assertions. It behaves like
//! Klaviyo where the relay depends on it (202/201/200/409/404/204, event dedup by
//! (profile, metric, unique_id)) and can inject faults (status codes with Retry-After, slow
//! answers, dropped connections) and latency.
//!
//! ```no_run
//! # async fn demo() {
//! use klaviyo_stub::{KlaviyoStub, StubAccount};
//! let stub = KlaviyoStub::start().await;
//! stub.add_account("pk_test", StubAccount::new("My Store", "AbC123"));
//! // ... point the code under test at stub.base_url ...
//! assert!(stub.violations().is_empty());
//! # }
//! ```

mod flows;
mod jsonapi;
mod mapped_metrics;
mod model;
mod profiles_merge;
mod ratelimit;
mod routes;
mod segments;
mod server;
mod state;
mod tags;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use spec_check::Spec;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use model::{Fault, Landing, Recorded, StubAccount, StubStats};
pub use ratelimit::RateLimitMode;
pub use routes::REVISION;
pub use segments::metric_id;
use server::Shared;
use state::{QueuedFault, State};

/// A running stub on 127.0.0.1. Dropping it shuts the server down.
pub struct KlaviyoStub {
    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub base_url: String,
    shared: Arc<Shared>,
    task: JoinHandle<std::convert::Infallible>,
}

impl Drop for KlaviyoStub {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl std::fmt::Debug for KlaviyoStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KlaviyoStub")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl KlaviyoStub {
    /// Starts on an ephemeral port. Panics if the spec is missing or no port can be bound
    /// (test helper: failing loudly beats a test that silently checks nothing).
    pub async fn start() -> KlaviyoStub {
        match KlaviyoStub::start_on(0).await {
            Ok(stub) => stub,
            Err(e) => panic!("klaviyo-stub: cannot listen on 127.0.0.1: {e}"),
        }
    }

    /// Starts on `port` (0 = ephemeral). Needs a tokio runtime.
    pub async fn start_on(port: u16) -> std::io::Result<KlaviyoStub> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            spec: Spec::shared(),
            state: State::new(),
            base_url: base_url.clone(),
            in_flight: Default::default(),
            max_in_flight: Default::default(),
        });
        let task = tokio::spawn(server::accept_loop(listener, Arc::clone(&shared)));
        Ok(KlaviyoStub {
            base_url,
            shared,
            task,
        })
    }

    /// Makes `key` valid for `GET /api/accounts` and every other call.
    pub fn add_account(&self, key: &str, account: StubAccount) {
        self.shared
            .state
            .lock()
            .accounts
            .insert(key.to_owned(), account);
    }

    /// Load runs: any key starting with `pk_` is valid (its account id is derived from the key).
    pub fn set_accept_any_key(&self, on: bool) {
        self.shared.state.lock().accept_any_key = on;
    }

    /// Load runs: `false` keeps only counters ([`KlaviyoStub::stats`]) and dedup keys, no
    /// request log or bodies, so memory stays flat. Violations are still kept (up to 1000).
    pub fn set_recording(&self, on: bool) {
        self.shared.state.lock().record = on;
    }

    /// Every request so far, in the order answered.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.state.lock().requests.clone()
    }

    /// Every spec / header violation seen, as `"METHOD path: pointer: message"`.
    pub fn violations(&self) -> Vec<String> {
        self.shared.state.lock().violations.clone()
    }

    /// Accepted create-event bodies, first occurrence of each dedup key only (as Klaviyo keeps).
    pub fn events(&self) -> Vec<Value> {
        self.shared.state.lock().events.clone()
    }

    /// Catalog ids held: items as `$custom:::$default:::…`, variants and categories prefixed
    /// with their type (`catalog-variant/…`, `catalog-category/…`).
    pub fn catalog_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared.state.lock().catalog.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Distinct (profile, metric name, unique_id): Klaviyo's event dedup key.
    /// An account's segments as `(id, attributes)`, oldest first (the CRM provisioning's
    /// assertions).
    pub fn segments(&self, account_id: &str) -> Vec<(String, Value)> {
        self.shared.state.lock().segments.of(account_id)
    }

    /// An account's flows as `(id, attributes as created)`, oldest first.
    pub fn flows(&self, account_id: &str) -> Vec<(String, Value)> {
        self.shared.state.lock().flows.of(account_id)
    }

    /// `(resource type, id)` of the flows and segments carrying the account's tag `name`.
    pub fn tagged(&self, account_id: &str, name: &str) -> Vec<(String, String)> {
        self.shared.state.lock().tags.tagged(account_id, name)
    }

    pub fn distinct_event_ids(&self) -> usize {
        self.shared.state.lock().event_keys.len()
    }

    /// Counters: requests, violations, distinct events, answers by status.
    pub fn stats(&self) -> StubStats {
        self.shared.state.lock().stats.clone()
    }

    /// Queues a fault for the next request(s), whatever the route.
    pub fn push_fault(&self, fault: Fault) {
        self.queue_fault(fault, None);
    }

    /// Queues a fault only for requests with `method` whose path starts with `path_prefix`
    /// (e.g. `("POST", "/api/events")`).
    pub fn push_fault_on(&self, method: &str, path_prefix: &str, fault: Fault) {
        self.queue_fault(fault, Some((method.to_owned(), path_prefix.to_owned())));
    }

    fn queue_fault(&self, fault: Fault, only: Option<(String, String)>) {
        let remaining = fault.times();
        if remaining == 0 {
            return;
        }
        self.shared.state.lock().faults.push_back(QueuedFault {
            fault,
            remaining,
            only,
        });
    }

    /// Added to every answer (load runs).
    pub fn set_latency(&self, d: Duration) {
        self.shared.state.lock().latency = d;
    }

    /// [`RateLimitMode::Klaviyo`]: every endpoint with a tier in the spec answers 429 with
    /// `Retry-After` once an account has used its burst (per second) or steady (per minute)
    /// window, as Klaviyo does.
    pub fn set_rate_limits(&self, mode: RateLimitMode) {
        self.shared.state.lock().rate_limits = mode;
    }

    /// Moves the stub's rate-limit clock forward without waiting (tests).
    pub fn advance_clock(&self, by: Duration) {
        self.shared.state.lock().clock_offset += by;
    }

    /// Tests: stops the rate-limit clock at zero; from then on only
    /// [`KlaviyoStub::advance_clock`] moves it, so a window never rolls over mid-test.
    pub fn use_manual_clock(&self) {
        let mut world = self.shared.state.lock();
        world.manual_clock = true;
        world.clock_offset = Duration::ZERO;
    }

    /// Keeps, for every distinct event, when it was first accepted and how many duplicates
    /// followed ([`KlaviyoStub::landings`]). Off by default.
    pub fn set_track_landings(&self, on: bool) {
        let mut world = self.shared.state.lock();
        match (on, world.landings.is_some()) {
            (true, false) => world.landings = Some(std::collections::HashMap::new()),
            (false, true) => world.landings = None,
            _ => {}
        }
    }

    /// `(metric, unique_id, landing)` for every distinct event, when tracking is on; the
    /// profile part of Klaviyo's dedup key is left out (it is the stub's own id).
    pub fn landings(&self) -> Vec<(String, String, Landing)> {
        let world = self.shared.state.lock();
        let mut out: Vec<_> = world
            .landings
            .iter()
            .flatten()
            .map(|((_, metric, unique), l)| {
                let unique = unique.strip_prefix("id:").unwrap_or(unique);
                (metric.clone(), unique.to_owned(), *l)
            })
            .collect();
        out.sort_by_key(|(_, _, l)| l.first_unix_ms);
        out
    }

    /// Forgets requests, violations, events, profiles, catalog items, faults, latency,
    /// duplicate phones, rate-limit counters and landings. Keeps accounts and the any-key,
    /// recording, rate-limit and landing-tracking settings.
    pub fn reset(&self) {
        self.shared.state.lock().reset();
    }

    /// The most requests the stub was serving at the same time (latency included) since it
    /// started or since [`KlaviyoStub::reset_max_in_flight`].
    pub fn max_in_flight(&self) -> usize {
        self.shared
            .max_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn reset_max_in_flight(&self) {
        self.shared
            .max_in_flight
            .store(0, std::sync::atomic::Ordering::SeqCst);
    }

    /// From now on a profile carrying this phone answers 409 `duplicate_profile` on
    /// profile-import and 400 invalid phone on events, to exercise "resend without phone".
    pub fn duplicate_profile_phone(&self, phone: &str) {
        self.shared
            .state
            .lock()
            .duplicate_phones
            .insert(phone.to_owned());
    }
}
