//! Metrics and Klaviyo's metric mapping: `GET /api/metrics`, `GET /api/mapped-metrics[/{id}]`,
//! `PATCH /api/mapped-metrics/{id}`.
//!
//! As in Klaviyo, a metric exists once an event of that name was accepted (integration `API`);
//! tests can also add metrics of other integrations and point mappings at them, to stand for a
//! merchant who runs another integration. Responses follow the spec's response schemas.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use spec_check::OperationMatch;

use crate::jsonapi::{self, Source};
use crate::routes::Answer;
use crate::state::World;

/// The mapping ids the spec allows (`MappedMetricResponseObjectResource.id`).
pub const MAPPING_IDS: &[&str] = &[
    "added_to_cart",
    "cancelled_sales",
    "ordered_product",
    "refunded_sales",
    "revenue",
    "started_checkout",
    "viewed_product",
];

const UPDATED: &str = "2026-01-01T00:00:00+00:00";

#[derive(Debug, Default)]
pub(crate) struct MappingWorld {
    /// Metrics added by tests: id → (name, integration name).
    pub foreign: BTreeMap<String, (String, String)>,
    /// Mapping id → metric id.
    pub mapped: BTreeMap<String, String>,
    /// Count of accepted `PATCH /api/mapped-metrics/{id}`.
    pub updates: usize,
}

/// The id Klaviyo-style (six characters) of the API metric named `name`; stable per name.
pub(crate) fn api_metric_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let c = ALPHABET[(h % 62) as usize] as char;
            h /= 62;
            c
        })
        .collect()
}

/// Every metric in the account: API metrics from accepted events, then the tests' own.
fn metrics(world: &World) -> Vec<(String, String, String)> {
    let mut names: Vec<&str> = world
        .event_keys
        .iter()
        .map(|(_, metric, _)| metric.as_str())
        .collect();
    names.sort_unstable();
    names.dedup();
    let mut all: Vec<(String, String, String)> = names
        .into_iter()
        .map(|n| (api_metric_id(n), n.to_owned(), "API".to_owned()))
        .collect();
    for (id, (name, integration)) in &world.mapping.foreign {
        all.push((id.clone(), name.clone(), integration.clone()));
    }
    all
}

pub(crate) fn handle(
    world: &mut World,
    base_url: &str,
    op: &OperationMatch,
    body: &Value,
) -> Answer {
    match op.operation_id.as_deref().unwrap_or_default() {
        "get_metrics" => {
            let data: Vec<Value> = metrics(world)
                .iter()
                .map(|(id, name, integration)| metric_resource(base_url, id, name, integration))
                .collect();
            Answer::new(
                200,
                Some(json!({"data": data, "links": {"self": format!("{base_url}/api/metrics")}})),
            )
        }
        "get_mapped_metrics" => {
            let data: Vec<Value> = MAPPING_IDS
                .iter()
                .map(|id| mapped_resource(world, base_url, id))
                .collect();
            Answer::new(
                200,
                Some(
                    json!({"data": data, "links": {"self": format!("{base_url}/api/mapped-metrics")}}),
                ),
            )
        }
        "get_mapped_metric" => {
            let id = op.param("id").unwrap_or_default();
            Answer::new(
                200,
                Some(
                    json!({"data": mapped_resource(world, base_url, id), "links": {"self": format!("{base_url}/api/mapped-metrics/{id}")}}),
                ),
            )
        }
        "update_mapped_metric" => update(world, base_url, op.param("id").unwrap_or_default(), body),
        other => Answer::new(404, None)
            .with_violation(format!("operation {other} is not a mapped-metrics one")),
    }
}

fn update(world: &mut World, base_url: &str, id: &str, body: &Value) -> Answer {
    let invalid = |detail: &str, pointer: &str| {
        Answer::new(
            400,
            Some(jsonapi::error(
                400,
                "invalid",
                "Invalid input.",
                detail,
                Source::Pointer(pointer),
            )),
        )
    };
    if body["data"]["id"].as_str() != Some(id) {
        return invalid("data.id must equal the id in the URL.", "/data/id")
            .with_violation("PATCH mapped metric: data.id differs from the id in the path");
    }
    let Some(metric) = body["data"]["relationships"]["metric"]["data"]["id"].as_str() else {
        return invalid(
            "A metric relationship is required.",
            "/data/relationships/metric",
        );
    };
    if !metrics(world).iter().any(|(m, _, _)| m == metric) {
        return Answer::new(
            404,
            Some(jsonapi::error(
                404,
                "not_found",
                "Not found.",
                "Metric not found.",
                Source::Pointer("/data/relationships/metric/data/id"),
            )),
        );
    }
    world
        .mapping
        .mapped
        .insert(id.to_owned(), metric.to_owned());
    world.mapping.updates += 1;
    Answer::new(
        200,
        Some(
            json!({"data": mapped_resource(world, base_url, id), "links": {"self": format!("{base_url}/api/mapped-metrics/{id}")}}),
        ),
    )
}

fn metric_resource(base_url: &str, id: &str, name: &str, integration: &str) -> Value {
    json!({
        "type": "metric",
        "id": id,
        "attributes": {
            "name": name,
            "created": UPDATED,
            "updated": UPDATED,
            "integration": {"object": "integration", "id": "0rG4eQ", "name": integration, "category": integration}
        },
        "links": {"self": format!("{base_url}/api/metrics/{id}/")}
    })
}

/// An unset mapping has no relationship data (the response schema has no null form for it).
fn mapped_resource(world: &World, base_url: &str, id: &str) -> Value {
    let links = json!({
        "self": format!("{base_url}/api/mapped-metrics/{id}/relationships/metric/"),
        "related": format!("{base_url}/api/mapped-metrics/{id}/metric/")
    });
    let metric = match world.mapping.mapped.get(id) {
        Some(m) => json!({"data": {"type": "metric", "id": m}, "links": links}),
        None => json!({"links": links}),
    };
    json!({
        "type": "mapped-metric",
        "id": id,
        "attributes": {"updated": UPDATED},
        "relationships": {"metric": metric},
        "links": {"self": format!("{base_url}/api/mapped-metrics/{id}/")}
    })
}

impl crate::KlaviyoStub {
    /// Adds a metric of another integration (`Shopify`, ...) and returns its id.
    pub fn add_metric(&self, name: &str, integration: &str) -> String {
        let id = format!("X{}", &api_metric_id(&format!("{integration}/{name}"))[1..]);
        self.shared
            .state
            .lock()
            .mapping
            .foreign
            .insert(id.clone(), (name.to_owned(), integration.to_owned()));
        id
    }

    /// Points Klaviyo mapping `mapping` (`revenue`, ...) at `metric_id`, as another
    /// integration or the merchant would have.
    pub fn set_mapped_metric(&self, mapping: &str, metric_id: &str) {
        self.shared
            .state
            .lock()
            .mapping
            .mapped
            .insert(mapping.to_owned(), metric_id.to_owned());
    }

    /// Mapping id → metric id, for the mappings that are set.
    pub fn mapped_metrics(&self) -> BTreeMap<String, String> {
        self.shared.state.lock().mapping.mapped.clone()
    }

    /// How many `PATCH /api/mapped-metrics/{id}` were accepted.
    pub fn mapped_metric_updates(&self) -> usize {
        self.shared.state.lock().mapping.updates
    }

    /// The id of the API metric the stub created for events named `name`.
    pub fn api_metric_id(name: &str) -> String {
        api_metric_id(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spec_check::Spec;

    #[test]
    fn responses_match_the_spec() {
        let spec = Spec::shared();
        let mut world = World::default();
        world
            .event_keys
            .insert(("p".into(), "Placed Order".into(), "id:1".into()));
        world
            .mapping
            .foreign
            .insert("XShop1".into(), ("Placed Order".into(), "Shopify".into()));
        world
            .mapping
            .mapped
            .insert("revenue".into(), "XShop1".into());
        let base = "http://127.0.0.1:1";
        for (method, path) in [
            ("GET", "/api/metrics"),
            ("GET", "/api/mapped-metrics"),
            ("GET", "/api/mapped-metrics/revenue"),
        ] {
            let op = spec.find_operation(method, path).unwrap();
            let a = handle(&mut world, base, &op, &Value::Null);
            assert_eq!(a.status, 200, "{path}");
            spec.validate_response(method, path, 200, a.body.as_ref().unwrap())
                .unwrap_or_else(|v| panic!("{path}: {v:?}"));
        }
        let path = "/api/mapped-metrics/started_checkout";
        let op = spec.find_operation("PATCH", path).unwrap();
        let id = api_metric_id("Placed Order");
        let body = json!({"data": {"type": "mapped-metric", "id": "started_checkout", "relationships": {"metric": {"data": {"type": "metric", "id": id}}}}});
        spec.check_request("PATCH", path, Some(&body)).unwrap();
        let a = handle(&mut world, base, &op, &body);
        assert_eq!(a.status, 200);
        spec.validate_response("PATCH", path, 200, a.body.as_ref().unwrap())
            .unwrap_or_else(|v| panic!("{v:?}"));
        assert_eq!(world.mapping.mapped["started_checkout"], id);
        // A metric that does not exist cannot be mapped.
        let body = json!({"data": {"type": "mapped-metric", "id": "refunded_sales", "relationships": {"metric": {"data": {"type": "metric", "id": "nope00"}}}}});
        let op = spec
            .find_operation("PATCH", "/api/mapped-metrics/refunded_sales")
            .unwrap();
        assert_eq!(handle(&mut world, base, &op, &body).status, 404);
    }
}
