//! The run's summary: JSON for machines, a table for people, and the pass/fail checks of
//! the load targets (zero errors, zero lost events, added latency, RSS, start-up).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::args::Args;
use crate::bodies::{Expected, Webhook};
use crate::drive::{Driven, percentile};

/// Issue 4's targets.
pub const TARGET_ADDED_P99_MS: f64 = 2.0;
pub const TARGET_PEAK_RSS_MIB: f64 = 40.0;
pub const TARGET_START_MS: f64 = 100.0;

pub struct Run<'a> {
    pub args: &'a Args,
    pub webhooks: &'a [Webhook],
    pub expected: &'a Expected,
    pub driven: &'a Driven,
    pub stub: Option<&'a Value>,
    pub peak_rss_kib: Option<u64>,
    pub start_to_first: Option<Duration>,
    pub connect_time: Duration,
    pub aws_calls: Option<Result<(u64, u64, u64), String>>,
    pub server_log: Option<&'a str>,
    /// The Validation URL flood's summary, when one ran.
    pub flood: Option<Value>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn stats(mut values: Vec<f64>) -> Value {
    values.sort_by(f64::total_cmp);
    json!({
        "p50": round3(percentile(&values, 50.0)),
        "p90": round3(percentile(&values, 90.0)),
        "p99": round3(percentile(&values, 99.0)),
        "max": round3(values.last().copied().unwrap_or(f64::NAN)),
    })
}

impl Run<'_> {
    /// The JSON summary and whether every check passed.
    pub fn summary(&self) -> (Value, bool) {
        let samples = &self.driven.samples;
        let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
        for s in samples {
            *by_status.entry(s.status.to_string()).or_default() += 1;
        }
        let ok = samples.iter().filter(|s| s.status == 200).count();
        let non_200 = samples.len() - ok;
        let stub_ms = self.args.stub_latency_ms as f64;
        let latency: Vec<f64> = samples.iter().map(|s| ms(s.latency)).collect();
        // Webhooks that called Klaviyo spent one stub latency there (requests go out together);
        // the rest is the intake's own time plus the stub's processing and loopback hops.
        let added: Vec<f64> = samples
            .iter()
            .filter(|s| self.webhooks[s.index].requests > 0)
            .map(|s| ms(s.latency) - stub_ms)
            .collect();
        // Webhooks that make no Klaviyo call (ignored events): the intake's own time alone.
        let no_klaviyo: Vec<f64> = samples
            .iter()
            .filter(|s| self.webhooks[s.index].requests == 0)
            .map(|s| ms(s.latency))
            .collect();
        let mut added_sorted = added.clone();
        added_sorted.sort_by(f64::total_cmp);
        let added_p99 = percentile(&added_sorted, 99.0);

        let stub_distinct = self.stub.and_then(|s| s["distinct_events"].as_u64());
        let stub_accepted = self.stub.and_then(|s| s["events_accepted"].as_u64());
        let stub_violations = self.stub.and_then(|s| s["violations"].as_u64());
        let lost = stub_distinct.map(|d| self.expected.distinct_events as i64 - d as i64);
        let rss_mib = self.peak_rss_kib.map(|k| k as f64 / 1024.0);
        let start_ms = self.start_to_first.map(ms);
        // The intake's own view: its answer time minus the time it waited on Klaviyo, from
        // its log line. This is "intake answer time minus the stub's own time" without the
        // load tool's client, the first loopback hop or the stub's timer in it.
        let intake_own: Vec<f64> = self
            .server_log
            .map(|l| {
                l.lines()
                    .filter_map(|x| serde_json::from_str::<Value>(x).ok())
                    .filter(|v| v["fields"]["outcome"] == "sent")
                    .filter_map(|v| {
                        let f = &v["fields"];
                        Some(f["latency_ms"].as_f64()? - f["klaviyo_ms"].as_f64()?)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let log_lines = self.server_log.map(|l| l.lines().count());
        let log_warnings = self.server_log.map(|l| {
            l.lines()
                .filter(|x| x.contains("\"level\":\"WARN\"") || x.contains("\"level\":\"ERROR\""))
                .count()
        });
        let events_sent: usize = self.webhooks.iter().map(|w| w.events).sum();

        let mut checks = serde_json::Map::new();
        checks.insert(
            "all_answered_200".into(),
            json!(non_200 == 0 && samples.len() == self.webhooks.len()),
        );
        if let Some(lost) = lost {
            checks.insert("zero_lost_events".into(), json!(lost == 0));
            checks.insert(
                "every_event_accepted_once".into(),
                json!(stub_accepted == Some(events_sent as u64)),
            );
        }
        if let Some(f) = &self.flood {
            for check in ["wrong_token_all_404", "untokened_all_success"] {
                checks.insert(format!("validate_{check}"), f[check].clone());
            }
        }
        if let Some(v) = stub_violations {
            checks.insert("zero_spec_violations".into(), json!(v == 0));
        }
        let mut targets = serde_json::Map::new();
        if !added.is_empty() {
            targets.insert(
                "added_latency_p99_le_2ms".into(),
                json!(added_p99 <= TARGET_ADDED_P99_MS),
            );
        }
        if !intake_own.is_empty() {
            let mut own = intake_own.clone();
            own.sort_by(f64::total_cmp);
            targets.insert(
                "intake_own_p99_le_2ms".into(),
                json!(percentile(&own, 99.0) <= TARGET_ADDED_P99_MS),
            );
        }
        if let Some(r) = rss_mib {
            targets.insert("peak_rss_le_40mib".into(), json!(r <= TARGET_PEAK_RSS_MIB));
        }
        if let Some(s) = start_ms {
            targets.insert(
                "start_to_first_webhook_le_100ms".into(),
                json!(s <= TARGET_START_MS),
            );
        }
        let aws = match &self.aws_calls {
            None => Value::Null,
            Some(Ok((gets, decrypts, all))) => json!({
                "dynamodb_get_item": gets, "kms_decrypt": decrypts, "all_aws_requests": all,
                "per_event": round3(*all as f64 / samples.len().max(1) as f64),
            }),
            Some(Err(e)) => json!({"error": e}),
        };
        let passed = checks.values().all(|v| v == &json!(true));

        let summary = json!({
            "machine": machine(),
            "config": {
                "stores": self.args.stores, "rate_per_sec": self.args.rate,
                "duration_secs": self.args.duration_secs, "stub_latency_ms": self.args.stub_latency_ms,
                "key_store": self.args.key_store.name(), "url": self.args.url, "seed": self.args.seed,
            },
            "webhooks": samples.len(),
            "answered_200": ok,
            "non_200": non_200,
            "by_status": by_status,
            "throughput_per_sec": round3(samples.len() as f64 / self.driven.elapsed.as_secs_f64().max(1e-9)),
            "elapsed_secs": round3(self.driven.elapsed.as_secs_f64()),
            "max_send_lag_ms": round3(ms(self.driven.max_send_lag)),
            "latency_ms": stats(latency),
            "added_latency_ms": stats(added),
            "latency_without_klaviyo_calls_ms": stats(no_klaviyo),
            "intake_own_ms_from_its_log": stats(intake_own),
            "events_sent": events_sent,
            "expected_distinct_events": self.expected.distinct_events,
            "expected_klaviyo_requests": self.expected.requests,
            "stub": self.stub,
            "lost_events": lost,
            "peak_rss_mib": rss_mib.map(round3),
            "start_to_first_webhook_ms": start_ms.map(round3),
            "connect_stores_ms": round3(ms(self.connect_time)),
            "aws_calls_during_load": aws,
            "validate_flood": self.flood,
            "server_log": {"lines": log_lines, "warn_or_error": log_warnings},
            "checks": checks,
            "targets": targets,
            "passed": passed,
        });
        (summary, passed)
    }
}

fn machine() -> Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo").ok().and_then(|c| {
        c.lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(|m| m.trim().to_string())
    });
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).ok(),
        "arch": std::env::consts::ARCH,
        "cpu_model": cpu,
    })
}

pub fn table(s: &Value) -> String {
    let row = |label: &str, value: String| format!("  {label:<34} {value}\n");
    let num = |v: &Value| match v {
        Value::Null => "-".to_string(),
        other => other.to_string(),
    };
    let mut out = String::from("\nload run\n");
    out += &row(
        "webhooks sent / answered 200",
        format!("{} / {}", num(&s["webhooks"]), num(&s["answered_200"])),
    );
    out += &row("non-200 answers", num(&s["non_200"]));
    out += &row("throughput (webhooks/s)", num(&s["throughput_per_sec"]));
    for (label, key) in [
        ("latency ms", "latency_ms"),
        ("added over stub ms", "added_latency_ms"),
        ("intake's own ms (its log)", "intake_own_ms_from_its_log"),
    ] {
        let l = &s[key];
        out += &row(
            label,
            format!(
                "p50 {}  p90 {}  p99 {}  max {}",
                num(&l["p50"]),
                num(&l["p90"]),
                num(&l["p99"]),
                num(&l["max"])
            ),
        );
    }
    out += &row(
        "events sent / distinct expected",
        format!(
            "{} / {}",
            num(&s["events_sent"]),
            num(&s["expected_distinct_events"])
        ),
    );
    out += &row(
        "stub distinct / accepted events",
        format!(
            "{} / {}",
            num(&s["stub"]["distinct_events"]),
            num(&s["stub"]["events_accepted"])
        ),
    );
    out += &row("lost events", num(&s["lost_events"]));
    out += &row("spec violations at the stub", num(&s["stub"]["violations"]));
    out += &row("dev server peak RSS (MiB)", num(&s["peak_rss_mib"]));
    out += &row(
        "start → first answered webhook (ms)",
        num(&s["start_to_first_webhook_ms"]),
    );
    out += &row("AWS calls during load", num(&s["aws_calls_during_load"]));
    let f = &s["validate_flood"];
    if !f.is_null() {
        out += &row(
            "validate sent / answered",
            format!("{} / {}", num(&f["sent"]), num(&f["answered"])),
        );
        out += &row("validate by status", num(&f["by_status"]));
        out += &row("validate by kind", num(&f["by_kind"]));
        let l = &f["latency_ms"];
        out += &row(
            "validate latency ms",
            format!(
                "p50 {}  p99 {}  max {}",
                num(&l["p50"]),
                num(&l["p99"]),
                num(&l["max"])
            ),
        );
    }
    out += &row("checks", num(&s["checks"]));
    out += &row("targets", num(&s["targets"]));
    out
}
