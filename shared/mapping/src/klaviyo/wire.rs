//! Klaviyo's JSON:API bodies. The domain structs of [`super::request`] are wrapped in
//! Klaviyo's envelope through small borrowed wire structs, so every body is built in one place
//! and a retry serializes byte-identically (maps are sorted: `BTreeMap` or [`Properties`],
//! never `HashMap`).

use super::properties::Properties;
use super::request::{
    CatalogCategoryUpsert, CatalogUpsert, CatalogVariantUpsert, EventRequest, KlaviyoRequest,
    Profile, SubscribeRequest, catalog_item_id,
};
use serde::Serialize;
use serde_json::{Value, json};

impl KlaviyoRequest {
    /// JSON body of the primary request; `None` for DELETE.
    pub fn body(&self) -> Option<Value> {
        match self {
            KlaviyoRequest::CreateEvent(event) => Some(event_body(event)),
            KlaviyoRequest::ImportProfile(import) => Some(to_json(&Doc {
                data: Resource {
                    kind: "profile",
                    id: None,
                    attributes: &import.profile,
                },
            })),
            KlaviyoRequest::Subscribe(sub) => Some(subscribe_body(sub)),
            KlaviyoRequest::UpsertCatalogItem(item) if item.can_create() => {
                Some(item.create_body())
            }
            KlaviyoRequest::UpsertCatalogItem(item) => Some(item.update_body()),
            KlaviyoRequest::DeleteCatalogItem { .. } => None,
            KlaviyoRequest::UpsertCatalogVariant(variant) => Some(variant.create_body()),
            KlaviyoRequest::UpsertCatalogCategory(category) => Some(category.create_body()),
            KlaviyoRequest::BulkCreateEvents(job) => Some(to_json(&event_job(
                job.entries
                    .iter()
                    .filter_map(|events| {
                        let first = events.first()?;
                        Some(bulk_entry(
                            &first.profile,
                            events.iter().map(bulk_event).collect(),
                        ))
                    })
                    .collect(),
            ))),
            KlaviyoRequest::BulkImportProfiles(job) => Some(to_json(&profile_job(
                job.profiles.iter().map(profile_resource).collect(),
            ))),
        }
    }
}

impl CatalogUpsert {
    /// Body of `POST /api/catalog-items`.
    pub(crate) fn create_body(&self) -> Value {
        let title = self.title.as_deref().unwrap_or_default();
        let attributes = CatalogCreateAttributes {
            external_id: &self.external_id,
            integration_type: "$custom",
            catalog_type: "$default",
            title,
            // `description` is required on create; the title stands in for an empty one.
            description: self.description.as_deref().unwrap_or(title),
            url: self.url.as_deref().unwrap_or_default(),
            price: self.price,
            image_full_url: self.image_full_url.as_deref(),
            published: self.published,
            custom_metadata: self.custom_metadata.as_ref(),
        };
        with_categories(
            to_json(&Doc {
                data: Resource {
                    kind: "catalog-item",
                    id: None,
                    attributes,
                },
            }),
            self.categories.as_deref(),
        )
    }

    /// Body of `PATCH /api/catalog-items/{id}`: only the fields the item carries.
    pub(crate) fn update_body(&self) -> Value {
        let attributes = CatalogUpdateAttributes {
            title: self.title.as_deref(),
            description: self.description.as_deref(),
            url: self.url.as_deref(),
            price: self.price,
            image_full_url: self.image_full_url.as_deref(),
            published: self.published,
            custom_metadata: self.custom_metadata.as_ref(),
        };
        let id = self.item_id();
        with_categories(
            to_json(&Doc {
                data: Resource {
                    kind: "catalog-item",
                    id: Some(&id),
                    attributes,
                },
            }),
            self.categories.as_deref(),
        )
    }
}

/// `data.relationships.categories` of an item body.
fn with_categories(mut body: Value, categories: Option<&[String]>) -> Value {
    if let (Some(categories), Some(data)) = (categories, body.get_mut("data")) {
        let refs: Vec<Value> = categories
            .iter()
            .map(|c| json!({"type": "catalog-category", "id": catalog_item_id(c)}))
            .collect();
        data["relationships"] = json!({"categories": {"data": refs}});
    }
    body
}

impl CatalogVariantUpsert {
    fn attributes(&self) -> serde_json::Map<String, Value> {
        let mut a = serde_json::Map::new();
        a.insert("title".into(), json!(self.title));
        a.insert("description".into(), json!(self.description));
        a.insert("sku".into(), json!(self.sku));
        a.insert("inventory_quantity".into(), json!(self.inventory_quantity));
        a.insert("inventory_policy".into(), json!(self.inventory_policy));
        a.insert("price".into(), json!(self.price));
        a.insert("url".into(), json!(self.url));
        if let Some(image) = &self.image_full_url {
            a.insert("image_full_url".into(), json!(image));
        }
        if let Some(published) = self.published {
            a.insert("published".into(), json!(published));
        }
        a
    }

    /// Body of `POST /api/catalog-variants`.
    pub(crate) fn create_body(&self) -> Value {
        let mut attributes = self.attributes();
        attributes.insert("external_id".into(), json!(self.external_id));
        attributes.insert("catalog_type".into(), json!("$default"));
        attributes.insert("integration_type".into(), json!("$custom"));
        json!({"data": {
            "type": "catalog-variant",
            "attributes": attributes,
            "relationships": {"item": {"data": {
                "type": "catalog-item",
                "id": catalog_item_id(&self.item_external_id),
            }}},
        }})
    }

    /// Body of `PATCH /api/catalog-variants/{id}`.
    pub(crate) fn update_body(&self) -> Value {
        json!({"data": {
            "type": "catalog-variant",
            "id": self.variant_id(),
            "attributes": self.attributes(),
        }})
    }
}

impl CatalogCategoryUpsert {
    /// Body of `POST /api/catalog-categories`.
    pub(crate) fn create_body(&self) -> Value {
        json!({"data": {
            "type": "catalog-category",
            "attributes": {
                "external_id": self.external_id,
                "name": self.name,
                "catalog_type": "$default",
                "integration_type": "$custom",
            },
        }})
    }

    /// Body of `PATCH /api/catalog-categories/{id}`.
    pub(crate) fn update_body(&self) -> Value {
        json!({"data": {
            "type": "catalog-category",
            "id": self.category_id(),
            "attributes": {"name": self.name},
        }})
    }
}

#[derive(Serialize)]
struct Doc<T> {
    data: T,
}

#[derive(Serialize)]
struct Resource<'a, A> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    attributes: A,
}

#[derive(Serialize)]
struct EventAttributes<'a> {
    properties: &'a Properties,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_id: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    backfill: bool,
    metric: Doc<Resource<'a, MetricAttributes<'a>>>,
    profile: Doc<Resource<'a, &'a Profile>>,
}

fn is_false(flag: &bool) -> bool {
    !*flag
}

/// An event inside a bulk job: the single event's attributes without the profile, which the
/// entry carries once for all its events.
#[derive(Serialize)]
struct BulkEventAttributes<'a> {
    properties: &'a Properties,
    #[serde(skip_serializing_if = "Option::is_none")]
    time: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_currency: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    unique_id: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    backfill: bool,
    metric: Doc<Resource<'a, MetricAttributes<'a>>>,
}

/// One `event-bulk-create` entry: a profile and its events.
#[derive(Serialize)]
struct BulkEntryAttributes<'a> {
    profile: Doc<Resource<'a, &'a Profile>>,
    events: Doc<Vec<Resource<'a, BulkEventAttributes<'a>>>>,
}

#[derive(Serialize)]
struct EventJobAttributes<'a> {
    #[serde(rename = "events-bulk-create")]
    events_bulk_create: Doc<Vec<Resource<'a, BulkEntryAttributes<'a>>>>,
}

#[derive(Serialize)]
struct ProfileJobAttributes<'a> {
    profiles: Doc<Vec<Resource<'a, &'a Profile>>>,
}

#[derive(Serialize)]
struct MetricAttributes<'a> {
    name: &'a str,
}

#[derive(Serialize)]
struct SubscribeAttributes<'a> {
    custom_source: &'a str,
    profiles: Doc<[Resource<'a, SubscribeProfile<'a>>; 1]>,
    historical_import: bool,
}

#[derive(Serialize)]
struct SubscribeProfile<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    phone_number: Option<&'a str>,
    subscriptions: Channels,
}

#[derive(Serialize)]
struct Channels {
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<MarketingChannel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<MarketingChannel>,
}

#[derive(Serialize)]
struct MarketingChannel {
    marketing: Consent,
}

#[derive(Serialize)]
struct Consent {
    consent: &'static str,
}

#[derive(Serialize)]
struct CatalogCreateAttributes<'a> {
    external_id: &'a str,
    integration_type: &'static str,
    catalog_type: &'static str,
    title: &'a str,
    description: &'a str,
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_full_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_metadata: Option<&'a Properties>,
}

#[derive(Serialize)]
struct CatalogUpdateAttributes<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_full_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_metadata: Option<&'a Properties>,
}

fn event_body(event: &EventRequest) -> Value {
    let attributes = EventAttributes {
        properties: &event.properties,
        time: event.time.as_deref(),
        value: event.value,
        value_currency: event.value_currency.as_deref(),
        unique_id: event.unique_id.as_deref(),
        backfill: event.backfill,
        metric: Doc {
            data: Resource {
                kind: "metric",
                id: None,
                attributes: MetricAttributes {
                    name: &event.metric,
                },
            },
        },
        profile: Doc {
            data: Resource {
                kind: "profile",
                id: None,
                attributes: &event.profile,
            },
        },
    };
    to_json(&Doc {
        data: Resource {
            kind: "event",
            id: None,
            attributes,
        },
    })
}

fn metric(name: &str) -> Doc<Resource<'_, MetricAttributes<'_>>> {
    Doc {
        data: Resource {
            kind: "metric",
            id: None,
            attributes: MetricAttributes { name },
        },
    }
}

fn bulk_event(event: &EventRequest) -> Resource<'_, BulkEventAttributes<'_>> {
    Resource {
        kind: "event",
        id: None,
        attributes: BulkEventAttributes {
            properties: &event.properties,
            time: event.time.as_deref(),
            value: event.value,
            value_currency: event.value_currency.as_deref(),
            unique_id: event.unique_id.as_deref(),
            backfill: event.backfill,
            metric: metric(&event.metric),
        },
    }
}

fn profile_resource(profile: &Profile) -> Resource<'_, &Profile> {
    Resource {
        kind: "profile",
        id: None,
        attributes: profile,
    }
}

fn bulk_entry<'a>(
    profile: &'a Profile,
    events: Vec<Resource<'a, BulkEventAttributes<'a>>>,
) -> Resource<'a, BulkEntryAttributes<'a>> {
    Resource {
        kind: "event-bulk-create",
        id: None,
        attributes: BulkEntryAttributes {
            profile: Doc {
                data: profile_resource(profile),
            },
            events: Doc { data: events },
        },
    }
}

fn event_job<'a>(
    entries: Vec<Resource<'a, BulkEntryAttributes<'a>>>,
) -> Doc<Resource<'a, EventJobAttributes<'a>>> {
    Doc {
        data: Resource {
            kind: "event-bulk-create-job",
            id: None,
            attributes: EventJobAttributes {
                events_bulk_create: Doc { data: entries },
            },
        },
    }
}

fn profile_job<'a>(
    profiles: Vec<Resource<'a, &'a Profile>>,
) -> Doc<Resource<'a, ProfileJobAttributes<'a>>> {
    Doc {
        data: Resource {
            kind: "profile-bulk-import-job",
            id: None,
            attributes: ProfileJobAttributes {
                profiles: Doc { data: profiles },
            },
        },
    }
}

/// Exact sizes of the pieces of a bulk body, serialized compactly: a job is its shell plus its
/// entries joined by commas, an entry its shell plus its events joined by commas. Key order
/// does not change a length, so these hold for the `Value` that [`KlaviyoRequest::body`]
/// returns as well.
pub(crate) mod sizes {
    use super::*;

    /// The event job with no entries.
    pub fn event_job_shell() -> usize {
        serialized_len(&event_job(Vec::new()))
    }

    /// An entry for `profile` with no events.
    pub fn entry_shell(profile: &Profile) -> usize {
        serialized_len(&bulk_entry(profile, Vec::new()))
    }

    /// One event inside an entry.
    pub fn event(event: &EventRequest) -> usize {
        serialized_len(&bulk_event(event))
    }

    /// The profile job with no profiles.
    pub fn profile_job_shell() -> usize {
        serialized_len(&profile_job(Vec::new()))
    }

    /// One profile inside a profile job.
    pub fn profile(profile: &Profile) -> usize {
        serialized_len(&profile_resource(profile))
    }
}

/// Bytes `value` takes as compact JSON, counted without building the string.
fn serialized_len<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail, and these plain structs always serialize.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn subscribe_body(sub: &SubscribeRequest) -> Value {
    let subscribed = || MarketingChannel {
        marketing: Consent {
            consent: "SUBSCRIBED",
        },
    };
    let profile = SubscribeProfile {
        email: sub.email.as_deref(),
        phone_number: sub.phone_number.as_deref(),
        subscriptions: Channels {
            email: (sub.email_marketing && sub.email.is_some()).then(subscribed),
            sms: (sub.sms_marketing && sub.phone_number.is_some()).then(subscribed),
        },
    };
    let attributes = SubscribeAttributes {
        custom_source: &sub.custom_source,
        profiles: Doc {
            data: [Resource {
                kind: "profile",
                id: None,
                attributes: profile,
            }],
        },
        historical_import: false,
    };
    to_json(&Doc {
        data: Resource {
            kind: "profile-subscription-bulk-create-job",
            id: None,
            attributes,
        },
    })
}

/// Serializing these plain structs cannot fail (string keys, finite numbers); `Null` is a
/// defensive fallback that would show up in tests rather than panic in production.
fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profile() -> Profile {
        Profile {
            email: Some("a@example.com".into()),
            phone_number: Some("+966501806978".into()),
            external_id: Some("salla:1:customer:2".into()),
            ..Profile::default()
        }
    }

    #[test]
    fn event_body_shape() {
        let mut event = EventRequest::new("Placed Order", profile(), Properties::new());
        event.value = Some(10.5);
        event.unique_id = Some("u".into());
        let body = KlaviyoRequest::CreateEvent(event).body().unwrap();
        assert_eq!(body["data"]["type"], "event");
        assert_eq!(
            body["data"]["attributes"]["metric"]["data"]["attributes"]["name"],
            "Placed Order"
        );
        assert_eq!(
            body["data"]["attributes"]["profile"]["data"]["attributes"]["email"],
            "a@example.com"
        );
        assert_eq!(body["data"]["attributes"]["value"], 10.5);
        assert!(body["data"]["attributes"].get("time").is_none());
        assert_eq!(body["data"]["attributes"]["properties"], json!({}));
    }
}
