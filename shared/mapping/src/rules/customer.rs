//! Customer events and reviews: profile import, Created Account, Logged In, Submitted Review,
//! and marketing consent only on an explicit opt-in.

use crate::MappingError;
use crate::klaviyo::props::PropsExt;
use crate::klaviyo::{
    EventRequest, KlaviyoRequest, Profile, ProfileImport, Properties, SubscribeRequest, metrics,
    unique_id,
};
use crate::plan::{Action, Ctx};
use crate::salla::json::{Json, JsonContainerTrait, JsonValueTrait};
use crate::salla::lenient::{self, get};
use crate::salla::{items, profile, urls};

/// Payload flags that count as an explicit email-marketing opt-in. Salla's documented customer
/// model has none today (`is_notifications_enabled` is about order notifications, not
/// marketing), so consent is never sent for the documented payloads and never inferred.
pub const EMAIL_OPT_IN_FLAGS: &[&str] = &[
    "accepts_marketing",
    "email_marketing_consent",
    "newsletter_subscribed",
];
/// Payload flags that count as an explicit SMS-marketing opt-in.
pub const SMS_OPT_IN_FLAGS: &[&str] = &["accepts_sms_marketing", "sms_marketing_consent"];

/// Shown in Klaviyo as the source of the consent.
const CONSENT_SOURCE: &str = "Salla";

/// The customer object of `customer.*` events is `data` itself.
fn customer_profile(ctx: &Ctx) -> Result<(Profile, String), MappingError> {
    let data = ctx.env.data();
    let id = lenient::id(data.get("id")).ok_or(MappingError::MissingField("data.id"))?;
    let mut profile = profile::from_customer(ctx.store(), data);
    // Salla customer groups are how merchants run VIP / loyalty tiers; an empty list clears.
    if let Some(groups) = data.get("groups").filter(|g| g.is_array()) {
        let names: Vec<String> = groups
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|g| items::name_of(Some(g)).or_else(|| lenient::id(Some(g))))
            .collect();
        profile.properties.put("salla_customer_groups", names);
    }
    Ok((profile, id))
}

/// A Subscribe request when, and only when, the payload explicitly opts in.
pub(crate) fn consent(data: &Json, profile: &Profile) -> Option<KlaviyoRequest> {
    let opted = |flags: &[&str]| {
        flags
            .iter()
            .any(|f| lenient::flag(data.get(*f)) == Some(true))
    };
    let email_marketing = opted(EMAIL_OPT_IN_FLAGS) && profile.email.is_some();
    let sms_marketing = opted(SMS_OPT_IN_FLAGS) && profile.phone_number.is_some();
    (email_marketing || sms_marketing).then(|| {
        KlaviyoRequest::Subscribe(SubscribeRequest {
            email: profile.email.clone().filter(|_| email_marketing),
            phone_number: profile.phone_number.clone().filter(|_| sms_marketing),
            email_marketing,
            sms_marketing,
            custom_source: CONSENT_SOURCE.to_owned(),
        })
    })
}

/// `customer.created` → profile import + Created Account (welcome flows) [+ consent].
pub(crate) fn created(ctx: &Ctx) -> Result<Action, MappingError> {
    let (profile, id) = customer_profile(ctx)?;
    let mut requests = vec![KlaviyoRequest::ImportProfile(ProfileImport {
        profile: profile.clone(),
    })];
    let mut event = EventRequest::new(metrics::CREATED_ACCOUNT, profile.clone(), Properties::new());
    event.unique_id = Some(unique_id::customer_event(ctx.store(), &id, "created"));
    event.time = ctx.event_time();
    requests.push(KlaviyoRequest::CreateEvent(event));
    requests.extend(consent(ctx.env.data(), &profile));
    Ok(Action::Send(requests))
}

/// `customer.updated` → profile import [+ consent].
pub(crate) fn updated(ctx: &Ctx) -> Result<Action, MappingError> {
    let (profile, _) = customer_profile(ctx)?;
    let subscribe = consent(ctx.env.data(), &profile);
    let mut requests = vec![KlaviyoRequest::ImportProfile(ProfileImport { profile })];
    requests.extend(subscribe);
    Ok(Action::Send(requests))
}

/// `customer.login` → Logged In, the activity signal win-back flows key on.
pub(crate) fn login(ctx: &Ctx) -> Result<Action, MappingError> {
    let (profile, id) = customer_profile(ctx)?;
    let time = ctx.event_time();
    let mut p = Properties::new();
    p.put_str(
        "Device",
        lenient::text(get(ctx.env.data(), &["source", "device"])),
    );
    let mut event = EventRequest::new(metrics::LOGGED_IN, profile, p);
    // Each login is its own event; the delivery's timestamp tells them apart. Without one,
    // Klaviyo's default (one event per profile per second) applies.
    event.unique_id = time
        .as_deref()
        .map(|t| unique_id::customer_event(ctx.store(), &id, &format!("login:{t}")));
    event.time = time;
    Ok(Action::Send(vec![KlaviyoRequest::CreateEvent(event)]))
}

/// `review.added` → Submitted Review (product or store rating).
pub(crate) fn review(ctx: &Ctx) -> Result<Action, MappingError> {
    let data = ctx.env.data();
    let customer = data
        .get("customer")
        .filter(|c| c.is_object())
        .ok_or(MappingError::MissingField("data.customer"))?;
    let profile = profile::from_customer(ctx.store(), customer);
    if !profile.has_identifier() {
        return Err(MappingError::MissingField("data.customer"));
    }
    let product = data.get("product");
    let product_id = product.and_then(|p| lenient::id(p.get("id")));
    let order_id = lenient::id(get(data, &["order", "id"]));
    let customer_id = lenient::id(customer.get("id"));
    let kind = lenient::text(data.get("type"));

    let mut p = Properties::new();
    p.put_num("Rating", lenient::number(data.get("rating")));
    p.put_str("ReviewType", kind);
    p.put_str("ReviewContent", lenient::text(data.get("content")));
    // The catalog's id, so a review joins the product it rates.
    p.put_str(
        "ProductID",
        product_id
            .as_deref()
            .map(|id| unique_id::product_id(ctx.store(), id))
            .as_deref(),
    );
    p.put_str("SallaProductID", product_id.as_deref());
    // Salla's example flattens the product's fields into `data` beside `product`.
    let product_field = |key: &str| {
        product
            .and_then(|p| lenient::text(p.get(key)))
            .or_else(|| lenient::text(data.get(key)))
    };
    p.put_str("ProductName", product_field("name"));
    p.put_str(
        "ProductURL",
        product_field("url").filter(|u| urls::is_http_url(u)),
    );
    p.put_str("OrderId", order_id.as_deref());
    p.put_str(
        "OrderNumber",
        lenient::id(get(data, &["order", "reference_id"])).as_deref(),
    );

    // Salla's payload has no review id: product, order, customer and kind identify it.
    let parts: Vec<&str> = [&product_id, &order_id, &customer_id]
        .iter()
        .map(|p| p.as_deref().unwrap_or("-"))
        .chain(kind)
        .collect();
    let mut event = EventRequest::new(metrics::SUBMITTED_REVIEW, profile, p);
    event.unique_id = Some(unique_id::review(ctx.store(), &parts));
    event.time = ctx.event_time();
    Ok(Action::Send(vec![KlaviyoRequest::CreateEvent(event)]))
}
