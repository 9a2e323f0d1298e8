//! Validation URL flood: open-loop unsigned `POST /onboarding/validate` requests sent from
//! their own tasks while the webhooks flow, as an anonymous caller would send them. The mix
//! cycles through unknown stores, the one installed store with a valid-looking `pk_` key (the
//! stub answers its accounts call) and malformed bodies.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::drive::{REQUEST_TIMEOUT, percentile};

/// What a flood request is, for the report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    UnknownStore,
    InstalledStore,
    Malformed,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::UnknownStore => "unknown_store",
            Kind::InstalledStore => "installed_store",
            Kind::Malformed => "malformed",
        }
    }
}

/// The `n`th request of the mix: two unknown stores, one installed store, one malformed body
/// (itself cycling through not-JSON, a JSON array, a key of the wrong shape and an oversized
/// body).
pub fn request(n: u64, installed_store: &str) -> (Kind, Vec<u8>) {
    let settings = |store: Value, key: &str| {
        serde_json::to_vec(&json!({
            "merchant_id": store,
            "store_id": store,
            "settings": {"klaviyo_private_key": key}
        }))
        .unwrap_or_default()
    };
    match n % 4 {
        0 | 1 => (
            Kind::UnknownStore,
            settings(
                json!(1_900_000_000u64 + n),
                &format!("pk_flood_{n:012}_unknown"),
            ),
        ),
        2 => (
            Kind::InstalledStore,
            settings(json!(installed_store), &format!("pk_flood_{n:012}_valid")),
        ),
        _ => (
            Kind::Malformed,
            match (n / 4) % 4 {
                0 => b"merchant_id=1&settings=not-json".to_vec(),
                1 => b"[1,2,3]".to_vec(),
                2 => settings(json!(installed_store), "AbC123"),
                _ => vec![b' '; 17 * 1024],
            },
        ),
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub kind: Kind,
    /// 0 when no HTTP answer came (connection error or timeout).
    pub status: u16,
    /// The answer said `"success": true`.
    pub success: bool,
    pub latency: Duration,
}

pub struct Flooded {
    pub samples: Vec<Sample>,
    pub elapsed: Duration,
}

/// Sends `rate × duration` requests to `url` at `rate` per second, each from its own task.
pub async fn flood(
    client: reqwest::Client,
    url: String,
    installed_store: String,
    rate: u32,
    duration: Duration,
) -> Flooded {
    let count = (f64::from(rate) * duration.as_secs_f64()) as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let url = Arc::new(url);
    let mut tasks = Vec::with_capacity(count as usize);
    for n in 0..count {
        let due = start + Duration::from_secs_f64(n as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        let (kind, body) = request(n, &installed_store);
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let answer = client
                .post(url.as_str())
                .header("content-type", "application/json")
                .body(body)
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            let (status, success) = match answer {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let body: Value = resp.json().await.unwrap_or(Value::Null);
                    (status, body["success"] == json!(true))
                }
                Err(_) => (0, false),
            };
            Sample {
                kind,
                status,
                success,
                latency: due.elapsed(),
            }
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(s) = t.await {
            samples.push(s);
        }
    }
    Flooded {
        samples,
        elapsed: start.elapsed(),
    }
}

/// The flood's part of the summary.
pub fn summary(f: &Flooded, rate: u32) -> Value {
    let mut by_status: BTreeMap<String, u64> = BTreeMap::new();
    let mut by_kind: BTreeMap<&str, BTreeMap<String, u64>> = BTreeMap::new();
    for s in &f.samples {
        let status = if s.success {
            format!("{} success", s.status)
        } else {
            s.status.to_string()
        };
        *by_status.entry(s.status.to_string()).or_default() += 1;
        *by_kind
            .entry(s.kind.name())
            .or_default()
            .entry(status)
            .or_default() += 1;
    }
    let answered = f.samples.iter().filter(|s| s.status != 0).count();
    let mut latency: Vec<f64> = f
        .samples
        .iter()
        .filter(|s| s.status != 0)
        .map(|s| s.latency.as_secs_f64() * 1000.0)
        .collect();
    latency.sort_by(f64::total_cmp);
    let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
    json!({
        "rate_per_sec": rate,
        "sent": f.samples.len(),
        "answered": answered,
        "no_answer": f.samples.len() - answered,
        "by_status": by_status,
        "by_kind": by_kind,
        "elapsed_secs": round3(f.elapsed.as_secs_f64()),
        "latency_ms": {
            "p50": round3(percentile(&latency, 50.0)),
            "p99": round3(percentile(&latency, 99.0)),
            "max": round3(latency.last().copied().unwrap_or(f64::NAN)),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mix_holds_every_kind_and_every_malformed_variant() {
        let requests: Vec<(Kind, Vec<u8>)> = (0..16).map(|n| request(n, "42")).collect();
        let count = |k: Kind| requests.iter().filter(|(kind, _)| *kind == k).count();
        assert_eq!(count(Kind::UnknownStore), 8);
        assert_eq!(count(Kind::InstalledStore), 4);
        assert_eq!(count(Kind::Malformed), 4);
        let installed: Value = serde_json::from_slice(&requests[2].1).unwrap();
        assert_eq!(installed["merchant_id"], "42");
        assert!(
            installed["settings"]["klaviyo_private_key"]
                .as_str()
                .unwrap()
                .starts_with("pk_")
        );
        let malformed: Vec<&Vec<u8>> = requests
            .iter()
            .filter(|(k, _)| *k == Kind::Malformed)
            .map(|(_, b)| b)
            .collect();
        assert!(serde_json::from_slice::<Value>(malformed[0]).is_err());
        assert!(
            serde_json::from_slice::<Value>(malformed[1])
                .unwrap()
                .is_array()
        );
        assert!(malformed[3].len() > 16 * 1024);
    }
}
