//! Klaviyo's JSON:API bodies. The domain structs of [`super::request`] are wrapped in
//! Klaviyo's envelope through small borrowed wire structs, so every body is built in one place
//! and a retry serializes byte-identically (maps are sorted: `BTreeMap` or [`Properties`],
//! never `HashMap`).

use super::properties::Properties;
use super::request::{CatalogUpsert, EventRequest, KlaviyoRequest, Profile, SubscribeRequest};
use serde::Serialize;
use serde_json::Value;

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
        to_json(&Doc {
            data: Resource {
                kind: "catalog-item",
                id: None,
                attributes,
            },
        })
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
        to_json(&Doc {
            data: Resource {
                kind: "catalog-item",
                id: Some(&id),
                attributes,
            },
        })
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
