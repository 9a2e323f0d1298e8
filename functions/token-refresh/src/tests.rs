use std::sync::Mutex;

use adapters::Secret;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::scan::ScanPage;
use adapters::keystore::{SallaTokens, StoreRecord};
use adapters::salla::refresh::RefreshError;
use async_trait::async_trait;

use super::*;

const DAY: i64 = 24 * 3600;

fn record(store_id: &str, expires_in: i64, blocked: bool) -> StoreRecord {
    let mut record = StoreRecord::new(store_id);
    record.salla = Some(SallaTokens {
        access_token: Secret::new(format!("access-{store_id}")),
        refresh_token: Secret::new(format!("refresh-{store_id}")),
        expires_at: now_unix() + expires_in,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: blocked.then(now_unix),
    });
    record
}

/// Answers every refresh with new tokens, noting which refresh tokens it was given.
#[derive(Default)]
struct Salla {
    spent: Mutex<Vec<String>>,
    fail: bool,
}

#[async_trait]
impl TokenRefresher for Salla {
    async fn refresh(&self, token: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        self.spent.lock().unwrap().push(token.expose().to_string());
        if self.fail {
            return Err(RefreshError::Rejected(AdapterError::Rejected {
                service: Service::Salla,
                status: 400,
                code: "invalid_grant".into(),
                detail: "token request refused".into(),
            }));
        }
        Ok(SallaTokens {
            access_token: Secret::new("new-access"),
            refresh_token: Secret::new(format!("next-{}", token.expose())),
            expires_at: now_unix() + 14 * DAY,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        })
    }
}

fn deps(store: Arc<MemoryKeyStore>, salla: Arc<Salla>) -> Deps {
    Deps {
        store: store.clone(),
        scan: store,
        refresher: salla,
        locks: RefreshLocks::default(),
    }
}

fn stores() -> Arc<MemoryKeyStore> {
    Arc::new(MemoryKeyStore::with_records([
        record("100", DAY, false),
        record("200", 10 * DAY, false),
        record("300", DAY, true),
        record("store-400", DAY, false),
        record("500", -DAY, false),
        StoreRecord::new("600"),
    ]))
}

async fn tokens(store: &MemoryKeyStore, id: &str) -> SallaTokens {
    store.get(id).await.unwrap().unwrap().salla.unwrap()
}

#[tokio::test]
async fn refreshes_only_due_unblocked_salla_stores() {
    let store = stores();
    let salla = Arc::new(Salla::default());
    let summary = run(&deps(store.clone(), salla.clone()), Deadline::after(BUDGET))
        .await
        .unwrap();
    assert_eq!(
        summary,
        Summary {
            scanned: 6,
            due: 2,
            refreshed: 2,
            skipped: 0,
            failed: 0,
            deferred: 0,
            scan_complete: true,
        }
    );
    // Soonest expiry first; never the 10-day, blocked or non-decimal store.
    assert_eq!(*salla.spent.lock().unwrap(), ["refresh-500", "refresh-100"]);
    assert_eq!(
        tokens(&store, "100").await.refresh_token.expose(),
        "next-refresh-100"
    );
    assert_eq!(
        tokens(&store, "200").await.refresh_token.expose(),
        "refresh-200"
    );
    assert_eq!(
        tokens(&store, "300").await.refresh_token.expose(),
        "refresh-300"
    );
    assert_eq!(
        tokens(&store, "store-400").await.refresh_token.expose(),
        "refresh-store-400"
    );
}

#[tokio::test]
async fn a_second_run_spends_nothing() {
    let store = stores();
    let salla = Arc::new(Salla::default());
    let deps = deps(store, salla.clone());
    run(&deps, Deadline::after(BUDGET)).await.unwrap();
    let again = run(&deps, Deadline::after(BUDGET)).await.unwrap();
    assert_eq!((again.due, again.refreshed), (0, 0));
    assert_eq!(salla.spent.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn no_refresh_starts_without_time_for_a_full_request() {
    let store = stores();
    let salla = Arc::new(Salla::default());
    let short = Deadline::after(START_MIN - Duration::from_secs(1));
    let summary = run(&deps(store, salla.clone()), short).await.unwrap();
    assert_eq!(
        (summary.due, summary.refreshed, summary.deferred),
        (2, 0, 2)
    );
    assert!(salla.spent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_rejected_refresh_counts_as_failed_and_the_others_go_on() {
    let store = stores();
    let salla = Arc::new(Salla {
        fail: true,
        ..Salla::default()
    });
    let summary = run(&deps(store.clone(), salla.clone()), Deadline::after(BUDGET))
        .await
        .unwrap();
    assert_eq!((summary.due, summary.failed), (2, 2));
    assert!(tokens(&store, "100").await.refresh_blocked_at.is_some());
}

/// A scan that fails, or whose cursor never moves.
struct BadScan {
    fail: bool,
}

#[async_trait]
impl TokenScan for BadScan {
    async fn scan_tokens(&self, _: Option<&str>, _: u32) -> Result<ScanPage, AdapterError> {
        if self.fail {
            return Err(AdapterError::Unavailable {
                service: Service::DynamoDb,
                detail: "down".into(),
            });
        }
        Ok(ScanPage {
            stores: Vec::new(),
            next: Some("1".into()),
        })
    }
}

#[tokio::test]
async fn a_failing_scan_fails_the_run_and_a_stuck_cursor_ends_it() {
    let mut deps = deps(stores(), Arc::new(Salla::default()));
    deps.scan = Arc::new(BadScan { fail: true });
    assert!(run(&deps, Deadline::after(BUDGET)).await.is_err());
    deps.scan = Arc::new(BadScan { fail: false });
    let summary = run(&deps, Deadline::after(BUDGET)).await.unwrap();
    assert!(!summary.scan_complete);
}

#[test]
fn the_budget_fits_the_function_timeout() {
    // template.yaml gives the function 300 s.
    assert!(BUDGET + DEADLINE_MARGIN <= Duration::from_secs(300));
    assert!(START_MIN > REQUEST_TIMEOUT + SAVE_RESERVE);
}
