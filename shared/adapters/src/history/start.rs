//! Where history work starts outside the worker: the first import once a store is connected
//! (whichever of its Salla tokens and its Klaviyo key arrives second), the mark the intake
//! leaves when it could not deliver an event, and the repair that the next good delivery
//! (or the daily sweep) queues for a marked store.
//!
//! Each start is claimed in the store's record first, with the key store's version-checked
//! write, and enqueued only by the writer that claimed it: two functions connecting the same
//! store at once queue one import, and a second message for one import would only resume
//! from the saved cursor anyway. The claims and marks are times and nothing else, and they
//! are written only onto a record that exists and is not a deletion marker
//! ([`keystore::update_live`]): a start racing an uninstall leaves the marker as it is.
//!
//! The pure parts ([`claim_import`], [`mark_miss`], [`claim_repair`]) decide; [`HistoryStart`]
//! and [`record_miss`] write and send.

use std::sync::Arc;

use super::{HistoryProgress, HistoryQueue, HistoryStatus, Task};
use crate::keystore::{self, IfAbsent, KeyStore, StoreRecord};

/// A repair queued this long ago and not done has lost its message (dead-letter queue): the
/// next good delivery or the daily sweep queues it again.
pub const REPAIR_STALE_SECS: i64 = 3600;

/// Whether history can be read and sent: Salla tokens and a Klaviyo key not refused.
pub fn connected(record: &StoreRecord) -> bool {
    record.ttl.is_none()
        && record.salla.is_some()
        && record.klaviyo.as_ref().is_some_and(|k| !k.needs_reconnect)
}

/// Claims the first import: a connected store with no import yet gets a running one at its
/// first cursor. `true` when claimed (the caller then enqueues [`Task::import`]).
pub fn claim_import(record: &mut StoreRecord, now: i64) -> bool {
    if !connected(record) || record.history.is_some() {
        return false;
    }
    record.history = Some(HistoryProgress::started(now));
    true
}

/// Marks a missed event at `at`, unless a miss is already marked. A store not imported yet
/// has nothing to mark: its import, queued when it connected, covers every order. `true`
/// when the record changed.
pub fn mark_miss(record: &mut StoreRecord, at: i64) -> bool {
    match record.history.as_mut() {
        Some(h) if h.first_miss_at.is_none() => {
            h.first_miss_at = Some(at);
            true
        }
        _ => false,
    }
}

/// Whether a repair should be queued now: a miss is marked, or a queued repair went stale.
pub fn repair_due(record: &StoreRecord, now: i64) -> bool {
    let Some(h) = record.history.as_ref() else {
        return false;
    };
    let stale = h.repair_from.is_some()
        && h.repair_queued_at
            .is_none_or(|at| now.saturating_sub(at) >= REPAIR_STALE_SECS);
    connected(record) && (h.first_miss_at.is_some() || stale)
}

/// Claims a repair: the marked miss moves to `repair_from` (the earlier of it and a stale
/// repair's), so a miss during the repair marks again and gets a repair of its own. Returns
/// the time the repair starts from.
pub fn claim_repair(record: &mut StoreRecord, now: i64) -> Option<i64> {
    if !repair_due(record, now) {
        return None;
    }
    let h = record.history.as_mut()?;
    let since = match (h.first_miss_at, h.repair_from) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b)?,
    };
    h.first_miss_at = None;
    h.repair_from = Some(since);
    h.repair_queued_at = Some(now);
    Some(since)
}

/// An import that has not saved for this long has lost its message: a re-run may restart it
/// (the worker's sweep resumes it after the same time).
pub const IMPORT_STALE_SECS: i64 = REPAIR_STALE_SECS;

/// Why a re-run was not started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RerunRefused {
    /// The store is not connected (no Salla tokens, no key, or a key Klaviyo refused): an
    /// import could not read or send anything.
    NotConnected,
    /// An import is running and saved within [`IMPORT_STALE_SECS`]: it goes on by itself.
    Running,
}

/// Whether an import of `record` may be started again now, and why not: the merchant page's
/// rule. The operator's `infra/scripts/history-import.sh` sends the same start message
/// without the claim, which the worker reads by this rule's other half: a running import
/// resumes from its saved cursor, anything else starts over.
pub fn rerun_allowed(record: &StoreRecord, now: i64) -> Result<(), RerunRefused> {
    if !connected(record) {
        return Err(RerunRefused::NotConnected);
    }
    match &record.history {
        Some(h)
            if h.status == HistoryStatus::Running
                && !import_stalled(record, now, IMPORT_STALE_SECS) =>
        {
            Err(RerunRefused::Running)
        }
        _ => Ok(()),
    }
}

/// Claims a re-run: the progress becomes a new import at its first cursor (the worker resumes
/// a running import from its saved cursor, so this one starts over); the gap-repair fields
/// stay, so a pending repair is neither lost nor queued twice.
pub fn claim_rerun(record: &mut StoreRecord, now: i64) -> Result<(), RerunRefused> {
    rerun_allowed(record, now)?;
    let gap = record.history.as_ref().map(|h| h.gap()).unwrap_or_default();
    let mut fresh = HistoryProgress::started(now);
    fresh.set_gap(gap);
    record.history = Some(fresh);
    Ok(())
}

/// What a re-run came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rerun {
    /// Claimed and enqueued.
    Queued,
    /// Claimed with no queue configured: the dev server's watcher picks the new import up.
    Claimed,
    Refused(RerunRefused),
    /// The claim or the send failed (logged): the merchant may try again.
    Failed,
}

/// What a start came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// Nothing to start (or no queue configured).
    NotNeeded,
    /// Claimed and enqueued.
    Queued,
    /// The claim or the send failed: logged; the daily sweep starts it later.
    Failed,
}

/// The queue the starts go to; disabled where no queue is configured (the dev server runs
/// its own watcher).
#[derive(Clone, Default)]
pub struct HistoryStart {
    queue: Option<Arc<dyn HistoryQueue>>,
}

impl HistoryStart {
    pub fn new(queue: Arc<dyn HistoryQueue>) -> Self {
        Self { queue: Some(queue) }
    }

    pub fn disabled() -> Self {
        Self::default()
    }

    /// The SQS queue named by `HISTORY_QUEUE_URL` (its client built on the first send), or
    /// disabled when the variable is unset.
    pub fn from_env() -> Self {
        match std::env::var("HISTORY_QUEUE_URL") {
            Ok(url) if !url.trim().is_empty() => {
                Self::new(Arc::new(super::sqs::LazySqsHistoryQueue::new(url)))
            }
            _ => Self::disabled(),
        }
    }

    pub fn enabled(&self) -> bool {
        self.queue.is_some()
    }

    /// After a write that may have connected the store (`record` as written): queues its
    /// first import if it is connected and has none. No I/O unless it does.
    pub async fn import_if_connected(
        &self,
        store: &dyn KeyStore,
        record: &StoreRecord,
        source: &'static str,
    ) -> Started {
        let Some(queue) = self.queue.as_ref() else {
            return Started::NotNeeded;
        };
        if !connected(record) || record.history.is_some() {
            return Started::NotNeeded;
        }
        let store_id = record.store_id.as_str();
        let now = crate::clock::now_unix();
        let mut claimed = false;
        let written = keystore::update_live(store, store_id, IfAbsent::Skip, |r| {
            claimed = claim_import(r, now)
        })
        .await;
        let started = match written {
            Err(e) => {
                tracing::warn!(event = "history_start", store_id, job = "import", source, outcome = "failed", error = %e);
                return Started::Failed;
            }
            // Gone or uninstalled since the caller's read: nothing was written.
            Ok(Err(_)) => return Started::NotNeeded,
            Ok(Ok(_)) if !claimed => return Started::NotNeeded,
            Ok(Ok(_)) => send(queue.as_ref(), &Task::import(store_id)).await,
        };
        log(store_id, "import", source, started);
        started
    }

    /// The merchant's (or operator's) "import again": claims a new import by the key store's
    /// version-checked write, then enqueues its first message. Refused while an import runs
    /// and still saves.
    pub async fn rerun(&self, store: &dyn KeyStore, store_id: &str, now: i64) -> Rerun {
        let mut claimed = Err(RerunRefused::NotConnected);
        let read = match store.get(store_id).await {
            Ok(read) => read,
            Err(e) => {
                tracing::warn!(event = "history_start", store_id, job = "import", source = "rerun", outcome = "failed", error = %e);
                return Rerun::Failed;
            }
        };
        // Nothing is written for a store that is not there or cannot be imported.
        if let Err(refused) = read
            .as_ref()
            .map_or(Err(RerunRefused::NotConnected), |r| rerun_allowed(r, now))
        {
            return Rerun::Refused(refused);
        }
        let written = keystore::update_live(store, store_id, IfAbsent::Skip, |r| {
            claimed = claim_rerun(r, now)
        })
        .await;
        let outcome = match (written, claimed) {
            (Err(e), _) => {
                tracing::warn!(event = "history_start", store_id, job = "import", source = "rerun", outcome = "failed", error = %e);
                return Rerun::Failed;
            }
            (Ok(Err(_)), _) => Rerun::Refused(RerunRefused::NotConnected),
            (Ok(Ok(_)), Err(refused)) => Rerun::Refused(refused),
            (Ok(Ok(_)), Ok(())) => match self.queue.as_ref() {
                None => Rerun::Claimed,
                Some(queue) => match send(queue.as_ref(), &Task::import(store_id)).await {
                    Started::Queued => Rerun::Queued,
                    _ => Rerun::Failed,
                },
            },
        };
        let name = match outcome {
            Rerun::Queued => "queued",
            Rerun::Claimed => "claimed",
            Rerun::Refused(RerunRefused::Running) => "refused_running",
            Rerun::Refused(RerunRefused::NotConnected) => "refused_not_connected",
            Rerun::Failed => "failed",
        };
        tracing::info!(
            event = "history_start",
            store_id,
            job = "import",
            source = "rerun",
            outcome = name
        );
        outcome
    }

    /// After a good delivery or in the daily sweep (`record` as read): queues the repair of
    /// a marked store. No I/O unless one is due.
    pub async fn repair_if_due(
        &self,
        store: &dyn KeyStore,
        record: &StoreRecord,
        source: &'static str,
    ) -> Started {
        let Some(queue) = self.queue.as_ref() else {
            return Started::NotNeeded;
        };
        let now = crate::clock::now_unix();
        if !repair_due(record, now) {
            return Started::NotNeeded;
        }
        let store_id = record.store_id.as_str();
        let mut since = None;
        let written = keystore::update_live(store, store_id, IfAbsent::Skip, |r| {
            since = claim_repair(r, now)
        })
        .await;
        let started = match (written, since) {
            (Err(e), _) => {
                tracing::warn!(event = "history_start", store_id, job = "repair", source, outcome = "failed", error = %e);
                return Started::Failed;
            }
            (Ok(Ok(_)), Some(since)) => {
                send(queue.as_ref(), &Task::repair(store_id, since, now)).await
            }
            // Nothing due, or gone or uninstalled since the caller's read.
            (Ok(_), _) => return Started::NotNeeded,
        };
        log(store_id, "repair", source, started);
        started
    }
}

async fn send(queue: &dyn HistoryQueue, task: &Task) -> Started {
    match queue.enqueue(task).await {
        Ok(()) => Started::Queued,
        Err(e) => {
            tracing::warn!(event = "history_start", store_id = task.store_id().unwrap_or(""), outcome = "enqueue_failed", error = %e);
            Started::Failed
        }
    }
}

fn log(store_id: &str, job: &'static str, source: &'static str, started: Started) {
    let outcome = match started {
        Started::NotNeeded => "not_needed",
        Started::Queued => "queued",
        Started::Failed => "failed",
    };
    tracing::info!(event = "history_start", store_id, job, source, outcome);
}

/// Marks that an event of the store could not be delivered at `at` (`record` as the caller
/// read it: a store already marked, or never imported, costs no I/O). `true` when marked.
pub async fn record_miss(store: &dyn KeyStore, record: &StoreRecord, at: i64) -> bool {
    let markable = record
        .history
        .as_ref()
        .is_some_and(|h| h.first_miss_at.is_none());
    if !markable {
        return false;
    }
    let store_id = record.store_id.as_str();
    let mut marked = false;
    match keystore::update_live(store, store_id, IfAbsent::Skip, |r| {
        marked = mark_miss(r, at)
    })
    .await
    {
        Ok(written) => {
            let marked = marked && written.is_ok();
            if marked {
                tracing::info!(event = "history_miss", store_id, outcome = "marked");
            }
            marked
        }
        Err(e) => {
            tracing::warn!(event = "history_miss", store_id, outcome = "failed", error = %e);
            false
        }
    }
}

/// Whether an import of the record is running but has not saved for `stale_secs`: its
/// message was lost, and a new import message resumes it from the saved cursor.
pub fn import_stalled(record: &StoreRecord, now: i64, stale_secs: i64) -> bool {
    record.history.as_ref().is_some_and(|h| {
        h.status == HistoryStatus::Running && now.saturating_sub(h.updated_at) >= stale_secs
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;
    use crate::history::memory::MemoryHistoryQueue;
    use crate::keystore::memory::MemoryKeyStore;
    use crate::keystore::{KlaviyoConnection, SallaTokens};

    fn record(key: bool, tokens: bool) -> StoreRecord {
        let mut r = StoreRecord::new("42");
        if key {
            r.klaviyo = Some(KlaviyoConnection {
                private_key: Secret::new("pk_test_0123456789abcdef"),
                account_name: None,
                account_id: None,
                validated_at: 1,
                needs_reconnect: false,
            });
        }
        if tokens {
            r.salla = Some(SallaTokens {
                access_token: Secret::new("at"),
                refresh_token: Secret::new("rt"),
                expires_at: i64::MAX,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            });
        }
        r
    }

    #[test]
    fn an_import_is_claimed_once_and_only_for_a_connected_store() {
        assert!(!claim_import(&mut record(true, false), 5));
        assert!(!claim_import(&mut record(false, true), 5));
        let mut refused = record(true, true);
        refused.klaviyo.as_mut().unwrap().needs_reconnect = true;
        assert!(!claim_import(&mut refused, 5));
        let mut r = record(true, true);
        assert!(claim_import(&mut r, 5));
        assert_eq!(r.history, Some(HistoryProgress::started(5)));
        assert!(!claim_import(&mut r, 6), "a second claim");
    }

    #[test]
    fn only_the_first_miss_is_kept_until_a_repair_takes_it() {
        let mut r = record(true, true);
        assert!(!mark_miss(&mut r, 100), "never imported: nothing to mark");
        claim_import(&mut r, 1);
        assert!(mark_miss(&mut r, 100));
        assert!(!mark_miss(&mut r, 90));
        assert_eq!(r.history.as_ref().unwrap().first_miss_at, Some(100));
        assert!(repair_due(&r, 200));
        assert_eq!(claim_repair(&mut r, 200), Some(100));
        assert!(!repair_due(&r, 201), "queued, not stale");
        assert_eq!(claim_repair(&mut r, 201), None);
        // A miss during the repair is marked again, and its repair starts from the earlier.
        assert!(mark_miss(&mut r, 300));
        assert_eq!(claim_repair(&mut r, 400), Some(100));
        // A queued repair left undone for an hour is queued again.
        assert!(!repair_due(&r, 400 + REPAIR_STALE_SECS - 1));
        assert!(repair_due(&r, 400 + REPAIR_STALE_SECS));
        assert_eq!(claim_repair(&mut r, 400 + REPAIR_STALE_SECS), Some(100));
    }

    #[tokio::test]
    async fn connecting_twice_queues_one_import() {
        let store = MemoryKeyStore::with_records([record(true, true)]);
        let queue = Arc::new(MemoryHistoryQueue::new());
        let start = HistoryStart::new(queue.clone());
        let read = store.get("42").await.unwrap().unwrap();
        assert_eq!(
            start.import_if_connected(&store, &read, "test").await,
            Started::Queued
        );
        // The same stale read again (a second function that connected at the same time).
        assert_eq!(
            start.import_if_connected(&store, &read, "test").await,
            Started::NotNeeded
        );
        assert_eq!(queue.bodies(), vec![Task::import("42").to_body()]);
        let stored = store.get("42").await.unwrap().unwrap();
        assert_eq!(
            stored.history.map(|h| h.status),
            Some(HistoryStatus::Running)
        );
        // Disabled (no queue): nothing written.
        let other = MemoryKeyStore::with_records([record(true, true)]);
        let read = other.get("42").await.unwrap().unwrap();
        assert_eq!(
            HistoryStart::disabled()
                .import_if_connected(&other, &read, "test")
                .await,
            Started::NotNeeded
        );
        assert_eq!(other.get("42").await.unwrap().unwrap().history, None);
    }

    #[test]
    fn a_rerun_waits_for_a_running_import_unless_it_stalled() {
        let now = 10_000;
        let mut r = record(true, true);
        assert_eq!(claim_rerun(&mut r, now), Ok(()), "never imported");
        assert_eq!(claim_rerun(&mut r, now + 1), Err(RerunRefused::Running));
        let stalled = now + IMPORT_STALE_SECS;
        assert_eq!(claim_rerun(&mut r, stalled - 1), Err(RerunRefused::Running));
        {
            let h = r.history.as_mut().unwrap();
            h.status = HistoryStatus::Done;
            h.orders_done = 7;
            h.finished_at = Some(now + 5);
            h.first_miss_at = Some(50);
            h.repair_from = Some(40);
            h.repair_queued_at = Some(60);
        }
        assert_eq!(claim_rerun(&mut r, now + 10), Ok(()), "done");
        let h = r.history.clone().unwrap();
        let mut expected = HistoryProgress::started(now + 10);
        expected.first_miss_at = Some(50);
        expected.repair_from = Some(40);
        expected.repair_queued_at = Some(60);
        assert_eq!(h, expected, "a new import, the gap kept");
        // Running again: refused until it stops saving for IMPORT_STALE_SECS.
        assert_eq!(claim_rerun(&mut r, now + 11), Err(RerunRefused::Running));
        assert_eq!(claim_rerun(&mut r, now + 10 + IMPORT_STALE_SECS), Ok(()));
        let mut stopped = r.clone();
        stopped.history.as_mut().unwrap().status = HistoryStatus::Stopped;
        assert_eq!(claim_rerun(&mut stopped, now + 12), Ok(()));
        let mut refused = record(true, true);
        refused.klaviyo.as_mut().unwrap().needs_reconnect = true;
        assert_eq!(
            claim_rerun(&mut refused, now),
            Err(RerunRefused::NotConnected)
        );
        assert_eq!(
            claim_rerun(&mut record(true, false), now),
            Err(RerunRefused::NotConnected)
        );
    }

    #[tokio::test]
    async fn a_rerun_is_claimed_once_and_queued_as_an_import() {
        let mut done = record(true, true);
        claim_import(&mut done, 1);
        done.history.as_mut().unwrap().status = HistoryStatus::Done;
        let store = MemoryKeyStore::with_records([done]);
        let queue = Arc::new(MemoryHistoryQueue::new());
        let start = HistoryStart::new(queue.clone());
        assert_eq!(start.rerun(&store, "42", 500).await, Rerun::Queued);
        assert_eq!(
            start.rerun(&store, "42", 501).await,
            Rerun::Refused(RerunRefused::Running)
        );
        assert_eq!(queue.bodies(), vec![Task::import("42").to_body()]);
        let h = store.get("42").await.unwrap().unwrap().history.unwrap();
        assert_eq!(h, HistoryProgress::started(500));
        // No record: nothing written, nothing sent.
        assert_eq!(
            start.rerun(&store, "77", 500).await,
            Rerun::Refused(RerunRefused::NotConnected)
        );
        assert!(store.get("77").await.unwrap().is_none());
        assert_eq!(queue.len(), 1);
        // No queue (the dev server): claimed in the record for its watcher to start.
        let other = MemoryKeyStore::with_records([record(true, true)]);
        assert_eq!(
            HistoryStart::disabled().rerun(&other, "42", 9).await,
            Rerun::Claimed
        );
        assert_eq!(
            other.get("42").await.unwrap().unwrap().history,
            Some(HistoryProgress::started(9))
        );
    }

    #[tokio::test]
    async fn a_marked_store_gets_one_repair_from_its_first_miss() {
        let mut r = record(true, true);
        claim_import(&mut r, 1);
        let store = MemoryKeyStore::with_records([r]);
        let read = store.get("42").await.unwrap().unwrap();
        assert!(record_miss(&store, &read, 1_000).await);
        // The caller's read predates the mark: the stored first miss stays.
        assert!(!record_miss(&store, &read, 2_000).await);
        let marked = store.get("42").await.unwrap().unwrap();
        assert!(!record_miss(&store, &marked, 3_000).await, "no I/O needed");
        assert_eq!(marked.history.as_ref().unwrap().first_miss_at, Some(1_000));

        let queue = Arc::new(MemoryHistoryQueue::new());
        let start = HistoryStart::new(queue.clone());
        assert_eq!(
            start.repair_if_due(&store, &marked, "test").await,
            Started::Queued
        );
        assert_eq!(
            start.repair_if_due(&store, &marked, "test").await,
            Started::NotNeeded
        );
        let bodies = queue.bodies();
        assert_eq!(bodies.len(), 1);
        let Ok(Task::Store { job, .. }) = Task::parse(&bodies[0]) else {
            panic!("not a store task");
        };
        assert_eq!(job, super::super::StoreJob::Repair { since: 1_000 });
        let h = store.get("42").await.unwrap().unwrap().history.unwrap();
        assert_eq!((h.first_miss_at, h.repair_from), (None, Some(1_000)));
    }

    /// A claim or mark racing an uninstall (or a store gone since the caller's read) writes
    /// nothing: no empty record for a store we no longer hold, no write onto its marker.
    #[tokio::test]
    async fn starts_and_marks_write_nothing_for_a_store_gone_or_uninstalled() {
        let mut read = record(true, true);
        read.version = 1;
        let queue = Arc::new(MemoryHistoryQueue::new());
        let start = HistoryStart::new(queue.clone());

        let gone = MemoryKeyStore::new();
        assert_eq!(
            start.import_if_connected(&gone, &read, "test").await,
            Started::NotNeeded
        );
        let mut imported = read.clone();
        claim_import(&mut imported, 1);
        imported.history.as_mut().unwrap().first_miss_at = Some(5);
        assert_eq!(
            start.repair_if_due(&gone, &imported, "test").await,
            Started::NotNeeded
        );
        imported.history.as_mut().unwrap().first_miss_at = None;
        assert!(!record_miss(&gone, &imported, 7).await);
        assert!(
            gone.is_empty(),
            "nothing created for a store we do not hold"
        );

        // Uninstalled since the caller's read; the marker still holds a history (a settings
        // event after the uninstall keeps the record a marker) and a key.
        let mut marker = imported.clone();
        marker.mark_uninstalled(100, crate::clock::now_unix());
        marker.klaviyo = read.klaviyo.clone();
        marker.history = imported.history.clone();
        marker.history.as_mut().unwrap().first_miss_at = Some(5);
        let uninstalled = MemoryKeyStore::with_records([marker]);
        let held = uninstalled.get("42").await.unwrap().unwrap();
        assert!(!record_miss(&uninstalled, &imported, 7).await);
        assert_eq!(
            start
                .repair_if_due(&uninstalled, &imported_with_miss(&imported), "test")
                .await,
            Started::NotNeeded
        );
        assert_eq!(
            start.import_if_connected(&uninstalled, &read, "test").await,
            Started::NotNeeded
        );
        assert_eq!(
            start.rerun(&uninstalled, "42", 500).await,
            Rerun::Refused(RerunRefused::NotConnected)
        );
        assert_eq!(uninstalled.get("42").await.unwrap().unwrap(), held);
        assert!(queue.is_empty());
    }

    fn imported_with_miss(imported: &StoreRecord) -> StoreRecord {
        let mut r = imported.clone();
        r.history.as_mut().unwrap().first_miss_at = Some(5);
        r
    }
}
