//! One queue message: parse it, then run the store's job page by page within the budget,
//! save the progress and enqueue the continuation.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::time::{Duration, SystemTime};

use adapters::clock::now_unix;
use adapters::deadline::Deadline;
use adapters::history::start::{self, HistoryStart, Started};
use adapters::history::{Cursor, HistoryProgress, HistoryStatus, Phase, StoreJob, Task};
use adapters::keystore::StoreRecord;
use adapters::klaviyo::Delivery;
use adapters::salla::merchant::{Answer, DateWindow, Pacer, PacerConfig};
use adapters::salla::refresh::TokenRefresh;
use adapters::{AdapterError, Secret, Service};
use mapping::{
    Backfill, BulkLimits, Enrichment, EventPacker, KlaviyoRequest, ProductDetails, ProfileImport,
    ProfilePacker,
};
use serde::Serialize;

use crate::plan::{self, Failure, Start};
use crate::sources::SallaPage;
use crate::{Deps, WorkerError, timed_out};

/// Orders younger than this are swept without `backfill`, so the merchant's flows still run
/// for one the live path missed; Klaviyo drops the ones it already has by `unique_id`, so a
/// flow never runs twice. Older ones would be stale for a flow (an order confirmation a day
/// late) and go with `backfill: true`.
///
/// A repair uses the same cut-off: Klaviyo schedules a metric-triggered flow for an event
/// only while it syncs within a window of the event's own timestamp (help article
/// 360017706091, "How contacts move through a flow"), and past a day a flow's message (an
/// order confirmation, a shipping notice) is stale for the shopper anyway.
pub const SWEEP_LIVE_SECS: i64 = 24 * 3600;
/// A running import not saved for this long has lost its message (each invocation saves
/// within five minutes): the daily sweep resumes it.
pub const IMPORT_STALL_SECS: i64 = 3600;
/// Products whose details one invocation keeps (about 300 bytes each): the live path's
/// lookups for the orders' `Categories` and `Brands`, read once per invocation.
const PRODUCTS_KEPT: usize = 5_000;
/// Stores per page of the daily fan-out's scan.
const SCAN_PAGE: u32 = 200;

/// What one message came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Not a task, no such store, or a leftover of a finished import: deleted, not retried.
    Dropped(&'static str),
    /// Progress saved and the next message enqueued.
    Continued,
    Done,
    /// Stopped with an error code that retrying will not fix.
    Stopped(String),
    /// Another chain of the same import saved first: this one ends.
    Superseded,
    /// A sweep while the store's import runs (the import covers it).
    Skipped,
    /// The daily fan-out enqueued this many sweeps.
    Fanned(u64),
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Dropped(_) => "dropped",
            Outcome::Continued => "continued",
            Outcome::Done => "done",
            Outcome::Stopped(_) => "stopped",
            Outcome::Superseded => "superseded",
            Outcome::Skipped => "skipped",
            Outcome::Fanned(_) => "fanned",
        }
    }
}

/// Counts of one invocation, for the log and the measurements.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    pub pages: u64,
    pub orders: u64,
    pub customers: u64,
    pub products: u64,
    pub salla_calls: u64,
    pub salla_throttled: u64,
    pub klaviyo_requests: u64,
    pub bulk_jobs: u64,
    /// Bulk jobs Klaviyo refused, re-sent as single requests.
    pub bulk_refused: u64,
    pub events: u64,
    /// Objects the mapping could not read, and single requests Klaviyo refused: skipped.
    pub skipped: u64,
    /// Time spent waiting for the pacer, in Salla calls, and in Klaviyo requests.
    pub paced_ms: u64,
    pub salla_ms: u64,
    pub klaviyo_ms: u64,
}

/// An outcome and its counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    #[serde(flatten)]
    pub outcome: Outcome,
    pub stats: RunStats,
}

impl From<Outcome> for Report {
    fn from(outcome: Outcome) -> Self {
        Report {
            outcome,
            stats: RunStats::default(),
        }
    }
}

/// Handles one message body. `Err` only for what a later delivery may fix.
pub async fn handle(deps: &Deps, body: &str, deadline: Deadline) -> Result<Report, WorkerError> {
    let task = match Task::parse(body) {
        Ok(task) => task,
        Err(e) => {
            tracing::warn!(
                event = "history_message",
                outcome = "dropped",
                reason = e.as_str()
            );
            return Ok(Outcome::Dropped(e.as_str()).into());
        }
    };
    let result = match &task {
        Task::SweepAll => fan_out(deps, deadline).await.map(Report::from),
        Task::Store {
            store_id,
            job,
            cursor,
        } => run_store(deps, store_id, *job, *cursor, deadline).await,
    };
    let store_id = task.store_id().unwrap_or("");
    match &result {
        Ok(report) => tracing::info!(
            event = "history_run",
            store_id,
            outcome = report.outcome.name(),
            code = match &report.outcome {
                Outcome::Stopped(code) => code.as_str(),
                Outcome::Dropped(why) => why,
                _ => "",
            },
            pages = report.stats.pages,
            orders = report.stats.orders,
            customers = report.stats.customers,
            products = report.stats.products,
            salla_calls = report.stats.salla_calls,
            salla_throttled = report.stats.salla_throttled,
            klaviyo_requests = report.stats.klaviyo_requests,
            bulk_refused = report.stats.bulk_refused,
            skipped = report.stats.skipped,
            paced_ms = report.stats.paced_ms,
            salla_ms = report.stats.salla_ms,
            klaviyo_ms = report.stats.klaviyo_ms,
        ),
        Err(e) => tracing::warn!(event = "history_run", store_id, outcome = "retry", error = %e),
    }
    result
}

/// The daily schedule's message: one sweep per store holding Salla tokens.
async fn fan_out(deps: &Deps, deadline: Deadline) -> Result<Outcome, WorkerError> {
    let cursor = plan::sweep_start(plan::day_of(now_unix()));
    let mut start: Option<String> = None;
    let mut sent = 0u64;
    loop {
        let page = deadline
            .run(
                Service::DynamoDb,
                deps.scan.scan_tokens(start.as_deref(), SCAN_PAGE),
            )
            .await;
        let page = match page {
            Ok(page) => page,
            // Sweeps already sent are harmless to send again with the redelivery.
            Err(e) => return Err(WorkerError::Transient(e)),
        };
        for state in page.stores {
            if state.refresh_blocked_at.is_some() {
                continue;
            }
            let task = Task::Store {
                store_id: state.store_id,
                job: StoreJob::Sweep,
                cursor,
            };
            deadline
                .run(Service::Sqs, deps.queue.enqueue(&task))
                .await
                .map_err(WorkerError::Transient)?;
            sent += 1;
        }
        match page.next {
            Some(next) if start.as_deref() != Some(next.as_str()) => start = Some(next),
            _ => return Ok(Outcome::Fanned(sent)),
        }
    }
}

/// Why a page ended early.
enum PageEnd {
    OutOfTime,
    Stop(String),
    Transient(AdapterError),
}

impl From<Failure> for PageEnd {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Stop(code) => PageEnd::Stop(code),
            Failure::Transient => PageEnd::Transient(timed_out(Service::Salla)),
        }
    }
}

/// A finished page: how many entries it had, the list's total, whether more follow.
struct PageDone {
    count: u64,
    total: u64,
    has_next: bool,
}

/// How the loop over pages ended.
enum End {
    Finished,
    OutOfTime,
    Stopped(String),
    Transient(AdapterError),
}

async fn run_store(
    deps: &Deps,
    store_id: &str,
    job: StoreJob,
    message: Cursor,
    deadline: Deadline,
) -> Result<Report, WorkerError> {
    let record = deadline
        .run(Service::DynamoDb, deps.store.get(store_id))
        .await
        .map_err(WorkerError::Transient)?;
    let Some(record) = record else {
        return Ok(Outcome::Dropped("no_store").into());
    };
    let now = now_unix();
    let today = plan::day_of(now);
    let read = record.history.clone();
    let (mut cursor, mut progress) = match job {
        StoreJob::Import => match plan::import_start(&message, read.as_ref(), now) {
            Start::Stale => return Ok(Outcome::Dropped("stale").into()),
            Start::At(cursor, progress) => (cursor, Some(*progress)),
        },
        StoreJob::Sweep => {
            let start = HistoryStart::new(deps.queue.clone());
            // A marked store's repair, if nothing queued it (or its message was lost). Its
            // claim is cut off at the deadline like every other call: a claim left without
            // its message is taken again by a later sweep.
            let _ = deadline
                .run(Service::DynamoDb, async {
                    start
                        .repair_if_due(deps.store.as_ref(), &record, "sweep")
                        .await;
                    Ok(())
                })
                .await;
            if read
                .as_ref()
                .is_some_and(|h| h.status == HistoryStatus::Running)
            {
                // An import that stopped saving has lost its message: a start message
                // resumes it from the saved cursor.
                if start::import_stalled(&record, now, IMPORT_STALL_SECS) {
                    enqueue(deps, &Task::import(store_id), deadline).await?;
                    tracing::info!(
                        event = "history_start",
                        store_id,
                        job = "import",
                        source = "sweep_stalled",
                        outcome = "queued"
                    );
                }
                return Ok(Outcome::Skipped.into());
            }
            // A connected store that was never imported gets its whole history, not three
            // days of it: the daily sweep starts any import that connecting did not.
            if read.is_none() && start::connected(&record) {
                let started = deadline
                    .run(Service::DynamoDb, async {
                        Ok(start
                            .import_if_connected(deps.store.as_ref(), &record, "sweep")
                            .await)
                    })
                    .await;
                return match started {
                    Ok(Started::Failed) | Err(_) => {
                        Err(WorkerError::Transient(timed_out(Service::Sqs)))
                    }
                    Ok(_) => Ok(Outcome::Skipped.into()),
                };
            }
            (message, None)
        }
        // A repair runs beside a running import: the import sends its orders with
        // `backfill`, the repair the recent ones without, and Klaviyo keeps the first.
        StoreJob::Repair { .. } => (message, None),
    };

    let key = match &record.klaviyo {
        None => Err("klaviyo_not_connected"),
        Some(k) if k.needs_reconnect => Err("klaviyo_key_revoked"),
        Some(k) => Ok(k.private_key.clone()),
    };
    let token = match key {
        Err(code) => Err(code),
        Ok(_) if record.salla.is_none() => Err("salla_not_connected"),
        Ok(_) => access_token(deps, &record, deadline)
            .await
            .ok_or("salla_token_revoked"),
    };
    let (key, token) = match (key, token) {
        (Ok(key), Ok(token)) => (key, token),
        (Err(code), _) | (_, Err(code)) => {
            let end = End::Stopped(code.to_owned());
            return finish(
                deps,
                store_id,
                job,
                &read,
                progress,
                cursor,
                end,
                RunStats::default(),
                deadline,
            )
            .await;
        }
    };

    let work = deadline.reserving(deps.config.save_reserve);
    let mut run = Run {
        deps,
        store_id,
        key,
        token,
        token_reread: false,
        work,
        pacer: Pacer::new(PacerConfig::default()),
        customers_pacer: Pacer::new(PacerConfig::customers()),
        stats: RunStats::default(),
        job,
        now,
        seen_orders: HashSet::new(),
        seen_categories: HashSet::new(),
        products: HashMap::new(),
        deferred: None,
        in_flight: None,
        points: match (job, record.loyalty.as_ref()) {
            (StoreJob::Import, Some(rules)) if rules.enabled => {
                Some((rules.clone(), adapters::points::ladder(&record)))
            }
            _ => None,
        },
    };
    // A page cut short by the budget is read again by the next invocation, so a page starts
    // only when the last one's time (plus a fifth) is still left.
    let mut last_page = Duration::ZERO;
    let end = loop {
        if !work.allows(deps.config.page_min.max(last_page + last_page / 5)) {
            break End::OutOfTime;
        }
        let page_started = tokio::time::Instant::now();
        let page = match cursor.phase {
            Phase::Products => run.products(&cursor).await,
            Phase::Customers => run.customers(&cursor).await,
            Phase::OrdersRecent | Phase::OrdersOlder => run.orders(&cursor).await,
        };
        // The page before's last bulk job was in flight while this page was read: it lands
        // before this page's goes, so at most one page is unconfirmed at any time.
        if let Err(failed) = settle(&mut run, &mut progress, &mut cursor).await {
            break failed;
        }
        match page {
            Ok(done) => {
                last_page = page_started.elapsed();
                run.stats.pages += 1;
                let next = plan::after_page(job, &cursor, done.has_next, today);
                match run.deferred.take() {
                    Some(request) => run.launch(request, cursor, done),
                    None => {
                        if let Some(p) = progress.as_mut() {
                            count(p, &cursor, &done);
                        }
                    }
                }
                match next {
                    Some(next) => cursor = next,
                    None => break End::Finished,
                }
            }
            Err(PageEnd::OutOfTime) => break End::OutOfTime,
            Err(PageEnd::Stop(code)) => break End::Stopped(code),
            Err(PageEnd::Transient(e)) => break End::Transient(e),
        }
    };
    let end = match settle(&mut run, &mut progress, &mut cursor).await {
        Ok(()) => end,
        Err(failed) => failed,
    };
    let stats = run.stats;
    finish(
        deps, store_id, job, &read, progress, cursor, end, stats, deadline,
    )
    .await
}

/// Waits for the bulk job in flight, if any: its page then counts as done. If it failed,
/// the run ends with the failure and `cursor` goes back to that page, so nothing after an
/// unconfirmed page is saved as done.
async fn settle(
    run: &mut Run<'_>,
    progress: &mut Option<HistoryProgress>,
    cursor: &mut Cursor,
) -> Result<(), End> {
    let Some(mut flight) = run.in_flight.take() else {
        return Ok(());
    };
    let landed = run.land(&mut flight).await;
    match landed {
        Ok(()) => {
            if let Some(p) = progress.as_mut() {
                count(p, &flight.cursor, &flight.done);
            }
            Ok(())
        }
        Err(end) => {
            *cursor = flight.cursor;
            Err(match end {
                PageEnd::OutOfTime => End::OutOfTime,
                PageEnd::Stop(code) => End::Stopped(code),
                PageEnd::Transient(e) => End::Transient(e),
            })
        }
    }
}

fn count(p: &mut HistoryProgress, cursor: &Cursor, done: &PageDone) {
    match cursor.phase {
        Phase::Products => {
            p.phase = Phase::Products;
            p.products_done = p.products_done.saturating_add(done.count);
        }
        Phase::Customers => {
            p.phase = Phase::Customers;
            p.customers_done = p.customers_done.saturating_add(done.count);
            p.customers_total = done.total.max(p.customers_done);
        }
        Phase::OrdersRecent | Phase::OrdersOlder => {
            plan::count_orders(p, cursor, done.count, done.total)
        }
    }
}

/// Saves the import's progress for how the run ended and sends the continuation.
#[allow(clippy::too_many_arguments)]
async fn finish(
    deps: &Deps,
    store_id: &str,
    job: StoreJob,
    read: &Option<HistoryProgress>,
    progress: Option<HistoryProgress>,
    cursor: Cursor,
    end: End,
    stats: RunStats,
    deadline: Deadline,
) -> Result<Report, WorkerError> {
    let now = now_unix();
    let report = |outcome| Ok(Report { outcome, stats });
    let Some(mut progress) = progress else {
        // A sweep or a repair keeps no progress: its message is its cursor.
        return match end {
            End::Finished => {
                if let StoreJob::Repair { since } = job {
                    repaired(deps, store_id, since, deadline).await?;
                }
                map_metrics(deps, store_id, deadline).await;
                if job == StoreJob::Sweep {
                    crate::points::expire_logged(deps, store_id, deadline).await;
                }
                report(Outcome::Done)
            }
            End::Stopped(code) => report(Outcome::Stopped(code)),
            End::Transient(e) => Err(WorkerError::Transient(e)),
            End::OutOfTime => {
                let task = Task::Store {
                    store_id: store_id.to_owned(),
                    job,
                    cursor,
                };
                enqueue(deps, &task, deadline).await?;
                report(Outcome::Continued)
            }
        };
    };
    progress.updated_at = now;
    let (outcome, continue_from, error) = match end {
        End::Finished => {
            progress.status = HistoryStatus::Done;
            progress.finished_at = Some(now);
            progress.cursor = None;
            progress.last_error = None;
            (Outcome::Done, None, None)
        }
        End::Stopped(code) => {
            let code = adapters::history::error_code(&code);
            progress.status = HistoryStatus::Stopped;
            progress.finished_at = Some(now);
            progress.cursor = Some(cursor);
            progress.last_error = Some(code.clone());
            (Outcome::Stopped(code), None, None)
        }
        End::OutOfTime => {
            progress.cursor = Some(cursor);
            (Outcome::Continued, Some(cursor), None)
        }
        End::Transient(e) => {
            progress.cursor = Some(cursor);
            (Outcome::Continued, None, Some(e))
        }
    };
    if error.is_some() && stats.pages == 0 {
        // Nothing new to save: the redelivery starts where this one did.
        return Err(WorkerError::Transient(
            error.unwrap_or_else(|| timed_out(Service::Salla)),
        ));
    }
    let saved = save(deps, store_id, read, &progress, deadline)
        .await
        .map_err(WorkerError::Transient)?;
    if !saved {
        return report(Outcome::Superseded);
    }
    if let Some(e) = error {
        // Saved; the redelivery resumes from the saved cursor.
        return Err(WorkerError::Transient(e));
    }
    if let Some(cursor) = continue_from {
        let task = Task::Store {
            store_id: store_id.to_owned(),
            job,
            cursor,
        };
        enqueue(deps, &task, deadline).await?;
    }
    if outcome == Outcome::Done {
        map_metrics(deps, store_id, deadline).await;
    }
    report(outcome)
}

/// Klaviyo's metric mapping once a run has sent the store's events: a metric exists only
/// after its first event, so a merchant who never opens the page still gets revenue, CLV
/// and the Cancelled/Refunded netting after the import, and the daily sweep sets what was
/// still pending. Never overwrites another integration's mapping
/// ([`adapters::klaviyo::mapped_metrics`]); best effort and logged.
async fn map_metrics(deps: &Deps, store_id: &str, deadline: Deadline) {
    let read = deadline
        .run(Service::DynamoDb, deps.store.get(store_id))
        .await;
    let Ok(Some(record)) = read else {
        return;
    };
    let Some(k) = record.klaviyo.filter(|k| !k.needs_reconnect) else {
        return;
    };
    match adapters::klaviyo::mapped_metrics::ensure(
        deps.klaviyo.as_ref(),
        &k.private_key,
        deadline.instant(),
    )
    .await
    {
        Ok(report) => tracing::info!(
            event = "metric_mapping",
            store_id,
            others = report.others().count(),
            pending = report.pending().count(),
            outcome = "checked"
        ),
        Err(e) => tracing::warn!(event = "metric_mapping", store_id, error = %e),
    }
}

/// A repair done: its mark is cleared, unless a later repair took it over from an earlier
/// miss (then that one clears it). Nothing is written for a store gone or uninstalled
/// meanwhile: its marker holds no history to clear.
pub(crate) async fn repaired(
    deps: &Deps,
    store_id: &str,
    since: i64,
    deadline: Deadline,
) -> Result<(), WorkerError> {
    use adapters::keystore::{IfAbsent, update_live};
    let cleared = deadline
        .run(
            Service::DynamoDb,
            update_live(deps.store.as_ref(), store_id, IfAbsent::Skip, |r| {
                if let Some(h) = r.history.as_mut()
                    && h.repair_from == Some(since)
                {
                    h.repair_from = None;
                    h.repair_queued_at = None;
                }
            }),
        )
        .await
        .map_err(WorkerError::Transient)?;
    let outcome = match cleared {
        Ok(written)
            if written
                .history
                .as_ref()
                .is_some_and(|h| h.repair_from.is_none()) =>
        {
            "cleared"
        }
        Ok(_) => "kept",
        Err(_) => "store_gone",
    };
    tracing::info!(event = "history_repaired", store_id, outcome);
    Ok(())
}

async fn enqueue(deps: &Deps, task: &Task, deadline: Deadline) -> Result<(), WorkerError> {
    deadline
        .run(Service::Sqs, deps.queue.enqueue(task))
        .await
        .map_err(WorkerError::Transient)
}

/// Writes `progress` if the stored progress is still `read` (what this invocation started
/// from). `false` when another chain of the import saved first, or the store is gone or
/// uninstalled: this chain ends.
async fn save(
    deps: &Deps,
    store_id: &str,
    read: &Option<HistoryProgress>,
    progress: &HistoryProgress,
    deadline: Deadline,
) -> Result<bool, AdapterError> {
    let mut last = None;
    for _ in 0..5 {
        let record = deadline
            .run(Service::DynamoDb, deps.store.get(store_id))
            .await?;
        let Some(mut record) = record else {
            return Ok(false);
        };
        // The gap fields change beside an import (a miss marked, a repair queued): they are
        // not the import's to compare or to overwrite.
        let same = match (&record.history, read) {
            (Some(stored), Some(read)) => stored.same_import(read),
            (stored, read) => stored == read,
        };
        if record.ttl.is_some() || !same {
            return Ok(false);
        }
        let mut progress = progress.clone();
        if let Some(stored) = &record.history {
            progress.set_gap(stored.gap());
        }
        record.history = Some(progress);
        match deadline
            .run(Service::DynamoDb, deps.store.put(&record))
            .await
        {
            Ok(_) => return Ok(true),
            Err(e @ AdapterError::Conflict { .. }) => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(AdapterError::Conflict {
        store_id: store_id.to_owned(),
    }))
}

/// A usable access token: refreshed first when close to expiry (under the per-store lease),
/// else the stored one while it lives.
async fn access_token(deps: &Deps, record: &StoreRecord, deadline: Deadline) -> Option<Secret> {
    TokenRefresh {
        store: deps.store.as_ref(),
        refresher: deps.refresher.as_ref(),
        locks: &deps.locks,
    }
    .access_token(record, now_unix(), deadline)
    .await
}

/// One invocation's working state.
struct Run<'a> {
    deps: &'a Deps,
    store_id: &'a str,
    key: Secret,
    token: Secret,
    /// Whether the record was read again after Salla refused the token.
    token_reread: bool,
    work: Deadline,
    /// Salla's per-store budget, shared by every endpoint.
    pacer: Pacer,
    /// The customers endpoint's own cap.
    customers_pacer: Pacer,
    stats: RunStats,
    job: StoreJob,
    now: i64,
    /// Orders already sent by this invocation (a list page may repeat one of the page before).
    seen_orders: HashSet<u64>,
    /// Catalog categories already sent by this invocation (products share them).
    seen_categories: HashSet<String>,
    /// Product id → its details as the live path reads them (`None`: Salla has no such
    /// product), at most [`PRODUCTS_KEPT`].
    products: HashMap<String, Option<ProductDetails>>,
    /// An orders page's last bulk job, left by the page for the loop to launch.
    deferred: Option<KlaviyoRequest>,
    /// The bulk job sent while the next page is read from Salla.
    in_flight: Option<InFlight>,
    /// The store's loyalty points rules and tier ladder, when an import should send each
    /// customer's points history (their rules are on).
    points: Option<(mapping::points::PointsRules, mapping::crm::Ladder)>,
}

/// The Salla reads of a customer's points, paced with the rest of the run (one page at a
/// time: the pacer is the run's own).
struct PacedPoints<'r> {
    salla: std::sync::Arc<dyn crate::sources::SallaSource>,
    pacer: tokio::sync::Mutex<&'r mut Pacer>,
    work: Deadline,
}

#[async_trait::async_trait]
impl adapters::points::PointsSource for PacedPoints<'_> {
    async fn get_page(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<String>, AdapterError> {
        let mut pacer = self.pacer.lock().await;
        let wait = pacer.wait(SystemTime::now());
        if !self.work.allows(wait) {
            return Err(timed_out(Service::Salla));
        }
        tokio::time::sleep(wait).await;
        let sent_at = SystemTime::now();
        let answer = self
            .work
            .run(Service::Salla, async {
                Ok(self.salla.raw_page(token, path, query).await)
            })
            .await?;
        let at = if answer.rate.rate_limited() {
            SystemTime::now()
        } else {
            sent_at
        };
        pacer.observe(&answer.rate, at);
        answer.result
    }
}

/// A Salla customer object's id.
fn customer_id(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<serde_json::Value>(body)
        .ok()?
        .get("id")?
    {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// A bulk job on its way, with the page it completes.
struct InFlight {
    /// Taken when the answer is handled.
    request: Option<KlaviyoRequest>,
    cursor: Cursor,
    done: PageDone,
    task: tokio::task::JoinHandle<(Result<Delivery, AdapterError>, Duration)>,
}

/// An invocation that ends (or is killed) takes its request with it, as on Lambda.
impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Run<'_> {
    /// One paced Salla call, retried after a 429 (once its `Retry-After` has passed), a 5xx
    /// or a network failure, and once with the stored token after a 401 (tokens replaced by
    /// a reinstall or a refresh elsewhere).
    async fn salla<T, F, Fut>(&mut self, customers: bool, call: F) -> Result<T, PageEnd>
    where
        F: Fn(Secret) -> Fut,
        Fut: Future<Output = Answer<T>>,
    {
        let config = self.deps.config;
        let mut failures = 0u32;
        let mut throttled = 0u32;
        loop {
            let now = SystemTime::now();
            let mut wait = self.pacer.wait(now);
            if customers {
                wait = wait.max(self.customers_pacer.wait(now));
            }
            if !self.work.allows(wait) {
                return Err(PageEnd::OutOfTime);
            }
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
                self.stats.paced_ms += wait.as_millis() as u64;
            }
            let started = tokio::time::Instant::now();
            let sent_at = SystemTime::now();
            let sent = self
                .work
                .run(Service::Salla, async { Ok(call(self.token.clone()).await) })
                .await;
            let Ok(answer) = sent else {
                return Err(PageEnd::OutOfTime);
            };
            self.stats.salla_calls += 1;
            self.stats.salla_ms += started.elapsed().as_millis() as u64;
            // The spacing runs from when a call was sent, so the call's own latency does not
            // add to it (Salla counts a call when it arrives). A 429's `Retry-After` runs from
            // its answer.
            let at = if answer.rate.rate_limited() {
                SystemTime::now()
            } else {
                sent_at
            };
            self.pacer.observe(&answer.rate, at);
            if customers {
                self.customers_pacer.observe(&answer.rate, at);
            }
            let error = match answer.result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            if answer.rate.rate_limited() {
                self.stats.salla_throttled += 1;
                throttled += 1;
                if throttled <= config.max_throttled {
                    continue;
                }
            } else if matches!(error, AdapterError::Unauthorized { code: None, .. })
                && !self.token_reread
            {
                self.token_reread = true;
                if self.reread_token().await {
                    continue;
                }
            } else if plan::salla_retryable(&error) && failures < config.retries {
                let backoff = config.retry_backoff.saturating_mul(1 << failures.min(8));
                failures += 1;
                if !self.work.allows(backoff) {
                    return Err(PageEnd::OutOfTime);
                }
                tokio::time::sleep(backoff).await;
                continue;
            }
            if self.work.has_passed() {
                return Err(PageEnd::OutOfTime);
            }
            return Err(match plan::salla_failure(&error) {
                Failure::Stop(code) => PageEnd::Stop(code),
                Failure::Transient => PageEnd::Transient(error),
            });
        }
    }

    /// Reads the store's tokens again; `true` when they changed (a new token to try).
    async fn reread_token(&mut self) -> bool {
        let record = self
            .work
            .run(Service::DynamoDb, self.deps.store.get(self.store_id))
            .await;
        let Ok(Some(record)) = record else {
            return false;
        };
        let Some(fresh) = access_token(self.deps, &record, self.work).await else {
            return false;
        };
        if fresh == self.token {
            return false;
        }
        self.token = fresh;
        true
    }

    async fn products(&mut self, cursor: &Cursor) -> Result<PageDone, PageEnd> {
        let salla = self.deps.salla.clone();
        let page: SallaPage<_> = self
            .salla(false, |t| {
                let salla = salla.clone();
                async move { salla.products(&t, cursor.page).await }
            })
            .await?;
        // The live path's requests for a product, in the order they depend on each other: its
        // categories (once per invocation), the item linking them, then its variants.
        for item in &page.items {
            match mapping::history_catalog(item.body.as_bytes(), self.store_id) {
                Ok(requests) => {
                    for request in requests {
                        if let KlaviyoRequest::UpsertCatalogCategory(c) = &request
                            && !self.seen_categories.insert(c.external_id.clone())
                        {
                            continue;
                        }
                        self.send(request).await?;
                    }
                }
                Err(_) => self.stats.skipped += 1,
            }
        }
        self.stats.products += page.items.len() as u64;
        Ok(PageDone {
            count: page.items.len() as u64,
            total: page.total,
            has_next: page.has_next,
        })
    }

    async fn customers(&mut self, cursor: &Cursor) -> Result<PageDone, PageEnd> {
        let salla = self.deps.salla.clone();
        let page: SallaPage<_> = self
            .salla(true, |t| {
                let salla = salla.clone();
                async move { salla.customers(&t, cursor.page).await }
            })
            .await?;
        let mut packer = ProfilePacker::new(BulkLimits::PROFILES);
        for item in &page.items {
            match mapping::history_customer(item.body.as_bytes(), self.store_id) {
                Ok(profile) => packer.push(profile),
                Err(_) => self.stats.skipped += 1,
            }
        }
        let mut events = EventPacker::new(BulkLimits::EVENTS);
        if let Some((rules, ladder)) = self.points.clone() {
            for item in &page.items {
                let body = item.body.as_bytes();
                self.customer_points(body, &rules, &ladder, &mut events, &mut packer)
                    .await?;
            }
        }
        // Profiles first: the points events name the profiles the jobs before created.
        for request in packer.finish().into_iter().chain(events.finish()) {
            self.send(request).await?;
        }
        self.stats.customers += page.items.len() as u64;
        Ok(PageDone {
            count: page.items.len() as u64,
            total: page.total,
            has_next: page.has_next,
        })
    }

    /// One customer's points history (`mapping::points` over their orders and reviews, read
    /// from Salla through the run's pacer), as backfill events and the balance property, into
    /// the page's bulk jobs. A customer Salla will not list is skipped; the live path sets
    /// their balance at their next points event.
    async fn customer_points(
        &mut self,
        body: &[u8],
        rules: &mapping::points::PointsRules,
        ladder: &mapping::crm::Ladder,
        events: &mut EventPacker,
        profiles: &mut ProfilePacker,
    ) -> Result<(), PageEnd> {
        // A customer's reads: an orders page or two and a reviews page.
        if !self.work.allows(Duration::from_secs(2)) {
            return Err(PageEnd::OutOfTime);
        }
        let (Some(customer_id), Ok(profile)) = (
            customer_id(body),
            mapping::points::customer_profile(self.store_id, body),
        ) else {
            self.stats.skipped += 1;
            return Ok(());
        };
        let source = PacedPoints {
            salla: self.deps.salla.clone(),
            pacer: tokio::sync::Mutex::new(&mut self.pacer),
            work: self.work,
        };
        let read = adapters::points::read_customer(&source, &self.token, &customer_id).await;
        drop(source);
        let facts = match read {
            Ok(facts) => facts,
            Err(e) if e.is_transient() => return Err(PageEnd::Transient(e)),
            Err(_) => {
                self.stats.skipped += 1;
                return Ok(());
            }
        };
        self.stats.salla_calls += u64::from(facts.salla_calls);
        let evaluation = mapping::points::evaluate(
            self.store_id,
            &profile,
            &facts.orders,
            &facts.reviews,
            rules,
            ladder,
            self.now,
            &mapping::points::Trigger::Import(Backfill::Yes),
        );
        for request in evaluation.requests {
            match request {
                KlaviyoRequest::CreateEvent(event) => events.push(event),
                KlaviyoRequest::ImportProfile(import) => profiles.push(import.profile),
                other => self.send(other).await?,
            }
        }
        Ok(())
    }

    async fn orders(&mut self, cursor: &Cursor) -> Result<PageDone, PageEnd> {
        let Some((from, to)) = cursor.window() else {
            return Err(PageEnd::Stop("bad_cursor".into()));
        };
        let window = DateWindow { from, to };
        let per_page = self.deps.config.per_page;
        let salla = self.deps.salla.clone();
        let page: SallaPage<_> = self
            .salla(false, |t| {
                let salla = salla.clone();
                async move { salla.orders(&t, window, cursor.page, per_page).await }
            })
            .await?;
        let mut packer = EventPacker::new(BulkLimits::EVENTS);
        // A repair's lookback is for status changes only (see `plan::REPAIR_LOOKBACK_DAYS`).
        let lookback =
            matches!(self.job, StoreJob::Repair { .. }) && cursor.phase == Phase::OrdersOlder;
        for listed in &page.items {
            if lookback && !plan::lookback_reads(listed.status.as_deref()) {
                continue;
            }
            if !self.seen_orders.insert(listed.id) {
                continue;
            }
            let id = listed.id;
            let detail = self
                .salla(false, |t| {
                    let salla = salla.clone();
                    async move { salla.order(&t, id).await }
                })
                .await?;
            let Some(detail) = detail else {
                continue;
            };
            let enrichment = self.enrichment(detail.as_bytes()).await?;
            let backfill = self.backfill(listed.date);
            match mapping::history_order(detail.as_bytes(), self.store_id, &enrichment, backfill) {
                Ok(events) => {
                    self.stats.events += events.len() as u64;
                    events.into_iter().for_each(|e| packer.push(e));
                }
                Err(_) => self.stats.skipped += 1,
            }
            for request in packer.take_ready() {
                self.send(request).await?;
            }
        }
        let mut last = packer.finish();
        // The page's last job flies while the next page is read (see `Run::launch`).
        if matches!(last.last(), Some(KlaviyoRequest::BulkCreateEvents(_))) {
            self.deferred = last.pop();
        }
        for request in last {
            self.send(request).await?;
        }
        self.stats.orders += page.items.len() as u64;
        Ok(PageDone {
            count: page.items.len() as u64,
            total: page.total,
            has_next: page.has_next,
        })
    }

    /// The live path's enrichment of an order (its products' details, for `Categories` and
    /// `Brands`): the same lookups (`GET /products/{id}`), each product read once per
    /// invocation. A lookup that fails goes without, as live, and is tried again by the next
    /// order naming the product.
    async fn enrichment(&mut self, detail: &[u8]) -> Result<Enrichment, PageEnd> {
        let ids = mapping::history_products_to_enrich(detail, self.store_id).unwrap_or_default();
        let mut enrichment = Enrichment::default();
        for id in ids {
            let known = match self.products.get(&id) {
                Some(known) => known.clone(),
                None => {
                    let Ok(number) = id.parse::<u64>() else {
                        continue;
                    };
                    let salla = self.deps.salla.clone();
                    let read = self
                        .salla(false, |t| {
                            let salla = salla.clone();
                            async move { salla.product(&t, number).await }
                        })
                        .await;
                    match read {
                        Ok(found) => {
                            if self.products.len() < PRODUCTS_KEPT {
                                self.products.insert(id.clone(), found.clone());
                            }
                            found
                        }
                        Err(PageEnd::OutOfTime) => return Err(PageEnd::OutOfTime),
                        Err(_) => None,
                    }
                }
            };
            if let Some(details) = known {
                enrichment.products.insert(id, details);
            }
        }
        Ok(enrichment)
    }

    /// An import's events never fire a flow; a sweep's recent ones do (see
    /// [`SWEEP_LIVE_SECS`]). The list's store-local time is read as UTC: Salla's stores are
    /// at most a few hours ahead, which only moves the cut-off by as much.
    fn backfill(&self, date: Option<time::PrimitiveDateTime>) -> Backfill {
        if self.job == StoreJob::Import {
            return Backfill::Yes;
        }
        let at = date.map(|d| d.assume_utc().unix_timestamp());
        match at {
            Some(at) if self.now.saturating_sub(at) < SWEEP_LIVE_SECS => Backfill::No,
            _ => Backfill::Yes,
        }
    }

    /// Sends one request; a bulk job Klaviyo refuses is sent again as single requests.
    async fn send(&mut self, request: KlaviyoRequest) -> Result<(), PageEnd> {
        if matches!(
            request,
            KlaviyoRequest::BulkCreateEvents(_) | KlaviyoRequest::BulkImportProfiles(_)
        ) {
            self.stats.bulk_jobs += 1;
        }
        let status = self.call(&request).await?;
        self.answered(request, status).await
    }

    /// Sends `request` (a page's last bulk job) without waiting for it: Salla's pacing, not
    /// Klaviyo's answer time, then bounds the import. [`settle`] waits for it.
    fn launch(&mut self, request: KlaviyoRequest, cursor: Cursor, done: PageDone) {
        self.stats.bulk_jobs += 1;
        self.stats.klaviyo_requests += 1;
        let klaviyo = self.deps.klaviyo.clone();
        let key = self.key.clone();
        let (method, path, body) = (request.method(), request.path(), request.body());
        let until = self.work.instant();
        let task = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let delivery = klaviyo
                .call(&key, method, &path, body.as_ref(), until)
                .await;
            (delivery, started.elapsed())
        });
        self.in_flight = Some(InFlight {
            request: Some(request),
            cursor,
            done,
            task,
        });
    }

    /// Waits for a launched job's answer and handles it as [`Run::send`] does.
    async fn land(&mut self, flight: &mut InFlight) -> Result<(), PageEnd> {
        let (delivery, took) = match (&mut flight.task).await {
            Ok(answer) => answer,
            Err(_) => return Err(PageEnd::Transient(timed_out(Service::Klaviyo))),
        };
        self.stats.klaviyo_ms += took.as_millis() as u64;
        let status = match delivery {
            Ok(d) if matches!(d.status, 401 | 403) => {
                return Err(PageEnd::Stop("klaviyo_key_revoked".into()));
            }
            Ok(d) => d.status,
            Err(_) if self.work.has_passed() => return Err(PageEnd::OutOfTime),
            Err(e) => return Err(PageEnd::Transient(e)),
        };
        match flight.request.take() {
            Some(request) => self.answered(request, status).await,
            None => Ok(()),
        }
    }

    /// A request's answer: a bulk job Klaviyo refused is sent again as single requests.
    async fn answered(&mut self, request: KlaviyoRequest, status: u16) -> Result<(), PageEnd> {
        if (200..300).contains(&status) {
            return Ok(());
        }
        match request {
            KlaviyoRequest::BulkCreateEvents(job) => {
                self.bulk_refused(status, "event-bulk-create-job");
                for event in job.into_events() {
                    self.send_single(KlaviyoRequest::CreateEvent(event)).await?;
                }
                Ok(())
            }
            KlaviyoRequest::BulkImportProfiles(job) => {
                self.bulk_refused(status, "profile-bulk-import-job");
                for profile in job.into_profiles() {
                    self.send_single(KlaviyoRequest::ImportProfile(ProfileImport { profile }))
                        .await?;
                }
                Ok(())
            }
            single => self.retry_single(&single, status).await,
        }
    }

    fn bulk_refused(&mut self, status: u16, kind: &'static str) {
        self.stats.bulk_refused += 1;
        tracing::warn!(
            event = "history_bulk_refused",
            store_id = self.store_id,
            kind,
            status
        );
    }

    async fn send_single(&mut self, request: KlaviyoRequest) -> Result<(), PageEnd> {
        let status = self.call(&request).await?;
        if (200..300).contains(&status) {
            return Ok(());
        }
        self.retry_single(&request, status).await
    }

    /// A refused single request: the route's fallback (catalog create → update), or the
    /// request without its phone number (Klaviyo refuses some numbers), else skipped.
    async fn retry_single(&mut self, request: &KlaviyoRequest, status: u16) -> Result<(), PageEnd> {
        let retried = if let Some((method, path, body)) = request.fallback(status) {
            Some(self.call_raw(method, &path, Some(&body)).await?)
        } else if matches!(status, 400 | 409) {
            match request.without_phone() {
                Some(stripped) => Some(self.call(&stripped).await?),
                None => None,
            }
        } else {
            None
        };
        if !retried.is_some_and(|s| (200..300).contains(&s)) {
            self.stats.skipped += 1;
            tracing::warn!(event = "history_request_refused", store_id = self.store_id, request = %request.label(), status);
        }
        Ok(())
    }

    async fn call(&mut self, request: &KlaviyoRequest) -> Result<u16, PageEnd> {
        let body = request.body();
        self.call_raw(request.method(), &request.path(), body.as_ref())
            .await
    }

    /// One Klaviyo request (429s and 5xx retried inside, until the budget ends). A revoked
    /// key stops the import.
    async fn call_raw(
        &mut self,
        method: &'static str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<u16, PageEnd> {
        self.stats.klaviyo_requests += 1;
        let started = tokio::time::Instant::now();
        let delivery = self
            .deps
            .klaviyo
            .call(&self.key, method, path, body, self.work.instant())
            .await;
        self.stats.klaviyo_ms += started.elapsed().as_millis() as u64;
        match delivery {
            Ok(d) if matches!(d.status, 401 | 403) => {
                Err(PageEnd::Stop("klaviyo_key_revoked".into()))
            }
            Ok(d) => Ok(d.status),
            Err(_) if self.work.has_passed() => Err(PageEnd::OutOfTime),
            Err(e) => Err(PageEnd::Transient(e)),
        }
    }
}
