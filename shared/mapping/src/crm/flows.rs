//! The ready-made flows, as Klaviyo flow definitions: drafts (every message `status: draft`,
//! so nothing sends until the merchant reviews and turns it on), Arabic first with English,
//! email only (Klaviyo SMS does not reach Saudi Arabia or the other Gulf countries).
//!
//! Quiet hours (nothing between 22:00 and 08:00 store time except order updates): Klaviyo
//! email has no quiet-hours setting, so every wait of a day or more is a time delay pinned to
//! [`SEND_AT`] in the store's time zone, and marketing messages keep Smart Sending on. What
//! Klaviyo cannot hold back: the welcome email (sent when the first order arrives) and the
//! 2-hour cart reminder go when due, because both follow the shopper's own action within
//! hours; order updates are transactional and go at once by design.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::NAME_PREFIX;
use super::TIER_PROPERTY;
use super::segments::SegmentSpec;

/// Local time a day-or-more delay waits for.
pub const SEND_AT: &str = "10:00";

/// A flow the app creates: name (its identity on a re-run), and the definition.
#[derive(Debug, Clone, PartialEq)]
pub struct FlowSpec {
    pub name: String,
    pub key: String,
    pub definition: Value,
}

impl FlowSpec {
    /// `POST /api/flows` body.
    pub fn create_body(&self) -> Value {
        json!({"data": {"type": "flow", "attributes": {
            "name": self.name,
            "definition": self.definition,
        }}})
    }
}

/// A flow that could not be built yet, and what it waits for (a metric appears in Klaviyo
/// with its first event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub key: &'static str,
    pub needs: String,
}

/// Ids the flows refer to: metric name → id and segment key (`tier:Gold`, `churn:30`) → id,
/// as found in the account.
#[derive(Debug, Clone, Default)]
pub struct FlowInputs {
    pub metrics: BTreeMap<String, String>,
    pub segments: BTreeMap<String, String>,
    /// The store's IANA time zone, one Klaviyo lists (`Asia/Riyadh`).
    pub timezone: String,
}

/// One step of a flow before ids are assigned.
enum Step {
    Email {
        subject: String,
        transactional: bool,
    },
    WaitHours(u32),
    /// Wait this many days, then until [`SEND_AT`] store time.
    WaitDays(u32),
    SetTier(&'static str),
}

fn email(ar: &str, en: &str) -> Step {
    Step::Email {
        subject: format!("{ar} | {en}"),
        transactional: false,
    }
}

fn update(ar: &str, en: &str) -> Step {
    Step::Email {
        subject: format!("{ar} | {en}"),
        transactional: true,
    }
}

fn actions(steps: Vec<Step>, timezone: &str) -> (Vec<Value>, String) {
    let ids: Vec<String> = (1..=steps.len()).map(|i| format!("step-{i}")).collect();
    let actions = steps
        .into_iter()
        .enumerate()
        .map(|(i, step)| {
            let next = ids.get(i + 1).cloned();
            let mut a = match step {
                Step::Email {
                    subject,
                    transactional,
                } => json!({"type": "send-email", "data": {"status": "draft", "message": {
                    "subject_line": subject,
                    "smart_sending_enabled": !transactional,
                    "transactional": transactional,
                }}}),
                Step::WaitHours(h) => {
                    json!({"type": "time-delay", "data": {"unit": "hours", "value": h}})
                }
                Step::WaitDays(d) => json!({"type": "time-delay", "data": {
                    "unit": "days", "value": d, "delay_until_time": SEND_AT, "timezone": timezone,
                }}),
                Step::SetTier(tier) => json!({"type": "update-profile", "data": {
                    "status": "draft",
                    "profile_operations": [{
                        "operator": "update", "property_type": "string",
                        "property_key": TIER_PROPERTY, "property_value": tier,
                    }],
                }}),
            };
            a["temporary_id"] = json!(ids[i]);
            a["links"] = json!({"next": next});
            a
        })
        .collect();
    (actions, ids[0].clone())
}

fn metric_trigger(id: &str, filter: Option<Value>) -> Value {
    match filter {
        Some(f) => {
            json!({"type": "metric", "id": id, "trigger_filter": {"condition_groups": [{"conditions": [f]}]}})
        }
        None => json!({"type": "metric", "id": id}),
    }
}

fn count_filter(metric_id: &str, operator: &str, value: u32, timeframe: Value) -> Value {
    json!({"condition_groups": [{"conditions": [{
        "type": "profile-metric", "metric_id": metric_id, "measurement": "count",
        "measurement_filter": {"type": "numeric", "operator": operator, "value": value},
        "timeframe_filter": timeframe,
    }]}]})
}

struct Draft {
    key: &'static str,
    ar: &'static str,
    en: &'static str,
    trigger: Value,
    profile_filter: Option<Value>,
    steps: Vec<Step>,
}

fn build(d: Draft, timezone: &str) -> FlowSpec {
    let (actions, entry) = actions(d.steps, timezone);
    let mut definition = json!({
        "triggers": [d.trigger],
        "actions": actions,
        "entry_action_id": entry,
    });
    if let Some(f) = d.profile_filter {
        definition["profile_filter"] = f;
    }
    FlowSpec {
        name: format!("{NAME_PREFIX}{} · {}", d.ar, d.en),
        key: d.key.to_owned(),
        definition,
    }
}

/// The flows for these ids: those whose metrics and segments exist, and the rest as
/// [`Waiting`]. `tiers` are the ladder's tier segments (the property flows and the upgrade
/// flow use them).
pub fn flows(inputs: &FlowInputs, tiers: &[SegmentSpec]) -> (Vec<FlowSpec>, Vec<Waiting>) {
    use crate::klaviyo::metrics as m;
    let mut out = Vec::new();
    let mut waiting = Vec::new();
    let tz = inputs.timezone.as_str();
    let metric = |name: &str| inputs.metrics.get(name).cloned();
    let mut need = |key: &'static str, what: &str| {
        waiting.push(Waiting {
            key,
            needs: what.to_owned(),
        })
    };

    match metric(m::PLACED_ORDER) {
        Some(placed) => {
            out.push(Draft {
                key: "welcome",
                ar: "ترحيب بالعميل الجديد",
                en: "Welcome",
                trigger: metric_trigger(&placed, None),
                // The triggering order is counted: exactly one means a first order.
                profile_filter: Some(count_filter(
                    &placed,
                    "equals",
                    1,
                    json!({"type": "date", "operator": "alltime"}),
                )),
                steps: vec![
                    email(
                        "أهلًا بك، شكرًا لطلبك الأول",
                        "Welcome, thank you for your first order",
                    ),
                    Step::WaitDays(7),
                    email(
                        "كيف كانت تجربتك؟ قيّم مشترياتك",
                        "How was it? Review your purchase",
                    ),
                ],
            });
            out.push(Draft {
                key: "cod_confirmation",
                ar: "تأكيد الدفع عند الاستلام",
                en: "COD confirmation",
                trigger: metric_trigger(
                    &placed,
                    Some(json!({"type": "metric-property", "metric_id": placed, "field": "IsCashOnDelivery",
                        "filter": {"type": "boolean", "operator": "equals", "value": true}})),
                ),
                profile_filter: None,
                steps: vec![update("أكّد طلبك (الدفع عند الاستلام)", "Confirm your cash-on-delivery order")],
            });
        }
        None => {
            need("welcome", m::PLACED_ORDER);
            need("cod_confirmation", m::PLACED_ORDER);
        }
    }

    match (metric(m::STARTED_CHECKOUT), metric(m::PLACED_ORDER)) {
        (Some(checkout), Some(placed)) => out.push(Draft {
            key: "abandoned_cart",
            ar: "السلة المتروكة",
            en: "Abandoned cart",
            trigger: metric_trigger(&checkout, None),
            // Re-checked before every step: an order placed since the flow started exits it.
            profile_filter: Some(count_filter(
                &placed,
                "equals",
                0,
                json!({"type": "date", "operator": "flow-start"}),
            )),
            steps: vec![
                Step::WaitHours(2),
                email("نسيت شيئًا في سلتك", "You left something in your cart"),
                Step::WaitHours(22),
                email("سلتك ما زالت بانتظارك", "Your cart is still waiting"),
            ],
        }),
        _ => need(
            "abandoned_cart",
            &format!("{} and {}", m::STARTED_CHECKOUT, m::PLACED_ORDER),
        ),
    }

    match metric(m::DELIVERED_ORDER) {
        Some(delivered) => {
            out.push(Draft {
                key: "post_purchase",
                ar: "ما بعد الشراء",
                en: "Post-purchase",
                trigger: metric_trigger(&delivered, None),
                profile_filter: None,
                steps: vec![
                    Step::WaitDays(1),
                    email(
                        "شاركنا رأيك في طلبك",
                        "Tell us what you think of your order",
                    ),
                    Step::WaitDays(6),
                    email("منتجات قد تعجبك", "Picked for you"),
                ],
            });
        }
        None => need("post_purchase", m::DELIVERED_ORDER),
    }

    for (key, name, ar, en, subject_ar, subject_en) in [
        (
            "order_shipped",
            m::SHIPPED_ORDER,
            "تحديث الطلب: تم الشحن",
            "Order update: shipped",
            "تم شحن طلبك",
            "Your order has shipped",
        ),
        (
            "order_out_for_delivery",
            m::OUT_FOR_DELIVERY,
            "تحديث الطلب: خرج للتوصيل",
            "Order update: out for delivery",
            "طلبك في الطريق إليك",
            "Your order is out for delivery",
        ),
        (
            "order_delivered",
            m::DELIVERED_ORDER,
            "تحديث الطلب: تم التوصيل",
            "Order update: delivered",
            "تم توصيل طلبك",
            "Your order was delivered",
        ),
    ] {
        match metric(name) {
            Some(id) => out.push(Draft {
                key,
                ar,
                en,
                trigger: metric_trigger(&id, None),
                profile_filter: None,
                steps: vec![update(subject_ar, subject_en)],
            }),
            None => need(key, name),
        }
    }

    for (key, segment, ar, en) in [
        (
            "win_back_30",
            "churn:30",
            "استعادة العملاء ٣٠ يومًا",
            "Win-back 30 days",
        ),
        (
            "win_back_60",
            "churn:60",
            "استعادة العملاء ٦٠ يومًا",
            "Win-back 60 days",
        ),
        (
            "win_back_90",
            "churn:90",
            "استعادة العملاء ٩٠ يومًا",
            "Win-back 90 days",
        ),
    ] {
        match inputs.segments.get(segment) {
            Some(id) => out.push(Draft {
                key,
                ar,
                en,
                trigger: json!({"type": "segment", "id": id}),
                profile_filter: None,
                steps: vec![Step::WaitDays(0), email("اشتقنا لك", "We miss you")],
            }),
            None => need(key, segment),
        }
    }

    // One property flow per tier, and the upgrade message for the top tier.
    let mut specs: Vec<FlowSpec> = out.into_iter().map(|d| build(d, tz)).collect();
    for tier in tiers {
        let Some(tier_name) = tier.key.strip_prefix("tier:") else {
            continue;
        };
        let Some(id) = inputs.segments.get(&tier.key) else {
            waiting.push(Waiting {
                key: "tier_property",
                needs: tier.key.clone(),
            });
            continue;
        };
        let tier_name: &'static str = TIER_NAMES
            .iter()
            .find(|n| **n == tier_name)
            .copied()
            .unwrap_or("New");
        specs.push(FlowSpec {
            name: format!("{NAME_PREFIX}الفئة {tier_name} · Set {TIER_PROPERTY} {tier_name}"),
            key: format!("tier_property:{tier_name}"),
            definition: {
                let (actions, entry) = actions(vec![Step::SetTier(tier_name)], tz);
                json!({"triggers": [{"type": "segment", "id": id}], "actions": actions, "entry_action_id": entry})
            },
        });
    }
    if let Some(top) = tiers.last().filter(|_| tiers.len() > 1)
        && let Some(id) = inputs.segments.get(&top.key)
    {
        specs.push(build(
            Draft {
                key: "tier_upgrade",
                ar: "ترقية إلى أعلى فئة",
                en: "Top tier upgrade",
                trigger: json!({"type": "segment", "id": id}),
                profile_filter: None,
                steps: vec![
                    Step::WaitDays(0),
                    email(
                        "مبروك! أصبحت من كبار عملائنا",
                        "Congratulations, you are now one of our top customers",
                    ),
                ],
            },
            tz,
        ));
    }
    (specs, waiting)
}

const TIER_NAMES: [&str; 6] = ["New", "Bronze", "Silver", "Gold", "Platinum", "VIP"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crm::{DEFAULT_MARGIN_BP, preset_a, preset_b, segments, tier_segments};

    fn inputs(all_metrics: bool) -> FlowInputs {
        let mut metrics = BTreeMap::new();
        let names: &[&str] = if all_metrics {
            &[
                "Placed Order",
                "Started Checkout",
                "Delivered Order",
                "Shipped Order",
                "Out for Delivery",
            ]
        } else {
            &["Placed Order"]
        };
        for (i, n) in names.iter().enumerate() {
            metrics.insert((*n).to_owned(), format!("M{i}"));
        }
        let mut segs = BTreeMap::new();
        for (i, s) in segments(&preset_a(DEFAULT_MARGIN_BP).unwrap(), "M0")
            .iter()
            .enumerate()
        {
            segs.insert(s.key.clone(), format!("S{i}"));
        }
        FlowInputs {
            metrics,
            segments: segs,
            timezone: "Asia/Riyadh".into(),
        }
    }

    #[test]
    fn every_flow_is_a_spec_strict_draft() {
        let spec = spec_check::Spec::shared();
        let tiers = tier_segments(&preset_a(DEFAULT_MARGIN_BP).unwrap(), "M0");
        let (flows, waiting) = flows(&inputs(true), &tiers);
        assert!(waiting.is_empty(), "{waiting:?}");
        // 2 on Placed Order, cart, post-purchase, 3 order updates, 3 win-back, 6 tier
        // properties, the upgrade.
        assert_eq!(flows.len(), 2 + 1 + 1 + 3 + 3 + 6 + 1);
        for f in &flows {
            assert!(f.name.starts_with(NAME_PREFIX), "{}", f.name);
            spec.validate_request("POST", "/api/flows", Some(&f.create_body()))
                .unwrap_or_else(|e| panic!("{}: {e:#?}", f.name));
            for a in f.definition["actions"].as_array().unwrap() {
                if let Some(status) = a["data"].get("status") {
                    assert_eq!(status, "draft", "{}", f.name);
                }
            }
        }
        // The validator does look inside the actions (this test can fail).
        let mut bad = flows[0].create_body();
        bad["data"]["attributes"]["definition"]["actions"][1]["data"]["unit"] = json!("weeks");
        assert!(
            spec.validate_request("POST", "/api/flows", Some(&bad))
                .is_err()
        );
        let mut names: Vec<&str> = flows.iter().map(|f| f.name.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), flows.len(), "names are identities: unique");
    }

    #[test]
    fn marketing_waits_are_pinned_to_daytime_and_order_updates_are_transactional() {
        let tiers = tier_segments(&preset_b(), "M0");
        let (flows, _) = flows(&inputs(true), &tiers);
        for f in &flows {
            for a in f.definition["actions"].as_array().unwrap() {
                if a["type"] == "time-delay" && a["data"]["unit"] == "days" {
                    assert_eq!(a["data"]["delay_until_time"], SEND_AT, "{}", f.name);
                    assert_eq!(a["data"]["timezone"], "Asia/Riyadh");
                }
                if a["type"] == "send-email" {
                    let m = &a["data"]["message"];
                    let update = f.key.starts_with("order_") || f.key == "cod_confirmation";
                    assert_eq!(m["transactional"], update, "{}", f.name);
                    assert_eq!(m["smart_sending_enabled"], !update, "{}", f.name);
                    let subject = m["subject_line"].as_str().unwrap();
                    assert!(
                        subject
                            .chars()
                            .next()
                            .is_some_and(|c| ('\u{600}'..='\u{6ff}').contains(&c)),
                        "Arabic first: {subject}"
                    );
                }
            }
        }
        let cart = flows.iter().find(|f| f.key == "abandoned_cart").unwrap();
        assert_eq!(
            cart.definition["profile_filter"]["condition_groups"][0]["conditions"][0]["timeframe_filter"]
                ["operator"],
            "flow-start"
        );
        let delays: Vec<u64> = cart.definition["actions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["type"] == "time-delay")
            .map(|a| a["data"]["value"].as_u64().unwrap())
            .collect();
        assert_eq!(delays, [2, 22], "reminders at 2 h and 24 h");
    }

    #[test]
    fn flows_wait_for_metrics_klaviyo_does_not_have_yet() {
        let (flows, waiting) = flows(&inputs(false), &[]);
        let keys: Vec<&str> = waiting.iter().map(|w| w.key).collect();
        assert_eq!(
            keys,
            [
                "abandoned_cart",
                "post_purchase",
                "order_shipped",
                "order_out_for_delivery",
                "order_delivered"
            ]
        );
        assert!(flows.iter().any(|f| f.key == "welcome"));
    }

    #[test]
    fn tier_flows_set_the_tier_property() {
        let tiers = tier_segments(&preset_a(DEFAULT_MARGIN_BP).unwrap(), "M0");
        let (flows, _) = flows(&inputs(true), &tiers);
        let gold = flows
            .iter()
            .find(|f| f.key == "tier_property:Gold")
            .unwrap();
        let op = &gold.definition["actions"][0]["data"]["profile_operations"][0];
        assert_eq!(op["property_key"], TIER_PROPERTY);
        assert_eq!(op["property_value"], "Gold");
        assert_eq!(gold.definition["triggers"][0]["type"], "segment");
    }
}
