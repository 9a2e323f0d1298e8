//! Strict validation of Klaviyo API request bodies against Klaviyo's own OpenAPI spec
//! (`tests/fixtures/klaviyo-openapi/stable.json`, revision 2026-07-15).
//!
//! Why "strict": the spec never says `additionalProperties: false`, so a plain validator accepts
//! misspelled keys such as `uniqueId` or `valueCurrency`, which Klaviyo silently drops. Here every
//! object schema that declares `properties` is treated as closed; only bare `type: object`
//! schemas (event `properties`, profile `properties`, `custom_metadata`, `patch_properties.*`)
//! stay free-form.
//!
//! ```no_run
//! let spec = spec_check::Spec::load_default();
//! let body = serde_json::json!({"data": {"type": "event"}});
//! assert!(spec.validate_request("POST", "/api/events", Some(&body)).is_err());
//! ```

mod formats;
mod paths;
mod schema;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde_json::Value;

pub use paths::OperationMatch;
use paths::PathTable;
pub use schema::Violation;

/// The request media type Klaviyo's spec declares for every JSON body.
pub const JSON_API: &str = "application/vnd.api+json";

/// Environment variable that overrides where [`Spec::load_default`] reads the spec from.
pub const SPEC_PATH_ENV: &str = "KLAVIYO_OPENAPI";

/// The parsed OpenAPI document plus a path-template table for operation lookup.
pub struct Spec {
    doc: Value,
    paths: PathTable,
}

impl std::fmt::Debug for Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("revision", &self.revision())
            .field("paths", &self.paths.len())
            .finish()
    }
}

impl Spec {
    /// Reads and parses an OpenAPI 3.0 JSON document.
    pub fn load(path: &Path) -> Result<Spec, String> {
        let bytes = std::fs::read(path)
            .map_err(|e| format!("cannot read OpenAPI spec {}: {e}", path.display()))?;
        let doc: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
        Spec::from_value(doc)
    }

    /// Builds a spec from an already parsed document (handy for small hand-written specs in tests).
    pub fn from_value(doc: Value) -> Result<Spec, String> {
        let paths = PathTable::build(&doc)?;
        Ok(Spec { doc, paths })
    }

    /// Loads `$KLAVIYO_OPENAPI` or `<workspace>/tests/fixtures/klaviyo-openapi/stable.json`.
    ///
    /// Panics with a clear message if the file is absent: this is a test helper, and a test
    /// that silently skipped spec validation would prove nothing.
    pub fn load_default() -> Spec {
        let path = default_path();
        match Spec::load(&path) {
            Ok(spec) => spec,
            Err(e) => panic!(
                "spec-check: {e}. Klaviyo's stable.json belongs at {} \
                 (see tests/fixtures/README.md), or point ${SPEC_PATH_ENV} at a copy.",
                path.display()
            ),
        }
    }

    /// A process-wide copy of [`Spec::load_default`], parsed once. Parsing the 3 MB spec is the
    /// expensive part, so tests that validate many bodies should use this.
    pub fn shared() -> &'static Spec {
        static SHARED: OnceLock<Spec> = OnceLock::new();
        SHARED.get_or_init(Spec::load_default)
    }

    /// `info.version` of the document, i.e. the API revision (`2026-07-15`).
    pub fn revision(&self) -> Option<&str> {
        self.doc.pointer("/info/version").and_then(Value::as_str)
    }

    /// The whole parsed document, for callers that need something this API does not offer.
    pub fn document(&self) -> &Value {
        &self.doc
    }

    /// Finds the operation for `method` + `path`. `path` may be a full URL and may carry a query
    /// string; both are ignored. Literal segments win over `{param}` segments.
    pub fn find_operation(&self, method: &str, path: &str) -> Option<OperationMatch> {
        let method = method.to_ascii_lowercase();
        self.paths
            .find(path, |template| self.operation(template, &method).is_some())
            .map(|(template, params)| OperationMatch {
                operation_id: self
                    .operation(&template, &method)
                    .and_then(|op| op.get("operationId"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                template,
                method,
                params,
            })
    }

    /// Validates a request body for `method` + `path` in strict mode; messages carry a JSON pointer.
    pub fn validate_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), Vec<String>> {
        self.check_request(method, path, body)
            .map_err(|v| v.iter().map(Violation::to_string).collect())
    }

    /// Same as [`Spec::validate_request`], with structured violations (pointer kept apart).
    pub fn check_request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), Vec<Violation>> {
        let Some(found) = self.find_operation(method, path) else {
            return Err(vec![Violation::root(format!(
                "no operation {} {} in the spec",
                method.to_ascii_uppercase(),
                paths::strip_to_path(path)
            ))]);
        };
        let op = self
            .operation(&found.template, &found.method)
            .ok_or_else(|| vec![Violation::root("operation vanished from the spec")])?;
        let request_body = op.get("requestBody").map(|rb| self.resolve(rb));
        let Some(request_body) = request_body else {
            return match body {
                None => Ok(()),
                Some(_) => Err(vec![Violation::root(format!(
                    "{} {} takes no request body",
                    found.method.to_ascii_uppercase(),
                    found.template
                ))]),
            };
        };
        let required = request_body
            .get("required")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let Some(body) = body else {
            return if required {
                Err(vec![Violation::root(format!(
                    "{} {} requires a request body",
                    found.method.to_ascii_uppercase(),
                    found.template
                ))])
            } else {
                Ok(())
            };
        };
        let Some(schema) = request_body
            .get("content")
            .and_then(|c| c.get(JSON_API))
            .and_then(|m| m.get("schema"))
        else {
            return Err(vec![Violation::root(format!(
                "{} {} has no {JSON_API} request schema",
                found.method.to_ascii_uppercase(),
                found.template
            ))]);
        };
        schema::validate(&self.doc, schema, body, schema::Direction::Request)
    }

    /// Validates a response body against the spec's schema for `status` (exact code, then `2XX`
    /// style ranges, then `default`). Used to keep the Klaviyo stub's answers honest.
    pub fn validate_response(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &Value,
    ) -> Result<(), Vec<String>> {
        let found = self.find_operation(method, path).ok_or_else(|| {
            vec![format!(
                "no operation {} {} in the spec",
                method.to_ascii_uppercase(),
                paths::strip_to_path(path)
            )]
        })?;
        let responses = self
            .operation(&found.template, &found.method)
            .and_then(|op| op.get("responses"))
            .ok_or_else(|| vec![format!("{} has no responses", found.template)])?;
        let exact = status.to_string();
        let range = format!("{}XX", status / 100);
        let response = responses
            .get(&exact)
            .or_else(|| responses.get(&range))
            .or_else(|| responses.get("default"))
            .map(|r| self.resolve(r))
            .ok_or_else(|| vec![format!("{} declares no response {status}", found.template)])?;
        let Some(schema) = response
            .get("content")
            .and_then(|c| c.get(JSON_API))
            .and_then(|m| m.get("schema"))
        else {
            return Err(vec![format!(
                "{} response {status} declares no {JSON_API} body",
                found.template
            )]);
        };
        schema::validate(&self.doc, schema, body, schema::Direction::Response)
            .map_err(|v| v.iter().map(Violation::to_string).collect())
    }

    fn operation(&self, template: &str, method: &str) -> Option<&Value> {
        self.doc.get("paths")?.get(template)?.get(method)
    }

    /// Follows `$ref`s on non-schema objects (request bodies, responses).
    fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        for _ in 0..16 {
            match value
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| schema::resolve_ref(&self.doc, r))
            {
                Some(target) => value = target,
                None => break,
            }
        }
        value
    }
}

/// `$KLAVIYO_OPENAPI`, else the copy of the spec in `tests/fixtures/`.
pub fn default_path() -> PathBuf {
    match std::env::var_os(SPEC_PATH_ENV) {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../fixtures/klaviyo-openapi/stable.json"
        )),
    }
}
