//! The adapters' order status client against the stub: read, update once, and the errors a
//! shopper's page maps (unknown order, missing scope, expired token, outage, timeout).

use std::time::Duration;

use adapters::salla::order_status::{OrderStatusApi, OrderStatusClient};
use adapters::{AdapterError, Secret, Service};
use salla_api_stub::{Dataset, RateConfig, SallaApiStub, StatusUpdate};

const TOKEN: &str = "tok-cod";

async fn setup() -> (SallaApiStub, OrderStatusClient, Secret, u64) {
    let stub = SallaApiStub::start().await;
    stub.set_rate_limits(RateConfig::OFF, RateConfig::OFF);
    stub.add_store("7", TOKEN, Dataset::new(3, 40, 10, 10));
    let client = OrderStatusClient::new(format!("{}/", stub.base_url), Duration::from_secs(2));
    let order = stub.order_ids("7")[3];
    (stub, client, Secret::new(TOKEN), order)
}

#[tokio::test]
async fn an_update_changes_the_status_once_and_is_read_back() {
    let (stub, client, token, order) = setup().await;
    stub.set_order_status("7", order, "under_review");
    let before = client.get_order(&token, order).await.unwrap().unwrap();
    assert_eq!(before.status, "under_review");
    assert!(before.total.is_some());
    assert!(!before.number.is_empty());

    client
        .set_status(&token, order, "in_progress")
        .await
        .unwrap();
    assert_eq!(
        stub.status_updates(),
        [StatusUpdate {
            store_id: "7".into(),
            order_id: order,
            slug: "in_progress".into(),
        }]
    );
    let after = client.get_order(&token, order).await.unwrap().unwrap();
    assert_eq!(after.status, "in_progress");
    let call = stub
        .calls()
        .into_iter()
        .find(|c| c.method == "POST")
        .unwrap();
    assert_eq!(call.path, format!("/orders/{order}/status"));
    assert_eq!(call.status, 201);
}

#[tokio::test]
async fn errors_map_to_adapter_errors() {
    let (stub, client, token, order) = setup().await;
    assert_eq!(client.get_order(&token, 42).await.unwrap(), None);
    let err = client.set_status(&token, 42, "canceled").await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Rejected { status: 404, code, .. } if code == "not_found"),
        "{err}"
    );
    let err = client
        .set_status(&token, order, "no-such")
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Rejected { status: 422, .. }),
        "{err}"
    );

    stub.deny_scope("7", "orders.read_write");
    let err = client
        .set_status(&token, order, "canceled")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unauthorized { status: 401, code: Some(c), .. }
            if c == "missing_scope:orders.read_write"),
        "{err}"
    );
    // Reading still works with the read scope.
    assert!(client.get_order(&token, order).await.unwrap().is_some());

    let err = client
        .set_status(&Secret::new("stale"), order, "canceled")
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Unauthorized { .. }), "{err}");

    let (stub, client, token, order) = setup().await;
    stub.fail_next(1, 503);
    let err = client
        .set_status(&token, order, "canceled")
        .await
        .unwrap_err();
    assert!(err.is_transient(), "{err}");
    stub.fail_next(1, 500);
    let err = client.get_order(&token, order).await.unwrap_err();
    assert!(err.is_transient(), "{err}");

    stub.set_latency(Duration::from_secs(3));
    let err = client
        .set_status(&token, order, "canceled")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, AdapterError::Unavailable { service: Service::Salla, detail } if detail == "timeout"),
        "{err}"
    );
    // None of the refused calls changed anything; a timed-out one may have landed (the stub
    // applies it before its delay), which is why the page re-reads the order on a retry.
    let updates = stub.status_updates();
    assert!(updates.len() <= 1, "{updates:?}");
}
