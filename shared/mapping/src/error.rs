//! The crate's one error type. Variants name JSON paths only, never values, so an error can be
//! logged or shown to a caller without leaking payload data.

/// Why a Salla webhook body could not be mapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    /// The body is not valid JSON (or not UTF-8).
    #[error("body is not valid JSON")]
    NotJson,
    /// The body is JSON but not an object.
    #[error("body is not a JSON object")]
    NotObject,
    /// A field the mapping truly needs is absent (or null / empty). Holds the JSON path.
    #[error("missing required field `{0}`")]
    MissingField(&'static str),
    /// A field is present but has a type or shape we cannot use.
    #[error("field `{field}` has the wrong type (expected {expected})")]
    WrongType {
        /// JSON path of the field.
        field: &'static str,
        /// What was expected, e.g. "object" or "integer or numeric string".
        expected: &'static str,
    },
}
