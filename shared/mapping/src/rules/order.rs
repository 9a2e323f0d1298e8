//! Order events: Placed Order + Ordered Product, status-driven metrics (which metric a status
//! fires is in [`super::status`]), order coupons.

use super::status::{self, StatusKey};
use crate::MappingError;
use crate::klaviyo::props::{PropsBuilder, PropsExt};
use crate::klaviyo::{EventRequest, KlaviyoRequest, Profile, Properties, metrics, unique_id};
use crate::plan::{Action, Ctx};
use crate::salla::items::{self, Line};
use crate::salla::json::{Json, JsonContainerTrait, JsonValueTrait};
use crate::salla::lenient::{self, Fields, Money, get};
use crate::salla::{date, profile, urls};
use serde_json::{Map, Value};
use std::sync::Arc;

/// An order payload (Salla's shared order model) with what every order metric needs.
pub(crate) struct Order<'a> {
    data: Fields<'a>,
    id: String,
    /// `reference_id`, the number the shopper sees.
    number: Option<String>,
    lines: Vec<Line>,
    total: Option<Money>,
    currency: Option<String>,
}

impl<'a> Order<'a> {
    pub(crate) fn new(
        ctx: &Ctx,
        data: &'a Json,
        id_field: &'static str,
    ) -> Result<Self, MappingError> {
        let data = Fields::of(data);
        let id = lenient::id(data.get("id")).ok_or(MappingError::MissingField(id_field))?;
        let total = lenient::money(data.path(&["amounts", "total"]))
            .or_else(|| lenient::money(data.get("total")));
        let currency = total
            .as_ref()
            .and_then(|t| t.currency.clone())
            .or_else(|| lenient::currency_code(data.get("currency")));
        Ok(Order {
            number: lenient::id(data.get("reference_id")),
            id,
            lines: items::lines(data.get("items"), ctx.store(), ctx.enrichment),
            total,
            currency,
            data,
        })
    }

    /// The order's customer; an order nobody can be identified for cannot become an event.
    fn profile(&self, ctx: &Ctx, field: &'static str) -> Result<Profile, MappingError> {
        let customer = self
            .data
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

    fn status_slug(&self) -> Option<&'a str> {
        lenient::text(self.data.path(&["status", "slug"]))
    }

    /// The name the shopper sees: the merchant's customized name first.
    fn status_name(&self) -> Option<&'a str> {
        lenient::text(self.data.path(&["status", "customized", "name"]))
            .or_else(|| lenient::text(self.data.path(&["status", "name"])))
            .or_else(|| lenient::text(self.data.get("status")))
    }

    fn status_id(&self) -> Option<String> {
        lenient::id(self.data.path(&["status", "customized", "id"]))
            .or_else(|| lenient::id(self.data.path(&["status", "id"])))
    }

    fn payment_method(&self) -> Option<&'a str> {
        lenient::text(self.data.get("payment_method"))
    }

    fn is_cod(&self) -> bool {
        self.payment_method()
            .is_some_and(|m| m.eq_ignore_ascii_case("cod"))
    }

    /// An order still waiting for its payment (a bank transfer without a receipt, a payment
    /// not yet chosen): Salla's `is_pending_payment`, or the `payment_pending` status. Cash on
    /// delivery is never waiting: it is paid at the door, and placed when created.
    fn awaits_payment(&self) -> bool {
        !self.is_cod()
            && (lenient::flag(self.data.get("is_pending_payment")) == Some(true)
                || self.status_slug() == Some("payment_pending"))
    }

    /// The amount refunded, when Salla states one (a partial refund); read defensively from
    /// `refund.amount` / `refund` and `amounts.refunded`, since Salla documents none yet.
    fn refunded_amount(&self) -> Option<f64> {
        lenient::number(self.data.path(&["refund", "amount"]))
            .or_else(|| lenient::number(self.data.get("refund")))
            .or_else(|| self.amount(&["refunded"]))
            .or_else(|| lenient::number(self.data.get("refunded_amount")))
            .filter(|a| *a > 0.0)
    }

    /// A number under `data.amounts`, where most order properties live.
    fn amount(&self, path: &[&str]) -> Option<f64> {
        lenient::number(self.data.get("amounts").and_then(|a| get(a, path)))
    }

    /// Order-level properties shared by every order metric.
    fn properties(&self) -> Properties {
        let d = &self.data;
        let mut p = PropsBuilder::with_capacity(32);
        p.put_str("OrderId", Some(&self.id));
        p.put_str("OrderNumber", self.number.as_deref());
        p.put_str(
            "OrderURL",
            lenient::text(d.path(&["urls", "customer"])).filter(|u| urls::is_http_url(u)),
        );
        p.put_str("Status", self.status_name());
        p.put_str("StatusSlug", self.status_slug());
        p.put_str("Source", lenient::text(d.get("source")));
        let payment = self.payment_method();
        p.put_str("PaymentMethod", payment);
        // Cash on delivery drives the merchant's COD confirmation flow off Placed Order.
        let cod = payment.is_some_and(|m| m.eq_ignore_ascii_case("cod"));
        p.put("IsCashOnDelivery", cod);
        if cod {
            p.put_num("CODFee", self.amount(&["cash_on_delivery"]));
        }
        p.put_num("SubTotal", self.amount(&["sub_total"]));
        p.put_num("ShippingCost", self.amount(&["shipping_cost"]));
        p.put_num("TaxAmount", self.amount(&["tax", "amount"]));
        let discounts = discounts(d);
        let codes: Vec<String> = discounts
            .iter()
            .filter(|x| x.is_coupon())
            .filter_map(|x| x.code.clone())
            .collect();
        if !codes.is_empty() {
            p.put_str("DiscountCode", Some(&codes.join(", ")));
            p.put_list("DiscountCodes", &codes);
        }
        if !discounts.is_empty() {
            p.put(
                "Discounts",
                discounts.iter().map(Discount::to_value).collect::<Vec<_>>(),
            );
        }
        // Every discount lowers what the shopper pays, coupon or not.
        let amounts: Vec<f64> = discounts.iter().filter_map(|x| x.amount).collect();
        if !amounts.is_empty() {
            p.put_num(
                "DiscountValue",
                Some(lenient::round_money(amounts.iter().sum())),
            );
        }
        p.put_str("ShippingCompany", shipping_company(d));
        let (tracking_number, tracking_url) = tracking(d);
        p.put_str("TrackingNumber", tracking_number);
        p.put_str("TrackingURL", tracking_url);
        if let Some(address) = shipping_address(d) {
            p.put("ShippingAddress", address);
        }
        let summary = items::summarize(&self.lines);
        if !summary.items.is_empty() {
            p.put("Items", summary.items);
            p.put("ItemCount", summary.item_count);
        }
        p.put_list("ItemNames", &summary.item_names);
        p.put_list("Categories", &summary.categories);
        p.put_list("Brands", &summary.brands);
        p.build()
    }

    fn event(
        &self,
        metric: &str,
        profile: impl Into<Arc<Profile>>,
        properties: Properties,
        unique: String,
        time: &Option<String>,
    ) -> KlaviyoRequest {
        let mut properties = properties;
        let amount = if metric == metrics::REFUNDED_ORDER {
            self.refunded_amount()
                .or(self.total.as_ref().map(|t| t.amount))
        } else {
            self.total.as_ref().map(|t| t.amount)
        };
        let revenue = metrics::carries_revenue(metric);
        if !revenue {
            properties.put_num("OrderTotal", amount);
            properties.put_str("Currency", self.currency.as_deref());
        }
        let mut event = EventRequest::new(metric, profile, properties);
        if revenue {
            event.value = amount;
            event.value_currency = self.currency.clone();
        }
        event.unique_id = Some(unique);
        event.time = time.clone();
        KlaviyoRequest::CreateEvent(event)
    }

    fn line_event(
        &self,
        ctx: &Ctx,
        index: usize,
        line: &Line,
        profile: Arc<Profile>,
        time: &Option<String>,
    ) -> KlaviyoRequest {
        let mut p = PropsBuilder::with_capacity(16);
        p.put_str("OrderId", Some(&self.id));
        p.put_str("OrderNumber", self.number.as_deref());
        for (key, value) in line.fields() {
            // Klaviyo's Ordered Product convention names the brand "ProductBrand".
            let key = if key == "Brand" { "ProductBrand" } else { key };
            p.put(key, value);
        }
        let p = p.build();
        let item_key = line
            .item_id
            .as_deref()
            .or(line.product_id.as_deref())
            .unwrap_or("-");
        let mut event = EventRequest::new(metrics::ORDERED_PRODUCT, profile, p);
        event.value = line.row_total;
        event.value_currency = self.currency.clone();
        event.unique_id = Some(unique_id::order_line(
            ctx.store(),
            &self.id,
            index,
            item_key,
        ));
        event.time = time.clone();
        KlaviyoRequest::CreateEvent(event)
    }
}

/// One entry of `amounts.discounts[]` (or the order-level `coupon`).
struct Discount {
    code: Option<String>,
    amount: Option<f64>,
    /// Salla's `type`: `coupon`, `special` (a special offer), `loyalty_prize` (a free product
    /// or points reward), …
    kind: Option<String>,
    title: Option<String>,
}

impl Discount {
    /// Only a coupon the shopper entered is a coupon: a special offer (`special`) or a
    /// loyalty prize / free product (`loyalty_prize`, code `FREE_PRODUCT`) carries a "code"
    /// too, which is not one. Unknown types stay coupons, so coupon tracking never goes
    /// silent on a type Salla adds.
    fn is_coupon(&self) -> bool {
        const NOT_COUPONS: &[&str] = &["special", "offer", "loyalty", "prize", "free", "gift"];
        let kind = self
            .kind
            .as_deref()
            .unwrap_or_default()
            .to_ascii_lowercase();
        self.code.is_some() && !NOT_COUPONS.iter().any(|n| kind.contains(n))
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        items::put_str(&mut m, "Type", &self.kind);
        items::put_str(&mut m, "Title", &self.title);
        items::put_str(&mut m, "Code", &self.code);
        if let Some(amount) = self.amount.and_then(crate::klaviyo::props::number) {
            m.insert("Amount".into(), amount);
        }
        Value::Object(m)
    }
}

fn discounts(d: &Fields) -> Vec<Discount> {
    let mut out: Vec<Discount> = Vec::new();
    if let Some(list) = d.path(&["amounts", "discounts"]).and_then(|l| l.as_array()) {
        for disc in list {
            let code = lenient::text(disc.get("code")).map(str::to_owned);
            let amount = lenient::number(disc.get("discount"))
                .or_else(|| lenient::number(disc.get("amount")));
            if code.is_some() || amount.is_some() {
                out.push(Discount {
                    code,
                    amount,
                    kind: lenient::text(disc.get("type")).map(str::to_owned),
                    title: lenient::text(disc.get("title")).map(str::to_owned),
                });
            }
        }
    }
    if let Some(code) = lenient::text(d.path(&["coupon", "code"]))
        && !out.iter().any(|x| x.code.as_deref() == Some(code))
    {
        out.push(Discount {
            code: Some(code.to_owned()),
            amount: None,
            kind: Some("coupon".to_owned()),
            title: None,
        });
    }
    out
}

fn shipping_company<'a>(d: &Fields<'a>) -> Option<&'a str> {
    // `shipments[]` is the current model (one courier per shipment); `shipping` is legacy.
    shipments(d)
        .find_map(|s| lenient::text(s.get("courier_name")))
        .or_else(|| lenient::text(d.path(&["shipping", "company"])))
}

fn shipments<'a>(d: &Fields<'a>) -> impl Iterator<Item = &'a Json> + use<'a> {
    d.get("shipments")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
}

/// Tracking number and link from `shipments[]` first, then the legacy `shipping.shipment`.
/// "0" and non-URL "links" are Salla placeholders, not tracking data.
fn tracking<'a>(d: &Fields<'a>) -> (Option<&'a str>, Option<&'a str>) {
    fn real(v: Option<&Json>) -> Option<&str> {
        lenient::text(v).filter(|s| *s != "0")
    }
    let legacy = d.path(&["shipping", "shipment"]);
    let number = shipments(d)
        .find_map(|s| real(s.get("tracking_number")).or_else(|| real(s.get("shipping_number"))))
        .or_else(|| {
            legacy.and_then(|s| real(s.get("tracking_number")).or_else(|| real(s.get("id"))))
        });
    let url = shipments(d)
        .chain(legacy)
        .find_map(|s| real(s.get("tracking_link")).filter(|u| urls::is_http_url(u)));
    (number, url)
}

fn shipping_address(d: &Fields) -> Option<Value> {
    let a = d.path(&["shipping", "address"])?;
    let mut m = Map::new();
    items::put_str(
        &mut m,
        "City",
        &lenient::text(a.get("city")).map(str::to_owned),
    );
    items::put_str(
        &mut m,
        "Country",
        &lenient::text(a.get("country")).map(str::to_owned),
    );
    items::put_str(
        &mut m,
        "CountryCode",
        &lenient::text(a.get("country_code")).map(str::to_owned),
    );
    items::put_str(
        &mut m,
        "PostalCode",
        &lenient::text(a.get("postal_code")).map(str::to_owned),
    );
    (!m.is_empty()).then_some(Value::Object(m))
}

/// `order.created` → Placed Order + one Ordered Product per line.
pub(crate) fn created(ctx: &Ctx) -> Result<Action, MappingError> {
    let data = ctx.env.data();
    // A draft is a quote the merchant is still editing, not a purchase.
    if lenient::flag(data.get("draft")) == Some(true) {
        return Ok(Action::Ignore {
            reason: "draft order",
        });
    }
    let order = Order::new(ctx, data, "data.id")?;
    let profile = Arc::new(order.profile(ctx, "data.customer")?);
    if order.awaits_payment() {
        // Not revenue yet (WooCommerce and BigCommerce skip unpaid orders, Magento ignores
        // `pending_payment`): the first paid status sends Placed Order (see `status_requests`),
        // and the waiting status itself is an Order Status Updated for reminder flows.
        let change = StatusChange {
            slug: order.status_slug().unwrap_or("payment_pending"),
            name: order.status_name(),
            status_id: order.status_id(),
            note: None,
            time: date::timestamp(data.get("date")).or_else(|| ctx.event_time()),
        };
        return Ok(Action::Send(status_requests(
            ctx, &order, &profile, &change,
        )));
    }
    let time = date::timestamp(data.get("date")).or_else(|| ctx.event_time());
    Ok(Action::Send(placed_requests(ctx, &order, profile, &time)))
}

/// Placed Order and one Ordered Product per line, with the COD confirmation links.
fn placed_requests(
    ctx: &Ctx,
    order: &Order,
    profile: Arc<Profile>,
    time: &Option<String>,
) -> Vec<KlaviyoRequest> {
    let mut requests = Vec::with_capacity(order.lines.len() + 1);
    let mut properties = order.properties();
    let cod = order.is_cod();
    if let Some(links) = ctx.enrichment.cod_links.as_ref().filter(|_| cod) {
        // The buttons of the merchant's COD confirmation email.
        properties.insert("CODConfirmURL", Value::String(links.confirm_url.clone()));
        if let Some(cancel) = &links.cancel_url {
            properties.insert("CODCancelURL", Value::String(cancel.clone()));
        }
    }
    requests.push(order.event(
        metrics::PLACED_ORDER,
        profile.clone(),
        properties,
        unique_id::order(ctx.store(), &order.id),
        time,
    ));
    for (index, line) in order.lines.iter().enumerate() {
        requests.push(order.line_event(ctx, index, line, profile.clone(), time));
    }
    requests
}

/// Statuses that follow an accepted payment before fulfilment. A status change of a non-COD
/// order to one of them re-sends Placed Order and Ordered Product with their usual
/// `unique_id`s: for an order placed when created Klaviyo keeps the first and drops these, and
/// an order that waited for a bank transfer becomes revenue here, dated at the status change
/// so its flows still run.
const PAID_STATUSES: &[&str] = &["under_review", "in_progress", "completed"];

/// `order.status.updated`: `data` is a status-history entry with the order nested in
/// `data.order`; the entry's own `status` is just the display name.
pub(crate) fn status_updated(ctx: &Ctx) -> Result<Action, MappingError> {
    let data = ctx.env.data();
    let nested = data.get("order").filter(|o| o.is_object());
    let (order_value, id_field, customer_field) = match nested {
        Some(o) => (o, "data.order.id", "data.order.customer"),
        None => (data, "data.id", "data.customer"),
    };
    let order = Order::new(ctx, order_value, id_field)?;
    let slug = lenient::text(get(data, &["status", "slug"]))
        .or_else(|| order.status_slug())
        .ok_or(MappingError::MissingField("data.order.status.slug"))?;
    let name = lenient::text(get(data, &["customized", "name"]))
        .or_else(|| lenient::text(data.get("status")))
        .or_else(|| lenient::text(get(data, &["status", "customized", "name"])))
        .or_else(|| lenient::text(get(data, &["status", "name"])))
        .or_else(|| order.status_name());
    let status_id = lenient::id(get(data, &["customized", "id"]))
        .or_else(|| lenient::id(get(data, &["status", "customized", "id"])))
        .or_else(|| lenient::id(get(data, &["status", "id"])))
        .or_else(|| order.status_id());
    let change = StatusChange {
        slug,
        name,
        status_id,
        note: nested.and(lenient::text(data.get("note"))),
        time: date::timestamp(data.get("created_at")).or_else(|| ctx.event_time()),
    };
    let profile = order.profile(ctx, customer_field)?;
    Ok(Action::Send(status_requests(
        ctx, &order, &profile, &change,
    )))
}

/// `order.cancelled` → the same requests as a status change to `canceled`.
pub(crate) fn cancelled(ctx: &Ctx) -> Result<Action, MappingError> {
    implied_status(ctx, "canceled")
}

/// `order.refunded` → the same requests as a status change to `restored`.
pub(crate) fn refunded(ctx: &Ctx) -> Result<Action, MappingError> {
    implied_status(ctx, "restored")
}

fn implied_status(ctx: &Ctx, slug: &'static str) -> Result<Action, MappingError> {
    let order = Order::new(ctx, ctx.env.data(), "data.id")?;
    let matches = order.status_slug() == Some(slug);
    let change = StatusChange {
        slug,
        name: order.status_name().filter(|_| matches),
        status_id: order.status_id().filter(|_| matches),
        note: None,
        time: ctx.event_time(),
    };
    let profile = order.profile(ctx, "data.customer")?;
    Ok(Action::Send(status_requests(
        ctx, &order, &profile, &change,
    )))
}

struct StatusChange<'a> {
    slug: &'a str,
    name: Option<&'a str>,
    status_id: Option<String>,
    note: Option<&'a str>,
    time: Option<String>,
}

fn status_requests(
    ctx: &Ctx,
    order: &Order,
    profile: &Profile,
    change: &StatusChange,
) -> Vec<KlaviyoRequest> {
    let store = ctx.store();
    let mut requests = Vec::new();
    // Only an order that could have waited for its payment: cash on delivery is placed when
    // created.
    if PAID_STATUSES.contains(&change.slug) && !order.is_cod() && !order.awaits_payment() {
        requests.extend(placed_requests(
            ctx,
            order,
            Arc::new(profile.clone()),
            &change.time,
        ));
    }
    let mut props = order.properties();
    props.remove("Status");
    props.put_str("Status", change.name);
    props.put_str("StatusSlug", Some(change.slug));
    let milestones = status::metrics_for(change.slug);
    requests.reserve(milestones.len() + 1);
    for (metric, key) in milestones {
        let mut props = props.clone();
        if matches!(*metric, metrics::RETURN_REQUESTED | metrics::REFUNDED_ORDER) {
            return_details(ctx, order, change, &mut props);
        }
        let unique = match key {
            StatusKey::PlacedOrder => unique_id::order(store, &order.id),
            StatusKey::Milestone(m) => unique_id::order_milestone(store, &order.id, m),
        };
        requests.push(order.event(metric, profile.clone(), props, unique, &change.time));
    }
    // The generic metric lets merchants build flows on any status, custom ones included.
    let mut generic = props;
    generic.put_str("StatusName", change.name);
    generic.put_str("StatusId", change.status_id.as_deref());
    generic.put_str("StatusNote", change.note);
    let unique =
        unique_id::order_status(store, &order.id, change.slug, change.status_id.as_deref());
    requests.push(order.event(
        metrics::ORDER_STATUS_UPDATED,
        profile.clone(),
        generic,
        unique,
        &change.time,
    ));
    requests
}

/// What a return or refund names when the payload has it: the reason (`return_reason`,
/// `return.reason`, `reason`, else the status note), the returned lines (`return_items` /
/// `returned_items`, the order line shape), whether it is an exchange (`is_exchange`, or a
/// `return_type` / `return.type` of `exchange`; `ReturnType` is `exchange` or `return`), and a
/// partial refund's amount (`RefundedAmount`, also the Refunded Order's `value`).
fn return_details(ctx: &Ctx, order: &Order, change: &StatusChange, p: &mut Properties) {
    let d = &order.data;
    let reason = lenient::text(d.get("return_reason"))
        .or_else(|| lenient::text(d.path(&["return", "reason"])))
        .or_else(|| lenient::text(d.get("reason")))
        .or(change.note);
    p.put_str("ReturnReason", reason);
    let returned = d
        .get("return_items")
        .or_else(|| d.get("returned_items"))
        .or_else(|| d.path(&["return", "items"]));
    let lines = items::lines(returned, ctx.store(), ctx.enrichment);
    if !lines.is_empty() {
        let summary = items::summarize(&lines);
        p.put("ReturnedItems", summary.items);
        p.put_list("ReturnedItemNames", &summary.item_names);
    }
    let kind =
        lenient::text(d.get("return_type")).or_else(|| lenient::text(d.path(&["return", "type"])));
    let exchange = lenient::flag(d.get("is_exchange")) == Some(true)
        || kind.is_some_and(|k| k.eq_ignore_ascii_case("exchange"));
    p.put_str(
        "ReturnType",
        Some(if exchange { "exchange" } else { "return" }),
    );
    p.put_num("RefundedAmount", order.refunded_amount());
}

/// The order milestones `slug` fires (Fulfilled, Shipped, Out for Delivery, Delivered, …;
/// no Order Status Updated) for a shipment event, built from the shipment's order detail as
/// the order-status path builds them: the order's customer, items, properties and `value`
/// rule, and the same `unique_id`s, so whichever route arrives first is complete. `extra`
/// (the shipment's tracking facts) is added to the properties.
pub(crate) fn shipment_milestones(
    ctx: &Ctx,
    detail: &Json,
    slug: &str,
    extra: &Properties,
    time: &Option<String>,
) -> Result<(Profile, Vec<KlaviyoRequest>), MappingError> {
    let order = Order::new(ctx, detail, "order.id")?;
    let profile = order.profile(ctx, "order.customer")?;
    let mut props = order.properties();
    props.remove("StatusSlug");
    props.put_str("StatusSlug", Some(slug));
    for (key, value) in extra.iter() {
        props.insert(key.to_owned(), value.clone());
    }
    let requests = status::metrics_for(slug)
        .iter()
        .filter_map(|(metric, key)| match key {
            StatusKey::Milestone(m) => Some(order.event(
                metric,
                profile.clone(),
                props.clone(),
                unique_id::order_milestone(ctx.store(), &order.id, m),
                time,
            )),
            StatusKey::PlacedOrder => None,
        })
        .collect();
    Ok((profile, requests))
}

/// The order's id as Salla sends it (for matching a fetched detail to a shipment).
pub(crate) fn detail_id(detail: &Json) -> Option<String> {
    lenient::id(detail.get("id"))
}

/// `order.coupon.updated` → one "Applied Coupon" per code on the order.
pub(crate) fn coupon_updated(ctx: &Ctx) -> Result<Action, MappingError> {
    let order = Order::new(ctx, ctx.env.data(), "data.id")?;
    let coupons: Vec<(String, Option<f64>)> = discounts(&order.data)
        .into_iter()
        .filter(Discount::is_coupon)
        .filter_map(|x| Some((x.code?, x.amount)))
        .collect();
    if coupons.is_empty() {
        return Ok(Action::Ignore {
            reason: "order.coupon.updated without a coupon code",
        });
    }
    let profile = order.profile(ctx, "data.customer")?;
    let time = ctx.event_time();
    let requests = coupons
        .iter()
        .map(|(code, amount)| {
            let mut p = Properties::new();
            p.put_str("CouponCode", Some(code));
            p.put_num("DiscountValue", *amount);
            p.put_str("OrderId", Some(&order.id));
            p.put_str("OrderNumber", order.number.as_deref());
            p.put_str("Source", Some("order"));
            let mut event = EventRequest::new(metrics::APPLIED_COUPON, profile.clone(), p);
            event.unique_id = Some(unique_id::order_coupon(ctx.store(), &order.id, code));
            event.time = time.clone();
            KlaviyoRequest::CreateEvent(event)
        })
        .collect();
    Ok(Action::Send(requests))
}
