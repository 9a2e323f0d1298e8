//! Validation URL flood: open-loop `POST /onboarding/validate…` requests sent from their own
//! tasks while the webhooks flow. Most go to the tokened URL, as Salla configured by the
//! operator would send them (unknown stores, the one installed store with a valid-looking `pk_`
//! key the stub answers, malformed bodies); the rest are what an anonymous caller can send: a
//! near-miss token (404 before anything is read) and the plain URL (shape check only).

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
    /// The tokened URL with a token one character off.
    WrongToken,
    /// The plain URL, without a token.
    Untokened,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::UnknownStore => "unknown_store",
            Kind::InstalledStore => "installed_store",
            Kind::Malformed => "malformed",
            Kind::WrongToken => "wrong_token",
            Kind::Untokened => "untokened",
        }
    }
}

/// The URLs a flood request goes to.
pub struct Urls {
    /// `…/onboarding/validate/<token>`.
    pub tokened: String,
    /// The same with the token's last character changed.
    pub wrong_token: String,
    /// `…/onboarding/validate`.
    pub plain: String,
}

impl Urls {
    /// `validate` is the plain URL (`…/onboarding/validate`), `token` the Validation URL's.
    pub fn new(validate: &str, token: &str) -> Urls {
        let mut wrong = token.to_string();
        let last = if wrong.pop() == Some('A') { 'B' } else { 'A' };
        wrong.push(last);
        Urls {
            tokened: format!("{validate}/{token}"),
            wrong_token: format!("{validate}/{wrong}"),
            plain: validate.to_string(),
        }
    }

    fn of(&self, kind: Kind) -> &str {
        match kind {
            Kind::WrongToken => &self.wrong_token,
            Kind::Untokened => &self.plain,
            _ => &self.tokened,
        }
    }
}

/// The `n`th request of the mix, in eights: three unknown stores, two for the installed store
/// and one malformed body on the tokened URL (the malformed body itself cycling through
/// not-JSON, a JSON array, a key of the wrong shape and an oversized body), one wrong token
/// and one plain URL, both with the installed store's body.
pub fn request(n: u64, installed_store: &str) -> (Kind, Vec<u8>) {
    let settings = |store: Value, key: &str| {
        serde_json::to_vec(&json!({
            "merchant_id": store,
            "store_id": store,
            "settings": {"klaviyo_private_key": key}
        }))
        .unwrap_or_default()
    };
    let installed = |kind: Kind| {
        (
            kind,
            settings(json!(installed_store), &format!("pk_flood_{n:012}_valid")),
        )
    };
    match n % 8 {
        0 | 1 | 5 => (
            Kind::UnknownStore,
            settings(
                json!(1_900_000_000u64 + n),
                &format!("pk_flood_{n:012}_unknown"),
            ),
        ),
        2 | 6 => installed(Kind::InstalledStore),
        3 => (
            Kind::Malformed,
            match (n / 8) % 4 {
                0 => b"merchant_id=1&settings=not-json".to_vec(),
                1 => b"[1,2,3]".to_vec(),
                2 => settings(json!(installed_store), "AbC123"),
                _ => vec![b' '; 17 * 1024],
            },
        ),
        4 => installed(Kind::WrongToken),
        _ => installed(Kind::Untokened),
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

/// Sends `rate × duration` requests to `urls` at `rate` per second, each from its own task.
pub async fn flood(
    client: reqwest::Client,
    urls: Urls,
    installed_store: String,
    rate: u32,
    duration: Duration,
) -> Flooded {
    let count = (f64::from(rate) * duration.as_secs_f64()) as u64;
    let start = Instant::now() + Duration::from_millis(50);
    let urls = Arc::new(urls);
    let mut tasks = Vec::with_capacity(count as usize);
    for n in 0..count {
        let due = start + Duration::from_secs_f64(n as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        let (kind, body) = request(n, &installed_store);
        let (client, urls) = (client.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let answer = client
                .post(urls.of(kind))
                .header("content-type", "application/json")
                .body(body)
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            let (status, success) = match answer {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    // A 404 is plain text: no JSON, no success.
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
    let of = |kind: Kind| f.samples.iter().filter(move |s| s.kind == kind);
    json!({
        // A wrong token is never served; the plain URL answers from the key's shape alone
        // (the flood's keys are well formed), so both hold at any rate the server answers.
        "wrong_token_all_404": of(Kind::WrongToken).all(|s| s.status == 404),
        "untokened_all_success": of(Kind::Untokened).all(|s| s.status == 200 && s.success),
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
        let requests: Vec<(Kind, Vec<u8>)> = (0..32).map(|n| request(n, "42")).collect();
        let count = |k: Kind| requests.iter().filter(|(kind, _)| *kind == k).count();
        assert_eq!(count(Kind::UnknownStore), 12);
        assert_eq!(count(Kind::InstalledStore), 8);
        assert_eq!(count(Kind::Malformed), 4);
        assert_eq!(count(Kind::WrongToken), 4);
        assert_eq!(count(Kind::Untokened), 4);
        for (kind, body) in &requests {
            if matches!(
                kind,
                Kind::InstalledStore | Kind::WrongToken | Kind::Untokened
            ) {
                let installed: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(installed["merchant_id"], "42");
                assert!(
                    installed["settings"]["klaviyo_private_key"]
                        .as_str()
                        .unwrap()
                        .starts_with("pk_")
                );
            }
        }
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

    #[test]
    fn each_kind_goes_to_its_url() {
        let urls = Urls::new("http://h/onboarding/validate", "tokenA");
        assert_eq!(
            urls.of(Kind::InstalledStore),
            "http://h/onboarding/validate/tokenA"
        );
        assert_eq!(
            urls.of(Kind::Malformed),
            "http://h/onboarding/validate/tokenA"
        );
        assert_eq!(
            urls.of(Kind::WrongToken),
            "http://h/onboarding/validate/tokenB"
        );
        assert_eq!(urls.of(Kind::Untokened), "http://h/onboarding/validate");
        let urls = Urls::new("http://h/onboarding/validate", "tokenZ");
        assert_eq!(
            urls.of(Kind::WrongToken),
            "http://h/onboarding/validate/tokenA"
        );
    }
}
