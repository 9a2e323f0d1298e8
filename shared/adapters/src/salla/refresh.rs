//! Spending a store's single-use Salla refresh token, from any function (the intake's cart
//! enrichment, the scheduled token refresh).
//!
//! Salla's refresh token is single-use: a second use revokes the grant and the merchant must
//! reinstall. So a refresh:
//! - runs at most once at a time per store: a per-process mutex, then a lease written with a
//!   version-checked put, so of two racing processes only one spends the token;
//! - starts only with time left for the request and for saving its result;
//! - saves the new tokens with bounded retries, since the old refresh token is spent;
//! - after a failure that may have spent the token (timeout, 5xx, connection lost after
//!   sending) or a clear rejection (`invalid_grant`), flags the store (`refresh_blocked_at`)
//!   and stops: no further refresh re-spends a token Salla may already have consumed. The
//!   next `app.store.authorize` (or OAuth sign-in) brings new tokens and clears the flag.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::clock::now_unix;
use crate::deadline::Deadline;
use crate::keystore::{KeyStore, SallaTokens, StoreRecord};
use crate::{AdapterError, Secret, Service};

/// How long one process may hold the refresh lease. Longer than a refresh and its save can
/// take (both are cut off by the caller's deadline well before this).
pub const LEASE_SECS: i64 = 30;
/// Longest one token request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Kept back from the request for saving the new tokens, retries included.
pub const SAVE_RESERVE: Duration = Duration::from_secs(3);
/// Shortest token request worth starting.
const MIN_REQUEST: Duration = Duration::from_secs(1);
/// A refresh starts only with at least this much of the deadline left.
pub const MIN_TIME: Duration = Duration::from_secs(4);
/// Attempts at saving the new tokens (or the flag).
const SAVE_ATTEMPTS: u32 = 4;
/// First pause between save attempts after a transient failure; doubles each time.
const SAVE_BACKOFF: Duration = Duration::from_millis(100);

/// Why a token request failed, as far as the single-use refresh token is concerned.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// Salla did not use the token: the request never reached it (connection refused, DNS)
    /// or was refused unread (429, our client credentials). The token is still good.
    #[error("refresh not sent: {0}")]
    NotSpent(AdapterError),
    /// Salla may have used the token: timeout or connection lost after sending, a 5xx, an
    /// answer we could not read.
    #[error("refresh outcome unclear: {0}")]
    Unclear(AdapterError),
    /// Salla refused the token (400 `invalid_grant`): the grant is gone.
    #[error("refresh rejected: {0}")]
    Rejected(AdapterError),
}

/// Exchanges a refresh token for new tokens. A trait so the lease logic is testable.
#[async_trait]
pub trait TokenRefresher: Send + Sync {
    /// One token request, given up after `timeout` (an [`RefreshError::Unclear`] then).
    async fn refresh(
        &self,
        refresh_token: &Secret,
        timeout: Duration,
    ) -> Result<SallaTokens, RefreshError>;
}

#[async_trait]
impl TokenRefresher for super::oauth::SallaOAuth {
    async fn refresh(
        &self,
        refresh_token: &Secret,
        timeout: Duration,
    ) -> Result<SallaTokens, RefreshError> {
        self.refresh_within(refresh_token, timeout).await
    }
}

/// One async mutex per store, so concurrent invocations in one process refresh once.
#[derive(Default)]
pub struct RefreshLocks {
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl RefreshLocks {
    fn for_store(&self, store_id: &str) -> Arc<tokio::sync::Mutex<()>> {
        match self.locks.lock() {
            Ok(mut locks) => locks.entry(store_id.to_string()).or_default().clone(),
            Err(_) => Arc::new(tokio::sync::Mutex::new(())),
        }
    }
}

/// What one refresh attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Refresh {
    /// New tokens saved; the new access token.
    Refreshed(Secret),
    /// The stored access token is not due (another invocation refreshed first).
    NotDue(Secret),
    /// Another process holds the lease.
    Busy,
    /// The store was already flagged; nothing was spent.
    Blocked,
    /// This attempt flagged the store (`why`: `unclear` or `rejected`).
    Flagged { why: &'static str },
    /// Not enough time left to refresh and save the result.
    NoTime,
    /// Nothing to refresh: no record, no tokens, or no refresh token.
    NoTokens,
}

impl Refresh {
    /// The log's outcome name.
    pub fn name(&self) -> &'static str {
        match self {
            Refresh::Refreshed(_) => "refreshed",
            Refresh::NotDue(_) => "not_due",
            Refresh::Busy => "lease_held",
            Refresh::Blocked => "blocked",
            Refresh::Flagged { why: "unclear" } => "blocked_unclear",
            Refresh::Flagged { .. } => "blocked_rejected",
            Refresh::NoTime => "no_time",
            Refresh::NoTokens => "no_tokens",
        }
    }
}

/// What a refresh needs: the store, the token endpoint and the per-process locks.
pub struct TokenRefresh<'a> {
    pub store: &'a dyn KeyStore,
    pub refresher: &'a dyn TokenRefresher,
    pub locks: &'a RefreshLocks,
}

impl TokenRefresh<'_> {
    /// A usable access token for `record` at `now`: the stored one while it is not due,
    /// else refreshed first (under the lease, before `deadline`); when no refresh is possible
    /// (stopped, busy, failed) the stored one while it still lives. `None` without tokens or
    /// once they have expired unrefreshed.
    pub async fn access_token(
        &self,
        record: &StoreRecord,
        now: i64,
        deadline: Deadline,
    ) -> Option<Secret> {
        let tokens = record.salla.as_ref()?;
        if !tokens.needs_refresh(now) {
            return Some(tokens.access_token.clone());
        }
        let still_valid = tokens.live_access_token(now).cloned();
        if tokens.refresh_blocked_at.is_some() {
            return still_valid;
        }
        match self.run(&record.store_id, deadline).await {
            Ok(Refresh::Refreshed(fresh) | Refresh::NotDue(fresh)) => Some(fresh),
            Ok(_) => still_valid,
            Err(e) => {
                tracing::warn!(store_id = %record.store_id, error = %e, "salla token refresh failed");
                still_valid
            }
        }
    }

    /// Refreshes the store's tokens if they are due, at most once across every process, all
    /// of it (lease, request, save) before `deadline`.
    pub async fn run(&self, store_id: &str, deadline: Deadline) -> Result<Refresh, AdapterError> {
        let lock = self.locks.for_store(store_id);
        let Ok(_guard) = tokio::time::timeout_at(deadline.instant(), lock.lock()).await else {
            return Ok(Refresh::Busy);
        };
        let now = now_unix();

        // Re-read after taking the local lock: another invocation may have refreshed already.
        let Some(mut record) = deadline
            .run(Service::DynamoDb, self.store.get(store_id))
            .await?
        else {
            return Ok(Refresh::NoTokens);
        };
        let Some(tokens) = record.salla.clone() else {
            return Ok(Refresh::NoTokens);
        };
        if tokens.refresh_blocked_at.is_some() {
            return Ok(Refresh::Blocked);
        }
        if !tokens.needs_refresh(now) {
            return Ok(Refresh::NotDue(tokens.access_token));
        }
        if tokens.refresh_token.expose().is_empty() {
            return Ok(Refresh::NoTokens);
        }
        if tokens.refresh_lease_until.is_some_and(|until| until > now) {
            return Ok(Refresh::Busy);
        }
        if !deadline.allows(MIN_TIME) {
            return Ok(Refresh::NoTime);
        }
        // Take the lease. A Conflict means another process wrote first: let it refresh.
        record.salla = Some(SallaTokens {
            refresh_lease_until: Some(now + LEASE_SECS),
            ..tokens.clone()
        });
        match deadline
            .run(Service::DynamoDb, self.store.put(&record))
            .await
        {
            Ok(version) => record.version = version,
            Err(AdapterError::Conflict { .. }) => return Ok(Refresh::Busy),
            Err(e) => return Err(e),
        }
        // The lease write itself took time: check again before spending the token.
        let timeout = deadline
            .remaining()
            .saturating_sub(SAVE_RESERVE)
            .min(REQUEST_TIMEOUT);
        if timeout < MIN_REQUEST {
            self.release_lease(record, &tokens, deadline).await;
            return Ok(Refresh::NoTime);
        }

        let spent = tokens.refresh_token.clone();
        let fresh = match self.refresher.refresh(&spent, timeout).await {
            Ok(fresh) if !fresh.refresh_token.expose().is_empty() => fresh,
            // A 2xx without a refresh token: the old one is spent and nothing replaces it.
            Ok(_) => {
                return self
                    .flag(
                        record,
                        &tokens,
                        "unclear",
                        "no refresh token in the answer",
                        deadline,
                    )
                    .await;
            }
            Err(RefreshError::NotSpent(e)) => {
                tracing::warn!(store_id, outcome = "refresh_not_sent", error = %e, "salla token refresh");
                self.release_lease(record, &tokens, deadline).await;
                return Err(e);
            }
            Err(RefreshError::Unclear(e)) => {
                return self
                    .flag(record, &tokens, "unclear", &e.to_string(), deadline)
                    .await;
            }
            Err(RefreshError::Rejected(e)) => {
                return self
                    .flag(record, &tokens, "rejected", &e.to_string(), deadline)
                    .await;
            }
        };
        let access = fresh.access_token.clone();
        let fresh = SallaTokens {
            refresh_lease_until: None,
            refresh_blocked_at: None,
            ..fresh
        };
        match self.save(record, &spent, fresh, deadline).await {
            Ok(()) => {
                tracing::info!(store_id, outcome = "refreshed", "salla token refresh");
                Ok(Refresh::Refreshed(access))
            }
            Err(e) => {
                // The old refresh token is spent and the new one is lost: the next refresh will
                // be refused and flag the store; the merchant must re-authorize.
                tracing::error!(store_id, outcome = "refreshed_unsaved", error = %e, "salla token refresh");
                Err(e)
            }
        }
    }

    /// Flags the store after a refresh that may have spent the token, so no later attempt
    /// re-spends it.
    async fn flag(
        &self,
        record: StoreRecord,
        read: &SallaTokens,
        why: &'static str,
        error: &str,
        deadline: Deadline,
    ) -> Result<Refresh, AdapterError> {
        let store_id = record.store_id.clone();
        let tokens = SallaTokens {
            refresh_lease_until: None,
            refresh_blocked_at: Some(now_unix()),
            ..read.clone()
        };
        let outcome = if why == "unclear" {
            "blocked_unclear"
        } else {
            "blocked_rejected"
        };
        tracing::warn!(store_id = %store_id, outcome, error, "salla token refresh failed; refreshes stop until the merchant re-authorizes");
        if let Err(e) = self
            .save(record, &read.refresh_token, tokens, deadline)
            .await
        {
            // The lease stays until it expires; the next attempt meets the same answer.
            tracing::error!(store_id = %store_id, outcome = "flag_unsaved", error = %e, "salla token refresh");
            return Err(e);
        }
        Ok(Refresh::Flagged { why })
    }

    /// Clears the lease after a refresh that did not spend the token, so the next attempt
    /// need not wait for it to expire. Best effort: the lease expires anyway.
    async fn release_lease(
        &self,
        mut record: StoreRecord,
        tokens: &SallaTokens,
        deadline: Deadline,
    ) {
        record.salla = Some(SallaTokens {
            refresh_lease_until: None,
            ..tokens.clone()
        });
        let _ = deadline
            .run(Service::DynamoDb, self.store.put(&record))
            .await;
    }

    /// Writes `tokens` as the store's Salla tokens, retrying transient failures and conflicts
    /// within the deadline. On a conflict the latest record is re-read and only the tokens
    /// are replaced, and only while it still holds the refresh token this attempt spent: a
    /// store uninstalled or re-authorized meanwhile keeps what the newer event wrote.
    async fn save(
        &self,
        mut record: StoreRecord,
        spent: &Secret,
        tokens: SallaTokens,
        deadline: Deadline,
    ) -> Result<(), AdapterError> {
        let store_id = record.store_id.clone();
        let mut backoff = SAVE_BACKOFF;
        let mut last = None;
        for _ in 0..SAVE_ATTEMPTS {
            record.salla = Some(tokens.clone());
            match deadline
                .run(Service::DynamoDb, self.store.put(&record))
                .await
            {
                Ok(_) => return Ok(()),
                Err(AdapterError::Conflict { .. }) => {
                    let latest = deadline
                        .run(Service::DynamoDb, self.store.get(&store_id))
                        .await;
                    match latest {
                        Ok(Some(latest))
                            if latest
                                .salla
                                .as_ref()
                                .is_some_and(|s| s.refresh_token == *spent) =>
                        {
                            record = latest;
                        }
                        // Uninstalled or re-authorized meanwhile: the newer event wins.
                        Ok(_) => return Ok(()),
                        Err(e) => last = Some(e),
                    }
                }
                Err(e) if e.is_transient() => last = Some(e),
                Err(e) => return Err(e),
            }
            if !deadline.allows(backoff) {
                break;
            }
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
        Err(last.unwrap_or(AdapterError::Conflict { store_id }))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::keystore::memory::MemoryKeyStore;

    const STORE: &str = "42";

    fn due_record() -> StoreRecord {
        let mut record = StoreRecord::new(STORE);
        record.salla = Some(SallaTokens {
            access_token: Secret::new("old-access"),
            refresh_token: Secret::new("single-use"),
            expires_at: now_unix() + 60,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        });
        record
    }

    /// Answers every refresh with `answer`, counting the calls.
    struct Stub {
        calls: AtomicUsize,
        answer: fn() -> Result<SallaTokens, RefreshError>,
    }

    impl Stub {
        fn new(answer: fn() -> Result<SallaTokens, RefreshError>) -> Self {
            Self {
                calls: AtomicUsize::new(0),
                answer,
            }
        }
        fn calls(&self) -> usize {
            self.calls.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl TokenRefresher for Stub {
        async fn refresh(&self, token: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
            assert_eq!(token.expose(), "single-use");
            self.calls.fetch_add(1, Ordering::SeqCst);
            (self.answer)()
        }
    }

    fn fresh() -> Result<SallaTokens, RefreshError> {
        Ok(SallaTokens {
            access_token: Secret::new("new-access"),
            refresh_token: Secret::new("next-refresh"),
            expires_at: now_unix() + 1_209_599,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        })
    }

    fn salla_down() -> AdapterError {
        AdapterError::Unavailable {
            service: Service::Salla,
            detail: "timeout".into(),
        }
    }

    async fn run(
        store: &dyn KeyStore,
        stub: &Stub,
        deadline: Deadline,
    ) -> Result<Refresh, AdapterError> {
        let locks = RefreshLocks::default();
        TokenRefresh {
            store,
            refresher: stub,
            locks: &locks,
        }
        .run(STORE, deadline)
        .await
    }

    #[tokio::test]
    async fn an_unclear_failure_flags_the_store_and_the_token_is_not_spent_again() {
        let store = MemoryKeyStore::with_records([due_record()]);
        let stub = Stub::new(|| Err(RefreshError::Unclear(salla_down())));
        let deadline = Deadline::after(Duration::from_secs(20));
        assert_eq!(
            run(&store, &stub, deadline).await.unwrap(),
            Refresh::Flagged { why: "unclear" }
        );
        let tokens = store.get(STORE).await.unwrap().unwrap().salla.unwrap();
        assert!(tokens.refresh_blocked_at.is_some());
        assert_eq!(tokens.refresh_lease_until, None);
        // Later attempts, even after the lease would have expired, leave the token alone.
        assert_eq!(
            run(&store, &stub, deadline).await.unwrap(),
            Refresh::Blocked
        );
        assert_eq!(stub.calls(), 1);
    }

    #[tokio::test]
    async fn a_rejected_token_flags_the_store() {
        let store = MemoryKeyStore::with_records([due_record()]);
        let stub = Stub::new(|| {
            Err(RefreshError::Rejected(AdapterError::Rejected {
                service: Service::Salla,
                status: 400,
                code: "invalid_grant".into(),
                detail: "token request refused".into(),
            }))
        });
        let outcome = run(&store, &stub, Deadline::after(Duration::from_secs(20))).await;
        assert_eq!(outcome.unwrap(), Refresh::Flagged { why: "rejected" });
        let tokens = store.get(STORE).await.unwrap().unwrap().salla.unwrap();
        assert!(tokens.refresh_blocked_at.is_some());
    }

    #[tokio::test]
    async fn a_request_salla_never_saw_frees_the_lease_for_the_next_attempt() {
        let store = MemoryKeyStore::with_records([due_record()]);
        let stub = Stub::new(|| Err(RefreshError::NotSpent(salla_down())));
        let deadline = Deadline::after(Duration::from_secs(20));
        assert!(run(&store, &stub, deadline).await.is_err());
        let tokens = store.get(STORE).await.unwrap().unwrap().salla.unwrap();
        assert_eq!(tokens.refresh_blocked_at, None);
        assert_eq!(tokens.refresh_lease_until, None);
        assert!(run(&store, &stub, deadline).await.is_err());
        assert_eq!(stub.calls(), 2);
    }

    #[tokio::test]
    async fn no_refresh_starts_without_time_to_save_it() {
        let store = MemoryKeyStore::with_records([due_record()]);
        let stub = Stub::new(fresh);
        let outcome = run(&store, &stub, Deadline::after(MIN_TIME / 2)).await;
        assert_eq!(outcome.unwrap(), Refresh::NoTime);
        assert_eq!(stub.calls(), 0);
        let tokens = store.get(STORE).await.unwrap().unwrap().salla.unwrap();
        assert_eq!(tokens.refresh_lease_until, None, "no lease taken either");
    }

    #[tokio::test]
    async fn too_little_time_left_writes_no_lease() {
        // Less than the time a request and its save need: not even the lease is written
        // (a lease put and its release would spend two writes on a refresh that cannot run).
        let store = MemoryKeyStore::with_records([due_record()]);
        let stub = Stub::new(fresh);
        let outcome = run(&store, &stub, Deadline::after(MIN_TIME / 2)).await;
        assert_eq!(outcome.unwrap(), Refresh::NoTime);
        assert_eq!(
            store.get(STORE).await.unwrap().unwrap().version,
            1,
            "no write"
        );
    }

    /// Fails the given puts (1-based) with a transient error.
    struct FlakyPuts {
        inner: MemoryKeyStore,
        puts: AtomicUsize,
        failing: &'static [usize],
    }

    #[async_trait]
    impl KeyStore for FlakyPuts {
        async fn get(&self, id: &str) -> Result<Option<StoreRecord>, AdapterError> {
            self.inner.get(id).await
        }
        async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
            let n = self.puts.fetch_add(1, Ordering::SeqCst) + 1;
            if self.failing.contains(&n) {
                return Err(AdapterError::Unavailable {
                    service: Service::DynamoDb,
                    detail: "throttled".into(),
                });
            }
            self.inner.put(record).await
        }
        async fn delete(&self, id: &str) -> Result<(), AdapterError> {
            self.inner.delete(id).await
        }
    }

    #[tokio::test]
    async fn a_save_that_fails_transiently_is_retried() {
        // Put 1 takes the lease; puts 2 and 3 (saving the new tokens) fail.
        let store = FlakyPuts {
            inner: MemoryKeyStore::with_records([due_record()]),
            puts: AtomicUsize::new(0),
            failing: &[2, 3],
        };
        let stub = Stub::new(fresh);
        let outcome = run(&store, &stub, Deadline::after(Duration::from_secs(20))).await;
        assert_eq!(
            outcome.unwrap(),
            Refresh::Refreshed(Secret::new("new-access"))
        );
        let tokens = store
            .inner
            .get(STORE)
            .await
            .unwrap()
            .unwrap()
            .salla
            .unwrap();
        assert_eq!(tokens.refresh_token.expose(), "next-refresh");
        assert_eq!(tokens.refresh_lease_until, None);
        assert_eq!(stub.calls(), 1);
    }

    /// Salla answers after the store uninstalled: the new tokens are not saved onto the
    /// deletion marker (the version-checked save re-reads and finds no refresh token of its
    /// own), and a marker itself holds no tokens to refresh.
    #[tokio::test]
    async fn tokens_refreshed_across_an_uninstall_are_not_saved_onto_the_marker() {
        struct UninstallDuring(Arc<MemoryKeyStore>);
        #[async_trait]
        impl TokenRefresher for UninstallDuring {
            async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
                let now = now_unix();
                crate::keystore::update(self.0.as_ref(), STORE, |r| r.mark_uninstalled(now, now))
                    .await
                    .unwrap();
                fresh()
            }
        }
        let store = Arc::new(MemoryKeyStore::with_records([due_record()]));
        let refresher = UninstallDuring(store.clone());
        let locks = RefreshLocks::default();
        let refresh = TokenRefresh {
            store: store.as_ref(),
            refresher: &refresher,
            locks: &locks,
        };
        let deadline = Deadline::after(Duration::from_secs(20));
        refresh.run(STORE, deadline).await.unwrap();
        let marker = store.get(STORE).await.unwrap().unwrap();
        assert!(marker.is_marker() && marker.salla.is_none());
        assert_eq!(
            refresh.run(STORE, deadline).await.unwrap(),
            Refresh::NoTokens
        );
        assert_eq!(store.get(STORE).await.unwrap().unwrap(), marker);
    }
}
