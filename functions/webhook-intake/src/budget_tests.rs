//! The intake's worst case on a fake clock (tokio's paused time): every dependency as slow as
//! it can be before its own timeout, and the answer still goes out inside the invocation's
//! deadline. No real time passes: the clock jumps from one pending timer to the next.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::config::{Config, Profile};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
use adapters::salla::api::Product;
use adapters::{AdapterError, Secret, Service};
use async_trait::async_trait;
use lambda_http::{Body, Context, Request, RequestExt};
use serde_json::Value;
use tokio::time::{Instant, sleep, sleep_until};

use crate::Deps;
use adapters::salla::refresh::{RefreshError, TokenRefresher};

use crate::enrich::ProductLookup;

const SECRET: &str = "budget-test-secret";
const STORE: &str = "42";
/// The intake's Lambda timeout in template.yaml.
const FUNCTION_TIMEOUT: Duration = Duration::from_secs(25);
/// Salla stops waiting for an answer after about this long.
const SALLA_WAITS: Duration = Duration::from_secs(30);

/// A key store whose every call takes `delay` (DynamoDB + KMS on a bad day, SDK retries
/// included) before answering from memory.
struct SlowStore {
    inner: MemoryKeyStore,
    delay: Duration,
}

#[async_trait]
impl KeyStore for SlowStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        sleep(self.delay).await;
        self.inner.get(store_id).await
    }
    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        sleep(self.delay).await;
        self.inner.put(record).await
    }
    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        sleep(self.delay).await;
        self.inner.delete(store_id).await
    }
}

/// Salla's token endpoint hanging until the OAuth client's own timeout.
struct HangingRefresher;

#[async_trait]
impl TokenRefresher for HangingRefresher {
    async fn refresh(&self, _: &Secret, timeout: Duration) -> Result<SallaTokens, RefreshError> {
        sleep(timeout).await;
        Err(RefreshError::Unclear(AdapterError::Unavailable {
            service: Service::Salla,
            detail: "timeout".into(),
        }))
    }
}

/// The Merchant API hanging until the lookup's own timeout.
struct HangingProducts;

#[async_trait]
impl ProductLookup for HangingProducts {
    async fn get_product(&self, _: &Secret, _: &str) -> Result<Option<Product>, AdapterError> {
        sleep(Duration::from_secs(4)).await;
        Err(AdapterError::Unavailable {
            service: Service::Salla,
            detail: "timeout".into(),
        })
    }
}

/// Klaviyo failing every attempt: the client keeps retrying until the deadline it was given
/// and then gives up. Records each deadline.
#[derive(Default)]
struct DownKlaviyo {
    deadlines: Mutex<Vec<Instant>>,
}

#[async_trait]
impl KlaviyoApi for DownKlaviyo {
    async fn get_account(&self, _: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("no key check on this path")
    }
    async fn call(
        &self,
        _: &Secret,
        _: &'static str,
        _: &str,
        _: Option<&Value>,
        deadline: Instant,
    ) -> Result<Delivery, AdapterError> {
        self.deadlines
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(deadline);
        sleep_until(deadline).await;
        Err(AdapterError::Unavailable {
            service: Service::Klaviyo,
            detail: "retry budget spent".into(),
        })
    }
}

fn record_due_for_refresh() -> StoreRecord {
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new("pk_budget"),
        account_name: None,
        account_id: Some("A".into()),
        validated_at: 1,
        needs_reconnect: false,
    });
    record.salla = Some(SallaTokens {
        access_token: Secret::new("at"),
        refresh_token: Secret::new("rt"),
        // Inside the refresh margin, still live.
        expires_at: adapters::clock::now_unix() + 3600,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    record
}

fn worst_case_deps(klaviyo: Arc<DownKlaviyo>) -> Deps {
    let (config, _) = Config::from_lookup(
        |k| (k == "SALLA_WEBHOOK_SECRET").then(|| SECRET.to_string()),
        Profile::Dev { port: 0 },
    )
    .unwrap();
    let store = SlowStore {
        inner: MemoryKeyStore::with_records([record_due_for_refresh()]),
        delay: Duration::from_secs(3),
    };
    let mut deps = Deps::new(&config, Arc::new(store));
    deps.klaviyo = klaviyo;
    deps.refresher = Arc::new(HangingRefresher);
    deps.salla_api = Arc::new(HangingProducts);
    deps
}

/// An abandoned cart with more products than the intake looks up.
fn cart_delivery(lambda_deadline_ms: u64) -> Request {
    let items: Vec<Value> = (1..=40)
        .map(|i| serde_json::json!({"product_id": i, "quantity": 1}))
        .collect();
    let body = serde_json::json!({
        "event": "abandoned.cart", "merchant": 42, "created_at": "2026-01-01 10:00:00",
        "data": {"id": 9, "total": {"amount": 10, "currency": "SAR"},
                 "customer": {"id": 5, "email": "a@b.example"}, "items": items,
                 "checkout_url": "https://s.example/c"}
    })
    .to_string();
    let signature = adapters::salla::signature::sign(SECRET.as_bytes(), body.as_bytes());
    let mut context = Context::default();
    context.deadline = lambda_deadline_ms;
    lambda_http::http::Request::builder()
        .method("POST")
        .uri("/webhook")
        .header("x-salla-signature", signature)
        .body(Body::Text(body))
        .unwrap()
        .with_lambda_context(context)
}

fn wall_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[tokio::test(start_paused = true)]
async fn the_worst_case_answers_inside_the_invocation_deadline() {
    let klaviyo = Arc::new(DownKlaviyo::default());
    let deps = worst_case_deps(klaviyo.clone());
    let started = Instant::now();
    let lambda_deadline = started + FUNCTION_TIMEOUT;
    let resp = crate::handle(
        &deps,
        cart_delivery(wall_ms() + FUNCTION_TIMEOUT.as_millis() as u64),
    )
    .await;
    let took = started.elapsed();

    assert_eq!(
        resp.status().as_u16(),
        503,
        "Klaviyo down: Salla must redeliver"
    );
    assert!(
        took <= deps.budget,
        "answered after {took:?}, budget {:?}",
        deps.budget
    );
    assert!(took < FUNCTION_TIMEOUT && took < SALLA_WAITS, "{took:?}");
    let deadlines = klaviyo.deadlines.lock().unwrap().clone();
    assert!(!deadlines.is_empty(), "the event still went to Klaviyo");
    for d in deadlines {
        assert!(
            d <= lambda_deadline,
            "Klaviyo was given a deadline past Lambda's"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_short_lambda_deadline_is_the_one_that_governs() {
    // Lambda has 6 s left for this invocation (e.g. a short configured timeout): everything,
    // Klaviyo retries included, ends before it.
    let klaviyo = Arc::new(DownKlaviyo::default());
    let deps = worst_case_deps(klaviyo.clone());
    let started = Instant::now();
    let resp = crate::handle(&deps, cart_delivery(wall_ms() + 6_000)).await;
    let took = started.elapsed();
    assert!(resp.status().as_u16() >= 500);
    assert!(took < Duration::from_secs(6), "answered after {took:?}");
}

/// The Merchant API counting product lookups; `delay` before each "not found".
struct CountingProducts {
    lookups: std::sync::atomic::AtomicUsize,
    delay: Duration,
}

#[async_trait]
impl ProductLookup for CountingProducts {
    async fn get_product(&self, _: &Secret, _: &str) -> Result<Option<Product>, AdapterError> {
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        sleep(self.delay).await;
        Ok(None)
    }
}

/// Klaviyo answering 202, recording how much of its deadline each request was given.
#[derive(Default)]
struct TimedKlaviyo {
    left: Mutex<Vec<Duration>>,
}

#[async_trait]
impl KlaviyoApi for TimedKlaviyo {
    async fn get_account(&self, _: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("no key check on this path")
    }
    async fn call(
        &self,
        _: &Secret,
        _: &'static str,
        _: &str,
        _: Option<&Value>,
        deadline: Instant,
    ) -> Result<Delivery, AdapterError> {
        self.left
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(deadline.saturating_duration_since(Instant::now()));
        Ok(Delivery {
            status: 202,
            attempts: 1,
            error: None,
        })
    }
}

/// A store with a key and Salla tokens far from their refresh margin, over a fast store.
fn cart_deps(products: Arc<CountingProducts>, klaviyo: Arc<TimedKlaviyo>) -> Deps {
    let (config, _) = Config::from_lookup(
        |k| (k == "SALLA_WEBHOOK_SECRET").then(|| SECRET.to_string()),
        Profile::Dev { port: 0 },
    )
    .unwrap();
    let mut record = record_due_for_refresh();
    if let Some(tokens) = record.salla.as_mut() {
        tokens.expires_at = adapters::clock::now_unix() + 30 * 86_400;
    }
    let mut deps = Deps::new(&config, Arc::new(MemoryKeyStore::with_records([record])));
    deps.klaviyo = klaviyo;
    deps.salla_api = products;
    deps
}

#[tokio::test(start_paused = true)]
async fn a_cart_looks_up_at_most_twenty_products() {
    let products = Arc::new(CountingProducts {
        lookups: Default::default(),
        delay: Duration::ZERO,
    });
    let deps = cart_deps(products.clone(), Arc::new(TimedKlaviyo::default()));
    let resp = crate::handle(
        &deps,
        cart_delivery(wall_ms() + FUNCTION_TIMEOUT.as_millis() as u64),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    // The cart names 40 products.
    assert_eq!(
        products.lookups.load(std::sync::atomic::Ordering::SeqCst),
        20
    );
}

#[tokio::test(start_paused = true)]
async fn hanging_product_lookups_leave_klaviyo_its_share_of_the_deadline() {
    // The Merchant API never answering inside the invocation: enrichment is cut off after
    // its own budget and Klaviyo still gets 10 s of the 20 s deadline.
    let products = Arc::new(CountingProducts {
        lookups: Default::default(),
        delay: Duration::from_secs(60),
    });
    let klaviyo = Arc::new(TimedKlaviyo::default());
    let deps = cart_deps(products, klaviyo.clone());
    let started = Instant::now();
    let resp = crate::handle(
        &deps,
        cart_delivery(wall_ms() + FUNCTION_TIMEOUT.as_millis() as u64),
    )
    .await;
    assert_eq!(
        resp.status().as_u16(),
        200,
        "answered after {:?}",
        started.elapsed()
    );
    let left = klaviyo.left.lock().unwrap().clone();
    assert!(!left.is_empty(), "the event still went to Klaviyo");
    for l in left {
        assert!(
            l >= Duration::from_secs(10),
            "Klaviyo was left {l:?} of the deadline"
        );
    }
}
