//! History import: an order, customer or product read from Salla's Merchant API yields what the
//! live webhook path sends for it, with the same `unique_id`s, and `backfill` as asked.

use crate::common;

use crate::never_panics::{arb_json, mutate};
use common::{as_event, plan_value, requests, sample_value};
use mapping::{
    Action, Backfill, Enrichment, EventRequest, KlaviyoRequest, MappingError, STATUS_METRICS,
    metrics,
};
use proptest::prelude::*;
use serde_json::{Value, json};

const STORE: &str = "1305146709";

fn live_events(body: &Value) -> Vec<EventRequest> {
    requests(plan_value(body, &Enrichment::default()))
        .into_iter()
        .filter_map(|r| match r {
            KlaviyoRequest::CreateEvent(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn history(detail: &Value, store: &str, backfill: Backfill) -> Vec<EventRequest> {
    let bytes = serde_json::to_vec(detail).expect("serializable");
    mapping::history_order(&bytes, store, &Enrichment::default(), backfill)
        .unwrap_or_else(|e| panic!("history_order: {e}"))
}

fn ids(events: &[EventRequest]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.metric.clone(), e.unique_id.clone().unwrap_or_default()))
        .collect()
}

fn store_of(sample: &Value) -> String {
    match &sample["merchant"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Each order.created sample's `data`, imported, starts with exactly the live requests.
#[test]
fn imported_order_repeats_the_live_order_created_events() {
    for sample in [
        "order.created.json",
        "order.created.webhook-actions-js.json",
    ] {
        let webhook = sample_value(sample);
        let live = live_events(&webhook);
        let imported = history(&webhook["data"], &store_of(&webhook), Backfill::No);
        assert!(
            live.len() >= 2,
            "{sample}: Placed Order and Ordered Product"
        );
        assert_eq!(
            imported[..live.len()],
            live[..],
            "{sample}: ids, properties, times"
        );
        assert_eq!(imported[0].metric, metrics::PLACED_ORDER);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    /// Whatever the order looks like, the import maps it exactly as the live path does: same
    /// metrics, ids, properties and profiles (the time only differs where the order has no
    /// date and the live path falls back to the delivery's own), or the same error.
    #[test]
    fn any_order_imports_as_it_maps_live(
        mutations in prop::collection::vec((any::<usize>(), any::<u8>(), arb_json()), 1..5),
    ) {
        let mut webhook = sample_value("order.created.json");
        let store = store_of(&webhook);
        for (pick, op, replacement) in mutations {
            webhook = mutate(webhook, pick, op, replacement);
        }
        let intact = webhook["event"] == json!("order.created")
            && webhook["merchant"] == sample_value("order.created.json")["merchant"]
            && webhook["data"].is_object();
        if !intact {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&webhook["data"]).expect("serializable");
        let imported =
            mapping::history_order(&bytes, &store, &Enrichment::default(), Backfill::No);
        match plan_value(&webhook, &Enrichment::default()) {
            Ok(Action::Send(live)) => {
                let imported = imported.expect("the live path mapped it");
                prop_assert!(imported.len() >= live.len());
                for (ours, theirs) in imported.iter().zip(&live) {
                    let KlaviyoRequest::CreateEvent(theirs) = theirs else {
                        panic!("order.created sends events");
                    };
                    prop_assert_eq!(&ours.metric, &theirs.metric);
                    prop_assert_eq!(&ours.unique_id, &theirs.unique_id);
                    prop_assert_eq!(&ours.properties, &theirs.properties);
                    prop_assert_eq!(&ours.profile, &theirs.profile);
                    prop_assert_eq!(
                        (ours.value, &ours.value_currency),
                        (theirs.value, &theirs.value_currency)
                    );
                }
            }
            Ok(Action::Ignore { .. }) => prop_assert_eq!(imported, Ok(Vec::new())),
            Ok(_) => {}
            Err(live_error) => prop_assert_eq!(imported, Err(live_error)),
        }
    }
}

/// The status part equals what the live `order.status.updated` sends for the same order and
/// status: the sample's `data.order`, imported, has the sample's status events (same metrics,
/// `unique_id`s and order properties; the live entry adds its note and its own time).
#[test]
fn imported_order_repeats_the_live_status_events() {
    let webhook = sample_value("order.status.updated.json");
    let live = live_events(&webhook);
    let imported = history(&webhook["data"]["order"], &store_of(&webhook), Backfill::No);
    let status_part = &imported[imported.len() - live.len()..];
    assert_eq!(ids(status_part), ids(&live));
    for (ours, theirs) in status_part.iter().zip(&live) {
        let mut theirs_props = theirs.properties.clone();
        theirs_props.remove("StatusNote");
        assert_eq!(ours.properties, theirs_props, "{}", ours.metric);
        assert_eq!(ours.profile, theirs.profile);
        assert_eq!(
            (ours.value, &ours.value_currency),
            (theirs.value, &theirs.value_currency)
        );
    }
    // Completed: Fulfilled Order and Order Status Updated, after the order.created events.
    assert_eq!(
        status_part
            .iter()
            .map(|e| e.metric.as_str())
            .collect::<Vec<_>>(),
        [metrics::FULFILLED_ORDER, metrics::ORDER_STATUS_UPDATED]
    );
    assert_eq!(imported[0].metric, metrics::PLACED_ORDER);
}

/// Every status slug with its own metrics brings them, with the live `unique_id`s.
#[test]
fn every_current_status_brings_its_live_metrics() {
    let webhook = sample_value("order.status.updated.json");
    for (slug, expected) in STATUS_METRICS {
        let mut live_body = webhook.clone();
        live_body["data"]["order"]["status"]["slug"] = json!(slug);
        let live = live_events(&live_body);
        let imported = history(
            &live_body["data"]["order"],
            &store_of(&webhook),
            Backfill::Yes,
        );
        let status_part = &imported[imported.len() - live.len()..];
        assert_eq!(ids(status_part), ids(&live), "{slug}");
        for (metric, _) in *expected {
            assert!(
                imported.iter().any(|e| e.metric == *metric),
                "{slug}: {metric}"
            );
        }
    }
}

#[test]
fn backfill_is_set_as_the_caller_asks() {
    let webhook = sample_value("order.created.json");
    let yes = history(&webhook["data"], STORE, Backfill::Yes);
    let no = history(&webhook["data"], STORE, Backfill::No);
    assert!(yes.iter().all(|e| e.backfill));
    assert!(no.iter().all(|e| !e.backfill));
    assert_eq!(ids(&yes), ids(&no));
}

/// Status events are timed at the order's `updated_at`, else `first_complete_at`, else the
/// order date.
#[test]
fn status_events_are_timed_at_the_last_update() {
    let completed = sample_value("order.status.updated.json")["data"]["order"].clone();
    let imported = history(&completed, STORE, Backfill::Yes);
    assert_eq!(
        imported[0].time.as_deref(),
        Some("2022-08-17T20:59:36+03:00")
    );
    assert_eq!(
        imported.last().and_then(|e| e.time.as_deref()),
        Some("2022-08-17T23:59:36+03:00"),
        "first_complete_at"
    );

    let mut detail = sample_value("order.created.json")["data"].clone();
    let placed = history(&detail, STORE, Backfill::Yes);
    let status = placed.last().expect("status event");
    assert_eq!(status.metric, metrics::ORDER_STATUS_UPDATED);
    assert_eq!(
        status.time, placed[0].time,
        "without updated_at: the order date"
    );
    detail["updated_at"] = json!("2022-07-01 10:00:00");
    let updated = history(&detail, STORE, Backfill::Yes);
    assert_eq!(
        updated.last().and_then(|e| e.time.as_deref()),
        Some("2022-07-01T10:00:00+03:00")
    );
    assert_eq!(
        updated[0].time, placed[0].time,
        "Placed Order keeps the order date"
    );
}

#[test]
fn a_draft_order_imports_nothing() {
    let mut detail = sample_value("order.created.json")["data"].clone();
    detail["draft"] = json!(true);
    assert_eq!(history(&detail, STORE, Backfill::Yes), []);
}

/// An order without a status slug still imports its order.created events.
#[test]
fn an_order_without_status_imports_its_placed_order() {
    let mut detail = sample_value("order.created.json")["data"].clone();
    detail["status"] = Value::Null;
    let imported = history(&detail, STORE, Backfill::Yes);
    assert!(
        imported
            .iter()
            .all(|e| e.metric != metrics::ORDER_STATUS_UPDATED)
    );
    assert_eq!(imported[0].metric, metrics::PLACED_ORDER);
}

#[test]
fn bad_input_is_an_error_naming_the_field() {
    let order = |bytes: &[u8], store: &str| {
        mapping::history_order(bytes, store, &Enrichment::default(), Backfill::Yes)
    };
    assert_eq!(order(b"not json", STORE), Err(MappingError::NotJson));
    assert_eq!(order(b"[1]", STORE), Err(MappingError::NotObject));
    assert_eq!(
        order(b"{}", STORE),
        Err(MappingError::MissingField("data.id"))
    );
    assert_eq!(
        order(br#"{"id":1,"status":{"slug":"completed"}}"#, STORE),
        Err(MappingError::MissingField("data.customer"))
    );
    for store in ["", "12a", "1\",\"event\":\"x"] {
        assert!(
            matches!(
                order(br#"{"id":1}"#, store),
                Err(MappingError::WrongType {
                    field: "merchant",
                    ..
                })
            ),
            "{store:?}"
        );
    }
    assert_eq!(
        mapping::history_customer(b"{}", STORE),
        Err(MappingError::MissingField("data.id"))
    );
    assert_eq!(
        mapping::history_product(b"\"x\"", STORE),
        Err(MappingError::NotObject)
    );
}

/// A `GET /customers` item becomes the profile the live customer path imports.
#[test]
fn imported_customer_is_the_live_profile() {
    let webhook = as_event("customer.login.json", "customer.created");
    let live = requests(plan_value(&webhook, &Enrichment::default()));
    let Some(KlaviyoRequest::ImportProfile(import)) = live.first() else {
        panic!("customer.created starts with a profile import");
    };
    let item = serde_json::to_vec(&webhook["data"]).expect("serializable");
    let profile = mapping::history_customer(&item, &store_of(&webhook)).expect("profile");
    assert_eq!(profile, import.profile);
    assert!(profile.external_id.is_some());
}

/// A `GET /products` item becomes the catalog upsert the live product path sends.
#[test]
fn imported_product_is_the_live_catalog_upsert() {
    let webhook = sample_value("product.created.json");
    let live = requests(plan_value(&webhook, &Enrichment::default()));
    let Some(KlaviyoRequest::UpsertCatalogItem(live_item)) = live.first() else {
        panic!("product.created is a catalog upsert");
    };
    let item = serde_json::to_vec(&webhook["data"]).expect("serializable");
    let upsert = mapping::history_product(&item, &store_of(&webhook)).expect("upsert");
    assert_eq!(&upsert, live_item);
    assert!(upsert.can_create());
}
