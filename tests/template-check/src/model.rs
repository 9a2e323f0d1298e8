//! Read-only helpers over the long-form JSON template: resources, intrinsic targets, the
//! effective settings of a function (its own or `Globals`) and the IAM statements that apply
//! to it.

use std::collections::BTreeMap;

use serde_json::Value as Json;

pub const SERVERLESS_FUNCTION: &str = "AWS::Serverless::Function";
pub const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";

/// `(logical id, resource)` for every resource.
pub fn resources(doc: &Json) -> Vec<(&str, &Json)> {
    doc.get("Resources")
        .and_then(Json::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default()
}

pub fn resource<'a>(doc: &'a Json, id: &str) -> Option<&'a Json> {
    doc.get("Resources")?.get(id)
}

pub fn resource_type(res: &Json) -> &str {
    res.get("Type").and_then(Json::as_str).unwrap_or("")
}

pub fn resources_of_type<'a>(doc: &'a Json, ty: &str) -> Vec<(&'a str, &'a Json)> {
    resources(doc)
        .into_iter()
        .filter(|(_, r)| resource_type(r) == ty)
        .collect()
}

pub fn props(res: &Json) -> &Json {
    res.get("Properties").unwrap_or(&Json::Null)
}

/// The logical id a `{"Ref": X}` or `{"Fn::GetAtt": [X, _]}` points at.
pub fn ref_target(v: &Json) -> Option<&str> {
    if let Some(r) = v.get("Ref").and_then(Json::as_str) {
        return Some(r);
    }
    v.get("Fn::GetAtt")?.get(0)?.as_str()
}

/// A value that may be one item or a list, as a list.
pub fn as_list(v: &Json) -> Vec<&Json> {
    match v {
        Json::Array(items) => items.iter().collect(),
        Json::Null => Vec::new(),
        other => vec![other],
    }
}

/// CloudFormation accepts `true` and `"true"`.
pub fn is_true(v: Option<&Json>) -> bool {
    matches!(v, Some(Json::Bool(true))) || v.and_then(Json::as_str) == Some("true")
}

pub fn is_function(res: &Json) -> bool {
    matches!(resource_type(res), SERVERLESS_FUNCTION | LAMBDA_FUNCTION)
}

pub fn functions(doc: &Json) -> Vec<(&str, &Json)> {
    resources(doc)
        .into_iter()
        .filter(|(_, r)| is_function(r))
        .collect()
}

fn globals_function(doc: &Json) -> Option<&Json> {
    doc.get("Globals")?.get("Function")
}

/// A function property, falling back to `Globals.Function` for SAM functions.
pub fn function_property<'a>(doc: &'a Json, res: &'a Json, key: &str) -> Option<&'a Json> {
    if let Some(v) = props(res).get(key) {
        return Some(v);
    }
    if resource_type(res) == SERVERLESS_FUNCTION {
        return globals_function(doc)?.get(key);
    }
    None
}

/// The SAM build binary (`Metadata.BuildProperties.Binary`).
pub fn function_binary(res: &Json) -> Option<&str> {
    res.get("Metadata")?
        .get("BuildProperties")?
        .get("Binary")?
        .as_str()
}

/// Environment variables as the function will see them (Globals merged under its own).
pub fn function_env<'a>(doc: &'a Json, res: &'a Json) -> BTreeMap<&'a str, &'a Json> {
    let mut env = BTreeMap::new();
    let vars = |v: Option<&'a Json>| {
        v.and_then(|e| e.get("Environment"))
            .and_then(|e| e.get("Variables"))
            .and_then(Json::as_object)
    };
    if resource_type(res) == SERVERLESS_FUNCTION
        && let Some(global) = vars(globals_function(doc))
    {
        env.extend(global.iter().map(|(k, v)| (k.as_str(), v)));
    }
    if let Some(own) = vars(res.get("Properties")) {
        env.extend(own.iter().map(|(k, v)| (k.as_str(), v)));
    }
    env
}

/// One IAM statement, with where it came from (for messages) and which role it belongs to.
#[derive(Debug, Clone)]
pub struct Statement<'a> {
    pub location: String,
    /// Logical id of the role (or SAM function with inline `Policies`) it applies to.
    pub owners: Vec<String>,
    pub json: &'a Json,
}

fn document_statements<'a>(doc: &'a Json, location: &str, owners: &[String]) -> Vec<Statement<'a>> {
    as_list(doc.get("Statement").unwrap_or(&Json::Null))
        .into_iter()
        .enumerate()
        .map(|(i, json)| Statement {
            location: format!("{location}.Statement[{i}]"),
            owners: owners.to_vec(),
            json,
        })
        .collect()
}

/// Every statement of an identity policy in the template (roles' inline policies, policy
/// resources, SAM functions' inline `Policies` statements). Key policies are not identity
/// policies: see [`key_policy_statements`].
pub fn identity_statements(doc: &Json) -> Vec<Statement<'_>> {
    let mut out = Vec::new();
    for (id, res) in resources(doc) {
        let p = props(res);
        match resource_type(res) {
            "AWS::IAM::Role" => {
                for (i, pol) in as_list(p.get("Policies").unwrap_or(&Json::Null))
                    .into_iter()
                    .enumerate()
                {
                    if let Some(d) = pol.get("PolicyDocument") {
                        let loc = format!("{id}.Policies[{i}]");
                        out.extend(document_statements(d, &loc, &[id.to_string()]));
                    }
                }
            }
            "AWS::IAM::RolePolicy" | "AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy" => {
                let mut owners: Vec<String> = Vec::new();
                if let Some(r) = p.get("RoleName").and_then(ref_target) {
                    owners.push(r.to_string());
                }
                for r in as_list(p.get("Roles").unwrap_or(&Json::Null)) {
                    if let Some(r) = ref_target(r) {
                        owners.push(r.to_string());
                    }
                }
                if let Some(d) = p.get("PolicyDocument") {
                    out.extend(document_statements(d, id, &owners));
                }
            }
            SERVERLESS_FUNCTION => {
                for (i, pol) in as_list(p.get("Policies").unwrap_or(&Json::Null))
                    .into_iter()
                    .enumerate()
                {
                    if pol.get("Statement").is_some() {
                        let loc = format!("{id}.Policies[{i}]");
                        out.extend(document_statements(pol, &loc, &[id.to_string()]));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Every statement of every `AWS::KMS::Key` policy.
pub fn key_policy_statements(doc: &Json) -> Vec<Statement<'_>> {
    resources_of_type(doc, "AWS::KMS::Key")
        .into_iter()
        .filter_map(|(id, res)| {
            props(res)
                .get("KeyPolicy")
                .map(|d| document_statements(d, &format!("{id}.KeyPolicy"), &[id.to_string()]))
        })
        .flatten()
        .collect()
}

/// The identity statements that apply to one function: those of its role, or its own
/// inline `Policies` when SAM creates the role.
pub fn function_statements<'a>(doc: &'a Json, function_id: &str) -> Vec<Statement<'a>> {
    let Some(res) = resource(doc, function_id) else {
        return Vec::new();
    };
    let role = props(res)
        .get("Role")
        .and_then(ref_target)
        .unwrap_or(function_id);
    identity_statements(doc)
        .into_iter()
        .filter(|s| s.owners.iter().any(|o| o == role || o == function_id))
        .collect()
}

pub fn is_allow(stmt: &Json) -> bool {
    stmt.get("Effect").and_then(Json::as_str) == Some("Allow")
}

/// Literal action names of a statement (intrinsics are reported as `<intrinsic>`).
pub fn actions(stmt: &Json) -> Vec<String> {
    as_list(stmt.get("Action").unwrap_or(&Json::Null))
        .into_iter()
        .map(|a| a.as_str().unwrap_or("<intrinsic>").to_string())
        .collect()
}

/// The service prefix of an action, lower-cased (`dynamodb` for `dynamodb:GetItem`).
pub fn service(action: &str) -> String {
    action
        .split_once(':')
        .map(|(s, _)| s)
        .unwrap_or(action)
        .to_ascii_lowercase()
}

/// The literal text of a resource/principal value: plain strings and `Fn::Sub` templates.
/// `None` for `Ref`/`GetAtt` and other intrinsics, which name a concrete resource.
pub fn literal_text(v: &Json) -> Option<&str> {
    if let Some(s) = v.as_str() {
        return Some(s);
    }
    let sub = v.get("Fn::Sub")?;
    sub.as_str().or_else(|| sub.get(0)?.as_str())
}

/// Condition keys used by a statement, lower-cased, across all operators.
pub fn condition_keys(stmt: &Json) -> Vec<String> {
    stmt.get("Condition")
        .and_then(Json::as_object)
        .map(|ops| {
            ops.values()
                .filter_map(Json::as_object)
                .flat_map(|m| m.keys().map(|k| k.to_ascii_lowercase()))
                .collect()
        })
        .unwrap_or_default()
}
