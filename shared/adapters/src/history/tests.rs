use super::*;
use time::macros::date;

fn orders_cursor() -> Cursor {
    Cursor {
        phase: Phase::OrdersRecent,
        from: Some(date!(2026 - 09 - 03)),
        to: Some(date!(2026 - 12 - 03)),
        page: 7,
    }
}

#[test]
fn tasks_round_trip_in_the_documented_shape() {
    let task = Task::Store {
        store_id: "1803665367".into(),
        job: StoreJob::Import,
        cursor: orders_cursor(),
    };
    let body = task.to_body();
    assert_eq!(
        body,
        r#"{"v":1,"store_id":"1803665367","job":"import","cursor":{"phase":"orders_recent","from":"2026-09-03","to":"2026-12-03","page":7}}"#
    );
    assert_eq!(Task::parse(&body), Ok(task));
    assert_eq!(Task::SweepAll.to_body(), r#"{"v":1,"job":"sweep_all"}"#);
    assert_eq!(
        Task::parse(r#"{"v":1,"job":"sweep_all"}"#),
        Ok(Task::SweepAll)
    );
    let first = Task::import("42");
    assert_eq!(
        first.to_body(),
        r#"{"v":1,"store_id":"42","job":"import","cursor":{"phase":"products","page":1}}"#
    );
    assert_eq!(Task::parse(&first.to_body()), Ok(first));
}

#[test]
fn junk_messages_are_refused_with_a_reason() {
    let cases: &[(&str, TaskError)] = &[
        ("", TaskError::NotATask),
        ("null", TaskError::NotATask),
        ("[1]", TaskError::NotATask),
        (r#"{"v":2,"job":"sweep_all"}"#, TaskError::Version),
        (r#"{"v":1,"job":"delete_all"}"#, TaskError::NotATask),
        (
            r#"{"v":1,"job":"sweep_all","store_id":"1"}"#,
            TaskError::NotATask,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"products","page":1},"order":{"id":5}}"#,
            TaskError::NotATask,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"products","page":1,"email":"a@b.c"}}"#,
            TaskError::NotATask,
        ),
        (
            r#"{"v":1,"job":"import","cursor":{"phase":"products","page":1}}"#,
            TaskError::StoreId,
        ),
        (
            r#"{"v":1,"store_id":"../etc","job":"import","cursor":{"phase":"products","page":1}}"#,
            TaskError::StoreId,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import"}"#,
            TaskError::MissingCursor,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"products","page":0}}"#,
            TaskError::Page,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"products","page":-1}}"#,
            TaskError::NotATask,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"orders_older","page":1}}"#,
            TaskError::Window,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"orders_older","from":"2026-12-03","to":"2026-01-01","page":1}}"#,
            TaskError::Window,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"orders_older","from":"2026-13-03","to":"2026-12-01","page":1}}"#,
            TaskError::NotATask,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"import","cursor":{"phase":"customers","from":"2026-01-03","to":"2026-12-01","page":1}}"#,
            TaskError::Window,
        ),
        (
            r#"{"v":1,"store_id":"1","job":"sweep","cursor":{"phase":"customers","page":1}}"#,
            TaskError::Window,
        ),
    ];
    for (body, want) in cases {
        assert_eq!(Task::parse(body), Err(*want), "{body}");
    }
    let long = format!(r#"{{"v":1,"job":"sweep_all","x":"{}"}}"#, "a".repeat(2000));
    assert_eq!(Task::parse(&long), Err(TaskError::TooLong));
    let id = "9".repeat(MAX_STORE_ID_LEN + 1);
    let body = Task::import(id).to_body();
    assert_eq!(Task::parse(&body), Err(TaskError::StoreId));
}

#[test]
fn progress_round_trips_and_holds_only_counts_times_and_codes() {
    let mut p = HistoryProgress::started(1_796_000_000);
    p.phase = Phase::OrdersRecent;
    p.orders_done = 120;
    p.orders_total = 500;
    p.last_error = Some(error_code("missing_scope:orders.read"));
    p.cursor = Some(orders_cursor());
    let json = serde_json::to_value(&p).unwrap();
    assert_eq!(json["status"], "running");
    assert_eq!(json["cursor"]["from"], "2026-09-03");
    let back: HistoryProgress = serde_json::from_value(json).unwrap();
    assert_eq!(back, p);
}

#[test]
fn error_codes_are_kept_only_when_plain() {
    assert_eq!(error_code("salla_token_revoked"), "salla_token_revoked");
    assert_eq!(
        error_code("missing_scope:orders.read,orders.read_write"),
        "missing_scope:orders.read,orders.read_write"
    );
    assert_eq!(error_code("shopper a@b.c said"), "error");
    assert_eq!(error_code(""), "error");
    assert_eq!(error_code(&"a".repeat(200)), "error");
}

#[tokio::test]
async fn the_memory_queue_holds_message_bodies_in_order() {
    let q = memory::MemoryHistoryQueue::new();
    q.enqueue(&Task::import("1")).await.unwrap();
    q.enqueue(&Task::SweepAll).await.unwrap();
    assert_eq!(q.len(), 2);
    assert_eq!(Task::parse(&q.pop().await), Ok(Task::import("1")));
    assert_eq!(q.try_pop().as_deref(), Some(r#"{"v":1,"job":"sweep_all"}"#));
    assert!(q.is_empty());
}

#[test]
fn a_repair_carries_its_first_miss_and_reads_from_an_hour_before() {
    // 2026-12-02 00:30 UTC: an hour earlier is the day before.
    let since = 1_764_635_400;
    let now = since + 2 * 86_400;
    let task = Task::repair("42", since, now);
    let body = task.to_body();
    assert_eq!(
        body,
        r#"{"v":1,"store_id":"42","job":"repair","cursor":{"phase":"orders_recent","from":"2025-12-01","to":"2025-12-05","page":1},"since":1764635400}"#
    );
    assert_eq!(Task::parse(&body), Ok(task));
    // A repair without its miss, or anything else with one, is refused.
    let without = body.replace(r#","since":1764635400"#, "");
    assert_eq!(Task::parse(&without), Err(TaskError::Since));
    let import = Task::import("42").to_body().replace('}', r#","since":5}"#);
    assert!(Task::parse(&import).is_err());
}

#[test]
fn the_import_ignores_gap_fields_when_comparing() {
    let a = HistoryProgress::started(1);
    let mut b = a.clone();
    b.first_miss_at = Some(9);
    assert!(a.same_import(&b) && a != b);
    b.orders_done = 3;
    assert!(!a.same_import(&b));
}
