//! Salla's webhook delivery contract, simulated: each webhook is sent at its time (open
//! loop); an answer other than 200/201, or none within 30 s, is redelivered up to 3 more
//! times, ~5 minutes apart (reference: Salla's partner kit, `salla-webhooks/operations.md`).
//! After the last try Salla gives up: the webhook is abandoned.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::drive::post_signed;
use crate::sale::Planned;

#[derive(Debug, Clone, Copy)]
pub struct Contract {
    /// How long Salla waits for an answer.
    pub timeout: Duration,
    /// Tries after the first.
    pub redeliveries: u8,
    /// Between one try's start and the next.
    pub interval: Duration,
}

impl Default for Contract {
    fn default() -> Self {
        Contract {
            timeout: Duration::from_secs(30),
            redeliveries: 3,
            interval: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Attempt {
    /// 0 = first delivery, 1..=3 = redeliveries.
    pub number: u8,
    pub sent_unix_ms: u64,
    /// From send to the full answer (or to the timeout / connection error).
    pub latency: Duration,
    /// 0 when no HTTP answer came within the timeout.
    pub status: u16,
}

impl Attempt {
    pub fn delivered(&self) -> bool {
        matches!(self.status, 200 | 201)
    }
}

pub struct Delivery {
    pub attempts: Vec<Attempt>,
}

impl Delivery {
    /// The try that Salla saw succeed, if any.
    pub fn delivered_on(&self) -> Option<u8> {
        self.attempts
            .iter()
            .find(|a| a.delivered())
            .map(|a| a.number)
    }
}

pub struct Delivered {
    pub deliveries: Vec<Delivery>,
    pub sale_start_unix_ms: u64,
    /// Largest delay between a first delivery's due time and its send.
    pub max_send_lag: Duration,
}

pub fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Runs the whole sale and every redelivery; returns when the last webhook is delivered or
/// abandoned. `progress` is called with (webhooks settled, total) about every 10 s.
pub async fn deliver_all(
    client: reqwest::Client,
    url: String,
    webhooks: Arc<Vec<Planned>>,
    contract: Contract,
    progress: impl Fn(usize, usize) + Send + 'static,
) -> Delivered {
    let start = Instant::now() + Duration::from_millis(100);
    let sale_start_unix_ms = unix_ms() + 100;
    let url = Arc::new(url);
    let settled = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let total = webhooks.len();
    let reporter = {
        let settled = Arc::clone(&settled);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                progress(settled.load(std::sync::atomic::Ordering::Relaxed), total);
            }
        })
    };
    let mut tasks = Vec::with_capacity(total);
    let mut max_send_lag = Duration::ZERO;
    for index in 0..total {
        let due = start + webhooks[index].at;
        tokio::time::sleep_until(due.into()).await;
        max_send_lag = max_send_lag.max(due.elapsed());
        let (client, url, webhooks, settled) = (
            client.clone(),
            Arc::clone(&url),
            Arc::clone(&webhooks),
            Arc::clone(&settled),
        );
        tasks.push(tokio::spawn(async move {
            let w = &webhooks[index];
            let mut attempts = Vec::new();
            let mut next = Instant::now();
            for number in 0..=contract.redeliveries {
                tokio::time::sleep_until(next.into()).await;
                let sent = Instant::now();
                next = sent + contract.interval;
                let sent_unix_ms = unix_ms();
                let status = match tokio::time::timeout(
                    contract.timeout,
                    post_signed(&client, &url, &w.body, &w.signature),
                )
                .await
                {
                    Ok(Ok((status, _))) => status,
                    _ => 0,
                };
                let attempt = Attempt {
                    number,
                    sent_unix_ms,
                    latency: sent.elapsed(),
                    status,
                };
                attempts.push(attempt);
                if attempt.delivered() {
                    break;
                }
            }
            settled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Delivery { attempts }
        }));
    }
    let mut deliveries = Vec::with_capacity(total);
    for t in tasks {
        deliveries.push(t.await.unwrap_or(Delivery {
            attempts: Vec::new(),
        }));
    }
    reporter.abort();
    Delivered {
        deliveries,
        sale_start_unix_ms,
        max_send_lag,
    }
}
