//! The history import in-process: the same worker as on Lambda, fed by an in-memory queue
//! instead of SQS, against the configured key store. A watcher starts a store's import once
//! it holds both Salla tokens and a Klaviyo key and has no import yet (what connecting a
//! store does on AWS), and an import the merchant's page claimed again ("run the import
//! again" writes a new import at its first cursor, which SQS would carry on AWS). A message that fails is delivered again after a pause, as SQS would
//! after its visibility timeout.

use std::sync::Arc;
use std::time::Duration;

use adapters::AdapterError;
use adapters::config::Config;
use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::{Cursor, HistoryQueue, HistoryStatus, Task};
use adapters::keystore::scan::TokenScan;
use adapters::keystore::{KeyStore, StoreRecord};
use history_worker::Deps;

/// How often the watcher looks for newly connected stores.
pub const WATCH_EVERY: Duration = Duration::from_secs(5);
/// The pause before a failed message is delivered again.
pub const REDELIVER_AFTER: Duration = Duration::from_secs(30);

/// Stores holding Salla tokens and a usable Klaviyo key, with no import yet.
pub async fn connected_without_history(
    store: &dyn KeyStore,
    scan: &dyn TokenScan,
) -> Result<Vec<String>, AdapterError> {
    Ok(imports_to_start(store, scan)
        .await?
        .into_iter()
        .filter(|(_, claimed)| claimed.is_none())
        .map(|(id, _)| id)
        .collect())
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

/// Connected stores whose import should start: with none yet (`None`), or with one claimed
/// and not begun (`Some(started_at)`).
pub async fn imports_to_start(
    store: &dyn KeyStore,
    scan: &dyn TokenScan,
) -> Result<Vec<(String, Option<i64>)>, AdapterError> {
    let mut out = Vec::new();
    let mut start: Option<String> = None;
    loop {
        let page = scan.scan_tokens(start.as_deref(), 200).await?;
        for state in page.stores {
            let Some(record) = store.get(&state.store_id).await? else {
                continue;
            };
            let keyed = record.klaviyo.as_ref().is_some_and(|k| !k.needs_reconnect);
            if !keyed || record.salla.is_none() {
                continue;
            }
            match (&record.history, claimed_not_begun(&record)) {
                (None, _) => out.push((state.store_id, None)),
                (Some(_), Some(at)) => out.push((state.store_id, Some(at))),
                _ => {}
            }
        }
        match page.next {
            Some(next) if start.as_deref() != Some(next.as_str()) => start = Some(next),
            _ => return Ok(out),
        }
    }
}

/// Starts the worker and the watcher on the current runtime.
pub async fn spawn(config: &Config) -> Result<(), AdapterError> {
    let queue = Arc::new(MemoryHistoryQueue::new());
    let deps = Arc::new(Deps::from_config(config, queue.clone()).await?);
    tokio::spawn(watch(deps.clone(), queue.clone()));
    tokio::spawn(work(deps, queue));
    Ok(())
}

async fn watch(deps: Arc<Deps>, queue: Arc<MemoryHistoryQueue>) {
    // Imports already enqueued by this process (their first save comes a little later), by
    // store and claim.
    let mut started = std::collections::HashSet::new();
    loop {
        match imports_to_start(deps.store.as_ref(), deps.scan.as_ref()).await {
            Ok(ids) => {
                for (id, claim) in ids {
                    if started.insert((id.clone(), claim))
                        && queue.enqueue(&Task::import(&id)).await.is_ok()
                    {
                        tracing::info!(event = "history_start", store_id = %id);
                    }
                }
            }
            Err(e) => tracing::warn!(event = "history_watch", outcome = "failed", error = %e),
        }
        tokio::time::sleep(WATCH_EVERY).await;
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
            history: history.then(|| HistoryProgress::started(1)),
            ..StoreRecord::new(id)
        }
    }

    #[tokio::test]
    async fn only_connected_stores_without_an_import_start_one() {
        let store = MemoryKeyStore::with_records([
            record("1001", true, false),
            record("1002", false, false),
            record("1003", true, true),
        ]);
        let ids = connected_without_history(&store, &store).await.unwrap();
        assert_eq!(ids, ["1001"]);
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
        assert!(imports_to_start(&store, &store).await.unwrap().is_empty());
        let start = adapters::history::start::HistoryStart::disabled();
        let now = 1_000;
        assert_eq!(
            start.rerun(&store, "1003", now).await,
            adapters::history::start::Rerun::Claimed
        );
        assert_eq!(
            imports_to_start(&store, &store).await.unwrap(),
            [("1003".to_string(), Some(now))]
        );
        assert!(
            connected_without_history(&store, &store)
                .await
                .unwrap()
                .is_empty()
        );
    }
}
