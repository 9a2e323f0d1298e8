//! The flash-sale scenario: one store, a steady stream of orders, and the webhooks a real
//! sale sends around each order, built from the Salla samples and signed. Every webhook
//! carries its own Salla ids, so each Klaviyo event it plans is distinct.
//!
//! The mix per order (shopper `n`, order at time `t`):
//! - `order.created` at `t` (Placed Order + one Ordered Product: the sample's one line);
//! - `order.status.updated` to `in_progress` 30–120 s later (Order Status Updated);
//! - 40 %: `shipment.created` 60–240 s later (Shipment Created; the `shipment.creating`
//!   sample's shipment object under the `created` event, which carries the same object);
//! - 50 %: `customer.login` 10–60 s before (Logged In);
//! - 30 %: `coupon.applied` on the shopper's cart 5–30 s before (Applied Coupon);
//! - 20 %: an `abandoned.cart` of another shopper at `t` (Started Checkout).
//!
//! Webhooks that would fall before the sale starts or after it ends are not sent, so every
//! webhook is due inside the sale window.

use std::time::Duration;

use mapping::{Action, Enrichment, KlaviyoRequest};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::bodies;

/// One webhook of the sale.
pub struct Planned {
    /// When Salla sends it first, from the sale's start.
    pub at: Duration,
    pub kind: &'static str,
    pub body: Vec<u8>,
    pub signature: String,
    /// Klaviyo events it should produce: (metric, unique_id).
    pub events: Vec<(String, String)>,
}

pub struct Sale {
    pub store: String,
    pub webhooks: Vec<Planned>,
    pub orders: usize,
    /// Planned events with the same (metric, unique_id) as an earlier webhook's (0 by design).
    pub colliding_events: usize,
}

impl Sale {
    pub fn events(&self) -> usize {
        self.webhooks.iter().map(|w| w.events.len()).sum()
    }
}

const ORDER_ID: u64 = 3_000_000_000;
const CART_ID: u64 = 4_000_000_000;
const ABANDONED_CART_ID: u64 = 5_000_000_000;
const SHIPMENT_ID: u64 = 6_000_000_000;
const CUSTOMER_ID: u64 = 700_000_000;

pub fn build(
    templates: &[(String, Value)],
    orders_per_minute: u32,
    sale: Duration,
    secret: &str,
    seed: u64,
) -> Result<Sale, String> {
    let find = |name: &str| {
        templates
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| format!("sample {name} missing"))
    };
    let created = find("order.created.json")?;
    let status = find("order.status.updated.json")?;
    let shipment = find("shipment.creating.json")?;
    let login = find("customer.login.json")?;
    let coupon = find("coupon.applied.json")?;
    let abandoned = find("abandoned.cart.json")?;

    let store = bodies::store_id(0);
    let merchant: u64 = store.parse().map_err(|_| "store id")?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let orders = (f64::from(orders_per_minute) * sale.as_secs_f64() / 60.0).round() as usize;
    let gap = 60.0 / f64::from(orders_per_minute);
    let mut drafts: Vec<(f64, &'static str, Value)> = Vec::new();
    let in_sale = |t: f64| t >= 0.0 && t < sale.as_secs_f64();
    for n in 0..orders as u64 {
        let t = n as f64 * gap;
        let shopper = Shopper::new(n);
        let order = ORDER_ID + n;

        let mut v = created.clone();
        set(&mut v, "/data/id", json!(order));
        set(&mut v, "/data/reference_id", json!(50_000_000 + n));
        set(&mut v, "/data/customer/id", json!(shopper.id));
        drafts.push((t, "order.created", shopper.apply(v)));

        let at = t + rng.random_range(30.0..120.0);
        if in_sale(at) {
            let mut v = status.clone();
            set(&mut v, "/data/id", json!(8_000_000_000 + n));
            set(&mut v, "/data/order/id", json!(order));
            set(&mut v, "/data/order/reference_id", json!(50_000_000 + n));
            set(&mut v, "/data/order/status/slug", json!("in_progress"));
            set(&mut v, "/data/order/status/name", json!("جاري التجهيز"));
            set(&mut v, "/data/order/customer/id", json!(shopper.id));
            drafts.push((at, "order.status.updated", shopper.apply(v)));
        }
        if rng.random_bool(0.4) {
            let at = t + rng.random_range(60.0..240.0);
            if in_sale(at) {
                let mut v = shipment.clone();
                v["event"] = json!("shipment.created");
                set(&mut v, "/data/id", json!(SHIPMENT_ID + n));
                set(&mut v, "/data/order_id", json!(order));
                set(&mut v, "/data/order_reference_id", json!(50_000_000 + n));
                drafts.push((at, "shipment.created", shopper.apply(v)));
            }
        }
        if rng.random_bool(0.5) {
            let at = t - rng.random_range(10.0..60.0);
            if in_sale(at) {
                let mut v = login.clone();
                set(&mut v, "/data/id", json!(shopper.id));
                drafts.push((at, "customer.login", shopper.apply(v)));
            }
        }
        if rng.random_bool(0.3) {
            let at = t - rng.random_range(5.0..30.0);
            if in_sale(at) {
                let mut v = coupon.clone();
                set(&mut v, "/data/cart/id", json!(CART_ID + n));
                set(&mut v, "/data/cart/customer/id", json!(shopper.id));
                drafts.push((at, "coupon.applied", shopper.apply(v)));
            }
        }
        if rng.random_bool(0.2) {
            let other = Shopper::new(n + 10_000_000);
            let mut v = abandoned.clone();
            set(&mut v, "/data/id", json!(ABANDONED_CART_ID + n));
            set(&mut v, "/data/customer/id", json!(other.id));
            drafts.push((t, "abandoned.cart", other.apply(v)));
        }
    }
    drafts.sort_by(|a, b| a.0.total_cmp(&b.0));

    let mut seen = std::collections::HashSet::new();
    let mut colliding_events = 0;
    let mut webhooks = Vec::with_capacity(drafts.len());
    for (t, kind, mut v) in drafts {
        v["merchant"] = json!(merchant);
        let body = serde_json::to_vec(&v).map_err(|e| e.to_string())?;
        let events = planned_events(&body);
        if events.is_empty() {
            return Err(format!("{kind}: the mapping plans no Klaviyo event for it"));
        }
        for e in &events {
            if !seen.insert(e.clone()) {
                colliding_events += 1;
            }
        }
        webhooks.push(Planned {
            at: Duration::from_secs_f64(t),
            kind,
            signature: adapters::salla::signature::sign(secret.as_bytes(), &body),
            body,
            events,
        });
    }
    Ok(Sale {
        store,
        webhooks,
        orders,
        colliding_events,
    })
}

/// The Klaviyo events the intake will send for `body`, planned exactly as it plans them.
fn planned_events(body: &[u8]) -> Vec<(String, String)> {
    let Ok(env) = mapping::parse_envelope(body) else {
        return Vec::new();
    };
    let Ok(Action::Send(requests)) = mapping::plan(&env, &Enrichment::default()) else {
        return Vec::new();
    };
    requests
        .iter()
        .filter_map(|r| match r {
            KlaviyoRequest::CreateEvent(e) => {
                Some((e.metric.clone(), e.unique_id.clone().unwrap_or_default()))
            }
            _ => None,
        })
        .collect()
}

/// Sets `pointer` only where the sample has that field, so every body keeps Salla's shape.
fn set(v: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = v.pointer_mut(pointer) {
        *slot = value;
    }
}

/// A made-up shopper: every email and phone in a body becomes theirs.
struct Shopper {
    id: u64,
    email: String,
    local_phone: u64,
}

impl Shopper {
    fn new(n: u64) -> Shopper {
        Shopper {
            id: CUSTOMER_ID + n,
            email: format!("flash{n}@example.test"),
            local_phone: 500_000_000 + n % 99_999_999,
        }
    }

    fn apply(&self, mut v: Value) -> Value {
        if let Some(data) = v.get_mut("data") {
            self.personalise(data);
        }
        v
    }

    fn personalise(&self, v: &mut Value) {
        match v {
            Value::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match (key.as_str(), &*value) {
                        ("email", Value::String(s)) if !s.is_empty() => *value = json!(self.email),
                        ("mobile" | "phone", Value::Number(_)) => *value = json!(self.local_phone),
                        ("mobile" | "phone", Value::String(s)) => {
                            *value = if s.starts_with('+') {
                                json!(format!("+966{}", self.local_phone))
                            } else {
                                json!(self.local_phone.to_string())
                            };
                        }
                        _ => self.personalise(value),
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|i| self.personalise(i)),
            _ => {}
        }
    }
}
