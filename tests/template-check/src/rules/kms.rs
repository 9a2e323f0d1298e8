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
        if !is_alarm_topic_use(doc, stmt.json) {
            encryption_context(&stmt, out);
        }
    }
    for stmt in key_policy_statements(doc) {
        key_policy(&stmt, out);
    }
    key_settings(doc, out);
}

/// The encryption context every stored secret is encrypted under (see the DynamoDB key
/// store): the store it belongs to and which secret of that store it is.
pub const CONTEXT_KEYS: &[&str] = &["store_id", "secret"];

/// The one use of the store key outside the functions: CloudWatch encrypting alarm messages
/// for the stack's alarm topic. Exempt from the store context only when it is exactly that:
/// the CloudWatch service alone, data keys and decryption only, and bound by SNS's encryption
/// context to the ARN of the template's one topic (built from its `TopicName`, since the topic
/// itself names the key and a `!Ref` back would be circular).
fn is_alarm_topic_use(doc: &Json, stmt: &Json) -> bool {
    let principal_is_cloudwatch =
        stmt.get("Principal")
            .and_then(Json::as_object)
            .is_some_and(|p| {
                p.len() == 1
                    && p.get("Service").and_then(Json::as_str) == Some("cloudwatch.amazonaws.com")
            });
    let acts = actions(stmt);
    let only_data_keys = !acts.is_empty()
        && acts.iter().all(|a| {
            a.eq_ignore_ascii_case("kms:GenerateDataKey") || a.eq_ignore_ascii_case("kms:Decrypt")
        });
    let topics = resources_of_type(doc, "AWS::SNS::Topic");
    let [(_, topic)] = topics.as_slice() else {
        return false;
    };
    let Some(name) = props(topic).get("TopicName").and_then(literal_text) else {
        return false;
    };
    let wanted = format!("arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{AWS::AccountId}}:{name}");
    let bound = condition(
        stmt,
        "StringEquals",
        "kms:EncryptionContext:aws:sns:topicArn",
    )
    .and_then(literal_text)
        == Some(wanted.as_str());
    let only_that_condition = stmt
        .get("Condition")
        .and_then(Json::as_object)
        .is_some_and(|c| c.len() == 1);
    principal_is_cloudwatch && only_data_keys && bound && only_that_condition
}

/// The value of condition `key` under `operator` (keys compared case-insensitively, as IAM
/// does).
fn condition<'a>(stmt: &'a Json, operator: &str, key: &str) -> Option<&'a Json> {
    stmt.get("Condition")?
        .get(operator)?
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(key))
        .map(|(_, v)| v)
}

/// Crypto is allowed only under exactly the context the code uses. `ForAllValues` on
/// `kms:EncryptionContextKeys` forbids other keys but is satisfied by an empty context, so
/// each key must also be required to be present (`Null` = false): together they pin the
/// context to `{store_id, secret}`, and a ciphertext cannot be decrypted under a context
/// that names only the store.
fn encryption_context(stmt: &Statement<'_>, out: &mut Vec<Violation>) {
    if !is_allow(stmt.json) || !actions(stmt.json).iter().any(|a| is_crypto(a)) {
        return;
    }
    let mut fail = |detail: String| {
        out.push(Violation::new(ENCRYPTION_CONTEXT, &stmt.location, detail));
    };
    let allowed: Option<Vec<&str>> = condition(
        stmt.json,
        "ForAllValues:StringEquals",
        "kms:EncryptionContextKeys",
    )
    .map(|v| as_list(v).into_iter().filter_map(Json::as_str).collect());
    match allowed {
        Some(mut keys) => {
            keys.sort_unstable();
            let mut wanted = CONTEXT_KEYS.to_vec();
            wanted.sort_unstable();
            if keys != wanted {
                fail(format!(
                    "ForAllValues:StringEquals kms:EncryptionContextKeys must be exactly \
                     {CONTEXT_KEYS:?}, got {keys:?}"
                ));
            }
        }
        None => fail(
            "KMS encrypt/decrypt without a ForAllValues:StringEquals kms:EncryptionContextKeys \
             condition"
                .to_string(),
        ),
    }
    for key in CONTEXT_KEYS {
        let name = format!("kms:EncryptionContext:{key}");
        let required = condition(stmt.json, "Null", &name)
            .is_some_and(|v| v.as_bool() == Some(false) || v.as_str() == Some("false"));
        if !required {
            fail(format!(
                "KMS encrypt/decrypt without a Null {name} = false condition (the context \
                 must name the {key})"
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
