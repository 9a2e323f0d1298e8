//! The merchant page's sync-health figures against what Klaviyo received: a burst of order
//! webhooks for three stores through the real intake and the strict Klaviyo stub. Every
//! event the stub accepted is counted once under its store and metric, and the hot path
//! writes the counts at most once a minute per store, not once per event.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use adapters::AdapterError;
use adapters::health::memory::MemoryHealth;
use adapters::health::{DayStats, HealthStore};
use async_trait::async_trait;
use e2e::harness::{GOOD_KEY, Harness, fresh, sample};
use serde_json::{Value, json};

const STORES: [&str; 3] = ["5101", "5102", "5103"];
const ORDERS_PER_STORE: u64 = 120;

/// The memory store, counting its writes (on AWS each is one DynamoDB `UpdateItem`).
#[derive(Default)]
struct Counting {
    inner: MemoryHealth,
    writes: AtomicU64,
}

#[async_trait]
impl HealthStore for Counting {
    async fn add(&self, store_id: &str, day: i64, stats: &DayStats) -> Result<(), AdapterError> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        self.inner.add(store_id, day, stats).await
    }

    async fn day(&self, store_id: &str, day: i64) -> Result<DayStats, AdapterError> {
        self.inner.day(store_id, day).await
    }
}

/// Events the stub accepted, by store (from the `unique_id`, `salla:{store}:…`) and metric.
fn received(h: &Harness) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in h.klaviyo.requests() {
        if r.method != "POST" || !r.path.starts_with("/api/events") || r.status != 202 {
            continue;
        }
        let Some(body) = r.body.as_ref() else {
            continue;
        };
        let attrs = &body["data"]["attributes"];
        let metric = attrs["metric"]["data"]["attributes"]["name"]
            .as_str()
            .unwrap_or("?");
        let store = attrs["unique_id"]
            .as_str()
            .and_then(|id| id.strip_prefix("salla:"))
            .and_then(|rest| rest.split(':').next())
            .unwrap_or("?");
        *out.entry(store.to_owned())
            .or_default()
            .entry(metric.to_owned())
            .or_default() += 1;
    }
    out
}

#[tokio::test]
async fn the_page_figures_equal_what_klaviyo_received_and_are_written_once_a_minute() {
    let health = Arc::new(Counting::default());
    let h = Harness::start_with_health(health.clone()).await;
    for store in STORES {
        h.connect(store, GOOD_KEY).await;
    }
    let template: Value = serde_json::from_slice(&sample("order.created.json")).unwrap();
    let started = Instant::now();
    let mut webhooks = 0u64;
    for i in 0..ORDERS_PER_STORE {
        for store in STORES {
            let mut body = template.clone();
            body["merchant"] = json!(store.parse::<u64>().unwrap());
            body["data"]["id"] = json!(700_000_000 + i);
            let body = fresh(&serde_json::to_vec(&body).unwrap());
            let answer = h.post_signed(&body).await;
            assert_eq!(answer.status, 200, "{}", answer.body);
            webhooks += 1;
        }
    }
    let elapsed = started.elapsed();
    let hot_path_writes = health.writes.load(Ordering::Relaxed);
    // Each store's first webhook in the process writes at once; then at most one write per
    // store per minute (two where the minute crosses midnight UTC: one record per day).
    let minutes = elapsed.as_secs() / 60 + 1;
    let stores = STORES.len() as u64;
    assert!(hot_path_writes >= stores, "{hot_path_writes}");
    assert!(
        hot_path_writes <= stores * (minutes + 1) * 2,
        "{hot_path_writes} writes for {webhooks} webhooks in {elapsed:?}"
    );

    // A stopping process writes what it still holds; then the page's figures are complete.
    adapters::health::flush_all(h.app.intake.health.as_ref(), &h.app.intake.tally).await;
    let klaviyo = received(&h);
    assert_eq!(klaviyo.len(), STORES.len(), "{:?}", klaviyo.keys());
    let now = adapters::clock::now_unix();
    let mut events = 0;
    for store in STORES {
        let view = adapters::health::read(health.as_ref(), store, now)
            .await
            .unwrap();
        let shown: BTreeMap<String, u64> = view
            .metrics
            .iter()
            .map(|m| (m.metric.clone(), m.last_24h))
            .collect();
        let got = &klaviyo[store];
        assert_eq!(&shown, got, "store {store}");
        assert!(got["Placed Order"] == ORDERS_PER_STORE, "{got:?}");
        let week: u64 = view.metrics.iter().map(|m| m.last_7d).sum();
        assert_eq!(week, got.values().sum::<u64>());
        assert_eq!(view.hourly.iter().sum::<u64>(), week);
        assert!(view.failures.is_empty(), "{:?}", view.failures);
        events += week;
    }
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );
    eprintln!(
        "health_counts: {webhooks} webhooks, {events} events relayed in {elapsed:.1?}; \
         {hot_path_writes} sync-health writes on the hot path ({:.4} per event), \
         then {} at stop",
        hot_path_writes as f64 / events as f64,
        health.writes.load(Ordering::Relaxed) - hot_path_writes
    );
}
