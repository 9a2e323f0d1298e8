//! Every Salla sample → its expected plan, byte for byte, in tests/golden/<sample name>.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p mapping --test suite golden`, then review by hand.

use crate::common;

use common::{plan_bytes, render, sample_value, samples};
use mapping::{Action, Backfill, Enrichment, KlaviyoRequest};
use std::path::PathBuf;

fn golden_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden"))
}

#[test]
fn every_sample_matches_its_golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut mismatches = Vec::new();
    for (name, body) in samples() {
        let actual = render(&plan_bytes(&body, &Enrichment::default()));
        let path = golden_dir().join(&name);
        if update {
            let text = serde_json::to_string_pretty(&actual).expect("serializable") + "\n";
            std::fs::write(&path, text).expect("write golden");
            continue;
        }
        let expected: serde_json::Value = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).expect("golden is JSON"),
            Err(e) => {
                mismatches.push(format!("{name}: no golden ({e}); run with UPDATE_GOLDEN=1"));
                continue;
            }
        };
        if actual != expected {
            mismatches.push(format!(
                "{name}: plan differs from its golden\n--- actual ---\n{}",
                serde_json::to_string_pretty(&actual).unwrap_or_default()
            ));
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

#[test]
fn no_stale_goldens() {
    let samples: Vec<String> = samples().into_iter().map(|(name, _)| name).collect();
    for entry in std::fs::read_dir(golden_dir()).expect("golden dir") {
        let entry = entry.expect("entry");
        if entry.path().is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(samples.contains(&name), "golden {name} has no sample");
    }
    let history: Vec<&str> = HISTORY.iter().map(|(name, _)| *name).collect();
    for entry in std::fs::read_dir(golden_dir().join("history")).expect("history goldens") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(
            history.contains(&name.as_str()),
            "history golden {name} has no case"
        );
    }
}

/// History cases: the golden's name and the Merchant API object taken from a sample (an order
/// detail mirrors the webhook order model).
const HISTORY: &[(&str, &str)] = &[
    ("order.created.json", "/data"),
    ("order.status.updated.json", "/data/order"),
    ("customer.login.json", "/data"),
    ("product.created.json", "/data"),
];

/// What the import sends for one object: orders and customers as bulk jobs, with `backfill`;
/// products as the catalog upsert.
fn history_requests(sample: &str, pointer: &str) -> Vec<KlaviyoRequest> {
    let webhook = sample_value(sample);
    let store = match &webhook["merchant"] {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let item = serde_json::to_vec(webhook.pointer(pointer).expect("object")).expect("json");
    if sample.starts_with("order.") {
        let events = mapping::history_order(&item, &store, &Enrichment::default(), Backfill::Yes)
            .expect("order maps");
        mapping::pack_events(events)
    } else if sample.starts_with("customer.") {
        mapping::pack_profiles([mapping::history_customer(&item, &store).expect("profile")])
    } else {
        vec![KlaviyoRequest::UpsertCatalogItem(
            mapping::history_product(&item, &store).expect("product"),
        )]
    }
}

#[test]
fn every_history_case_matches_its_golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let dir = golden_dir().join("history");
    let mut mismatches = Vec::new();
    for (name, pointer) in HISTORY {
        let actual = render(&Ok(Action::Send(history_requests(name, pointer))));
        let path = dir.join(name);
        if update {
            std::fs::create_dir_all(&dir).expect("history golden dir");
            let text = serde_json::to_string_pretty(&actual).expect("serializable") + "\n";
            std::fs::write(&path, text).expect("write golden");
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => {
                let expected: serde_json::Value =
                    serde_json::from_slice(&bytes).expect("golden is JSON");
                if actual != expected {
                    mismatches.push(format!(
                        "history/{name}: differs from its golden\n--- actual ---\n{}",
                        serde_json::to_string_pretty(&actual).unwrap_or_default()
                    ));
                }
            }
            Err(e) => mismatches.push(format!("history/{name}: no golden ({e})")),
        }
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n\n"));
}

/// A retried delivery must produce byte-identical requests (Klaviyo dedupes on unique_id, and
/// identical bodies make replays provably harmless).
#[test]
fn planning_twice_is_byte_identical() {
    for (name, body) in samples() {
        let first = plan_bytes(&body, &Enrichment::default());
        let second = plan_bytes(&body, &Enrichment::default());
        assert_eq!(first, second, "{name}");
        let a = serde_json::to_vec(&render(&first)).expect("json");
        let b = serde_json::to_vec(&render(&second)).expect("json");
        assert_eq!(a, b, "{name}");
    }
}

/// The order.created sample paid on delivery, with the links the intake would make.
pub fn cod_placed_order_plan(payment_method: &str) -> Result<Action, mapping::MappingError> {
    let mut sample = sample_value("order.created.json");
    sample["data"]["payment_method"] = serde_json::json!(payment_method);
    let body = serde_json::to_vec(&sample).expect("serializable");
    let enrichment = Enrichment {
        cod_links: Some(mapping::CodLinks {
            confirm_url: "https://cod.example/AQFqAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_confirm"
                .into(),
            cancel_url: Some(
                "https://cod.example/AQJqAbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_cancel".into(),
            ),
        }),
        ..Enrichment::default()
    };
    plan_bytes(&body, &enrichment)
}

#[test]
fn a_cod_placed_order_carries_its_links_and_matches_its_golden() {
    let path = golden_dir().join("cod").join("order.created.json");
    let actual = render(&cod_placed_order_plan("cod"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(golden_dir().join("cod")).expect("dir");
        let text = serde_json::to_string_pretty(&actual).expect("serializable") + "\n";
        std::fs::write(&path, text).expect("write golden");
        return;
    }
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("golden")).expect("golden is JSON");
    assert_eq!(actual, expected);

    let Ok(Action::Send(requests)) = cod_placed_order_plan("cod") else {
        panic!("sends");
    };
    let KlaviyoRequest::CreateEvent(placed) = &requests[0] else {
        panic!("Placed Order first");
    };
    assert!(placed.properties.get("CODConfirmURL").is_some());
    assert!(placed.properties.get("CODCancelURL").is_some());
    // Only Placed Order carries them, not the Ordered Product events.
    for r in &requests[1..] {
        if let KlaviyoRequest::CreateEvent(e) = r {
            assert!(e.properties.get("CODConfirmURL").is_none());
        }
    }
    // Not a COD order: no links, whatever the intake passed.
    let Ok(Action::Send(requests)) = cod_placed_order_plan("bank") else {
        panic!("sends");
    };
    let KlaviyoRequest::CreateEvent(placed) = &requests[0] else {
        panic!("Placed Order first");
    };
    assert!(placed.properties.get("CODConfirmURL").is_none());
}

#[test]
fn only_a_cod_order_created_asks_for_links() {
    let mut sample = sample_value("order.created.json");
    let env_of = |v: &serde_json::Value| {
        mapping::parse_envelope(&serde_json::to_vec(v).unwrap()).expect("envelope")
    };
    assert_eq!(mapping::cod_order_to_link(&env_of(&sample)), None);
    sample["data"]["payment_method"] = serde_json::json!("cod");
    let id: u64 = sample["data"]["id"].as_u64().expect("numeric id");
    assert_eq!(mapping::cod_order_to_link(&env_of(&sample)), Some(id));
    sample["event"] = serde_json::json!("order.updated");
    assert_eq!(mapping::cod_order_to_link(&env_of(&sample)), None);
}
