//! Tier ladders: the presets and the merchant's own thresholds, validated.
//!
//! A ladder is a base tier (customers who ordered at least once and reached no rule) and up to
//! [`MAX_TIERS`] rules, each at least as demanding as the one below in every threshold and
//! more demanding in one. That nesting is what makes the tiers exclusive: a customer who meets
//! rule k+1 also meets rule k, so "meets rule k and not rule k+1" places every customer in
//! exactly one tier.

use serde::{Deserialize, Serialize};

use crate::MappingError;

/// Preset A's default average margin: lifetime value = total spent × 25 %.
pub const DEFAULT_MARGIN_BP: u32 = 2_500;
/// Most rules a ladder may have above its base tier.
pub const MAX_TIERS: usize = 5;
/// Highest order-count threshold a merchant may set.
pub const MAX_ORDERS: u32 = 10_000;
/// Highest spend threshold, in minor units (halalas): 100 million in the store's currency.
pub const MAX_SPENT_MINOR: u64 = 10_000_000_000;
/// Churn-risk segments: ordered at least once and not in the last N days.
pub const CHURN_DAYS: [u32; 3] = [30, 60, 90];

/// Which orders a ladder counts and sums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderWindow {
    AllTime,
    /// The last 365 days (Preset B's "orders per 12 months").
    #[serde(rename = "last_365_days")]
    Last365Days,
}

/// What a merchant sets for one tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierThreshold {
    /// Total spent (sum of Placed Order `$value`), minor units; `None` counts orders only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_spent_minor: Option<u64>,
    pub min_orders: u32,
}

/// One tier above the base, with its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierRule {
    /// English name, also the value of the tier profile property.
    pub name: &'static str,
    pub name_ar: &'static str,
    pub threshold: TierThreshold,
}

/// A validated ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    pub window: OrderWindow,
    pub base: (&'static str, &'static str),
    pub rules: Vec<TierRule>,
}

/// Names by position for Preset A and merchant thresholds.
const NAMES: [(&str, &str); MAX_TIERS] = [
    ("Bronze", "برونزي"),
    ("Silver", "فضي"),
    ("Gold", "ذهبي"),
    ("Platinum", "بلاتيني"),
    ("VIP", "كبار العملاء"),
];
const NEW: (&str, &str) = ("New", "جديد");

/// Preset A: lifetime value (total spent × margin) and orders, all time. `margin_bp` is the
/// average margin in basis points (2,500 = 25 %), 1 %–100 %.
pub fn preset_a(margin_bp: u32) -> Result<Ladder, MappingError> {
    if !(100..=10_000).contains(&margin_bp) {
        return Err(MappingError::WrongType {
            field: "margin",
            expected: "a margin from 1 % to 100 %",
        });
    }
    // (lifetime value in major units, orders)
    let steps: [(u64, u32); MAX_TIERS] = [(100, 1), (500, 3), (1_000, 5), (2_000, 10), (5_000, 20)];
    let thresholds: Vec<TierThreshold> = steps
        .iter()
        .map(|&(ltv, orders)| TierThreshold {
            min_spent_minor: Some(spent_for_ltv(ltv * 100, margin_bp)),
            min_orders: orders,
        })
        .collect();
    custom_ladder(OrderWindow::AllTime, &thresholds)
}

/// The spend at which `ltv_minor` of lifetime value is reached at `margin_bp`, rounded up to
/// the minor unit: amounts are whole minor units, so `spent ≥ this` is exactly
/// `spent × margin ≥ ltv`.
fn spent_for_ltv(ltv_minor: u64, margin_bp: u32) -> u64 {
    (ltv_minor * 10_000).div_ceil(u64::from(margin_bp))
}

/// Preset B: orders in the last 12 months; the base tier is Bronze (new customers included).
pub fn preset_b() -> Ladder {
    let rule = |name, name_ar, min_orders| TierRule {
        name,
        name_ar,
        threshold: TierThreshold {
            min_spent_minor: None,
            min_orders,
        },
    };
    Ladder {
        window: OrderWindow::Last365Days,
        base: NAMES[0],
        rules: vec![
            rule(NAMES[1].0, NAMES[1].1, 6),
            rule(NAMES[2].0, NAMES[2].1, 15),
            rule(NAMES[3].0, NAMES[3].1, 30),
        ],
    }
}

/// A merchant's own thresholds, lowest tier first (named Bronze, Silver, Gold, Platinum, VIP
/// in order; the base tier is New). Refused, naming the field, unless there are 1–5 tiers,
/// every tier needs 1–10,000 orders, spend is set on every tier or on none (0 < spend ≤ 100
/// million), and each tier is at least as demanding as the one below in both and more
/// demanding in one.
pub fn custom_ladder(
    window: OrderWindow,
    thresholds: &[TierThreshold],
) -> Result<Ladder, MappingError> {
    if thresholds.is_empty() || thresholds.len() > MAX_TIERS {
        return Err(MappingError::WrongType {
            field: "tiers",
            expected: "from 1 to 5 tiers",
        });
    }
    let with_spent = thresholds[0].min_spent_minor.is_some();
    for (i, t) in thresholds.iter().enumerate() {
        if !(1..=MAX_ORDERS).contains(&t.min_orders) {
            return Err(MappingError::WrongType {
                field: "tiers.min_orders",
                expected: "a whole number of orders from 1 to 10000",
            });
        }
        match t.min_spent_minor {
            Some(s) if s == 0 || s > MAX_SPENT_MINOR => {
                return Err(MappingError::WrongType {
                    field: "tiers.min_spent",
                    expected: "an amount above 0 and at most 100000000",
                });
            }
            s if s.is_some() != with_spent => {
                return Err(MappingError::WrongType {
                    field: "tiers.min_spent",
                    expected: "an amount on every tier or on none",
                });
            }
            _ => {}
        }
        if i > 0 {
            let below = thresholds[i - 1];
            let spent = (
                t.min_spent_minor.unwrap_or(0),
                below.min_spent_minor.unwrap_or(0),
            );
            let not_lower = t.min_orders >= below.min_orders && spent.0 >= spent.1;
            let higher = t.min_orders > below.min_orders || spent.0 > spent.1;
            if !(not_lower && higher) {
                return Err(MappingError::WrongType {
                    field: "tiers",
                    expected: "each tier at least as demanding as the one below, and more in one threshold",
                });
            }
        }
    }
    Ok(Ladder {
        window,
        base: NEW,
        rules: thresholds
            .iter()
            .zip(NAMES)
            .map(|(t, (name, name_ar))| TierRule {
                name,
                name_ar,
                threshold: *t,
            })
            .collect(),
    })
}

impl Ladder {
    /// The tier a customer with these totals is in, by the same rule the segments express
    /// (`None`: never ordered). Used to check the definitions and for the README's example.
    pub fn tier_of(&self, spent_minor: u64, orders: u32) -> Option<&'static str> {
        if orders == 0 {
            return None;
        }
        let meets = |t: &TierThreshold| {
            orders >= t.min_orders && t.min_spent_minor.is_none_or(|s| spent_minor >= s)
        };
        Some(
            self.rules
                .iter()
                .rev()
                .find(|r| meets(&r.threshold))
                .map_or(self.base.0, |r| r.name),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAR: u64 = 100;

    #[test]
    fn preset_a_spend_is_ltv_over_margin() {
        let a = preset_a(DEFAULT_MARGIN_BP).unwrap();
        let spent: Vec<u64> = a
            .rules
            .iter()
            .map(|r| r.threshold.min_spent_minor.unwrap() / SAR)
            .collect();
        assert_eq!(spent, [400, 2_000, 4_000, 8_000, 20_000]);
        let orders: Vec<u32> = a.rules.iter().map(|r| r.threshold.min_orders).collect();
        assert_eq!(orders, [1, 3, 5, 10, 20]);
        // 30 %: 100 / 0.3 = 333.33…, so 333.34 is the first amount whose LTV reaches 100.
        let a30 = preset_a(3_000).unwrap();
        assert_eq!(a30.rules[0].threshold.min_spent_minor, Some(33_334));
    }

    /// Each Preset A boundary: one halala or one order short stays in the tier below.
    #[test]
    fn preset_a_boundaries() {
        let a = preset_a(DEFAULT_MARGIN_BP).unwrap();
        let cases: [(u64, u32, &str, &str); 5] = [
            (400, 1, "New", "Bronze"),
            (2_000, 3, "Bronze", "Silver"),
            (4_000, 5, "Silver", "Gold"),
            (8_000, 10, "Gold", "Platinum"),
            (20_000, 20, "Platinum", "VIP"),
        ];
        for (spent, orders, below, at) in cases {
            assert_eq!(a.tier_of(spent * SAR, orders), Some(at), "{at} at");
            assert_eq!(
                a.tier_of(spent * SAR - 1, orders),
                Some(below),
                "{at} spend short"
            );
            if orders > 1 {
                assert_eq!(
                    a.tier_of(spent * SAR, orders - 1),
                    Some(below),
                    "{at} order short"
                );
            }
        }
        assert_eq!(a.tier_of(1_000_000 * SAR, 0), None);
    }

    /// The README's worked example ("CRM in your Klaviyo"), step by step.
    #[test]
    fn readme_worked_example() {
        let a = preset_a(DEFAULT_MARGIN_BP).unwrap();
        let b = preset_b();
        let mut spent = 0;
        let mut orders = 0;
        for (order, tier) in [
            (450, "Bronze"),
            (800, "Bronze"),
            (900, "Silver"),
            (700, "Silver"),
            (1_300, "Gold"),
        ] {
            spent += order * SAR;
            orders += 1;
            assert_eq!(
                a.tier_of(spent, orders),
                Some(tier),
                "after {orders} orders"
            );
            assert_eq!(b.tier_of(spent, orders), Some("Bronze"));
        }
        assert_eq!(a.tier_of(350 * SAR, 1), Some("New"));
    }

    #[test]
    fn preset_b_boundaries() {
        let b = preset_b();
        for (orders, below, at) in [
            (6, "Bronze", "Silver"),
            (15, "Silver", "Gold"),
            (30, "Gold", "Platinum"),
        ] {
            assert_eq!(b.tier_of(0, orders), Some(at));
            assert_eq!(b.tier_of(0, orders - 1), Some(below));
        }
        assert_eq!(b.tier_of(0, 1), Some("Bronze"));
    }

    #[test]
    fn merchant_thresholds_out_of_bounds_are_refused() {
        let t = |s: Option<u64>, o: u32| TierThreshold {
            min_spent_minor: s,
            min_orders: o,
        };
        let bad: [&[TierThreshold]; 8] = [
            &[],
            &[t(None, 1); 6],
            &[t(None, 0)],
            &[t(None, MAX_ORDERS + 1)],
            &[t(Some(0), 1)],
            &[t(Some(MAX_SPENT_MINOR + 1), 1)],
            &[t(Some(100), 1), t(None, 2)],
            &[t(Some(500), 3), t(Some(400), 5)],
        ];
        for thresholds in bad {
            let err = custom_ladder(OrderWindow::AllTime, thresholds).unwrap_err();
            assert!(
                matches!(err, MappingError::WrongType { .. }),
                "{thresholds:?}"
            );
        }
        // Equal to the tier below in everything: an empty tier.
        assert!(custom_ladder(OrderWindow::AllTime, &[t(None, 2), t(None, 2)]).is_err());
        assert!(preset_a(99).is_err());
        assert!(preset_a(10_001).is_err());
        let ok = custom_ladder(
            OrderWindow::Last365Days,
            &[t(Some(100), 2), t(Some(100), 4)],
        )
        .unwrap();
        assert_eq!(ok.rules[1].name, "Silver");
        assert_eq!(ok.base.0, "New");
    }
}
