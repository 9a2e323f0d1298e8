//! Least privilege in identity policies.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::{FUNCTIONS, Violation, spec_for};
use crate::model::{
    Statement, actions, as_list, function_binary, function_statements, functions,
    identity_statements, is_allow, key_policy_statements, literal_text, props, ref_target,
    resource, resource_type, resources, service,
};

pub const ANY_RESOURCE: &str = "iam-data-action-any-resource";
pub const WILDCARD_ACTION: &str = "iam-wildcard-data-action";
pub const UNINSPECTABLE: &str = "iam-uninspectable-policy";
pub const FUNCTION_ACCESS: &str = "iam-function-access";

/// Actions that exist only without a resource ARN, so `"*"` is their only possible resource.
/// Everything else touches data and must name what it touches.
const RESOURCELESS_ACTIONS: &[&str] = &[
    "xray:puttracesegments",
    "xray:puttelemetryrecords",
    "cloudwatch:putmetricdata",
];

/// Services whose wildcard actions (`dynamodb:*`, `kms:Create*`) would reach stored secrets.
const DATA_SERVICES: &[&str] = &[
    "dynamodb",
    "kms",
    "secretsmanager",
    "ssm",
    "s3",
    "sqs",
    "sns",
    "logs",
];

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    for stmt in identity_statements(doc) {
        no_any_resource(&stmt, out);
        no_wildcard_actions(&stmt, out);
    }
    for stmt in key_policy_statements(doc) {
        no_wildcard_actions(&stmt, out);
    }
    no_uninspectable_policies(doc, out);
    function_access(doc, out);
}

fn no_any_resource(stmt: &Statement<'_>, out: &mut Vec<Violation>) {
    if !is_allow(stmt.json) {
        return;
    }
    if stmt.json.get("NotResource").is_some() {
        out.push(Violation::new(
            ANY_RESOURCE,
            &stmt.location,
            "Allow with NotResource",
        ));
    }
    let data_actions: Vec<String> = actions(stmt.json)
        .into_iter()
        .filter(|a| !RESOURCELESS_ACTIONS.contains(&a.to_ascii_lowercase().as_str()))
        .collect();
    if data_actions.is_empty() {
        return;
    }
    for r in as_list(stmt.json.get("Resource").unwrap_or(&Json::Null)) {
        if let Some(text) = literal_text(r)
            && text.contains('*')
        {
            out.push(Violation::new(
                ANY_RESOURCE,
                &stmt.location,
                format!("{data_actions:?} on wildcard resource {text:?}"),
            ));
        }
    }
}

fn no_wildcard_actions(stmt: &Statement<'_>, out: &mut Vec<Violation>) {
    if !is_allow(stmt.json) {
        return;
    }
    if stmt.json.get("NotAction").is_some() {
        out.push(Violation::new(
            WILDCARD_ACTION,
            &stmt.location,
            "Allow with NotAction",
        ));
    }
    for a in actions(stmt.json) {
        let broad = a == "*"
            || a == "<intrinsic>"
            || (a.contains('*') && DATA_SERVICES.contains(&service(&a).as_str()));
        if broad {
            out.push(Violation::new(
                WILDCARD_ACTION,
                &stmt.location,
                format!("wildcard or computed action {a:?}"),
            ));
        }
    }
}

/// Managed policies and SAM policy templates cannot be read from the template, so a rule
/// could never see what they grant: forbid them on the functions' roles.
fn no_uninspectable_policies(doc: &Json, out: &mut Vec<Violation>) {
    for (id, res) in resources(doc) {
        let p = props(res);
        match resource_type(res) {
            "AWS::IAM::Role"
                if !as_list(p.get("ManagedPolicyArns").unwrap_or(&Json::Null)).is_empty() =>
            {
                out.push(Violation::new(
                    UNINSPECTABLE,
                    id,
                    "role has ManagedPolicyArns",
                ));
            }
            crate::model::SERVERLESS_FUNCTION => {
                for (i, pol) in as_list(p.get("Policies").unwrap_or(&Json::Null))
                    .into_iter()
                    .enumerate()
                {
                    if pol.get("Statement").is_none() {
                        out.push(Violation::new(
                            UNINSPECTABLE,
                            format!("{id}.Policies[{i}]"),
                            "managed policy or SAM policy template; write explicit statements",
                        ));
                    }
                }
            }
            _ => {}
        }
    }
}

/// Each function may use exactly the table and key actions its code needs, on the store
/// table and the store key (referenced, not typed in).
fn function_access(doc: &Json, out: &mut Vec<Violation>) {
    for (id, res) in functions(doc) {
        let Some(spec) = function_binary(res).and_then(spec_for) else {
            continue; // reported by the function-shape rule
        };
        let mut dynamodb = BTreeSet::new();
        let mut kms = BTreeSet::new();
        for stmt in function_statements(doc, id) {
            if !is_allow(stmt.json) {
                continue;
            }
            for a in actions(stmt.json) {
                let (set, wanted_type) = match service(&a).as_str() {
                    "dynamodb" => (&mut dynamodb, "AWS::DynamoDB::Table"),
                    "kms" => (&mut kms, "AWS::KMS::Key"),
                    _ => continue,
                };
                set.insert(a.clone());
                resources_must_be(doc, &stmt, &a, wanted_type, out);
            }
        }
        compare(id, "DynamoDB", &dynamodb, spec.dynamodb, out);
        compare(id, "KMS", &kms, spec.kms, out);
    }
    for spec in FUNCTIONS {
        let found = functions(doc)
            .iter()
            .any(|(_, r)| function_binary(r) == Some(spec.binary));
        if !found {
            out.push(Violation::new(
                FUNCTION_ACCESS,
                spec.binary,
                "no function builds this binary",
            ));
        }
    }
}

fn resources_must_be(
    doc: &Json,
    stmt: &Statement<'_>,
    action: &str,
    wanted_type: &str,
    out: &mut Vec<Violation>,
) {
    for r in as_list(stmt.json.get("Resource").unwrap_or(&Json::Null)) {
        let ok = ref_target(r)
            .and_then(|t| resource(doc, t))
            .is_some_and(|target| resource_type(target) == wanted_type);
        if !ok {
            out.push(Violation::new(
                FUNCTION_ACCESS,
                &stmt.location,
                format!("{action} must target a {wanted_type} of this template via !GetAtt/!Ref, got {r}"),
            ));
        }
    }
}

fn compare(
    id: &str,
    what: &str,
    found: &BTreeSet<String>,
    wanted: &[&str],
    out: &mut Vec<Violation>,
) {
    let wanted: BTreeSet<String> = wanted.iter().map(|s| s.to_string()).collect();
    let extra: Vec<_> = found.difference(&wanted).collect();
    let missing: Vec<_> = wanted.difference(found).collect();
    if !extra.is_empty() {
        out.push(Violation::new(
            FUNCTION_ACCESS,
            id,
            format!("{what} actions beyond what the code uses: {extra:?}"),
        ));
    }
    if !missing.is_empty() {
        out.push(Violation::new(
            FUNCTION_ACCESS,
            id,
            format!("{what} actions the code needs are missing: {missing:?}"),
        ));
    }
}
