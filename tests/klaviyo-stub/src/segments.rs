//! Segments and metrics, as the CRM provisioning uses them: list (10 a page, with Klaviyo's
//! cursor links), create, read, update and delete segments per account; metrics are the
//! names of the events the account has received, with ids that stay the same for a name.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use spec_check::OperationMatch;

use crate::jsonapi::{self, Source};
use crate::routes::Answer;
use crate::state::World;

/// Klaviyo's page size for `GET /api/segments` (its maximum is 10).
const PAGE: usize = 10;
const CREATED: &str = "2026-12-01T00:00:00+00:00";

/// Segments by id; each knows its account.
#[derive(Default)]
pub(crate) struct Segments {
    by_id: BTreeMap<String, (String, Value)>,
    next: u64,
}

impl Segments {
    /// `(id, name, definition)` of an account's segments, oldest first.
    pub(crate) fn of(&self, account: &str) -> Vec<(String, Value)> {
        self.by_id
            .iter()
            .filter(|(_, (a, _))| a == account)
            .map(|(id, (_, attrs))| (id.clone(), attrs.clone()))
            .collect()
    }
}

fn resource(base_url: &str, id: &str, attrs: &Value) -> Value {
    json!({
        "type": "segment",
        "id": id,
        "attributes": {
            "name": attrs["name"],
            "definition": attrs["definition"],
            "created": CREATED,
            "updated": CREATED,
            "is_active": true,
            "is_processing": false,
            "is_starred": attrs["is_starred"].as_bool().unwrap_or(false),
        },
        "links": {"self": format!("{base_url}/api/segments/{id}/")},
    })
}

/// The CRM operations, by operation id.
pub(crate) fn operation(
    world: &mut World,
    base_url: &str,
    account: &str,
    op: &OperationMatch,
    target: &str,
    body: &Value,
) -> Answer {
    match op.operation_id.as_deref().unwrap_or_default() {
        "get_segments" => list(world, base_url, account, target),
        "create_segment" => create(world, base_url, account, body),
        _ => {
            let id = op.param("id").unwrap_or_default().to_owned();
            one(world, base_url, account, &op.method, &id, body)
        }
    }
}

fn list(world: &World, base_url: &str, account: &str, target: &str) -> Answer {
    let start: usize = query_param(target, "page[cursor]")
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let all = world.segments.of(account);
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|(id, attrs)| resource(base_url, id, attrs))
        .collect();
    let mut links = json!({"self": format!("{base_url}/api/segments/")});
    if start + PAGE < all.len() {
        links["next"] = json!(format!(
            "{base_url}/api/segments/?page%5Bcursor%5D={}",
            start + PAGE
        ));
    }
    Answer::new(200, Some(json!({"data": data, "links": links})))
}

fn create(world: &mut World, base_url: &str, account: &str, body: &Value) -> Answer {
    let attrs = body["data"]["attributes"].clone();
    world.segments.next += 1;
    let id = format!("SEG{:03}", world.segments.next);
    let answer = json!({"data": resource(base_url, &id, &attrs)});
    world.segments.by_id.insert(id, (account.to_owned(), attrs));
    Answer::new(201, Some(answer))
}

/// GET, PATCH or DELETE one segment; another account's segment is not found.
fn one(
    world: &mut World,
    base_url: &str,
    account: &str,
    method: &str,
    id: &str,
    body: &Value,
) -> Answer {
    let Some((owner, stored)) = world.segments.by_id.get_mut(id) else {
        return not_found();
    };
    if owner != account {
        return not_found();
    }
    match method {
        "delete" => {
            world.segments.by_id.remove(id);
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
                );
            }
            if let (Some(stored), Some(changes)) = (
                stored.as_object_mut(),
                body["data"]["attributes"].as_object(),
            ) {
                for (k, v) in changes.iter().filter(|(_, v)| !v.is_null()) {
                    stored.insert(k.clone(), v.clone());
                }
            }
            Answer::new(200, Some(json!({"data": resource(base_url, id, stored)})))
        }
        _ => Answer::new(200, Some(json!({"data": resource(base_url, id, stored)}))),
    }
}

/// A six-character id derived from the metric name (FNV-1a), like Klaviyo's metric ids.
pub fn metric_id(name: &str) -> String {
    crate::mapped_metrics::api_metric_id(name)
}

fn query_param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        let k = k
            .replace("%5B", "[")
            .replace("%5D", "]")
            .replace("%5b", "[")
            .replace("%5d", "]");
        (k == name).then(|| v.to_owned())
    })
}

fn not_found() -> Answer {
    Answer::new(
        404,
        Some(jsonapi::error(
            404,
            "not_found",
            "Not found.",
            "Segment not found.",
            Source::None,
        )),
    )
}
