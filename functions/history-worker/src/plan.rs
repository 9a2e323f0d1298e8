//! The import's pure decisions: the phases' windows, where a cursor goes after a page, how a
//! message and the saved progress decide where to start, and which errors stop an import.

use adapters::history::{Cursor, HistoryProgress, HistoryStatus, Phase, StoreJob};
use adapters::{AdapterError, Service};
use time::{Date, Duration, Month};

/// Days of orders the first orders phase covers: what flows, CLV and predictions need first.
pub const RECENT_DAYS: i64 = 90;
/// Days a sweep re-reads: three store-local days cover the previous 48 hours wherever the
/// store's day boundary falls.
pub const SWEEP_DAYS: i64 = 3;
/// Days before a repair's window it also reads, for status changes of older orders: Salla's
/// order list selects by creation date only (`from_date`/`to_date`; no update-time filter is
/// documented), so an order placed before the outage whose status changed during it lies
/// outside the window. Two weeks covers the usual path from placed to delivered or returned;
/// a change to an order older than that is left to its live webhook.
pub const REPAIR_LOOKBACK_DAYS: i64 = 14;
/// Statuses an order is created in. An order the lookback lists in one of them has not moved
/// since it was placed (its Placed Order predates the outage), so its detail is not read.
pub const CREATION_STATUSES: &[&str] = &["under_review", "payment_pending"];
/// Orders before this day are not read (Salla opened to merchants later).
pub const OLDEST_DAY: Date = match Date::from_calendar_date(2015, Month::January, 1) {
    Ok(d) => d,
    Err(_) => Date::MIN,
};

/// The UTC day of `now` (unix seconds).
pub fn day_of(now: i64) -> Date {
    time::OffsetDateTime::from_unix_timestamp(now)
        .map(|t| t.date())
        .unwrap_or(OLDEST_DAY)
}

/// The recent orders window at `today` (UTC): it ends a day later so a store ahead of UTC
/// (Salla's stores are mostly UTC+3) still has its today inside.
pub fn recent_window(today: Date) -> (Date, Date) {
    let to = today.saturating_add(Duration::days(1));
    let from = today.saturating_sub(Duration::days(RECENT_DAYS - 1));
    (from, to)
}

/// The window of a sweep started `today`.
pub fn sweep_window(today: Date) -> (Date, Date) {
    let to = today.saturating_add(Duration::days(1));
    (today.saturating_sub(Duration::days(SWEEP_DAYS - 1)), to)
}

/// The first cursor of a sweep started `today`.
pub fn sweep_start(today: Date) -> Cursor {
    Cursor::phase_start(Phase::OrdersRecent, Some(sweep_window(today)))
}

/// Where `job` goes once `cursor`'s phase has no page left; `None` when the job is done.
pub fn next_phase(job: StoreJob, cursor: &Cursor, today: Date) -> Option<Cursor> {
    match (job, cursor.phase) {
        (StoreJob::Repair { .. }, Phase::OrdersRecent) => {
            let to = cursor.from?.previous_day()?;
            let from = to.saturating_sub(Duration::days(REPAIR_LOOKBACK_DAYS - 1));
            Some(Cursor::phase_start(Phase::OrdersOlder, Some((from, to))))
        }
        (StoreJob::Sweep | StoreJob::Repair { .. }, _) => None,
        (StoreJob::Import, Phase::Products) => Some(Cursor::phase_start(Phase::Customers, None)),
        (StoreJob::Import, Phase::Customers) => Some(Cursor::phase_start(
            Phase::OrdersRecent,
            Some(recent_window(today)),
        )),
        (StoreJob::Import, Phase::OrdersRecent) => {
            let recent_from = cursor.from.unwrap_or(today);
            let to = recent_from.previous_day()?;
            (to >= OLDEST_DAY)
                .then(|| Cursor::phase_start(Phase::OrdersOlder, Some((OLDEST_DAY, to))))
        }
        (StoreJob::Import, Phase::OrdersOlder) => None,
    }
}

/// Whether a repair reads the detail of an order its lookback lists with `status`: unless the
/// order is still in the status it was created in. An unknown status is read.
pub fn lookback_reads(status: Option<&str>) -> bool {
    !status.is_some_and(|s| CREATION_STATUSES.contains(&s))
}

/// The cursor after a page: the next page, else the next phase.
pub fn after_page(job: StoreJob, cursor: &Cursor, has_next: bool, today: Date) -> Option<Cursor> {
    if has_next {
        return Some(Cursor {
            page: cursor.page.saturating_add(1),
            ..*cursor
        });
    }
    next_phase(job, cursor, today)
}

/// Where an import message starts, given the saved progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// From this cursor, with this progress (new or as saved).
    At(Cursor, Box<HistoryProgress>),
    /// The message is a leftover: the import it continues finished, stopped or restarted.
    Stale,
}

/// The saved cursor is the truth: the worker saves before it enqueues the continuation, so
/// every message in flight is at or behind it, and any message of a running import resumes
/// from it (a worker killed between the save and the send is resumed by the redelivery). Two
/// messages of one import (a redelivery beside its continuation, a second trigger) may then
/// run at once; the save at the end of an invocation is conditional on the progress it
/// started from, so the second to save ends its chain (see `engine::save`). A start message
/// (the import's first cursor) begins a new import when none is running.
pub fn import_start(message: &Cursor, saved: Option<&HistoryProgress>, now: i64) -> Start {
    let fresh = *message == Cursor::start();
    match saved {
        Some(p) if p.status == HistoryStatus::Running => {
            Start::At(p.cursor.unwrap_or_else(Cursor::start), Box::new(p.clone()))
        }
        _ if fresh => Start::At(Cursor::start(), Box::new(HistoryProgress::started(now))),
        _ => Start::Stale,
    }
}

/// What an error from Salla or Klaviyo means for the import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// Retrying will not help: the import stops with this code.
    Stop(String),
    /// Later may work (SQS delivers the message again).
    Transient,
}

/// Salla's answer to a list or detail call, once retries are spent.
pub fn salla_failure(error: &AdapterError) -> Failure {
    match error {
        AdapterError::Unauthorized {
            code: Some(code), ..
        } if code.starts_with("missing_scope:") => {
            Failure::Stop(adapters::history::error_code(code))
        }
        AdapterError::Unauthorized { .. } => Failure::Stop("salla_token_revoked".into()),
        AdapterError::Rejected { status, .. } => Failure::Stop(format!("salla_http_{status}")),
        AdapterError::Unavailable { .. }
        | AdapterError::BadResponse { .. }
        | AdapterError::Conflict { .. }
        | AdapterError::Config(_)
        | AdapterError::Decrypt { .. } => Failure::Transient,
    }
}

/// Whether a Salla error is worth the same call again, now: a 429 (the pacer waits out
/// `Retry-After`) or a 5xx / network failure.
pub fn salla_retryable(error: &AdapterError) -> bool {
    matches!(
        error,
        AdapterError::Unavailable {
            service: Service::Salla,
            ..
        }
    )
}

/// Adds a finished orders page to the progress.
pub fn count_orders(progress: &mut HistoryProgress, cursor: &Cursor, done: u64, total: u64) {
    if cursor.phase != progress.phase {
        // The first page of a new orders phase: the earlier phase's orders are final.
        progress.orders_before = progress.orders_done;
        progress.phase = cursor.phase;
    }
    progress.orders_done = progress.orders_done.saturating_add(done);
    progress.orders_total = progress.orders_before.saturating_add(total);
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn an_import_walks_every_phase_then_ends() {
        let today = date!(2026 - 12 - 02);
        let mut c = Cursor::start();
        let mut seen = vec![c];
        while let Some(next) = after_page(StoreJob::Import, &c, c.page < 2, today) {
            c = next;
            seen.push(c);
        }
        let phases: Vec<(Phase, u32)> = seen.iter().map(|c| (c.phase, c.page)).collect();
        assert_eq!(
            phases,
            [
                (Phase::Products, 1),
                (Phase::Products, 2),
                (Phase::Customers, 1),
                (Phase::Customers, 2),
                (Phase::OrdersRecent, 1),
                (Phase::OrdersRecent, 2),
                (Phase::OrdersOlder, 1),
                (Phase::OrdersOlder, 2),
            ]
        );
        assert_eq!(
            seen[4].window(),
            Some((date!(2026 - 09 - 04), date!(2026 - 12 - 03)))
        );
        // The older window ends the day before the recent one starts: no day twice, none
        // missed, whatever day the older phase starts on.
        assert_eq!(seen[6].window(), Some((OLDEST_DAY, date!(2026 - 09 - 03))));
        let later = after_page(StoreJob::Import, &seen[5], false, date!(2027 - 03 - 01)).unwrap();
        assert_eq!(later.window(), seen[6].window());
    }

    #[test]
    fn a_sweep_reads_three_days_of_orders_only() {
        let c = sweep_start(date!(2026 - 12 - 02));
        assert_eq!(
            c.window(),
            Some((date!(2026 - 11 - 30), date!(2026 - 12 - 03)))
        );
        assert_eq!(
            after_page(StoreJob::Sweep, &c, false, date!(2026 - 12 - 02)),
            None
        );
        assert_eq!(
            after_page(StoreJob::Sweep, &c, true, date!(2026 - 12 - 02)).map(|c| c.page),
            Some(2)
        );
    }

    #[test]
    fn a_repair_reads_its_window_then_two_weeks_before_it() {
        let job = StoreJob::Repair { since: 1 };
        let c = Cursor::phase_start(
            Phase::OrdersRecent,
            Some((date!(2026 - 11 - 30), date!(2026 - 12 - 03))),
        );
        let today = date!(2026 - 12 - 02);
        let back = after_page(job, &c, false, today).expect("the lookback");
        assert_eq!(back.phase, Phase::OrdersOlder);
        assert_eq!(
            back.window(),
            Some((date!(2026 - 11 - 16), date!(2026 - 11 - 29)))
        );
        assert_eq!(after_page(job, &back, true, today).map(|c| c.page), Some(2));
        assert_eq!(after_page(job, &back, false, today), None);
        assert!(!lookback_reads(Some("under_review")) && !lookback_reads(Some("payment_pending")));
        assert!(lookback_reads(Some("delivered")) && lookback_reads(None));
    }

    #[test]
    fn the_saved_cursor_decides_where_an_import_starts() {
        let mut running = HistoryProgress::started(100);
        running.cursor = Some(Cursor {
            page: 9,
            ..Cursor::phase_start(Phase::Customers, None)
        });
        let behind = Cursor {
            page: 3,
            ..Cursor::phase_start(Phase::Customers, None)
        };
        // A redelivered message behind the saved cursor resumes from the saved one.
        assert_eq!(
            import_start(&behind, Some(&running), 200),
            Start::At(running.cursor.unwrap(), Box::new(running.clone()))
        );
        // A finished import ignores leftovers and restarts on a start message.
        let mut done = running.clone();
        done.status = HistoryStatus::Done;
        done.cursor = None;
        assert_eq!(import_start(&behind, Some(&done), 200), Start::Stale);
        assert_eq!(
            import_start(&Cursor::start(), Some(&done), 200),
            Start::At(Cursor::start(), Box::new(HistoryProgress::started(200)))
        );
        assert_eq!(
            import_start(&Cursor::start(), None, 200),
            Start::At(Cursor::start(), Box::new(HistoryProgress::started(200)))
        );
        assert_eq!(import_start(&behind, None, 200), Start::Stale);
    }

    #[test]
    fn only_unfixable_errors_stop_an_import() {
        let scope = AdapterError::Unauthorized {
            service: Service::Salla,
            status: 401,
            code: Some("missing_scope:orders.read".into()),
        };
        assert_eq!(
            salla_failure(&scope),
            Failure::Stop("missing_scope:orders.read".into())
        );
        let revoked = AdapterError::Unauthorized {
            service: Service::Salla,
            status: 401,
            code: None,
        };
        assert_eq!(
            salla_failure(&revoked),
            Failure::Stop("salla_token_revoked".into())
        );
        let busy = AdapterError::Unavailable {
            service: Service::Salla,
            detail: "rate limited (HTTP 429)".into(),
        };
        assert_eq!(salla_failure(&busy), Failure::Transient);
        assert!(salla_retryable(&busy) && !salla_retryable(&revoked));
    }

    #[test]
    fn order_counts_add_up_across_phases() {
        let mut p = HistoryProgress::started(0);
        let recent = Cursor::phase_start(Phase::OrdersRecent, Some(recent_window(day_of(0))));
        count_orders(&mut p, &recent, 60, 100);
        count_orders(&mut p, &recent, 40, 100);
        assert_eq!((p.orders_done, p.orders_total), (100, 100));
        let older = Cursor::phase_start(Phase::OrdersOlder, Some((OLDEST_DAY, day_of(0))));
        count_orders(&mut p, &older, 60, 900);
        assert_eq!(
            (p.orders_done, p.orders_total, p.phase),
            (160, 1000, Phase::OrdersOlder)
        );
    }
}
