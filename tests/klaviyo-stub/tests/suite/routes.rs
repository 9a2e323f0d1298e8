//! Each route the relay uses, answered like Klaviyo and checked strictly.

use crate::common;

use common::{KEY, body, event, send, stub};
use serde_json::{Value, json};
use spec_check::Spec;

fn assert_response_matches_spec(method: &str, path: &str, status: u16, body: &Value) {
    if let Err(e) = Spec::shared().validate_response(method, path, status, body) {
        panic!("{method} {path} {status}: stub answer does not match the spec: {e:#?}");
    }
}

#[tokio::test]
async fn get_accounts_answers_the_keys_account_in_the_specs_shape() {
    let stub = stub().await;
    let (status, json) = send(&stub, "GET", "/api/accounts", None).await;
    assert_eq!(status, 200);
    let json = json.expect("body");
    let account = &json["data"][0];
    assert_eq!(account["type"], "account");
    assert_eq!(account["id"], "AbC123");
    assert_eq!(account["attributes"]["public_api_key"], "AbC123");
    assert_eq!(
        account["attributes"]["contact_information"]["organization_name"],
        "متجر نورة"
    );
    assert_eq!(account["attributes"]["preferred_currency"], "SAR");
    assert_eq!(account["attributes"]["timezone"], "Asia/Riyadh");
    assert_eq!(account["attributes"]["test_account"], false);
    assert_eq!(json["data"].as_array().map(Vec::len), Some(1));
    assert_response_matches_spec("GET", "/api/accounts", 200, &json);

    let rec = &stub.requests()[0];
    assert_eq!(rec.operation_id.as_deref(), Some("get_accounts"));
    assert_eq!(rec.api_key.as_deref(), Some(KEY));
    assert_eq!(rec.revision.as_deref(), Some("2026-07-15"));
    assert_eq!(rec.accept.as_deref(), Some("application/vnd.api+json"));
    assert_eq!(
        rec.klaviyo_user_agent.as_deref(),
        Some("klaviyo-for-salla/test")
    );
    assert_eq!(rec.body, None);
    assert_eq!(rec.status, 200);
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

#[tokio::test]
async fn create_event_accepts_with_202_and_dedups_like_klaviyo() {
    let stub = stub().await;
    let reference = body("create_event.json");
    let (status, json) = send(&stub, "POST", "/api/events", Some(&reference)).await;
    assert_eq!((status, json), (202, None));

    let sends = [
        event("a@example.com", "Placed Order", Some("o1")),
        event("a@example.com", "Placed Order", Some("o1")), // replay: dropped
        event("a@example.com", "Cancelled Order", Some("o1")), // other metric: kept
        event("b@example.com", "Placed Order", Some("o1")), // other profile: kept
        event("a@example.com", "Placed Order", Some("o2")), // other id: kept
    ];
    for e in &sends {
        assert_eq!(send(&stub, "POST", "/api/events", Some(e)).await.0, 202);
    }
    assert_eq!(stub.distinct_event_ids(), 5);
    let events = stub.events();
    assert_eq!(events.len(), 5);
    assert_eq!(events[0], reference);
    let stats = stub.stats();
    assert_eq!(stats.events_accepted, 6);
    assert_eq!(stats.distinct_events, 5);
    assert_eq!(stats.by_status.get(&202), Some(&6));
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

#[tokio::test]
async fn events_without_unique_id_dedup_on_the_second() {
    let stub = stub().await;
    let e = event("a@example.com", "Ordered Product", None);
    send(&stub, "POST", "/api/events", Some(&e)).await;
    send(&stub, "POST", "/api/events", Some(&e)).await;
    assert_eq!(stub.distinct_event_ids(), 1);
}

#[tokio::test]
async fn profile_import_creates_then_updates() {
    let stub = stub().await;
    let profile = body("profile_import.json");
    let (status, first) = send(&stub, "POST", "/api/profile-import", Some(&profile)).await;
    assert_eq!(status, 201);
    let first = first.expect("body");
    assert_eq!(first["data"]["type"], "profile");
    assert_eq!(first["data"]["attributes"], json!({}));
    let id = first["data"]["id"].as_str().expect("id").to_owned();
    assert_response_matches_spec("POST", "/api/profile-import", 201, &first);

    // Same person identified only by phone now: found, updated.
    let by_phone =
        json!({"data": {"type": "profile", "attributes": {"phone_number": "+966501234567"}}});
    let (status, second) = send(&stub, "POST", "/api/profile-import", Some(&by_phone)).await;
    assert_eq!(status, 200);
    assert_eq!(second.expect("body")["data"]["id"], id.as_str());

    let other = json!({"data": {"type": "profile", "attributes": {"email": "other@example.com"}}});
    let (status, third) = send(&stub, "POST", "/api/profile-import", Some(&other)).await;
    assert_eq!(status, 201);
    assert_ne!(third.expect("body")["data"]["id"], id.as_str());
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

/// A profile bulk import job creates its profiles (a later single import finds them) and is
/// answered as Klaviyo answers a queued job.
#[tokio::test]
async fn profile_bulk_import_creates_its_profiles() {
    let stub = stub().await;
    let job = json!({"data": {
        "type": "profile-bulk-import-job",
        "attributes": {"profiles": {"data": [
            {"type": "profile", "attributes": {"email": "bulk1@example.com", "external_id": "salla:1:customer:1"}},
            {"type": "profile", "attributes": {"email": "bulk2@example.com"}}
        ]}}
    }});
    let (status, answer) = send(&stub, "POST", "/api/profile-bulk-import-jobs", Some(&job)).await;
    assert_eq!(status, 202);
    let answer = answer.expect("body");
    assert_response_matches_spec("POST", "/api/profile-bulk-import-jobs", 202, &answer);
    assert_eq!(answer["data"]["attributes"]["total_count"], 2);
    assert_eq!(stub.stats().profile_bulk_jobs, 1);
    let again = json!({"data": {"type": "profile", "attributes": {"email": "bulk1@example.com"}}});
    let (status, _) = send(&stub, "POST", "/api/profile-import", Some(&again)).await;
    assert_eq!(status, 200, "the job's profile exists");
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

#[tokio::test]
async fn bulk_subscribe_answers_202() {
    let stub = stub().await;
    let sub = body("bulk_subscribe.json");
    let (status, json) = send(
        &stub,
        "POST",
        "/api/profile-subscription-bulk-create-jobs",
        Some(&sub),
    )
    .await;
    assert_eq!((status, json), (202, None));
    assert_eq!(stub.requests()[0].body.as_ref(), Some(&sub));
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

#[tokio::test]
async fn catalog_items_create_conflict_update_delete() {
    let stub = stub().await;
    let item = body("create_catalog_item.json");
    let (status, created) = send(&stub, "POST", "/api/catalog-items", Some(&item)).await;
    assert_eq!(status, 201);
    let created = created.expect("body");
    assert_eq!(created["data"]["id"], "$custom:::$default:::1122");
    assert_response_matches_spec("POST", "/api/catalog-items", 201, &created);

    let (status, conflict) = send(&stub, "POST", "/api/catalog-items", Some(&item)).await;
    assert_eq!(status, 409);
    assert_eq!(conflict.expect("body")["errors"][0]["status"], 409);

    let encoded = "/api/catalog-items/%24custom%3A%3A%3A%24default%3A%3A%3A1122";
    let update = body("update_catalog_item.json");
    let (status, updated) = send(&stub, "PATCH", encoded, Some(&update)).await;
    assert_eq!(status, 200);
    let updated = updated.expect("body");
    assert_eq!(updated["data"]["attributes"]["price"], 299.0);
    assert_eq!(updated["data"]["attributes"]["title"], "Oud Royal 100ml");
    assert_response_matches_spec("PATCH", encoded, 200, &updated);

    assert_eq!(send(&stub, "DELETE", encoded, None).await, (204, None));
    assert_eq!(send(&stub, "DELETE", encoded, None).await.0, 404);
    assert_eq!(send(&stub, "PATCH", encoded, Some(&update)).await.0, 404);
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

#[tokio::test]
async fn catalog_patch_with_a_different_body_id_is_a_violation() {
    let stub = stub().await;
    send(
        &stub,
        "POST",
        "/api/catalog-items",
        Some(&body("create_catalog_item.json")),
    )
    .await;
    let mut update = body("update_catalog_item.json");
    update["data"]["id"] = json!("$custom:::$default:::9999");
    let (status, _) = send(
        &stub,
        "PATCH",
        "/api/catalog-items/$custom:::$default:::1122",
        Some(&update),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(stub.violations().len(), 1, "{:#?}", stub.violations());
}

#[tokio::test]
async fn spec_violations_answer_400_with_pointers_and_are_recorded() {
    let stub = stub().await;
    let mut bad = body("create_event.json");
    let attrs = bad["data"]["attributes"]
        .as_object_mut()
        .expect("attributes");
    let unique = attrs.remove("unique_id").expect("unique_id");
    attrs.insert("uniqueId".into(), unique);
    attrs.remove("metric");

    let (status, json) = send(&stub, "POST", "/api/events", Some(&bad)).await;
    assert_eq!(status, 400);
    let errors = json.expect("body")["errors"]
        .as_array()
        .cloned()
        .expect("errors");
    let pointers: Vec<&str> = errors
        .iter()
        .map(|e| e["source"]["pointer"].as_str().expect("pointer"))
        .collect();
    assert_eq!(pointers, ["/data/attributes", "/data/attributes/uniqueId"]);
    for e in &errors {
        assert_eq!(e["code"], "invalid");
        assert_eq!(e["status"], 400);
        for field in ["id", "title", "detail"] {
            assert!(e[field].is_string(), "{field} in {e}");
        }
    }
    let violations = stub.violations();
    assert_eq!(violations.len(), 2, "{violations:#?}");
    assert!(violations[0].starts_with("POST /api/events: /data/attributes: missing required"));
    assert!(violations[1].contains("/data/attributes/uniqueId: unknown property"));
    assert_eq!(stub.requests()[0].violations.len(), 2);
    assert_eq!(
        stub.distinct_event_ids(),
        0,
        "a rejected event must not count"
    );
}

#[tokio::test]
async fn unknown_routes_answer_404_and_count_as_violations() {
    let stub = stub().await;
    let (status, json) = send(&stub, "POST", "/api/eventz", Some(&json!({}))).await;
    assert_eq!(status, 404);
    assert_eq!(json.expect("body")["errors"][0]["code"], "not_found");
    assert_eq!(
        stub.violations(),
        ["POST /api/eventz: unknown route POST /api/eventz"]
    );
}

#[tokio::test]
async fn known_but_unimplemented_operations_are_violations_too() {
    let stub = stub().await;
    let (status, _) = send(&stub, "GET", "/api/lists", None).await;
    assert_eq!(status, 404);
    assert_eq!(stub.violations().len(), 1, "{:#?}", stub.violations());
}

#[tokio::test]
async fn bad_headers_and_bodies_are_violations() {
    let stub = stub().await;
    let e = body("create_event.json");
    let url = format!("{}/api/events", stub.base_url);
    let auth = format!("Klaviyo-API-Key {KEY}");
    let c = common::client();

    // No revision.
    let r = c
        .post(&url)
        .header("Authorization", &auth)
        .header("Content-Type", "application/vnd.api+json")
        .body(e.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    // Old revision.
    let r = c
        .post(&url)
        .header("Authorization", &auth)
        .header("revision", "2024-10-15")
        .header("Content-Type", "application/vnd.api+json")
        .body(e.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    // Plain JSON content type.
    let r = c
        .post(&url)
        .header("Authorization", &auth)
        .header("revision", "2026-07-15")
        .header("Content-Type", "application/json")
        .body(e.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 415);
    // Accept that excludes JSON.
    let r = c
        .post(&url)
        .header("Authorization", &auth)
        .header("revision", "2026-07-15")
        .header("Accept", "text/html")
        .header("Content-Type", "application/vnd.api+json")
        .body(e.to_string())
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 406);
    // Not JSON at all.
    let r = c
        .post(&url)
        .header("Authorization", &auth)
        .header("revision", "2026-07-15")
        .header("Content-Type", "application/vnd.api+json")
        .body("{\"data\":")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 400);
    // Required body missing.
    assert_eq!(send(&stub, "POST", "/api/events", None).await.0, 400);

    let v = stub.violations();
    assert_eq!(v.len(), 6, "{v:#?}");
    assert!(v[0].ends_with("revision header missing"), "{v:#?}");
    assert!(
        v[1].ends_with("revision header is not 2026-07-15"),
        "{v:#?}"
    );
    assert!(v[2].contains("Content-Type"), "{v:#?}");
    assert!(v[3].contains("Accept"), "{v:#?}");
    assert!(v[4].contains("not valid JSON"), "{v:#?}");
    assert!(v[5].contains("requires a request body"), "{v:#?}");
    assert_eq!(stub.distinct_event_ids(), 0);
}

#[tokio::test]
async fn duplicate_phone_gives_409_on_profiles_and_400_on_events_until_resent_without_it() {
    let stub = stub().await;
    stub.duplicate_profile_phone("+966501234567");

    let profile = body("profile_import.json");
    let (status, json) = send(&stub, "POST", "/api/profile-import", Some(&profile)).await;
    assert_eq!(status, 409);
    let err = &json.expect("body")["errors"][0];
    assert_eq!(err["code"], "duplicate_profile");
    assert!(err["meta"]["duplicate_profile_id"].is_string());

    let mut without = profile.clone();
    without["data"]["attributes"]
        .as_object_mut()
        .expect("attrs")
        .remove("phone_number");
    assert_eq!(
        send(&stub, "POST", "/api/profile-import", Some(&without))
            .await
            .0,
        201
    );

    let e = body("create_event.json");
    let (status, json) = send(&stub, "POST", "/api/events", Some(&e)).await;
    assert_eq!(status, 400);
    let err = &json.expect("body")["errors"][0];
    assert_eq!(err["code"], "invalid");
    assert!(
        err["detail"]
            .as_str()
            .expect("detail")
            .contains("phone number")
    );
    assert_eq!(stub.distinct_event_ids(), 0);

    let mut without = e.clone();
    without["data"]["attributes"]["profile"]["data"]["attributes"]
        .as_object_mut()
        .expect("attrs")
        .remove("phone_number");
    assert_eq!(
        send(&stub, "POST", "/api/events", Some(&without)).await.0,
        202
    );
    assert_eq!(stub.distinct_event_ids(), 1);
    // Simulated Klaviyo refusals are not our violations.
    assert!(stub.violations().is_empty(), "{:#?}", stub.violations());
}

#[tokio::test]
async fn bulk_create_events_counts_events_and_refuses_repeats_inside_a_job() {
    let stub = stub().await;
    let job = body("bulk_create_events.json");
    assert_eq!(
        send(&stub, "POST", "/api/event-bulk-create-jobs", Some(&job))
            .await
            .0,
        202
    );
    assert_eq!(stub.distinct_event_ids(), 1);
    // Stored in create-event shape, profile included.
    let stored = &stub.events()[0];
    assert_eq!(
        stored["data"]["attributes"]["profile"]["data"]["attributes"]["email"],
        "customer@example.com"
    );
    assert_eq!(
        Spec::shared().validate_request("POST", "/api/events", Some(stored)),
        Ok(())
    );

    let mut twice = job.clone();
    let events = &mut twice["data"]["attributes"]["events-bulk-create"]["data"][0]["attributes"]["events"]
        ["data"];
    let first = events[0].clone();
    events.as_array_mut().expect("events").push(first);
    assert_eq!(
        send(&stub, "POST", "/api/event-bulk-create-jobs", Some(&twice))
            .await
            .0,
        400
    );
    assert_eq!(stub.violations().len(), 1);
}

#[tokio::test]
async fn reset_forgets_history_but_keeps_accounts() {
    let stub = stub().await;
    send(
        &stub,
        "POST",
        "/api/events",
        Some(&body("create_event.json")),
    )
    .await;
    send(&stub, "POST", "/api/nope", Some(&json!({}))).await;
    stub.reset();
    assert!(stub.requests().is_empty());
    assert!(stub.violations().is_empty());
    assert!(stub.events().is_empty());
    assert_eq!(stub.distinct_event_ids(), 0);
    assert_eq!(stub.stats().requests, 0);
    assert_eq!(send(&stub, "GET", "/api/accounts", None).await.0, 200);
}

#[tokio::test]
async fn recording_off_keeps_counters_only() {
    let stub = stub().await;
    stub.set_recording(false);
    send(
        &stub,
        "POST",
        "/api/events",
        Some(&body("create_event.json")),
    )
    .await;
    send(&stub, "POST", "/api/nope", Some(&json!({}))).await;
    assert!(stub.requests().is_empty());
    assert!(stub.events().is_empty());
    assert_eq!(stub.distinct_event_ids(), 1);
    assert_eq!(stub.violations().len(), 1);
    let stats = stub.stats();
    assert_eq!(
        (stats.requests, stats.violations, stats.distinct_events),
        (2, 1, 1)
    );
}
