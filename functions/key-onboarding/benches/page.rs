//! Server time of the merchant's page, warm: `GET` of a connected store's page (session check,
//! key store read, sync-health read and Klaviyo's metric mapping, then the HTML) against the
//! local strict Klaviyo stub with a set latency per Klaviyo call, the memory key store and
//! memory health. Prints p50 / p90 / p99 / max per case.
//!
//! `cargo bench -p key-onboarding --bench page` (optimised), or
//! `cargo test -p key-onboarding --bench page` (unoptimised, an upper bound).
//! `PAGE_BENCH_VIEWS` (default 200) views per case; `PAGE_BENCH_LATENCY_MS` (default
//! "0,20,100") the stub latencies measured.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::Secret;
use adapters::health::{DayStats, HealthStore};
use adapters::history::{HistoryProgress, Phase};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::mapped_metrics::MAPPINGS;
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use klaviyo_stub::{KlaviyoStub, StubAccount};
use lambda_http::http::{Method, StatusCode, header};

const SECRET: &str = "bench-session-secret-0123456789-abcdef";

fn record(store: &str, key: &str, now: i64) -> StoreRecord {
    let mut r = StoreRecord::new(store);
    r.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new(key),
        account_name: Some("متجر العطور".into()),
        account_id: Some("AbC123".into()),
        validated_at: now,
        needs_reconnect: false,
    });
    r.salla = Some(SallaTokens {
        access_token: Secret::new("a"),
        refresh_token: Secret::new("r"),
        expires_at: now + 86_400,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    let mut h = HistoryProgress::started(now - 900);
    h.phase = Phase::OrdersRecent;
    h.orders_done = 2_000;
    h.orders_total = 5_000;
    r.history = Some(h);
    r
}

fn percentiles(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 * p).ceil() as usize).clamp(1, ms.len()) - 1];
    format!(
        "p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (n={})",
        at(0.50),
        at(0.90),
        at(0.99),
        ms[ms.len() - 1],
        ms.len()
    )
}

/// One metric per mapping at the stub, created the way Klaviyo creates them: by an event.
async fn create_metrics(stub: &KlaviyoStub, key: &str) {
    let client = KlaviyoClient::new(&stub.base_url);
    for (i, (_, metric)) in MAPPINGS.iter().enumerate() {
        let body = serde_json::json!({"data": {"type": "event", "attributes": {
            "properties": {},
            "unique_id": format!("bench-{i}"),
            "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
            "profile": {"data": {"type": "profile", "attributes": {"external_id": "bench"}}}
        }}});
        let d = client
            .call(
                &Secret::new(key),
                "POST",
                "/api/events",
                Some(&body),
                tokio::time::Instant::now() + Duration::from_secs(5),
            )
            .await
            .expect("event");
        assert_eq!(d.status, 202);
    }
}

/// One case: `settled` has our five metrics at Klaviyo (the first view maps them, later views
/// reuse the report), otherwise none exists yet and every view reads the mapping again.
async fn run(latency_ms: u64, views: usize, settled: bool) {
    let now = adapters::clock::now_unix();
    let stub = KlaviyoStub::start().await;
    let key = "pk_bench_key_0123456789";
    let store = "1001";
    stub.add_account(key, StubAccount::new("Shop", "Acc1"));
    if settled {
        create_metrics(&stub, key).await;
    }
    stub.set_latency(Duration::from_millis(latency_ms));

    let keys = Arc::new(MemoryKeyStore::with_records([record(store, key, now)]));
    let health = Arc::new(adapters::health::memory::MemoryHealth::new());
    let mut day = DayStats::default();
    for hour in 0..24u8 {
        for (_, metric) in MAPPINGS {
            day.counts.insert((hour, (*metric).to_string()), 40);
        }
    }
    day.last_ok = Some(now - 5);
    health
        .add(store, adapters::health::day_of(now), &day)
        .await
        .unwrap();
    let deps = key_onboarding::Deps {
        keys,
        klaviyo: Arc::new(KlaviyoClient::new(&stub.base_url)),
        session_secret: Secret::new(SECRET),
        handoffs: Arc::new(adapters::once::memory::MemorySpentMarks::new()),
        embedded: None,
        dashboard_origin: adapters::web::SALLA_DASHBOARD_ORIGIN.into(),
        health,
        settings_sync: None,
        history: Default::default(),
        mapping_cache: Default::default(),
    };
    let view = |store: &str| {
        let token = adapters::session::issue(
            SECRET.as_bytes(),
            store,
            adapters::session::Purpose::Session,
            adapters::clock::now_unix(),
            adapters::session::SESSION_TTL_SECS,
        );
        lambda_http::http::Request::builder()
            .method(Method::GET)
            .uri("/?lang=ar")
            .header(
                header::COOKIE,
                format!("{}={token}", key_onboarding::SESSION_COOKIE),
            )
            .body(lambda_http::Body::Empty)
            .unwrap()
    };
    let case = if settled {
        "settled mapping (reused report)"
    } else {
        "mappings pending (read every view)"
    };
    {
        // Warm: the first view sets the mappings (5 writes) and fills the cache.
        let first = Instant::now();
        let resp = key_onboarding::handle(&deps, view(store)).await;
        let first = first.elapsed().as_secs_f64() * 1e3;
        assert_eq!(resp.status(), StatusCode::OK);
        let before = stub.requests().len();
        let mut ms = Vec::with_capacity(views);
        let mut bytes = 0;
        for _ in 0..views {
            let req = view(store);
            let t = Instant::now();
            let resp = key_onboarding::handle(&deps, req).await;
            ms.push(t.elapsed().as_secs_f64() * 1e3);
            assert_eq!(resp.status(), StatusCode::OK);
            bytes = resp.body().len();
        }
        let calls = (stub.requests().len() - before) as f64 / views as f64;
        println!(
            "stub latency {latency_ms:>3} ms | {case:<42} | first view {first:.1} ms | {} | {calls:.1} Klaviyo calls/view | {bytes} bytes",
            percentiles(ms)
        );
    }
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is ignored.
    let views = std::env::var("PAGE_BENCH_VIEWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let latencies: Vec<u64> = std::env::var("PAGE_BENCH_LATENCY_MS")
        .unwrap_or_else(|_| "0,20,100".into())
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    for latency in latencies {
        for settled in [true, false] {
            rt.block_on(run(latency, views, settled));
        }
    }
}
