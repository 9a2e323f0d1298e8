//! The merchant's loyalty points rules, as Salla's app settings form sends them in
//! `app.settings.updated` (`data.settings.points_*`).
//!
//! Read leniently and field by field, like the COD settings: a malformed value falls back to
//! its default (or to "off" for a multiplier) instead of failing the delivery, because the
//! same delivery carries the Klaviyo key.

use serde::{Deserialize, Serialize};

use crate::salla::json::{Json, JsonValueTrait};
use crate::salla::lenient::{self, get};

/// Settings fields (the names the app's settings form in the Partner Portal must use).
pub const POINTS_ENABLED_SETTING: &str = "points_enabled";
pub const POINTS_PERCENT_SETTING: &str = "points_percent";
pub const POINTS_REVIEW_SETTING: &str = "points_review";
pub const POINTS_AWARD_SETTING: &str = "points_award_status";
/// Followed by a tier name in lowercase: `points_multiplier_silver`, `points_multiplier_vip`.
pub const POINTS_MULTIPLIER_PREFIX: &str = "points_multiplier_";

/// Points per 100 of order value a merchant may award: 1 % to 5 %.
pub const PERCENT: std::ops::RangeInclusive<u8> = 1..=5;
pub const DEFAULT_PERCENT: u8 = 1;
/// Points per product review: 5 to 20, or 0 for none.
pub const REVIEW_POINTS: std::ops::RangeInclusive<u8> = 5..=20;
/// A tier's multiplier as a percentage of the base award: 100 (none) to 300 (×3).
pub const MULTIPLIER_PERCENT: std::ops::RangeInclusive<u16> = 100..=300;

/// Tier names a multiplier may name (the ladder's names, see `crm::Ladder`).
const TIERS: [&str; 6] = ["New", "Bronze", "Silver", "Gold", "Platinum", "VIP"];

/// What the merchant chose. Kept in the store's record: configuration, naming no shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointsRules {
    pub enabled: bool,
    /// Percent of the order total awarded as points (one point per unit of the store's
    /// currency at 100 %), rounded down to whole points.
    pub percent: u8,
    /// Points per product review; 0 awards none.
    pub review_points: u8,
    /// Multipliers by tier name, in percent of the base award (110 = +10 %, 200 = ×2).
    #[serde(default)]
    pub multipliers: Vec<TierMultiplier>,
    /// The status at which an order's points are awarded.
    #[serde(default)]
    pub award: Award,
}

/// When an order earns: at Salla's `delivered` (the default), or already at `completed`
/// (تم التنفيذ), for merchants whose orders never reach `delivered`. Salla's shipping
/// statuses that follow `completed` keep the points earned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Award {
    #[default]
    Delivered,
    Completed,
}

impl Award {
    /// The status slugs at which an order holds its points.
    pub fn earning_statuses(self) -> &'static [&'static str] {
        match self {
            Award::Delivered => &["delivered"],
            Award::Completed => &["completed", "shipped", "delivering", "delivered"],
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierMultiplier {
    pub tier: String,
    pub percent: u16,
}

impl Default for PointsRules {
    fn default() -> Self {
        PointsRules {
            enabled: false,
            percent: DEFAULT_PERCENT,
            review_points: 0,
            multipliers: Vec::new(),
            award: Award::Delivered,
        }
    }
}

impl PointsRules {
    /// The multiplier in percent for `tier` (100 when none is set).
    pub fn multiplier(&self, tier: Option<&str>) -> u16 {
        tier.and_then(|t| self.multipliers.iter().find(|m| m.tier == t))
            .map_or(100, |m| m.percent)
    }

    /// The rules in `settings` (the `data.settings` object), or `None` when it holds none of
    /// the points fields (an older form: keep what is held).
    pub fn from_settings(settings: &Json) -> Option<PointsRules> {
        let field = |name: &str| get(settings, &[name]).filter(|v| !v.is_null());
        let multiplier_fields: Vec<(&str, String)> = TIERS
            .iter()
            .map(|t| {
                (
                    *t,
                    [POINTS_MULTIPLIER_PREFIX, &t.to_ascii_lowercase()].concat(),
                )
            })
            .collect();
        let any = [
            POINTS_ENABLED_SETTING,
            POINTS_PERCENT_SETTING,
            POINTS_REVIEW_SETTING,
            POINTS_AWARD_SETTING,
        ]
        .iter()
        .any(|f| field(f).is_some())
            || multiplier_fields.iter().any(|(_, f)| field(f).is_some());
        if !any {
            return None;
        }
        let defaults = PointsRules::default();
        let multipliers = multiplier_fields
            .iter()
            .filter_map(|(tier, f)| {
                let percent = multiplier(field(f))?;
                (percent != 100).then(|| TierMultiplier {
                    tier: (*tier).to_owned(),
                    percent,
                })
            })
            .collect();
        Some(PointsRules {
            enabled: flag(field(POINTS_ENABLED_SETTING)).unwrap_or(defaults.enabled),
            percent: small(field(POINTS_PERCENT_SETTING))
                .filter(|p| PERCENT.contains(p))
                .unwrap_or(defaults.percent),
            review_points: small(field(POINTS_REVIEW_SETTING))
                .filter(|p| *p == 0 || REVIEW_POINTS.contains(p))
                .unwrap_or(defaults.review_points),
            multipliers,
            award: award(field(POINTS_AWARD_SETTING)).unwrap_or(defaults.award),
        })
    }
}

/// `delivered` or `completed`, as text or a select's `{"value": …}`.
fn award(value: Option<&Json>) -> Option<Award> {
    let value = value?;
    let text = lenient::text(Some(value)).or_else(|| lenient::text(value.get("value")))?;
    match text.to_ascii_lowercase().as_str() {
        "delivered" => Some(Award::Delivered),
        "completed" => Some(Award::Completed),
        _ => None,
    }
}

fn flag(value: Option<&Json>) -> Option<bool> {
    lenient::flag(value).or_else(
        || match lenient::text(value)?.to_ascii_lowercase().as_str() {
            "on" | "yes" | "enabled" => Some(true),
            "off" | "no" | "disabled" => Some(false),
            _ => None,
        },
    )
}

/// A whole number 0–255 from a number, a numeric string, `"3%"` or a select's `{"value": …}`.
fn small(value: Option<&Json>) -> Option<u8> {
    let value = value?;
    let n = lenient::int(Some(value))
        .or_else(|| lenient::int(value.get("value")))
        .or_else(|| {
            let text = lenient::text(Some(value)).or_else(|| lenient::text(value.get("value")))?;
            text.trim().trim_end_matches('%').trim().parse().ok()
        })?;
    u8::try_from(n).ok()
}

/// A multiplier in percent: `110`, `"110"`, `"+10%"`, `"x2"`, `"×2"`, `"2x"`, `2` or `1.5`
/// (a number below 10 is a factor, anything else a percentage). Out of bounds → `None`.
fn multiplier(value: Option<&Json>) -> Option<u16> {
    let value = value?;
    let factor_or_percent = |x: f64| -> Option<u16> {
        let percent = if x < 10.0 { x * 100.0 } else { x };
        let p = percent.round();
        (p.is_finite() && p >= 0.0 && p <= f64::from(u16::MAX))
            .then_some(p as u16)
            .filter(|p| MULTIPLIER_PERCENT.contains(p))
    };
    if let Some(x) = lenient::number(Some(value)) {
        return factor_or_percent(x);
    }
    let text = lenient::text(Some(value))
        .or_else(|| lenient::text(value.get("value")))?
        .trim()
        .to_ascii_lowercase();
    if let Some(plus) = text.strip_prefix('+') {
        let pct: f64 = plus.trim_end_matches('%').trim().parse().ok()?;
        return factor_or_percent(100.0 + pct).filter(|_| pct >= 0.0);
    }
    let factor = text
        .strip_prefix('x')
        .or_else(|| text.strip_prefix('×'))
        .or_else(|| text.strip_suffix('x'))
        .or_else(|| text.strip_suffix('×'));
    if let Some(f) = factor {
        let f: f64 = f.trim().parse().ok()?;
        return factor_or_percent(f).filter(|_| f < 10.0);
    }
    factor_or_percent(text.trim_end_matches('%').trim().parse().ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(settings: &str) -> Option<PointsRules> {
        let json: Json = crate::salla::json::parse(settings.as_bytes()).expect("json");
        PointsRules::from_settings(&json)
    }

    #[test]
    fn no_points_field_keeps_what_is_held() {
        assert_eq!(read(r#"{"klaviyo_private_key":"pk_x"}"#), None);
        assert_eq!(read(r#"{"points_enabled":null}"#), None);
    }

    #[test]
    fn every_form_salla_sends_is_read() {
        let r = read(
            r#"{"points_enabled":"1","points_percent":"3","points_review":{"value":"10"},
                "points_multiplier_silver":"+10%","points_multiplier_platinum":"x2",
                "points_multiplier_gold":150,"points_multiplier_vip":2.5}"#,
        )
        .unwrap();
        assert!(r.enabled);
        assert_eq!((r.percent, r.review_points), (3, 10));
        assert_eq!(r.multiplier(Some("Silver")), 110);
        assert_eq!(r.multiplier(Some("Gold")), 150);
        assert_eq!(r.multiplier(Some("Platinum")), 200);
        assert_eq!(r.multiplier(Some("VIP")), 250);
        assert_eq!(r.multiplier(Some("Bronze")), 100);
        assert_eq!(r.multiplier(None), 100);
        assert_eq!(read(r#"{"points_percent":"5%"}"#).unwrap().percent, 5);
        assert_eq!(
            read(r#"{"points_award_status":"Completed"}"#)
                .unwrap()
                .award,
            Award::Completed
        );
        assert_eq!(
            read(r#"{"points_award_status":{"value":"delivered"}}"#)
                .unwrap()
                .award,
            Award::Delivered
        );
        assert_eq!(
            read(r#"{"points_award_status":"shipped"}"#).unwrap().award,
            Award::Delivered
        );
    }

    #[test]
    fn a_bad_value_falls_back_alone() {
        let r = read(
            r#"{"points_enabled":"maybe","points_percent":6,"points_review":4,
                "points_multiplier_silver":"lots","points_multiplier_gold":"x4",
                "points_multiplier_vip":"-10"}"#,
        )
        .unwrap();
        assert_eq!(r, PointsRules::default());
        for bad in ["0", "-1", "1.5", r#""abc""#, "300"] {
            let r = read(&format!(r#"{{"points_percent":{bad}}}"#)).unwrap();
            assert_eq!(r.percent, DEFAULT_PERCENT, "{bad}");
        }
        for (review, want) in [("0", 0), ("5", 5), ("20", 20), ("21", 0), ("3", 0)] {
            let r = read(&format!(r#"{{"points_review":{review}}}"#)).unwrap();
            assert_eq!(r.review_points, want, "{review}");
        }
        assert_eq!(read(r#"{"points_percent":1}"#).unwrap().percent, 1);
    }
}
