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
