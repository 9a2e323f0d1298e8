//! The page's history import, re-run, test event and theme, through the handler.

use std::sync::Arc;

use adapters::Secret;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::start::{HistoryStart, IMPORT_STALE_SECS};
use adapters::history::{HistoryProgress, HistoryStatus, Phase, Task};
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use lambda_http::http::{Method, StatusCode, header};

use crate::handle;
use crate::test_support::*;

fn connected(key: &str, history: Option<HistoryProgress>) -> StoreRecord {
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new(key),
        account_name: Some("Shop".into()),
        account_id: Some("AbC".into()),
        validated_at: 1_795_000_000,
        needs_reconnect: false,
    });
    record.salla = Some(SallaTokens {
        access_token: Secret::new("a"),
        refresh_token: Secret::new("r"),
        expires_at: i64::MAX / 2,
        scope: None,
        refresh_lease_until: None,
        refresh_blocked_at: None,
    });
    record.history = history;
    record
}

fn done(now: i64) -> HistoryProgress {
    let mut h = HistoryProgress::started(now - 7200);
    h.status = HistoryStatus::Done;
    h.phase = Phase::OrdersOlder;
    h.orders_done = 120;
    h.orders_total = 120;
    h.finished_at = Some(now - 3600);
    h.updated_at = now - 3600;
    h.first_miss_at = Some(now - 60);
    h
}

fn location(resp: &lambda_http::Response<lambda_http::Body>) -> &str {
    resp.headers()[header::LOCATION].to_str().unwrap()
}

#[tokio::test]
async fn the_page_shows_the_import_and_offers_a_rerun_once_it_is_done() {
    let (deps, keys) = deps();
    let now = adapters::clock::now_unix();
    let mut running = done(now);
    running.status = HistoryStatus::Running;
    running.phase = Phase::Customers;
    running.updated_at = now;
    keys.put(&connected(GOOD_KEY, Some(running))).await.unwrap();
    let token = session_token(STORE, 0);
    let html =
        text(&handle(&deps, request(Method::GET, "/?lang=en", Some(&token), "")).await).to_string();
    assert!(html.contains(r#"id="history-progress""#), "{html}");
    assert!(html.contains(r#"data-phase="customers""#));
    assert!(!html.contains("rerun-form"));
    adapters::keystore::update(keys.as_ref(), STORE, |r| r.history = Some(done(now)))
        .await
        .unwrap();
    let html =
        text(&handle(&deps, request(Method::GET, "/?lang=en", Some(&token), "")).await).to_string();
    assert!(html.contains(r#"data-status="done""#) && html.contains("rerun-form"));
    assert!(html.contains(r#"name="action" value="rerun_import""#));
}

#[tokio::test]
async fn a_rerun_queues_one_import_keeps_the_gap_and_is_refused_while_it_runs() {
    let (mut deps, keys) = deps();
    let queue = Arc::new(MemoryHistoryQueue::new());
    deps.history = HistoryStart::new(queue.clone());
    let now = adapters::clock::now_unix();
    keys.put(&connected(GOOD_KEY, Some(done(now))))
        .await
        .unwrap();
    let token = session_token(STORE, 0);
    let rerun = [("action", "rerun_import")];

    let resp = handle(&deps, form(&token, &rerun)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&resp), "/onboarding?lang=en&notice=import_queued");
    assert_eq!(queue.bodies(), vec![Task::import(STORE).to_body()]);
    let h = keys.get(STORE).await.unwrap().unwrap().history.unwrap();
    assert_eq!((h.status, h.orders_done), (HistoryStatus::Running, 0));
    assert_eq!(h.first_miss_at, Some(now - 60), "the gap is kept");

    // Running and saving: refused, nothing queued.
    let resp = handle(&deps, form(&token, &rerun)).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(text(&resp).contains("already running"));
    assert_eq!(queue.len(), 1);

    // Stalled for an hour: allowed again.
    keys.put(&{
        let mut r = keys.get(STORE).await.unwrap().unwrap();
        r.history.as_mut().unwrap().updated_at = now - IMPORT_STALE_SECS;
        r
    })
    .await
    .unwrap();
    let resp = handle(&deps, form(&token, &rerun)).await;
    assert_eq!(resp.status(), StatusCode::SEE_OTHER);
    assert_eq!(queue.len(), 2);
}

#[tokio::test]
async fn a_rerun_needs_the_csrf_token_the_session_and_its_store() {
    let (mut deps, keys) = deps();
    let queue = Arc::new(MemoryHistoryQueue::new());
    deps.history = HistoryStart::new(queue.clone());
    let now = adapters::clock::now_unix();
    keys.put(&connected(GOOD_KEY, Some(done(now))))
        .await
        .unwrap();
    let token = session_token(STORE, 0);
    let cases = [
        (
            form(&token, &[("action", "rerun_import"), ("csrf", "forged")]),
            StatusCode::FORBIDDEN,
        ),
        (
            form(&token, &[("action", "rerun_import"), ("store_id", "43")]),
            StatusCode::UNAUTHORIZED,
        ),
        (
            form(
                &session_token(STORE, adapters::session::SESSION_TTL_SECS + 5),
                &[("action", "rerun_import")],
            ),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (req, status) in cases {
        assert_eq!(handle(&deps, req).await.status(), status);
    }
    assert!(queue.is_empty());
    let h = keys.get(STORE).await.unwrap().unwrap().history.unwrap();
    assert_eq!(h.status, HistoryStatus::Done);
    // A store not connected has nothing to re-run.
    let (deps, keys) = crate::test_support::deps();
    let mut unkeyed = connected(GOOD_KEY, None);
    unkeyed.klaviyo = None;
    keys.put(&unkeyed).await.unwrap();
    let resp = handle(&deps, form(&token, &[("action", "rerun_import")])).await;
    assert_eq!(resp.status(), StatusCode::CONFLICT);
    assert!(text(&resp).contains("can't start before a valid Klaviyo key"));
}

#[tokio::test]
async fn the_test_event_says_what_klaviyo_answered_and_never_shows_the_key() {
    let cases = [
        (GOOD_KEY, StatusCode::SEE_OTHER, "notice=test_sent"),
        (NO_SCOPE_KEY, StatusCode::CONFLICT, "events:write"),
        (
            "pk_revoked_9999",
            StatusCode::CONFLICT,
            "rejected the saved key",
        ),
        (
            DOWN_KEY,
            StatusCode::SERVICE_UNAVAILABLE,
            "couldn't reach Klaviyo",
        ),
    ];
    for (key, status, says) in cases {
        let (deps, keys) = deps();
        keys.put(&connected(key, None)).await.unwrap();
        let token = session_token(STORE, 0);
        let resp = handle(&deps, form(&token, &[("action", "test_event")])).await;
        assert_eq!(resp.status(), status, "{key}");
        let shown = if status == StatusCode::SEE_OTHER {
            location(&resp).to_string()
        } else {
            text(&resp).to_string()
        };
        assert!(shown.contains(says), "{key}: {shown}");
        assert!(!shown.contains(key), "the key is never echoed");
    }
    // The notice after the redirect says where to look in Klaviyo.
    let (deps, keys) = deps();
    keys.put(&connected(GOOD_KEY, None)).await.unwrap();
    let token = session_token(STORE, 0);
    let resp = handle(
        &deps,
        request(Method::GET, "/?lang=en&notice=test_sent", Some(&token), ""),
    )
    .await;
    assert!(text(&resp).contains("Analytics → Metrics"));
    assert!(text(&resp).contains(r#"id="test-event-form""#));
}

#[tokio::test]
async fn dark_is_carried_from_the_query_through_a_form_post_and_its_redirect() {
    let (deps, keys) = deps();
    keys.put(&connected(GOOD_KEY, None)).await.unwrap();
    let token = session_token(STORE, 0);
    let resp = handle(
        &deps,
        request(Method::GET, "/?lang=en&theme=dark", Some(&token), ""),
    )
    .await;
    let html = text(&resp);
    assert!(
        html.contains(r#"<html lang="en" dir="ltr" class="dark">"#),
        "{html}"
    );
    assert!(html.contains(":root.dark{color-scheme:dark;--bg:#121417"));
    // Every form of every section carries it, or its answer comes back light.
    let forms = html.matches("<form").count();
    assert!(forms >= 4, "{forms}");
    assert_eq!(html.matches(r#"name="theme" value="dark""#).count(), forms);
    assert!(html.contains(r#"href="?lang=ar&amp;theme=dark""#));
    let resp = handle(
        &deps,
        form(&token, &[("action", "test_event"), ("theme", "dark")]),
    )
    .await;
    assert_eq!(
        location(&resp),
        "/onboarding?lang=en&theme=dark&notice=test_sent"
    );
    // Unknown or absent: light.
    for uri in ["/?lang=en&theme=neon", "/?lang=en"] {
        let html =
            text(&handle(&deps, request(Method::GET, uri, Some(&token), "")).await).to_string();
        assert!(html.contains(r#"<html lang="en" dir="ltr">"#), "{uri}");
        assert!(html.contains(r#"name="theme" value="light""#));
    }
    let resp = handle(&deps, form(&token, &[("action", "test_event")])).await;
    assert_eq!(location(&resp), "/onboarding?lang=en&notice=test_sent");
}

#[tokio::test]
async fn the_page_shows_the_counts_the_intake_wrote() {
    let (deps, keys) = deps();
    let now = adapters::clock::now_unix();
    keys.put(&connected(GOOD_KEY, None)).await.unwrap();
    let mut day = adapters::health::DayStats::default();
    day.counts.insert(
        (
            ((now.rem_euclid(86_400)) / 3600) as u8,
            "Placed Order".into(),
        ),
        7,
    );
    day.last_ok = Some(now - 40);
    deps.health
        .add(STORE, adapters::health::day_of(now), &day)
        .await
        .unwrap();
    let token = session_token(STORE, 0);
    let html =
        text(&handle(&deps, request(Method::GET, "/?lang=en", Some(&token), "")).await).to_string();
    assert!(
        html.contains("<td><bdi>Placed Order</bdi></td><td>7</td><td>7</td>"),
        "{html}"
    );
}
