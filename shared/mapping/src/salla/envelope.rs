//! The webhook envelope: `{"event", "merchant", "created_at", "data"}`.

use super::json::{self, Json, JsonContainerTrait, JsonType, JsonValueTrait};
use super::lenient;
use crate::MappingError;

/// A parsed Salla webhook delivery. `Debug` does not print `data` (it holds shopper PII).
#[derive(Clone, PartialEq)]
pub struct Envelope {
    /// Event name, e.g. "order.created".
    pub event: String,
    /// Top-level `merchant` (number or string) as a decimal string: the Salla store id.
    pub store_id: String,
    /// `created_at` exactly as sent (its format varies); parsed where a time is needed.
    pub created_at: Option<String>,
    /// The whole parsed body; [`Envelope::data`] is its `data` object.
    body: Json,
}

impl Envelope {
    /// The event payload, always a JSON object.
    /// The body's `created_at` as unix seconds (a naive time is Riyadh time), or `None` when
    /// it is missing or does not parse.
    pub fn created_at_unix(&self) -> Option<i64> {
        self.created_at.as_deref().and_then(super::date::unix_str)
    }

    pub fn data(&self) -> &Json {
        // Checked to be an object by `parse_envelope`; the body is kept whole (rather than
        // `data` taken out) because a mutable sonic-rs tree is a full copy of the parsed one.
        self.body.get("data").unwrap_or(&EMPTY)
    }
}

static EMPTY: Json = Json::new_object();

impl std::fmt::Debug for Envelope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Envelope")
            .field("event", &self.event)
            .field("store_id", &self.store_id)
            .field("created_at", &self.created_at)
            .field("data", &"<redacted>")
            .finish()
    }
}

/// Longest store id we accept; Salla's are 9–10 digit integers.
const MAX_STORE_ID_LEN: usize = 64;

/// Parses a raw webhook body. Errors name the offending field, never its value.
pub fn parse_envelope(body: &[u8]) -> Result<Envelope, MappingError> {
    let value = json::parse(body)?;
    let Some(map) = value.as_object() else {
        return Err(MappingError::NotObject);
    };
    let event = match map.get(&"event") {
        None => return Err(MappingError::MissingField("event")),
        Some(v) if v.is_null() => return Err(MappingError::MissingField("event")),
        Some(v) => match v.as_str() {
            Some(s) if s.trim().is_empty() => return Err(MappingError::MissingField("event")),
            Some(s) => s.trim().to_owned(),
            None => {
                return Err(MappingError::WrongType {
                    field: "event",
                    expected: "string",
                });
            }
        },
    };
    let store_id =
        match map.get(&"merchant") {
            None => return Err(MappingError::MissingField("merchant")),
            Some(v) if v.is_null() => return Err(MappingError::MissingField("merchant")),
            Some(v) => lenient::id(Some(v)).filter(|id| is_store_id(id)).ok_or(
                MappingError::WrongType {
                    field: "merchant",
                    expected: "integer or numeric string",
                },
            )?,
        };
    let created_at = map.get(&"created_at").and_then(|v| match v.get_type() {
        JsonType::String => v
            .as_str()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned),
        JsonType::Number => lenient::number_text(v),
        _ => None,
    });
    match map.get(&"data") {
        None => return Err(MappingError::MissingField("data")),
        Some(v) if v.is_null() => return Err(MappingError::MissingField("data")),
        Some(v) if v.is_object() => {}
        Some(_) => {
            return Err(MappingError::WrongType {
                field: "data",
                expected: "object",
            });
        }
    };
    Ok(Envelope {
        event,
        store_id,
        created_at,
        body: value,
    })
}

/// A delivery built around one object read from Salla's Merchant API (an order detail, a
/// customer, a product), so history runs through the same rules as live webhooks. `data` must
/// be an object; the store id passes the same check as a webhook's `merchant`.
pub(crate) fn wrap(event: &str, store_id: &str, data: Json) -> Result<Envelope, MappingError> {
    if store_id.is_empty() || !is_store_id(store_id) {
        return Err(MappingError::WrongType {
            field: "merchant",
            expected: "integer or numeric string",
        });
    }
    if !data.is_object() {
        return Err(MappingError::NotObject);
    }
    let mut body = json::Object::new();
    body.insert("data", data);
    Ok(Envelope {
        event: event.to_owned(),
        store_id: store_id.to_owned(),
        created_at: None,
        body: body.into(),
    })
}

/// The store id keys DynamoDB items and namespaces Klaviyo ids, so only plain ids pass.
fn is_store_id(id: &str) -> bool {
    id.len() <= MAX_STORE_ID_LEN && id.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Envelope, MappingError> {
        parse_envelope(s.as_bytes())
    }

    #[test]
    fn merchant_as_number_or_string() {
        let a = parse(r#"{"event":"x","merchant":1305146709,"data":{}}"#).unwrap();
        let b = parse(r#"{"event":"x","merchant":"1305146709","data":{}}"#).unwrap();
        assert_eq!(a.store_id, "1305146709");
        assert_eq!(a.store_id, b.store_id);
        assert_eq!(a.created_at, None);
    }

    #[test]
    fn created_at_reads_as_unix_seconds() {
        let at = |created: &str| {
            parse(&format!(
                r#"{{"event":"x","merchant":1,"created_at":{created},"data":{{}}}}"#
            ))
            .unwrap()
            .created_at_unix()
        };
        // Naive times are Riyadh time (UTC+3).
        assert_eq!(at(r#""2022-12-31 12:31:25""#), Some(1_672_479_085));
        assert_eq!(at(r#""2022-12-31T09:31:25Z""#), Some(1_672_479_085));
        assert_eq!(at(r#""not a date""#), None);
        assert_eq!(at(r#""2022-02-30 10:00:00""#), None);
        let missing = parse(r#"{"event":"x","merchant":1,"data":{}}"#).unwrap();
        assert_eq!(missing.created_at_unix(), None);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(parse("not json"), Err(MappingError::NotJson));
        assert_eq!(parse("[1]"), Err(MappingError::NotObject));
        assert_eq!(
            parse(r#"{"merchant":1,"data":{}}"#),
            Err(MappingError::MissingField("event"))
        );
        assert_eq!(
            parse(r#"{"event":" ","merchant":1,"data":{}}"#),
            Err(MappingError::MissingField("event"))
        );
        assert_eq!(
            parse(r#"{"event":"x","data":{}}"#),
            Err(MappingError::MissingField("merchant"))
        );
        assert_eq!(
            parse(r#"{"event":"x","merchant":1}"#),
            Err(MappingError::MissingField("data"))
        );
        assert!(matches!(
            parse(r#"{"event":"x","merchant":1,"data":[]}"#),
            Err(MappingError::WrongType { field: "data", .. })
        ));
        assert!(matches!(
            parse(r#"{"event":5,"merchant":1,"data":{}}"#),
            Err(MappingError::WrongType { field: "event", .. })
        ));
        for bad in [r#""abc""#, "-5", "1.5", r#""1/2""#, "true", "{}"] {
            let body = format!(r#"{{"event":"x","merchant":{bad},"data":{{}}}}"#);
            assert!(
                matches!(
                    parse(&body),
                    Err(MappingError::WrongType {
                        field: "merchant",
                        ..
                    })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn debug_hides_the_payload() {
        let env =
            parse(r#"{"event":"x","merchant":1,"data":{"email":"secret@example.com"}}"#).unwrap();
        let shown = format!("{env:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("redacted"));
    }
}
