//! The history import's queue and progress: what a queue message carries (a store id and a
//! cursor, never an order, a customer or a token), the progress kept in the store's record
//! (counts, times and an error code: no customer data), and the queue the worker reads.
//!
//! - [`Task`]: one queue message, `{"v":1,"store_id":"…","job":"import"|"sweep","cursor":{…}}`
//!   or the scheduler's `{"v":1,"job":"sweep_all"}`. [`Task::parse`] refuses anything else
//!   (unknown fields, another version, a malformed id or date), so a bad message is dropped,
//!   never retried forever.
//! - [`HistoryProgress`]: the progress kept in `StoreRecord.history`.
//! - [`HistoryQueue`]: [`sqs::SqsHistoryQueue`] on AWS, [`memory::MemoryHistoryQueue`] in the
//!   dev server and tests.
//! - [`start`]: what the functions that connect a store or relay its events call: the first
//!   import once a store is connected, the mark of a missed event, and the repair that
//!   re-sends what was missed.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::AdapterError;
use crate::keystore::MAX_STORE_ID_LEN;

pub mod memory;
pub mod sqs;
pub mod start;

/// The only message version this worker reads and writes.
pub const VERSION: u32 = 1;
/// Longest message body read: a task is a store id and a cursor, well under 300 bytes.
pub const MAX_BODY_BYTES: usize = 1024;
/// Longest error code kept in the progress.
pub const MAX_ERROR_CODE_LEN: usize = 96;
/// A repair re-reads from this long before the first miss: an event Salla sent just before
/// the miss may still have been in its retries.
pub const REPAIR_LEAD_SECS: i64 = 3600;

/// What a store's message asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StoreJob {
    /// The store's whole past: products, customers, the last 90 days of orders, then older.
    Import,
    /// The previous 48 hours of orders, re-sent (Klaviyo keeps one of each by `unique_id`).
    Sweep,
    /// The orders since a missed event, re-sent: `since` is the unix time of the first miss
    /// the repair covers (`HistoryProgress::repair_from`), which it clears when done.
    Repair { since: i64 },
}

impl StoreJob {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreJob::Import => "import",
            StoreJob::Sweep => "sweep",
            StoreJob::Repair { .. } => "repair",
        }
    }

    /// Whether the job re-reads a window of orders (a sweep or a repair) rather than importing.
    pub fn is_window(self) -> bool {
        matches!(self, StoreJob::Sweep | StoreJob::Repair { .. })
    }
}

/// Where an import stands, in the order the phases run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Products,
    Customers,
    /// Orders of the last 90 days, first: what flows and predictive analytics need soonest.
    OrdersRecent,
    /// Everything older.
    OrdersOlder,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Products => "products",
            Phase::Customers => "customers",
            Phase::OrdersRecent => "orders_recent",
            Phase::OrdersOlder => "orders_older",
        }
    }

    pub fn is_orders(self) -> bool {
        matches!(self, Phase::OrdersRecent | Phase::OrdersOlder)
    }
}

/// A position in a job: the phase, the fixed window of an orders phase (store-local days,
/// inclusive, fixed when the phase starts so new orders never shift its pages) and the next
/// page to read (1-based).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cursor {
    pub phase: Phase,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "day")]
    pub from: Option<time::Date>,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "day")]
    pub to: Option<time::Date>,
    pub page: u32,
}

impl Cursor {
    /// The first position of an import.
    pub fn start() -> Self {
        Cursor {
            phase: Phase::Products,
            from: None,
            to: None,
            page: 1,
        }
    }

    /// Page 1 of `phase` (with its window, for orders).
    pub fn phase_start(phase: Phase, window: Option<(time::Date, time::Date)>) -> Self {
        Cursor {
            phase,
            from: window.map(|w| w.0),
            to: window.map(|w| w.1),
            page: 1,
        }
    }

    /// The window of an orders phase; `None` when the cursor has none (a malformed one).
    pub fn window(&self) -> Option<(time::Date, time::Date)> {
        Some((self.from?, self.to?))
    }
}

/// One queue message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// Work on one store's job from `cursor`.
    Store {
        store_id: String,
        job: StoreJob,
        cursor: Cursor,
    },
    /// The daily schedule: enqueue a sweep for every connected store.
    SweepAll,
}

/// The wire shape, checked field by field after serde.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire {
    v: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_id: Option<String>,
    job: WireJob,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<Cursor>,
    /// A repair's first miss, unix seconds; only on a repair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    since: Option<i64>,
}

#[derive(Serialize, Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum WireJob {
    Import,
    Sweep,
    Repair,
    SweepAll,
}

/// Why a message was refused. Names the problem, never the message's content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskError {
    TooLong,
    NotATask,
    Version,
    StoreId,
    MissingCursor,
    Window,
    Page,
    Since,
}

impl TaskError {
    pub fn as_str(self) -> &'static str {
        match self {
            TaskError::TooLong => "too_long",
            TaskError::NotATask => "not_a_task",
            TaskError::Version => "version",
            TaskError::StoreId => "store_id",
            TaskError::MissingCursor => "missing_cursor",
            TaskError::Window => "window",
            TaskError::Page => "page",
            TaskError::Since => "since",
        }
    }
}

/// A store id as the key store accepts it: 1–64 ASCII letters, digits, `-` or `_`.
pub fn valid_store_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_STORE_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Task {
    /// The first message of a store's import.
    pub fn import(store_id: impl Into<String>) -> Task {
        Task::Store {
            store_id: store_id.into(),
            job: StoreJob::Import,
            cursor: Cursor::start(),
        }
    }

    /// A repair of the orders since `since` (unix seconds, the first miss), at `now`: the
    /// store-local days from the one holding an hour before the miss to tomorrow (a store
    /// ahead of UTC has its today inside).
    pub fn repair(store_id: impl Into<String>, since: i64, now: i64) -> Task {
        let day = |t: i64| {
            time::OffsetDateTime::from_unix_timestamp(t)
                .map(|t| t.date())
                .unwrap_or(time::Date::MIN)
        };
        let to = day(now).saturating_add(time::Duration::days(1));
        let from = day(since.saturating_sub(REPAIR_LEAD_SECS)).min(to);
        Task::Store {
            store_id: store_id.into(),
            job: StoreJob::Repair { since },
            cursor: Cursor::phase_start(Phase::OrdersRecent, Some((from, to))),
        }
    }

    pub fn store_id(&self) -> Option<&str> {
        match self {
            Task::Store { store_id, .. } => Some(store_id),
            Task::SweepAll => None,
        }
    }

    /// Reads a message body; anything but a well-formed task is refused.
    pub fn parse(body: &str) -> Result<Task, TaskError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(TaskError::TooLong);
        }
        let wire: Wire = serde_json::from_str(body).map_err(|_| TaskError::NotATask)?;
        if wire.v != VERSION {
            return Err(TaskError::Version);
        }
        let job = match (wire.job, wire.since) {
            (WireJob::SweepAll, None) => {
                return if wire.store_id.is_none() && wire.cursor.is_none() {
                    Ok(Task::SweepAll)
                } else {
                    Err(TaskError::NotATask)
                };
            }
            (WireJob::Import, None) => StoreJob::Import,
            (WireJob::Sweep, None) => StoreJob::Sweep,
            (WireJob::Repair, Some(since)) if since > 0 => StoreJob::Repair { since },
            _ => return Err(TaskError::Since),
        };
        let store_id = wire
            .store_id
            .filter(|id| valid_store_id(id))
            .ok_or(TaskError::StoreId)?;
        let cursor = wire.cursor.ok_or(TaskError::MissingCursor)?;
        if cursor.page == 0 {
            return Err(TaskError::Page);
        }
        match (cursor.phase.is_orders(), cursor.window()) {
            (true, Some((from, to))) if from <= to => {}
            (false, None) if cursor.from.is_none() && cursor.to.is_none() => {}
            _ => return Err(TaskError::Window),
        }
        if job.is_window() && !cursor.phase.is_orders() {
            return Err(TaskError::Window);
        }
        Ok(Task::Store {
            store_id,
            job,
            cursor,
        })
    }

    /// The message body.
    pub fn to_body(&self) -> String {
        let wire = match self {
            Task::Store {
                store_id,
                job,
                cursor,
            } => Wire {
                v: VERSION,
                store_id: Some(store_id.clone()),
                job: match job {
                    StoreJob::Import => WireJob::Import,
                    StoreJob::Sweep => WireJob::Sweep,
                    StoreJob::Repair { .. } => WireJob::Repair,
                },
                cursor: Some(*cursor),
                since: match job {
                    StoreJob::Repair { since } => Some(*since),
                    _ => None,
                },
            },
            Task::SweepAll => Wire {
                v: VERSION,
                store_id: None,
                job: WireJob::SweepAll,
                cursor: None,
                since: None,
            },
        };
        // A struct of strings, numbers and dates always serialises.
        serde_json::to_string(&wire).unwrap_or_default()
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HistoryStatus {
    Running,
    Done,
    /// Stopped for a reason retrying will not fix (`last_error` names it): a revoked Salla
    /// token, a missing scope, a revoked Klaviyo key.
    Stopped,
}

impl HistoryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryStatus::Running => "running",
            HistoryStatus::Done => "done",
            HistoryStatus::Stopped => "stopped",
        }
    }
}

/// A store's import progress (`StoreRecord.history`): counts, times, the cursor and an error
/// code. Plain metadata, nothing about any customer or order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryProgress {
    pub job: StoreJob,
    pub status: HistoryStatus,
    pub phase: Phase,
    #[serde(default)]
    pub orders_done: u64,
    #[serde(default)]
    pub orders_total: u64,
    /// Orders of the phases before the current one (so a total read again is not added
    /// twice).
    #[serde(default)]
    pub orders_before: u64,
    #[serde(default)]
    pub customers_done: u64,
    #[serde(default)]
    pub customers_total: u64,
    #[serde(default)]
    pub products_done: u64,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds of the last save: a running import not saved for long has lost its
    /// message (dead-letter queue) and may be resumed by a new trigger.
    pub updated_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<i64>,
    /// An error code, e.g. `salla_token_revoked`, `missing_scope:orders.read`,
    /// `klaviyo_key_revoked`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// The next position; `None` once done or stopped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<Cursor>,
    /// Unix seconds of the first event the intake could not deliver (it answered 5xx, or the
    /// store's key was refused) since the last repair was queued. Only the first is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_miss_at: Option<i64>,
    /// The first miss the queued or running repair covers; cleared by that repair when done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_from: Option<i64>,
    /// Unix seconds at which that repair was queued (a repair queued long ago and not done
    /// has lost its message and is queued again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repair_queued_at: Option<i64>,
}

impl HistoryProgress {
    /// A new import, started at `now`.
    pub fn started(now: i64) -> Self {
        HistoryProgress {
            job: StoreJob::Import,
            status: HistoryStatus::Running,
            phase: Phase::Products,
            orders_done: 0,
            orders_total: 0,
            orders_before: 0,
            customers_done: 0,
            customers_total: 0,
            products_done: 0,
            started_at: now,
            updated_at: now,
            finished_at: None,
            last_error: None,
            cursor: Some(Cursor::start()),
            first_miss_at: None,
            repair_from: None,
            repair_queued_at: None,
        }
    }

    /// The gap-repair fields alone: the import's own writes carry them over unchanged.
    pub fn gap(&self) -> Gap {
        Gap {
            first_miss_at: self.first_miss_at,
            repair_from: self.repair_from,
            repair_queued_at: self.repair_queued_at,
        }
    }

    pub fn set_gap(&mut self, gap: Gap) {
        self.first_miss_at = gap.first_miss_at;
        self.repair_from = gap.repair_from;
        self.repair_queued_at = gap.repair_queued_at;
    }

    /// Whether `other` is the same import state, whatever the gap fields say: a miss marked
    /// or a repair finished meanwhile does not make an import's save a conflict.
    pub fn same_import(&self, other: &HistoryProgress) -> bool {
        let mut a = self.clone();
        a.set_gap(Gap::default());
        let mut b = other.clone();
        b.set_gap(Gap::default());
        a == b
    }
}

/// The gap-repair part of [`HistoryProgress`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Gap {
    pub first_miss_at: Option<i64>,
    pub repair_from: Option<i64>,
    pub repair_queued_at: Option<i64>,
}

/// An error code fit for the progress and logs: lower-case ASCII letters, digits and
/// `_ : . , -`, at most [`MAX_ERROR_CODE_LEN`] bytes; anything else becomes `error`.
pub fn error_code(code: &str) -> String {
    let ok = !code.is_empty()
        && code.len() <= MAX_ERROR_CODE_LEN
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_:.,-".contains(&b));
    if ok {
        code.to_owned()
    } else {
        "error".to_owned()
    }
}

/// Where the worker's tasks go.
#[async_trait]
pub trait HistoryQueue: Send + Sync {
    async fn enqueue(&self, task: &Task) -> Result<(), AdapterError>;
}

/// `yyyy-mm-dd` for the cursor's optional days.
mod day {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::format_description::BorrowedFormatItem;
    use time::macros::format_description;

    const FORMAT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day]");

    pub fn serialize<S: Serializer>(d: &Option<time::Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => {
                let text = d.format(FORMAT).map_err(serde::ser::Error::custom)?;
                s.serialize_str(&text)
            }
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<time::Date>, D::Error> {
        let text = Option::<String>::deserialize(d)?;
        match text {
            None => Ok(None),
            Some(t) if t.len() == 10 => time::Date::parse(&t, FORMAT)
                .map(Some)
                .map_err(|_| serde::de::Error::custom("not a yyyy-mm-dd day")),
            Some(_) => Err(serde::de::Error::custom("not a yyyy-mm-dd day")),
        }
    }
}

#[cfg(test)]
mod tests;
