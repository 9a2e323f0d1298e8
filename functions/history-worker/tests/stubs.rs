//! The worker against the real stubs over HTTP: the Salla API stub (Salla's pagination, rate
//! headers, 429s) and the strict Klaviyo stub (every body checked against Klaviyo's spec).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::Secret;
use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::{HistoryQueue, HistoryStatus, Task};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::KlaviyoClient;
use adapters::salla::merchant::{DEFAULT_TIMEOUT, MerchantApi};
use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
use async_trait::async_trait;
use history_worker::{Deps, Outcome, WorkerConfig};
use salla_api_stub::{Dataset, RateConfig, SallaApiStub};

const STORE: &str = "1803665367";
const TOKEN: &str = "ory_at_stub_token";
const KEY: &str = "pk_live_0123456789abcdef0123456789";

struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        Err(RefreshError::NotSpent(adapters::AdapterError::Config(
            "no refresh in this test".into(),
        )))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_orders_reach_klaviyo_once_each_with_backfill() {
    let salla = SallaApiStub::start().await;
    // 500 orders unless HISTORY_TEST_ORDERS says otherwise (the 10,000-order measurement).
    let orders: usize = std::env::var("HISTORY_TEST_ORDERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(500);
    salla.add_store(STORE, TOKEN, Dataset::new(11, orders, 60, 5));
    salla.set_rate_limits(RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST);
    let klaviyo = klaviyo_stub::KlaviyoStub::start().await;
    klaviyo.set_accept_any_key(true);

    // A finished import's record: a start message begins a new one.
    let (store, queue, deps) = world_for(&salla, &klaviyo, adapters::clock::now_unix());

    queue.enqueue(&Task::import(STORE)).await.unwrap();
    let started = Instant::now();
    let mut outcomes = Vec::new();
    let mut klaviyo_requests = 0;
    // Paced waits, Salla calls, Klaviyo requests (ms).
    let mut timing = (0u64, 0u64, 0u64);
    while let Some(body) = queue.try_pop() {
        // Short invocations (2 s unless HISTORY_TEST_BUDGET_SECS says otherwise), so the
        // import goes through several continuations.
        let budget = std::env::var("HISTORY_TEST_BUDGET_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(2.0);
        let report = history_worker::handle(
            &deps,
            &body,
            Deadline::after(Duration::from_secs_f64(budget)),
        )
        .await
        .expect("no transient failure");
        klaviyo_requests += report.stats.klaviyo_requests;
        timing.0 += report.stats.paced_ms;
        timing.1 += report.stats.salla_ms;
        timing.2 += report.stats.klaviyo_ms;
        outcomes.push(report.outcome);
        assert!(outcomes.len() < 200 + orders / 10, "the import must end");
    }
    let elapsed = started.elapsed();
    assert_eq!(outcomes.last(), Some(&Outcome::Done), "{outcomes:?}");

    assert_eq!(
        klaviyo.violations(),
        Vec::<String>::new(),
        "spec-valid bodies"
    );
    // Customers go as profile bulk import jobs, never one request each.
    let singles = klaviyo
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/profile-import"))
        .count();
    assert!(klaviyo.stats().profile_bulk_jobs >= 1);
    assert_eq!(singles, 0, "profiles imported one by one");
    let mut placed: HashMap<String, usize> = HashMap::new();
    for event in klaviyo.events() {
        let a = &event["data"]["attributes"];
        if a["metric"]["data"]["attributes"]["name"] == "Placed Order" {
            assert_eq!(a["backfill"], true, "historical events never fire a flow");
            *placed
                .entry(a["unique_id"].as_str().unwrap_or_default().to_owned())
                .or_default() += 1;
        }
    }
    // An order still awaiting a (non-COD) payment is not revenue yet: it sends only its
    // status event (mapping README "Revenue"); every other order sends Placed Order.
    let mut awaiting: std::collections::HashSet<String> = std::collections::HashSet::new();
    for event in klaviyo.events() {
        let p = &event["data"]["attributes"]["properties"];
        if p["StatusSlug"] == "payment_pending" && p["PaymentMethod"] != "cod" {
            awaiting.insert(p["OrderId"].as_str().unwrap_or_default().to_owned());
        }
    }
    assert!(
        !awaiting.is_empty(),
        "the dataset has orders awaiting payment"
    );
    assert_eq!(
        placed.len() + awaiting.len(),
        orders,
        "every order's Placed Order, or its awaiting-payment status"
    );
    assert!(placed.values().all(|&n| n == 1));
    // Klaviyo holds each event once (above). A continuation re-reads the page its invocation
    // was cut in, so what that page had already sent goes again and Klaviyo drops it by
    // `unique_id`: on a loaded machine a page can outlast the budget's estimate. At most one
    // page of events per continuation may repeat, never more.
    let stats = klaviyo.stats();
    let continuations = outcomes.len().saturating_sub(1) as u64;
    let per_page = (stats.distinct_events as u64).div_ceil(orders.div_ceil(60) as u64);
    assert!(
        stats.duplicate_events as u64 <= continuations * per_page,
        "re-sent {} events over {continuations} continuations (a page holds about {per_page})",
        stats.duplicate_events
    );

    let record = store.get(STORE).await.unwrap().unwrap();
    let progress = record.history.unwrap();
    assert_eq!(progress.status, HistoryStatus::Done);
    let n = orders as u64;
    assert_eq!((progress.orders_done, progress.orders_total), (n, n));

    // The pacer never runs into Salla's limit: no 429 at all.
    let salla_stats = salla.stats();
    assert_eq!(salla_stats.throttled, 0, "{salla_stats:?}");
    let event_jobs = klaviyo
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/api/event-bulk-create-jobs"))
        .count();
    let per = orders as f64;
    eprintln!(
        "{orders} orders: {:.1} s, {:.0} orders/s, {} Salla requests, {} Klaviyo requests \
         ({event_jobs} event jobs, {:.3} per order), {} invocations; \
         paced {} ms, in Salla calls {} ms, in Klaviyo requests {} ms",
        elapsed.as_secs_f64(),
        per / elapsed.as_secs_f64(),
        salla_stats.requests,
        klaviyo_requests,
        event_jobs as f64 / per,
        outcomes.len(),
        timing.0,
        timing.1,
        timing.2,
    );
    assert!(event_jobs as f64 / per <= 0.05);
}

/// The daily sweep's cost for one store, against the stubs: the fan-out message, then the
/// store's sweep of its last three store-local days. Printed for docs/performance.md.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_sweep_costs_a_list_page_per_60_orders_a_detail_each_and_a_bulk_job_per_page() {
    let now = adapters::clock::now_unix();
    let salla = SallaApiStub::start().await;
    // 50 orders a day for 20 days, the newest ten minutes ago.
    salla.add_store(
        STORE,
        TOKEN,
        Dataset {
            end_epoch: now - 600,
            span_days: 20,
            ..Dataset::new(3, 1000, 80, 5)
        },
    );
    salla.set_rate_limits(RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST);
    let klaviyo = klaviyo_stub::KlaviyoStub::start().await;
    klaviyo.set_accept_any_key(true);
    let (_store, queue, deps) = world_for(&salla, &klaviyo, now);
    queue.enqueue(&Task::SweepAll).await.unwrap();
    let mut outcomes = Vec::new();
    let mut stats = history_worker::RunStats::default();
    while let Some(body) = queue.try_pop() {
        let report = history_worker::handle(&deps, &body, Deadline::after(Duration::from_secs(60)))
            .await
            .expect("no transient failure");
        stats.orders += report.stats.orders;
        stats.events += report.stats.events;
        stats.salla_calls += report.stats.salla_calls;
        stats.klaviyo_requests += report.stats.klaviyo_requests;
        stats.pages += report.stats.pages;
        outcomes.push(report.outcome);
    }
    assert_eq!(outcomes.first(), Some(&Outcome::Fanned(1)));
    assert_eq!(outcomes.last(), Some(&Outcome::Done), "{outcomes:?}");
    let salla_requests = salla.stats().requests;
    // The metric-mapping check that ends the run: two reads, plus one write per mapping
    // still unset (only while the account has not mapped them yet).
    let mapping =
        |path: &str| path.contains("/api/mapped-metrics") || path.contains("/api/metrics");
    let all = klaviyo.requests();
    let mapping_requests = all.iter().filter(|r| mapping(&r.path)).count() as u64;
    let klaviyo_requests = all.len() as u64 - mapping_requests;
    // The products' details (for `Categories` and `Brands`) are read once per invocation.
    let lookups = salla
        .calls()
        .iter()
        .filter(|c| c.path.starts_with("/products/"))
        .count() as u64;
    assert!(lookups <= 5, "{lookups}");
    eprintln!(
        "sweep of one store: {} orders in the window, {} list pages, {} product lookups, {} Salla requests, {} events, {} Klaviyo requests (+{} for the metric mapping)",
        stats.orders,
        stats.pages,
        lookups,
        salla_requests,
        stats.events,
        klaviyo_requests,
        mapping_requests
    );
    assert!((2..=7).contains(&mapping_requests), "{mapping_requests}");
    // Three store-local days of 50 orders a day.
    assert!((100..=200).contains(&stats.orders), "{}", stats.orders);
    assert_eq!(
        salla_requests,
        stats.pages + stats.orders + lookups,
        "a list page per 60, a detail each, a lookup per product"
    );
    assert_eq!(stats.pages, stats.orders.div_ceil(60));
    // Each page's events go in one bulk job (a page of 60 orders stays under 1,000 events).
    assert_eq!(klaviyo_requests, stats.pages);
    assert_eq!(stats.salla_calls, salla_requests);
}

/// Salla's order list selects by creation date only (salla.md §7.3: `from_date`/`to_date`, no
/// update-time filter), so an order created days before an outage whose status changed during
/// it lies outside the repair's window. The repair reads a bounded lookback before its window
/// for orders whose listed status has moved past the ones an order is created in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repair_resends_the_status_change_of_an_order_created_before_the_outage() {
    let now = adapters::clock::now_unix();
    let salla = SallaApiStub::start().await;
    salla.add_store(
        STORE,
        TOKEN,
        Dataset {
            end_epoch: now - 600,
            span_days: 20,
            ..Dataset::new(3, 1000, 80, 5)
        },
    );
    salla.set_rate_limits(RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST);
    let klaviyo = klaviyo_stub::KlaviyoStub::start().await;
    klaviyo.set_accept_any_key(true);
    let since = now - 3600;
    // Orders placed three to four days before the outage, still under review.
    let (lo, hi) = (
        salla_api_stub::local_text(since - 4 * 86_400),
        salla_api_stub::local_text(since - 3 * 86_400),
    );
    let under_review: Vec<u64> = salla
        .order_ids(STORE)
        .into_iter()
        .filter(|id| {
            let d = salla.order_detail(STORE, *id).unwrap();
            let date = d["date"]["date"].as_str().unwrap_or_default().to_owned();
            date.as_str() >= lo.as_str()
                && date.as_str() < hi.as_str()
                && d["status"]["slug"] == "under_review"
        })
        .collect();
    assert!(under_review.len() >= 2, "{under_review:?}");
    let (changed, unchanged) = (under_review[0], under_review[1]);
    // The merchant marks it delivered during the outage; the webhook is lost.
    salla.set_order_status(STORE, changed, "delivered");

    let (store, queue, deps) = world_for(&salla, &klaviyo, now);
    queue
        .enqueue(&Task::repair(STORE, since, now))
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    while let Some(body) = queue.try_pop() {
        let report = history_worker::handle(&deps, &body, Deadline::after(Duration::from_secs(60)))
            .await
            .expect("no transient failure");
        outcomes.push(report.outcome);
    }
    assert_eq!(outcomes.last(), Some(&Outcome::Done), "{outcomes:?}");
    drop(store);

    let order_id = changed.to_string();
    let count = |metric: &str| {
        klaviyo
            .events()
            .iter()
            .filter(|e| {
                let a = &e["data"]["attributes"];
                a["metric"]["data"]["attributes"]["name"] == metric
                    && a["properties"]["OrderId"] == order_id.as_str()
            })
            .count()
    };
    assert_eq!(
        count("Delivered Order"),
        1,
        "the missed status change, once"
    );
    assert_eq!(count("Fulfilled Order"), 1);
    let violations = klaviyo.violations();
    assert_eq!(violations, Vec::<String>::new(), "spec-valid bodies");
    // The lookback reads no detail of an order still in the status it was created in.
    let fetched = |id: u64| {
        salla
            .calls()
            .iter()
            .any(|c| c.path == format!("/orders/{id}"))
    };
    assert!(fetched(changed));
    assert!(
        !fetched(unchanged),
        "an unchanged order's detail is not read"
    );
}

/// A connected store whose import finished, against the two stubs.
fn world_for(
    salla: &SallaApiStub,
    klaviyo: &klaviyo_stub::KlaviyoStub,
    now: i64,
) -> (Arc<MemoryKeyStore>, Arc<MemoryHistoryQueue>, Deps) {
    let mut done = adapters::history::HistoryProgress::started(now - 86_400);
    done.status = HistoryStatus::Done;
    done.cursor = None;
    let store = Arc::new(MemoryKeyStore::with_records([StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(KEY),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("ory_rt_stub"),
            expires_at: now + 10 * 24 * 3600,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        history: Some(done),
        ..StoreRecord::new(STORE)
    }]));
    let queue = Arc::new(MemoryHistoryQueue::new());
    let deps = Deps {
        store: store.clone(),
        scan: store.clone(),
        salla: Arc::new(MerchantApi::new(salla.base_url.clone(), DEFAULT_TIMEOUT)),
        klaviyo: Arc::new(KlaviyoClient::new(klaviyo.base_url.clone())),
        queue: queue.clone(),
        refresher: Arc::new(NoRefresh),
        locks: RefreshLocks::default(),
        config: WorkerConfig {
            page_min: Duration::ZERO,
            save_reserve: Duration::from_millis(200),
            ..WorkerConfig::default()
        },
    };
    (store, queue, deps)
}

/// An imported order carries the `Categories` and `Brands` the live path gives it: the worker
/// looks its products up as the intake's enrichment does (`GET /products/{id}`), so its events
/// equal the live `order.created`'s, `backfill` aside.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_orders_carry_the_live_path_s_categories_and_brands() {
    let now = adapters::clock::now_unix();
    let salla = SallaApiStub::start().await;
    salla.add_store(STORE, TOKEN, Dataset::new(5, 40, 10, 6));
    salla.set_rate_limits(RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST);
    let klaviyo = klaviyo_stub::KlaviyoStub::start().await;
    klaviyo.set_accept_any_key(true);
    let (_store, queue, deps) = world_for(&salla, &klaviyo, now);
    queue.enqueue(&Task::import(STORE)).await.unwrap();
    while let Some(body) = queue.try_pop() {
        history_worker::handle(&deps, &body, Deadline::after(Duration::from_secs(60)))
            .await
            .expect("no transient failure");
    }

    let lookups = salla
        .calls()
        .iter()
        .filter(|c| c.path.starts_with("/products/"))
        .count();
    // The live path for each order: its webhook, the intake's product lookups, the mapping.
    let live_api = adapters::salla::api::SallaApi::new(salla.base_url.clone());
    let token = Secret::new(TOKEN);
    let mut compared = 0;
    let mut with_brand = 0;
    for id in salla.order_ids(STORE) {
        let detail = salla.order_detail(STORE, id).unwrap();
        if detail["payment_method"] == "cod" {
            // Live COD orders carry confirmation links the intake signs.
            continue;
        }
        let webhook = serde_json::json!({
            "event": "order.created",
            "merchant": STORE.parse::<u64>().unwrap(),
            "created_at": "Wed Dec 02 2026 12:00:00 GMT+0300",
            "data": detail,
        });
        let env = mapping::parse_envelope(webhook.to_string().as_bytes()).unwrap();
        let mut enrichment = mapping::Enrichment::default();
        for product in mapping::products_to_enrich(&env) {
            if let Some(p) = live_api.get_product(&token, &product).await.unwrap() {
                enrichment
                    .products
                    .insert(product, mapping::ProductDetails::from(p));
            }
        }
        let mapping::Action::Send(requests) = mapping::plan(&env, &enrichment).unwrap() else {
            continue;
        };
        let imported = klaviyo.events();
        for request in requests {
            let mapping::KlaviyoRequest::CreateEvent(event) = &request else {
                continue;
            };
            let live = request.body().unwrap();
            let live = &live["data"]["attributes"];
            let found = imported
                .iter()
                .map(|e| &e["data"]["attributes"])
                .find(|a| {
                    a["unique_id"] == live["unique_id"]
                        && a["metric"]["data"]["attributes"]["name"] == event.metric.as_str()
                })
                .unwrap_or_else(|| panic!("{} of order {id} imported", event.metric));
            assert_eq!(found["properties"], live["properties"], "order {id}");
            assert_eq!(
                (&found["time"], &found["value"]),
                (&live["time"], &live["value"])
            );
            assert_eq!(found["backfill"], true);
            if event.metric == "Placed Order" {
                assert!(
                    !live["properties"]["Categories"]
                        .as_array()
                        .unwrap()
                        .is_empty(),
                    "order {id} has categories"
                );
                with_brand += usize::from(
                    live["properties"]["Brands"]
                        .as_array()
                        .is_some_and(|b| !b.is_empty()),
                );
            }
            compared += 1;
        }
    }
    assert!(compared > 40 && with_brand > 0, "{compared} {with_brand}");
    assert!(
        lookups <= 6,
        "each product read once per invocation: {lookups}"
    );
}

/// The customer values of the privacy scan's dataset: emails, mobiles (bare, and with the
/// country code) and full names, plus the store's token and key.
async fn privacy_needles() -> Vec<String> {
    let salla = SallaApiStub::start().await;
    salla.add_store(STORE, TOKEN, privacy_dataset());
    let mut needles = vec![TOKEN.to_owned(), KEY.to_owned()];
    for c in salla.customers(STORE) {
        let text = |k: &str| c[k].as_str().unwrap_or_default().to_owned();
        needles.push(text("email"));
        let mobile = c["mobile"].to_string();
        needles.push(format!("+966{mobile}"));
        needles.push(mobile);
        needles.push(format!("{} {}", text("first_name"), text("last_name")));
    }
    needles.retain(|n| n.len() >= 6);
    needles.sort();
    needles.dedup();
    needles
}

/// The privacy scan's dataset: 120 orders, 30 customers, 4 products.
fn privacy_dataset() -> Dataset {
    Dataset::new(13, 120, 30, 4)
}

/// Where a needle stands in `haystack` (case-insensitive), a digits-only one only as a whole
/// number (not as the tail of a longer number or a float).
fn hits(haystack: &str, needles: &[String]) -> Vec<String> {
    let hay = haystack.to_lowercase();
    needles
        .iter()
        .filter(|n| {
            let n = n.to_lowercase();
            let digits = n.bytes().all(|b| b.is_ascii_digit());
            hay.match_indices(&n).any(|(at, _)| {
                !digits
                    || (!hay[..at].ends_with(|c: char| c.is_ascii_digit() || c == '.')
                        && !hay[at + n.len()..].starts_with(|c: char| c.is_ascii_digit()))
            })
        })
        .cloned()
        .collect()
}

/// Privacy of the import: a child process runs a whole import against the stubs with the
/// production logger; no customer value of the dataset (nor the token or key) is in its log
/// lines, in any queue message it sent, or in the store record it left (the child checks
/// those two).
#[test]
fn an_import_leaves_no_customer_value_in_logs_messages_or_the_store() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_import_for_the_privacy_scan",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("RUST_LOG", "debug")
        .output()
        .expect("child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("\"history_run\""),
        "the child logged its runs"
    );
    assert!(
        stdout.contains("child: scanned"),
        "the child scanned: {stdout}"
    );
    let needles = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(privacy_needles());
    // The scan can find what it looks for: a customer's email is in the dataset.
    assert!(needles.iter().any(|n| n.contains('@')));
    let found = hits(&stdout, &needles);
    assert!(found.is_empty(), "customer values in the logs: {found:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run by an_import_leaves_no_customer_value_in_logs_messages_or_the_store"]
async fn child_import_for_the_privacy_scan() {
    adapters::logging::init();
    let salla = SallaApiStub::start().await;
    salla.add_store(STORE, TOKEN, privacy_dataset());
    salla.set_rate_limits(RateConfig::PLUS_FAST, RateConfig::CUSTOMERS_FAST);
    let klaviyo = klaviyo_stub::KlaviyoStub::start().await;
    klaviyo.set_accept_any_key(true);
    let (store, queue, deps) = world_for(&salla, &klaviyo, adapters::clock::now_unix());
    queue.enqueue(&Task::import(STORE)).await.unwrap();
    let mut messages = Vec::new();
    while let Some(body) = queue.try_pop() {
        messages.push(body.clone());
        history_worker::handle(&deps, &body, Deadline::after(Duration::from_secs(1)))
            .await
            .expect("no transient failure");
    }
    let record = store.get(STORE).await.unwrap().unwrap();
    assert_eq!(
        record.history.as_ref().map(|h| h.status),
        Some(HistoryStatus::Done)
    );
    let needles = privacy_needles().await;
    let stored = format!("{record:?}");
    assert!(messages.len() > 1, "continuations were queued");
    let found = hits(&messages.join("\n"), &needles);
    assert!(
        found.is_empty(),
        "customer values in queue messages: {found:?}"
    );
    let found = hits(&stored, &needles);
    assert!(
        found.is_empty(),
        "customer values in the store record: {found:?}"
    );
    println!(
        "child: scanned {} messages and the record for {} values",
        messages.len(),
        needles.len()
    );
}
