//! What may be stored: one table of per-store records, nothing that could hold a payload.

use serde_json::Value as Json;

use super::Violation;
use crate::model::{
    actions, as_list, identity_statements, is_allow, is_true, props, ref_target, resource,
    resource_type, resources, resources_of_type, service,
};

pub const TABLE: &str = "table-settings";
pub const NO_PAYLOAD_STORE: &str = "no-payload-store";

/// Resource types that queue, archive or store messages or files. The relay answers within
/// the request and keeps nothing of the payload, so none of these belong in the template.
/// SNS is handled by [`alarm_topic`]: one topic for alarm text, e-mailed to the operator.
const PAYLOAD_STORE_PREFIXES: &[&str] = &[
    "AWS::SQS::",
    "AWS::S3::",
    "AWS::Kinesis",
    "AWS::EFS::",
    "AWS::RDS::",
    "AWS::ElastiCache::",
    "AWS::Events::Archive",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::DynamoDB::GlobalTable",
    "AWS::Serverless::SimpleTable",
    "AWS::Serverless::Api",
    "AWS::Serverless::HttpApi",
    "AWS::ApiGateway",
];

/// The history import's queues and their mapping: their messages are a store id and a cursor
/// (`adapters::history::Task`, which refuses anything else), never a payload.
pub const CURSOR_QUEUES: &[&str] = &[
    "HistoryQueue",
    "HistoryDeadLetterQueue",
    "HistoryWorkerEventSource",
];

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    for (id, res) in resources(doc) {
        let ty = resource_type(res);
        if CURSOR_QUEUES.contains(&id) {
            continue;
        }
        if PAYLOAD_STORE_PREFIXES.iter().any(|p| ty.starts_with(p)) {
            out.push(Violation::new(
                NO_PAYLOAD_STORE,
                id,
                format!("{ty} could hold webhook payloads"),
            ));
        }
    }
    alarm_topic(doc, out);
    let tables = resources_of_type(doc, "AWS::DynamoDB::Table");
    if tables.len() != 1 {
        out.push(Violation::new(
            NO_PAYLOAD_STORE,
            "Resources",
            format!(
                "expected exactly one DynamoDB table (store records), found {}",
                tables.len()
            ),
        ));
    }
    for (id, res) in tables {
        table(id, res, out);
    }
}

fn table(id: &str, res: &Json, out: &mut Vec<Violation>) {
    let p = props(res);
    let mut fail = |detail: &str| out.push(Violation::new(TABLE, id, detail));
    if p.get("BillingMode").and_then(Json::as_str) != Some("PAY_PER_REQUEST") {
        fail("BillingMode must be PAY_PER_REQUEST");
    }
    let pitr = p
        .get("PointInTimeRecoverySpecification")
        .and_then(|s| s.get("PointInTimeRecoveryEnabled"));
    if !is_true(pitr) {
        fail("point-in-time recovery must be enabled");
    }
    let sse = p.get("SSESpecification").and_then(|s| s.get("SSEEnabled"));
    if !is_true(sse) {
        fail("SSESpecification.SSEEnabled must be true");
    }
    if res.get("DeletionPolicy").and_then(Json::as_str) != Some("Retain") {
        fail("DeletionPolicy must be Retain");
    }
    let keys = as_list(p.get("KeySchema").unwrap_or(&Json::Null));
    let only_store_id = keys.len() == 1
        && keys[0].get("AttributeName").and_then(Json::as_str) == Some("store_id")
        && keys[0].get("KeyType").and_then(Json::as_str) == Some("HASH");
    if !only_store_id {
        fail("key schema must be the single hash key store_id");
    }
}

/// The one SNS topic allowed carries CloudWatch alarm text, never a payload: at most one
/// standard topic without message archiving, subscriptions only by e-mail, and no function
/// (or other identity in the template) allowed any SNS action, so nothing of a webhook can
/// be published to it.
fn alarm_topic(doc: &Json, out: &mut Vec<Violation>) {
    let topics = resources_of_type(doc, "AWS::SNS::Topic");
    for (i, (id, res)) in topics.iter().enumerate() {
        if i > 0 {
            out.push(Violation::new(
                NO_PAYLOAD_STORE,
                *id,
                "a second SNS topic; only the alarm topic is allowed",
            ));
        }
        let p = props(res);
        for key in ["ArchivePolicy", "FifoTopic", "DataProtectionPolicy"] {
            if p.get(key).is_some() {
                out.push(Violation::new(
                    NO_PAYLOAD_STORE,
                    *id,
                    format!("{key} on the alarm topic (a standard topic keeps no messages)"),
                ));
            }
        }
        for sub in as_list(p.get("Subscription").unwrap_or(&Json::Null)) {
            if sub.get("Protocol").and_then(Json::as_str) != Some("email") {
                out.push(Violation::new(
                    NO_PAYLOAD_STORE,
                    *id,
                    "alarm topic subscriptions must use the email protocol",
                ));
            }
        }
    }
    for (id, res) in resources(doc) {
        let ty = resource_type(res);
        if !ty.starts_with("AWS::SNS::") || ty == "AWS::SNS::Topic" {
            continue;
        }
        let p = props(res);
        let to_topic = p
            .get("TopicArn")
            .and_then(ref_target)
            .and_then(|t| resource(doc, t))
            .is_some_and(|t| resource_type(t) == "AWS::SNS::Topic");
        let email = p.get("Protocol").and_then(Json::as_str) == Some("email");
        if ty != "AWS::SNS::Subscription" || !to_topic || !email {
            out.push(Violation::new(
                NO_PAYLOAD_STORE,
                id,
                format!("{ty}: only e-mail subscriptions to the alarm topic are allowed"),
            ));
        }
    }
    for stmt in identity_statements(doc) {
        if is_allow(stmt.json) && actions(stmt.json).iter().any(|a| service(a) == "sns") {
            out.push(Violation::new(
                NO_PAYLOAD_STORE,
                &stmt.location,
                "SNS actions for a function: the alarm topic is for CloudWatch alarms only",
            ));
        }
    }
}
