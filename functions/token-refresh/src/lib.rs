//! The scheduled Salla token refresh. Access tokens live 14 days and refresh tokens are
//! single-use; the webhook path refreshes only stores that send carts, so a quiet store's
//! tokens would expire and the merchant would have to reinstall. Every few hours this scans
//! the key store's token states (no secret read), and refreshes each store within
//! [`SallaTokens::REFRESH_MARGIN_SECS`] of expiry through the shared [`TokenRefresh`]
//! (per-store lease, time budget, flag after an unclear failure), soonest expiry first,
//! until the invocation's time runs short; the next run continues.
//!
//! [`SallaTokens::REFRESH_MARGIN_SECS`]: adapters::keystore::SallaTokens::REFRESH_MARGIN_SECS

use std::sync::Arc;
use std::time::Duration;

use adapters::clock::now_unix;
use adapters::config::{Config, Profile};
use adapters::deadline::Deadline;
use adapters::keystore::KeyStore;
use adapters::keystore::scan::{TokenScan, TokenState, select_due};
use adapters::salla::oauth::SallaOAuth;
use adapters::salla::refresh::{
    REQUEST_TIMEOUT, Refresh, RefreshLocks, SAVE_RESERVE, TokenRefresh, TokenRefresher,
};
use adapters::{AdapterError, Service};
use serde::Serialize;

/// Kept back from Lambda's own deadline so the summary is logged and returned.
pub const DEADLINE_MARGIN: Duration = Duration::from_secs(5);
/// The most one run takes, whatever the function's timeout.
pub const BUDGET: Duration = Duration::from_secs(290);
/// A store's refresh starts only with this much left: the lease write, a full-length token
/// request and the save of its result. Starting with less would cut the request short and
/// turn a slow answer into an unclear failure that blocks the store.
pub const START_MIN: Duration = REQUEST_TIMEOUT
    .saturating_add(SAVE_RESERVE)
    .saturating_add(Duration::from_secs(2));
/// Stores per scan page.
pub const PAGE: u32 = 200;
/// A scan page is read only with this much left.
const SCAN_MIN: Duration = Duration::from_secs(5);

/// What the run needs, built once per cold start.
pub struct Deps {
    /// Read without the warm-process cache: the refresh's version check needs the latest.
    pub store: Arc<dyn KeyStore>,
    pub scan: Arc<dyn TokenScan>,
    pub refresher: Arc<dyn TokenRefresher>,
    pub locks: RefreshLocks,
}

impl Deps {
    /// From the process environment; fails naming the first missing setting.
    pub async fn from_env() -> Result<Self, AdapterError> {
        let (config, _) = Config::from_env(Profile::Lambda {
            required: &["SALLA_CLIENT_ID", "SALLA_CLIENT_SECRET"],
        })?;
        Self::from_config(&config).await
    }

    pub async fn from_config(config: &Config) -> Result<Self, AdapterError> {
        let (store, scan) = adapters::keystore::open(config).await?;
        let refresher = Arc::new(SallaOAuth::new(
            config.salla_accounts_url.clone(),
            config.salla_client_id.clone(),
            config.salla_client_secret.clone(),
        ));
        Ok(Self {
            store,
            scan,
            refresher,
            locks: RefreshLocks::default(),
        })
    }
}

/// The run's deadline from the Lambda context's (unix milliseconds; 0 outside Lambda).
pub fn invocation_deadline(lambda_deadline_ms: u64) -> Deadline {
    Deadline::from_lambda(lambda_deadline_ms, DEADLINE_MARGIN, BUDGET)
}

/// What one run did: counts only, for the summary log and the invocation's answer.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Stores with tokens the scan listed.
    pub scanned: usize,
    /// Of those, due for a refresh.
    pub due: usize,
    pub refreshed: usize,
    /// Due, but found not due, leased, blocked or tokenless on the full read.
    pub skipped: usize,
    /// The refresh failed or flagged the store.
    pub failed: usize,
    /// Due, but left for the next run: the time budget ran short.
    pub deferred: usize,
    /// Whether the scan read every page.
    pub scan_complete: bool,
}

/// One scheduled run. Fails only when the scan cannot start, so the invocation counts as an
/// error; a store's failure is logged and counted, and the other stores go on.
pub async fn run(deps: &Deps, deadline: Deadline) -> Result<Summary, AdapterError> {
    let (states, scan_complete) = scan_all(deps.scan.as_ref(), deadline).await?;
    let now = now_unix();
    let due = select_due(&states, now);
    let mut summary = Summary {
        scanned: states.len(),
        due: due.len(),
        scan_complete,
        ..Summary::default()
    };
    let refresh = TokenRefresh {
        store: deps.store.as_ref(),
        refresher: deps.refresher.as_ref(),
        locks: &deps.locks,
    };
    for (done, state) in due.iter().enumerate() {
        if !deadline.allows(START_MIN) {
            summary.deferred = due.len() - done;
            break;
        }
        let store_id = state.store_id.as_str();
        match refresh.run(store_id, deadline).await {
            Ok(outcome) => {
                match outcome {
                    Refresh::Refreshed(_) => summary.refreshed += 1,
                    Refresh::Flagged { .. } => summary.failed += 1,
                    Refresh::NoTime => summary.deferred += 1,
                    Refresh::NotDue(_) | Refresh::Busy | Refresh::Blocked | Refresh::NoTokens => {
                        summary.skipped += 1
                    }
                }
                tracing::info!(event = "token_refresh", store_id, outcome = outcome.name());
            }
            Err(e) => {
                summary.failed += 1;
                tracing::warn!(event = "token_refresh", store_id, outcome = "failed", error = %e);
            }
        }
    }
    tracing::info!(
        event = "token_refresh_run",
        scanned = summary.scanned,
        due = summary.due,
        refreshed = summary.refreshed,
        skipped = summary.skipped,
        failed = summary.failed,
        deferred = summary.deferred,
        scan_complete = summary.scan_complete,
    );
    Ok(summary)
}

/// Every page of the scan the budget allows. A page failing after the first ends the scan
/// (the stores read so far are still refreshed); the first failing is the run's failure.
async fn scan_all(
    scan: &dyn TokenScan,
    deadline: Deadline,
) -> Result<(Vec<TokenState>, bool), AdapterError> {
    let mut states = Vec::new();
    let mut start: Option<String> = None;
    let mut first = true;
    loop {
        if !first && !deadline.allows(SCAN_MIN) {
            return Ok((states, false));
        }
        let page = deadline
            .run(Service::DynamoDb, scan.scan_tokens(start.as_deref(), PAGE))
            .await;
        let page = match page {
            Ok(page) => page,
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::warn!(event = "token_refresh_scan", outcome = "failed", error = %e);
                return Ok((states, false));
            }
        };
        first = false;
        states.extend(page.stores);
        match page.next {
            // A cursor that does not move would loop forever.
            Some(next) if start.as_deref() != Some(next.as_str()) => start = Some(next),
            Some(_) => return Ok((states, false)),
            None => return Ok((states, true)),
        }
    }
}

#[cfg(test)]
mod tests;
