//! Tags, as the CRM provisioning uses them: list (filtered by `equals(name,"…")`), create, and
//! tag flows or segments. What is tagged is kept for assertions.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use spec_check::OperationMatch;

use crate::routes::Answer;
use crate::state::World;

#[derive(Default)]
pub(crate) struct Tags {
    /// Tag id → (account, name).
    by_id: BTreeMap<String, (String, String)>,
    /// (tag id, "flow" | "segment", resource id).
    tagged: BTreeSet<(String, String, String)>,
    next: u64,
}

impl Tags {
    /// `(resource type, id)` of what carries the account's tag called `name`.
    pub(crate) fn tagged(&self, account: &str, name: &str) -> Vec<(String, String)> {
        self.by_id
            .iter()
            .filter(|(_, (a, n))| a == account && n == name)
            .flat_map(|(tag, _)| {
                self.tagged
                    .iter()
                    .filter(move |(t, _, _)| t == tag)
                    .map(|(_, kind, id)| (kind.clone(), id.clone()))
            })
            .collect()
    }
}

pub(crate) fn operation(
    world: &mut World,
    base_url: &str,
    account: &str,
    op: &OperationMatch,
    target: &str,
    body: &Value,
) -> Answer {
    match op.operation_id.as_deref().unwrap_or_default() {
        "get_tags" => {
            let wanted = equals_name(target);
            let data: Vec<Value> = world
                .tags
                .by_id
                .iter()
                .filter(|(_, (a, n))| a == account && wanted.as_ref().is_none_or(|w| w == n))
                .map(|(id, (_, name))| resource(base_url, id, name))
                .collect();
            Answer::new(
                200,
                Some(json!({"data": data, "links": {"self": format!("{base_url}/api/tags/")}})),
            )
        }
        "create_tag" => {
            let name = body["data"]["attributes"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            world.tags.next += 1;
            let id = format!("00000000-0000-4000-8000-{:012}", world.tags.next);
            let answer = json!({"data": resource(base_url, &id, &name)});
            world.tags.by_id.insert(id, (account.to_owned(), name));
            Answer::new(201, Some(answer))
        }
        // tag_flows | tag_segments
        op_id => {
            let tag = op.param("id").unwrap_or_default().to_owned();
            if world.tags.by_id.get(&tag).is_none_or(|(a, _)| a != account) {
                return Answer::new(404, None);
            }
            let kind = if op_id == "tag_flows" {
                "flow"
            } else {
                "segment"
            };
            for item in body["data"].as_array().into_iter().flatten() {
                if let Some(id) = item["id"].as_str() {
                    world
                        .tags
                        .tagged
                        .insert((tag.clone(), kind.to_owned(), id.to_owned()));
                }
            }
            Answer::new(204, None)
        }
    }
}

fn resource(base_url: &str, id: &str, name: &str) -> Value {
    json!({"type": "tag", "id": id, "attributes": {"name": name},
           "links": {"self": format!("{base_url}/api/tags/{id}/")}})
}

/// The name in `filter=equals(name,"…")`, percent-decoded (enough for the names tests use).
fn equals_name(target: &str) -> Option<String> {
    let (_, query) = target.split_once('?')?;
    let filter = query.split('&').find_map(|p| p.strip_prefix("filter="))?;
    let decoded = filter
        .replace("%22", "\"")
        .replace("%20", " ")
        .replace("%28", "(")
        .replace("%29", ")")
        .replace("%2C", ",");
    let inner = decoded
        .strip_prefix("equals(name,\"")?
        .strip_suffix("\")")?;
    Some(inner.to_owned())
}
