//! Bulk packing: every event (profile) put in comes out exactly once, every job keeps Klaviyo's
//! limits (measured on the serialized body), no job holds a repeated (metric, unique_id) or two
//! profiles sharing an identifier, and every job is spec-valid.

use crate::common;

use common::sample_value;
use mapping::{
    Backfill, BulkLimits, Enrichment, EventPacker, EventRequest, KlaviyoRequest, Profile,
    ProfilePacker, Properties, pack_events, pack_events_within, pack_profiles,
    pack_profiles_within,
};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

fn spec_valid(request: &KlaviyoRequest) -> Result<(), String> {
    spec_check::Spec::shared()
        .validate_request(request.method(), &request.path(), request.body().as_ref())
        .map_err(|e| format!("{} {}: {}", request.method(), request.path(), e.join("; ")))
}

fn body_bytes(request: &KlaviyoRequest) -> usize {
    serde_json::to_vec(&request.body().expect("a body"))
        .expect("serializable")
        .len()
}

/// First occurrences, in order.
fn distinct<T: PartialEq + Clone>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::new();
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}

/// Checks every invariant of an event packing and returns how many jobs it made.
fn check_events(input: &[EventRequest], out: &[KlaviyoRequest], limits: BulkLimits) -> usize {
    let mut seen: Vec<EventRequest> = Vec::new();
    let mut jobs = 0;
    for request in out {
        match request {
            KlaviyoRequest::BulkCreateEvents(job) => {
                jobs += 1;
                assert!(!job.is_empty());
                assert!(job.len() <= limits.max_items, "{} events", job.len());
                assert_eq!(job.body_len(), body_bytes(request), "exact size");
                assert!(
                    job.body_len() <= limits.max_bytes,
                    "{} bytes",
                    job.body_len()
                );
                let mut keys = HashSet::new();
                for e in job.events() {
                    // Stricter than Klaviyo's (profile, metric, unique_id): Klaviyo may merge
                    // two profiles; without a unique_id the time to the second is the key.
                    let key = match &e.unique_id {
                        Some(u) => (e.metric.clone(), format!("id:{u}")),
                        None => {
                            let time = e.time.as_deref().unwrap_or("now");
                            (
                                e.metric.clone(),
                                format!("t:{}", time.split('.').next().unwrap_or("")),
                            )
                        }
                    };
                    assert!(keys.insert(key), "repeated key inside a job");
                }
                let body = request.body().expect("body");
                let entries = body["data"]["attributes"]["events-bulk-create"]["data"]
                    .as_array()
                    .expect("entries")
                    .clone();
                let profiles: Vec<&Value> = entries
                    .iter()
                    .map(|e| &e["attributes"]["profile"]["data"]["attributes"])
                    .collect();
                assert_eq!(
                    profiles.len(),
                    distinct(&profiles).len(),
                    "one entry per profile"
                );
                spec_valid(request).unwrap_or_else(|e| panic!("{e}"));
                seen.extend(job.events().cloned());
            }
            KlaviyoRequest::CreateEvent(e) => seen.push(e.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }
    let want = distinct(input);
    assert_eq!(seen.len(), want.len(), "each distinct event exactly once");
    for e in &want {
        assert_eq!(seen.iter().filter(|s| *s == e).count(), 1);
    }
    jobs
}

fn profile(i: usize) -> Profile {
    Profile {
        external_id: Some(format!("salla:1:customer:{i}")),
        email: i.is_multiple_of(2).then(|| format!("c{i}@example.com")),
        phone_number: i.is_multiple_of(3).then(|| format!("+96650123456{i}")),
        ..Profile::default()
    }
}

fn arb_event() -> impl Strategy<Value = EventRequest> {
    (
        prop::sample::select(vec!["Placed Order", "Ordered Product", "Fulfilled Order"]),
        0usize..5,
        prop::option::weighted(0.9, 0usize..6),
        prop::option::of(prop::sample::select(vec![
            "2026-01-01T10:00:00+03:00",
            "2026-01-01T10:00:00.500+03:00",
            "2026-02-01T10:00:00Z",
        ])),
        prop::option::of(0u32..1000),
        any::<bool>(),
        0usize..3000,
    )
        .prop_map(|(metric, p, unique, time, value, backfill, note)| {
            let mut props = Properties::new();
            props.insert("OrderId", json!(unique.unwrap_or(0).to_string()));
            props.insert("Note", json!("ن".repeat(note / 2)));
            EventRequest {
                metric: metric.to_owned(),
                profile: Arc::new(profile(p)),
                properties: props,
                time: time.map(str::to_owned),
                value: value.map(f64::from),
                value_currency: value.map(|_| "SAR".to_owned()),
                unique_id: unique.map(|u| format!("salla:1:order:{u}")),
                backfill,
            }
        })
}

/// Some events twice, as a re-read page or a repeated order would bring them.
fn with_repeats(mut events: Vec<EventRequest>, picks: &[usize]) -> Vec<EventRequest> {
    if !events.is_empty() {
        for &p in picks {
            let e = events[p % events.len()].clone();
            events.push(e);
        }
    }
    events
}

fn arb_profile() -> impl Strategy<Value = Profile> {
    (
        prop::option::of(0usize..6),
        prop::option::of(0usize..6),
        prop::option::of(0usize..6),
        0usize..400,
    )
        .prop_map(|(email, phone, external, name)| Profile {
            email: email.map(|i| format!("C{i}@Example.com")),
            phone_number: phone.map(|i| format!("+96650123456{i}")),
            external_id: external.map(|i| format!("salla:1:customer:{i}")),
            first_name: (name > 0).then(|| "ن".repeat(name)),
            ..Profile::default()
        })
}

fn identifiers(p: &Profile) -> Vec<String> {
    [
        p.email.as_ref().map(|e| format!("e:{}", e.to_lowercase())),
        p.phone_number.as_ref().map(|x| format!("p:{x}")),
        p.external_id.as_ref().map(|x| format!("x:{x}")),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn check_profiles(input: &[Profile], out: &[KlaviyoRequest], limits: BulkLimits) {
    let mut seen: Vec<Profile> = Vec::new();
    for request in out {
        match request {
            KlaviyoRequest::BulkImportProfiles(job) => {
                assert!(!job.is_empty());
                assert!(job.len() <= limits.max_items);
                assert_eq!(job.body_len(), body_bytes(request), "exact size");
                assert!(job.body_len() <= limits.max_bytes);
                let mut ids = HashSet::new();
                for p in job.profiles() {
                    for id in identifiers(p) {
                        assert!(ids.insert(id), "two profiles share an identifier");
                    }
                }
                spec_valid(request).unwrap_or_else(|e| panic!("{e}"));
                seen.extend(job.profiles().iter().cloned());
            }
            KlaviyoRequest::ImportProfile(import) => seen.push(import.profile.clone()),
            other => panic!("unexpected {other:?}"),
        }
    }
    let want = distinct(input);
    assert_eq!(seen.len(), want.len(), "each distinct profile exactly once");
    for p in &want {
        assert_eq!(seen.iter().filter(|s| *s == p).count(), 1);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, .. ProptestConfig::default() })]

    #[test]
    fn events_are_packed_exactly_once_within_limits(
        events in prop::collection::vec(arb_event(), 0..40),
        picks in prop::collection::vec(any::<usize>(), 0..10),
        max_items in 1usize..12,
        max_bytes in 1_000usize..12_000,
    ) {
        let events = with_repeats(events, &picks);
        let limits = BulkLimits { max_items, max_bytes, max_item_bytes: 4_000 };
        let out = pack_events_within(events.clone(), limits);
        check_events(&events, &out, limits);
    }

    /// Streaming: jobs taken while events still arrive keep every limit, and every event
    /// comes out (exactly once unless its identical repeat arrived after its job was taken).
    #[test]
    fn streamed_events_keep_the_limits(
        events in prop::collection::vec(arb_event(), 0..40),
        takes in prop::collection::vec(any::<bool>(), 40),
        max_items in 1usize..12,
        max_bytes in 1_000usize..12_000,
    ) {
        let limits = BulkLimits { max_items, max_bytes, max_item_bytes: 4_000 };
        let mut packer = EventPacker::new(limits);
        let mut out = Vec::new();
        for (event, take) in events.iter().zip(&takes) {
            packer.push(event.clone());
            if *take {
                out.extend(packer.take_ready());
            }
        }
        out.extend(packer.finish());
        let distinct_in = distinct(&events);
        let mut seen: Vec<EventRequest> = Vec::new();
        for request in &out {
            match request {
                KlaviyoRequest::BulkCreateEvents(job) => {
                    // One job on its own meets every per-job rule.
                    check_events(&job.events().cloned().collect::<Vec<_>>(), std::slice::from_ref(request), limits);
                    seen.extend(job.events().cloned());
                }
                KlaviyoRequest::CreateEvent(e) => seen.push(e.clone()),
                other => panic!("unexpected {other:?}"),
            }
        }
        for e in &distinct_in {
            prop_assert!(seen.contains(e), "an event went missing");
        }
        for e in &seen {
            prop_assert!(distinct_in.contains(e), "an event came from nowhere");
        }
        if takes.iter().take(events.len()).all(|t| !t) {
            prop_assert_eq!(seen.len(), distinct_in.len());
        }
    }

    #[test]
    fn profiles_are_packed_exactly_once_within_limits(
        profiles in prop::collection::vec(arb_profile(), 0..40),
        max_items in 1usize..8,
        max_bytes in 300usize..3_000,
    ) {
        let limits = BulkLimits { max_items, max_bytes, max_item_bytes: 700 };
        let out = pack_profiles_within(profiles.clone(), limits);
        check_profiles(&profiles, &out, limits);
    }
}

/// The order.created sample as `n` imported orders (order ids changed), with `backfill`.
fn imported_orders(n: usize) -> Vec<EventRequest> {
    let webhook = sample_value("order.created.json");
    let mut out = Vec::new();
    for i in 0..n {
        let mut detail = webhook["data"].clone();
        detail["id"] = json!(1_000_000 + i);
        detail["customer"]["id"] = json!(500 + i % 7);
        let bytes = serde_json::to_vec(&detail).expect("serializable");
        out.extend(
            mapping::history_order(&bytes, "1305146709", &Enrichment::default(), Backfill::Yes)
                .expect("maps"),
        );
    }
    out
}

/// Real orders at Klaviyo's real limits: 1,000 events per job, and a re-read page (every
/// event twice) adds nothing.
#[test]
fn imported_orders_fill_jobs_of_a_thousand() {
    let events = imported_orders(400);
    let mut twice = events.clone();
    twice.extend(events.iter().cloned());
    let out = pack_events(twice.clone());
    let jobs = check_events(&twice, &out, BulkLimits::EVENTS);
    assert_eq!(jobs, events.len().div_ceil(1_000));
    assert!(matches!(&out[0], KlaviyoRequest::BulkCreateEvents(job) if job.len() == 1_000));
}

/// Large events reach the 5 MB cap before 1,000 events; one too large for any job is sent
/// alone.
#[test]
fn the_byte_limit_splits_jobs_and_an_oversized_event_goes_alone() {
    let mut events = imported_orders(2);
    let template = events[0].clone();
    for i in 0..120 {
        let mut e = template.clone();
        e.unique_id = Some(format!("big-{i}"));
        e.properties.insert("Note", json!("x".repeat(90_000)));
        events.push(e);
    }
    let mut huge = template.clone();
    huge.unique_id = Some("huge".into());
    for k in 0..60 {
        huge.properties
            .insert(format!("Blob{k:02}"), json!("y".repeat(100_000)));
    }
    events.push(huge.clone());
    let out = pack_events(events.clone());
    let jobs = check_events(&events, &out, BulkLimits::EVENTS);
    assert!(jobs >= 3, "{jobs} jobs for about 11 MB");
    assert_eq!(out.last(), Some(&KlaviyoRequest::CreateEvent(huge)));
}

#[test]
fn profiles_fill_jobs_of_ten_thousand() {
    let profiles: Vec<Profile> = (0..10_500).map(profile).collect();
    let out = pack_profiles(profiles.clone());
    check_profiles(&profiles, &out, BulkLimits::PROFILES);
    assert_eq!(out.len(), 2);
    assert!(matches!(&out[0], KlaviyoRequest::BulkImportProfiles(job) if job.len() == 10_000));
}

/// Imported customers as profiles, packed: the same profiles the live path imports.
#[test]
fn imported_customers_pack_into_one_job() {
    let webhook = sample_value("customer.login.json");
    let profiles: Vec<Profile> = (0..50)
        .map(|i| {
            let mut item = webhook["data"].clone();
            item["id"] = json!(9_000 + i);
            item["email"] = json!(format!("shopper{i}@example.com"));
            item["mobile"] = json!(501_234_000 + i);
            let bytes = serde_json::to_vec(&item).expect("serializable");
            mapping::history_customer(&bytes, "1305146709").expect("profile")
        })
        .collect();
    let out = pack_profiles(profiles.clone());
    check_profiles(&profiles, &out, BulkLimits::PROFILES);
    assert_eq!(out.len(), 1);
}

/// A long import sends full jobs while it reads: the packer hands back each job once it is
/// done, not only at the end.
#[test]
fn the_packer_hands_back_full_jobs_while_events_arrive() {
    let events = imported_orders(700);
    let mut packer = EventPacker::new(BulkLimits::EVENTS);
    let mut early = Vec::new();
    for chunk in events.chunks(5) {
        chunk.iter().cloned().for_each(|e| packer.push(e));
        early.extend(packer.take_ready());
    }
    let rest = packer.finish();
    assert_eq!(
        early.len(),
        events.len() / 1_000,
        "every full job before the end"
    );
    assert!(
        early
            .iter()
            .all(|j| matches!(j, KlaviyoRequest::BulkCreateEvents(job) if job.len() == 1_000))
    );
    let mut all = early;
    all.extend(rest);
    check_events(&events, &all, BulkLimits::EVENTS);
}

/// Profiles stream the same way: a full job comes back before the end.
#[test]
fn the_profile_packer_hands_back_full_jobs() {
    let limits = BulkLimits {
        max_items: 100,
        ..BulkLimits::PROFILES
    };
    let profiles: Vec<Profile> = (0..250).map(profile).collect();
    let mut packer = ProfilePacker::new(limits);
    let mut early = Vec::new();
    for p in &profiles {
        packer.push(p.clone());
        early.extend(packer.take_ready());
    }
    assert_eq!(early.len(), 2);
    let mut all = early;
    all.extend(packer.finish());
    check_profiles(&profiles, &all, limits);
}
