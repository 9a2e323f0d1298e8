//! Cart events: `abandoned.cart` → Started Checkout, `coupon.applied` → Applied Coupon.
//!
//! Salla's cart items carry only `product_id` and `quantity`; names, prices, images and URLs
//! come from [`crate::Enrichment`] when the intake could fetch them.

use crate::MappingError;
use crate::klaviyo::props::PropsExt;
use crate::klaviyo::{EventRequest, KlaviyoRequest, Profile, Properties, metrics, unique_id};
use crate::plan::{Action, Ctx};
use crate::salla::json::{Json, JsonValueTrait};
use crate::salla::lenient::{self, get};
use crate::salla::{date, items, profile, urls};

/// The cart's customer; a cart nobody can be identified for cannot become an event.
fn cart_profile(ctx: &Ctx, cart: &Json, field: &'static str) -> Result<Profile, MappingError> {
    let customer = cart
        .get("customer")
        .filter(|c| c.is_object())
        .ok_or(MappingError::MissingField(field))?;
    let profile = profile::from_customer(ctx.store(), customer);
    if profile.has_identifier() {
        Ok(profile)
    } else {
        Err(MappingError::MissingField(field))
    }
}

/// `data.urls.checkout` replaced `data.checkout_url` in 2025; both are read.
fn checkout_url(cart: &Json) -> Option<&str> {
    lenient::text(get(cart, &["urls", "checkout"]))
        .or_else(|| lenient::text(cart.get("checkout_url")))
        .filter(|u| urls::is_http_url(u))
}

/// `abandoned.cart` → Started Checkout, the trigger of Klaviyo's abandoned-cart flows.
pub(crate) fn abandoned(ctx: &Ctx) -> Result<Action, MappingError> {
    let cart = ctx.env.data();
    let cart_id = lenient::id(cart.get("id")).ok_or(MappingError::MissingField("data.id"))?;
    let profile = cart_profile(ctx, cart, "data.customer")?;
    let total = lenient::money(cart.get("total"));
    let lines = items::lines(cart.get("items"), ctx.store(), ctx.enrichment);
    let summary = items::summarize(&lines);

    let mut p = Properties::new();
    p.put_str("CartId", Some(&cart_id));
    p.put_str("CheckoutURL", checkout_url(cart));
    p.put_num("SubTotal", lenient::number(cart.get("subtotal")));
    p.put_num("DiscountValue", lenient::number(cart.get("total_discount")));
    p.put_str(
        "DiscountCode",
        lenient::text(get(cart, &["coupon", "code"])),
    );
    if let Some(age) = lenient::int(cart.get("age_in_minutes")) {
        p.put("AgeInMinutes", age);
    }
    if !summary.items.is_empty() {
        p.put("Items", summary.items);
        p.put("ItemCount", summary.item_count);
    }
    p.put_list("ItemNames", &summary.item_names);
    p.put_list("Categories", &summary.categories);
    p.put_list("Brands", &summary.brands);

    // A cart Salla reports again after a change is a new checkout for the flow; the payload's
    // own `updated_at` (not a clock) tells the versions apart and keeps retries identical.
    let updated = date::timestamp(cart.get("updated_at"));
    let cart_time = updated
        .clone()
        .or_else(|| date::timestamp(cart.get("created_at")));
    p.put_str("CartUpdatedAt", cart_time.as_deref());
    let time = checkout_time(cart_time, ctx.event_time());
    let mut event = EventRequest::new(metrics::STARTED_CHECKOUT, profile, p);
    event.value = total.as_ref().map(|t| t.amount);
    event.value_currency = total
        .and_then(|t| t.currency)
        .or_else(|| lenient::currency_code(cart.get("currency")));
    event.unique_id = Some(unique_id::cart(ctx.store(), &cart_id, updated.as_deref()));
    event.time = time;
    Ok(Action::Send(vec![KlaviyoRequest::CreateEvent(event)]))
}

/// How far before its delivery a cart's own time may lie and still be the event's time.
/// Klaviyo schedules a metric-triggered flow only when the event syncs within a window of its
/// timestamp (help article 360017706091); an hour stays inside any abandoned-cart delay.
const CART_TIME_WINDOW_SECS: i64 = 3600;

/// Started Checkout's `time`: the cart's own time when it is at most
/// [`CART_TIME_WINDOW_SECS`] before the delivery (and not after it), else the delivery's time,
/// so a cart Salla reports days after its last change still enters the abandoned-cart flow.
fn checkout_time(cart: Option<String>, delivered: Option<String>) -> Option<String> {
    let (Some(cart), Some(delivered)) = (cart.clone(), delivered.clone()) else {
        return cart.or(delivered);
    };
    match (date::unix_str(&cart), date::unix_str(&delivered)) {
        (Some(c), Some(d)) if (0..=CART_TIME_WINDOW_SECS).contains(&(d - c)) => Some(cart),
        _ => Some(delivered),
    }
}

/// `coupon.applied` (`data.cart` holds the cart and its `coupon`) → Applied Coupon.
pub(crate) fn coupon_applied(ctx: &Ctx) -> Result<Action, MappingError> {
    let data = ctx.env.data();
    let (cart, prefix_cart) = match data.get("cart").filter(|c| c.is_object()) {
        Some(c) => (c, true),
        None => (data, false),
    };
    let field = |nested: &'static str, flat: &'static str| if prefix_cart { nested } else { flat };
    let cart_id = lenient::id(cart.get("id"))
        .ok_or(MappingError::MissingField(field("data.cart.id", "data.id")))?;
    let coupon = cart.get("coupon");
    let code =
        coupon
            .and_then(|c| lenient::text(c.get("code")))
            .ok_or(MappingError::MissingField(field(
                "data.cart.coupon.code",
                "data.coupon.code",
            )))?;
    let profile = cart_profile(ctx, cart, field("data.cart.customer", "data.customer"))?;

    let mut p = Properties::new();
    p.put_str("CouponCode", Some(code));
    p.put_str(
        "CouponType",
        coupon.and_then(|c| lenient::text(c.get("type"))),
    );
    p.put_num(
        "CouponAmount",
        coupon.and_then(|c| lenient::number(c.get("amount"))),
    );
    p.put_num("DiscountValue", lenient::number(cart.get("total_discount")));
    p.put_num("CartTotal", lenient::number(cart.get("total")));
    p.put_str("CartId", Some(&cart_id));
    p.put_str("CheckoutURL", checkout_url(cart));
    p.put_str("Source", Some("cart"));
    let mut event = EventRequest::new(metrics::APPLIED_COUPON, profile, p);
    event.unique_id = Some(unique_id::cart_coupon(ctx.store(), &cart_id, code));
    event.time = date::timestamp(cart.get("updated_at")).or_else(|| ctx.event_time());
    Ok(Action::Send(vec![KlaviyoRequest::CreateEvent(event)]))
}
