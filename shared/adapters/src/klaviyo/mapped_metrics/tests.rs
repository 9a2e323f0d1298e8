use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use super::*;
use crate::klaviyo::{AccountInfo, Delivery};

/// Answers GET mapped-metrics and metrics from canned bodies, records every PATCH.
struct Fake {
    mapped: Mutex<Value>,
    metrics: Value,
    patches: Mutex<Vec<(String, Value)>>,
    status: u16,
}

impl Fake {
    fn new(mapped: &[(&str, Option<&str>)], metrics: &[(&str, &str, &str)]) -> Fake {
        let data: Vec<Value> = mapped
            .iter()
            .map(|(id, metric)| {
                let mut rel = json!({});
                if let Some(m) = metric {
                    rel["metric"] = json!({"data": {"type": "metric", "id": m}});
                }
                json!({"type": "mapped-metric", "id": id, "attributes": {"updated": "2026-01-01T00:00:00Z"}, "relationships": rel})
            })
            .collect();
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|(id, name, integration)| {
                json!({"type": "metric", "id": id, "attributes": {"name": name, "integration": {"name": integration, "category": integration}}})
            })
            .collect();
        Fake {
            mapped: Mutex::new(json!({"data": data})),
            metrics: json!({"data": metrics, "links": {"self": "https://a.klaviyo.com/api/metrics"}}),
            patches: Mutex::new(Vec::new()),
            status: 200,
        }
    }
}

#[async_trait]
impl KlaviyoApi for Fake {
    async fn get_account(&self, _key: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("not used")
    }

    async fn call(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Delivery, AdapterError> {
        Ok(self.call_json(key, method, path, body, deadline).await?.0)
    }

    async fn call_json(
        &self,
        _key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        _deadline: Instant,
    ) -> Result<(Delivery, Option<Value>), AdapterError> {
        let ok = |body: Option<Value>| {
            Ok((
                Delivery {
                    status: self.status,
                    attempts: 1,
                    error: (self.status >= 400).then(|| crate::klaviyo::errors::parse(b"")),
                },
                body,
            ))
        };
        match method {
            "GET" if path == "/api/mapped-metrics" => ok(Some(self.mapped.lock().unwrap().clone())),
            "GET" if path.starts_with("/api/metrics?") => {
                assert!(
                    path.contains("filter=equals%28integration.name%2C%27API%27%29"),
                    "{path}"
                );
                ok(Some(self.metrics.clone()))
            }
            "PATCH" => {
                let body = body.cloned().unwrap_or_default();
                let id = path.trim_start_matches("/api/mapped-metrics/").to_string();
                let metric = body["data"]["relationships"]["metric"]["data"]["id"].clone();
                let mut mapped = self.mapped.lock().unwrap();
                for item in mapped["data"].as_array_mut().unwrap() {
                    if item["id"] == json!(id) {
                        item["relationships"] =
                            json!({"metric": {"data": {"type": "metric", "id": metric}}});
                    }
                }
                self.patches.lock().unwrap().push((id, body));
                ok(None)
            }
            other => panic!("unexpected {other} {path}"),
        }
    }
}

fn all_unset() -> Vec<(&'static str, Option<&'static str>)> {
    [
        "added_to_cart",
        "cancelled_sales",
        "ordered_product",
        "refunded_sales",
        "revenue",
        "started_checkout",
        "viewed_product",
    ]
    .into_iter()
    .map(|id| (id, None))
    .collect()
}

fn deadline() -> Instant {
    Instant::now() + std::time::Duration::from_secs(5)
}

fn state_of(report: &MappingReport, mapping: &str) -> MappingState {
    report
        .entries
        .iter()
        .find(|e| e.mapping == mapping)
        .unwrap()
        .state
}

#[tokio::test]
async fn unset_mappings_point_at_our_metrics_and_missing_metrics_are_pending() {
    let fake = Fake::new(
        &all_unset(),
        &[
            ("M_PO", "Placed Order", "API"),
            ("M_OP", "Ordered Product", "API"),
            ("M_SHOP", "Cancelled Order", "Shopify"),
        ],
    );
    let report = ensure(&fake, &Secret::new("pk_x"), deadline())
        .await
        .unwrap();
    assert_eq!(state_of(&report, "revenue"), MappingState::Ours);
    assert_eq!(state_of(&report, "ordered_product"), MappingState::Ours);
    // Only Shopify's Cancelled Order exists: it is not ours to map.
    assert_eq!(state_of(&report, "cancelled_sales"), MappingState::Pending);
    assert_eq!(state_of(&report, "refunded_sales"), MappingState::Pending);
    assert_eq!(state_of(&report, "started_checkout"), MappingState::Pending);
    assert_eq!(report.changed(), 2);
    let patches = fake.patches.lock().unwrap().clone();
    assert_eq!(patches.len(), 2);
    assert_eq!(patches[0].1, update_body("revenue", "M_PO"));
    assert_eq!(
        patches[0].1["data"]["relationships"]["metric"]["data"]["id"],
        "M_PO"
    );
    // Twice = no change.
    let again = ensure(&fake, &Secret::new("pk_x"), deadline())
        .await
        .unwrap();
    assert_eq!(again.changed(), 0);
    assert_eq!(fake.patches.lock().unwrap().len(), 2);
    assert_eq!(state_of(&again, "revenue"), MappingState::Ours);
}

#[tokio::test]
async fn a_mapping_to_another_integrations_metric_is_reported_and_left_alone() {
    let mut mapped = all_unset();
    for m in &mut mapped {
        if m.0 == "revenue" {
            m.1 = Some("M_SHOPIFY_PO");
        }
    }
    let fake = Fake::new(
        &mapped,
        &[
            ("M_PO", "Placed Order", "API"),
            ("M_SC", "Started Checkout", "API"),
        ],
    );
    let report = ensure(&fake, &Secret::new("pk_x"), deadline())
        .await
        .unwrap();
    assert_eq!(state_of(&report, "revenue"), MappingState::Other);
    assert_eq!(report.others().count(), 1);
    assert_eq!(state_of(&report, "started_checkout"), MappingState::Ours);
    let patches = fake.patches.lock().unwrap().clone();
    assert_eq!(patches.len(), 1);
    assert_eq!(patches[0].0, "started_checkout");
}

#[tokio::test]
async fn a_custom_metric_mapping_counts_as_another_integrations() {
    let fake = Fake::new(&all_unset(), &[("M_PO", "Placed Order", "API")]);
    fake.mapped.lock().unwrap()["data"][4]["relationships"] =
        json!({"custom-metric": {"data": {"type": "custom-metric", "id": "C1"}}});
    let report = ensure(&fake, &Secret::new("pk_x"), deadline())
        .await
        .unwrap();
    assert_eq!(state_of(&report, "revenue"), MappingState::Other);
    assert!(fake.patches.lock().unwrap().is_empty());
}

#[tokio::test]
async fn a_key_without_the_metrics_scopes_is_unauthorized() {
    let mut fake = Fake::new(&all_unset(), &[]);
    fake.status = 403;
    let err = ensure(&fake, &Secret::new("pk_x"), deadline())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AdapterError::Unauthorized { status: 403, .. }),
        "{err}"
    );
}

#[test]
fn next_page_keeps_only_metric_paths() {
    let page = json!({"links": {"next": "https://a.klaviyo.com/api/metrics?page%5Bcursor%5D=abc&filter=x"}});
    assert_eq!(
        next_page(&page).as_deref(),
        Some("/api/metrics?page%5Bcursor%5D=abc&filter=x")
    );
    assert_eq!(
        next_page(&json!({"links": {"next": "https://evil.example/other"}})),
        None
    );
    assert_eq!(next_page(&json!({"links": {}})), None);
}
