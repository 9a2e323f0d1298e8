//! Shape of the functions: how they are built, run and reached, and their settings.

use serde_json::Value as Json;

use super::{COMMON_ENV, FUNCTIONS, Violation, is_queued, is_scheduled, spec_for};
use crate::model::{as_list, function_binary, function_env, function_property, functions, props};

pub const SHAPE: &str = "function-shape";
pub const TIMEOUT: &str = "function-timeout";
pub const CONFIG: &str = "function-config";
pub const NO_PAYLOAD_SINK: &str = "function-no-payload-sink";
pub const CONCURRENCY: &str = "function-concurrency";

/// The webhook intake is the only function whose failure loses merchants' events, so it keeps
/// a reserved floor that the public functions cannot eat into.
pub const INTAKE_BINARY: &str = "webhook-intake";

/// The highest reserved concurrency a public (unauthenticated) function may be given: enough
/// for merchants opening their page and Salla's settings checks, far too little for a flood to
/// take a noticeable share of the account's concurrency.
pub const PUBLIC_MAX_CONCURRENCY: i64 = 20;

/// Salla waits about 30 s for the webhook answer (and for the validation URL); a function
/// allowed to run longer would be cut off by Salla first.
pub const MAX_TIMEOUT_SECS: i64 = 29;

/// A scheduled function answers nobody waiting; Lambda's own limit bounds it.
pub const SCHEDULED_MAX_TIMEOUT_SECS: i64 = 900;

/// Function settings that would park an event (and so its payload) somewhere.
const PAYLOAD_SINKS: &[&str] = &[
    "DeadLetterQueue",
    "DeadLetterConfig",
    "EventInvokeConfig",
    "Events",
];

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    let all = functions(doc);
    if all.len() != FUNCTIONS.len() {
        out.push(Violation::new(
            SHAPE,
            "Resources",
            format!(
                "expected {} functions, found {}",
                FUNCTIONS.len(),
                all.len()
            ),
        ));
    }
    for (id, res) in all {
        shape(doc, id, res, out);
        timeout(doc, id, res, out);
        config(doc, id, res, out);
        concurrency(doc, id, res, out);
        for key in PAYLOAD_SINKS {
            if props(res).get(*key).is_some() {
                out.push(Violation::new(
                    NO_PAYLOAD_SINK,
                    id,
                    format!("{key} would keep events (payloads) outside the request"),
                ));
            }
        }
    }
}

fn expect(ok: bool, id: &str, what: &str, out: &mut Vec<Violation>) {
    if !ok {
        out.push(Violation::new(SHAPE, id, what));
    }
}

fn shape(doc: &Json, id: &str, res: &Json, out: &mut Vec<Violation>) {
    let prop = |k: &str| function_property(doc, res, k);
    let binary = function_binary(res);
    expect(
        binary.and_then(spec_for).is_some(),
        id,
        "Metadata.BuildProperties.Binary must be one of the workspace's Lambda binaries",
        out,
    );
    let build = res
        .get("Metadata")
        .and_then(|m| m.get("BuildMethod"))
        .and_then(Json::as_str);
    expect(
        build == Some("rust-cargolambda"),
        id,
        "BuildMethod must be rust-cargolambda",
        out,
    );
    expect(
        prop("CodeUri").and_then(Json::as_str) == Some("."),
        id,
        "CodeUri must be the workspace root (one shared target dir)",
        out,
    );
    expect(
        prop("Runtime").and_then(Json::as_str) == Some("provided.al2023"),
        id,
        "Runtime must be provided.al2023",
        out,
    );
    let arch: Vec<_> = prop("Architectures")
        .map(as_list)
        .unwrap_or_default()
        .into_iter()
        .filter_map(Json::as_str)
        .collect();
    expect(arch == ["arm64"], id, "Architectures must be [arm64]", out);
    expect(
        prop("Handler").and_then(Json::as_str) == Some("bootstrap"),
        id,
        "Handler must be bootstrap",
        out,
    );
    expect(
        prop("MemorySize").is_some(),
        id,
        "MemorySize must be set",
        out,
    );
    if binary.is_some_and(|b| is_scheduled(b) || is_queued(b)) {
        expect(
            prop("FunctionUrlConfig").is_none(),
            id,
            "a scheduled or queue-driven function must have no FunctionUrlConfig (only its schedule or queue invokes it)",
            out,
        );
        return;
    }
    let auth = prop("FunctionUrlConfig")
        .and_then(|u| u.get("AuthType"))
        .and_then(Json::as_str);
    expect(
        matches!(auth, Some("NONE" | "AWS_IAM")),
        id,
        "FunctionUrlConfig with an AuthType is required (Salla calls a URL)",
        out,
    );
}

fn timeout(doc: &Json, id: &str, res: &Json, out: &mut Vec<Violation>) {
    let timeout = function_property(doc, res, "Timeout").and_then(Json::as_i64);
    if function_binary(res).is_some_and(|b| is_scheduled(b) || is_queued(b)) {
        if !timeout.is_some_and(|t| (1..=SCHEDULED_MAX_TIMEOUT_SECS).contains(&t)) {
            out.push(Violation::new(
                TIMEOUT,
                id,
                format!("Timeout must be 1..={SCHEDULED_MAX_TIMEOUT_SECS} s, got {timeout:?}"),
            ));
        }
        return;
    }
    match timeout {
        Some(t) if (1..=MAX_TIMEOUT_SECS).contains(&t) => {}
        other => out.push(Violation::new(
            TIMEOUT,
            id,
            format!("Timeout must be 1..={MAX_TIMEOUT_SECS} s (Salla waits ~30 s), got {other:?}"),
        )),
    }
}

fn config(doc: &Json, id: &str, res: &Json, out: &mut Vec<Violation>) {
    let Some(spec) = function_binary(res).and_then(spec_for) else {
        return;
    };
    let env = function_env(doc, res);
    for name in COMMON_ENV.iter().chain(spec.env) {
        if !env.contains_key(name) {
            out.push(Violation::new(
                CONFIG,
                id,
                format!("environment lacks {name}"),
            ));
        }
    }
    if env.get("KEY_STORE").and_then(|v| v.as_str()) != Some("dynamodb") {
        out.push(Violation::new(
            CONFIG,
            id,
            "KEY_STORE must be \"dynamodb\" on AWS",
        ));
    }
}

/// The range a `ReservedConcurrentExecutions` value can take at deploy time: a literal, or a
/// `Ref` to a Number parameter with its `MinValue`/`MaxValue` (an open end is `None`).
/// Anything conditional (`Fn::If`, which may yield `AWS::NoValue`) has no guaranteed range.
fn concurrency_range(doc: &Json, v: &Json) -> Option<(Option<i64>, Option<i64>)> {
    if let Some(n) = v.as_i64() {
        return Some((Some(n), Some(n)));
    }
    let param = v.get("Ref")?.as_str()?;
    let p = doc.get("Parameters")?.get(param)?;
    if p.get("Type").and_then(Json::as_str) != Some("Number") {
        return None;
    }
    let bound = |k: &str| p.get(k).and_then(Json::as_i64);
    Some((bound("MinValue"), bound("MaxValue")))
}

fn concurrency(doc: &Json, id: &str, res: &Json, out: &mut Vec<Violation>) {
    let value = props(res).get("ReservedConcurrentExecutions");
    let range = value.and_then(|v| concurrency_range(doc, v));
    if function_binary(res) == Some(INTAKE_BINARY) {
        if !matches!(range, Some((Some(min), _)) if min >= 1) {
            out.push(Violation::new(
                CONCURRENCY,
                id,
                "the intake needs an unconditional ReservedConcurrentExecutions of at least 1 \
                 (a literal or a Number parameter with MinValue >= 1), so public functions \
                 cannot starve it",
            ));
        }
        return;
    }
    if function_binary(res).is_some_and(is_queued) {
        // Its range is the queue rules' (`queues::MAPPING`).
        return;
    }
    if function_binary(res).is_some_and(is_scheduled) {
        if range != Some((Some(1), Some(1))) {
            out.push(Violation::new(
                CONCURRENCY,
                id,
                "a scheduled function needs ReservedConcurrentExecutions of exactly 1: one run \
                 at a time, so a slow run and the next never refresh side by side",
            ));
        }
        return;
    }
    let capped = matches!(
        range,
        Some((Some(min), Some(max))) if min >= 1 && max <= PUBLIC_MAX_CONCURRENCY
    );
    if !capped {
        out.push(Violation::new(
            CONCURRENCY,
            id,
            format!(
                "a public function needs ReservedConcurrentExecutions between 1 and \
                 {PUBLIC_MAX_CONCURRENCY} (a literal or a bounded Number parameter)"
            ),
        ));
    }
}
