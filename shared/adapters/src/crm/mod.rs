//! Provisioning what the app builds in the merchant's Klaviyo (segments now, draft flows
//! beside them): create what is missing, update what drifted, leave what matches, and remove
//! exactly what the app created. "What the app created" is every resource whose name starts
//! with the prefix the caller passes (`mapping::crm::NAME_PREFIX`): Klaviyo has no owner field
//! on a segment, and the name survives in every listing, so no id needs storing on our side.
//!
//! The bodies come from the pure mapping crate; the functions join the two (this crate never
//! imports mapping), so a resource here is just its name and definition.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::klaviyo::{KlaviyoApi, KlaviyoClient};
use crate::{AdapterError, Secret, Service};

/// Scopes the CRM features add to a private key, beyond the relay's: reading the Placed Order
/// metric's id, and writing segments and flows (`*:write` implies `*:read` in Klaviyo's key
/// editor, but a key can be made with read only, so both are listed).
pub const CRM_SCOPES: &[&str] = &[
    "metrics:read",
    "segments:read",
    "segments:write",
    "flows:read",
    "flows:write",
    "tags:read",
    "tags:write",
];

/// The Klaviyo tag on everything the app creates, so the merchant can filter for it in
/// Klaviyo's lists. A label only: a re-run finds the app's resources by name prefix, which
/// a merchant removing the tag does not change.
pub const APP_TAG: &str = "Salla app";

/// Klaviyo's answer body, for the calls that need it.
#[async_trait]
pub trait JsonApi: Send + Sync {
    /// One request with the client's retries until `deadline`; a 2xx answers its JSON body
    /// (`Null` when empty), a 4xx its adapter error.
    async fn json(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, AdapterError>;
}

/// The client's own answer reading ([`KlaviyoApi::call_json`]), as for any other API.
#[async_trait]
impl JsonApi for KlaviyoClient {
    async fn json(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        ViaKlaviyoApi(self)
            .json(key, method, path, body, deadline)
            .await
    }
}

/// [`JsonApi`] through any [`KlaviyoApi`]: the functions hold their client as
/// `dyn KlaviyoApi` (so their tests can swap it), and `call_json` already hands back the body.
pub struct ViaKlaviyoApi<'a>(pub &'a dyn KlaviyoApi);

#[async_trait]
impl JsonApi for ViaKlaviyoApi<'_> {
    async fn json(
        &self,
        key: &Secret,
        method: &'static str,
        path: &str,
        body: Option<&Value>,
        deadline: Instant,
    ) -> Result<Value, AdapterError> {
        let (delivery, answer) = self.0.call_json(key, method, path, body, deadline).await?;
        delivery.into_result()?;
        Ok(answer.unwrap_or(Value::Null))
    }
}

/// A resource the app wants in the account.
#[derive(Debug, Clone, PartialEq)]
pub struct Wanted {
    pub name: String,
    pub definition: Value,
}

/// What a run did, by resource name, for the app page to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    pub unchanged: Vec<String>,
    pub removed: Vec<String>,
}

/// A resource already in the account.
#[derive(Debug, Clone)]
struct Existing {
    id: String,
    name: String,
    definition: Value,
}

/// The kind of resource: its JSON:API type and collection path.
#[derive(Debug, Clone, Copy)]
struct Kind {
    resource: &'static str,
    path: &'static str,
    /// `fields[...]` for the listing: the name and the definition are all that is compared.
    list_query: &'static str,
    /// Whether a drifted definition is patched. Flows are not: Klaviyo's flow update changes
    /// only the status, and a draft the merchant has edited or turned on is theirs to keep.
    updatable: bool,
    /// The tag relationship path segment (`/api/tags/{id}/relationships/<this>`).
    tag_relationship: &'static str,
}

const SEGMENTS: Kind = Kind {
    resource: "segment",
    path: "/api/segments",
    list_query: "?fields%5Bsegment%5D=name,definition",
    updatable: true,
    tag_relationship: "segments",
};

const FLOWS: Kind = Kind {
    resource: "flow",
    path: "/api/flows",
    list_query: "?fields%5Bflow%5D=name",
    updatable: false,
    tag_relationship: "flows",
};

/// Klaviyo allows one segment or flow create/update a second per account (burst), 15 a
/// minute and 100 a day: writes are spaced by this much rather than answered by 429s. A full
/// run (9 segments, up to 18 flows) therefore takes half a minute; give it a deadline to match.
pub const WRITE_GAP: Duration = Duration::from_millis(1_100);

/// One provisioning run against one account. A run that stops part-way (Klaviyo busy, the
/// deadline) is simply run again: it picks up what exists and creates the rest.
pub struct Provisioner<'a> {
    api: &'a dyn JsonApi,
    key: &'a Secret,
    deadline: Instant,
    last_write: Mutex<Option<Instant>>,
    write_gap: Duration,
}

impl<'a> Provisioner<'a> {
    pub fn new(api: &'a dyn JsonApi, key: &'a Secret, deadline: Instant) -> Self {
        Self {
            api,
            key,
            deadline,
            last_write: Mutex::new(None),
            write_gap: WRITE_GAP,
        }
    }

    /// Another spacing between writes (tests of the logic, against a stub without limits).
    pub fn with_write_gap(mut self, gap: Duration) -> Self {
        self.write_gap = gap;
        self
    }

    /// A create or update of a segment or flow, spaced [`WRITE_GAP`] from the previous one.
    async fn write(
        &self,
        method: &'static str,
        path: &str,
        body: &Value,
    ) -> Result<Value, AdapterError> {
        let previous = *self.last_write.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        let at = previous.map_or(now, |p| (p + self.write_gap).max(now));
        if at >= self.deadline {
            return Err(AdapterError::Unavailable {
                service: Service::Klaviyo,
                detail: "the next write would pass the deadline".into(),
            });
        }
        if at > now {
            tokio::time::sleep_until(at).await;
        }
        let answer = self
            .api
            .json(self.key, method, path, Some(body), self.deadline)
            .await;
        *self.last_write.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        answer
    }

    /// The id of the account's metric called `name` (our "Placed Order"). Klaviyo creates a
    /// metric with its first event, so `None` means no order has reached this account yet.
    /// Another integration's metric of the same name (e.g. Shopify's) is skipped in favour of
    /// the one created through the API, which is ours.
    pub async fn metric_id(&self, name: &str) -> Result<Option<String>, AdapterError> {
        Ok(self.metric_ids(&[name]).await?.remove(name))
    }

    /// Makes the account's segments named with `prefix` exactly `wanted`: creates the missing,
    /// updates those whose definition differs, and removes those of ours no longer wanted (a
    /// preset switched from A to B drops A's tiers). A second run with the same `wanted`
    /// changes nothing and reports everything unchanged.
    pub async fn ensure_segments(
        &self,
        prefix: &str,
        wanted: &[Wanted],
    ) -> Result<Report, AdapterError> {
        self.ensure(SEGMENTS, prefix, wanted).await
    }

    /// Deletes every segment whose name starts with `prefix`, and nothing else.
    pub async fn remove_segments(&self, prefix: &str) -> Result<Report, AdapterError> {
        self.ensure(SEGMENTS, prefix, &[]).await
    }

    /// Creates the draft flows in `wanted` that the account lacks, leaves those it has (by
    /// name, whatever the merchant changed in them) and removes flows of ours no longer
    /// wanted. Klaviyo allows 100 flow creations a day per account, far above one run's.
    pub async fn ensure_flows(
        &self,
        prefix: &str,
        wanted: &[Wanted],
    ) -> Result<Report, AdapterError> {
        self.ensure(FLOWS, prefix, wanted).await
    }

    /// Deletes every flow whose name starts with `prefix`, and nothing else.
    pub async fn remove_flows(&self, prefix: &str) -> Result<Report, AdapterError> {
        self.ensure(FLOWS, prefix, &[]).await
    }

    /// Ids of the account's segments named with `prefix`, by name (the flows that a segment
    /// triggers need its id).
    pub async fn segment_ids(
        &self,
        prefix: &str,
    ) -> Result<BTreeMap<String, String>, AdapterError> {
        Ok(self
            .existing(SEGMENTS, prefix)
            .await?
            .into_iter()
            .map(|e| (e.name, e.id))
            .collect())
    }

    /// Ids of the named metrics the account has (one listing); absent names have no event yet.
    pub async fn metric_ids(
        &self,
        names: &[&str],
    ) -> Result<BTreeMap<String, String>, AdapterError> {
        let metrics = self.list_all("/api/metrics").await?;
        let mut ids = BTreeMap::new();
        for name in names {
            if let Some(id) = pick_metric(&metrics, name) {
                ids.insert((*name).to_owned(), id);
            }
        }
        Ok(ids)
    }

    /// What [`Provisioner::ensure_segments`] would do, without changing anything (the app
    /// page's preview).
    pub async fn preview_segments(
        &self,
        prefix: &str,
        wanted: &[Wanted],
    ) -> Result<Report, AdapterError> {
        self.run(SEGMENTS, prefix, wanted, false).await
    }

    /// What [`Provisioner::ensure_flows`] would do, without changing anything.
    pub async fn preview_flows(
        &self,
        prefix: &str,
        wanted: &[Wanted],
    ) -> Result<Report, AdapterError> {
        self.run(FLOWS, prefix, wanted, false).await
    }

    async fn ensure(
        &self,
        kind: Kind,
        prefix: &str,
        wanted: &[Wanted],
    ) -> Result<Report, AdapterError> {
        self.run(kind, prefix, wanted, true).await
    }

    /// Compares the account with `wanted` and, when `apply`, makes them equal.
    async fn run(
        &self,
        kind: Kind,
        prefix: &str,
        wanted: &[Wanted],
        apply: bool,
    ) -> Result<Report, AdapterError> {
        if prefix.is_empty() || wanted.iter().any(|w| !w.name.starts_with(prefix)) {
            // An empty prefix would make every resource in the account "ours".
            return Err(AdapterError::Config(
                "every provisioned name must start with the app's non-empty prefix".into(),
            ));
        }
        let mut ours = self.existing(kind, prefix).await?;
        let mut report = Report::default();
        // Every wanted resource that exists after the run, tagged in one call at the end; a
        // run cut short leaves some untagged, and the next run tags them.
        let mut ids = Vec::new();
        for w in wanted {
            match ours.iter().position(|e| e.name == w.name) {
                Some(i) => {
                    let e = ours.remove(i);
                    ids.push(json!({"type": kind.resource, "id": e.id}));
                    if !kind.updatable
                        || without_nulls(&e.definition) == without_nulls(&w.definition)
                    {
                        report.unchanged.push(w.name.clone());
                    } else if !apply {
                        report.updated.push(w.name.clone());
                    } else {
                        let body = json!({"data": {"type": kind.resource, "id": e.id,
                            "attributes": {"name": w.name, "definition": w.definition}}});
                        let path = format!("{}/{}", kind.path, e.id);
                        self.write("PATCH", &path, &body).await?;
                        report.updated.push(w.name.clone());
                    }
                }
                None if !apply => report.created.push(w.name.clone()),
                None => {
                    let body = json!({"data": {"type": kind.resource,
                        "attributes": {"name": w.name, "definition": w.definition}}});
                    let answer = self.write("POST", kind.path, &body).await?;
                    if let Some(id) = answer.pointer("/data/id").and_then(Value::as_str) {
                        ids.push(json!({"type": kind.resource, "id": id}));
                    }
                    report.created.push(w.name.clone());
                }
            }
        }
        if !apply {
            report.removed = ours.into_iter().map(|e| e.name).collect();
            return Ok(report);
        }
        if !ids.is_empty() {
            let tag = self.app_tag().await?;
            let path = format!("/api/tags/{tag}/relationships/{}", kind.tag_relationship);
            let body = json!({ "data": ids });
            self.api
                .json(self.key, "POST", &path, Some(&body), self.deadline)
                .await?;
        }
        // Ours and not wanted (including a second copy of a wanted name, left by two runs at
        // once): removed.
        for e in ours {
            let path = format!("{}/{}", kind.path, e.id);
            match self
                .api
                .json(self.key, "DELETE", &path, None, self.deadline)
                .await
            {
                Ok(_) | Err(AdapterError::Rejected { status: 404, .. }) => {
                    report.removed.push(e.name)
                }
                Err(other) => return Err(other),
            }
        }
        Ok(report)
    }

    /// The id of the account's [`APP_TAG`], created on first use.
    async fn app_tag(&self) -> Result<String, AdapterError> {
        let path = format!(
            "/api/tags?filter=equals(name,%22{}%22)",
            APP_TAG.replace(' ', "%20")
        );
        let found = self.list_all(&path).await?;
        let existing = found
            .iter()
            .find(|t| t.pointer("/attributes/name").and_then(Value::as_str) == Some(APP_TAG));
        if let Some(id) = existing.and_then(|t| t.get("id")).and_then(Value::as_str) {
            return Ok(id.to_owned());
        }
        let body = json!({"data": {"type": "tag", "attributes": {"name": APP_TAG}}});
        let created = self
            .api
            .json(self.key, "POST", "/api/tags", Some(&body), self.deadline)
            .await?;
        created
            .pointer("/data/id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| bad("a created tag has no id"))
    }

    async fn existing(&self, kind: Kind, prefix: &str) -> Result<Vec<Existing>, AdapterError> {
        let all = self
            .list_all(&format!("{}{}", kind.path, kind.list_query))
            .await?;
        Ok(all
            .into_iter()
            .filter_map(|r| {
                let name = r.pointer("/attributes/name")?.as_str()?.to_owned();
                name.starts_with(prefix).then(|| Existing {
                    id: r
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                    definition: r
                        .pointer("/attributes/definition")
                        .cloned()
                        .unwrap_or(Value::Null),
                    name,
                })
            })
            .filter(|e| !e.id.is_empty())
            .collect())
    }

    /// Every item of a collection, following `links.next` (Klaviyo pages segments by ten).
    async fn list_all(&self, first: &str) -> Result<Vec<Value>, AdapterError> {
        /// Far past any real account (10 per page): a bound on a cursor that never ends.
        const MAX_PAGES: usize = 500;
        let mut items = Vec::new();
        let mut path = first.to_owned();
        for _ in 0..MAX_PAGES {
            let page = self
                .api
                .json(self.key, "GET", &path, None, self.deadline)
                .await?;
            let data = page
                .get("data")
                .and_then(Value::as_array)
                .ok_or_else(|| bad("a listing has no data array"))?;
            items.extend(data.iter().cloned());
            match page.pointer("/links/next").and_then(Value::as_str) {
                Some(next) => {
                    path = path_of(next).ok_or_else(|| bad("next link has no /api/ path"))?
                }
                None => return Ok(items),
            }
        }
        Err(bad("a listing did not end"))
    }
}

/// The id of the metric called `name`, preferring the one created through the API (ours)
/// over another integration's of the same name.
fn pick_metric(metrics: &[Value], name: &str) -> Option<String> {
    let named: Vec<&Value> = metrics
        .iter()
        .filter(|m| m.pointer("/attributes/name").and_then(Value::as_str) == Some(name))
        .collect();
    let by_api = named.iter().find(|m| {
        m.pointer("/attributes/integration/category")
            .and_then(Value::as_str)
            .is_some_and(|c| c.eq_ignore_ascii_case("api"))
    });
    by_api
        .or(named.first())
        .and_then(|m| m.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// The `/api/…` path and query of an absolute `links.next` URL (the client adds its base).
fn path_of(link: &str) -> Option<String> {
    let start = link.find("/api/")?;
    Some(link[start..].to_owned())
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn bad(detail: &str) -> AdapterError {
    AdapterError::BadResponse {
        service: Service::Klaviyo,
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_links_become_paths() {
        assert_eq!(
            path_of("https://a.klaviyo.com/api/segments/?page%5Bcursor%5D=abc").as_deref(),
            Some("/api/segments/?page%5Bcursor%5D=abc")
        );
        assert_eq!(path_of("https://evil.example/other"), None);
    }

    #[test]
    fn our_metric_wins_over_another_integrations_of_the_same_name() {
        let metrics = vec![
            serde_json::json!({"id": "SHOP", "attributes": {"name": "Placed Order", "integration": {"category": "eCommerce"}}}),
            serde_json::json!({"id": "OURS", "attributes": {"name": "Placed Order", "integration": {"category": "API"}}}),
            serde_json::json!({"id": "X", "attributes": {"name": "Other"}}),
        ];
        assert_eq!(
            pick_metric(&metrics, "Placed Order").as_deref(),
            Some("OURS")
        );
        assert_eq!(
            pick_metric(&metrics[..1], "Placed Order").as_deref(),
            Some("SHOP")
        );
        assert_eq!(pick_metric(&metrics, "Missing"), None);
    }

    #[test]
    fn crm_scopes_name_segments_flows_and_metrics() {
        for s in ["segments:write", "flows:write", "metrics:read"] {
            assert!(CRM_SCOPES.contains(&s), "{s}");
        }
    }
}
