//! One Klaviyo profile per shopper when Klaviyo answers a profile import with 409
//! `duplicate_profile`.
//!
//! Salla sees many shoppers first by phone only (a cart, a coupon, a review): Klaviyo then
//! holds a phone-only profile. When the same shopper later arrives with email and phone (an
//! order, the customer record) and Klaviyo also holds a profile with that email, the import
//! names two profiles and Klaviyo refuses it with 409 and `errors[0].meta.duplicate_profile_id`,
//! the profile that already holds the phone. Dropping the phone and resending would leave the
//! shopper split in two.
//!
//! **The rule.** The phone's profile is merged into the email's profile only when every one
//! of these holds, read from Klaviyo (`GET /api/profiles/{id}`) just before:
//! 1. the import carries both an email and a phone (the store vouches that they belong
//!    together: they come from one Salla customer or order);
//! 2. the duplicate profile holds **no email** (a phone-only trace; a profile with an email
//!    is someone Klaviyo knows by another address, possibly another person sharing a phone,
//!    and is never merged);
//! 3. its phone is the import's phone;
//! 4. its `external_id` is absent or the import's own (a profile another system or another
//!    Salla customer id claims is never merged).
//!
//! Then: the import is sent without the phone (it lands on the email's profile, whose id
//! Klaviyo returns), the phone-only profile is merged into it (`POST /api/profile-merge`,
//! source → destination; Klaviyo moves its events and deletes it), and the full import is
//! sent again so the profile holds the phone. Klaviyo runs merges asynchronously: if the phone
//! is still taken on that last send, the answer of the import without phone stands and the
//! next import of this shopper adds the phone. When the rule does not hold, nothing is merged
//! and the caller keeps its own fallback (resend without the phone).

use serde_json::{Value, json};
use tokio::time::Instant;

use super::{Delivery, KlaviyoApi};
use crate::{AdapterError, Secret};

/// What [`resolve_duplicate`] did.
#[derive(Debug, Clone)]
pub enum Resolution {
    /// The phone-only profile was merged into the email's profile; `delivery` is the last
    /// import's answer (2xx).
    Merged { delivery: Delivery },
    /// The import went through without the phone but Klaviyo named no other profile to merge
    /// into; nothing was merged.
    WithoutPhone { delivery: Delivery },
    /// The rule does not allow a merge (or Klaviyo's answers did not fit it); nothing was
    /// changed. The caller falls back to its own handling.
    NotSafe(&'static str),
}

/// Handles a 409 `duplicate_profile` answer to `POST /api/profile-import` with `body`.
/// `Err` only for Klaviyo unreachable or the key refused, as any other call.
pub async fn resolve_duplicate(
    klaviyo: &dyn KlaviyoApi,
    key: &Secret,
    body: &Value,
    duplicate_profile_id: &str,
    deadline: Instant,
) -> Result<Resolution, AdapterError> {
    let attrs = &body["data"]["attributes"];
    let (Some(_), Some(phone)) = (
        attrs["email"].as_str().filter(|s| !s.is_empty()),
        attrs["phone_number"].as_str().filter(|s| !s.is_empty()),
    ) else {
        return Ok(Resolution::NotSafe("import lacks email or phone"));
    };
    if !is_profile_id(duplicate_profile_id) {
        return Ok(Resolution::NotSafe("duplicate profile id is not an id"));
    }
    let path = format!("/api/profiles/{duplicate_profile_id}");
    let (got, existing) = klaviyo.call_json(key, "GET", &path, None, deadline).await?;
    if got.status == 404 {
        return Ok(Resolution::NotSafe("duplicate profile is gone"));
    }
    got.into_result()?;
    let Some(existing) = existing else {
        return Ok(Resolution::NotSafe("duplicate profile unreadable"));
    };
    if let Some(reason) = refuse_merge(&existing["data"]["attributes"], attrs, phone) {
        return Ok(Resolution::NotSafe(reason));
    }

    let mut without_phone = body.clone();
    if let Some(a) = without_phone["data"]["attributes"].as_object_mut() {
        a.remove("phone_number");
    }
    let (first, answer) = klaviyo
        .call_json(
            key,
            "POST",
            "/api/profile-import",
            Some(&without_phone),
            deadline,
        )
        .await?;
    let first = first.into_result()?;
    let Some(destination) = answer
        .as_ref()
        .and_then(|a| a["data"]["id"].as_str())
        .filter(|id| is_profile_id(id) && *id != duplicate_profile_id)
        .map(str::to_string)
    else {
        return Ok(Resolution::WithoutPhone { delivery: first });
    };
    klaviyo
        .call(
            key,
            "POST",
            "/api/profile-merge",
            Some(&merge_body(&destination, duplicate_profile_id)),
            deadline,
        )
        .await?
        .into_result()?;
    let last = klaviyo
        .call(key, "POST", "/api/profile-import", Some(body), deadline)
        .await?;
    Ok(Resolution::Merged {
        delivery: if last.is_success() { last } else { first },
    })
}

/// Why the existing profile must not be merged into the shopper's, if it must not.
fn refuse_merge(existing: &Value, import: &Value, phone: &str) -> Option<&'static str> {
    if existing["email"].as_str().is_some_and(|e| !e.is_empty()) {
        return Some("duplicate profile holds an email");
    }
    if existing["phone_number"].as_str() != Some(phone) {
        return Some("duplicate profile holds another phone");
    }
    match existing["external_id"].as_str().filter(|s| !s.is_empty()) {
        Some(theirs) if import["external_id"].as_str() != Some(theirs) => {
            Some("duplicate profile belongs to another external id")
        }
        _ => None,
    }
}

/// `POST /api/profile-merge`: `source` is merged into `destination` and deleted.
pub fn merge_body(destination: &str, source: &str) -> Value {
    json!({"data": {
        "type": "profile-merge",
        "id": destination,
        "relationships": {"profiles": {"data": [{"type": "profile", "id": source}]}}
    }})
}

/// Klaviyo profile ids are ULID-like ASCII; anything else never goes into a URL path.
fn is_profile_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_phone_only_profile_of_this_shopper_may_be_merged() {
        let import = json!({"email": "a@x.example", "phone_number": "+966500000001", "external_id": "salla:1:customer:7"});
        let phone = "+966500000001";
        let ok = json!({"email": null, "phone_number": phone, "external_id": null});
        assert_eq!(refuse_merge(&ok, &import, phone), None);
        let same_customer = json!({"phone_number": phone, "external_id": "salla:1:customer:7"});
        assert_eq!(refuse_merge(&same_customer, &import, phone), None);
        let has_email = json!({"email": "b@x.example", "phone_number": phone});
        assert!(refuse_merge(&has_email, &import, phone).is_some());
        let other_customer = json!({"phone_number": phone, "external_id": "salla:1:customer:8"});
        assert!(refuse_merge(&other_customer, &import, phone).is_some());
        let other_phone = json!({"phone_number": "+966500000002"});
        assert!(refuse_merge(&other_phone, &import, phone).is_some());
    }

    #[test]
    fn merge_body_names_destination_and_source() {
        let b = merge_body("01DEST", "01SRC");
        assert_eq!(b["data"]["id"], "01DEST");
        assert_eq!(
            b["data"]["relationships"]["profiles"]["data"][0]["id"],
            "01SRC"
        );
        assert!(!is_profile_id("../x") && !is_profile_id(""));
    }
}
