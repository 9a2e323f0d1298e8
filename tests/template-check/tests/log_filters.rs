//! The CloudWatch Logs metric filters in the template count failures the functions really
//! log: each error is rendered by the adapters crate and written through the JSON log format
//! the functions use, then the template's filter pattern is applied to the line.

use std::io::Write;
use std::sync::{Arc, Mutex};

use adapters::{AdapterError, Service};
use serde_json::Value as Json;
use template_check::load_default;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One log line as the functions write it (`adapters::logging::init`'s JSON format) for a
/// failure logged with `error = %e`, as the handlers do.
fn log_line(error: &dyn std::fmt::Display) -> Json {
    logged(|| {
        tracing::warn!(event = "order.created", store_id = "1", outcome = "unavailable", status = 503, error = %error, "webhook");
    })
}

/// The one JSON line `emit` writes through the functions' log format.
fn logged(emit: impl FnOnce()) -> Json {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, emit);
    let bytes = capture.0.lock().expect("capture").clone();
    serde_json::from_slice(&bytes).expect("one JSON log line")
}

/// A JSON filter pattern of the form `{ $.a.b = %x|y|z% }` (the form the template uses):
/// the field path and the alternatives, which contain no other regex syntax.
fn parse_pattern(pattern: &str) -> (Vec<String>, Vec<String>) {
    let inner = pattern
        .trim()
        .strip_prefix('{')
        .and_then(|p| p.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not a JSON pattern: {pattern}"));
    let (path, regex) = inner
        .split_once('=')
        .unwrap_or_else(|| panic!("no comparison: {pattern}"));
    let path = path
        .trim()
        .strip_prefix("$.")
        .unwrap_or_else(|| panic!("no $. selector: {pattern}"));
    let regex = regex
        .trim()
        .strip_prefix('%')
        .and_then(|r| r.strip_suffix('%'))
        .unwrap_or_else(|| panic!("not a %regex%: {pattern}"));
    let alternatives: Vec<String> = regex.split('|').map(str::to_string).collect();
    for a in &alternatives {
        assert!(
            a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "alternative {a:?} is not a plain word; extend this test's matcher"
        );
    }
    (path.split('.').map(str::to_string).collect(), alternatives)
}

fn matches(pattern: &str, line: &Json) -> bool {
    let (path, alternatives) = parse_pattern(pattern);
    let value = path
        .iter()
        .try_fold(line, |v, key| v.get(key))
        .and_then(Json::as_str);
    value.is_some_and(|v| alternatives.iter().any(|a| v.contains(a.as_str())))
}

/// The filter pattern publishing `metric`, the same in every log group.
fn pattern_for(metric: &str) -> String {
    let t = load_default();
    let mut patterns: Vec<String> = t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::Logs::MetricFilter")
        .filter(|r| r["Properties"]["MetricTransformations"][0]["MetricName"] == metric)
        .filter_map(|r| {
            r["Properties"]["FilterPattern"]
                .as_str()
                .map(str::to_string)
        })
        .collect();
    let groups = t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::Logs::LogGroup")
        .count();
    assert_eq!(
        patterns.len(),
        groups,
        "{metric}: one filter per function log group"
    );
    patterns.dedup();
    assert_eq!(
        patterns.len(),
        1,
        "{metric}: the same pattern in every group"
    );
    patterns.remove(0)
}

fn kms_failures() -> Vec<AdapterError> {
    vec![
        AdapterError::Decrypt {
            store_id: "1".into(),
        },
        AdapterError::Unavailable {
            service: Service::Kms,
            detail: "ThrottlingException".into(),
        },
        AdapterError::Rejected {
            service: Service::Kms,
            status: 400,
            code: "AccessDeniedException".into(),
            detail: "request refused".into(),
        },
        AdapterError::Config("KMS_KEY_ID is not usable for encryption (DisabledException)".into()),
    ]
}

fn dynamodb_failures() -> Vec<AdapterError> {
    vec![
        AdapterError::Unavailable {
            service: Service::DynamoDb,
            detail: "ProvisionedThroughputExceededException".into(),
        },
        AdapterError::Rejected {
            service: Service::DynamoDb,
            status: 400,
            code: "AccessDeniedException".into(),
            detail: "request refused".into(),
        },
    ]
}

fn other_failures() -> Vec<AdapterError> {
    vec![
        AdapterError::Unauthorized {
            service: Service::Klaviyo,
            status: 401,
            code: Some("not_authenticated".into()),
        },
        AdapterError::Unavailable {
            service: Service::Salla,
            detail: "timeout".into(),
        },
        AdapterError::Conflict {
            store_id: "1".into(),
        },
    ]
}

/// The intake wraps adapter errors ("temporarily unavailable: …", "internal error: …"); the
/// wrapped text still names the service.
struct Wrapped<'a>(&'static str, &'a AdapterError);

impl std::fmt::Display for Wrapped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0, self.1)
    }
}

#[test]
fn kms_filter_counts_every_kms_failure_and_nothing_else() {
    let pattern = pattern_for("KmsErrors");
    for e in kms_failures() {
        assert!(matches(&pattern, &log_line(&e)), "{pattern} misses {e}");
        let wrapped = Wrapped("internal error", &e);
        assert!(
            matches(&pattern, &log_line(&wrapped)),
            "{pattern} misses {wrapped}"
        );
    }
    for e in dynamodb_failures().into_iter().chain(other_failures()) {
        assert!(!matches(&pattern, &log_line(&e)), "{pattern} counts {e}");
    }
}

#[test]
fn dynamodb_filter_counts_every_dynamodb_failure_and_nothing_else() {
    let pattern = pattern_for("DynamoDbErrors");
    for e in dynamodb_failures() {
        let wrapped = Wrapped("temporarily unavailable", &e);
        assert!(
            matches(&pattern, &log_line(&wrapped)),
            "{pattern} misses {wrapped}"
        );
    }
    for e in kms_failures().into_iter().chain(other_failures()) {
        assert!(!matches(&pattern, &log_line(&e)), "{pattern} counts {e}");
    }
}

#[test]
fn a_line_without_an_error_field_is_not_counted() {
    let pattern = pattern_for("KmsErrors");
    let line =
        serde_json::json!({"level": "INFO", "fields": {"message": "webhook", "outcome": "kms"}});
    assert!(!matches(&pattern, &line));
    // The field really is nested under `fields` in the functions' log format.
    let e = AdapterError::Decrypt {
        store_id: "1".into(),
    };
    assert!(log_line(&e)["fields"]["error"].is_string());
}

/// An exact-event filter (`{ $.fields.event = "name" }`) of the intake's log group matches
/// the line `emit` logs, and the intake's `source` file logs that event name.
fn assert_event_filter(resource: &str, source: &str, emit: impl FnOnce()) {
    let t = load_default();
    let pattern = t["Resources"][resource]["Properties"]["FilterPattern"]
        .as_str()
        .unwrap_or_else(|| panic!("{resource} has a filter pattern"))
        .to_string();
    let (path, value) = pattern
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split_once('=')
        .expect("a comparison");
    let path: Vec<&str> = path.trim().trim_start_matches("$.").split('.').collect();
    let value = value.trim().trim_matches('"');
    let line = logged(emit);
    let field = path.iter().try_fold(&line, |v, key| v.get(*key));
    assert_eq!(field.and_then(Json::as_str), Some(value), "{line}");
    let source = std::fs::read_to_string(format!(
        "{}/../../functions/webhook-intake/src/{source}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("intake source");
    assert!(
        source.contains(&format!("event = \"{value}\"")),
        "the intake logs {value}"
    );
}

#[test]
fn account_change_filter_counts_the_intake_s_account_change_line() {
    assert_event_filter(
        "WebhookIntakeKlaviyoAccountChangesFilter",
        "lifecycle.rs",
        || {
            tracing::warn!(
                event = "klaviyo_account_changed",
                store_id = "1",
                previous_account = "A",
                account = "B",
                "store switched to another Klaviyo account"
            );
        },
    );
}

#[test]
fn unconfirmed_key_filter_counts_the_intake_s_unconfirmed_line_and_is_alarmed() {
    assert_event_filter("WebhookIntakeUnconfirmedKeysFilter", "lifecycle.rs", || {
        tracing::warn!(
            event = "klaviyo_key_unconfirmed",
            store_id = "1",
            reason = "differs",
            account = "B",
            "klaviyo key from settings not confirmed by Salla; not stored"
        );
    });
    let t = load_default();
    let alarm = &t["Resources"]["KlaviyoKeysUnconfirmedAlarm"]["Properties"];
    assert_eq!(alarm["MetricName"], "KlaviyoKeysUnconfirmed");
    assert_eq!(alarm["Threshold"], 1);
}

#[test]
fn previous_secret_filter_counts_the_intake_s_rotation_line() {
    assert_event_filter("WebhookIntakePreviousSecretFilter", "handler.rs", || {
        tracing::info!(
            event = "webhook_previous_secret",
            "delivery verified with the previous webhook secret"
        );
    });
}

#[test]
fn token_refresh_failure_filter_counts_failed_and_flagged_stores_only() {
    let t = load_default();
    let pattern = t["Resources"]["TokenRefreshFailuresFilter"]["Properties"]["FilterPattern"]
        .as_str()
        .expect("a filter pattern")
        .to_string();
    let line = |outcome: &'static str| {
        logged(|| tracing::info!(event = "token_refresh", store_id = "1", outcome))
    };
    for outcome in ["failed", "blocked_unclear", "blocked_rejected"] {
        assert!(matches(&pattern, &line(outcome)), "{outcome}");
    }
    for outcome in ["refreshed", "not_due", "lease_held", "blocked", "no_time"] {
        assert!(!matches(&pattern, &line(outcome)), "{outcome}");
    }
    let source = std::fs::read_to_string(format!(
        "{}/../../functions/token-refresh/src/lib.rs",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("token refresh source");
    assert!(source.contains("event = \"token_refresh\""));
    assert!(source.contains("outcome = \"failed\""));
}

/// The plain Validation URL (no token) is counted on the onboarding function's log group and
/// alarmed: the operator has not entered the tokened URL in the Partner Portal yet, or someone
/// is probing the plain one. Only that outcome counts, not the tokened URL's answers.
#[test]
fn untokened_validation_filter_counts_the_plain_validation_url_line_and_is_alarmed() {
    let t = load_default();
    let filter = &t["Resources"]["KeyOnboardingUntokenedValidationFilter"]["Properties"];
    assert_eq!(filter["LogGroupName"]["Ref"], "KeyOnboardingLogGroup");
    let pattern = filter["FilterPattern"]
        .as_str()
        .expect("a filter pattern")
        .to_string();
    let (path, value) = pattern
        .trim()
        .trim_start_matches('{')
        .trim_end_matches('}')
        .split_once('=')
        .expect("a comparison");
    let path: Vec<&str> = path.trim().trim_start_matches("$.").split('.').collect();
    let value = value.trim().trim_matches('"');
    let line = |outcome: &'static str| {
        logged(|| {
            tracing::info!(
                event = "settings_validation",
                outcome,
                status = 200u16,
                latency_ms = 0u64
            )
        })
    };
    let counted = |line: &Json| {
        path.iter()
            .try_fold(line, |v, key| v.get(*key))
            .and_then(Json::as_str)
            == Some(value)
    };
    assert!(counted(&line("untokened")), "{pattern}");
    for outcome in [
        "valid",
        "rejected",
        "unknown_store",
        "bad_shape",
        "bad_json",
    ] {
        assert!(!counted(&line(outcome)), "{pattern} counts {outcome}");
    }
    let source = std::fs::read_to_string(format!(
        "{}/../../functions/key-onboarding/src/validate.rs",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("validation source");
    assert!(source.contains("event = \"settings_validation\""));
    assert!(
        source.contains(&format!("\"{value}\")")),
        "the function logs {value}"
    );

    let metric = &filter["MetricTransformations"][0]["MetricName"];
    let alarm = &t["Resources"]["UntokenedValidationAlarm"]["Properties"];
    assert_eq!(&alarm["MetricName"], metric);
    assert_eq!(alarm["Threshold"], 1);
}
