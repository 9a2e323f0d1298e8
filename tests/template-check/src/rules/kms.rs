//! The store key: rotation, who may use it, and under which encryption context.

use serde_json::Value as Json;

use super::Violation;
use crate::model::{
    Statement, actions, as_list, condition_keys, identity_statements, is_allow, is_true,
    key_policy_statements, literal_text, props, resources_of_type,
};

pub const ENCRYPTION_CONTEXT: &str = "kms-encryption-context";
pub const KEY_POLICY: &str = "kms-key-policy";
pub const KEY_SETTINGS: &str = "kms-key-settings";

/// Actions that produce or consume ciphertext of a stored secret.
fn is_crypto(action: &str) -> bool {
    let a = action.to_ascii_lowercase();
    a == "*"
        || a == "kms:*"
        || a == "kms:encrypt"
        || a == "kms:decrypt"
        || a.starts_with("kms:generatedatakey")
        || a.starts_with("kms:reencrypt")
}

/// Actions that would let a principal use the key without the statements below.
fn is_delegating(action: &str) -> bool {
    is_crypto(action) || action.eq_ignore_ascii_case("kms:CreateGrant")
}

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    for stmt in identity_statements(doc)
        .into_iter()
        .chain(key_policy_statements(doc))
    {
        encryption_context(&stmt, out);
    }
    for stmt in key_policy_statements(doc) {
        key_policy(&stmt, out);
    }
    key_settings(doc, out);
}

/// `kms:EncryptionContextKeys` alone (ForAllValues) is satisfied by an empty context, so the
/// store id must also be required explicitly.
fn encryption_context(stmt: &Statement<'_>, out: &mut Vec<Violation>) {
    if !is_allow(stmt.json) || !actions(stmt.json).iter().any(|a| is_crypto(a)) {
        return;
    }
    let keys = condition_keys(stmt.json);
    for required in [
        "kms:encryptioncontextkeys",
        "kms:encryptioncontext:store_id",
    ] {
        if !keys.iter().any(|k| k == required) {
            out.push(Violation::new(
                ENCRYPTION_CONTEXT,
                &stmt.location,
                format!("KMS encrypt/decrypt without a {required} condition"),
            ));
        }
    }
}

fn key_policy(stmt: &Statement<'_>, out: &mut Vec<Violation>) {
    if !is_allow(stmt.json) {
        return;
    }
    let principal = stmt.json.get("Principal").unwrap_or(&Json::Null);
    let mut principals: Vec<&Json> = Vec::new();
    match principal {
        Json::Object(m) => {
            for v in m.values() {
                principals.extend(as_list(v));
            }
        }
        other => principals.extend(as_list(other)),
    }
    if principals.iter().any(|p| p.as_str() == Some("*")) {
        out.push(Violation::new(
            KEY_POLICY,
            &stmt.location,
            "Principal \"*\" in a key policy",
        ));
    }
    let account_wide = principals
        .iter()
        .any(|p| literal_text(p).is_some_and(|t| t.ends_with(":root")));
    let delegates = actions(stmt.json).iter().any(|a| is_delegating(a));
    let pinned = condition_keys(stmt.json)
        .iter()
        .any(|k| k == "aws:principalarn");
    if account_wide && delegates && !pinned {
        out.push(Violation::new(
            KEY_POLICY,
            &stmt.location,
            "the whole account may use the key; pin crypto to the function roles with aws:PrincipalArn",
        ));
    }
}

fn key_settings(doc: &Json, out: &mut Vec<Violation>) {
    let keys = resources_of_type(doc, "AWS::KMS::Key");
    if keys.is_empty() {
        out.push(Violation::new(
            KEY_SETTINGS,
            "Resources",
            "no customer-managed KMS key",
        ));
    }
    for (id, res) in keys {
        if !is_true(props(res).get("EnableKeyRotation")) {
            out.push(Violation::new(
                KEY_SETTINGS,
                id,
                "EnableKeyRotation is not true",
            ));
        }
        if props(res).get("KeyPolicy").is_none() {
            out.push(Violation::new(KEY_SETTINGS, id, "no explicit KeyPolicy"));
        }
        if res.get("DeletionPolicy").and_then(Json::as_str) != Some("Retain") {
            out.push(Violation::new(
                KEY_SETTINGS,
                id,
                "DeletionPolicy must be Retain (deleting the stack must not destroy stored secrets' key)",
            ));
        }
    }
}
