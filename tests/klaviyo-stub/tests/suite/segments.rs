//! Segments, metrics and flows: strict bodies, Klaviyo's answers and paging, one account's segments
//! invisible to another.

use crate::common;

use common::{event, send, stub};
use klaviyo_stub::StubAccount;
use serde_json::{Value, json};
use spec_check::Spec;

fn segment(name: &str) -> Value {
    json!({"data": {"type": "segment", "attributes": {"name": name, "definition": {
        "condition_groups": [{"conditions": [{
            "type": "profile-metric", "metric_id": "M1", "measurement": "count",
            "measurement_filter": {"type": "numeric", "operator": "greater-than-or-equal", "value": 1},
            "timeframe_filter": {"type": "date", "operator": "alltime"}
        }]}]
    }}}})
}

fn assert_spec(method: &str, path: &str, status: u16, body: &Value) {
    if let Err(e) = Spec::shared().validate_response(method, path, status, body) {
        panic!("{method} {path} {status}: {e:#?}");
    }
}

#[tokio::test]
async fn segments_are_created_read_updated_listed_and_deleted() {
    let stub = stub().await;
    let (status, created) = send(&stub, "POST", "/api/segments", Some(&segment("A"))).await;
    assert_eq!(status, 201);
    let created = created.expect("body");
    assert_spec("POST", "/api/segments", 201, &created);
    let id = created["data"]["id"].as_str().expect("id").to_owned();

    let mut patch = segment("B");
    patch["data"]["id"] = json!(id);
    let (status, updated) =
        send(&stub, "PATCH", &format!("/api/segments/{id}"), Some(&patch)).await;
    assert_eq!(status, 200);
    let updated = updated.expect("body");
    assert_spec("PATCH", &format!("/api/segments/{id}"), 200, &updated);
    assert_eq!(updated["data"]["attributes"]["name"], "B");

    // A PATCH whose data.id is another segment's is refused.
    patch["data"]["id"] = json!("OTHER");
    let (status, _) = send(&stub, "PATCH", &format!("/api/segments/{id}"), Some(&patch)).await;
    assert_eq!(status, 400);

    let (status, one) = send(&stub, "GET", &format!("/api/segments/{id}"), None).await;
    assert_eq!(
        (
            status,
            one.expect("body")["data"]["attributes"]["name"].clone()
        ),
        (200, json!("B"))
    );

    let (status, _) = send(&stub, "DELETE", &format!("/api/segments/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, _) = send(&stub, "GET", &format!("/api/segments/{id}"), None).await;
    assert_eq!(status, 404);
    assert!(stub.segments("AbC123").is_empty());
}

#[tokio::test]
async fn a_wrong_definition_is_refused_and_nothing_is_stored() {
    let stub = stub().await;
    let mut bad = segment("A");
    bad["data"]["attributes"]["definition"]["condition_groups"][0]["conditions"][0]["measurement"] =
        json!("average");
    let (status, _) = send(&stub, "POST", "/api/segments", Some(&bad)).await;
    assert_eq!(status, 400);
    assert!(stub.segments("AbC123").is_empty());
    assert!(!stub.violations().is_empty());
}

#[tokio::test]
async fn the_list_pages_by_ten_and_keeps_accounts_apart() {
    let stub = stub().await;
    stub.add_account("pk_other", StubAccount::new("Other", "OtH999"));
    for i in 0..12 {
        let (status, _) = send(
            &stub,
            "POST",
            "/api/segments",
            Some(&segment(&format!("S{i}"))),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (_, page) = send(
        &stub,
        "GET",
        "/api/segments?fields%5Bsegment%5D=name,definition",
        None,
    )
    .await;
    let page = page.expect("body");
    assert_spec("GET", "/api/segments", 200, &page);
    assert_eq!(page["data"].as_array().map(Vec::len), Some(10));
    let next = page["links"]["next"].as_str().expect("next link");
    let path = &next[stub.base_url.len()..];
    let (_, rest) = send(&stub, "GET", path, None).await;
    let rest = rest.expect("body");
    assert_eq!(rest["data"].as_array().map(Vec::len), Some(2));
    assert!(rest["links"].get("next").is_none());
    assert_eq!(stub.segments("AbC123").len(), 12);
    assert!(stub.segments("OtH999").is_empty());
}

#[tokio::test]
async fn metrics_are_the_event_names_received_with_stable_ids() {
    let stub = stub().await;
    let (_, empty) = send(&stub, "GET", "/api/metrics", None).await;
    assert_eq!(empty.expect("body")["data"], json!([]));
    let (status, _) = send(
        &stub,
        "POST",
        "/api/events",
        Some(&event("a@example.com", "Placed Order", Some("o1"))),
    )
    .await;
    assert_eq!(status, 202);
    let (_, metrics) = send(&stub, "GET", "/api/metrics", None).await;
    let metrics = metrics.expect("body");
    assert_spec("GET", "/api/metrics", 200, &metrics);
    assert_eq!(metrics["data"][0]["attributes"]["name"], "Placed Order");
    assert_eq!(
        metrics["data"][0]["id"],
        json!(klaviyo_stub::metric_id("Placed Order"))
    );
    assert_ne!(
        klaviyo_stub::metric_id("Placed Order"),
        klaviyo_stub::metric_id("Cancelled Order")
    );
}

#[tokio::test]
async fn flows_are_created_as_drafts_listed_and_deleted() {
    let stub = stub().await;
    let flow = json!({"data": {"type": "flow", "attributes": {"name": "F", "definition": {
        "triggers": [{"type": "metric", "id": "M1"}],
        "actions": [{"type": "time-delay", "temporary_id": "a", "links": {"next": null},
                     "data": {"unit": "hours", "value": 2}}],
        "entry_action_id": "a"
    }}}});
    let (status, created) = send(&stub, "POST", "/api/flows", Some(&flow)).await;
    assert_eq!(status, 201);
    let created = created.expect("body");
    assert_spec("POST", "/api/flows", 201, &created);
    assert_eq!(created["data"]["attributes"]["status"], "draft");
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let (_, list) = send(&stub, "GET", "/api/flows?fields%5Bflow%5D=name", None).await;
    let list = list.expect("body");
    assert_spec("GET", "/api/flows", 200, &list);
    assert_eq!(list["data"][0]["attributes"]["name"], "F");
    let mut bad = flow.clone();
    bad["data"]["attributes"]["definition"]["actions"][0]["data"]["unit"] = json!("weeks");
    assert_eq!(send(&stub, "POST", "/api/flows", Some(&bad)).await.0, 400);
    assert_eq!(
        send(&stub, "DELETE", &format!("/api/flows/{id}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        send(&stub, "GET", &format!("/api/flows/{id}"), None)
            .await
            .0,
        404
    );
    assert!(stub.flows("AbC123").is_empty());
}

#[tokio::test]
async fn tags_are_found_by_name_created_and_attached() {
    let stub = stub().await;
    let (_, none) = send(
        &stub,
        "GET",
        "/api/tags?filter=equals(name,%22Salla%20app%22)",
        None,
    )
    .await;
    assert_eq!(none.expect("body")["data"], json!([]));
    let tag = json!({"data": {"type": "tag", "attributes": {"name": "Salla app"}}});
    let (status, created) = send(&stub, "POST", "/api/tags", Some(&tag)).await;
    assert_eq!(status, 201);
    let created = created.expect("body");
    assert_spec("POST", "/api/tags", 201, &created);
    let id = created["data"]["id"].as_str().expect("id").to_owned();
    let other = json!({"data": {"type": "tag", "attributes": {"name": "Other"}}});
    send(&stub, "POST", "/api/tags", Some(&other)).await;
    let (_, found) = send(
        &stub,
        "GET",
        "/api/tags?filter=equals(name,%22Salla%20app%22)",
        None,
    )
    .await;
    let found = found.expect("body");
    assert_spec("GET", "/api/tags", 200, &found);
    assert_eq!(found["data"].as_array().map(Vec::len), Some(1));
    let link = json!({"data": [{"type": "flow", "id": "FLW001"}]});
    let (status, _) = send(
        &stub,
        "POST",
        &format!("/api/tags/{id}/relationships/flows"),
        Some(&link),
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(
        stub.tagged("AbC123", "Salla app"),
        [("flow".to_owned(), "FLW001".to_owned())]
    );
    assert!(stub.tagged("AbC123", "Other").is_empty());
}
