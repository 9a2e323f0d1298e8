//! The history import worker: one queue message at a time, it imports a store's past from
//! Salla's Merchant API into Klaviyo (products → catalog, customers → profiles, orders → the
//! live path's events with `backfill: true`), or sweeps the last days of a store's orders, or
//! fans the daily sweep out to every store.
//!
//! An invocation works through pages until its budget is nearly spent, saves the progress
//! in the store's record and enqueues the continuation; a worker killed at any moment is
//! resumed by SQS delivering its message again, from the saved cursor. Klaviyo keeps one
//! event per `unique_id`, so a page sent twice adds nothing. Messages carry a store id and a
//! cursor only ([`adapters::history::Task`]).
//!
//! - [`plan`]: the pure decisions (windows, next cursor, where to start, which errors stop)
//! - [`engine`]: one message, against the [`Deps`] traits
//! - [`sources`]: Salla as a trait; [`sqs`]: the Lambda event and its partial-batch answer

use std::sync::Arc;
use std::time::Duration;

use adapters::config::{Config, Profile};
use adapters::history::HistoryQueue;
use adapters::history::sqs::SqsHistoryQueue;
use adapters::keystore::KeyStore;
use adapters::keystore::scan::TokenScan;
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::salla::merchant::MerchantApi;
use adapters::salla::oauth::SallaOAuth;
use adapters::salla::refresh::{RefreshLocks, TokenRefresher};
use adapters::{AdapterError, Service};

pub mod engine;
pub mod plan;
pub mod points;
pub mod sources;
pub mod sqs;

pub use engine::{Outcome, Report, RunStats, handle};
pub use sources::SallaSource;

/// The one error of this crate: something later may fix, so the message is delivered again.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("transient: {0}")]
    Transient(AdapterError),
}

/// Kept back from Lambda's own deadline so the outcome is logged and answered.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(3);
/// The most one invocation works, whatever the function's timeout.
pub const BUDGET: Duration = Duration::from_secs(290);

/// Limits of one invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerConfig {
    /// Orders per list page (Salla's maximum is 60).
    pub per_page: u32,
    /// Time kept for saving the progress and enqueueing the continuation.
    pub save_reserve: Duration,
    /// A page starts only with this much left (a page of 60 orders is 61 paced calls).
    pub page_min: Duration,
    /// Attempts of a Salla call after a 5xx or network failure.
    pub retries: u32,
    /// The first retry's wait; doubled each time.
    pub retry_backoff: Duration,
    /// 429 answers tolerated for one call before the page counts as failed.
    pub max_throttled: u32,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            per_page: 60,
            save_reserve: Duration::from_secs(10),
            page_min: Duration::from_secs(60),
            retries: 3,
            retry_backoff: Duration::from_secs(1),
            max_throttled: 5,
        }
    }
}

/// What the worker needs, built once per cold start.
pub struct Deps {
    /// Read without the warm-process cache: the progress save is version-checked.
    pub store: Arc<dyn KeyStore>,
    pub scan: Arc<dyn TokenScan>,
    pub salla: Arc<dyn SallaSource>,
    pub klaviyo: Arc<dyn KlaviyoApi>,
    pub queue: Arc<dyn HistoryQueue>,
    pub refresher: Arc<dyn TokenRefresher>,
    pub locks: RefreshLocks,
    pub config: WorkerConfig,
}

impl Deps {
    /// From the process environment (`HISTORY_QUEUE_URL` and the shared settings).
    pub async fn from_env() -> Result<Self, AdapterError> {
        let (config, _) = Config::from_env(Profile::Lambda {
            required: &["SALLA_CLIENT_ID", "SALLA_CLIENT_SECRET"],
        })?;
        let queue_url = std::env::var("HISTORY_QUEUE_URL")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| AdapterError::Config("HISTORY_QUEUE_URL is not set".into()))?;
        let queue = Arc::new(SqsHistoryQueue::from_env(queue_url).await);
        Self::from_config(&config, queue).await
    }

    pub async fn from_config(
        config: &Config,
        queue: Arc<dyn HistoryQueue>,
    ) -> Result<Self, AdapterError> {
        let (store, scan) = adapters::keystore::open(config).await?;
        Ok(Self {
            store,
            scan,
            salla: Arc::new(MerchantApi::from_config(config)),
            klaviyo: Arc::new(KlaviyoClient::new(config.klaviyo_api_url.clone())),
            queue,
            refresher: Arc::new(SallaOAuth::new(
                config.salla_accounts_url.clone(),
                config.salla_client_id.clone(),
                config.salla_client_secret.clone(),
            )),
            locks: RefreshLocks::default(),
            config: WorkerConfig::default(),
        })
    }
}

/// The error a service call that ran out of the invocation's time gives.
pub(crate) fn timed_out(service: Service) -> AdapterError {
    AdapterError::Unavailable {
        service,
        detail: "invocation budget spent".into(),
    }
}

#[cfg(test)]
mod tests;
