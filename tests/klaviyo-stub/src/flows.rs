//! Flows, as the CRM provisioning uses them: list (50 a page, cursor links), create (drafts),
//! read and delete per account. The stored definition is what was sent, for assertions.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use spec_check::OperationMatch;

use crate::jsonapi::{self, Source};
use crate::routes::Answer;
use crate::state::World;

const PAGE: usize = 50;
const CREATED: &str = "2026-12-01T00:00:00+00:00";

#[derive(Default)]
pub(crate) struct Flows {
    by_id: BTreeMap<String, (String, Value)>,
    next: u64,
}

impl Flows {
    /// `(id, attributes as sent)` of an account's flows, oldest first.
    pub(crate) fn of(&self, account: &str) -> Vec<(String, Value)> {
        self.by_id
            .iter()
            .filter(|(_, (a, _))| a == account)
            .map(|(id, (_, attrs))| (id.clone(), attrs.clone()))
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
        "get_flows" => list(world, base_url, account, target),
        "create_flow" => {
            let attrs = body["data"]["attributes"].clone();
            world.flows.next += 1;
            let id = format!("FLW{:03}", world.flows.next);
            let answer = json!({"data": resource(base_url, &id, &attrs)});
            world.flows.by_id.insert(id, (account.to_owned(), attrs));
            Answer::new(201, Some(answer))
        }
        method => {
            let id = op.param("id").unwrap_or_default().to_owned();
            let Some((owner, attrs)) = world.flows.by_id.get(&id) else {
                return not_found();
            };
            if owner != account {
                return not_found();
            }
            if method == "delete_flow" {
                world.flows.by_id.remove(&id);
                return Answer::new(204, None);
            }
            Answer::new(200, Some(json!({"data": resource(base_url, &id, attrs)})))
        }
    }
}

fn resource(base_url: &str, id: &str, attrs: &Value) -> Value {
    let trigger = match attrs
        .pointer("/definition/triggers/0/type")
        .and_then(Value::as_str)
    {
        Some("metric") => "Metric",
        Some("list" | "segment") => "Added to List",
        _ => "Unconfigured",
    };
    json!({
        "type": "flow",
        "id": id,
        "attributes": {
            "name": attrs["name"],
            "status": "draft",
            "archived": false,
            "created": CREATED,
            "updated": CREATED,
            "trigger_type": trigger,
        },
        "links": {"self": format!("{base_url}/api/flows/{id}/")},
    })
}

fn list(world: &World, base_url: &str, account: &str, target: &str) -> Answer {
    let start: usize = target
        .split_once("page%5Bcursor%5D=")
        .and_then(|(_, c)| c.split('&').next())
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let all = world.flows.of(account);
    let data: Vec<Value> = all
        .iter()
        .skip(start)
        .take(PAGE)
        .map(|(id, attrs)| resource(base_url, id, attrs))
        .collect();
    let mut links = json!({"self": format!("{base_url}/api/flows/")});
    if start + PAGE < all.len() {
        links["next"] = json!(format!(
            "{base_url}/api/flows/?page%5Bcursor%5D={}",
            start + PAGE
        ));
    }
    Answer::new(200, Some(json!({"data": data, "links": links})))
}

fn not_found() -> Answer {
    Answer::new(
        404,
        Some(jsonapi::error(
            404,
            "not_found",
            "Not found.",
            "Flow not found.",
            Source::None,
        )),
    )
}
