//! Injected faults and latency.

use crate::common;

use std::time::{Duration, Instant};

use common::{body, send, stub};
use klaviyo_stub::Fault;

#[tokio::test]
async fn status_429_with_retry_after_then_normal_service() {
    let stub = stub().await;
    stub.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(7),
        times: 2,
    });
    let e = body("create_event.json");
    for _ in 0..2 {
        let r = common::request(&stub, "POST", "/api/events", Some(&e))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(
            r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
            Some("7")
        );
        let (_, json) = common::into_parts(r).await;
        let err = &json.expect("body")["errors"][0];
        assert_eq!(err["code"], "throttled");
        assert!(
            err["detail"]
                .as_str()
                .expect("detail")
                .contains("7 seconds")
        );
    }
    assert_eq!(
        stub.distinct_event_ids(),
        0,
        "a throttled request is not processed"
    );
    assert_eq!(send(&stub, "POST", "/api/events", Some(&e)).await.0, 202);
    assert_eq!(stub.distinct_event_ids(), 1);
    let statuses: Vec<u16> = stub.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [429, 429, 202]);
    assert!(stub.violations().is_empty());
}

#[tokio::test]
async fn status_429_without_retry_after_and_server_errors() {
    let stub = stub().await;
    stub.push_fault(Fault::Status {
        status: 429,
        retry_after: None,
        times: 1,
    });
    stub.push_fault(Fault::Status {
        status: 500,
        retry_after: None,
        times: 1,
    });
    stub.push_fault(Fault::Status {
        status: 503,
        retry_after: None,
        times: 1,
    });
    let mut seen = Vec::new();
    for _ in 0..4 {
        let r = common::request(&stub, "GET", "/api/accounts", None)
            .send()
            .await
            .expect("send");
        seen.push((r.status().as_u16(), r.headers().contains_key("retry-after")));
    }
    assert_eq!(
        seen,
        [(429, false), (500, false), (503, false), (200, false)]
    );
}

#[tokio::test]
async fn delay_slows_the_answer_then_processes_it() {
    let stub = stub().await;
    stub.push_fault(Fault::Delay {
        delay: Duration::from_millis(300),
        times: 1,
    });
    let e = body("create_event.json");
    let started = Instant::now();
    assert_eq!(send(&stub, "POST", "/api/events", Some(&e)).await.0, 202);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(stub.distinct_event_ids(), 1);

    let started = Instant::now();
    assert_eq!(send(&stub, "GET", "/api/accounts", None).await.0, 200);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "the fault was used up"
    );
}

#[tokio::test]
async fn a_client_timeout_during_a_delay_sees_an_error() {
    let stub = stub().await;
    stub.push_fault(Fault::Delay {
        delay: Duration::from_millis(500),
        times: 1,
    });
    let r = common::request(&stub, "GET", "/api/accounts", None)
        .timeout(Duration::from_millis(100))
        .send()
        .await;
    assert!(r.expect_err("timed out").is_timeout());
}

#[tokio::test]
async fn drop_closes_the_connection_without_an_answer() {
    let stub = stub().await;
    stub.push_fault(Fault::Drop { times: 2 });
    let e = body("create_event.json");
    for _ in 0..2 {
        let err = common::request(&stub, "POST", "/api/events", Some(&e))
            .send()
            .await
            .expect_err("connection dropped");
        assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    }
    assert_eq!(stub.distinct_event_ids(), 0);
    assert_eq!(send(&stub, "POST", "/api/events", Some(&e)).await.0, 202);
    let statuses: Vec<u16> = stub.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [0, 0, 202]);
    assert_eq!(stub.requests()[0].body.as_ref(), Some(&e));
    assert_eq!(stub.requests()[0].api_key.as_deref(), Some(common::KEY));
}

#[tokio::test]
async fn route_specific_faults_skip_other_routes() {
    let stub = stub().await;
    stub.push_fault_on(
        "POST",
        "/api/events",
        Fault::Status {
            status: 503,
            retry_after: None,
            times: 1,
        },
    );
    assert_eq!(send(&stub, "GET", "/api/accounts", None).await.0, 200);
    let profile = body("profile_import.json");
    assert_eq!(
        send(&stub, "POST", "/api/profile-import", Some(&profile))
            .await
            .0,
        201
    );
    let e = body("create_event.json");
    assert_eq!(send(&stub, "POST", "/api/events", Some(&e)).await.0, 503);
    assert_eq!(send(&stub, "POST", "/api/events", Some(&e)).await.0, 202);
}

#[tokio::test]
async fn latency_is_added_to_every_answer_and_reset_clears_it() {
    let stub = stub().await;
    stub.set_latency(Duration::from_millis(150));
    for (method, path) in [("GET", "/api/accounts"), ("GET", "/api/unknown")] {
        let started = Instant::now();
        send(&stub, method, path, None).await;
        assert!(
            started.elapsed() >= Duration::from_millis(150),
            "{path}: {:?}",
            started.elapsed()
        );
    }
    stub.reset();
    let started = Instant::now();
    send(&stub, "GET", "/api/accounts", None).await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn dropping_the_stub_shuts_it_down() {
    let stub = stub().await;
    let url = format!("{}/api/accounts", stub.base_url);
    drop(stub);
    tokio::task::yield_now().await;
    let r = common::client()
        .get(&url)
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(r.is_err(), "still answering after drop: {r:?}");
}
