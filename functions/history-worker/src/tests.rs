//! The engine against fakes: Salla and Klaviyo in memory, the memory key store and queue,
//! and a kill switch that stops the worker at any await point (a Lambda killed mid-run),
//! after which the message is delivered again as SQS would.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::{HistoryProgress, HistoryQueue, HistoryStatus, Phase, Task};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::scan::{ScanPage, TokenScan, TokenState};
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
use adapters::salla::merchant::{Answer, DateWindow, RateInfo};
use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
use adapters::{AdapterError, Secret, Service};
use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::Notify;

use crate::sources::{ListedOrder, SallaItem, SallaPage, SallaSource};
use crate::{Deps, Outcome, WorkerConfig, handle};

const STORE: &str = "1803665367";
const TOKEN: &str = "ory_at_fake";
const KEY: &str = "pk_live_fake_0123456789abcdef";

/// Stops the worker at its `n`-th await point of interest: the future is dropped there.
#[derive(Default)]
struct Killer {
    steps: AtomicU64,
    /// 0: never.
    kill_at: AtomicU64,
    fired: Notify,
}

impl Killer {
    fn arm(&self, at: u64) {
        self.steps.store(0, Ordering::SeqCst);
        self.kill_at.store(at, Ordering::SeqCst);
    }

    async fn tick(&self) {
        let n = self.steps.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.kill_at.load(Ordering::SeqCst) {
            self.fired.notify_one();
            std::future::pending::<()>().await;
        }
        // Each call takes a little (paused) time, so budgets end.
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

struct Data {
    orders: Vec<(u64, String)>,
    customers: Vec<String>,
    products: Vec<String>,
}

/// The stub's generated dataset, read once (no HTTP).
async fn data(orders: usize, customers: usize) -> Data {
    let stub = salla_api_stub::SallaApiStub::start().await;
    stub.add_store(
        STORE,
        TOKEN,
        salla_api_stub::Dataset::new(7, orders, customers, 3),
    );
    let orders = stub
        .order_ids(STORE)
        .into_iter()
        .map(|id| (id, stub.order_detail(STORE, id).unwrap().to_string()))
        .collect();
    let customers = stub
        .customers(STORE)
        .into_iter()
        .map(|c| c.to_string())
        .collect();
    let products = (1..=3)
        .map(|i| {
            serde_json::json!({"id": 900 + i, "name": format!("Oud {i}"), "sku": format!("SKU-{i}"),
                "price": {"amount": 100 + i, "currency": "SAR"}, "status": "sale",
                "url": format!("https://shop.example/p/{i}")})
            .to_string()
        })
        .collect();
    Data {
        orders,
        customers,
        products,
    }
}

struct FakeSalla {
    data: Data,
    per_page: usize,
    killer: Arc<Killer>,
    /// The status (and auth error code) every orders list call answers with.
    orders_error: Mutex<Option<(u16, Option<String>)>>,
    calls: AtomicU64,
}

fn ok<T>(v: T) -> Answer<T> {
    Answer {
        result: Ok(v),
        rate: RateInfo {
            status: 200,
            ..RateInfo::default()
        },
    }
}

impl FakeSalla {
    fn page<T>(
        &self,
        all: &[T],
        page: u32,
        make: impl Fn(&T) -> SallaItem,
    ) -> SallaPage<SallaItem> {
        let start = (page as usize - 1) * self.per_page;
        let items: Vec<SallaItem> = all
            .iter()
            .skip(start)
            .take(self.per_page)
            .map(make)
            .collect();
        SallaPage {
            items,
            has_next: start + self.per_page < all.len(),
            total: all.len() as u64,
        }
    }

    async fn tick(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.killer.tick().await;
    }
}

#[async_trait]
impl SallaSource for FakeSalla {
    async fn orders(
        &self,
        token: &Secret,
        _window: DateWindow,
        page: u32,
        per_page: u32,
    ) -> Answer<SallaPage<ListedOrder>> {
        self.tick().await;
        assert_eq!(token.expose(), TOKEN);
        let failing = self.orders_error.lock().unwrap().clone();
        if let Some((status, code)) = failing {
            let error = if status >= 500 {
                AdapterError::Unavailable {
                    service: Service::Salla,
                    detail: format!("HTTP {status}"),
                }
            } else {
                AdapterError::Unauthorized {
                    service: Service::Salla,
                    status,
                    code,
                }
            };
            return Answer {
                result: Err(error),
                rate: RateInfo {
                    status,
                    ..RateInfo::default()
                },
            };
        }
        // Both windows of an import see every order once: the recent one takes the newest
        // fifth, the older one the rest (what matters here is each order in one window).
        let per = per_page as usize;
        let recent = _window.from > time::macros::date!(2020 - 01 - 01);
        let split = self.data.orders.len() * 4 / 5;
        let all: Vec<u64> = if recent {
            self.data.orders[split..].iter().map(|o| o.0).collect()
        } else {
            self.data.orders[..split].iter().map(|o| o.0).collect()
        };
        let start = (page as usize - 1) * per;
        ok(SallaPage {
            items: all
                .iter()
                .skip(start)
                .take(per)
                .map(|&id| ListedOrder {
                    id,
                    date: None,
                    status: None,
                })
                .collect(),
            has_next: start + per < all.len(),
            total: all.len() as u64,
        })
    }

    async fn order(&self, _token: &Secret, id: u64) -> Answer<Option<String>> {
        self.tick().await;
        ok(self
            .data
            .orders
            .iter()
            .find(|o| o.0 == id)
            .map(|o| o.1.clone()))
    }

    async fn customers(&self, _token: &Secret, page: u32) -> Answer<SallaPage<SallaItem>> {
        self.tick().await;
        ok(self.page(&self.data.customers, page, |c| SallaItem {
            id: 1,
            body: c.clone(),
        }))
    }

    async fn products(&self, _token: &Secret, page: u32) -> Answer<SallaPage<SallaItem>> {
        self.tick().await;
        ok(self.page(&self.data.products, page, |p| SallaItem {
            id: 1,
            body: p.clone(),
        }))
    }

    async fn product(&self, _token: &Secret, _id: u64) -> Answer<Option<mapping::ProductDetails>> {
        self.tick().await;
        ok(None)
    }

    /// The points reads: each customer has one delivered order of 250 SAR a month ago (id
    /// 5,000,000 + the customer's) and no review.
    async fn raw_page(
        &self,
        _token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Answer<Option<String>> {
        self.tick().await;
        let customer = query
            .iter()
            .find(|(k, _)| *k == "customer_id")
            .and_then(|(_, v)| v.parse::<u64>().ok());
        let month_ago = time::OffsetDateTime::now_utc() - time::Duration::days(30);
        let date = format!(
            "{:04}-{:02}-{:02} 10:00:00",
            month_ago.year(),
            u8::from(month_ago.month()),
            month_ago.day()
        );
        ok(match (path, customer) {
            ("/orders", Some(c)) => Some(
                serde_json::json!({"data": [{"id": 5_000_000 + c, "status": {"slug": "delivered"},
                    "total": {"amount": 250, "currency": "SAR"}, "date": date}],
                    "pagination": {"totalPages": 1}})
                .to_string(),
            ),
            ("/reviews", Some(_)) => Some(r#"{"data": []}"#.to_owned()),
            _ => None,
        })
    }
}

#[derive(Debug, Clone)]
struct Sent {
    method: String,
    path: String,
    body: Option<Value>,
}

struct FakeKlaviyo {
    killer: Arc<Killer>,
    sent: Mutex<Vec<Sent>>,
    /// Status by path prefix (default 202).
    statuses: Mutex<HashMap<String, u16>>,
    /// Event bulk jobs still to fail as unreachable (after this many pass: `fail_bulk_after`).
    fail_bulk: AtomicU64,
    fail_bulk_after: AtomicU64,
}

#[async_trait]
impl KlaviyoApi for FakeKlaviyo {
    async fn get_account(&self, _key: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("the worker never validates keys")
    }

    async fn call(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        _deadline: tokio::time::Instant,
    ) -> Result<Delivery, AdapterError> {
        self.killer.tick().await;
        assert_eq!(key.expose(), KEY);
        if path.starts_with("/api/event-bulk-create-jobs")
            && self.fail_bulk.load(Ordering::SeqCst) > 0
        {
            if self.fail_bulk_after.load(Ordering::SeqCst) > 0 {
                self.fail_bulk_after.fetch_sub(1, Ordering::SeqCst);
            } else {
                self.fail_bulk.fetch_sub(1, Ordering::SeqCst);
                return Err(AdapterError::Unavailable {
                    service: Service::Klaviyo,
                    detail: "unreachable".into(),
                });
            }
        }
        let status = self
            .statuses
            .lock()
            .unwrap()
            .iter()
            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
            .map_or(202, |(_, s)| *s);
        if (200..300).contains(&status) {
            self.sent.lock().unwrap().push(Sent {
                method: method.into(),
                path: path.into(),
                body: body.cloned(),
            });
        }
        Ok(Delivery {
            status,
            attempts: 1,
            error: None,
        })
    }
}

/// A key store whose every call may be the kill point (before and after it acts).
struct KillStore {
    inner: MemoryKeyStore,
    killer: Arc<Killer>,
    /// Reads so far.
    gets: AtomicU64,
    /// The read (1-based) that never answers, as a hung connection (0: none).
    hang_at_get: AtomicU64,
}

#[async_trait]
impl KeyStore for KillStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        let n = self.gets.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.hang_at_get.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.killer.tick().await;
        self.inner.get(store_id).await
    }
    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        self.killer.tick().await;
        let v = self.inner.put(record).await?;
        self.killer.tick().await;
        Ok(v)
    }
    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        self.inner.delete(store_id).await
    }
}

#[async_trait]
impl TokenScan for KillStore {
    async fn scan_tokens(
        &self,
        _start: Option<&str>,
        _limit: u32,
    ) -> Result<ScanPage, AdapterError> {
        Ok(ScanPage {
            stores: vec![TokenState {
                store_id: STORE.into(),
                expires_at: Some(i64::MAX),
                refresh_blocked_at: None,
            }],
            next: None,
        })
    }
}

/// A queue that may be the kill point before or after it sends, and keeps every body sent.
struct KillQueue {
    inner: MemoryHistoryQueue,
    killer: Arc<Killer>,
    all: Mutex<Vec<String>>,
}

#[async_trait]
impl HistoryQueue for KillQueue {
    async fn enqueue(&self, task: &Task) -> Result<(), AdapterError> {
        self.killer.tick().await;
        self.inner.enqueue(task).await?;
        self.all.lock().unwrap().push(task.to_body());
        self.killer.tick().await;
        Ok(())
    }
}

struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        Err(RefreshError::NotSpent(AdapterError::Config(
            "no refresh in tests".into(),
        )))
    }
}

struct World {
    deps: Deps,
    salla: Arc<FakeSalla>,
    klaviyo: Arc<FakeKlaviyo>,
    store: Arc<KillStore>,
    queue: Arc<KillQueue>,
    killer: Arc<Killer>,
    /// Deliveries whose worker was killed.
    killed: AtomicU64,
}

fn record() -> StoreRecord {
    StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(KEY),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("ory_rt_fake"),
            expires_at: adapters::clock::now_unix() + 10 * 24 * 3600,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        ..StoreRecord::new(STORE)
    }
}

async fn world(orders: usize, customers: usize, per_page: usize) -> World {
    let killer = Arc::new(Killer::default());
    let salla = Arc::new(FakeSalla {
        data: data(orders, customers).await,
        per_page,
        killer: killer.clone(),
        orders_error: Mutex::new(None),
        calls: AtomicU64::new(0),
    });
    let klaviyo = Arc::new(FakeKlaviyo {
        killer: killer.clone(),
        sent: Mutex::new(Vec::new()),
        statuses: Mutex::new(HashMap::new()),
        fail_bulk: AtomicU64::new(0),
        fail_bulk_after: AtomicU64::new(0),
    });
    let store = Arc::new(KillStore {
        inner: MemoryKeyStore::with_records([record()]),
        killer: killer.clone(),
        gets: AtomicU64::new(0),
        hang_at_get: AtomicU64::new(0),
    });
    let queue = Arc::new(KillQueue {
        inner: MemoryHistoryQueue::new(),
        killer: killer.clone(),
        all: Mutex::new(Vec::new()),
    });
    let deps = Deps {
        store: store.clone(),
        scan: store.clone(),
        salla: salla.clone(),
        klaviyo: klaviyo.clone(),
        queue: queue.clone(),
        refresher: Arc::new(NoRefresh),
        locks: RefreshLocks::default(),
        config: WorkerConfig {
            per_page: per_page as u32,
            save_reserve: Duration::from_millis(100),
            page_min: Duration::ZERO,
            retries: 1,
            retry_backoff: Duration::from_millis(10),
            max_throttled: 2,
        },
    };
    World {
        deps,
        salla,
        klaviyo,
        store,
        queue,
        killer,
        killed: AtomicU64::new(0),
    }
}

impl World {
    /// Delivers messages as SQS would until none is left: one that fails or whose worker is
    /// killed is delivered again. `kill` picks each delivery's kill point (0: none).
    async fn drain(&self, budget: Duration, mut kill: impl FnMut() -> u64) -> Vec<Outcome> {
        let mut in_flight: VecDeque<String> = VecDeque::new();
        let mut outcomes = Vec::new();
        for _ in 0..10_000 {
            while let Some(body) = self.queue.inner.try_pop() {
                in_flight.push_back(body);
            }
            let Some(body) = in_flight.pop_front() else {
                return outcomes;
            };
            self.killer.arm(kill());
            tokio::select! {
                result = handle(&self.deps, &body, Deadline::after(budget)) => match result {
                    Ok(report) => outcomes.push(report.outcome),
                    Err(_) => in_flight.push_back(body),
                },
                _ = self.killer.fired.notified() => {
                    self.killed.fetch_add(1, Ordering::SeqCst);
                    in_flight.push_back(body)
                }
            }
        }
        panic!("the import never finished");
    }

    fn progress(&self) -> HistoryProgress {
        self.stored().history.expect("progress saved")
    }

    fn stored(&self) -> StoreRecord {
        futures_lite(self.store.inner.get(STORE))
            .expect("read")
            .expect("the store")
    }

    /// What was sent to Klaviyo, without the metric-mapping reads that end a finished run.
    fn sent(&self) -> Vec<Sent> {
        let sent = self.klaviyo.sent.lock().unwrap().clone();
        sent.into_iter()
            .filter(|s| {
                !s.path.starts_with("/api/mapped-metrics") && !s.path.starts_with("/api/metrics")
            })
            .collect()
    }
}

/// Polls a future that never waits (the memory store's) to its end.
fn futures_lite<F: std::future::Future>(f: F) -> F::Output {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// Every (metric, unique_id, backfill) in the bodies sent.
fn events_in(sent: &[Sent]) -> Vec<(String, String, bool)> {
    fn walk(v: &Value, out: &mut Vec<(String, String, bool)>) {
        match v {
            Value::Object(map) => {
                if let (Some(Value::String(uid)), Some(metric)) =
                    (map.get("unique_id"), map.get("metric"))
                {
                    let name = metric
                        .pointer("/data/attributes/name")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let backfill = map
                        .get("backfill")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    out.push((name.to_owned(), uid.clone(), backfill));
                }
                map.values().for_each(|v| walk(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for s in sent {
        if let Some(body) = &s.body {
            walk(body, &mut out);
        }
    }
    out
}

/// What the mapping makes of every order: the events an import must deliver.
fn expected(w: &World) -> BTreeSet<(String, String)> {
    w.salla
        .data
        .orders
        .iter()
        .flat_map(|(_, detail)| {
            mapping::history_order(
                detail.as_bytes(),
                STORE,
                &mapping::Enrichment::default(),
                mapping::Backfill::Yes,
            )
            .unwrap()
        })
        .map(|e| (e.metric, e.unique_id.unwrap()))
        .collect()
}

fn keys(events: &[(String, String, bool)]) -> BTreeSet<(String, String)> {
    events
        .iter()
        .map(|(m, u, _)| (m.clone(), u.clone()))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_import_delivers_every_order_in_bulk_with_backfill_and_finishes() {
    let w = world(150, 40, 60).await;
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    // A budget of a few pages per invocation: the import goes on through continuations.
    let outcomes = w.drain(Duration::from_millis(1200), || 0).await;
    assert_eq!(outcomes.last(), Some(&Outcome::Done));
    assert!(outcomes.contains(&Outcome::Continued), "{outcomes:?}");

    let sent = w.sent();
    let events = events_in(&sent);
    assert!(
        events.iter().all(|e| e.2),
        "every imported event carries backfill"
    );
    assert_eq!(keys(&events), expected(&w));
    let placed = events.iter().filter(|e| e.0 == "Placed Order").count();
    // Orders awaiting a non-COD payment send no Placed Order yet (mapping README "Revenue").
    let expected_placed = expected(&w)
        .iter()
        .filter(|(m, _)| m == "Placed Order")
        .count();
    assert!((100..150).contains(&expected_placed), "{expected_placed}");
    assert_eq!(placed, expected_placed, "each order's Placed Order once");

    let p = w.progress();
    assert_eq!(p.status, HistoryStatus::Done);
    assert_eq!((p.orders_done, p.orders_total), (150, 150));
    assert_eq!((p.customers_done, p.customers_total), (40, 40));
    assert_eq!(p.products_done, 3);
    assert!(p.finished_at.is_some() && p.cursor.is_none() && p.last_error.is_none());

    let event_requests = sent.iter().filter(|s| s.path.contains("event")).count();
    assert!(
        sent.iter().filter(|s| s.path == "/api/events").count() == 0,
        "orders go in bulk jobs"
    );
    let per_order = event_requests as f64 / 150.0;
    assert!(per_order <= 0.05, "{per_order} event requests per order");
    assert!(
        sent.iter()
            .any(|s| s.path == "/api/profile-bulk-import-jobs")
    );
    assert_eq!(
        sent.iter()
            .filter(|s| s.path == "/api/catalog-items")
            .count(),
        3
    );
}

/// A store with loyalty points on: the import sends each customer's points history as
/// backfill events in bulk jobs, and their balance, read from Salla through the run's pacer.
#[tokio::test(start_paused = true)]
async fn an_import_with_points_on_sends_each_customers_points_history() {
    let w = world(60, 10, 60).await;
    let mut with_points = w.stored();
    with_points.loyalty = Some(mapping::points::PointsRules {
        enabled: true,
        percent: 2,
        ..Default::default()
    });
    w.store.inner.put(&with_points).await.unwrap();
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(30), || 0).await;
    assert_eq!(outcomes.last(), Some(&Outcome::Done), "{outcomes:?}");

    let sent = w.sent();
    let events = events_in(&sent);
    let earned: Vec<&(String, String, bool)> =
        events.iter().filter(|e| e.0 == "Points Earned").collect();
    assert_eq!(earned.len(), 10, "one earning per customer: {earned:?}");
    assert!(
        earned.iter().all(|e| e.2),
        "imported points never fire a flow"
    );
    assert!(
        earned
            .iter()
            .all(|e| e.1.starts_with(&format!("salla:{STORE}:order:"))
                && e.1.ends_with(":points_earned")),
        "{earned:?}"
    );
    assert!(
        sent.iter().all(|s| s.path != "/api/events"),
        "points go in bulk jobs"
    );
    // Every customer's balance: 2 % of 250 SAR.
    let balances: Vec<&Value> = sent
        .iter()
        .filter(|s| s.path == "/api/profile-bulk-import-jobs")
        .filter_map(|s| {
            s.body
                .as_ref()?
                .pointer("/data/attributes/profiles/data")?
                .as_array()
        })
        .flatten()
        .filter_map(|p| p.pointer("/attributes/properties/Salla Points"))
        .collect();
    assert_eq!(balances.len(), 10, "{balances:?}");
    assert!(balances.iter().all(|b| **b == serde_json::json!(5)));
    // Every job, the points' ones included, as Klaviyo's spec takes it (strict).
    for s in &sent {
        let checked =
            spec_check::Spec::shared().validate_request(&s.method, &s.path, s.body.as_ref());
        assert_eq!(checked, Ok(()), "{} {}", s.method, s.path);
    }
    // Without points on, none of this (the import test above compares every event).
}

#[tokio::test(start_paused = true)]
async fn killed_anywhere_and_resumed_nothing_is_missing_and_a_rerun_adds_nothing() {
    let w = world(97, 13, 10).await;
    let want = expected(&w);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    // A kill in about half the deliveries, at any of their first ~60 await points.
    let mut kill = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        if seed.is_multiple_of(2) {
            1 + (seed >> 8) % 40
        } else {
            0
        }
    };
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_millis(400), &mut kill).await;
    assert!(outcomes.contains(&Outcome::Done), "{outcomes:?}");
    let killed = w.killed.load(Ordering::SeqCst);
    assert!(killed >= 5, "only {killed} kills");
    let first = events_in(&w.sent());
    assert_eq!(keys(&first), want, "every order's events, none missing");
    assert_eq!(w.progress().status, HistoryStatus::Done);
    assert_eq!(w.progress().orders_done, 97);

    // Privacy: no queue message and no saved progress holds any customer's value.
    let mut texts: Vec<String> = w.queue.all.lock().unwrap().clone();
    texts.push(serde_json::to_string(&w.progress()).unwrap());
    let mut values = Vec::new();
    for c in &w.salla.data.customers {
        let c: Value = serde_json::from_str(c).unwrap();
        for field in ["email", "mobile", "first_name", "last_name"] {
            if let Some(v) = c.get(field).and_then(Value::as_str).filter(|v| v.len() > 3) {
                values.push(v.to_owned());
            }
        }
    }
    assert!(values.len() > 20);
    for text in &texts {
        for v in &values {
            assert!(!text.contains(v.as_str()), "a customer value in {text}");
        }
    }

    // Run again (e.g. the merchant re-runs it): the same unique_ids, nothing new.
    w.klaviyo.sent.lock().unwrap().clear();
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    w.drain(Duration::from_millis(400), &mut kill).await;
    let again = events_in(&w.sent());
    assert_eq!(keys(&again), want);
}

#[tokio::test(start_paused = true)]
async fn a_refused_bulk_job_is_sent_again_as_single_events() {
    let w = world(12, 2, 60).await;
    w.klaviyo
        .statuses
        .lock()
        .unwrap()
        .insert("/api/event-bulk-create-jobs".into(), 400);
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes, [Outcome::Done]);
    let sent = w.sent();
    assert!(sent.iter().all(|s| s.path != "/api/event-bulk-create-jobs"));
    assert!(
        sent.iter()
            .any(|s| s.path == "/api/events" && s.method == "POST")
    );
    assert_eq!(keys(&events_in(&sent)), expected(&w));
}

/// A page's bulk job is sent while the next page is read; when it fails, the saved cursor
/// is that page's, not the one after it, and its orders are not counted until they land.
#[tokio::test(start_paused = true)]
async fn a_bulk_job_that_fails_in_flight_is_read_again_from_its_page() {
    let w = world(150, 2, 60).await;
    // The recent window's one page (30 orders) lands; the older window's first page's job
    // cannot reach Klaviyo.
    w.klaviyo.fail_bulk_after.store(1, Ordering::SeqCst);
    w.klaviyo.fail_bulk.store(1, Ordering::SeqCst);
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let body = w.queue.inner.try_pop().unwrap();
    let first = handle(&w.deps, &body, Deadline::after(Duration::from_secs(60))).await;
    assert!(first.is_err(), "a transient failure: SQS delivers it again");
    let p = w.progress();
    let cursor = p.cursor.expect("saved");
    assert_eq!(
        (cursor.phase, cursor.page),
        (Phase::OrdersOlder, 1),
        "the failed page, not the one after it"
    );
    assert_eq!(p.orders_done, 30, "only the page that landed counts");
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes.last(), Some(&Outcome::Done));
    assert_eq!(keys(&events_in(&w.sent())), expected(&w));
    assert_eq!(w.progress().orders_done, 150);
}

#[tokio::test(start_paused = true)]
async fn a_missing_scope_stops_the_import_once_with_its_code() {
    let w = world(30, 2, 10).await;
    *w.salla.orders_error.lock().unwrap() = Some((401, Some("missing_scope:orders.read".into())));
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(
        outcomes,
        [Outcome::Stopped("missing_scope:orders.read".into())]
    );
    let p = w.progress();
    assert_eq!(p.status, HistoryStatus::Stopped);
    assert_eq!(p.last_error.as_deref(), Some("missing_scope:orders.read"));
    assert_eq!(p.customers_done, 2, "the phases before it were done");
    assert!(w.queue.inner.is_empty(), "no continuation: no loop");
}

#[tokio::test(start_paused = true)]
async fn a_revoked_salla_token_and_a_revoked_klaviyo_key_stop_the_import() {
    let w = world(5, 1, 10).await;
    *w.salla.orders_error.lock().unwrap() = Some((401, None));
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes, [Outcome::Stopped("salla_token_revoked".into())]);

    let w = world(5, 1, 10).await;
    w.klaviyo
        .statuses
        .lock()
        .unwrap()
        .insert("/api/".into(), 401);
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes, [Outcome::Stopped("klaviyo_key_revoked".into())]);
    assert_eq!(
        w.progress().last_error.as_deref(),
        Some("klaviyo_key_revoked")
    );
}

/// Every key store read of a run is bounded by the invocation's deadline, the metric mapping's
/// after a finished import too: a read that hangs cannot hold the function past its timeout.
#[tokio::test(start_paused = true)]
async fn a_hung_key_store_read_ends_at_the_deadline() {
    let first = world(5, 1, 10).await;
    first.queue.enqueue(&Task::import(STORE)).await.unwrap();
    assert_eq!(
        first.drain(Duration::from_secs(60), || 0).await,
        [Outcome::Done]
    );
    let import_reads = first.store.gets.load(Ordering::SeqCst);
    // The daily sweep of a store never imported starts its import.
    let sweep = Task::Store {
        store_id: STORE.into(),
        job: adapters::history::StoreJob::Sweep,
        cursor: crate::plan::sweep_start(crate::plan::day_of(adapters::clock::now_unix())),
    };
    let second = world(5, 1, 10).await;
    handle(
        &second.deps,
        &sweep.to_body(),
        Deadline::after(Duration::from_secs(60)),
    )
    .await
    .unwrap();
    let sweep_reads = second.store.gets.load(Ordering::SeqCst);
    assert!(sweep_reads >= 2, "the sweep's claim reads the store");
    let runs = (1..=import_reads)
        .map(|n| (Task::import(STORE), n, import_reads))
        .chain((1..=sweep_reads).map(|n| (sweep.clone(), n, sweep_reads)));
    for (task, hang_at, reads) in runs {
        let w = world(5, 1, 10).await;
        w.store.hang_at_get.store(hang_at, Ordering::SeqCst);
        let body = task.to_body();
        let budget = Duration::from_secs(60);
        let started = tokio::time::Instant::now();
        let ran =
            tokio::time::timeout(budget * 10, handle(&w.deps, &body, Deadline::after(budget)))
                .await;
        assert!(
            ran.is_ok() && started.elapsed() <= budget,
            "read {hang_at} of {reads} hung past the deadline"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn bad_and_leftover_messages_are_dropped_not_retried() {
    let w = world(5, 1, 10).await;
    for junk in [
        "",
        "{\"v\":1}",
        "{\"v\":1,\"store_id\":\"1\",\"job\":\"import\",\"cursor\":{\"phase\":\"products\",\"page\":1},\"email\":\"a@b.c\"}",
    ] {
        let report = handle(&w.deps, junk, Deadline::after(Duration::from_secs(5)))
            .await
            .unwrap();
        assert!(matches!(report.outcome, Outcome::Dropped(_)), "{junk}");
    }
    let unknown = Task::import("999");
    let report = handle(
        &w.deps,
        &unknown.to_body(),
        Deadline::after(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, Outcome::Dropped("no_store"));

    // Finish an import, then deliver a continuation of it again: a leftover.
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    w.drain(Duration::from_secs(60), || 0).await;
    let leftover = Task::Store {
        store_id: STORE.into(),
        job: adapters::history::StoreJob::Import,
        cursor: adapters::history::Cursor {
            page: 2,
            ..adapters::history::Cursor::start()
        },
    };
    let report = handle(
        &w.deps,
        &leftover.to_body(),
        Deadline::after(Duration::from_secs(5)),
    )
    .await
    .unwrap();
    assert_eq!(report.outcome, Outcome::Dropped("stale"));
}

#[tokio::test(start_paused = true)]
async fn the_daily_sweep_fans_out_and_resends_recent_orders() {
    let w = world(20, 1, 10).await;
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    w.drain(Duration::from_secs(60), || 0).await;
    let imported = w.progress();
    assert_eq!(imported.status, HistoryStatus::Done);
    w.klaviyo.sent.lock().unwrap().clear();

    w.queue.enqueue(&Task::SweepAll).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes[0], Outcome::Fanned(1));
    assert_eq!(outcomes.last(), Some(&Outcome::Done));
    // The sweep keeps no progress and reads orders only.
    assert_eq!(w.progress(), imported);
    let sent = w.sent();
    assert!(sent.iter().all(|s| s.path == "/api/event-bulk-create-jobs"));
    assert!(!sent.is_empty());
}

/// On AWS nothing else starts an import yet: the daily sweep starts the whole import of a
/// connected store that has none, instead of sweeping three days of it.
#[tokio::test(start_paused = true)]
async fn the_daily_sweep_starts_the_import_of_a_store_never_imported() {
    let w = world(20, 1, 10).await;
    w.queue.enqueue(&Task::SweepAll).await.unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes[0], Outcome::Fanned(1));
    assert_eq!(outcomes[1], Outcome::Skipped);
    let progress = w.progress();
    assert_eq!(progress.status, HistoryStatus::Done);
    assert_eq!(keys(&events_in(&w.sent())), expected(&w));
}

#[tokio::test(start_paused = true)]
async fn a_transient_failure_is_retried_by_redelivery() {
    let w = world(5, 1, 10).await;
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    event.records = vec![
        {
            let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
            m.message_id = Some("m1".into());
            m.body = Some(Task::import(STORE).to_body());
            m
        },
        {
            let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
            m.message_id = Some("m2".into());
            m.body = Some("junk".into());
            m
        },
    ];
    w.klaviyo.statuses.lock().unwrap().clear();
    *w.salla.orders_error.lock().unwrap() = Some((503, None));
    let response =
        crate::sqs::handle_event(&w.deps, event, Deadline::after(Duration::from_secs(60))).await;
    let failed: Vec<&str> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(failed, ["m1"], "the 503 is retried; junk is deleted");
    // What was done before the failure is saved: the redelivery starts after it.
    let p = w.progress();
    assert_eq!(p.status, HistoryStatus::Running);
    assert_eq!(p.customers_done, 1);
}

/// A second start message of the same import (two functions connected the store at once, or
/// SQS delivered the message twice) only resumes from the saved cursor: the import ends once,
/// with each order counted once.
#[tokio::test(start_paused = true)]
async fn a_duplicate_start_message_is_harmless() {
    let w = world(150, 40, 60).await;
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    let outcomes = w.drain(Duration::from_millis(1200), || 0).await;
    assert_eq!(
        outcomes.iter().filter(|o| **o == Outcome::Done).count(),
        1,
        "{outcomes:?}"
    );
    let p = w.progress();
    assert_eq!(p.status, HistoryStatus::Done);
    assert_eq!((p.orders_done, p.orders_total), (150, 150));
    assert_eq!(keys(&events_in(&w.sent())), expected(&w));
}

/// A repair re-reads its window, clears the mark it was queued for, and leaves a miss marked
/// meanwhile for a repair of its own. A miss marked while an import runs does not end the
/// import's chain.
#[tokio::test(start_paused = true)]
async fn a_repair_resends_its_window_and_clears_only_its_own_mark() {
    let w = world(30, 1, 10).await;
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    // The first invocation claims the import; the second has a miss marked while it runs.
    let now = adapters::clock::now_unix();
    let body = w.queue.inner.try_pop().unwrap();
    let first = handle(&w.deps, &body, Deadline::after(Duration::from_millis(300))).await;
    assert_eq!(first.unwrap().outcome, Outcome::Continued);
    let body = w.queue.inner.try_pop().unwrap();
    let mark = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        adapters::keystore::update(w.store.as_ref(), STORE, |r| {
            assert!(adapters::history::start::mark_miss(r, now - 600));
        })
        .await
        .unwrap();
    };
    let (second, ()) = tokio::join!(
        handle(&w.deps, &body, Deadline::after(Duration::from_millis(300))),
        mark
    );
    assert_eq!(second.unwrap().outcome, Outcome::Continued);
    let outcomes = w.drain(Duration::from_millis(300), || 0).await;
    assert!(!outcomes.contains(&Outcome::Superseded), "{outcomes:?}");
    assert_eq!(w.progress().status, HistoryStatus::Done);
    assert_eq!(w.progress().first_miss_at, Some(now - 600));

    // The repair is claimed (as the intake does), then a later miss is marked.
    let mut since = None;
    adapters::keystore::update(w.store.as_ref(), STORE, |r| {
        since = adapters::history::start::claim_repair(r, now);
    })
    .await
    .unwrap();
    assert_eq!(since, Some(now - 600));
    adapters::keystore::update(w.store.as_ref(), STORE, |r| {
        adapters::history::start::mark_miss(r, now - 60);
    })
    .await
    .unwrap();
    w.klaviyo.sent.lock().unwrap().clear();
    w.queue
        .enqueue(&Task::repair(STORE, now - 600, now))
        .await
        .unwrap();
    let outcomes = w.drain(Duration::from_secs(60), || 0).await;
    assert_eq!(outcomes.last(), Some(&Outcome::Done));
    assert!(!w.sent().is_empty());
    assert!(w.sent().iter().all(|s| s.path.contains("event")));
    let p = w.progress();
    assert_eq!(
        (p.repair_from, p.repair_queued_at, p.first_miss_at),
        (None, None, Some(now - 60))
    );
}

/// The daily sweep queues the repair of a marked store that no delivery has repaired yet.
#[tokio::test(start_paused = true)]
async fn the_daily_sweep_queues_the_repair_of_a_marked_store() {
    let w = world(10, 1, 10).await;
    w.queue.enqueue(&Task::import(STORE)).await.unwrap();
    w.drain(Duration::from_secs(60), || 0).await;
    let now = adapters::clock::now_unix();
    adapters::keystore::update(w.store.as_ref(), STORE, |r| {
        adapters::history::start::mark_miss(r, now - 7200);
    })
    .await
    .unwrap();
    w.queue.enqueue(&Task::SweepAll).await.unwrap();
    w.drain(Duration::from_secs(60), || 0).await;
    let repairs: Vec<String> = w
        .queue
        .all
        .lock()
        .unwrap()
        .iter()
        .filter(|b| b.contains(r#""job":"repair""#))
        .cloned()
        .collect();
    assert_eq!(repairs.len(), 1, "{repairs:?}");
    let p = w.progress();
    assert_eq!((p.first_miss_at, p.repair_from), (None, None), "repaired");
}

/// A repair that ends after the store was uninstalled (or its record is gone) clears no mark:
/// nothing is written onto the deletion marker, and no record is created.
#[tokio::test]
async fn a_repair_ending_after_an_uninstall_writes_nothing() {
    let w = world(1, 1, 10).await;
    let now = adapters::clock::now_unix();
    adapters::keystore::update(w.store.as_ref(), STORE, |r| r.mark_uninstalled(now, now))
        .await
        .unwrap();
    let marker = w.store.get(STORE).await.unwrap();
    let deadline = Deadline::after(Duration::from_secs(5));
    crate::engine::repaired(&w.deps, STORE, now - 600, deadline)
        .await
        .unwrap();
    assert_eq!(w.store.get(STORE).await.unwrap(), marker);

    w.store.delete(STORE).await.unwrap();
    crate::engine::repaired(&w.deps, STORE, now - 600, deadline)
        .await
        .unwrap();
    assert_eq!(w.store.get(STORE).await.unwrap(), None);
}
