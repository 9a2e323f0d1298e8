//! Salla's Validation URL: before saving the app settings form, Salla POSTs
//! `{merchant_id, store_id, settings:{klaviyo_private_key}}` and blocks the save unless we
//! answer `{"success":true}`. The request is unsigned, so this only checks the key with
//! Klaviyo and stores NOTHING: the key is stored from the signed `app.settings.updated` event.
//!
//! Store ids are public, so the request body proves nothing about its sender. The URL does:
//! the operator enters `<onboarding URL>validate/<token>` in the Partner Portal, where the
//! token is derived from the session secret ([`url_token`]), so only Salla knows it. Only a
//! tokened request gets its key checked with Klaviyo; the plain `validate` path (a Partner
//! Portal not yet updated) checks the key's shape only, which tells a caller nothing they could
//! not see for themselves.

use std::time::Instant;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use crate::i18n::{AR, EN, Problem};
use adapters::{session, web};

use crate::{Deps, key_check};

/// The settings form has a handful of short fields; anything bigger is not Salla.
const MAX_BODY: usize = 16 * 1024;
/// The settings field that holds the key (its name in the app's form builder).
pub const KEY_FIELD: &str = "klaviyo_private_key";

/// The Validation URL's last segment (see [`session::validation_url_token`]).
pub fn url_token(secret: &[u8]) -> String {
    session::validation_url_token(secret)
}

/// Whether `given` is the Validation URL's token, in constant time.
pub fn token_matches(secret: &[u8], given: &str) -> bool {
    session::verify_validation_url_token(secret, given)
}

/// Which Validation URL a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `validate/<token>`: Salla, as the operator configured it.
    Tokened,
    /// Plain `validate`: anyone. Shape check only.
    Untokened,
}

pub async fn handle(deps: &Deps, req: &Request, access: Access) -> Response<Body> {
    let started = Instant::now();
    let (status, body, outcome) = answer(deps, req, access).await;
    tracing::info!(
        event = "settings_validation",
        outcome,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_millis() as u64
    );
    web::json(status, &body)
}

async fn answer(deps: &Deps, req: &Request, access: Access) -> (StatusCode, Value, &'static str) {
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
    // Not from Salla as configured: answering from the shape alone keeps Salla's form working
    // until the operator enters the tokened URL (the settings webhook still checks the key
    // with Klaviyo and confirms it with Salla), and gives an anonymous caller no oracle.
    if access == Access::Untokened {
        return (StatusCode::OK, json!({"success": true}), "untokened");
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::session::VALIDATION_URL_TOKEN_CHARS as TOKEN_CHARS;

    const SECRET: &[u8] = b"test-session-secret-0123456789-abcdef";

    #[test]
    fn the_token_is_22_url_safe_characters_of_the_hmac() {
        let token = url_token(SECRET);
        assert_eq!(token, "F5ul_rfd8yp-GA4H37QqCT");
        assert_eq!(token.len(), TOKEN_CHARS);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(url_token(b"another-session-secret-0123456789"), token);
    }

    #[test]
    fn only_the_exact_token_matches() {
        let token = url_token(SECRET);
        assert!(token_matches(SECRET, &token));
        for wrong in [
            String::new(),
            token[..21].to_string(),
            format!("{token}A"),
            token.to_ascii_uppercase(),
            url_token(b"another-session-secret-0123456789"),
        ] {
            assert!(!token_matches(SECRET, &wrong), "{wrong}");
        }
    }

    /// The operator's script derives the URL with openssl; both must agree, for secrets with
    /// any bytes. Skipped (with a note) where openssl is not installed.
    #[test]
    fn the_operator_script_derives_the_same_token_with_openssl() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        if Command::new("openssl").arg("version").output().is_err() {
            eprintln!("openssl not installed: derivation comparison skipped");
            return;
        }
        let script = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../infra/scripts/validation-url.sh"
        );
        for secret in [
            "test-session-secret-0123456789-abcdef",
            "dev-session-secret-change-me-0123456789",
            "with spaces, quotes \"' and colons: ٠١٢ سر 0123456789",
            "-starts-with-a-dash-%s-and-a-backslash-\\-0123456789",
        ] {
            let mut child = Command::new("bash")
                .args([script, "--derive", "https://onboarding.example/"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("bash runs");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(secret.as_bytes())
                .expect("secret written");
            let out = child.wait_with_output().expect("script ends");
            assert!(out.status.success(), "{secret:?}");
            let url = String::from_utf8(out.stdout).expect("utf-8");
            assert_eq!(
                url.trim_end(),
                format!(
                    "https://onboarding.example/validate/{}",
                    url_token(secret.as_bytes())
                ),
                "{secret:?}"
            );
        }
    }
}
