//! `Debug` of a planned request never prints shopper data: a stray `{:?}` in a log line,
//! a panic message or an error must not leak an email, a phone, a name or an address.

use crate::common::*;
use mapping::{KlaviyoRequest, Profile};
use serde_json::{Value, json};

/// Every personal value a request carries: the profile's identifiers, names and location,
/// the consent's email and phone, and every string property of the profile but the store id.
fn personal_values(request: &KlaviyoRequest) -> Vec<String> {
    fn of_profile(p: &Profile, out: &mut Vec<String>) {
        out.extend(p.email.iter().cloned());
        out.extend(p.phone_number.iter().cloned());
        out.extend(p.first_name.iter().cloned());
        out.extend(p.last_name.iter().cloned());
        if let Some(l) = &p.location {
            out.extend([&l.city, &l.region, &l.zip].into_iter().flatten().cloned());
        }
        // The store id is operational metadata (every log line carries it).
        for (k, v) in p.properties.iter() {
            if let (false, Value::String(s)) = (k == mapping::STORE_PROPERTY, v) {
                out.push(s.clone());
            }
        }
    }
    let mut out = Vec::new();
    match request {
        KlaviyoRequest::CreateEvent(e) => of_profile(&e.profile, &mut out),
        KlaviyoRequest::ImportProfile(i) => of_profile(&i.profile, &mut out),
        KlaviyoRequest::Subscribe(s) => {
            out.extend(s.email.iter().cloned());
            out.extend(s.phone_number.iter().cloned());
        }
        KlaviyoRequest::BulkCreateEvents(job) => {
            job.events().for_each(|e| of_profile(&e.profile, &mut out))
        }
        KlaviyoRequest::BulkImportProfiles(job) => {
            job.profiles().iter().for_each(|p| of_profile(p, &mut out))
        }
        _ => {}
    }
    // Short values ("SA", "ar") would match unrelated text; the identifying ones are longer.
    out.retain(|v| v.len() >= 5);
    out
}

/// A new customer who opted in to both channels, so the plan holds a profile import, an
/// event and a consent request.
fn opted_in_customer() -> Value {
    let mut v = as_event("customer.login.json", "customer.created");
    let data = &mut v["data"];
    data["email"] = json!("leak.check@example.com");
    data["mobile"] = json!(501806978);
    data["mobile_code"] = json!("+966");
    data["first_name"] = json!("Leakfirst");
    data["last_name"] = json!("Leaklast");
    for flag in mapping::EMAIL_OPT_IN_FLAGS
        .iter()
        .chain(mapping::SMS_OPT_IN_FLAGS)
    {
        data[*flag] = json!(true);
    }
    v
}

#[test]
fn debug_of_planned_requests_holds_no_personal_data() {
    let mut bodies: Vec<(String, Vec<u8>)> = samples();
    bodies.push((
        "opted-in customer".into(),
        serde_json::to_vec(&opted_in_customer()).unwrap(),
    ));
    let mut checked = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (name, body) in bodies {
        let Ok(mapping::Action::Send(requests)) = plan_bytes(&body, &cart_enrichment()) else {
            continue;
        };
        for request in &requests {
            let values = personal_values(request);
            for rendered in [format!("{request:?}"), format!("{request:#?}")] {
                for value in &values {
                    assert!(
                        !rendered.contains(value.as_str()),
                        "{name}: Debug of {} prints {value:?}: {rendered}",
                        request.label()
                    );
                }
            }
            checked += values.len();
            kinds.insert(match request {
                KlaviyoRequest::CreateEvent(_) => "event",
                KlaviyoRequest::ImportProfile(_) => "profile",
                KlaviyoRequest::Subscribe(_) => "subscribe",
                _ => "catalog",
            });
        }
    }
    assert!(checked >= 20, "only {checked} personal values checked");
    assert_eq!(kinds.len(), 4, "request kinds seen: {kinds:?}");
}

/// Bulk jobs of imported history print no more than the requests in them.
#[test]
fn debug_of_bulk_jobs_holds_no_personal_data() {
    let customer = opted_in_customer();
    let item = serde_json::to_vec(&customer["data"]).unwrap();
    let profile = mapping::history_customer(&item, "1305146709").expect("profile");
    let order = sample_value("order.created.json");
    let detail = serde_json::to_vec(&order["data"]).unwrap();
    let events = mapping::history_order(
        &detail,
        "1305146709",
        &cart_enrichment(),
        mapping::Backfill::Yes,
    )
    .expect("order");
    let mut jobs = mapping::pack_events(events);
    jobs.extend(mapping::pack_profiles([profile]));
    let mut checked = 0;
    for job in &jobs {
        let values = personal_values(job);
        assert!(!values.is_empty(), "{}", job.label());
        for rendered in [format!("{job:?}"), format!("{job:#?}")] {
            for value in &values {
                assert!(
                    !rendered.contains(value.as_str()),
                    "{} prints {value:?}",
                    job.label()
                );
            }
        }
        checked += values.len();
    }
    assert!(checked >= 4, "only {checked} personal values checked");
}
