//! Shipment events (`shipment.*`, `order.shipment.*`, return shipments included) → shipping
//! metrics with TrackingNumber, TrackingURL and ShippingCompany, for order-status and
//! returns/exchanges flows.
//!
//! Two payload shapes exist: the shipment model (`id`, `order_id`, `courier_name`,
//! `tracking_number`, `ship_to`, …) and the minimal order-scoped one of
//! `order.shipment.cancelled` (`id` = order id, `reference_id`, `shipping_number`).
//! `*.creating` events are hooks for shipping-company apps and are ignored: `*.created` follows.

use super::order;
use super::status::{self, StatusKey};
use crate::MappingError;
use crate::klaviyo::props::PropsExt;
use crate::klaviyo::{EventRequest, KlaviyoRequest, Profile, Properties, metrics, unique_id};
use crate::plan::{Action, Ctx};
use crate::salla::json::{self, Json, JsonValueTrait};
use crate::salla::lenient;
use crate::salla::{date, profile, urls};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Created,
    Cancelled,
    Updated,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Cancelled => "cancelled",
            Change::Updated => "updated",
        }
    }
}

pub(crate) fn created(ctx: &Ctx) -> Result<Action, MappingError> {
    map(ctx, Change::Created, false)
}

pub(crate) fn cancelled(ctx: &Ctx) -> Result<Action, MappingError> {
    map(ctx, Change::Cancelled, false)
}

pub(crate) fn updated(ctx: &Ctx) -> Result<Action, MappingError> {
    map(ctx, Change::Updated, false)
}

pub(crate) fn return_created(ctx: &Ctx) -> Result<Action, MappingError> {
    map(ctx, Change::Created, true)
}

pub(crate) fn return_cancelled(ctx: &Ctx) -> Result<Action, MappingError> {
    map(ctx, Change::Cancelled, true)
}

fn map(ctx: &Ctx, change: Change, forced_return: bool) -> Result<Action, MappingError> {
    let d = ctx.env.data();
    let store = ctx.store();
    let is_return = forced_return || lenient::text(d.get("type")) == Some("return");
    // The shipment model names its order in `order_id`; the minimal order-scoped shape uses `id`.
    let shipment_model = d.get("order_id").is_some();
    let (shipment_id, order_id, order_number) = if shipment_model {
        (
            Some(lenient::id(d.get("id")).ok_or(MappingError::MissingField("data.id"))?),
            lenient::id(d.get("order_id")),
            lenient::id(d.get("order_reference_id")),
        )
    } else {
        (
            None,
            Some(lenient::id(d.get("id")).ok_or(MappingError::MissingField("data.id"))?),
            lenient::id(d.get("reference_id")),
        )
    };
    // The order the intake fetched for a shipment that names no customer (and only the order
    // this shipment belongs to).
    let parsed = ctx
        .enrichment
        .order
        .as_deref()
        .and_then(|o| json::parse(o.as_bytes()).ok());
    let detail = parsed
        .as_ref()
        .filter(|o| o.is_object() && order_id.is_some() && order::detail_id(o) == order_id);

    let shipping_number = lenient::id(d.get("shipping_number"));
    let status = lenient::text(d.get("status"));
    let mut p = Properties::new();
    p.put_str("ShipmentId", shipment_id.as_deref());
    p.put_str("OrderId", order_id.as_deref());
    p.put_str("OrderNumber", order_number.as_deref());
    p.put_str(
        "ShipmentType",
        Some(if is_return { "return" } else { "shipment" }),
    );
    p.put_str("ShipmentStatus", status);
    p.put_str("ShippingCompany", lenient::text(d.get("courier_name")));
    p.put_str(
        "TrackingNumber",
        lenient::id(d.get("tracking_number"))
            .or(shipping_number.clone())
            .as_deref(),
    );
    p.put_str("ShippingNumber", shipping_number.as_deref());
    p.put_str(
        "TrackingURL",
        lenient::text(d.get("tracking_link")).filter(|u| urls::is_http_url(u)),
    );
    let payment = lenient::text(d.get("payment_method"));
    p.put_str("PaymentMethod", payment);
    if payment.is_some() {
        let cod = payment.is_some_and(|m| m.eq_ignore_ascii_case("cod"));
        p.put("IsCashOnDelivery", cod);
        if cod {
            // What the courier collects at the door: the figure a COD confirmation quotes.
            p.put_num("CODAmount", lenient::number(d.get("cash_on_delivery")));
        }
    }

    let metric = match (change, is_return) {
        (Change::Created, false) => metrics::SHIPMENT_CREATED,
        (Change::Created, true) => metrics::RETURN_SHIPMENT_CREATED,
        (Change::Cancelled, false) => metrics::SHIPMENT_CANCELLED,
        (Change::Cancelled, true) => metrics::RETURN_SHIPMENT_CANCELLED,
        (Change::Updated, _) => metrics::SHIPMENT_UPDATED,
    };
    let action = match (change, status) {
        (Change::Updated, Some(s)) => format!("status:{s}"),
        _ => change.as_str().to_owned(),
    };
    let unique = match &shipment_id {
        Some(sid) => unique_id::shipment(store, sid, &action),
        None => unique_id::order_shipment(
            store,
            order_id.as_deref().unwrap_or("-"),
            shipping_number.as_deref().unwrap_or("-"),
            &action,
        ),
    };
    let time = match change {
        Change::Created => date::timestamp(d.get("created_at")).or_else(|| ctx.event_time()),
        _ => ctx.event_time(),
    };

    let milestone = (change == Change::Updated && !is_return)
        .then_some(status)
        .flatten();
    let mut requests = Vec::new();
    let profile = match (detail, milestone) {
        // A courier's "shipped"/"delivering"/"delivered" on an outbound shipment is the order's
        // milestone too, built as the order-status route builds it (same id, items, value).
        (Some(detail), Some(slug)) => {
            let (profile, milestones) = order::shipment_milestones(ctx, detail, slug, &p, &time)?;
            requests.extend(milestones);
            profile
        }
        _ => {
            let Some(profile) = recipient(ctx, d, is_return, detail) else {
                return Ok(Action::Ignore {
                    reason: "shipment event without the order's customer",
                });
            };
            if let (Some(slug), Some(oid)) = (milestone, &order_id) {
                for (metric, key) in status::metrics_for(slug) {
                    if let StatusKey::Milestone(m) = key {
                        requests.push(event(
                            metric,
                            &profile,
                            p.clone(),
                            unique_id::order_milestone(store, oid, m),
                            &time,
                        ));
                    }
                }
            }
            profile
        }
    };
    requests.push(event(metric, &profile, p, unique, &time));
    Ok(Action::Send(requests))
}

fn event(
    metric: &str,
    profile: &Profile,
    p: Properties,
    unique: String,
    time: &Option<String>,
) -> KlaviyoRequest {
    let mut event = EventRequest::new(metric, profile.clone(), p);
    event.unique_id = Some(unique);
    event.time = time.clone();
    KlaviyoRequest::CreateEvent(event)
}

/// The shopper: `customer` when the payload has one, else the customer of the order the intake
/// fetched; for a return, else the sending contact (`ship_from`, the customer sending goods
/// back). An outbound shipment's `ship_to` is never used: it may be a gift recipient, who
/// never asked to hear from the store.
fn recipient(ctx: &Ctx, d: &Json, is_return: bool, detail: Option<&Json>) -> Option<Profile> {
    let store = ctx.store();
    let customers = d
        .get("customer")
        .into_iter()
        .chain(detail.and_then(|o| o.get("customer")))
        .filter(|c| c.is_object());
    for customer in customers {
        let p = profile::from_customer(store, customer);
        if p.has_identifier() {
            return Some(p);
        }
    }
    if !is_return {
        return None;
    }
    let p = profile::from_contact(store, d.get("ship_from")?);
    p.has_identifier().then_some(p)
}
