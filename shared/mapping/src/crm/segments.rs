//! Klaviyo segment definitions for a ladder's tiers and the churn-risk segments.
//!
//! Klaviyo ANDs a definition's condition groups and ORs the conditions inside a group, so:
//! - tier k = "meets rule k" (one group per threshold) AND "not rule k+1", and "not rule k+1"
//!   is one group: fewer orders than it needs OR less spent than it needs;
//! - the base tier = ordered at least once (all time) AND not the first rule;
//! - churn N = ordered at least once AND no order in the last N days (nested: a customer
//!   90 days quiet is in all three, so each win-back step triggers on entering its segment).

use serde_json::{Value, json};

use super::NAME_PREFIX;
use super::tiers::{CHURN_DAYS, Ladder, OrderWindow, TierThreshold};

/// A segment the app provisions: its name (the identity a re-run matches on) and definition.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpec {
    pub name: String,
    /// For flows and reports: `tier:<name>` or `churn:<days>`.
    pub key: String,
    pub definition: Value,
}

impl SegmentSpec {
    /// `POST /api/segments` body.
    pub fn create_body(&self) -> Value {
        json!({"data": {"type": "segment", "attributes": {
            "name": self.name,
            "definition": self.definition,
        }}})
    }

    /// `PATCH /api/segments/{id}` body.
    pub fn update_body(&self, id: &str) -> Value {
        json!({"data": {"type": "segment", "id": id, "attributes": {
            "name": self.name,
            "definition": self.definition,
        }}})
    }

    /// Whether a definition read back from Klaviyo is this one. Klaviyo answers optional
    /// fields as `null` (e.g. `metric_filters`), so nulls are ignored on both sides.
    pub fn matches(&self, existing: &Value) -> bool {
        without_nulls(existing) == without_nulls(&self.definition)
    }
}

fn without_nulls(v: &Value) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

fn timeframe(window: OrderWindow) -> Value {
    match window {
        OrderWindow::AllTime => json!({"type": "date", "operator": "alltime"}),
        OrderWindow::Last365Days => {
            json!({"type": "date", "operator": "in-the-last", "unit": "day", "quantity": 365})
        }
    }
}

fn condition(
    metric_id: &str,
    measurement: &str,
    operator: &str,
    value: Value,
    timeframe: Value,
) -> Value {
    json!({
        "type": "profile-metric",
        "metric_id": metric_id,
        "measurement": measurement,
        "measurement_filter": {"type": "numeric", "operator": operator, "value": value},
        "timeframe_filter": timeframe,
    })
}

/// A minor-unit amount as Klaviyo's `$value` (major units): an integer when whole.
fn amount(minor: u64) -> Value {
    if minor.is_multiple_of(100) {
        json!(minor / 100)
    } else {
        json!(minor as f64 / 100.0)
    }
}

fn ordered_ever(metric_id: &str) -> Value {
    json!({"conditions": [condition(
        metric_id, "count", "greater-than-or-equal", json!(1), timeframe(OrderWindow::AllTime),
    )]})
}

/// The groups that say "meets this threshold".
fn meets(metric_id: &str, window: OrderWindow, t: &TierThreshold) -> Vec<Value> {
    let mut groups = vec![json!({"conditions": [condition(
        metric_id, "count", "greater-than-or-equal", json!(t.min_orders), timeframe(window),
    )]})];
    if let Some(spent) = t.min_spent_minor {
        groups.push(json!({"conditions": [condition(
            metric_id, "sum", "greater-than-or-equal", amount(spent), timeframe(window),
        )]}));
    }
    groups
}

/// The one group that says "does not meet this threshold".
fn misses(metric_id: &str, window: OrderWindow, t: &TierThreshold) -> Value {
    let mut conditions = vec![condition(
        metric_id,
        "count",
        "less-than",
        json!(t.min_orders),
        timeframe(window),
    )];
    if let Some(spent) = t.min_spent_minor {
        conditions.push(condition(
            metric_id,
            "sum",
            "less-than",
            amount(spent),
            timeframe(window),
        ));
    }
    json!({"conditions": conditions})
}

fn tier_name(en: &str, ar: &str) -> String {
    format!("{NAME_PREFIX}Tier {en} · الفئة {ar}")
}

/// One segment per tier, base tier first. `metric_id` is the account's Placed Order metric.
pub fn tier_segments(ladder: &Ladder, metric_id: &str) -> Vec<SegmentSpec> {
    let w = ladder.window;
    let mut out = Vec::with_capacity(ladder.rules.len() + 1);
    let mut base_groups = vec![ordered_ever(metric_id)];
    if let Some(first) = ladder.rules.first() {
        base_groups.push(misses(metric_id, w, &first.threshold));
    }
    out.push(SegmentSpec {
        name: tier_name(ladder.base.0, ladder.base.1),
        key: format!("tier:{}", ladder.base.0),
        definition: json!({"condition_groups": base_groups}),
    });
    for (i, rule) in ladder.rules.iter().enumerate() {
        let mut groups = meets(metric_id, w, &rule.threshold);
        if let Some(next) = ladder.rules.get(i + 1) {
            groups.push(misses(metric_id, w, &next.threshold));
        }
        out.push(SegmentSpec {
            name: tier_name(rule.name, rule.name_ar),
            key: format!("tier:{}", rule.name),
            definition: json!({"condition_groups": groups}),
        });
    }
    out
}

/// Churn risk at 30, 60 and 90 days.
pub fn churn_segments(metric_id: &str) -> Vec<SegmentSpec> {
    CHURN_DAYS
        .iter()
        .map(|&days| SegmentSpec {
            name: format!("{NAME_PREFIX}Churn risk {days} days · خطر الفقد {days} يومًا"),
            key: format!("churn:{days}"),
            definition: json!({"condition_groups": [
                ordered_ever(metric_id),
                {"conditions": [condition(
                    metric_id, "count", "equals", json!(0),
                    json!({"type": "date", "operator": "in-the-last", "unit": "day", "quantity": days}),
                )]},
            ]}),
        })
        .collect()
}

/// Everything the app provisions for a ladder: its tiers, then the churn segments.
pub fn segments(ladder: &Ladder, metric_id: &str) -> Vec<SegmentSpec> {
    let mut all = tier_segments(ladder, metric_id);
    all.extend(churn_segments(metric_id));
    all
}

#[cfg(test)]
mod tests {
    use super::super::tiers::{
        DEFAULT_MARGIN_BP, TierThreshold, custom_ladder, preset_a, preset_b,
    };
    use super::*;

    const METRIC: &str = "PlcdOr";

    /// Evaluates a definition the way Klaviyo does (groups ANDed, conditions ORed) for a
    /// customer's totals: `(orders, spent)` in the ladder's window, all-time orders, and
    /// orders in the last `days` for the churn conditions.
    struct Customer {
        all_time: (u32, f64),
        last_365: (u32, f64),
        days_since_last_order: Option<u32>,
    }

    fn holds(c: &Customer, cond: &Value) -> bool {
        assert_eq!(cond["metric_id"], METRIC);
        let tf = &cond["timeframe_filter"];
        let (count, sum) = match (tf["operator"].as_str(), tf["quantity"].as_u64()) {
            (Some("alltime"), _) => c.all_time,
            (Some("in-the-last"), Some(365)) => c.last_365,
            (Some("in-the-last"), Some(days)) => {
                let recent = c.days_since_last_order.is_some_and(|d| u64::from(d) < days);
                (u32::from(recent), 0.0)
            }
            other => panic!("unexpected timeframe {other:?}"),
        };
        let measured = match cond["measurement"].as_str() {
            Some("count") => f64::from(count),
            Some("sum") => sum,
            other => panic!("unexpected measurement {other:?}"),
        };
        let v = cond["measurement_filter"]["value"].as_f64().unwrap();
        match cond["measurement_filter"]["operator"].as_str().unwrap() {
            "greater-than-or-equal" => measured >= v,
            "less-than" => measured < v,
            "equals" => measured == v,
            other => panic!("unexpected operator {other}"),
        }
    }

    fn member(c: &Customer, s: &SegmentSpec) -> bool {
        s.definition["condition_groups"]
            .as_array()
            .unwrap()
            .iter()
            .all(|g| {
                g["conditions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|cond| holds(c, cond))
            })
    }

    fn tiers_of(segments: &[SegmentSpec], c: &Customer) -> Vec<String> {
        segments
            .iter()
            .filter(|s| member(c, s))
            .map(|s| s.key.clone())
            .collect()
    }

    fn all_time(orders: u32, spent: f64) -> Customer {
        Customer {
            all_time: (orders, spent),
            last_365: (orders, spent),
            days_since_last_order: Some(1),
        }
    }

    /// At every Preset A boundary (just below / at, in spend and in orders) the definitions put
    /// the customer in exactly one tier, the one `tier_of` names.
    #[test]
    fn preset_a_definitions_place_each_boundary_in_one_tier() {
        let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
        let segs = tier_segments(&ladder, METRIC);
        assert_eq!(segs.len(), 6);
        let cases: [(f64, u32, &str, &str); 5] = [
            (400.0, 1, "New", "Bronze"),
            (2_000.0, 3, "Bronze", "Silver"),
            (4_000.0, 5, "Silver", "Gold"),
            (8_000.0, 10, "Gold", "Platinum"),
            (20_000.0, 20, "Platinum", "VIP"),
        ];
        for (spent, orders, below, at) in cases {
            assert_eq!(
                tiers_of(&segs, &all_time(orders, spent)),
                [format!("tier:{at}")]
            );
            assert_eq!(
                tiers_of(&segs, &all_time(orders, spent - 0.01)),
                [format!("tier:{below}")]
            );
            if orders > 1 {
                assert_eq!(
                    tiers_of(&segs, &all_time(orders - 1, spent)),
                    [format!("tier:{below}")]
                );
            }
        }
        assert!(
            tiers_of(&segs, &all_time(0, 0.0)).is_empty(),
            "never ordered: no tier"
        );
        assert_eq!(tiers_of(&segs, &all_time(500, 1e7)), ["tier:VIP"]);
    }

    proptest::proptest! {
        /// For any totals and any valid ladder, the definitions put a customer who ordered in
        /// exactly one tier, the one `tier_of` names, and one who never ordered in none.
        #[test]
        fn every_customer_is_in_exactly_the_tier_tier_of_names(
            orders in 0u32..60,
            spent_minor in 0u64..3_000_000,
            margin_bp in 100u32..=10_000,
            steps in proptest::collection::vec((1u32..5, 1u64..500_000), 1..=5),
        ) {
            let mut acc = (0u32, 0u64);
            let thresholds: Vec<TierThreshold> = steps
                .iter()
                .map(|(o, s)| {
                    acc = (acc.0 + o, acc.1 + s);
                    TierThreshold { min_spent_minor: Some(acc.1), min_orders: acc.0 }
                })
                .collect();
            let ladders = [
                preset_a(margin_bp).unwrap(),
                preset_b(),
                custom_ladder(OrderWindow::AllTime, &thresholds).unwrap(),
            ];
            let spent = spent_minor as f64 / 100.0;
            for ladder in &ladders {
                let segs = tier_segments(ladder, METRIC);
                let c = all_time(orders, spent);
                let expected: Vec<String> =
                    ladder.tier_of(spent_minor, orders).map(|t| format!("tier:{t}")).into_iter().collect();
                proptest::prop_assert_eq!(tiers_of(&segs, &c), expected);
            }
        }
    }

    #[test]
    fn preset_b_counts_the_last_12_months_only() {
        let segs = tier_segments(&preset_b(), METRIC);
        let keys: Vec<&str> = segs.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(
            keys,
            ["tier:Bronze", "tier:Silver", "tier:Gold", "tier:Platinum"]
        );
        for (orders, below, at) in [
            (6, "Bronze", "Silver"),
            (15, "Silver", "Gold"),
            (30, "Gold", "Platinum"),
        ] {
            let c = |n| Customer {
                all_time: (n + 40, 0.0),
                last_365: (n, 0.0),
                days_since_last_order: Some(3),
            };
            assert_eq!(tiers_of(&segs, &c(orders)), [format!("tier:{at}")]);
            assert_eq!(tiers_of(&segs, &c(orders - 1)), [format!("tier:{below}")]);
        }
        // Forty orders, none this year: back to Bronze, not out of every tier.
        let lapsed = Customer {
            all_time: (40, 0.0),
            last_365: (0, 0.0),
            days_since_last_order: Some(400),
        };
        assert_eq!(tiers_of(&segs, &lapsed), ["tier:Bronze"]);
    }

    #[test]
    fn churn_segments_are_nested_at_30_60_90_days() {
        let segs = churn_segments(METRIC);
        let quiet = |days| Customer {
            all_time: (2, 50.0),
            last_365: (2, 50.0),
            days_since_last_order: Some(days),
        };
        assert!(tiers_of(&segs, &quiet(29)).is_empty());
        assert_eq!(tiers_of(&segs, &quiet(30)), ["churn:30"]);
        assert_eq!(tiers_of(&segs, &quiet(59)), ["churn:30"]);
        assert_eq!(tiers_of(&segs, &quiet(60)), ["churn:30", "churn:60"]);
        assert_eq!(
            tiers_of(&segs, &quiet(90)),
            ["churn:30", "churn:60", "churn:90"]
        );
        let never = Customer {
            all_time: (0, 0.0),
            last_365: (0, 0.0),
            days_since_last_order: None,
        };
        assert!(
            tiers_of(&segs, &never).is_empty(),
            "never ordered is not churn"
        );
    }

    #[test]
    fn fractional_thresholds_are_sent_in_major_units() {
        let ladder = preset_a(3_000).unwrap();
        let segs = tier_segments(&ladder, METRIC);
        let bronze = &segs[1].definition["condition_groups"][1]["conditions"][0];
        assert_eq!(bronze["measurement"], "sum");
        assert_eq!(bronze["measurement_filter"]["value"], json!(333.34));
    }

    /// Every create and update body for every ladder validates strictly against the spec.
    #[test]
    fn every_body_is_spec_strict() {
        let spec = spec_check::Spec::shared();
        let t = |s, o| TierThreshold {
            min_spent_minor: s,
            min_orders: o,
        };
        let ladders = [
            preset_a(DEFAULT_MARGIN_BP).unwrap(),
            preset_a(3_333).unwrap(),
            preset_b(),
            custom_ladder(
                OrderWindow::Last365Days,
                &[t(Some(12_345), 2), t(Some(50_000), 4)],
            )
            .unwrap(),
        ];
        let mut checked = 0;
        for ladder in &ladders {
            for s in segments(ladder, METRIC) {
                assert!(s.name.starts_with(NAME_PREFIX));
                spec.validate_request("POST", "/api/segments", Some(&s.create_body()))
                    .unwrap_or_else(|e| panic!("{}: {e:?}", s.name));
                spec.validate_request(
                    "PATCH",
                    "/api/segments/Xy12Ab",
                    Some(&s.update_body("Xy12Ab")),
                )
                .unwrap_or_else(|e| panic!("{}: {e:?}", s.name));
                checked += 1;
            }
        }
        assert_eq!(checked, 6 + 3 + 6 + 3 + 4 + 3 + 3 + 3);
        // The validator does reject a wrong shape (the test above can fail).
        let mut bad = segments(&preset_b(), METRIC)[0].create_body();
        bad["data"]["attributes"]["definition"]["condition_groups"][0]["conditions"][0]["measurement"] =
            json!("avg");
        assert!(
            spec.validate_request("POST", "/api/segments", Some(&bad))
                .is_err()
        );
    }

    #[test]
    fn matching_ignores_nulls_klaviyo_adds() {
        let s = &churn_segments(METRIC)[0];
        let mut echoed = s.definition.clone();
        echoed["condition_groups"][0]["conditions"][0]["metric_filters"] = Value::Null;
        assert!(s.matches(&echoed));
        echoed["condition_groups"][1]["conditions"][0]["timeframe_filter"]["quantity"] = json!(31);
        assert!(!s.matches(&echoed));
    }
}
