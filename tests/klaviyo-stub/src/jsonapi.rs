//! JSON:API error bodies shaped like Klaviyo's (`components/responses/ClientError`, plus the
//! integer `status` real responses carry).

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// A UUID-shaped, process-unique error id.
pub(crate) fn error_id() -> String {
    let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    format!("00000000-0000-4000-8000-{n:012x}")
}

/// A 26-character id in the style of Klaviyo's ULID profile ids.
pub(crate) fn profile_id(n: u64) -> String {
    format!("01STUB{n:020}")
}

/// Where an error points: a JSON pointer into the body, or a parameter (header/query) name.
pub(crate) enum Source<'a> {
    Pointer(&'a str),
    Parameter(&'a str),
    None,
}

pub(crate) fn error(
    status: u16,
    code: &str,
    title: &str,
    detail: &str,
    source: Source<'_>,
) -> Value {
    json!({"errors": [error_object(status, code, title, detail, source)]})
}

pub(crate) fn error_object(
    status: u16,
    code: &str,
    title: &str,
    detail: &str,
    source: Source<'_>,
) -> Value {
    let mut e = json!({
        "id": error_id(),
        "status": status,
        "code": code,
        "title": title,
        "detail": detail,
    });
    match source {
        Source::Pointer(p) => e["source"] = json!({"pointer": p}),
        Source::Parameter(p) => e["source"] = json!({"parameter": p}),
        Source::None => {}
    }
    e
}

/// The body for an injected status fault, worded like Klaviyo's.
pub(crate) fn fault_body(status: u16, retry_after: Option<u64>) -> Value {
    match status {
        429 => {
            let detail = match retry_after {
                Some(s) => format!("Request was throttled. Expected available in {s} seconds."),
                None => "Request was throttled.".to_owned(),
            };
            error(
                429,
                "throttled",
                "Request was throttled.",
                &detail,
                Source::None,
            )
        }
        503 => error(
            503,
            "service_unavailable",
            "Service unavailable.",
            "The service is temporarily unavailable (injected fault).",
            Source::None,
        ),
        s if s >= 500 => error(
            s,
            "error",
            "A server error occurred.",
            "A server error occurred (injected fault).",
            Source::None,
        ),
        s => error(
            s,
            "injected_fault",
            "Injected fault.",
            "The stub was told to answer with this status.",
            Source::None,
        ),
    }
}
