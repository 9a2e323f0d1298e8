//! Sync health: how many events of each Klaviyo metric reached a store's Klaviyo, hour by
//! hour, the last successful delivery, and failures by cause. Counts and error codes only:
//! nothing about a shopper, an order or a payload.
//!
//! - [`Tally`]: the intake's in-process aggregate. Each webhook adds to it for free; a store's
//!   pending counts are written at most once a minute ([`FLUSH_EVERY_SECS`]), on the first
//!   webhook of that store (or, for a quiet store, of any store) after the minute is up. What
//!   a recycled Lambda still held (at most a minute of one store's counts) is lost: the
//!   figures are a health signal, not a ledger.
//! - [`HealthStore`]: one record per store and UTC day ([`DayStats`]), expired 30 days later
//!   by DynamoDB's TTL. [`crate::keystore::dynamo::health::DynamoHealth`] adds with one
//!   `UpdateItem` per flush and day;
//!   [`embedded::EmbeddedHealth`] keeps a JSON file per store-day for the dev server;
//!   [`memory::MemoryHealth`] for tests.
//! - [`Health`]: the page's view of the last 24 hours and 7 days.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::AdapterError;
use crate::config::{Config, KeyStoreKind};

pub mod embedded;
pub mod memory;

/// A store's counts are written at most this often.
pub const FLUSH_EVERY_SECS: i64 = 60;
/// Days a day record is kept.
pub const KEEP_DAYS: i64 = 30;
/// Prefix of a day record's key in the store table: a letter, so never a store id.
pub const HEALTH_KEY_PREFIX: &str = "health#";
/// Longest metric name or failure code counted (longer ones are cut).
const MAX_NAME: usize = 64;

/// One store's counts for one UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayStats {
    /// `(hour 0..24, metric)` → events relayed.
    pub counts: BTreeMap<(u8, String), u64>,
    /// Failure cause → how many.
    pub failures: BTreeMap<String, u64>,
    /// Failure cause → unix seconds of its last occurrence.
    pub failure_last: BTreeMap<String, i64>,
    /// Unix seconds of the last webhook relayed to Klaviyo.
    pub last_ok: Option<i64>,
}

impl DayStats {
    fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.failures.is_empty() && self.last_ok.is_none()
    }

    /// Adds `other` into `self` (counts summed, latest times kept).
    pub fn merge(&mut self, other: &DayStats) {
        for (k, n) in &other.counts {
            *self.counts.entry(k.clone()).or_default() += n;
        }
        for (k, n) in &other.failures {
            *self.failures.entry(k.clone()).or_default() += n;
        }
        for (k, t) in &other.failure_last {
            let last = self.failure_last.entry(k.clone()).or_default();
            *last = (*last).max(*t);
        }
        self.last_ok = self.last_ok.max(other.last_ok);
    }
}

/// Days since the epoch (UTC) of a unix time.
pub fn day_of(unix: i64) -> i64 {
    unix.div_euclid(86_400)
}

fn hour_of(unix: i64) -> u8 {
    (unix.rem_euclid(86_400) / 3600) as u8
}

fn clip(name: &str) -> String {
    let mut end = name.len().min(MAX_NAME);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    name[..end].to_owned()
}

/// Pending counts of one store, by day.
#[derive(Debug, Default)]
struct Pending {
    days: BTreeMap<i64, DayStats>,
    last_flush: Option<i64>,
}

/// The intake's in-process aggregate of every store it served since the last flush.
#[derive(Debug, Default)]
pub struct Tally {
    stores: Mutex<HashMap<String, Pending>>,
}

/// Counts to write for one store: `(day, stats)` pairs.
pub type Flush = (String, Vec<(i64, DayStats)>);

impl Tally {
    /// Adds one webhook's result: the metrics of the events relayed (on success), or the
    /// failure's cause. Returns what is due for writing: this store's counts when its last
    /// write is a minute old (or it has none yet in this process), else the oldest overdue
    /// other store's, so a store that went quiet still gets written.
    pub fn record<'a>(
        &self,
        store_id: &str,
        now: i64,
        relayed: impl IntoIterator<Item = &'a str>,
        failure: Option<&str>,
    ) -> Option<Flush> {
        let Ok(mut stores) = self.stores.lock() else {
            return None;
        };
        let pending = stores.entry(store_id.to_owned()).or_default();
        let day = pending.days.entry(day_of(now)).or_default();
        match failure {
            None => {
                let hour = hour_of(now);
                for metric in relayed {
                    *day.counts.entry((hour, clip(metric))).or_default() += 1;
                }
                day.last_ok = day.last_ok.max(Some(now));
            }
            Some(code) => {
                let code = clip(code);
                *day.failures.entry(code.clone()).or_default() += 1;
                day.failure_last.insert(code, now);
            }
        }
        let due = |p: &Pending| {
            !p.days.is_empty() && p.last_flush.is_none_or(|t| now - t >= FLUSH_EVERY_SECS)
        };
        let store = if due(pending) {
            Some(store_id.to_owned())
        } else {
            stores
                .iter()
                .filter(|(_, p)| due(p) && p.last_flush.is_some())
                .min_by_key(|(_, p)| p.last_flush)
                .map(|(id, _)| id.clone())
        }?;
        let pending = stores.get_mut(&store)?;
        pending.last_flush = Some(now);
        let days = std::mem::take(&mut pending.days)
            .into_iter()
            .filter(|(_, d)| !d.is_empty())
            .collect();
        Some((store, days))
    }

    /// Everything still held, every store's: for a process about to stop (the dev server on
    /// Ctrl-C), so no count waits for a next webhook that will not come.
    pub fn drain(&self) -> Vec<Flush> {
        let Ok(mut stores) = self.stores.lock() else {
            return Vec::new();
        };
        stores
            .iter_mut()
            .filter_map(|(id, pending)| {
                let days: Vec<(i64, DayStats)> = std::mem::take(&mut pending.days)
                    .into_iter()
                    .filter(|(_, d)| !d.is_empty())
                    .collect();
                (!days.is_empty()).then(|| (id.clone(), days))
            })
            .collect()
    }

    /// Puts back counts whose write failed, so the next flush carries them.
    pub fn restore(&self, flush: Flush) {
        let Ok(mut stores) = self.stores.lock() else {
            return;
        };
        let pending = stores.entry(flush.0).or_default();
        for (day, stats) in flush.1 {
            pending.days.entry(day).or_default().merge(&stats);
        }
    }
}

/// Where day records live.
#[async_trait]
pub trait HealthStore: Send + Sync {
    /// Adds `stats` to the store's record of `day` (creating it).
    async fn add(&self, store_id: &str, day: i64, stats: &DayStats) -> Result<(), AdapterError>;
    /// The store's record of `day`, empty when there is none.
    async fn day(&self, store_id: &str, day: i64) -> Result<DayStats, AdapterError>;
}

/// The store that goes with the configured key store. Built once per cold start.
pub fn build(config: &Config) -> Arc<dyn HealthStore> {
    match &config.key_store {
        KeyStoreKind::Embedded { data_dir } => {
            Arc::new(embedded::EmbeddedHealth::open(data_dir.join("health")))
        }
        KeyStoreKind::DynamoDb { table, .. } => Arc::new(
            crate::keystore::dynamo::health::DynamoHealth::from_env(table.clone()),
        ),
    }
}

/// Writes a flush; on failure the counts go back into the tally. Never fails the caller: a
/// webhook's answer must not depend on its statistics.
pub async fn write(store: &dyn HealthStore, tally: &Tally, flush: Flush) {
    let mut failed = Vec::new();
    for (day, stats) in &flush.1 {
        if let Err(e) = store.add(&flush.0, *day, stats).await {
            tracing::warn!(store_id = %flush.0, error = %e, outcome = "health_write_failed", "health");
            failed.push((*day, stats.clone()));
        }
    }
    if !failed.is_empty() {
        tally.restore((flush.0, failed));
    }
}

/// Writes everything the tally still holds ([`Tally::drain`]); what fails goes back.
pub async fn flush_all(store: &dyn HealthStore, tally: &Tally) {
    for flush in tally.drain() {
        write(store, tally, flush).await;
    }
}

/// One metric's events over the last 24 hours and 7 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricCount {
    pub metric: String,
    pub last_24h: u64,
    pub last_7d: u64,
}

/// One failure cause over the last 7 days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureCount {
    pub code: String,
    pub count: u64,
    pub last_at: i64,
}

/// What the merchant's page shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Most events first.
    pub metrics: Vec<MetricCount>,
    /// Events per hour over the last 24 hours, oldest first (the chart).
    pub hourly: Vec<u64>,
    pub last_ok: Option<i64>,
    /// Most recent first.
    pub failures: Vec<FailureCount>,
}

impl Health {
    /// The view at `now` from the day records of the last 7 days (`days[i]` is `today - i`).
    pub fn from_days(now: i64, days: &[DayStats]) -> Health {
        let today = day_of(now);
        let this_hour = now.div_euclid(3600);
        let mut per_metric: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
        let mut hourly = vec![0u64; 24];
        let mut failures: BTreeMap<&str, (u64, i64)> = BTreeMap::new();
        let mut last_ok = None;
        for (i, stats) in days.iter().enumerate().take(7) {
            let day = today - i as i64;
            for ((hour, metric), n) in &stats.counts {
                let at_hour = day * 24 + i64::from(*hour);
                let entry = per_metric.entry(metric).or_default();
                entry.1 += n;
                let ago = this_hour - at_hour;
                if (0..24).contains(&ago) {
                    entry.0 += n;
                    hourly[23 - ago as usize] += n;
                }
            }
            for (code, n) in &stats.failures {
                let entry = failures.entry(code).or_default();
                entry.0 += n;
                entry.1 = entry
                    .1
                    .max(stats.failure_last.get(code).copied().unwrap_or(0));
            }
            last_ok = last_ok.max(stats.last_ok);
        }
        let mut metrics: Vec<MetricCount> = per_metric
            .into_iter()
            .map(|(metric, (last_24h, last_7d))| MetricCount {
                metric: metric.to_owned(),
                last_24h,
                last_7d,
            })
            .collect();
        metrics.sort_by(|a, b| b.last_7d.cmp(&a.last_7d).then(a.metric.cmp(&b.metric)));
        let mut failures: Vec<FailureCount> = failures
            .into_iter()
            .map(|(code, (count, last_at))| FailureCount {
                code: code.to_owned(),
                count,
                last_at,
            })
            .collect();
        failures.sort_by_key(|f| std::cmp::Reverse(f.last_at));
        Health {
            metrics,
            hourly,
            last_ok,
            failures,
        }
    }
}

/// Reads the last 7 days of a store, in parallel.
pub async fn read(
    store: &dyn HealthStore,
    store_id: &str,
    now: i64,
) -> Result<Health, AdapterError> {
    let today = day_of(now);
    let days =
        futures::future::try_join_all((0..7).map(|i| store.day(store_id, today - i))).await?;
    Ok(Health::from_days(now, &days))
}

#[cfg(test)]
mod tests;
