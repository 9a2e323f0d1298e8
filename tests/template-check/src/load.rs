//! YAML (with CloudFormation short-form tags) → long-form JSON.

use std::path::{Path, PathBuf};

use serde_json::{Map, Number, Value as Json};
use serde_yaml_ng::Value as Yaml;

use crate::TemplateError;

/// Short-form tags CloudFormation accepts, without the leading `!`. `Ref` and `Condition`
/// keep their bare name in long form; everything else becomes `Fn::<name>`.
const INTRINSICS: &[&str] = &[
    "Ref",
    "Condition",
    "GetAtt",
    "Sub",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "FindInMap",
    "Join",
    "Select",
    "Split",
    "GetAZs",
    "ImportValue",
    "Base64",
    "Cidr",
    "Transform",
    "ToJsonString",
    "Length",
];

/// `<workspace root>/template.yaml`.
pub fn template_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
}

/// Loads the workspace's template; panics with a clear message (tests only).
pub fn load_default() -> Json {
    let path = template_path();
    load(&path).unwrap_or_else(|e| panic!("template-check: {e}"))
}

pub fn load(path: &Path) -> Result<Json, TemplateError> {
    let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    parse(&text)
}

pub fn parse(text: &str) -> Result<Json, TemplateError> {
    let yaml: Yaml =
        serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Yaml(e.to_string()))?;
    to_json(&yaml, "$")
}

fn to_json(yaml: &Yaml, at: &str) -> Result<Json, TemplateError> {
    Ok(match yaml {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(*b),
        Yaml::Number(n) => number(n, at)?,
        Yaml::String(s) => Json::String(s.clone()),
        Yaml::Sequence(items) => Json::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, item)| to_json(item, &format!("{at}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let key = scalar_key(key, at)?;
                let child = to_json(value, &format!("{at}.{key}"))?;
                out.insert(key, child);
            }
            Json::Object(out)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            if !INTRINSICS.contains(&name) {
                return Err(TemplateError::Unsupported {
                    at: at.to_string(),
                    reason: format!("unknown tag {tag}"),
                });
            }
            let inner = to_json(&tagged.value, at)?;
            let (key, value) = match (name, inner) {
                // `!GetAtt Res.Attr` (string form) is `["Res", "Attr"]` in long form; the
                // attribute itself may contain dots (e.g. Endpoint.Address).
                ("GetAtt", Json::String(s)) => match s.split_once('.') {
                    Some((res, attr)) => ("Fn::GetAtt".to_string(), Json::from(vec![res, attr])),
                    None => {
                        return Err(TemplateError::Unsupported {
                            at: at.to_string(),
                            reason: format!("!GetAtt {s} has no attribute"),
                        });
                    }
                },
                ("Ref" | "Condition", inner) => (name.to_string(), inner),
                (_, inner) => (format!("Fn::{name}"), inner),
            };
            let mut out = Map::new();
            out.insert(key, value);
            Json::Object(out)
        }
    })
}

fn number(n: &serde_yaml_ng::Number, at: &str) -> Result<Json, TemplateError> {
    if let Some(i) = n.as_i64() {
        return Ok(Json::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Json::from(u));
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .map(Json::Number)
        .ok_or_else(|| TemplateError::Unsupported {
            at: at.to_string(),
            reason: format!("number {n} has no JSON form"),
        })
}

fn scalar_key(key: &Yaml, at: &str) -> Result<String, TemplateError> {
    match key {
        Yaml::String(s) => Ok(s.clone()),
        Yaml::Bool(b) => Ok(b.to_string()),
        Yaml::Number(n) => Ok(n.to_string()),
        _ => Err(TemplateError::Unsupported {
            at: at.to_string(),
            reason: "mapping key is not a scalar".to_string(),
        }),
    }
}
