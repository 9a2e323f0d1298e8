//! Queues and the functions they drive (the history import): every queue encrypted at rest;
//! a queue read by an event source mapping has a dead-letter queue (at most 5 receives) that
//! alarms when it holds a message, and a visibility timeout of at least 6x its function's
//! timeout; the mapping reads one message at a time and reports failures per message; the
//! function has a reserved concurrency (an import never takes the webhooks' concurrency);
//! SQS permissions are exactly the worker's four actions on its own queue, a schedule
//! role's `sqs:SendMessage` on the queue its schedule targets, or `sqs:SendMessage` alone for
//! a function that starts history work (its `HISTORY_QUEUE_URL` is `!Ref` of a worker's
//! queue), on that queue only.

use serde_json::Value as Json;

use super::Violation;
use crate::model::{
    actions, as_list, function_property, identity_statements, is_allow, props, ref_target,
    resource, resource_type, resources_of_type, service,
};

pub const ENCRYPTION: &str = "queue-encryption";
pub const DEAD_LETTER: &str = "queue-dead-letter";
pub const VISIBILITY: &str = "queue-visibility";
pub const MAPPING: &str = "queue-event-source";
pub const SQS_ACCESS: &str = "queue-permissions";

const QUEUE: &str = "AWS::SQS::Queue";
/// The variable through which a function learns the history queue it may send to.
pub const QUEUE_URL_VAR: &str = "HISTORY_QUEUE_URL";
const MAPPING_TYPE: &str = "AWS::Lambda::EventSourceMapping";
/// What the worker's role may do on its own queue: the mapping's three, and sending its
/// continuations.
pub const WORKER_SQS: &[&str] = &[
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:ReceiveMessage",
    "sqs:SendMessage",
];

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    let queues = resources_of_type(doc, QUEUE);
    for (id, q) in &queues {
        let p = props(q);
        let managed = p.get("SqsManagedSseEnabled") == Some(&Json::Bool(true));
        if !managed && p.get("KmsMasterKeyId").is_none() {
            out.push(Violation::new(
                ENCRYPTION,
                *id,
                "a queue must be encrypted (SqsManagedSseEnabled: true or KmsMasterKeyId)",
            ));
        }
    }
    // (queue, function) of each mapping.
    let mut worker_roles: Vec<(String, String)> = Vec::new();
    for (id, m) in resources_of_type(doc, MAPPING_TYPE) {
        let mut fail = |rule, detail: String| out.push(Violation::new(rule, id, detail));
        let p = props(m);
        if p.get("BatchSize").and_then(Json::as_u64) != Some(1) {
            fail(
                MAPPING,
                "BatchSize must be 1: one import message per invocation".into(),
            );
        }
        let types: Vec<&str> = as_list(p.get("FunctionResponseTypes").unwrap_or(&Json::Null))
            .into_iter()
            .filter_map(Json::as_str)
            .collect();
        if types != ["ReportBatchItemFailures"] {
            fail(
                MAPPING,
                "FunctionResponseTypes must be [ReportBatchItemFailures]".into(),
            );
        }
        let queue = p
            .get("EventSourceArn")
            .and_then(ref_target)
            .filter(|q| resource(doc, q).is_some_and(|r| resource_type(r) == QUEUE));
        let function = p.get("FunctionName").and_then(ref_target);
        let (Some(queue), Some(function)) = (queue, function) else {
            fail(
                MAPPING,
                "EventSourceArn must be !GetAtt <queue>.Arn and FunctionName !Ref <function>"
                    .into(),
            );
            continue;
        };
        let f = resource(doc, function).unwrap_or(&Json::Null);
        if props(f)
            .get("ReservedConcurrentExecutions")
            .and_then(Json::as_u64)
            .is_none_or(|c| c == 0 || c > 10)
        {
            fail(
                MAPPING,
                format!("{function} needs a small ReservedConcurrentExecutions (1-10)"),
            );
        }
        let timeout = function_property(doc, f, "Timeout")
            .and_then(Json::as_u64)
            .unwrap_or(3);
        let q = props(resource(doc, queue).unwrap_or(&Json::Null));
        let visibility = q
            .get("VisibilityTimeout")
            .and_then(Json::as_u64)
            .unwrap_or(30);
        if visibility < 6 * timeout {
            fail(
                VISIBILITY,
                format!(
                    "{queue}.VisibilityTimeout {visibility} is under 6x {function}'s timeout ({timeout} s)"
                ),
            );
        }
        check_dead_letter(doc, queue, q, out);
        if let Some(role) = props(f).get("Role").and_then(ref_target) {
            worker_roles.push((role.to_owned(), queue.to_owned()));
        }
    }
    let schedule_roles: Vec<(String, String)> = resources_of_type(doc, "AWS::Scheduler::Schedule")
        .into_iter()
        .filter_map(|(_, s)| {
            let target = props(s).pointer("/Target/Arn").and_then(ref_target)?;
            resource(doc, target).filter(|r| resource_type(r) == QUEUE)?;
            let role = props(s).pointer("/Target/RoleArn").and_then(ref_target)?;
            Some((role.to_owned(), target.to_owned()))
        })
        .collect();
    // (role, queue) of each function that names a worker's queue as its HISTORY_QUEUE_URL.
    let sender_roles: Vec<(String, String)> = resources_of_type(doc, "AWS::Serverless::Function")
        .into_iter()
        .filter_map(|(_, f)| {
            let queue = props(f)
                .pointer(&format!("/Environment/Variables/{QUEUE_URL_VAR}"))
                .and_then(ref_target)?;
            worker_roles.iter().find(|(_, q)| q == queue)?;
            let role = props(f).get("Role").and_then(ref_target)?;
            Some((role.to_owned(), queue.to_owned()))
        })
        .collect();
    for stmt in identity_statements(doc) {
        let acts = actions(stmt.json);
        if !acts.iter().any(|a| service(a) == "sqs") {
            continue;
        }
        let targets: Vec<Option<&str>> = as_list(stmt.json.get("Resource").unwrap_or(&Json::Null))
            .into_iter()
            .map(|r| r.get("Fn::GetAtt").and(ref_target(r)))
            .collect();
        let on_only =
            |queue: &str| !targets.is_empty() && targets.iter().all(|t| *t == Some(queue));
        let mut sorted = acts.clone();
        sorted.sort();
        let allowed = stmt.owners.iter().any(|owner| {
            worker_roles
                .iter()
                .any(|(r, q)| r == owner && on_only(q) && sorted == WORKER_SQS)
                || schedule_roles
                    .iter()
                    .chain(&sender_roles)
                    .any(|(r, q)| r == owner && on_only(q) && sorted == ["sqs:SendMessage"])
        });
        if !is_allow(stmt.json) || !allowed {
            out.push(Violation::new(
                SQS_ACCESS,
                stmt.location.clone(),
                format!("SQS access must be a worker's {WORKER_SQS:?}, or sqs:SendMessage for a schedule role or a function whose {QUEUE_URL_VAR} names the queue, on that queue (!GetAtt <queue>.Arn) only; got {acts:?}"),
            ));
        }
    }
}

fn check_dead_letter(doc: &Json, queue: &str, q: &Json, out: &mut Vec<Violation>) {
    let mut fail = |detail: String| out.push(Violation::new(DEAD_LETTER, queue, detail));
    let redrive = q.get("RedrivePolicy").unwrap_or(&Json::Null);
    let dlq = redrive
        .get("deadLetterTargetArn")
        .filter(|a| a.get("Fn::GetAtt").is_some())
        .and_then(ref_target)
        .filter(|d| *d != queue && resource(doc, d).is_some_and(|r| resource_type(r) == QUEUE));
    let Some(dlq) = dlq else {
        fail("RedrivePolicy.deadLetterTargetArn must be !GetAtt <another queue>.Arn".into());
        return;
    };
    let receives = redrive.get("maxReceiveCount").and_then(Json::as_u64);
    if !receives.is_some_and(|n| (1..=5).contains(&n)) {
        fail("RedrivePolicy.maxReceiveCount must be 1-5".into());
    }
    let alarmed = resources_of_type(doc, "AWS::CloudWatch::Alarm")
        .into_iter()
        .any(|(_, a)| {
            let p = props(a);
            let dims = as_list(p.get("Dimensions").unwrap_or(&Json::Null));
            p.get("Namespace").and_then(Json::as_str) == Some("AWS/SQS")
                && p.get("MetricName").and_then(Json::as_str)
                    == Some("ApproximateNumberOfMessagesVisible")
                && dims.iter().any(|d| {
                    d.get("Name").and_then(Json::as_str) == Some("QueueName")
                        && d.get("Value").and_then(ref_target) == Some(dlq)
                })
                && p.get("Threshold")
                    .and_then(Json::as_f64)
                    .is_some_and(|t| t <= 1.0)
                && p.get("ComparisonOperator").and_then(Json::as_str)
                    == Some("GreaterThanOrEqualToThreshold")
                && !as_list(p.get("AlarmActions").unwrap_or(&Json::Null)).is_empty()
        });
    if !alarmed {
        fail(format!(
            "{dlq} needs an alarm on AWS/SQS ApproximateNumberOfMessagesVisible >= 1 (QueueName !GetAtt {dlq}.QueueName) with AlarmActions"
        ));
    }
}
