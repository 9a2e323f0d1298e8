//! Webhook bodies for a run: the Salla store-event samples with varied merchants, ids, phones
//! and emails, each signed, plus what Klaviyo should end up with (planned with the mapping
//! crate, exactly as the intake plans them).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use mapping::{Action, Enrichment, KlaviyoRequest};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Store ids used by the run: plain 10-digit ids like Salla's.
pub fn store_id(index: usize) -> String {
    (1_700_000_000u64 + index as u64 * 7_919).to_string()
}

/// The Klaviyo key the run connects for a store (the stub accepts any `pk_` key).
pub fn klaviyo_key(index: usize) -> String {
    format!("pk_load_{index:04}_{:012}", index * 104_729)
}

pub fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/salla-samples")
}

/// Store-event samples (lifecycle and OAuth samples change what we hold or are not webhooks).
pub fn load_templates(dir: &Path) -> Result<Vec<(String, Value)>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".json")
            || name.starts_with("app.")
            || name.starts_with("oauth2.")
            || name.contains("data-only")
        {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        if let Ok(v @ Value::Object(_)) = serde_json::from_slice::<Value>(&bytes) {
            out.push((name, v));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if out.is_empty() {
        return Err(format!("no store-event samples in {}", dir.display()));
    }
    Ok(out)
}

/// A lifecycle event's `created_at`: now, since the intake ignores lifecycle events sent
/// long ago (replays). Unix seconds, which the intake reads like Salla's date strings.
fn sent_now() -> Value {
    Value::from(adapters::clock::now_unix())
}

/// A signed `app.settings.updated` connecting `store` with `key`.
pub fn settings_body(store: &str, key: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "app.settings.updated",
        "merchant": store.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(store)),
        "created_at": sent_now(),
        "data": {"id": 1, "app_name": "Klaviyo", "settings": {"klaviyo_private_key": key}}
    }))
    .unwrap_or_default()
}

/// A signed-ready `app.store.authorize` giving `store` (placeholder) Salla tokens: the store
/// has installed the app.
pub fn authorize_body(store: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event": "app.store.authorize",
        "merchant": store.parse::<u64>().map(Value::from).unwrap_or_else(|_| Value::from(store)),
        "created_at": sent_now(),
        "data": {
            "access_token": "load-access-token",
            "refresh_token": "load-refresh-token",
            "expires": 4_102_444_800u64,
            "scope": "settings.read offline_access",
            "token_type": "bearer"
        }
    }))
    .unwrap_or_default()
}

/// One prepared delivery.
pub struct Webhook {
    pub body: Vec<u8>,
    pub signature: String,
    /// Create-event requests the intake will send for it.
    pub events: usize,
    /// All Klaviyo requests the intake will send for it.
    pub requests: usize,
}

/// What the whole run should produce at Klaviyo.
#[derive(Debug, Default)]
pub struct Expected {
    pub events: usize,
    /// Distinct (metric, unique_id) pairs: what the stub's dedup should count.
    pub distinct_events: usize,
    pub requests: usize,
}

/// `count` webhooks round-robin over the templates and stores, varied so that every delivery
/// is a new order / cart / customer action with its own phone and email.
pub fn prepare(
    templates: &[(String, Value)],
    stores: usize,
    count: usize,
    secret: &str,
    seed: u64,
) -> (Vec<Webhook>, Expected) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut expected = Expected::default();
    let mut distinct = HashSet::new();
    let mut out = Vec::with_capacity(count);
    for n in 0..count {
        let (_, template) = &templates[n % templates.len()];
        let store = store_id(rng.random_range(0..stores));
        let body = vary(template, &store, n as u64, &mut rng);
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let mut events = 0;
        let mut request_count = 0;
        if let Ok(env) = mapping::parse_envelope(&bytes)
            && let Ok(Action::Send(requests)) = mapping::plan(&env, &Enrichment::default())
        {
            expected.requests += requests.len();
            request_count = requests.len();
            for r in &requests {
                if let KlaviyoRequest::CreateEvent(e) = r {
                    events += 1;
                    distinct.insert((e.metric.clone(), e.unique_id.clone()));
                }
            }
        }
        expected.events += events;
        out.push(Webhook {
            signature: adapters::salla::signature::sign(secret.as_bytes(), &bytes),
            body: bytes,
            events,
            requests: request_count,
        });
    }
    expected.distinct_events = distinct.len();
    (out, expected)
}

fn vary(template: &Value, store: &str, n: u64, rng: &mut SmallRng) -> Value {
    let mut v = template.clone();
    v["merchant"] = store
        .parse::<u64>()
        .map(Value::from)
        .unwrap_or_else(|_| Value::from(store));
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        // A new order, cart, product or customer per delivery.
        let id = 3_000_000_000u64 + n;
        if data.get("id").is_some_and(Value::is_number) {
            data.insert("id".into(), json!(id));
        } else if data.get("id").is_some_and(Value::is_string) {
            data.insert("id".into(), json!(id.to_string()));
        }
        if data.get("reference_id").is_some() {
            data.insert("reference_id".into(), json!(50_000_000 + n));
        }
    }
    if let Some(data) = v.get_mut("data") {
        personalise(data, n, rng);
    }
    v
}

/// Every email and phone in the payload becomes this delivery's own.
fn personalise(v: &mut Value, n: u64, rng: &mut SmallRng) {
    match v {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match (key.as_str(), &*value) {
                    ("email", Value::String(_)) => {
                        *value = json!(format!("shopper{n}@example.test"))
                    }
                    ("mobile" | "phone", Value::Number(_)) => {
                        *value = json!(500_000_000u64 + rng.random_range(0..99_999_999u64))
                    }
                    ("mobile" | "phone", Value::String(s)) => {
                        let local = 500_000_000u64 + rng.random_range(0..99_999_999u64);
                        *value = if s.starts_with('+') {
                            json!(format!("+966{local}"))
                        } else {
                            json!(local.to_string())
                        };
                    }
                    _ => personalise(value, n, rng),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|i| personalise(i, n, rng)),
        _ => {}
    }
}
