//! The crate's import rule, checked on its source: the input side (`salla/`) and the output
//! side (`klaviyo/`) never use the rules table or the plan, and the output side never reads a
//! Salla payload. Between them only `rules/` sees both.

use std::path::Path;

/// Names of the layer above both sides: the `rules`, `plan` and `history` modules and what
/// they export at the crate root.
const RULES_AND_PLAN: &[&str] = &[
    "rules",
    "plan",
    "history",
    "Backfill",
    "history_order",
    "history_customer",
    "history_product",
    "Action",
    "Ctx",
    "SallaAuthorization",
    "known_events",
    "STATUS_METRICS",
    "StatusKey",
    "KLAVIYO_KEY_SETTING",
    "EMAIL_OPT_IN_FLAGS",
    "SMS_OPT_IN_FLAGS",
];

/// Names of the input side and what it exports at the crate root.
const SALLA: &[&str] = &[
    "salla",
    "Envelope",
    "parse_envelope",
    "Enrichment",
    "ProductDetails",
    "products_to_enrich",
    "MAX_PRODUCTS_TO_ENRICH",
    "STORE_PROPERTY",
];

/// Every `crate::…` path in `source` (a `use crate::{a, b::c}` group yields `a` and `b`), by
/// its first segment.
fn crate_paths(source: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            // Nested groups close early; their leading names are still seen.
            for item in group[..end].split(',') {
                found.push(first_segment(item.trim()));
            }
        } else {
            found.push(first_segment(rest));
        }
    }
    found
}

fn first_segment(path: &str) -> String {
    path.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// `(file, name)` for each forbidden crate path used under `dir`.
fn violations(dir: &Path, forbidden: &[&str]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            out.extend(violations(&path, forbidden));
            continue;
        }
        let source =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        // `super::super::…` would reach the layer above without naming the crate.
        if source.contains("super::super") {
            out.push((path.display().to_string(), "super::super".to_owned()));
        }
        for name in crate_paths(&source) {
            if forbidden.contains(&name.as_str()) {
                out.push((path.display().to_string(), name));
            }
        }
    }
    out
}

fn src(side: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(side)
}

#[test]
fn the_detector_sees_plain_and_grouped_paths() {
    let sample = "use crate::plan::Ctx;\nuse crate::{Action, MappingError, rules};\n\
                  let x = crate::salla::date::timestamp(None);";
    assert_eq!(
        crate_paths(sample),
        ["plan", "Action", "MappingError", "rules", "salla"]
    );
}

#[test]
fn input_side_never_uses_the_rules_or_the_plan() {
    assert_eq!(violations(&src("salla"), RULES_AND_PLAN), []);
}

#[test]
fn output_side_never_uses_the_rules_the_plan_or_the_input_side() {
    let forbidden: Vec<&str> = RULES_AND_PLAN.iter().chain(SALLA).copied().collect();
    assert_eq!(violations(&src("klaviyo"), &forbidden), []);
}
