//! Typed Klaviyo requests (revision 2026-07-15) and their exact JSON:API bodies.
//!
//! The domain structs below are what the mapping produces; `body()` wraps them in Klaviyo's
//! JSON:API envelope through small borrowed wire structs, so every body is built in one place
//! and a retry serializes byte-identically (maps are sorted: `BTreeMap` or [`Properties`],
//! never `HashMap`).

use crate::limits;
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;

pub use crate::properties::Properties;

/// A Klaviyo profile as sent inside an event or a profile import.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Profile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// E.164 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// `salla:{store}:customer:{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// BCP 47.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(skip_serializing_if = "Properties::is_empty")]
    pub properties: Properties,
}

impl Profile {
    /// Klaviyo needs at least one of email, phone number or external id.
    pub fn has_identifier(&self) -> bool {
        self.email.is_some() || self.phone_number.is_some() || self.external_id.is_some()
    }
}

/// `profile.attributes.location`.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self.city.is_none() && self.region.is_none() && self.country.is_none() && self.zip.is_none()
    }
}

/// `POST /api/events`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventRequest {
    /// Metric name, e.g. "Placed Order". Stable forever: renaming breaks merchants' flows.
    pub metric: String,
    /// Shared: an order's Placed Order and Ordered Product events carry the same profile.
    pub profile: Arc<Profile>,
    pub properties: Properties,
    /// RFC 3339 from the payload; `None` lets Klaviyo use the receive time (we have no clock).
    pub time: Option<String>,
    pub value: Option<f64>,
    pub value_currency: Option<String>,
    /// Deterministic; Klaviyo keeps the first event per (profile, metric, unique_id).
    pub unique_id: Option<String>,
}

impl EventRequest {
    /// An event with Klaviyo's payload limits applied to `properties`.
    pub(crate) fn new(
        metric: &str,
        profile: impl Into<Arc<Profile>>,
        mut properties: Properties,
    ) -> Self {
        limits::clamp_properties(&mut properties);
        EventRequest {
            metric: metric.to_owned(),
            profile: profile.into(),
            properties,
            time: None,
            value: None,
            value_currency: None,
            unique_id: None,
        }
    }
}

/// `POST /api/profile-import` (create or update).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileImport {
    pub profile: Profile,
}

/// `POST /api/profile-subscription-bulk-create-jobs`: marketing consent, sent only when the
/// Salla payload carries an explicit opt-in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubscribeRequest {
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub email_marketing: bool,
    pub sms_marketing: bool,
    /// Shown in Klaviyo as the consent source.
    pub custom_source: String,
}

/// Catalog item create-or-update. When the payload has everything Klaviyo requires for a
/// create (title, url) the primary request is `POST /api/catalog-items` with `PATCH` on 409;
/// otherwise (e.g. `product.price.updated`, which carries only id and prices) it is a `PATCH`
/// of just the fields the event carries.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogUpsert {
    /// `salla:{store}:product:{id}`; the Klaviyo item id is `$custom:::$default:::{external_id}`.
    pub external_id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub url: Option<String>,
    pub price: Option<f64>,
    pub image_full_url: Option<String>,
    pub published: Option<bool>,
    /// Only when the payload is a full product: a PATCH replaces the whole object.
    pub custom_metadata: Option<Properties>,
}

impl CatalogUpsert {
    /// Klaviyo's item id for this product.
    pub fn item_id(&self) -> String {
        catalog_item_id(&self.external_id)
    }

    /// Whether a create is possible (Klaviyo requires title, description and url).
    pub fn can_create(&self) -> bool {
        self.title.is_some() && self.url.is_some()
    }

    fn create_body(&self) -> Value {
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

    fn update_body(&self) -> Value {
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

/// `$custom:::$default:::{external_id}`.
pub fn catalog_item_id(external_id: &str) -> String {
    format!("$custom:::$default:::{external_id}")
}

/// One request to send to Klaviyo.
#[derive(Debug, Clone, PartialEq)]
pub enum KlaviyoRequest {
    /// `POST /api/events`.
    CreateEvent(EventRequest),
    /// `POST /api/profile-import`.
    ImportProfile(ProfileImport),
    /// `POST /api/profile-subscription-bulk-create-jobs` (explicit opt-in only).
    Subscribe(SubscribeRequest),
    /// `POST /api/catalog-items`, on 409 `PATCH /api/catalog-items/{id}`; or a plain PATCH.
    UpsertCatalogItem(CatalogUpsert),
    /// `DELETE /api/catalog-items/{id}`; `item_id` is `$custom:::$default:::{external_id}`.
    DeleteCatalogItem { item_id: String },
}

impl KlaviyoRequest {
    /// HTTP method of the primary request.
    pub fn method(&self) -> &'static str {
        match self {
            KlaviyoRequest::CreateEvent(_)
            | KlaviyoRequest::ImportProfile(_)
            | KlaviyoRequest::Subscribe(_) => "POST",
            KlaviyoRequest::UpsertCatalogItem(item) if item.can_create() => "POST",
            KlaviyoRequest::UpsertCatalogItem(_) => "PATCH",
            KlaviyoRequest::DeleteCatalogItem { .. } => "DELETE",
        }
    }

    /// Path of the primary request (item ids percent-encoded).
    pub fn path(&self) -> String {
        match self {
            KlaviyoRequest::CreateEvent(_) => "/api/events".to_owned(),
            KlaviyoRequest::ImportProfile(_) => "/api/profile-import".to_owned(),
            KlaviyoRequest::Subscribe(_) => "/api/profile-subscription-bulk-create-jobs".to_owned(),
            KlaviyoRequest::UpsertCatalogItem(item) if item.can_create() => {
                "/api/catalog-items".to_owned()
            }
            KlaviyoRequest::UpsertCatalogItem(item) => item_path(&item.item_id()),
            KlaviyoRequest::DeleteCatalogItem { item_id } => item_path(item_id),
        }
    }

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

    /// The request to send instead when the primary gets `status`: a catalog create that
    /// answers 409 (item exists) becomes a PATCH of the same item.
    pub fn fallback(&self, status: u16) -> Option<(&'static str, String, Value)> {
        match self {
            KlaviyoRequest::UpsertCatalogItem(item) if status == 409 && item.can_create() => {
                Some(("PATCH", item_path(&item.item_id()), item.update_body()))
            }
            _ => None,
        }
    }

    /// The same request without `phone_number` (for Klaviyo's 409 duplicate_profile or 400
    /// invalid phone); `None` when there is no phone or nothing would identify the profile.
    pub fn without_phone(&self) -> Option<KlaviyoRequest> {
        match self {
            KlaviyoRequest::CreateEvent(event) => {
                let profile = profile_without_phone(&event.profile)?;
                Some(KlaviyoRequest::CreateEvent(EventRequest {
                    profile: Arc::new(profile),
                    ..event.clone()
                }))
            }
            KlaviyoRequest::ImportProfile(import) => {
                let profile = profile_without_phone(&import.profile)?;
                Some(KlaviyoRequest::ImportProfile(ProfileImport { profile }))
            }
            KlaviyoRequest::Subscribe(sub) => {
                sub.phone_number.as_ref()?;
                // SMS consent needs the phone; what is left is the email consent.
                (sub.email.is_some() && sub.email_marketing).then(|| {
                    KlaviyoRequest::Subscribe(SubscribeRequest {
                        phone_number: None,
                        sms_marketing: false,
                        ..sub.clone()
                    })
                })
            }
            KlaviyoRequest::UpsertCatalogItem(_) | KlaviyoRequest::DeleteCatalogItem { .. } => None,
        }
    }

    /// For logs, never PII: the metric name or the request kind.
    pub fn label(&self) -> String {
        match self {
            KlaviyoRequest::CreateEvent(event) => event.metric.clone(),
            KlaviyoRequest::ImportProfile(_) => "profile-import".to_owned(),
            KlaviyoRequest::Subscribe(_) => "subscribe".to_owned(),
            KlaviyoRequest::UpsertCatalogItem(_) => "catalog-upsert".to_owned(),
            KlaviyoRequest::DeleteCatalogItem { .. } => "catalog-delete".to_owned(),
        }
    }

    /// The event's deterministic unique id, if this is an event.
    pub fn unique_id(&self) -> Option<&str> {
        match self {
            KlaviyoRequest::CreateEvent(event) => event.unique_id.as_deref(),
            _ => None,
        }
    }
}

fn profile_without_phone(profile: &Profile) -> Option<Profile> {
    profile.phone_number.as_ref()?;
    let stripped = Profile {
        phone_number: None,
        ..profile.clone()
    };
    stripped.has_identifier().then_some(stripped)
}

fn item_path(item_id: &str) -> String {
    format!("/api/catalog-items/{}", percent_encode_segment(item_id))
}

/// Percent-encodes a path segment. `$` and `:` stay literal: they are legal in a segment
/// (RFC 3986 pchar) and are how Klaviyo writes catalog item ids in its own docs.
pub fn percent_encode_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'$' | b':') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---- JSON:API wire shapes ------------------------------------------------------------------

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
    metric: Doc<Resource<'a, MetricAttributes<'a>>>,
    profile: Doc<Resource<'a, &'a Profile>>,
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

    #[test]
    fn without_phone_keeps_other_identifiers() {
        let event = EventRequest::new("X", profile(), Properties::new());
        let stripped = KlaviyoRequest::CreateEvent(event).without_phone().unwrap();
        let KlaviyoRequest::CreateEvent(e) = &stripped else {
            panic!("not an event")
        };
        assert_eq!(e.profile.phone_number, None);
        assert_eq!(e.profile.email.as_deref(), Some("a@example.com"));
        // Nothing to strip the second time.
        assert_eq!(stripped.without_phone(), None);
    }

    #[test]
    fn without_phone_refuses_to_leave_no_identifier() {
        let phone_only = Profile {
            phone_number: Some("+966501806978".into()),
            ..Profile::default()
        };
        let import = KlaviyoRequest::ImportProfile(ProfileImport {
            profile: phone_only,
        });
        assert_eq!(import.without_phone(), None);
        let sub = KlaviyoRequest::Subscribe(SubscribeRequest {
            email: None,
            phone_number: Some("+966501806978".into()),
            email_marketing: false,
            sms_marketing: true,
            custom_source: "Salla".into(),
        });
        assert_eq!(sub.without_phone(), None);
    }

    #[test]
    fn catalog_create_then_patch_on_conflict() {
        let item = CatalogUpsert {
            external_id: "salla:1:product:9".into(),
            title: Some("T".into()),
            description: None,
            url: Some("https://x/p9".into()),
            price: Some(5.0),
            image_full_url: None,
            published: Some(true),
            custom_metadata: None,
        };
        let req = KlaviyoRequest::UpsertCatalogItem(item);
        assert_eq!(
            (req.method(), req.path().as_str()),
            ("POST", "/api/catalog-items")
        );
        assert_eq!(
            req.body().unwrap()["data"]["attributes"]["description"],
            "T"
        );
        assert_eq!(req.fallback(404), None);
        let (method, path, body) = req.fallback(409).unwrap();
        assert_eq!(method, "PATCH");
        assert_eq!(
            path,
            "/api/catalog-items/$custom:::$default:::salla:1:product:9"
        );
        assert_eq!(body["data"]["id"], "$custom:::$default:::salla:1:product:9");
        assert!(body["data"]["attributes"].get("external_id").is_none());
    }

    #[test]
    fn partial_catalog_update_is_a_patch() {
        let item = CatalogUpsert {
            external_id: "salla:1:product:9".into(),
            title: None,
            description: None,
            url: None,
            price: Some(5.0),
            image_full_url: None,
            published: None,
            custom_metadata: None,
        };
        let req = KlaviyoRequest::UpsertCatalogItem(item);
        assert_eq!(req.method(), "PATCH");
        assert_eq!(
            req.body().unwrap()["data"]["attributes"],
            json!({"price": 5.0})
        );
        assert_eq!(req.fallback(409), None);
    }

    #[test]
    fn item_ids_are_percent_encoded() {
        assert_eq!(
            percent_encode_segment("$custom:::$default:::a b/c?é"),
            "$custom:::$default:::a%20b%2Fc%3F%C3%A9"
        );
        let req = KlaviyoRequest::DeleteCatalogItem {
            item_id: "$custom:::$default:::x/y".into(),
        };
        assert_eq!(req.path(), "/api/catalog-items/$custom:::$default:::x%2Fy");
        assert_eq!(req.body(), None);
        assert_eq!(req.method(), "DELETE");
    }
}
