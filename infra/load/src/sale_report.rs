//! The flash sale's summary: whether every event reached Klaviyo exactly once and by which
//! delivery, when the last one landed, the intake's answer times (what Lambda bills), and
//! the pass/fail checks.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Value, json};

use crate::args::Args;
use crate::drive::percentile;
use crate::sale::Planned;
use crate::salla::Delivered;

pub struct Report<'a> {
    pub args: &'a Args,
    pub store: &'a str,
    pub orders: usize,
    pub colliding_events: usize,
    pub webhooks: &'a [Planned],
    pub delivered: &'a Delivered,
    /// The stub's exit summary.
    pub stub: &'a Value,
    /// The stub's landings file: one JSON line per distinct event.
    pub landings: &'a str,
    pub server_log: Option<&'a str>,
    pub peak_rss_kib: Option<u64>,
}

const PATHS: [&str; 4] = [
    "first_delivery",
    "redelivery_1",
    "redelivery_2",
    "redelivery_3",
];

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn spread(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    let mean = values.iter().sum::<f64>() / values.len().max(1) as f64;
    json!({
        "count": values.len(),
        "mean": round3(mean),
        "p50": round3(percentile(&values, 50.0)),
        "p99": round3(percentile(&values, 99.0)),
        "max": round3(values.last().copied().unwrap_or(f64::NAN)),
    })
}

impl Report<'_> {
    pub fn summary(&self) -> (Value, bool) {
        let deliveries = &self.delivered.deliveries;
        let sale_start = self.delivered.sale_start_unix_ms;
        let sale_end = sale_start + self.args.sale_secs * 1000;

        // Which webhook each planned event belongs to.
        let mut owner: HashMap<(&str, &str), usize> = HashMap::new();
        for (i, w) in self.webhooks.iter().enumerate() {
            for (metric, unique) in &w.events {
                owner.entry((metric.as_str(), unique.as_str())).or_insert(i);
            }
        }
        let expected = owner.len();

        // Each landed event is credited to the last try of its webhook sent before it landed.
        let mut by_path = [0usize; 4];
        let mut unexpected = 0usize;
        let mut found = 0usize;
        let mut duplicates_after_landing = 0u64;
        let mut last_landing: Option<u64> = None;
        let mut per_minute: BTreeMap<u64, usize> = BTreeMap::new();
        for line in self.landings.lines() {
            let Ok(l) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let (Some(metric), Some(unique), Some(at)) = (
                l["metric"].as_str(),
                l["unique_id"].as_str(),
                l["first_unix_ms"].as_u64(),
            ) else {
                continue;
            };
            duplicates_after_landing += l["duplicates"].as_u64().unwrap_or(0);
            let Some(&index) = owner.get(&(metric, unique)) else {
                unexpected += 1;
                continue;
            };
            found += 1;
            last_landing = last_landing.max(Some(at));
            *per_minute
                .entry(at.saturating_sub(sale_start) / 60_000)
                .or_default() += 1;
            let attempt = deliveries
                .get(index)
                .and_then(|d| d.attempts.iter().rev().find(|a| a.sent_unix_ms <= at))
                .map_or(0, |a| usize::from(a.number));
            by_path[attempt.min(3)] += 1;
        }
        let lost = expected.saturating_sub(found);

        // Webhooks: the try Salla saw succeed, or abandoned after the last.
        let mut settled_on = [0usize; 4];
        let mut abandoned = 0usize;
        let mut events_of_abandoned = 0usize;
        let mut attempt_status: BTreeMap<String, usize> = BTreeMap::new();
        let mut attempt_ms = Vec::new();
        let mut per_webhook_ms = Vec::new();
        let mut past_timeout = 0usize;
        let timeout_ms = (self.args.salla_timeout_secs * 1000) as f64;
        for (d, w) in deliveries.iter().zip(self.webhooks) {
            match d.delivered_on() {
                Some(n) => settled_on[usize::from(n).min(3)] += 1,
                None => {
                    abandoned += 1;
                    events_of_abandoned += w.events.len();
                }
            }
            let mut total = 0.0;
            for a in &d.attempts {
                *attempt_status.entry(a.status.to_string()).or_default() += 1;
                let ms = a.latency.as_secs_f64() * 1000.0;
                if a.status == 0 || ms >= timeout_ms {
                    past_timeout += 1;
                }
                attempt_ms.push(ms);
                total += ms;
            }
            per_webhook_ms.push(total);
        }
        let attempts = attempt_ms.len();

        // The intake's own view of each invocation (its log line), which is what Lambda bills.
        let logged_ms: Vec<f64> = self
            .server_log
            .map(|l| {
                l.lines()
                    .filter_map(|x| serde_json::from_str::<Value>(x).ok())
                    .filter(|v| v["fields"]["message"] == "webhook")
                    .filter(|v| v["fields"]["event"] != "app.settings.updated")
                    .filter(|v| match &v["fields"]["store_id"] {
                        Value::String(id) => id == self.store,
                        other => other.as_u64().is_some_and(|n| n.to_string() == self.store),
                    })
                    .filter_map(|v| v["fields"]["latency_ms"].as_f64())
                    .collect()
            })
            .unwrap_or_default();
        let billed_secs: f64 = logged_ms.iter().sum::<f64>() / 1000.0;
        let max_attempt_ms = attempt_ms.iter().copied().fold(0.0, f64::max);

        let stub_distinct = self.stub["distinct_events"].as_u64().unwrap_or(0) as usize;
        let violations = self.stub["violations"].as_u64().unwrap_or(0);
        let mut checks = serde_json::Map::new();
        checks.insert(
            "every_event_reached_klaviyo_exactly_once".into(),
            json!(lost == 0 && unexpected == 0 && stub_distinct == expected),
        );
        checks.insert(
            "intake_never_answered_past_salla_timeout".into(),
            json!(past_timeout == 0),
        );
        checks.insert(
            "no_webhook_needed_more_than_3_redeliveries".into(),
            json!(abandoned == 0),
        );
        checks.insert("zero_spec_violations".into(), json!(violations == 0));
        checks.insert(
            "planned_events_are_distinct".into(),
            json!(self.colliding_events == 0),
        );
        let passed = checks.values().all(|v| v == &json!(true));

        let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
        for w in self.webhooks {
            *by_kind.entry(w.kind).or_default() += 1;
        }
        let to_map = |counts: &[usize; 4]| {
            let mut m = serde_json::Map::new();
            for (name, n) in PATHS.iter().zip(counts) {
                m.insert((*name).into(), json!(n));
            }
            Value::Object(m)
        };
        let mut events_by_path = to_map(&by_path);
        events_by_path["lost"] = json!(lost);
        let mut webhooks_by_try = to_map(&settled_on);
        webhooks_by_try["abandoned"] = json!(abandoned);

        let summary = json!({
            "scenario": {
                "store": self.store,
                "orders_per_minute": self.args.orders_per_minute,
                "sale_secs": self.args.sale_secs,
                "orders": self.orders,
                "webhooks": self.webhooks.len(),
                "webhooks_by_event": by_kind,
                "salla_timeout_secs": self.args.salla_timeout_secs,
                "redelivery_secs": self.args.redelivery_secs,
                "stub_latency_ms": self.args.stub_latency_ms,
                "seed": self.args.seed,
            },
            "events": {
                "planned_distinct": expected,
                "at_klaviyo_distinct": stub_distinct,
                "accepted_requests": self.stub["events_accepted"],
                "duplicates_dropped_by_dedup": self.stub["duplicate_events"],
                "duplicates_in_landings": duplicates_after_landing,
                "unexpected": unexpected,
                "by_path": events_by_path,
                "landed_per_minute_of_run": per_minute,
                "last_landed_secs_after_sale_end": last_landing
                    .map(|t| round3((t as f64 - sale_end as f64) / 1000.0)),
                "events_of_abandoned_webhooks": events_of_abandoned,
            },
            "webhooks_by_try": webhooks_by_try,
            "attempts": {
                "total": attempts,
                "by_status": attempt_status,
                "answered_past_salla_timeout": past_timeout,
                "max_answer_ms": round3(max_attempt_ms),
            },
            "lambda_equivalent": {
                "answer_ms_per_invocation_at_salla": spread(attempt_ms),
                "intake_ms_per_invocation_from_its_log": spread(logged_ms.clone()),
                "answer_ms_per_webhook_all_tries": spread(per_webhook_ms),
                "billed_secs_total_from_log": round3(billed_secs),
                "gb_secs_at_128_mb": round3(billed_secs * 0.125),
            },
            "klaviyo_stub": {
                "throttled": self.stub["throttled"],
                "throttled_by": self.stub["throttled_by"],
                "by_status": self.stub["by_status"],
                "requests": self.stub["requests"],
                "violations": violations,
            },
            "peak_rss_mib": self.peak_rss_kib.map(|k| round3(k as f64 / 1024.0)),
            "max_send_lag_ms": round3(self.delivered.max_send_lag.as_secs_f64() * 1000.0),
            "checks": checks,
            "passed": passed,
        });
        (summary, passed)
    }
}

pub fn table(s: &Value) -> String {
    let row = |label: &str, value: String| format!("  {label:<44} {value}\n");
    let num = |v: &Value| match v {
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let e = &s["events"];
    let l = &s["lambda_equivalent"];
    let spread = |v: &Value| {
        format!(
            "mean {}  p50 {}  p99 {}  max {}  (n {})",
            num(&v["mean"]),
            num(&v["p50"]),
            num(&v["p99"]),
            num(&v["max"]),
            num(&v["count"])
        )
    };
    let mut out = String::from("\nflash sale\n");
    out += &row(
        "orders / webhooks",
        format!(
            "{} / {}",
            num(&s["scenario"]["orders"]),
            num(&s["scenario"]["webhooks"])
        ),
    );
    out += &row(
        "webhooks by event",
        num(&s["scenario"]["webhooks_by_event"]),
    );
    out += &row(
        "events planned / distinct at Klaviyo",
        format!(
            "{} / {}",
            num(&e["planned_distinct"]),
            num(&e["at_klaviyo_distinct"])
        ),
    );
    out += &row("events by path", num(&e["by_path"]));
    out += &row(
        "duplicates dropped by dedup",
        num(&e["duplicates_dropped_by_dedup"]),
    );
    out += &row(
        "last event landed, s after sale end",
        num(&e["last_landed_secs_after_sale_end"]),
    );
    out += &row(
        "events landed per minute of run",
        num(&e["landed_per_minute_of_run"]),
    );
    out += &row("webhooks by successful try", num(&s["webhooks_by_try"]));
    out += &row("attempts by status", num(&s["attempts"]["by_status"]));
    out += &row(
        "max answer ms / past Salla's timeout",
        format!(
            "{} / {}",
            num(&s["attempts"]["max_answer_ms"]),
            num(&s["attempts"]["answered_past_salla_timeout"])
        ),
    );
    out += &row(
        "answer ms per invocation (at Salla)",
        spread(&l["answer_ms_per_invocation_at_salla"]),
    );
    out += &row(
        "intake ms per invocation (its log)",
        spread(&l["intake_ms_per_invocation_from_its_log"]),
    );
    out += &row(
        "billed s total / GB-s at 128 MB",
        format!(
            "{} / {}",
            num(&l["billed_secs_total_from_log"]),
            num(&l["gb_secs_at_128_mb"])
        ),
    );
    out += &row(
        "stub throttled",
        format!(
            "{} {}",
            num(&s["klaviyo_stub"]["throttled"]),
            num(&s["klaviyo_stub"]["throttled_by"])
        ),
    );
    out += &row("spec violations", num(&s["klaviyo_stub"]["violations"]));
    out += &row("dev server peak RSS (MiB)", num(&s["peak_rss_mib"]));
    out += &row("checks", num(&s["checks"]));
    out
}
