//! What the stub answers: authentication, headers, strict body validation, then the few Klaviyo
//! operations the relay uses, with Klaviyo's status codes and dedup rules.

use std::collections::HashSet;

use serde_json::{Value, json};
use spec_check::{OperationMatch, Spec};

use crate::jsonapi::{self, Source};
use crate::model::StubAccount;
use crate::ratelimit::{RateLimitMode, Tier, Window};
use crate::state::{State, World};

/// The only revision the stub accepts: the one the saved spec describes and the app pins.
pub const REVISION: &str = "2026-07-15";

/// A request after the body was read.
pub(crate) struct Incoming {
    pub method: String,
    /// Path and query, as received.
    pub target: String,
    pub authorization: Option<String>,
    pub revision: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub body: bytes::Bytes,
}

/// The stub's answer plus what it learned about the request.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Option<Value>,
    /// `Retry-After` seconds (429 from the rate-limit mode).
    pub retry_after: Option<u64>,
    pub violations: Vec<String>,
    pub operation_id: Option<String>,
    pub parsed_body: Option<Value>,
}

impl Answer {
    pub(crate) fn new(status: u16, body: Option<Value>) -> Answer {
        Answer {
            status,
            body,
            retry_after: None,
            violations: Vec::new(),
            operation_id: None,
            parsed_body: None,
        }
    }

    fn violation(mut self, v: impl Into<String>) -> Answer {
        self.violations.push(v.into());
        self
    }

    pub(crate) fn with_violation(self, v: impl Into<String>) -> Answer {
        self.violation(v)
    }
}

/// Answers one request. `base_url` is used for JSON:API `links`.
pub(crate) fn handle(spec: &Spec, state: &State, base_url: &str, req: &Incoming) -> Answer {
    let key = api_key(req.authorization.as_deref());
    answer_inner(spec, state, base_url, req, key.as_deref())
}

/// The key from `Authorization: Klaviyo-API-Key <key>`, if the header has that form.
pub(crate) fn api_key(authorization: Option<&str>) -> Option<String> {
    authorization
        .and_then(|h| h.strip_prefix("Klaviyo-API-Key "))
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
}

fn answer_inner(
    spec: &Spec,
    state: &State,
    base_url: &str,
    req: &Incoming,
    api_key: Option<&str>,
) -> Answer {
    let op = spec.find_operation(&req.method, &req.target);

    // 1. Authentication, as Klaviyo: 401 for no/unknown key, 403 for missing scopes.
    let Some(key) = api_key else {
        let detail = "Missing or invalid private key. Send `Authorization: Klaviyo-API-Key <key>`.";
        return Answer::new(
            401,
            Some(jsonapi::error(
                401,
                "not_authenticated",
                "Authentication credentials were not provided.",
                detail,
                Source::None,
            )),
        )
        .violation("Authorization header missing or not `Klaviyo-API-Key <key>`");
    };
    let account = state.lock().account_for(key);
    let Some(account) = account else {
        return Answer::new(
            401,
            Some(jsonapi::error(
                401,
                "authentication_failed",
                "Incorrect authentication credentials.",
                "Incorrect authentication credentials.",
                Source::None,
            )),
        );
    };
    if !account.scopes_ok {
        let scopes = op
            .as_ref()
            .and_then(|o| required_scopes(spec, o))
            .unwrap_or_else(|| "the scopes this endpoint needs".to_owned());
        return Answer::new(
            403,
            Some(jsonapi::error(
                403,
                "permission_denied",
                "You do not have permission to perform this action.",
                &format!("This API key is missing required scopes: {scopes}"),
                Source::None,
            )),
        );
    }

    // 2. Pinned revision.
    if req.revision.as_deref() != Some(REVISION) {
        let detail = format!("The `revision` header must be {REVISION}.");
        return Answer::new(
            400,
            Some(jsonapi::error(
                400,
                "invalid",
                "Invalid input.",
                &detail,
                Source::Parameter("revision"),
            )),
        )
        .violation(match &req.revision {
            None => "revision header missing".to_owned(),
            Some(_) => format!("revision header is not {REVISION}"),
        });
    }

    // 3. Route.
    let Some(op) = op else {
        return not_found("no such route in Klaviyo's API").violation(format!(
            "unknown route {} {}",
            req.method,
            path_only(&req.target)
        ));
    };

    // 4. The account's quota for this endpoint, before any work (as Klaviyo: a throttled
    //    request is neither validated nor processed).
    if let Some(mut a) = throttle(spec, state, &account, &op) {
        a.operation_id = op.operation_id.clone();
        return a;
    }

    // 5. Media types.
    if let Some(accept) = &req.accept
        && !accepts_json_api(accept)
    {
        let mut a = Answer::new(
            406,
            Some(jsonapi::error(
                406,
                "not_acceptable",
                "Not acceptable.",
                "Accept must allow application/vnd.api+json.",
                Source::Parameter("Accept"),
            )),
        )
        .violation("Accept header does not allow application/vnd.api+json");
        a.operation_id = op.operation_id.clone();
        return a;
    }
    let body = if req.body.is_empty() {
        None
    } else {
        if !is_json_api(req.content_type.as_deref()) {
            let mut a = Answer::new(
                415,
                Some(jsonapi::error(
                    415,
                    "unsupported_media_type",
                    "Unsupported media type.",
                    "Bodies must be sent as application/vnd.api+json.",
                    Source::Parameter("Content-Type"),
                )),
            )
            .violation("Content-Type is not application/vnd.api+json");
            a.operation_id = op.operation_id.clone();
            return a;
        }
        match serde_json::from_slice::<Value>(&req.body) {
            Ok(v) => Some(v),
            Err(e) => {
                let detail = format!("The body is not valid JSON ({e}).");
                let mut a = Answer::new(
                    400,
                    Some(jsonapi::error(
                        400,
                        "parse_error",
                        "Malformed request.",
                        &detail,
                        Source::Pointer(""),
                    )),
                )
                .violation("body is not valid JSON");
                a.operation_id = op.operation_id.clone();
                return a;
            }
        }
    };

    // 6. Strict spec validation of the body.
    let mut answer = match spec.check_request(&req.method, &req.target, body.as_ref()) {
        Err(violations) => {
            // Klaviyo lists one error per problem; cap it so a wildly wrong body stays readable.
            let errors: Vec<Value> = violations
                .iter()
                .take(20)
                .map(|v| {
                    jsonapi::error_object(
                        400,
                        "invalid",
                        "Invalid input.",
                        &v.message,
                        Source::Pointer(&v.pointer),
                    )
                })
                .collect();
            let mut a = Answer::new(400, Some(json!({ "errors": errors })));
            a.violations = violations.iter().map(ToString::to_string).collect();
            a
        }
        Ok(()) => operation(state, base_url, &account, &op, &req.target, body.as_ref()),
    };
    answer.operation_id = op.operation_id.clone();
    answer.parsed_body = body;
    answer
}

/// A 429 when the rate-limit mode is on and this account has used up a window of this
/// endpoint's tier (`x-klaviyo-ratelimit`); endpoints without a tier in the spec are not limited.
fn throttle(
    spec: &Spec,
    state: &State,
    account: &StubAccount,
    op: &OperationMatch,
) -> Option<Answer> {
    let tier = spec
        .document()
        .get("paths")?
        .get(&op.template)?
        .get(&op.method)?
        .get("x-klaviyo-ratelimit")
        .and_then(Tier::from_spec)?;
    let mut world = state.lock();
    if world.rate_limits != RateLimitMode::Klaviyo {
        return None;
    }
    let endpoint = format!("{} {}", op.method.to_ascii_uppercase(), op.template);
    let now = state.now(&world);
    let refused = world
        .limiter
        .admit(&account.id, &endpoint, tier, now)
        .err()?;
    let window = match refused.window {
        Window::Burst => "burst",
        Window::Steady => "steady",
    };
    world.stats.throttled += 1;
    *world
        .stats
        .throttled_by
        .entry(format!("{endpoint} {window}"))
        .or_default() += 1;
    let seconds = refused.retry_after_secs;
    let mut a = Answer::new(429, Some(jsonapi::fault_body(429, Some(seconds))));
    a.retry_after = Some(seconds);
    Some(a)
}

/// The Klaviyo behaviour of the operations the relay uses.
fn operation(
    state: &State,
    base_url: &str,
    account: &StubAccount,
    op: &OperationMatch,
    target: &str,
    body: Option<&Value>,
) -> Answer {
    let empty = Value::Null;
    let body = body.unwrap_or(&empty);
    let mut world = state.lock();
    match op.operation_id.as_deref().unwrap_or_default() {
        "get_accounts" => Answer::new(200, Some(accounts_body(base_url, account))),
        "create_event" => create_event(&mut world, body),
        "bulk_create_events" => bulk_create_events(&mut world, body),
        "create_or_update_profile" => profile_import(&mut world, base_url, body),
        "bulk_import_profiles" => bulk_import_profiles(&mut world, base_url, body),
        "bulk_subscribe_profiles" | "bulk_unsubscribe_profiles" => Answer::new(202, None),
        "create_catalog_item" => create_catalog_item(&mut world, base_url, body),
        "create_catalog_variant" => create_catalog_other(&mut world, base_url, VARIANT, body),
        "create_catalog_category" => create_catalog_other(&mut world, base_url, CATEGORY, body),
        "get_catalog_variant" | "update_catalog_variant" => {
            let id = op.param("id").unwrap_or_default().to_owned();
            catalog_other(&mut world, base_url, VARIANT, &op.method, &id, body)
        }
        "get_catalog_category" | "update_catalog_category" => {
            let id = op.param("id").unwrap_or_default().to_owned();
            catalog_other(&mut world, base_url, CATEGORY, &op.method, &id, body)
        }
        "get_catalog_item" | "update_catalog_item" | "delete_catalog_item" => {
            let id = op.param("id").unwrap_or_default().to_owned();
            catalog_item(&mut world, base_url, &op.method, &id, body)
        }
        "get_metrics" | "get_mapped_metrics" | "get_mapped_metric" | "update_mapped_metric" => {
            crate::mapped_metrics::handle(&mut world, base_url, op, body)
        }
        "get_profile" => {
            crate::profiles_merge::get_profile(&world, base_url, op.param("id").unwrap_or_default())
        }
        "merge_profiles" => crate::profiles_merge::merge(&mut world, base_url, body),
        "get_segments" | "create_segment" | "get_segment" | "update_segment" | "delete_segment" => {
            crate::segments::operation(&mut world, base_url, &account.id, op, target, body)
        }
        "get_tags" | "create_tag" | "tag_flows" | "tag_segments" => {
            crate::tags::operation(&mut world, base_url, &account.id, op, target, body)
        }
        "get_flows" | "create_flow" | "get_flow" | "delete_flow" => {
            crate::flows::operation(&mut world, base_url, &account.id, op, target, body)
        }
        other => not_found("the stub does not implement this operation")
            .violation(format!("operation {other} is not implemented by the stub")),
    }
}

fn create_event(world: &mut World, body: &Value) -> Answer {
    let attrs = &body["data"]["attributes"];
    let profile = &attrs["profile"]["data"];
    if let Some(a) = phone_conflict(world, &profile["attributes"], 400) {
        return a;
    }
    let (profile_id, _) = world.upsert_profile(&identifiers(profile));
    let key = event_key(&profile_id, attrs);
    if world.accept_event(key) && world.record {
        world.events.push(body.clone());
    }
    Answer::new(202, None)
}

/// Bulk create: the spec says a repeated (profile, metric, unique_id) inside one job fails the
/// whole job, so that is checked before anything is stored.
fn bulk_create_events(world: &mut World, body: &Value) -> Answer {
    let entries = body["data"]["attributes"]["events-bulk-create"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut in_job = HashSet::new();
    let mut accepted = Vec::new();
    for entry in &entries {
        let profile = &entry["attributes"]["profile"]["data"];
        let (profile_id, _) = world.upsert_profile(&identifiers(profile));
        for event in entry["attributes"]["events"]["data"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let key = event_key(&profile_id, &event["attributes"]);
            if !in_job.insert(key.clone()) {
                return Answer::new(
                    400,
                    Some(jsonapi::error(
                        400,
                        "invalid",
                        "Invalid input.",
                        "A unique_id is repeated for the same profile and metric in this job.",
                        Source::Pointer("/data/attributes/events-bulk-create"),
                    )),
                )
                .violation("bulk job repeats a (profile, metric, unique_id)");
            }
            // Stored in create-event shape, so `events()` reads the same for both endpoints.
            let mut single = json!({"data": event});
            single["data"]["attributes"]["profile"] = json!({"data": profile});
            accepted.push((key, single));
        }
    }
    for (key, event) in accepted {
        if world.accept_event(key) && world.record {
            world.events.push(event);
        }
    }
    Answer::new(202, None)
}

/// Profile bulk import: Klaviyo queues the job and creates or updates the profiles later;
/// the stub does it at once and answers the queued job. A phone Klaviyo refuses fails only
/// that profile (the job's `failed_count`), as a bulk job does.
fn bulk_import_profiles(world: &mut World, base_url: &str, body: &Value) -> Answer {
    let profiles = body["data"]["attributes"]["profiles"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut failed = 0;
    for profile in &profiles {
        if phone_conflict(world, &profile["attributes"], 409).is_some() {
            failed += 1;
            continue;
        }
        world.upsert_profile(&identifiers(profile));
    }
    world.stats.profile_bulk_jobs += 1;
    let id = format!("stub-profile-job-{}", world.stats.profile_bulk_jobs);
    Answer::new(
        202,
        Some(json!({"data": {
            "type": "profile-bulk-import-job",
            "id": id,
            "links": {"self": format!("{base_url}/api/profile-bulk-import-jobs/{id}")},
            "attributes": {
                "status": "queued",
                "created_at": "2026-01-01T00:00:00+00:00",
                "total_count": profiles.len(),
                "completed_count": 0,
                "failed_count": failed,
            }
        }})),
    )
}

fn profile_import(world: &mut World, base_url: &str, body: &Value) -> Answer {
    let data = &body["data"];
    if let Some(a) = phone_conflict(world, &data["attributes"], 409) {
        return a;
    }
    if let Some(a) = crate::profiles_merge::conflict(world, data) {
        return a;
    }
    let (id, created) = world.upsert_profile(&identifiers(data));
    let status = if created { 201 } else { 200 };
    Answer::new(
        status,
        Some(json!({"data": {
            "type": "profile",
            "id": id,
            "attributes": {},
            "links": {"self": format!("{base_url}/api/profiles/{id}/")}
        }})),
    )
}

fn create_catalog_item(world: &mut World, base_url: &str, body: &Value) -> Answer {
    let attrs = &body["data"]["attributes"];
    let id = format!(
        "{}:::{}:::{}",
        attrs["integration_type"].as_str().unwrap_or("$custom"),
        attrs["catalog_type"].as_str().unwrap_or("$default"),
        attrs["external_id"].as_str().unwrap_or_default()
    );
    if world.catalog.contains_key(&id) {
        return Answer::new(
            409,
            Some(jsonapi::error(
                409,
                "conflict",
                "Conflict.",
                "A catalog item with this external_id already exists.",
                Source::Pointer("/data/attributes/external_id"),
            )),
        );
    }
    world.catalog.insert(id.clone(), attrs.clone());
    Answer::new(201, Some(catalog_body(base_url, &id, attrs)))
}

fn catalog_item(world: &mut World, base_url: &str, method: &str, id: &str, body: &Value) -> Answer {
    if !world.catalog.contains_key(id) {
        return not_found("Catalog item not found.");
    }
    match method {
        "delete" => {
            world.catalog.remove(id);
            Answer::new(204, None)
        }
        "patch" => {
            if body["data"]["id"].as_str() != Some(id) {
                return Answer::new(
                    400,
                    Some(jsonapi::error(
                        400,
                        "invalid",
                        "Invalid input.",
                        "data.id must equal the id in the URL.",
                        Source::Pointer("/data/id"),
                    )),
                )
                .violation("PATCH catalog item: data.id differs from the id in the path");
            }
            let Some(stored) = world.catalog.get_mut(id) else {
                return not_found("Catalog item not found.");
            };
            if let (Some(stored), Some(changes)) = (
                stored.as_object_mut(),
                body["data"]["attributes"].as_object(),
            ) {
                for (k, v) in changes {
                    stored.insert(k.clone(), v.clone());
                }
            }
            let attrs = stored.clone();
            Answer::new(200, Some(catalog_body(base_url, id, &attrs)))
        }
        _ => {
            let attrs = world.catalog.get(id).cloned().unwrap_or_default();
            Answer::new(200, Some(catalog_body(base_url, id, &attrs)))
        }
    }
}

/// The stub's simulation of Klaviyo rejecting a phone that belongs to another profile or that
/// it cannot parse: 409 `duplicate_profile` on profile-import, 400 invalid phone on events.
fn phone_conflict(world: &World, attrs: &Value, status: u16) -> Option<Answer> {
    let phone = attrs["phone_number"].as_str()?;
    if !world.duplicate_phones.contains(phone) {
        return None;
    }
    let pointer = "/data/attributes/phone_number";
    Some(if status == 409 {
        let mut body = jsonapi::error(
            409,
            "duplicate_profile",
            "Conflict.",
            "A profile already exists with one of these identifiers.",
            Source::Pointer(pointer),
        );
        body["errors"][0]["meta"] = json!({"duplicate_profile_id": jsonapi::profile_id(0)});
        Answer::new(409, Some(body))
    } else {
        Answer::new(
            400,
            Some(jsonapi::error(
                400,
                "invalid",
                "Invalid input.",
                "Invalid phone number format (Example of a valid format: +12345678901)",
                Source::Pointer("/data/attributes/profile/data/attributes/phone_number"),
            )),
        )
    })
}

/// Profile identifiers of a JSON:API profile resource, most specific first.
fn identifiers(profile: &Value) -> Vec<String> {
    let attrs = &profile["attributes"];
    let mut ids: Vec<String> = [
        "external_id",
        "email",
        "phone_number",
        "anonymous_id",
        "_kx",
    ]
    .iter()
    .filter_map(|k| attrs[*k].as_str().map(|v| format!("{k}:{v}")))
    .collect();
    if let Some(id) = profile["id"].as_str() {
        ids.insert(0, format!("id:{id}"));
    }
    ids
}

/// (profile, metric, unique_id); without a unique_id Klaviyo falls back to the time to the
/// second, so the event time stands in for it.
fn event_key(profile_id: &str, attrs: &Value) -> (String, String, String) {
    let metric = attrs["metric"]["data"]["attributes"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let unique = match attrs["unique_id"].as_str() {
        Some(u) => format!("id:{u}"),
        None => format!("time:{}", attrs["time"].as_str().unwrap_or("received")),
    };
    (profile_id.to_owned(), metric, unique)
}

fn accounts_body(base_url: &str, account: &StubAccount) -> Value {
    json!({
        "data": [{
            "type": "account",
            "id": account.id,
            "attributes": {
                "test_account": false,
                "contact_information": {
                    "default_sender_name": account.name,
                    "default_sender_email": "owner@store.example",
                    "website_url": null,
                    "organization_name": account.name,
                    "street_address": {
                        "address1": null, "address2": null, "city": "Riyadh",
                        "region": null, "country": "SA", "zip": null
                    }
                },
                "industry": null,
                "timezone": "Asia/Riyadh",
                "preferred_currency": "SAR",
                "public_api_key": account.id,
                "locale": "ar-SA"
            },
            "links": {"self": format!("{base_url}/api/accounts/{}/", account.id)}
        }],
        "links": {"self": format!("{base_url}/api/accounts/")}
    })
}

/// The response shape of a catalog item. `integration_type` and `catalog_type` are request-only
/// (they are part of the id), so they are not echoed.
/// Catalog variants and categories: (JSON:API type, path segment).
const VARIANT: (&str, &str) = ("catalog-variant", "catalog-variants");
const CATEGORY: (&str, &str) = ("catalog-category", "catalog-categories");

/// Creates a variant or category under `{type}/{id}` in the catalog map (409 when it exists,
/// as Klaviyo answers a repeated external id).
fn create_catalog_other(
    world: &mut World,
    base_url: &str,
    kind: (&str, &str),
    body: &Value,
) -> Answer {
    let attrs = &body["data"]["attributes"];
    let id = format!(
        "{}:::{}:::{}",
        attrs["integration_type"].as_str().unwrap_or("$custom"),
        attrs["catalog_type"].as_str().unwrap_or("$default"),
        attrs["external_id"].as_str().unwrap_or_default()
    );
    let key = format!("{}/{id}", kind.0);
    if world.catalog.contains_key(&key) {
        return Answer::new(
            409,
            Some(jsonapi::error(
                409,
                "conflict",
                "Conflict.",
                "An object with this external_id already exists.",
                Source::Pointer("/data/attributes/external_id"),
            )),
        );
    }
    world.catalog.insert(key, attrs.clone());
    Answer::new(201, Some(other_body(base_url, kind, &id, attrs)))
}

fn catalog_other(
    world: &mut World,
    base_url: &str,
    kind: (&str, &str),
    method: &str,
    id: &str,
    body: &Value,
) -> Answer {
    let key = format!("{}/{id}", kind.0);
    let Some(stored) = world.catalog.get_mut(&key) else {
        return not_found("Catalog object not found.");
    };
    if method == "patch" {
        if body["data"]["id"].as_str() != Some(id) {
            return Answer::new(
                400,
                Some(jsonapi::error(
                    400,
                    "invalid",
                    "Invalid input.",
                    "data.id must equal the id in the URL.",
                    Source::Pointer("/data/id"),
                )),
            )
            .violation(format!(
                "PATCH {}: data.id differs from the id in the path",
                kind.0
            ));
        }
        if let (Some(stored), Some(changes)) = (
            stored.as_object_mut(),
            body["data"]["attributes"].as_object(),
        ) {
            for (k, v) in changes {
                stored.insert(k.clone(), v.clone());
            }
        }
    }
    let attrs = stored.clone();
    Answer::new(200, Some(other_body(base_url, kind, id, &attrs)))
}

fn other_body(base_url: &str, kind: (&str, &str), id: &str, attrs: &Value) -> Value {
    let encoded: String = id.replace('$', "%24").replace(':', "%3A");
    let mut attrs = attrs.clone();
    if let Some(a) = attrs.as_object_mut() {
        a.remove("integration_type");
        a.remove("catalog_type");
    }
    json!({"data": {
        "type": kind.0,
        "id": id,
        "attributes": attrs,
        "links": {"self": format!("{base_url}/api/{}/{encoded}/", kind.1)}
    }})
}

fn catalog_body(base_url: &str, id: &str, attrs: &Value) -> Value {
    let encoded: String = id.replace('$', "%24").replace(':', "%3A");
    let mut attrs = attrs.clone();
    if let Some(a) = attrs.as_object_mut() {
        a.remove("integration_type");
        a.remove("catalog_type");
    }
    json!({"data": {
        "type": "catalog-item",
        "id": id,
        "attributes": attrs,
        "links": {"self": format!("{base_url}/api/catalog-items/{encoded}/")}
    }})
}

fn required_scopes(spec: &Spec, op: &OperationMatch) -> Option<String> {
    let scopes = spec
        .document()
        .get("paths")?
        .get(&op.template)?
        .get(&op.method)?
        .get("x-klaviyo-scopes")?
        .as_array()?;
    let list: Vec<&str> = scopes.iter().filter_map(Value::as_str).collect();
    (!list.is_empty()).then(|| list.join(", "))
}

fn not_found(detail: &str) -> Answer {
    Answer::new(
        404,
        Some(jsonapi::error(
            404,
            "not_found",
            "Not found.",
            detail,
            Source::None,
        )),
    )
}

fn path_only(target: &str) -> &str {
    target.split(['?', '#']).next().unwrap_or(target)
}

fn media_type(header: &str) -> String {
    header
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn is_json_api(content_type: Option<&str>) -> bool {
    content_type.is_some_and(|c| media_type(c) == spec_check::JSON_API)
}

fn accepts_json_api(accept: &str) -> bool {
    accept.split(',').any(|part| {
        matches!(
            media_type(part).as_str(),
            "application/vnd.api+json" | "application/json" | "application/*" | "*/*"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_ignore_parameters_and_case() {
        assert!(is_json_api(Some("application/vnd.api+json; charset=utf-8")));
        assert!(is_json_api(Some("Application/VND.API+JSON")));
        assert!(!is_json_api(Some("application/json")));
        assert!(!is_json_api(None));
        assert!(accepts_json_api(
            "text/html, application/vnd.api+json;q=0.9"
        ));
        assert!(accepts_json_api("*/*"));
        assert!(!accepts_json_api("text/html"));
    }

    #[test]
    fn event_keys_fall_back_to_time_without_unique_id() {
        let a = json!({"metric": {"data": {"attributes": {"name": "Placed Order"}}}, "time": "2026-01-01T00:00:00Z"});
        assert_eq!(
            event_key("p", &a),
            (
                "p".into(),
                "Placed Order".into(),
                "time:2026-01-01T00:00:00Z".into()
            )
        );
    }
}
