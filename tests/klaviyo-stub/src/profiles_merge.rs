//! Klaviyo's identity conflicts and their repair: a profile import whose identifiers name two
//! existing profiles answers 409 `duplicate_profile` with `meta.duplicate_profile_id` (the
//! profile holding the phone), `GET /api/profiles/{id}` reads a profile's identifiers, and
//! `POST /api/profile-merge` moves a source profile's identifiers and events onto the
//! destination and deletes the source.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::jsonapi::{self, Source};
use crate::routes::Answer;
use crate::state::World;

/// The 409 Klaviyo answers when `data`'s identifiers belong to two different profiles.
pub(crate) fn conflict(world: &World, data: &Value) -> Option<Answer> {
    if data["id"].is_string() {
        return None;
    }
    let attrs = &data["attributes"];
    let owner = |k: &str| {
        attrs[k]
            .as_str()
            .and_then(|v| world.profiles.get(&format!("{k}:{v}")))
    };
    let by_phone = owner("phone_number")?;
    let other = owner("email").or_else(|| owner("external_id"))?;
    if by_phone == other {
        return None;
    }
    let mut body = jsonapi::error(
        409,
        "duplicate_profile",
        "Conflict.",
        "A profile already exists with one of these identifiers.",
        Source::Pointer("/data/attributes/phone_number"),
    );
    body["errors"][0]["meta"] = json!({"duplicate_profile_id": by_phone});
    Some(Answer::new(409, Some(body)))
}

/// `identifier kind → value` of one profile (`email`, `phone_number`, `external_id`, ...).
pub(crate) fn identifiers_of(world: &World, id: &str) -> BTreeSet<String> {
    world
        .profiles
        .iter()
        .filter(|(_, p)| p.as_str() == id)
        .map(|(i, _)| i.clone())
        .collect()
}

pub(crate) fn get_profile(world: &World, base_url: &str, id: &str) -> Answer {
    let ids = identifiers_of(world, id);
    if ids.is_empty() {
        return not_found();
    }
    let mut attrs = json!({"email": null, "phone_number": null, "external_id": null});
    for i in &ids {
        if let Some((kind, value)) = i.split_once(':')
            && matches!(kind, "email" | "phone_number" | "external_id")
        {
            attrs[kind] = json!(value);
        }
    }
    Answer::new(
        200,
        Some(json!({
            "data": {"type": "profile", "id": id, "attributes": attrs,
                     "links": {"self": format!("{base_url}/api/profiles/{id}/")}},
            "links": {"self": format!("{base_url}/api/profiles/{id}/")}
        })),
    )
}

pub(crate) fn merge(world: &mut World, base_url: &str, body: &Value) -> Answer {
    let destination = body["data"]["id"].as_str().unwrap_or_default().to_owned();
    let sources: Vec<String> = body["data"]["relationships"]["profiles"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["id"].as_str().map(str::to_owned))
        .collect();
    let [source] = sources.as_slice() else {
        return Answer::new(
            400,
            Some(jsonapi::error(
                400,
                "invalid",
                "Invalid input.",
                "This endpoint accepts only one source profile.",
                Source::Pointer("/data/relationships/profiles/data"),
            )),
        )
        .with_violation("profile-merge needs exactly one source profile");
    };
    if source == &destination {
        return Answer::new(
            400,
            Some(jsonapi::error(
                400,
                "invalid",
                "Invalid input.",
                "A profile cannot be merged into itself.",
                Source::Pointer("/data/id"),
            )),
        )
        .with_violation("profile-merge of a profile into itself");
    }
    if identifiers_of(world, &destination).is_empty() || identifiers_of(world, source).is_empty() {
        return not_found();
    }
    for p in world.profiles.values_mut() {
        if p == source {
            *p = destination.clone();
        }
    }
    let keys: Vec<_> = world.event_keys.drain().collect();
    for (profile, metric, unique) in keys {
        let profile = if &profile == source {
            destination.clone()
        } else {
            profile
        };
        world.event_keys.insert((profile, metric, unique));
    }
    world.stats.distinct_events = world.event_keys.len();
    Answer::new(
        201,
        Some(json!({
            "data": {"type": "profile", "id": destination,
                     "links": {"self": format!("{base_url}/api/profiles/{destination}/")}},
            "links": {"self": format!("{base_url}/api/profile-merge/")}
        })),
    )
}

fn not_found() -> Answer {
    Answer::new(
        404,
        Some(jsonapi::error(
            404,
            "not_found",
            "Not found.",
            "Profile not found.",
            Source::None,
        )),
    )
}

impl crate::KlaviyoStub {
    /// The profile id an identifier (`email:a@x`, `phone_number:+966…`) belongs to.
    pub fn profile_with(&self, identifier: &str) -> Option<String> {
        self.shared.state.lock().profiles.get(identifier).cloned()
    }

    /// Every identifier of one profile, `kind:value`.
    pub fn profile_identifiers(&self, id: &str) -> BTreeSet<String> {
        identifiers_of(&self.shared.state.lock(), id)
    }

    /// (metric, unique_id) of the events a profile holds.
    pub fn profile_events(&self, id: &str) -> BTreeSet<(String, String)> {
        self.shared
            .state
            .lock()
            .event_keys
            .iter()
            .filter(|(p, _, _)| p == id)
            .map(|(_, m, u)| (m.clone(), u.clone()))
            .collect()
    }

    /// How many distinct profiles the stub holds.
    pub fn profile_count(&self) -> usize {
        self.shared
            .state
            .lock()
            .profiles
            .values()
            .collect::<BTreeSet<_>>()
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spec_check::Spec;

    #[test]
    fn a_conflict_names_the_phones_profile_and_a_merge_joins_them() {
        let spec = Spec::shared();
        let mut w = World::default();
        let (phone_only, _) = w.upsert_profile(&["phone_number:+966500000001".into()]);
        let (by_email, _) = w.upsert_profile(&["email:a@x.example".into()]);
        w.event_keys.insert((
            phone_only.clone(),
            "Started Checkout".into(),
            "id:c1".into(),
        ));
        let import = json!({"type": "profile", "attributes": {"email": "a@x.example", "phone_number": "+966500000001"}});
        let a = conflict(&w, &import).expect("two profiles named");
        assert_eq!(a.status, 409);
        let body = a.body.unwrap();
        assert_eq!(
            body["errors"][0]["meta"]["duplicate_profile_id"],
            json!(phone_only)
        );
        assert!(conflict(&w, &json!({"attributes": {"email": "a@x.example"}})).is_none());

        let base = "http://127.0.0.1:1";
        let got = get_profile(&w, base, &phone_only);
        assert_eq!(got.status, 200);
        // Not validated against the response schema: spec-check closes the nested
        // `attributes` of the first `allOf` branch of GetProfileResponse…CompoundDocument, so
        // even Klaviyo's own example with an email would fail it.
        assert_eq!(
            got.body.unwrap()["data"]["attributes"]["email"],
            Value::Null
        );

        let merge_body = json!({"data": {"type": "profile-merge", "id": by_email, "relationships": {"profiles": {"data": [{"type": "profile", "id": phone_only}]}}}});
        spec.check_request("POST", "/api/profile-merge", Some(&merge_body))
            .unwrap();
        let merged = merge(&mut w, base, &merge_body);
        assert_eq!(merged.status, 201);
        spec.validate_response(
            "POST",
            "/api/profile-merge",
            201,
            merged.body.as_ref().unwrap(),
        )
        .unwrap_or_else(|v| panic!("{v:?}"));
        assert_eq!(w.profiles["phone_number:+966500000001"], by_email);
        assert!(w.event_keys.iter().all(|(p, _, _)| p == &by_email));
        assert_eq!(get_profile(&w, base, &phone_only).status, 404);
        assert!(conflict(&w, &import).is_none());
    }
}
