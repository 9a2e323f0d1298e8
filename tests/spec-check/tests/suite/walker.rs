//! The schema walker on small hand-written specs: allOf unions, additionalProperties, limits,
//! readOnly, cyclic refs. Fast, and independent of Klaviyo's file.

use serde_json::{Value, json};
use spec_check::Spec;

fn spec_with(schema: Value) -> Spec {
    Spec::from_value(json!({
        "openapi": "3.0.2",
        "info": {"version": "test"},
        "paths": {"/t": {"post": {
            "requestBody": {"$ref": "#/components/requestBodies/T"},
            "responses": {"200": {"content": {"application/vnd.api+json": {"schema": {"$ref": "#/components/schemas/T"}}}}}
        }}},
        "components": {
            "requestBodies": {"T": {"required": true, "content": {"application/vnd.api+json": {"schema": {"$ref": "#/components/schemas/T"}}}}},
            "schemas": {"T": schema, "Loop": {"$ref": "#/components/schemas/Loop"}}
        }
    }))
    .expect("spec")
}

fn check(spec: &Spec, body: Value) -> Result<(), Vec<String>> {
    spec.validate_request("POST", "/t", Some(&body))
}

#[test]
fn all_of_branches_form_one_closed_object() {
    let spec = spec_with(json!({"allOf": [
        {"properties": {"a": {"type": "string"}}},
        {"type": "object", "properties": {"b": {"type": "integer"}}, "required": ["b"]}
    ]}));
    assert_eq!(check(&spec, json!({"a": "x", "b": 1})), Ok(()));
    let errs = check(&spec, json!({"a": "x", "b": 1, "c": 0})).unwrap_err();
    assert_eq!(
        errs,
        vec!["/c: unknown property (not in the schema)".to_owned()]
    );
    let errs = check(&spec, json!({"a": "x"})).unwrap_err();
    assert_eq!(
        errs,
        vec!["(body): missing required property `b`".to_owned()]
    );
}

#[test]
fn additional_properties_schema_opens_and_checks_extras() {
    let spec = spec_with(
        json!({"type": "object", "properties": {"a": {"type": "string"}},
        "additionalProperties": {"type": "integer"}}),
    );
    assert_eq!(check(&spec, json!({"a": "x", "n": 3})), Ok(()));
    let errs = check(&spec, json!({"n": "three"})).unwrap_err();
    assert_eq!(errs, vec!["/n: expected integer, found string".to_owned()]);
}

#[test]
fn limits_are_enforced() {
    let spec = spec_with(json!({"type": "object", "properties": {
        "s": {"type": "string", "minLength": 2, "maxLength": 3},
        "n": {"type": "number", "minimum": 0, "maximum": 10, "exclusiveMaximum": true},
        "l": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "integer"}},
        "o": {"type": "object", "maxProperties": 1}
    }}));
    assert_eq!(
        check(
            &spec,
            json!({"s": "ab", "n": 9.5, "l": [1, 2.0], "o": {"k": 1}})
        ),
        Ok(())
    );
    let errs = check(
        &spec,
        json!({"s": "a", "n": 10, "l": [], "o": {"a": 1, "b": 2}}),
    )
    .unwrap_err();
    assert_eq!(
        errs,
        vec![
            "/l: fewer than minItems 1".to_owned(),
            "/n: must be < 10".to_owned(),
            "/o: more than maxProperties 1".to_owned(),
            "/s: shorter than minLength 2".to_owned(),
        ]
    );
    let errs = check(&spec, json!({"s": "abcd", "n": -1, "l": [1, 2, 3.5]})).unwrap_err();
    assert_eq!(
        errs,
        vec![
            "/l: more than maxItems 2".to_owned(),
            "/l/2: expected integer, found number".to_owned(),
            "/n: must be >= 0".to_owned(),
            "/s: longer than maxLength 3".to_owned(),
        ]
    );
}

#[test]
fn read_only_properties_are_refused_in_requests_but_fine_in_responses() {
    let spec = spec_with(
        json!({"type": "object", "properties": {"id": {"type": "string", "readOnly": true}}}),
    );
    let errs = check(&spec, json!({"id": "x"})).unwrap_err();
    assert_eq!(
        errs,
        vec!["/id: read-only property must not be sent".to_owned()]
    );
    assert_eq!(
        spec.validate_response("POST", "/t", 200, &json!({"id": "x"})),
        Ok(())
    );
}

#[test]
fn pointer_segments_are_escaped() {
    let spec = spec_with(json!({"type": "object", "properties": {}}));
    let errs = check(&spec, json!({"a/b~c": 1})).unwrap_err();
    assert_eq!(
        errs,
        vec!["/a~1b~0c: unknown property (not in the schema)".to_owned()]
    );
}

#[test]
fn cyclic_refs_end_in_an_error_not_a_stack_overflow() {
    let spec = spec_with(json!({"$ref": "#/components/schemas/Loop"}));
    let errs = check(&spec, json!({})).unwrap_err();
    assert!(errs[0].contains("too deep"), "{errs:?}");
}

#[test]
fn one_of_with_two_matches_is_rejected() {
    let spec =
        spec_with(json!({"oneOf": [{"type": "string"}, {"type": "string", "maxLength": 3}]}));
    assert_eq!(check(&spec, json!("long")), Ok(()));
    let errs = check(&spec, json!("ab")).unwrap_err();
    assert!(errs[0].contains("more than one oneOf"), "{errs:?}");
}

/// Klaviyo's "int or float" (`oneOf: [number, integer]`) takes a whole number, which matches
/// both; a bounded numeric branch is not a bare type and still counts as a second match.
#[test]
fn one_of_integer_or_number_takes_whole_numbers() {
    let spec = spec_with(json!({"oneOf": [{"type": "number"}, {"type": "integer"}]}));
    assert_eq!(check(&spec, json!(1.5)), Ok(()));
    assert_eq!(check(&spec, json!(2)), Ok(()));
    let bounded =
        spec_with(json!({"oneOf": [{"type": "number"}, {"type": "integer", "maximum": 5}]}));
    assert!(check(&bounded, json!(2)).is_err());
}

#[test]
fn documents_without_paths_are_refused() {
    let err = Spec::from_value(json!({"openapi": "3.0.2"})).unwrap_err();
    assert!(err.contains("no `paths`"), "{err}");
}
