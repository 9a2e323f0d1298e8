//! The merchant's cash-on-delivery confirmation settings, as Salla's app settings form sends
//! them in `app.settings.updated` (`data.settings.cod_*`).
//!
//! Read leniently and field by field: a malformed value falls back to its default instead of
//! failing the delivery, because the same delivery carries the Klaviyo key, which must not be
//! lost over a mistyped lifetime. Salla's form fields arrive as booleans, `"1"`/`"0"`,
//! numbers or numeric strings depending on the field type, so each reader takes all of them.

use serde::{Deserialize, Serialize};

use crate::salla::json::{Json, JsonValueTrait};
use crate::salla::lenient::{self, get};

/// Settings fields (the names the app's settings form in the Partner Portal must use).
pub const COD_ENABLED_SETTING: &str = "cod_confirmation";
pub const COD_STATUS_SETTING: &str = "cod_confirmed_status";
pub const COD_CANCEL_SETTING: &str = "cod_allow_cancel";
pub const COD_HOURS_SETTING: &str = "cod_link_hours";

/// The Salla status a confirmed order moves to unless the merchant chose another.
pub const DEFAULT_CONFIRMED_STATUS: &str = "in_progress";
/// A link's default lifetime: three days, long enough for a weekend.
pub const DEFAULT_LINK_HOURS: u32 = 72;
/// Bounds of the lifetime a merchant may set: one hour to thirty days.
pub const LINK_HOURS: std::ops::RangeInclusive<u32> = 1..=720;

/// Statuses a confirmation must never move an order to: the ones it awaits in, and the
/// cancellation (a shopper's "yes" is not a "no").
const NOT_A_CONFIRMED_STATUS: [&str; 4] =
    ["under_review", "payment_pending", "canceled", "cancelled"];

/// What the merchant chose. Kept in the store's record: configuration, naming no shopper.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodSettings {
    /// Whether COD orders carry confirm/cancel links at all.
    pub enabled: bool,
    /// The Salla status slug a confirmed order moves to.
    pub confirmed_status: String,
    /// Whether the shopper may cancel from the link (without it, no cancel link is sent and
    /// an old one shows the store's contact advice instead).
    pub cancel_allowed: bool,
    /// How long a link works, in hours, from when Salla sent the order.
    pub link_hours: u32,
}

impl Default for CodSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            confirmed_status: DEFAULT_CONFIRMED_STATUS.to_owned(),
            cancel_allowed: true,
            link_hours: DEFAULT_LINK_HOURS,
        }
    }
}

impl CodSettings {
    pub fn link_lifetime_secs(&self) -> i64 {
        i64::from(
            self.link_hours
                .clamp(*LINK_HOURS.start(), *LINK_HOURS.end()),
        ) * 3600
    }

    /// The settings in `settings` (the `data.settings` object), or `None` when it holds none
    /// of the COD fields (an older form: keep what is held).
    pub fn from_settings(settings: &Json) -> Option<CodSettings> {
        let field = |name: &str| get(settings, &[name]).filter(|v| !v.is_null());
        let fields = [
            COD_ENABLED_SETTING,
            COD_STATUS_SETTING,
            COD_CANCEL_SETTING,
            COD_HOURS_SETTING,
        ];
        if fields.iter().all(|f| field(f).is_none()) {
            return None;
        }
        let defaults = CodSettings::default();
        Some(CodSettings {
            enabled: flag(field(COD_ENABLED_SETTING)).unwrap_or(defaults.enabled),
            confirmed_status: status(field(COD_STATUS_SETTING))
                .unwrap_or(defaults.confirmed_status),
            cancel_allowed: flag(field(COD_CANCEL_SETTING)).unwrap_or(defaults.cancel_allowed),
            link_hours: hours(field(COD_HOURS_SETTING)).unwrap_or(defaults.link_hours),
        })
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

/// A status slug: 1 to 40 lowercase ASCII letters, digits and `_`, never one of
/// [`NOT_A_CONFIRMED_STATUS`]. A select field may send `{"value": …}`; that is read too.
fn status(value: Option<&Json>) -> Option<String> {
    let value = value?;
    let text = lenient::text(Some(value)).or_else(|| lenient::text(value.get("value")))?;
    let slug = text.to_ascii_lowercase();
    let valid = (1..=40).contains(&slug.len())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !NOT_A_CONFIRMED_STATUS.contains(&slug.as_str());
    valid.then_some(slug)
}

fn hours(value: Option<&Json>) -> Option<u32> {
    let n = lenient::int(value).or_else(|| lenient::text(value)?.parse().ok())?;
    u32::try_from(n).ok().filter(|h| LINK_HOURS.contains(h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(settings: &str) -> Option<CodSettings> {
        let json: Json = crate::salla::json::parse(settings.as_bytes()).expect("json");
        CodSettings::from_settings(&json)
    }

    #[test]
    fn no_cod_field_keeps_what_is_held() {
        assert_eq!(read(r#"{"klaviyo_private_key":"pk_x"}"#), None);
        assert_eq!(read(r#"{"cod_confirmation":null}"#), None);
    }

    #[test]
    fn every_form_salla_sends_is_read() {
        let s = read(
            r#"{"cod_confirmation":"0","cod_confirmed_status":"Completed","cod_allow_cancel":false,"cod_link_hours":"24"}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            CodSettings {
                enabled: false,
                confirmed_status: "completed".into(),
                cancel_allowed: false,
                link_hours: 24,
            }
        );
        assert_eq!(s.link_lifetime_secs(), 24 * 3600);
        let s = read(r#"{"cod_confirmation":true,"cod_confirmed_status":{"value":"in_progress"},"cod_link_hours":48}"#).unwrap();
        assert!(s.enabled && s.cancel_allowed);
        assert_eq!(
            (s.confirmed_status.as_str(), s.link_hours),
            ("in_progress", 48)
        );
    }

    #[test]
    fn a_bad_value_falls_back_to_its_default_alone() {
        let s = read(
            r#"{"cod_confirmation":"maybe","cod_confirmed_status":"canceled","cod_allow_cancel":"off","cod_link_hours":0}"#,
        )
        .unwrap();
        assert_eq!(
            s,
            CodSettings {
                cancel_allowed: false,
                ..CodSettings::default()
            }
        );
        for bad in [
            r#""under_review""#,
            r#""in progress""#,
            r#""<b>""#,
            r#""""#,
            "7",
        ] {
            let s = read(&format!(r#"{{"cod_confirmed_status":{bad}}}"#));
            assert_eq!(
                s.map(|s| s.confirmed_status),
                Some(DEFAULT_CONFIRMED_STATUS.to_owned()),
                "{bad}"
            );
        }
        for bad in ["721", "-1", "1.5", r#""abc""#, r#""9999999999999""#] {
            let s = read(&format!(r#"{{"cod_link_hours":{bad}}}"#)).unwrap();
            assert_eq!(s.link_hours, DEFAULT_LINK_HOURS, "{bad}");
        }
        assert_eq!(read(r#"{"cod_link_hours":720}"#).unwrap().link_hours, 720);
        assert_eq!(read(r#"{"cod_link_hours":1}"#).unwrap().link_hours, 1);
    }
}
