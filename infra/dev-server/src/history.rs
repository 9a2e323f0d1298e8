//! The history import in-process: the same worker as on Lambda, fed by an in-memory queue
//! instead of SQS, against the configured key store. A watcher starts a store's import once
//! it holds both Salla tokens and a Klaviyo key and has no import yet (what connecting a
//! store does on AWS), or an import the merchant's page claimed again ("run the import
//! again" writes a new import at its first cursor, which SQS would carry on AWS), and queues
//! the gap repair of a store the intake marked (what the intake's next good delivery does on
//! AWS, where it has the queue). The daily sweep runs once a day from the start. A message
//! that fails is delivered again after a pause, as SQS would after its visibility timeout.

use std::sync::Arc;
use std::time::Duration;

use adapters::AdapterError;
use adapters::config::Config;
use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::start::{self, HistoryStart};
use adapters::history::{Cursor, HistoryQueue, HistoryStatus, Task};
use adapters::keystore::scan::TokenScan;
use adapters::keystore::{KeyStore, StoreRecord};
use history_worker::Deps;

/// How often the watcher looks for newly connected stores.
pub const WATCH_EVERY: Duration = Duration::from_secs(5);
/// How often the daily sweep runs (the EventBridge schedule on AWS).
pub const SWEEP_EVERY: Duration = Duration::from_secs(24 * 3600);
/// The pause before a failed message is delivered again.
pub const REDELIVER_AFTER: Duration = Duration::from_secs(30);

/// What the watcher found to start.
#[derive(Debug, Default)]
pub struct Pending {
    /// Stores holding Salla tokens and a usable Klaviyo key, with no import yet (`None`) or
    /// with one claimed and not begun (`Some(started_at)`, which tells one claim from the
    /// next).
    pub imports: Vec<(String, Option<i64>)>,
    /// Stores with a repair due (a miss marked, or a queued repair gone stale).
    pub repairs: Vec<adapters::keystore::StoreRecord>,
}

/// One pass over the stores holding Salla tokens, at `now`.
pub async fn pending(
    store: &dyn KeyStore,
    scan: &dyn TokenScan,
    now: i64,
) -> Result<Pending, AdapterError> {
    let mut out = Pending::default();
    let mut cursor: Option<String> = None;
    loop {
        let page = scan.scan_tokens(cursor.as_deref(), 200).await?;
        for state in page.stores {
            let Some(record) = store.get(&state.store_id).await? else {
                continue;
            };
            let keyed = record.klaviyo.as_ref().is_some_and(|k| !k.needs_reconnect);
            if keyed && record.salla.is_some() {
                match (&record.history, claimed_not_begun(&record)) {
                    (None, _) => {
                        out.imports.push((state.store_id, None));
                        continue;
                    }
                    (Some(_), Some(at)) => {
                        out.imports.push((state.store_id, Some(at)));
                        continue;
                    }
                    _ => {}
                }
            }
            if start::repair_due(&record, now) {
                out.repairs.push(record);
            }
        }
        match page.next {
            Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Whether the record holds an import claimed and not yet begun: running at its first
/// cursor, never saved since (what a re-run writes). Its start time tells one claim from the
/// next.
pub fn claimed_not_begun(record: &StoreRecord) -> Option<i64> {
    let h = record.history.as_ref()?;
    (h.status == HistoryStatus::Running
        && h.cursor == Some(Cursor::start())
        && h.updated_at == h.started_at
        && h.products_done == 0)
        .then_some(h.started_at)
}

/// One watcher pass: queues the imports not started by this process yet (`started`) and
/// the repairs due (claimed in the store's record, as the intake claims them on AWS).
pub async fn watch_once(
    store: &dyn KeyStore,
    scan: &dyn TokenScan,
    queue: &Arc<MemoryHistoryQueue>,
    started: &mut std::collections::HashSet<(String, Option<i64>)>,
) -> Result<(), AdapterError> {
    let found = pending(store, scan, adapters::clock::now_unix()).await?;
    for (id, claim) in found.imports {
        if started.insert((id.clone(), claim)) && queue.enqueue(&Task::import(&id)).await.is_ok() {
            tracing::info!(event = "history_start", store_id = %id, job = "import", source = "dev_watch", outcome = "queued");
        }
    }
    let repairs = HistoryStart::new(queue.clone());
    for record in found.repairs {
        repairs.repair_if_due(store, &record, "dev_watch").await;
    }
    Ok(())
}

/// Starts the worker and the watcher on the current runtime.
pub async fn spawn(config: &Config) -> Result<(), AdapterError> {
    let queue = Arc::new(MemoryHistoryQueue::new());
    let deps = Arc::new(Deps::from_config(config, queue.clone()).await?);
    tokio::spawn(watch(deps.clone(), queue.clone()));
    tokio::spawn(sweep(queue.clone()));
    tokio::spawn(work(deps, queue));
    Ok(())
}

async fn watch(deps: Arc<Deps>, queue: Arc<MemoryHistoryQueue>) {
    // Imports already enqueued by this process (their first save comes a little later), by
    // store and claim.
    let mut started = std::collections::HashSet::new();
    loop {
        let pass = watch_once(
            deps.store.as_ref(),
            deps.scan.as_ref(),
            &queue,
            &mut started,
        );
        if let Err(e) = pass.await {
            tracing::warn!(event = "history_watch", outcome = "failed", error = %e);
        }
        tokio::time::sleep(WATCH_EVERY).await;
    }
}

/// The daily sweep's schedule: the first a day after the start (a fresh import covers the
/// days before it).
async fn sweep(queue: Arc<MemoryHistoryQueue>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        if queue.enqueue(&Task::SweepAll).await.is_ok() {
            tracing::info!(
                event = "history_start",
                job = "sweep_all",
                source = "dev_schedule",
                outcome = "queued"
            );
        }
    }
}

async fn work(deps: Arc<Deps>, queue: Arc<MemoryHistoryQueue>) {
    loop {
        let body = queue.pop().await;
        let deadline = Deadline::after(history_worker::BUDGET);
        if history_worker::handle(&deps, &body, deadline)
            .await
            .is_err()
        {
            let queue = queue.clone();
            tokio::spawn(async move {
                tokio::time::sleep(REDELIVER_AFTER).await;
                if let Ok(task) = Task::parse(&body) {
                    let _ = queue.enqueue(&task).await;
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::Secret;
    use adapters::history::HistoryProgress;
    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KlaviyoConnection, SallaTokens, StoreRecord};

    fn record(id: &str, key: bool, history: bool) -> StoreRecord {
        StoreRecord {
            klaviyo: key.then(|| KlaviyoConnection {
                private_key: Secret::new("pk_live_x"),
                account_name: None,
                account_id: None,
                validated_at: 1,
                needs_reconnect: false,
            }),
            salla: Some(SallaTokens {
                access_token: Secret::new("a"),
                refresh_token: Secret::new("r"),
                expires_at: i64::MAX / 2,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            }),
            // An import that has begun: saved once since its start.
            history: history.then(|| HistoryProgress {
                updated_at: 2,
                ..HistoryProgress::started(1)
            }),
            ..StoreRecord::new(id)
        }
    }

    /// A miss the intake marked gets its repair queued by the watcher (the dev server's
    /// intake has no queue), claimed in the record so it is queued once.
    #[tokio::test]
    async fn a_marked_store_gets_its_repair_queued_once() {
        let mut marked = record("1004", true, true);
        let miss = adapters::clock::now_unix() - 600;
        if let Some(h) = marked.history.as_mut() {
            h.status = adapters::history::HistoryStatus::Done;
            h.first_miss_at = Some(miss);
        }
        let store = MemoryKeyStore::with_records([marked, record("1003", true, true)]);
        let queue = Arc::new(MemoryHistoryQueue::new());
        let mut started = std::collections::HashSet::new();
        watch_once(&store, &store, &queue, &mut started)
            .await
            .unwrap();
        watch_once(&store, &store, &queue, &mut started)
            .await
            .unwrap();
        let mut tasks = Vec::new();
        while let Some(body) = queue.try_pop() {
            tasks.push(Task::parse(&body).unwrap());
        }
        assert_eq!(tasks.len(), 1, "{tasks:?}");
        assert!(matches!(
            &tasks[0],
            Task::Store { store_id, job: adapters::history::StoreJob::Repair { since }, .. }
                if store_id == "1004" && *since == miss
        ));
        let h = store.get("1004").await.unwrap().unwrap().history.unwrap();
        assert_eq!((h.first_miss_at, h.repair_from), (None, Some(miss)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_daily_sweep_is_queued_once_a_day() {
        let queue = Arc::new(MemoryHistoryQueue::new());
        tokio::spawn(sweep(queue.clone()));
        tokio::time::sleep(SWEEP_EVERY - Duration::from_secs(1)).await;
        assert!(queue.try_pop().is_none(), "not before a day has passed");
        tokio::time::sleep(Duration::from_secs(2)).await;
        let body = queue.try_pop().expect("the sweep");
        assert!(matches!(Task::parse(&body), Ok(Task::SweepAll)));
        tokio::time::sleep(SWEEP_EVERY).await;
        assert!(queue.try_pop().is_some(), "and the next day again");
        assert!(queue.try_pop().is_none());
    }

    #[tokio::test]
    async fn only_connected_stores_without_an_import_start_one() {
        let store = MemoryKeyStore::with_records([
            record("1001", true, false),
            record("1002", false, false),
            record("1003", true, true),
        ]);
        let found = pending(&store, &store, adapters::clock::now_unix())
            .await
            .unwrap();
        assert_eq!(found.imports, [("1001".to_string(), None)]);
        assert!(found.repairs.is_empty());
    }

    /// The page's re-run without a queue: the claim it writes is what the watcher starts,
    /// once per claim, and not an import that has begun saving.
    #[tokio::test]
    async fn a_rerun_claimed_by_the_page_is_started() {
        let mut done = record("1003", true, true);
        done.history.as_mut().unwrap().status = HistoryStatus::Done;
        let mut busy = record("1004", true, true);
        busy.history.as_mut().unwrap().updated_at = 50;
        let store = MemoryKeyStore::with_records([done, busy]);
        let now = adapters::clock::now_unix();
        let found = pending(&store, &store, now).await.unwrap();
        assert!(found.imports.is_empty(), "{:?}", found.imports);
        let start = adapters::history::start::HistoryStart::disabled();
        assert_eq!(
            start.rerun(&store, "1003", now).await,
            adapters::history::start::Rerun::Claimed
        );
        let found = pending(&store, &store, now).await.unwrap();
        assert_eq!(found.imports, [("1003".to_string(), Some(now))]);
        // Queued once per claim, however many passes see it.
        let queue = Arc::new(MemoryHistoryQueue::new());
        let mut started = std::collections::HashSet::new();
        for _ in 0..2 {
            watch_once(&store, &store, &queue, &mut started)
                .await
                .unwrap();
        }
        assert!(queue.try_pop().is_some());
        assert!(queue.try_pop().is_none());
    }
}
