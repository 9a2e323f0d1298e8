//! Open-loop sending: webhook `i` is due at `start + i / rate` whether or not earlier ones
//! have been answered, so a slow intake shows up as latency instead of a lower offered rate.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::bodies::Webhook;

/// How long one webhook may take before it counts as failed (Salla gives up after 30 s).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub index: usize,
    /// From the moment it was due to the full answer.
    pub latency: Duration,
    /// 0 when no HTTP answer came (connection error or timeout).
    pub status: u16,
}

pub async fn post_signed(
    client: &reqwest::Client,
    url: &str,
    body: &[u8],
    signature: &str,
) -> Result<(u16, String), String> {
    let resp = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-salla-security-strategy", "Signature")
        .header("x-salla-signature", signature)
        .body(body.to_vec())
        .timeout(REQUEST_TIMEOUT)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap_or_default();
    Ok((status, text))
}

pub struct Driven {
    pub samples: Vec<Sample>,
    /// From the first due time to the last answer.
    pub elapsed: Duration,
    /// Largest delay between a webhook's due time and its send (the generator falling behind).
    pub max_send_lag: Duration,
}

pub async fn drive(
    client: reqwest::Client,
    url: String,
    webhooks: Arc<Vec<Webhook>>,
    rate: u32,
) -> Driven {
    let start = Instant::now() + Duration::from_millis(50);
    let url = Arc::new(url);
    let mut tasks = Vec::with_capacity(webhooks.len());
    let mut max_send_lag = Duration::ZERO;
    for index in 0..webhooks.len() {
        let due = start + Duration::from_secs_f64(index as f64 / f64::from(rate));
        tokio::time::sleep_until(due.into()).await;
        max_send_lag = max_send_lag.max(due.elapsed());
        let (client, url, webhooks) = (client.clone(), url.clone(), webhooks.clone());
        tasks.push(tokio::spawn(async move {
            let w = &webhooks[index];
            let status = match post_signed(&client, &url, &w.body, &w.signature).await {
                Ok((status, _)) => status,
                Err(_) => 0,
            };
            Sample {
                index,
                latency: due.elapsed(),
                status,
            }
        }));
    }
    let mut samples = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(s) = t.await {
            samples.push(s);
        }
    }
    Driven {
        samples,
        elapsed: start.elapsed(),
        max_send_lag,
    }
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
