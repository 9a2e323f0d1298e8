//! Reading Klaviyo's JSON:API error bodies. Only Klaviyo's own `code`/`detail` are kept: they
//! describe what was wrong, never echo our payload back in full.

use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    errors: Vec<ErrorItem>,
}

#[derive(Debug, Default, Deserialize)]
struct ErrorItem {
    #[serde(default)]
    code: Option<String>,
    #[serde(default)]
    detail: Option<String>,
    #[serde(default)]
    source: Option<Source>,
    #[serde(default)]
    meta: Option<Meta>,
}

#[derive(Debug, Default, Deserialize)]
struct Meta {
    #[serde(default)]
    duplicate_profile_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct Source {
    #[serde(default)]
    pointer: Option<String>,
}

/// The first error's code and a log-safe detail (the JSON pointer, and the detail cut short,
/// because Klaviyo sometimes quotes the rejected value, e.g. a phone number).
#[derive(Debug, Clone, PartialEq)]
pub struct KlaviyoError {
    pub code: String,
    pub detail: String,
    pub mentions_phone: bool,
    /// A 409 `duplicate_profile`'s `meta.duplicate_profile_id`: the existing profile that
    /// holds one of the request's identifiers. An opaque Klaviyo id, but not for logs: it
    /// points at one shopper.
    pub duplicate_profile_id: Option<String>,
}

pub fn parse(body: &[u8]) -> KlaviyoError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let first = parsed.errors.into_iter().next().unwrap_or_default();
    let detail_raw = first.detail.unwrap_or_default();
    let pointer = first.source.and_then(|s| s.pointer).unwrap_or_default();
    let mentions_phone =
        detail_raw.to_ascii_lowercase().contains("phone") || pointer.contains("phone_number");
    // Keep the pointer (structure, no data) and only the words of the detail that cannot be
    // customer data: drop anything with a digit or an @.
    let safe_detail: Vec<&str> = detail_raw
        .split_whitespace()
        .filter(|w| {
            !w.chars()
                .any(|c| c.is_ascii_digit() || c == '@' || c == '+')
        })
        .take(24)
        .collect();
    let mut detail = safe_detail.join(" ");
    if !pointer.is_empty() {
        detail = format!("{detail} (at {pointer})");
    }
    KlaviyoError {
        code: first.code.unwrap_or_else(|| "unknown".into()),
        detail,
        mentions_phone,
        duplicate_profile_id: first
            .meta
            .and_then(|m| m.duplicate_profile_id)
            .filter(|id| {
                !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
            }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_code_and_pointer_but_not_data() {
        let body = br#"{"errors":[{"id":"1","code":"invalid","title":"Invalid input.","detail":"Invalid phone number format +96650000 for a@b.co","source":{"pointer":"/data/attributes/profile/data/attributes/phone_number"}}]}"#;
        let e = parse(body);
        assert_eq!(e.code, "invalid");
        assert!(e.mentions_phone);
        assert!(!e.detail.contains("96650000"));
        assert!(!e.detail.contains("a@b.co"));
        assert!(e.detail.contains("phone_number"));
    }

    #[test]
    fn a_duplicate_profile_conflict_names_the_existing_profile() {
        let body = br#"{"errors":[{"id":"1","status":409,"code":"duplicate_profile","title":"Conflict.","detail":"A profile already exists with one of these identifiers.","meta":{"duplicate_profile_id":"01GDDKASAP8TKDDA2GRZDSVP4H"}}]}"#;
        let e = parse(body);
        assert_eq!(e.code, "duplicate_profile");
        assert_eq!(
            e.duplicate_profile_id.as_deref(),
            Some("01GDDKASAP8TKDDA2GRZDSVP4H")
        );
        // Not an id: ignored rather than put into a URL path.
        let odd =
            br#"{"errors":[{"code":"duplicate_profile","meta":{"duplicate_profile_id":"../x"}}]}"#;
        assert_eq!(parse(odd).duplicate_profile_id, None);
    }

    #[test]
    fn garbage_body_is_unknown() {
        let e = parse(b"<html>bad gateway</html>");
        assert_eq!(e.code, "unknown");
        assert!(!e.mentions_phone);
    }
}
