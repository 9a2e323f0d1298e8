//! Klaviyo's metric mapping (`/api/mapped-metrics`): which metric Klaviyo's CLV, revenue
//! reports, Benchmarks and the Cancelled/Refunded `unique_id` netting read. A custom
//! integration has to set it itself; until it is set, Placed Order is just another metric.
//!
//! The rule, per mapping (revenue, cancelled sales, refunded sales, ordered product, started
//! checkout):
//! - **ours**: it already points at the metric our events create (the metric of that name
//!   whose integration is Klaviyo's `API`), or it was unset and now does.
//! - **other**: it points at any other metric (Shopify's Placed Order, a custom metric, a
//!   differently named API metric). Never changed: the merchant's page shows it, and the
//!   merchant decides in Klaviyo.
//! - **pending**: unset, and our metric does not exist yet. Klaviyo creates a metric with its
//!   first event, so the mapping is set on a later call (the next connect or sweep) rather than
//!   failing now.
//!
//! A second call changes nothing: mappings already ours are not written again, which matters
//! because `PATCH /api/mapped-metrics/{id}` allows 30 writes a day per account.

use std::collections::HashMap;

use serde_json::{Value, json};
use tokio::time::Instant;

use super::KlaviyoApi;
use crate::{AdapterError, Secret, Service};

/// Klaviyo's mapping id and the metric name our events use for it. The names are the mapping
/// crate's (`mapping::metrics`); this crate cannot import it, so `tests/e2e` (suite
/// `metric_mapping`) compares the two lists.
pub const MAPPINGS: &[(&str, &str)] = &[
    ("revenue", "Placed Order"),
    ("cancelled_sales", "Cancelled Order"),
    ("refunded_sales", "Refunded Order"),
    ("ordered_product", "Ordered Product"),
    ("started_checkout", "Started Checkout"),
];

/// The integration name Klaviyo gives metrics created through `POST /api/events` (its docs
/// call them "API metrics", and `GET /api/metrics` filters on `integration.name`). Were the
/// name ever different, every mapping would stay pending: never a wrong mapping.
pub const API_INTEGRATION: &str = "API";

/// Pages of `GET /api/metrics` read at most (200 metrics each): an account with more API
/// metrics than that is not one this app serves well anyway, and the call stays bounded.
const MAX_METRIC_PAGES: usize = 5;

/// What one mapping looks like after [`ensure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingState {
    /// Points at our metric (already, or set by this call).
    Ours,
    /// Points at another integration's metric; left alone.
    Other,
    /// Unset and our metric does not exist yet (no such event was sent); set later.
    Pending,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingEntry {
    /// Klaviyo's mapping id (`revenue`, `cancelled_sales`, ...).
    pub mapping: &'static str,
    /// Our metric name for it (`Placed Order`, ...).
    pub metric: &'static str,
    pub state: MappingState,
    /// Whether this call wrote the mapping.
    pub changed: bool,
}

/// One entry per mapping in [`MAPPINGS`], in that order. Names no shopper: safe to log and
/// to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingReport {
    pub entries: Vec<MappingEntry>,
}

impl MappingReport {
    pub fn others(&self) -> impl Iterator<Item = &MappingEntry> {
        self.entries
            .iter()
            .filter(|e| e.state == MappingState::Other)
    }

    pub fn pending(&self) -> impl Iterator<Item = &MappingEntry> {
        self.entries
            .iter()
            .filter(|e| e.state == MappingState::Pending)
    }

    pub fn changed(&self) -> usize {
        self.entries.iter().filter(|e| e.changed).count()
    }
}

/// Where a mapping points now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Current {
    Unset,
    Metric(String),
    /// A custom metric (Klaviyo's combined metrics) or anything else we did not create.
    Foreign,
}

/// Reads the account's mappings and our metrics, then sets every unset mapping whose metric
/// exists. 401/403 come back as `Unauthorized` (the key lacks `metrics:read`/`metrics:write`),
/// Klaviyo down as `Unavailable`.
pub async fn ensure(
    klaviyo: &dyn KlaviyoApi,
    key: &Secret,
    deadline: Instant,
) -> Result<MappingReport, AdapterError> {
    // Both reads at once: the page waits for this on every view of a store whose mappings
    // are still pending.
    let (mapped, ours) = futures::try_join!(
        read(klaviyo, key, "/api/mapped-metrics", deadline),
        our_metrics(klaviyo, key, deadline),
    )?;
    let current = parse_mapped(&mapped)?;
    let mut entries = Vec::with_capacity(MAPPINGS.len());
    for &(mapping, metric) in MAPPINGS {
        let our_id = ours.get(metric);
        let now = current.get(mapping).cloned().unwrap_or(Current::Unset);
        let (state, changed) = match (now, our_id) {
            (Current::Metric(id), Some(ours)) if &id == ours => (MappingState::Ours, false),
            (Current::Metric(_) | Current::Foreign, _) => (MappingState::Other, false),
            (Current::Unset, None) => (MappingState::Pending, false),
            (Current::Unset, Some(ours)) => {
                let body = update_body(mapping, ours);
                let path = format!("/api/mapped-metrics/{mapping}");
                klaviyo
                    .call(key, "PATCH", &path, Some(&body), deadline)
                    .await?
                    .into_result()?;
                (MappingState::Ours, true)
            }
        };
        entries.push(MappingEntry {
            mapping,
            metric,
            state,
            changed,
        });
    }
    Ok(MappingReport { entries })
}

/// `PATCH /api/mapped-metrics/{mapping}` body pointing the mapping at `metric_id`.
pub fn update_body(mapping: &str, metric_id: &str) -> Value {
    json!({"data": {
        "type": "mapped-metric",
        "id": mapping,
        "relationships": {"metric": {"data": {"type": "metric", "id": metric_id}}}
    }})
}

async fn read(
    klaviyo: &dyn KlaviyoApi,
    key: &Secret,
    path: &str,
    deadline: Instant,
) -> Result<Value, AdapterError> {
    let (delivery, body) = klaviyo.call_json(key, "GET", path, None, deadline).await?;
    delivery.into_result()?;
    body.ok_or_else(|| bad("answer is not JSON"))
}

/// Our metric ids by name: API-integration metrics named as in [`MAPPINGS`].
async fn our_metrics(
    klaviyo: &dyn KlaviyoApi,
    key: &Secret,
    deadline: Instant,
) -> Result<HashMap<&'static str, String>, AdapterError> {
    let mut found = HashMap::new();
    let mut path = format!(
        "/api/metrics?filter={}",
        url::form_urlencoded::byte_serialize(
            format!("equals(integration.name,'{API_INTEGRATION}')").as_bytes()
        )
        .collect::<String>()
    );
    for _ in 0..MAX_METRIC_PAGES {
        let page = read(klaviyo, key, &path, deadline).await?;
        collect_metrics(&page, &mut found);
        match next_page(&page) {
            Some(next) if found.len() < MAPPINGS.len() => path = next,
            _ => break,
        }
    }
    Ok(found)
}

fn collect_metrics(page: &Value, found: &mut HashMap<&'static str, String>) {
    for m in page["data"].as_array().into_iter().flatten() {
        let attrs = &m["attributes"];
        let name = attrs["name"].as_str().unwrap_or_default();
        let integration = attrs["integration"]["name"].as_str();
        let Some(id) = m["id"].as_str() else { continue };
        // The filter already asks for API metrics; checked again so that a Klaviyo that
        // ignored the filter cannot make us map another integration's metric.
        if integration != Some(API_INTEGRATION) {
            continue;
        }
        if let Some(&(_, ours)) = MAPPINGS.iter().find(|(_, n)| *n == name) {
            found.entry(ours).or_insert_with(|| id.to_string());
        }
    }
}

/// The next page's path (the `links.next` URL without its host): only our own base URL's
/// paths are followed.
fn next_page(page: &Value) -> Option<String> {
    let next = page["links"]["next"].as_str()?;
    let url = url::Url::parse(next).ok()?;
    if !url.path().starts_with("/api/metrics") {
        return None;
    }
    Some(match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    })
}

fn parse_mapped(body: &Value) -> Result<HashMap<String, Current>, AdapterError> {
    let items = body["data"]
        .as_array()
        .ok_or_else(|| bad("mapped metrics have no data"))?;
    let mut out = HashMap::new();
    for item in items {
        let Some(id) = item["id"].as_str() else {
            continue;
        };
        let rel = &item["relationships"];
        let current = if let Some(metric) = rel["metric"]["data"]["id"].as_str() {
            Current::Metric(metric.to_string())
        } else if rel["custom-metric"]["data"]["id"].is_string() {
            Current::Foreign
        } else {
            Current::Unset
        };
        out.insert(id.to_string(), current);
    }
    Ok(out)
}

fn bad(detail: &str) -> AdapterError {
    AdapterError::BadResponse {
        service: Service::Klaviyo,
        detail: format!("mapped metrics: {detail}"),
    }
}

#[cfg(test)]
mod tests;
