//! Every Salla sample → its expected plan, byte for byte, in tests/golden/<sample name>.
//! Regenerate with `UPDATE_GOLDEN=1 cargo test -p mapping --test suite golden`, then review by hand.

use crate::common;

use common::{plan_bytes, render, samples};
use mapping::Enrichment;
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
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        assert!(samples.contains(&name), "golden {name} has no sample");
    }
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
