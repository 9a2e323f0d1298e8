//! Secrets never sit in the template or the repository: secret parameters are NoEcho with no
//! default, and secret environment variables come from Secrets Manager or such a parameter.

use serde_json::Value as Json;

use super::{FUNCTIONS, Violation, spec_for};
use crate::model::{function_binary, function_env, functions, is_true, literal_text};

pub const PARAMETER: &str = "secret-parameter";
pub const ENV: &str = "secret-env";
pub const ROTATION: &str = "secret-rotation";

const SECRET_WORDS: &[&str] = &[
    "secret",
    "token",
    "password",
    "privatekey",
    "private_key",
    "apikey",
    "api_key",
];
/// Settings that name or version a secret, or choose how one is checked, rather than hold one.
const NAMING_SUFFIXES: &[&str] = &["name", "arn", "revision", "strategy"];

fn looks_secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| n.contains(w))
}

pub fn is_secret_parameter(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    looks_secret(name) && !NAMING_SUFFIXES.iter().any(|s| n.ends_with(s))
}

pub fn check(doc: &Json, out: &mut Vec<Violation>) {
    let params = doc.get("Parameters").and_then(Json::as_object);
    for (name, p) in params.into_iter().flatten() {
        if !is_secret_parameter(name) {
            continue;
        }
        let at = format!("Parameters.{name}");
        if p.get("Default").is_some() {
            out.push(Violation::new(
                PARAMETER,
                &at,
                "secret parameter has a Default",
            ));
        }
        if !is_true(p.get("NoEcho")) {
            out.push(Violation::new(
                PARAMETER,
                &at,
                "secret parameter is not NoEcho",
            ));
        }
    }
    for (id, res) in functions(doc) {
        let allowed = function_binary(res)
            .and_then(spec_for)
            .map(|s| s.secrets)
            .unwrap_or_default();
        for (name, value) in function_env(doc, res) {
            if !is_secret_parameter(name) {
                continue;
            }
            let at = format!("{id}.Environment.{name}");
            if !allowed.contains(&name) {
                out.push(Violation::new(
                    ENV,
                    &at,
                    "this function does not need this secret",
                ));
            }
            if !from_secret_store(doc, value) {
                out.push(Violation::new(
                    ENV,
                    &at,
                    "must be a {{resolve:secretsmanager:…}} reference or !Ref to a NoEcho parameter",
                ));
            }
        }
    }
    rotation(doc, out);
    // Every secret a binary needs is wired (the config rule checks presence; this keeps the
    // list of secret names in one place honest).
    for spec in FUNCTIONS {
        for s in spec.secrets {
            if !spec.env.contains(s) {
                out.push(Violation::new(
                    ENV,
                    spec.binary,
                    format!("{s} is not in the required env"),
                ));
            }
        }
    }
}

/// A previous secret (`X_SECRET_PREVIOUS`) verifies only inside an overlap window that ends:
/// the function must also get `X_ROTATION_ENDS_AT`, from a parameter (the code refuses to
/// start with the one and not the other, so this fails the template before the deploy does).
fn rotation(doc: &Json, out: &mut Vec<Violation>) {
    for (id, res) in functions(doc) {
        let env = function_env(doc, res);
        for name in env.keys() {
            let Some(stem) = name.strip_suffix("_SECRET_PREVIOUS") else {
                continue;
            };
            let ends = format!("{stem}_ROTATION_ENDS_AT");
            let from_parameter = env
                .get(ends.as_str())
                .and_then(|v| v.get("Ref"))
                .and_then(Json::as_str)
                .is_some_and(|p| doc.pointer(&format!("/Parameters/{p}")).is_some());
            if !from_parameter {
                out.push(Violation::new(
                    ROTATION,
                    format!("{id}.Environment.{name}"),
                    format!("needs {ends} from a parameter: an overlap without an end never ends"),
                ));
            }
        }
    }
}

fn from_secret_store(doc: &Json, value: &Json) -> bool {
    // `!If [cond, a, b]`: each branch a secret store reference or the empty "not set".
    if let Some(branches) = value.get("Fn::If").and_then(Json::as_array) {
        return branches.len() == 3
            && branches[1..]
                .iter()
                .all(|b| b.as_str() == Some("") || from_secret_store(doc, b));
    }
    if let Some(param) = value.get("Ref").and_then(Json::as_str) {
        let p = doc.get("Parameters").and_then(|ps| ps.get(param));
        return p.is_some_and(|p| is_true(p.get("NoEcho")) && p.get("Default").is_none());
    }
    // Only a whole-value dynamic reference: text around it would be a literal part of a secret.
    literal_text(value).is_some_and(|t| {
        t.starts_with("{{resolve:secretsmanager:")
            && t.ends_with("}}")
            && t.matches("{{").count() == 1
    })
}
