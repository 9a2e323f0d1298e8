//! The strict OpenAPI 3.0 schema walker.
//!
//! Supported: `$ref` (with a `nullable` sibling, which Klaviyo's spec relies on), `allOf`,
//! `oneOf`, `anyOf`, `nullable`, `type`, `enum`, `required`, `properties`, `items`,
//! `additionalProperties`, `format` (date-time, date, uri), `minLength`/`maxLength`,
//! `minItems`/`maxItems`, `minimum`/`maximum` (+ 3.0 boolean `exclusive*`),
//! `minProperties`/`maxProperties`, and `readOnly` (must not be sent in a request).
//! `pattern` is not evaluated (no regex engine; the spec has none on request bodies).
//!
//! Strictness: an object schema that declares `properties` is closed unless it says otherwise
//! with `additionalProperties`. Under `allOf`, the allowed keys are the union of every branch,
//! so splitting one object over several branches does not make each branch reject the others.

use std::collections::BTreeSet;
use std::fmt;

use serde_json::{Map, Value};

use crate::formats;

/// One spec violation: where (JSON pointer into the body, `""` = the whole body) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub pointer: String,
    pub message: String,
}

impl Violation {
    pub(crate) fn root(message: impl Into<String>) -> Violation {
        Violation {
            pointer: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = if self.pointer.is_empty() {
            "(body)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Requests must not carry `readOnly` fields; responses may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Request,
    Response,
}

/// Guards against `$ref` cycles that do not consume any of the instance.
const MAX_DEPTH: usize = 256;

pub(crate) fn validate(
    root: &Value,
    schema: &Value,
    instance: &Value,
    direction: Direction,
) -> Result<(), Vec<Violation>> {
    let walker = Walker { root, direction };
    let mut out = Vec::new();
    walker.check(schema, instance, &mut String::new(), true, 0, &mut out);
    if out.is_empty() { Ok(()) } else { Err(out) }
}

/// Resolves a local `#/...` reference.
pub(crate) fn resolve_ref<'a>(root: &'a Value, reference: &str) -> Option<&'a Value> {
    root.pointer(reference.strip_prefix('#')?)
}

struct Walker<'a> {
    root: &'a Value,
    direction: Direction,
}

impl<'a> Walker<'a> {
    /// Checks `inst` against `schema`. `closed` is false only for `allOf` branches, whose
    /// closedness is judged once, by the parent, over the union of all branches.
    fn check(
        &self,
        schema: &'a Value,
        inst: &Value,
        ptr: &mut String,
        closed: bool,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if depth > MAX_DEPTH {
            out.push(self.violation(ptr, "schema nesting too deep (cyclic $ref?)"));
            return;
        }
        let Some(s) = schema.as_object() else {
            // `true`/`{}`-like schemas accept anything; `false` accepts nothing.
            if schema == &Value::Bool(false) {
                out.push(self.violation(ptr, "no value is allowed here"));
            }
            return;
        };
        if inst.is_null() && flag(s, "nullable") {
            return;
        }
        if let Some(reference) = s.get("$ref").and_then(Value::as_str) {
            match resolve_ref(self.root, reference) {
                Some(target) => self.check(target, inst, ptr, closed, depth + 1, out),
                None => out.push(self.violation(ptr, format!("unresolvable $ref {reference}"))),
            }
            // OpenAPI 3.0: siblings of $ref (other than the nullable above) are ignored.
            return;
        }
        if let Some(expected) = s.get("type").and_then(Value::as_str)
            && !type_matches(expected, inst)
        {
            out.push(self.violation(
                ptr,
                format!("expected {expected}, found {}", type_name(inst)),
            ));
            return;
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array)
            && !allowed.iter().any(|a| json_eq(a, inst))
        {
            out.push(self.violation(
                ptr,
                format!("value not in enum {}", Value::from(allowed.clone())),
            ));
        }
        match inst {
            Value::String(text) => self.check_string(s, text, ptr, out),
            Value::Number(_) => self.check_number(s, inst, ptr, out),
            Value::Array(items) => self.check_array(s, items, ptr, depth, out),
            Value::Object(map) => self.check_object(s, map, ptr, closed, depth, out),
            Value::Null | Value::Bool(_) => {}
        }
        if let Some(branches) = s.get("allOf").and_then(Value::as_array) {
            for branch in branches {
                self.check(branch, inst, ptr, false, depth + 1, out);
            }
        }
        if let Some(branches) = s.get("oneOf").and_then(Value::as_array) {
            self.check_alternatives(branches, inst, ptr, depth, true, out);
        }
        if let Some(branches) = s.get("anyOf").and_then(Value::as_array) {
            self.check_alternatives(branches, inst, ptr, depth, false, out);
        }
    }

    fn check_string(
        &self,
        s: &Map<String, Value>,
        text: &str,
        ptr: &str,
        out: &mut Vec<Violation>,
    ) {
        let valid_format = match s.get("format").and_then(Value::as_str) {
            Some("date-time") => formats::is_date_time(text),
            Some("date") => formats::is_full_date(text),
            Some("uri") => formats::is_uri(text),
            _ => true,
        };
        if !valid_format {
            let format = s.get("format").and_then(Value::as_str).unwrap_or_default();
            let hint = match format {
                "date-time" => " (RFC 3339, e.g. 2026-11-20T10:15:00+03:00)",
                "date" => " (YYYY-MM-DD)",
                _ => "",
            };
            out.push(self.violation(ptr, format!("not a valid {format}{hint}")));
        }
        let len = text.chars().count() as u64;
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && len < min
        {
            out.push(self.violation(ptr, format!("shorter than minLength {min}")));
        }
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
            && len > max
        {
            out.push(self.violation(ptr, format!("longer than maxLength {max}")));
        }
    }

    fn check_number(
        &self,
        s: &Map<String, Value>,
        inst: &Value,
        ptr: &str,
        out: &mut Vec<Violation>,
    ) {
        let Some(n) = inst.as_f64() else { return };
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            let exclusive = flag(s, "exclusiveMinimum");
            if n < min || (exclusive && n == min) {
                let rel = if exclusive { "must be >" } else { "must be >=" };
                out.push(self.violation(ptr, format!("{rel} {min}")));
            }
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            let exclusive = flag(s, "exclusiveMaximum");
            if n > max || (exclusive && n == max) {
                let rel = if exclusive { "must be <" } else { "must be <=" };
                out.push(self.violation(ptr, format!("{rel} {max}")));
            }
        }
    }

    fn check_array(
        &self,
        s: &'a Map<String, Value>,
        items: &[Value],
        ptr: &mut String,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        let len = items.len() as u64;
        if let Some(min) = s.get("minItems").and_then(Value::as_u64)
            && len < min
        {
            out.push(self.violation(ptr, format!("fewer than minItems {min}")));
        }
        if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
            && len > max
        {
            out.push(self.violation(ptr, format!("more than maxItems {max}")));
        }
        if let Some(item_schema) = s.get("items") {
            for (i, item) in items.iter().enumerate() {
                let mark = push_segment(ptr, &i.to_string());
                self.check(item_schema, item, ptr, true, depth + 1, out);
                ptr.truncate(mark);
            }
        }
    }

    fn check_object(
        &self,
        s: &'a Map<String, Value>,
        map: &Map<String, Value>,
        ptr: &mut String,
        closed: bool,
        depth: usize,
        out: &mut Vec<Violation>,
    ) {
        if let Some(required) = s.get("required").and_then(Value::as_array) {
            for name in required.iter().filter_map(Value::as_str) {
                if !map.contains_key(name) {
                    out.push(self.violation(ptr, format!("missing required property `{name}`")));
                }
            }
        }
        let count = map.len() as u64;
        if let Some(min) = s.get("minProperties").and_then(Value::as_u64)
            && count < min
        {
            out.push(self.violation(ptr, format!("fewer than minProperties {min}")));
        }
        if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
            && count > max
        {
            out.push(self.violation(ptr, format!("more than maxProperties {max}")));
        }
        let properties = s.get("properties").and_then(Value::as_object);
        let additional = s.get("additionalProperties");
        for (key, value) in map {
            let mark = push_segment(ptr, key);
            if let Some(prop_schema) = properties.and_then(|p| p.get(key)) {
                if self.direction == Direction::Request && self.is_read_only(prop_schema) {
                    out.push(self.violation(ptr, "read-only property must not be sent"));
                }
                self.check(prop_schema, value, ptr, true, depth + 1, out);
            } else if let Some(extra) = additional.filter(|a| a.is_object()) {
                self.check(extra, value, ptr, true, depth + 1, out);
            }
            ptr.truncate(mark);
        }
        if closed && additional.is_none_or(|a| a == &Value::Bool(false)) {
            let forbid_all = additional == Some(&Value::Bool(false));
            let mut allowed = BTreeSet::new();
            let declares = self.declared_properties(s, &mut allowed, 0);
            if declares || forbid_all {
                for key in map.keys().filter(|k| !allowed.contains(k.as_str())) {
                    let mark = push_segment(ptr, key);
                    out.push(self.violation(ptr, "unknown property (not in the schema)"));
                    ptr.truncate(mark);
                }
            }
        }
    }

    /// Collects the property names `s` (plus its `$ref` target and `allOf` branches) declares.
    /// Returns whether any of them declared `properties` at all (else the object is free-form).
    fn declared_properties(
        &self,
        s: &'a Map<String, Value>,
        allowed: &mut BTreeSet<&'a str>,
        depth: usize,
    ) -> bool {
        if depth > MAX_DEPTH {
            return false;
        }
        if let Some(target) = s
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| resolve_ref(self.root, r))
            .and_then(Value::as_object)
        {
            return self.declared_properties(target, allowed, depth + 1);
        }
        let mut declares = false;
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            declares = true;
            allowed.extend(props.keys().map(String::as_str));
        }
        for branch in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_object)
        {
            // A branch that opens the object (additionalProperties) opens the whole union.
            if branch
                .get("additionalProperties")
                .is_some_and(|a| a != &Value::Bool(false))
            {
                return false;
            }
            declares |= self.declared_properties(branch, allowed, depth + 1);
        }
        declares
    }

    fn check_alternatives(
        &self,
        branches: &'a [Value],
        inst: &Value,
        ptr: &mut String,
        depth: usize,
        exactly_one: bool,
        out: &mut Vec<Violation>,
    ) {
        let mut matched = Vec::new();
        let mut best: Option<Vec<Violation>> = None;
        for (i, branch) in branches.iter().enumerate() {
            let mut errs = Vec::new();
            self.check(branch, inst, ptr, true, depth + 1, &mut errs);
            if errs.is_empty() {
                matched.push(i);
            } else if best.as_ref().is_none_or(|b| errs.len() < b.len()) {
                best = Some(errs);
            }
        }
        let keyword = if exactly_one { "oneOf" } else { "anyOf" };
        if matched.is_empty() {
            out.push(self.violation(
                ptr,
                format!(
                    "matches none of the {} {keyword} alternatives",
                    branches.len()
                ),
            ));
            // The closest alternative's complaints are usually the useful ones.
            out.extend(best.unwrap_or_default());
        } else if exactly_one && matched.len() > 1 && !numeric_union(branches, &matched) {
            out.push(self.violation(
                ptr,
                format!("matches more than one oneOf alternative ({matched:?})"),
            ));
        }
    }

    fn is_read_only(&self, schema: &Value) -> bool {
        let mut schema = schema;
        for _ in 0..16 {
            if schema.get("readOnly").and_then(Value::as_bool) == Some(true) {
                return true;
            }
            match schema
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| resolve_ref(self.root, r))
            {
                Some(target) => schema = target,
                None => return false,
            }
        }
        false
    }

    fn violation(&self, ptr: &str, message: impl Into<String>) -> Violation {
        Violation {
            pointer: ptr.to_owned(),
            message: message.into(),
        }
    }
}

fn flag(s: &Map<String, Value>, name: &str) -> bool {
    s.get(name).and_then(Value::as_bool) == Some(true)
}

/// Appends an RFC 6901-escaped segment; returns the length to truncate back to.
fn push_segment(ptr: &mut String, key: &str) -> usize {
    let mark = ptr.len();
    ptr.push('/');
    for c in key.chars() {
        match c {
            '~' => ptr.push_str("~0"),
            '/' => ptr.push_str("~1"),
            c => ptr.push(c),
        }
    }
    mark
}

fn type_matches(expected: &str, inst: &Value) -> bool {
    match expected {
        "string" => inst.is_string(),
        "number" => inst.is_number(),
        // JSON Schema: 3.0 is an integer too.
        "integer" => {
            inst.is_i64()
                || inst.is_u64()
                || inst
                    .as_f64()
                    .is_some_and(|f| f.is_finite() && f.fract() == 0.0)
        }
        "boolean" => inst.is_boolean(),
        "array" => inst.is_array(),
        "object" => inst.is_object(),
        // Unknown type keyword: do not invent a failure.
        _ => true,
    }
}

fn type_name(inst: &Value) -> &'static str {
    match inst {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// JSON equality where 1 and 1.0 are the same number (serde_json's `==` says they differ).
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Klaviyo's spec writes "int or float" as `oneOf: [{type: integer}, {type: number}]`; every
/// whole number matches both, which strict `oneOf` would refuse though Klaviyo means either.
/// Two matches are accepted when every matched branch is a bare numeric type.
fn numeric_union(branches: &[Value], matched: &[usize]) -> bool {
    matched.iter().all(|&i| {
        branches[i].as_object().is_some_and(|b| {
            b.keys().all(|k| k == "type" || k == "description")
                && matches!(
                    b.get("type").and_then(Value::as_str),
                    Some("integer" | "number")
                )
        })
    })
}
