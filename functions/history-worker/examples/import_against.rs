//! Runs one store's history import to the end against a Salla API and a Klaviyo API in other
//! processes (the stubs' binaries), so `/usr/bin/time -v` measures the worker alone:
//!
//! `SALLA_API_URL=… KLAVIYO_API_URL=… cargo run -p history-worker --example import_against`
//!
//! The store (`HISTORY_STORE`, default `1`), its Salla token (`HISTORY_TOKEN`, default
//! `stub-token`, the Salla stub's) and Klaviyo key live in an in-memory key store; the
//! continuations go through an in-memory queue, each invocation with `HISTORY_BUDGET_SECS`
//! (default 290, the Lambda's). Prints one JSON line: wall time, invocations and counts.

use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::Secret;
use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::{HistoryQueue, Task};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::KlaviyoClient;
use adapters::salla::merchant::{DEFAULT_TIMEOUT, MerchantApi};
use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
use async_trait::async_trait;
use history_worker::{Deps, Outcome, RunStats, WorkerConfig};

/// The stub's tokens do not expire during a run.
struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        Err(RefreshError::NotSpent(adapters::AdapterError::Config(
            "no refresh in a measurement".into(),
        )))
    }
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() {
    let salla_url = env("SALLA_API_URL", "");
    let klaviyo_url = env("KLAVIYO_API_URL", "");
    if salla_url.is_empty() || klaviyo_url.is_empty() {
        eprintln!("SALLA_API_URL and KLAVIYO_API_URL must be set");
        std::process::exit(2);
    }
    let store_id = env("HISTORY_STORE", "1");
    let budget: f64 = env("HISTORY_BUDGET_SECS", "290").parse().unwrap_or(290.0);
    let now = adapters::clock::now_unix();
    let store = Arc::new(MemoryKeyStore::with_records([StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(env("HISTORY_KLAVIYO_KEY", "pk_live_0123456789abcdef01")),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(env("HISTORY_TOKEN", "stub-token")),
            refresh_token: Secret::new("unused"),
            expires_at: now + 10 * 24 * 3600,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        ..StoreRecord::new(&store_id)
    }]));
    let queue = Arc::new(MemoryHistoryQueue::new());
    let deps = Deps {
        store: store.clone(),
        scan: store,
        salla: Arc::new(MerchantApi::new(salla_url, DEFAULT_TIMEOUT)),
        klaviyo: Arc::new(KlaviyoClient::new(klaviyo_url)),
        queue: queue.clone(),
        refresher: Arc::new(NoRefresh),
        locks: RefreshLocks::default(),
        config: WorkerConfig {
            page_min: Duration::ZERO,
            save_reserve: Duration::from_millis(500),
            ..WorkerConfig::default()
        },
    };
    if let Err(e) = queue.enqueue(&Task::import(&store_id)).await {
        eprintln!("enqueue: {e}");
        std::process::exit(1);
    }
    let started = Instant::now();
    let mut total = RunStats::default();
    let mut invocations = 0u64;
    let mut last = None;
    while let Some(body) = queue.try_pop() {
        invocations += 1;
        let deadline = Deadline::after(Duration::from_secs_f64(budget));
        match history_worker::handle(&deps, &body, deadline).await {
            Ok(report) => {
                let s = report.stats;
                total.pages += s.pages;
                total.orders += s.orders;
                total.customers += s.customers;
                total.products += s.products;
                total.salla_calls += s.salla_calls;
                total.salla_throttled += s.salla_throttled;
                total.klaviyo_requests += s.klaviyo_requests;
                total.bulk_jobs += s.bulk_jobs;
                total.events += s.events;
                total.paced_ms += s.paced_ms;
                total.salla_ms += s.salla_ms;
                total.klaviyo_ms += s.klaviyo_ms;
                last = Some(report.outcome);
            }
            Err(e) => {
                eprintln!("invocation {invocations}: {e}");
                std::process::exit(1);
            }
        }
    }
    let summary = serde_json::json!({
        "wall_secs": started.elapsed().as_secs_f64(),
        "invocations": invocations,
        "done": last == Some(Outcome::Done),
        "stats": total,
    });
    println!("{summary}");
}
