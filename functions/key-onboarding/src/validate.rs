//! Salla's Validation URL: before saving the app settings form, Salla POSTs
//! `{merchant_id, store_id, settings:{klaviyo_private_key}}` and blocks the save unless we
//! answer `{"success":true}`. The request is unsigned, so this only checks the key with
//! Klaviyo and stores NOTHING: the key is stored from the signed `app.settings.updated` event.

use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::i18n::{AR, EN, Problem};
use adapters::web;

use crate::{Deps, key_check};

/// The settings form has a handful of short fields; anything bigger is not Salla.
const MAX_BODY: usize = 16 * 1024;
/// The settings field that holds the key (its name in the app's form builder).
pub const KEY_FIELD: &str = "klaviyo_private_key";

pub async fn handle(deps: &Deps, req: &Request) -> Response<Body> {
    let started = Instant::now();
    let (status, body, outcome) = answer(deps, req).await;
    tracing::info!(
        event = "settings_validation",
        outcome,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_millis() as u64
    );
    web::json(status, &body)
}

async fn answer(deps: &Deps, req: &Request) -> (StatusCode, Value, &'static str) {
    let Some(bytes) = web::body_bytes(req, MAX_BODY) else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            request_error("Request body is too large.", "حجم الطلب كبير جدًا."),
            "too_large",
        );
    };
    let Ok(Value::Object(body)) = serde_json::from_slice::<Value>(bytes) else {
        return (
            StatusCode::BAD_REQUEST,
            request_error(
                "Request body must be a JSON object.",
                "يجب أن يكون محتوى الطلب كائن JSON.",
            ),
            "bad_json",
        );
    };
    let raw = body
        .get("settings")
        .and_then(|s| s.get(KEY_FIELD))
        .and_then(Value::as_str);
    let key = match key_check::shape(raw) {
        Ok(key) => key,
        Err(problem) => return (StatusCode::OK, field_error(problem), "bad_shape"),
    };
    // The request is unsigned: only a store that installed the app (we hold its Salla
    // tokens) gets its key checked, so the endpoint is no oracle for keys from elsewhere and
    // costs a flood one key-store read, not a Klaviyo call.
    match installed(deps, store_id(&body)).await {
        Ok(true) => {}
        Ok(false) => {
            return (
                StatusCode::OK,
                field_error(Problem::NotInstalled),
                "unknown_store",
            );
        }
        Err(_) => {
            return (
                StatusCode::OK,
                field_error(Problem::StorageDown),
                "store_unavailable",
            );
        }
    }
    match key_check::with_klaviyo(deps.klaviyo.as_ref(), &key).await {
        Ok(_) => (StatusCode::OK, json!({"success": true}), "valid"),
        Err(problem) => (StatusCode::OK, field_error(problem), "rejected"),
    }
}

/// The store the form belongs to: Salla sends `merchant_id` (the webhooks' `merchant`) and
/// `store_id`, as numbers or strings.
fn store_id(body: &serde_json::Map<String, Value>) -> Option<String> {
    ["merchant_id", "store_id"]
        .iter()
        .find_map(|k| match body.get(*k)? {
            Value::Number(n) => n.as_u64().map(|n| n.to_string()),
            Value::String(s) => {
                let s = s.trim();
                (!s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| s.to_string())
            }
            _ => None,
        })
}

async fn installed(deps: &Deps, store: Option<String>) -> Result<bool, adapters::AdapterError> {
    let Some(store) = store else { return Ok(false) };
    Ok(deps
        .keys
        .get(&store)
        .await?
        .is_some_and(|record| record.salla.is_some()))
}

/// Salla shows `message` under the settings field; both languages, since the dashboard may be
/// in either.
fn field_error(problem: Problem) -> Value {
    json!({
        "success": false,
        "error": {
            "field": KEY_FIELD,
            "message": {"en": EN.problem(problem), "ar": AR.problem(problem)}
        }
    })
}

fn request_error(en: &str, ar: &str) -> Value {
    json!({"success": false, "error": {"message": {"en": en, "ar": ar}}})
}
