//! Strict validation against the real `stable.json`.
//!
//! Bodies in `tests/bodies/` are example requests for Create Event, Bulk Create Events, Create or
//! Update Profile and Subscribe Profiles; the catalog bodies follow Create Catalog Item's field
//! list.

use serde_json::{Value, json};
use spec_check::Spec;

fn spec() -> &'static Spec {
    Spec::shared()
}

fn body(name: &str) -> Value {
    let path = format!("{}/tests/bodies/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn errors(method: &str, path: &str, body: &Value) -> Vec<String> {
    spec()
        .validate_request(method, path, Some(body))
        .expect_err("expected the body to be rejected")
}

fn assert_valid(method: &str, path: &str, body: &Value) {
    if let Err(e) = spec().validate_request(method, path, Some(body)) {
        panic!("{method} {path} rejected a valid body: {e:#?}");
    }
}

/// Removes the value at a JSON pointer (its parent must be an object).
fn remove(body: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .and_then(|o| o.remove(key))
        .unwrap_or_else(|| panic!("nothing at {pointer}"));
}

/// Sets (or adds, when the parent is an object) the value at a JSON pointer.
fn set(body: &mut Value, pointer: &str, value: Value) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    match body.pointer_mut(parent) {
        Some(Value::Object(obj)) => {
            obj.insert(key.to_owned(), value);
        }
        Some(Value::Array(items)) => {
            let i: usize = key.parse().expect("array index");
            items[i] = value;
        }
        _ => panic!("nothing at {parent}"),
    }
}

fn rename(body: &mut Value, pointer: &str, new_key: &str) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer");
    let obj = body
        .pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("parent object");
    let v = obj
        .remove(key)
        .unwrap_or_else(|| panic!("nothing at {pointer}"));
    obj.insert(new_key.to_owned(), v);
}

fn has(errs: &[String], needle: &str) -> bool {
    errs.iter().any(|e| e.contains(needle))
}

#[test]
fn reference_examples_validate() {
    assert_valid("POST", "/api/events", &body("create_event.json"));
    assert_valid(
        "POST",
        "/api/event-bulk-create-jobs",
        &body("bulk_create_events.json"),
    );
    assert_valid("POST", "/api/profile-import", &body("profile_import.json"));
    assert_valid(
        "POST",
        "/api/profile-subscription-bulk-create-jobs",
        &body("bulk_subscribe.json"),
    );
    assert_valid(
        "POST",
        "/api/catalog-items",
        &body("create_catalog_item.json"),
    );
    assert_valid(
        "PATCH",
        "/api/catalog-items/$custom:::$default:::1122",
        &body("update_catalog_item.json"),
    );
}

#[test]
fn missing_metric_is_rejected_with_pointer() {
    let mut b = body("create_event.json");
    remove(&mut b, "/data/attributes/metric");
    let errs = errors("POST", "/api/events", &b);
    assert!(
        has(
            &errs,
            "/data/attributes: missing required property `metric`"
        ),
        "{errs:#?}"
    );
}

#[test]
fn misspelled_keys_are_rejected() {
    for (from, to) in [
        ("/data/attributes/unique_id", "uniqueId"),
        ("/data/attributes/value_currency", "valueCurrency"),
    ] {
        let mut b = body("create_event.json");
        rename(&mut b, from, to);
        let errs = errors("POST", "/api/events", &b);
        let expected = format!("/data/attributes/{to}: unknown property");
        assert!(has(&errs, &expected), "{to}: {errs:#?}");
        assert_eq!(errs.len(), 1, "{errs:#?}");
    }
}

#[test]
fn unknown_keys_deep_in_closed_objects_are_rejected() {
    let mut b = body("create_event.json");
    set(
        &mut b,
        "/data/attributes/profile/data/attributes/location/postcode",
        json!("12345"),
    );
    let errs = errors("POST", "/api/events", &b);
    assert!(
        has(
            &errs,
            "/data/attributes/profile/data/attributes/location/postcode: unknown property"
        ),
        "{errs:#?}"
    );

    let mut b = body("bulk_subscribe.json");
    set(
        &mut b,
        "/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consnet",
        json!("SUBSCRIBED"),
    );
    let errs = errors("POST", "/api/profile-subscription-bulk-create-jobs", &b);
    assert!(
        has(&errs, "/email/marketing/consnet: unknown property"),
        "{errs:#?}"
    );
}

#[test]
fn free_form_objects_accept_any_keys() {
    let mut b = body("create_event.json");
    set(
        &mut b,
        "/data/attributes/properties/AnythingGoes",
        json!({"nested": [1, "two", null]}),
    );
    set(
        &mut b,
        "/data/attributes/profile/data/attributes/properties/Whatever",
        json!(true),
    );
    assert_valid("POST", "/api/events", &b);

    let mut b = body("create_catalog_item.json");
    set(
        &mut b,
        "/data/attributes/custom_metadata/AnyKey",
        json!(["x"]),
    );
    assert_valid("POST", "/api/catalog-items", &b);

    let mut b = body("profile_import.json");
    set(
        &mut b,
        "/data/meta/patch_properties/unappend",
        json!({"Salla Coupons Used": "OLD"}),
    );
    assert_valid("POST", "/api/profile-import", &b);
}

#[test]
fn wrong_types_are_rejected() {
    let cases = [
        (
            "/data/attributes/value",
            json!("315.0"),
            "expected number, found string",
        ),
        (
            "/data/attributes/properties",
            json!([]),
            "expected object, found array",
        ),
        (
            "/data/attributes/unique_id",
            json!(42),
            "expected string, found integer",
        ),
        ("/data/type", json!("events"), "value not in enum"),
    ];
    for (pointer, value, message) in cases {
        let mut b = body("create_event.json");
        set(&mut b, pointer, value);
        let errs = errors("POST", "/api/events", &b);
        assert!(
            has(&errs, &format!("{pointer}: {message}")),
            "{pointer}: {errs:#?}"
        );
    }
}

#[test]
fn nullable_fields_accept_null_and_others_do_not() {
    let mut b = body("create_event.json");
    set(&mut b, "/data/attributes/value", Value::Null);
    set(
        &mut b,
        "/data/attributes/profile/data/attributes/location",
        Value::Null,
    );
    assert_valid("POST", "/api/events", &b);

    let mut b = body("create_event.json");
    set(
        &mut b,
        "/data/attributes/metric/data/attributes/name",
        Value::Null,
    );
    let errs = errors("POST", "/api/events", &b);
    assert!(
        has(
            &errs,
            "/metric/data/attributes/name: expected string, found null"
        ),
        "{errs:#?}"
    );
}

#[test]
fn bad_date_times_are_rejected() {
    for bad in [
        "2026-11-20 10:15:00",
        "2026-11-20T10:15:00",
        "20/11/2026",
        "2026-02-30T10:00:00Z",
    ] {
        let mut b = body("create_event.json");
        set(&mut b, "/data/attributes/time", json!(bad));
        let errs = errors("POST", "/api/events", &b);
        assert!(
            has(&errs, "/data/attributes/time: not a valid date-time"),
            "{bad}: {errs:#?}"
        );
    }
}

#[test]
fn one_of_alternatives_are_checked() {
    let mut b = body("profile_import.json");
    set(&mut b, "/data/attributes/location/latitude", json!(24.7));
    assert_valid("POST", "/api/profile-import", &b);
    set(&mut b, "/data/attributes/location/latitude", json!("24.7"));
    assert_valid("POST", "/api/profile-import", &b);
    set(&mut b, "/data/attributes/location/latitude", json!(true));
    let errs = errors("POST", "/api/profile-import", &b);
    assert!(
        has(&errs, "/location/latitude: matches none of the 2 oneOf"),
        "{errs:#?}"
    );
}

#[test]
fn unknown_operations_are_rejected() {
    let b = body("create_event.json");
    let errs = errors("POST", "/api/eventz", &b);
    assert!(has(&errs, "no operation POST /api/eventz"), "{errs:#?}");
    // Right path, wrong method.
    let errs = errors("PUT", "/api/events", &b);
    assert!(has(&errs, "no operation PUT /api/events"), "{errs:#?}");
    assert!(spec().validate_request("GET", "/nope", None).is_err());
}

#[test]
fn body_presence_follows_the_spec() {
    // DELETE takes no body and needs none.
    assert_eq!(
        spec().validate_request(
            "DELETE",
            "/api/catalog-items/$custom:::$default:::1122",
            None
        ),
        Ok(())
    );
    // GET with a query string.
    assert_eq!(
        spec().validate_request("GET", "/api/accounts?fields[account]=public_api_key", None),
        Ok(())
    );
    // A required body that is absent.
    let errs = spec()
        .validate_request("POST", "/api/events", None)
        .expect_err("body required");
    assert!(has(&errs, "requires a request body"), "{errs:#?}");
    // A body where the operation takes none.
    let errs = errors("GET", "/api/accounts", &json!({}));
    assert!(has(&errs, "takes no request body"), "{errs:#?}");
}

#[test]
fn paths_match_templates_with_urls_queries_and_encoding() {
    let found = spec()
        .find_operation(
            "patch",
            "http://127.0.0.1:1/api/catalog-items/%24custom%3A%3A%3A%24default%3A%3A%3A1122?x=1",
        )
        .expect("operation");
    assert_eq!(found.template, "/api/catalog-items/{id}");
    assert_eq!(found.operation_id.as_deref(), Some("update_catalog_item"));
    assert_eq!(found.param("id"), Some("$custom:::$default:::1122"));

    let found = spec()
        .find_operation("POST", "/api/events/")
        .expect("trailing slash");
    assert_eq!(found.operation_id.as_deref(), Some("create_event"));
    assert!(
        spec()
            .find_operation("POST", "/api/events/extra/segments")
            .is_none()
    );
}

#[test]
fn revision_is_the_pinned_one() {
    assert_eq!(spec().revision(), Some("2026-07-15"));
}

#[test]
fn missing_spec_file_is_an_error_not_a_panic() {
    let err = Spec::load(std::path::Path::new("/definitely/not/here.json")).expect_err("absent");
    assert!(err.contains("cannot read OpenAPI spec"), "{err}");
}

/// Figures for docs/performance.md: `cargo test -p spec-check --release --test suite timings -- --nocapture`.
#[test]
fn load_and_validation_timings_are_reported() {
    let started = std::time::Instant::now();
    let spec = Spec::load_default();
    let load = started.elapsed();
    let event = body("create_event.json");
    const N: u32 = 1000;
    let started = std::time::Instant::now();
    for _ in 0..N {
        assert_eq!(
            spec.validate_request("POST", "/api/events", Some(&event)),
            Ok(())
        );
    }
    let per_body = started.elapsed() / N;
    eprintln!(
        "spec-check: load stable.json {load:?}; validate create-event body {per_body:?} each"
    );
}

/// Klaviyo's numeric filters take `oneOf: [integer, number]`: a whole number matches both
/// alternatives and is still one valid value; a string is still refused.
#[test]
fn an_integer_or_number_union_takes_whole_numbers() {
    let segment = |value: Value| {
        json!({"data": {"type": "segment", "attributes": {"name": "n", "definition": {
            "condition_groups": [{"conditions": [{
                "type": "profile-metric", "metric_id": "M1", "measurement": "count",
                "measurement_filter": {"type": "numeric", "operator": "equals", "value": value},
                "timeframe_filter": {"type": "date", "operator": "alltime"}
            }]}]
        }}}})
    };
    assert_valid("POST", "/api/segments", &segment(json!(3)));
    assert_valid("POST", "/api/segments", &segment(json!(3.5)));
    assert!(!errors("POST", "/api/segments", &segment(json!("3"))).is_empty());
}
