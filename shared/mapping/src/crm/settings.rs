//! What the merchant chose for the tiers, as kept in the store's record: configuration only
//! (a preset, a margin, thresholds), naming no shopper.

use serde::{Deserialize, Serialize};

use super::tiers::{DEFAULT_MARGIN_BP, Ladder, OrderWindow, TierThreshold};
use super::tiers::{custom_ladder, preset_a, preset_b};
use crate::MappingError;

/// The merchant's tier choice. Stored as chosen and validated again whenever a ladder is
/// built from it, so a stored value can never reach Klaviyo unchecked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "preset", rename_all = "snake_case")]
pub enum CrmSettings {
    /// Lifetime value (total spent × the average margin) and orders, all time.
    A {
        /// Basis points: 2,500 = 25 %.
        margin_bp: u32,
    },
    /// Orders in the last 12 months.
    B,
    /// The merchant's own thresholds, lowest tier first.
    Custom {
        window: OrderWindow,
        tiers: Vec<TierThreshold>,
    },
}

impl Default for CrmSettings {
    /// Preset A at the default margin, what the page offers first.
    fn default() -> Self {
        CrmSettings::A {
            margin_bp: DEFAULT_MARGIN_BP,
        }
    }
}

impl CrmSettings {
    /// The validated ladder, or the error naming the field that is out of bounds.
    pub fn ladder(&self) -> Result<Ladder, MappingError> {
        match self {
            CrmSettings::A { margin_bp } => preset_a(*margin_bp),
            CrmSettings::B => Ok(preset_b()),
            CrmSettings::Custom { window, tiers } => custom_ladder(*window, tiers),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_build_their_ladder_or_name_the_field() {
        assert_eq!(
            CrmSettings::default().ladder().unwrap(),
            preset_a(DEFAULT_MARGIN_BP).unwrap()
        );
        assert_eq!(CrmSettings::B.ladder().unwrap(), preset_b());
        let err = CrmSettings::A { margin_bp: 50 }.ladder().unwrap_err();
        assert!(matches!(
            err,
            MappingError::WrongType {
                field: "margin",
                ..
            }
        ));
        let custom = |tiers: Vec<TierThreshold>| CrmSettings::Custom {
            window: OrderWindow::Last365Days,
            tiers,
        };
        let t = |min_spent_minor, min_orders| TierThreshold {
            min_spent_minor,
            min_orders,
        };
        let ladder = custom(vec![t(None, 2), t(None, 8)]).ladder().unwrap();
        assert_eq!(ladder.window, OrderWindow::Last365Days);
        assert_eq!(ladder.tier_of(0, 8), Some("Silver"));
        let err = custom(vec![t(None, 0)]).ladder().unwrap_err();
        assert!(matches!(
            err,
            MappingError::WrongType {
                field: "tiers.min_orders",
                ..
            }
        ));
        assert!(custom(vec![]).ladder().is_err());
    }

    /// The stored shape: a tag and plain values, nothing optional written when absent.
    #[test]
    fn settings_serialise_as_plain_tagged_values() {
        let a = serde_json::to_value(CrmSettings::default()).unwrap();
        assert_eq!(a, serde_json::json!({"preset": "a", "margin_bp": 2500}));
        let custom = CrmSettings::Custom {
            window: OrderWindow::AllTime,
            tiers: vec![
                TierThreshold {
                    min_spent_minor: None,
                    min_orders: 2,
                },
                TierThreshold {
                    min_spent_minor: Some(50_000),
                    min_orders: 4,
                },
            ],
        };
        let v = serde_json::to_value(&custom).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"preset": "custom", "window": "all_time", "tiers": [
                {"min_orders": 2}, {"min_spent_minor": 50000, "min_orders": 4}]})
        );
        assert_eq!(serde_json::from_value::<CrmSettings>(v).unwrap(), custom);
        let b = serde_json::to_value(CrmSettings::B).unwrap();
        assert_eq!(
            serde_json::from_value::<CrmSettings>(b).unwrap(),
            CrmSettings::B
        );
    }
}
