//! Every request the mapping produces, for every Salla sample and every synthetic delivery,
//! validates against Klaviyo's OpenAPI spec in strict mode (unknown keys rejected), including
//! the 409 fallback and the phone-stripped retry.

use crate::common;

use common::{plan_bytes, plan_value, samples, synthetic};
use mapping::{Action, Enrichment, KlaviyoRequest};

fn check(label: &str, request: &KlaviyoRequest, failures: &mut Vec<String>) -> usize {
    let spec = spec_check::Spec::shared();
    let mut checked = 0;
    let mut validate = |what: &str, method: &str, path: &str, body: Option<&serde_json::Value>| {
        checked += 1;
        if let Err(errors) = spec.validate_request(method, path, body) {
            failures.push(format!(
                "{label} [{what} {method} {path}]: {}",
                errors.join("; ")
            ));
        }
    };
    validate(
        &request.label(),
        request.method(),
        &request.path(),
        request.body().as_ref(),
    );
    if let Some((method, path, body)) = request.fallback(409) {
        validate("409 fallback", method, &path, Some(&body));
    }
    if let Some(retry) = request.without_phone() {
        validate(
            "without phone",
            retry.method(),
            &retry.path(),
            retry.body().as_ref(),
        );
    }
    checked
}

fn check_all(label: &str, action: &Action, failures: &mut Vec<String>) -> usize {
    match action {
        Action::Send(requests) => requests.iter().map(|r| check(label, r, failures)).sum(),
        _ => 0,
    }
}

#[test]
fn sample_requests_validate_strictly() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, body) in samples() {
        if let Ok(action) = plan_bytes(&body, &Enrichment::default()) {
            checked += check_all(&name, &action, &mut failures);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 12, "only {checked} requests checked");
}

#[test]
fn synthetic_requests_validate_strictly() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for (label, body, enrichment) in synthetic() {
        let action = plan_value(&body, &enrichment).unwrap_or_else(|e| panic!("{label}: {e}"));
        checked += check_all(&label, &action, &mut failures);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 60, "only {checked} requests checked");
}

/// The validator is not a rubber stamp: a misspelled key in one of our bodies is caught.
#[test]
fn strict_mode_catches_a_misspelled_key() {
    let (_, body) = samples()
        .into_iter()
        .find(|(n, _)| n == "order.created.json")
        .expect("sample");
    let Ok(Action::Send(requests)) = plan_bytes(&body, &Enrichment::default()) else {
        panic!("order.created must map to requests");
    };
    let mut wrong = requests[0].body().expect("event body");
    let attributes = wrong["data"]["attributes"]
        .as_object_mut()
        .expect("attributes");
    let unique = attributes.remove("unique_id").expect("unique_id present");
    attributes.insert("uniqueId".into(), unique);
    let spec = spec_check::Spec::shared();
    assert!(
        spec.validate_request("POST", "/api/events", Some(&wrong))
            .is_err()
    );
}

/// Placed Order of the order.created sample, as the live path builds it.
fn placed_order() -> mapping::EventRequest {
    let (_, body) = samples()
        .into_iter()
        .find(|(n, _)| n == "order.created.json")
        .expect("sample");
    let Ok(Action::Send(requests)) = plan_bytes(&body, &Enrichment::default()) else {
        panic!("order.created must map to requests");
    };
    match requests.into_iter().next() {
        Some(KlaviyoRequest::CreateEvent(event)) => event,
        other => panic!("expected Placed Order, got {other:?}"),
    }
}

#[test]
fn a_cod_placed_order_with_links_validates_strictly() {
    let mut failures = Vec::new();
    let checked = check_all(
        "cod order.created",
        &crate::golden::cod_placed_order_plan("cod").expect("plan"),
        &mut failures,
    );
    assert!(checked > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `backfill` exists on `create_event` attributes in this revision; it is sent only when set,
/// so live events keep their exact bodies.
#[test]
fn backfill_on_a_single_event_is_spec_valid_and_only_sent_when_set() {
    let spec = spec_check::Spec::shared();
    let mut event = placed_order();
    let live = KlaviyoRequest::CreateEvent(event.clone())
        .body()
        .expect("body");
    assert!(live["data"]["attributes"].get("backfill").is_none());
    event.backfill = true;
    let historic = KlaviyoRequest::CreateEvent(event).body().expect("body");
    assert_eq!(historic["data"]["attributes"]["backfill"], true);
    spec.validate_request("POST", "/api/events", Some(&historic))
        .unwrap_or_else(|e| panic!("{}", e.join("; ")));
}

/// In a bulk job `backfill` sits on each event (`BaseEventCreateQueryBulkEntryResourceObject`),
/// so one job can mix historical and recent events; sent only when set.
#[test]
fn backfill_in_a_bulk_job_is_spec_valid_and_only_sent_when_set() {
    let spec = spec_check::Spec::shared();
    let mut old = placed_order();
    old.backfill = true;
    let mut recent = placed_order();
    recent.unique_id = Some("salla:1:order:recent".into());
    let jobs = mapping::pack_events([old, recent]);
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(
        (job.method(), job.path().as_str()),
        ("POST", "/api/event-bulk-create-jobs")
    );
    let body = job.body().expect("body");
    let events = &body["data"]["attributes"]["events-bulk-create"]["data"][0]["attributes"]["events"]
        ["data"];
    assert_eq!(events[0]["attributes"]["backfill"], true);
    assert!(events[1]["attributes"].get("backfill").is_none());
    spec.validate_request("POST", "/api/event-bulk-create-jobs", Some(&body))
        .unwrap_or_else(|e| panic!("{}", e.join("; ")));

    // The validator is strict here too: `backfill` on the job itself is not in the spec.
    let mut wrong = body.clone();
    wrong["data"]["attributes"]["backfill"] = serde_json::json!(true);
    assert!(
        spec.validate_request("POST", "/api/event-bulk-create-jobs", Some(&wrong))
            .is_err()
    );
}

#[test]
fn a_profile_bulk_job_is_spec_valid() {
    let spec = spec_check::Spec::shared();
    let profile = placed_order().profile.as_ref().clone();
    let jobs = mapping::pack_profiles([profile]);
    let job = &jobs[0];
    assert_eq!(
        (job.method(), job.path().as_str()),
        ("POST", "/api/profile-bulk-import-jobs")
    );
    spec.validate_request(job.method(), &job.path(), job.body().as_ref())
        .unwrap_or_else(|e| panic!("{}", e.join("; ")));
}
