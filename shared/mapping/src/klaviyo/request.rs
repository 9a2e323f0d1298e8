//! Typed Klaviyo requests (revision 2026-07-15): what the mapping produces. Where each goes is
//! in [`super::route`], its exact JSON:API body in [`super::wire`].

use super::limits;
use super::properties::Properties;
use serde::Serialize;
use std::fmt;
use std::sync::Arc;

/// A Klaviyo profile as sent inside an event or a profile import. Its `Debug` names which
/// fields are present, never their values.
#[derive(Clone, PartialEq, Default, Serialize)]
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

/// `profile.attributes.location`. Its `Debug` names which fields are present, never their
/// values.
#[derive(Clone, PartialEq, Default, Serialize)]
pub struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    /// IANA zone name (Klaviyo: "We recommend using time zones from the IANA Time Zone
    /// Database").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
}

impl Location {
    pub fn is_empty(&self) -> bool {
        self.city.is_none()
            && self.region.is_none()
            && self.country.is_none()
            && self.zip.is_none()
            && self.timezone.is_none()
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
    /// Klaviyo's `backfill`: the event is recorded but triggers no flow (historical events).
    /// Sent only when true, so live bodies stay as they are.
    pub backfill: bool,
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
            backfill: false,
        }
    }
}

/// `POST /api/event-bulk-create-jobs`: events grouped per profile, built by
/// [`pack_events`](super::bulk::pack_events) within Klaviyo's job limits and never holding two
/// events Klaviyo would count as duplicates (that fails the whole job).
#[derive(Debug, Clone, PartialEq)]
pub struct EventBulkJob {
    /// One entry per profile; every event of an entry has an equal profile.
    pub(crate) entries: Vec<Vec<EventRequest>>,
    /// The body's exact size in bytes, serialized compactly.
    pub(crate) bytes: usize,
}

impl EventBulkJob {
    /// How many events the job holds.
    pub fn len(&self) -> usize {
        self.entries.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The size of the compact JSON body in bytes.
    pub fn body_len(&self) -> usize {
        self.bytes
    }

    pub fn events(&self) -> impl Iterator<Item = &EventRequest> {
        self.entries.iter().flatten()
    }

    /// The events one by one, e.g. to send them singly when Klaviyo refuses the job.
    pub fn into_events(self) -> Vec<EventRequest> {
        self.entries.into_iter().flatten().collect()
    }
}

/// `POST /api/profile-bulk-import-jobs`: profiles built by
/// [`pack_profiles`](super::bulk::pack_profiles) within Klaviyo's job limits, no two sharing an
/// identifier.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileBulkJob {
    pub(crate) profiles: Vec<Profile>,
    pub(crate) bytes: usize,
}

impl ProfileBulkJob {
    pub fn len(&self) -> usize {
        self.profiles.len()
    }

    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The size of the compact JSON body in bytes.
    pub fn body_len(&self) -> usize {
        self.bytes
    }

    pub fn profiles(&self) -> &[Profile] {
        &self.profiles
    }

    /// The profiles one by one, e.g. to import them singly when Klaviyo refuses the job.
    pub fn into_profiles(self) -> Vec<Profile> {
        self.profiles
    }
}

/// `POST /api/profile-import` (create or update).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProfileImport {
    pub profile: Profile,
}

/// `POST /api/profile-subscription-bulk-create-jobs`: marketing consent, sent only when the
/// Salla payload carries an explicit opt-in. Its `Debug` hides the email and the phone.
#[derive(Clone, PartialEq, Serialize)]
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
    /// External ids of the item's catalog categories (sent as `relationships.categories`);
    /// `None` leaves them as they are, so a partial update never clears them.
    pub categories: Option<Vec<String>>,
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
}

/// A catalog variant (a Salla SKU: one combination of a product's options), created with
/// `POST /api/catalog-variants` and, when it exists (409), updated with
/// `PATCH /api/catalog-variants/{id}`. Klaviyo's back-in-stock subscriptions point at
/// variants, and its feeds filter on their price and stock. Every field Klaviyo requires on a
/// create is filled, so a variant is only built from a full product payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogVariantUpsert {
    /// `salla:{store}:product:{product}:sku:{sku}`.
    pub external_id: String,
    /// The parent item's `external_id`.
    pub item_external_id: String,
    pub title: String,
    pub description: String,
    pub sku: String,
    pub inventory_quantity: i64,
    /// Klaviyo's `inventory_policy`: 1 hides an out-of-stock variant from recommendation
    /// feeds and blocks, 2 shows it whatever the stock (unlimited quantity).
    pub inventory_policy: u8,
    pub price: f64,
    pub url: String,
    pub image_full_url: Option<String>,
    pub published: Option<bool>,
}

impl CatalogVariantUpsert {
    /// Klaviyo's variant id.
    pub fn variant_id(&self) -> String {
        catalog_item_id(&self.external_id)
    }
}

/// A catalog category (a Salla category), created with `POST /api/catalog-categories` and
/// renamed with `PATCH /api/catalog-categories/{id}` when it exists (409).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CatalogCategoryUpsert {
    /// `salla:{store}:category:{category}`.
    pub external_id: String,
    pub name: String,
}

impl CatalogCategoryUpsert {
    /// Klaviyo's category id.
    pub fn category_id(&self) -> String {
        catalog_item_id(&self.external_id)
    }
}

/// Shows whether an optional personal field is present, never its value.
struct Present<'a, T>(&'a Option<T>);

impl<T> fmt::Debug for Present<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_some() {
            "Some(<redacted>)"
        } else {
            "None"
        })
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Profile")
            .field("email", &Present(&self.email))
            .field("phone_number", &Present(&self.phone_number))
            .field("external_id", &Present(&self.external_id))
            .field("first_name", &Present(&self.first_name))
            .field("last_name", &Present(&self.last_name))
            .field("locale", &self.locale)
            .field("location", &self.location)
            .field("properties", &self.properties)
            .finish()
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Location")
            .field("city", &Present(&self.city))
            .field("region", &Present(&self.region))
            .field("country", &self.country)
            .field("zip", &Present(&self.zip))
            .field("timezone", &self.timezone)
            .finish()
    }
}

impl fmt::Debug for SubscribeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SubscribeRequest")
            .field("email", &Present(&self.email))
            .field("phone_number", &Present(&self.phone_number))
            .field("email_marketing", &self.email_marketing)
            .field("sms_marketing", &self.sms_marketing)
            .field("custom_source", &self.custom_source)
            .finish()
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
    /// `POST /api/catalog-variants`, on 409 `PATCH /api/catalog-variants/{id}`.
    UpsertCatalogVariant(CatalogVariantUpsert),
    /// `POST /api/catalog-categories`, on 409 `PATCH /api/catalog-categories/{id}`.
    UpsertCatalogCategory(CatalogCategoryUpsert),
    /// `POST /api/event-bulk-create-jobs`.
    BulkCreateEvents(EventBulkJob),
    /// `POST /api/profile-bulk-import-jobs`.
    BulkImportProfiles(ProfileBulkJob),
}

impl KlaviyoRequest {
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
            // A job whose profiles need changing is re-packed from its events or profiles.
            KlaviyoRequest::UpsertCatalogItem(_)
            | KlaviyoRequest::DeleteCatalogItem { .. }
            | KlaviyoRequest::UpsertCatalogVariant(_)
            | KlaviyoRequest::UpsertCatalogCategory(_)
            | KlaviyoRequest::BulkCreateEvents(_)
            | KlaviyoRequest::BulkImportProfiles(_) => None,
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
            KlaviyoRequest::UpsertCatalogVariant(_) => "catalog-variant-upsert".to_owned(),
            KlaviyoRequest::UpsertCatalogCategory(_) => "catalog-category-upsert".to_owned(),
            KlaviyoRequest::BulkCreateEvents(_) => "event-bulk-create-job".to_owned(),
            KlaviyoRequest::BulkImportProfiles(_) => "profile-bulk-import-job".to_owned(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn profile() -> Profile {
        Profile {
            email: Some("a@example.com".into()),
            phone_number: Some("+966501806978".into()),
            external_id: Some("salla:1:customer:2".into()),
            ..Profile::default()
        }
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
}
