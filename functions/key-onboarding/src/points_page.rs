//! The loyalty points rules on the merchant's page: a form that shows the rules held and
//! saves new ones. One source of truth with Salla's settings form, as for the key: a save is
//! stored and written back into the app's settings at Salla (the `points_*` fields the intake
//! reads), so the form shows the same rules and Salla's next settings event carries them.

use std::time::Instant;

use adapters::keystore::{self, IfAbsent, StoreRecord};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use mapping::points::{
    Award, MULTIPLIER_PERCENT, PERCENT, POINTS_AWARD_SETTING, POINTS_ENABLED_SETTING,
    POINTS_MULTIPLIER_PREFIX, POINTS_PERCENT_SETTING, POINTS_REVIEW_SETTING, PointsRules,
    REVIEW_POINTS, TierMultiplier,
};
use maud::{Markup, html};
use serde_json::Value;

use crate::i18n::{Lang, Theme};
use crate::page::Signed;
use crate::session::Session;
use crate::{Deps, view};

/// The tiers a multiplier may be set for, as the mapping names them.
const TIERS: [&str; 6] = ["New", "Bronze", "Silver", "Gold", "Platinum", "VIP"];

pub fn handles(action: &str) -> bool {
    action == "points_save"
}

/// What the last save came to, shown in the section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message {
    Saved,
    /// The field that is out of bounds; nothing was stored.
    Invalid(&'static str),
    NotConnected,
    StorageDown,
}

struct Texts {
    heading: &'static str,
    intro: &'static str,
    enabled: &'static str,
    percent: &'static str,
    review: &'static str,
    review_none: &'static str,
    award: &'static str,
    delivered: &'static str,
    completed: &'static str,
    multipliers: &'static str,
    multipliers_hint: &'static str,
    save: &'static str,
    saved: &'static str,
    invalid: &'static str,
    not_connected: &'static str,
    storage_down: &'static str,
}

static AR: Texts = Texts {
    heading: "نقاط الولاء",
    intro: "تُحسب النقاط من طلبات العميل وتقييماته في سلة، وتظهر في Klaviyo كأحداث ورصيد في ملف العميل. القواعد هنا هي نفسها في إعدادات التطبيق في سلة.",
    enabled: "تفعيل نقاط الولاء",
    percent: "نسبة النقاط من قيمة الطلب",
    review: "نقاط تقييم المنتج",
    review_none: "بدون",
    award: "تُمنح النقاط عند حالة",
    delivered: "تم التوصيل",
    completed: "تم التنفيذ",
    multipliers: "مضاعف الفئة (٪)",
    multipliers_hint: "من 100 إلى 300؛ اتركه فارغًا دون مضاعف.",
    save: "احفظ قواعد النقاط",
    saved: "حُفظت قواعد النقاط.",
    invalid: "قيمة غير مقبولة في الحقل:",
    not_connected: "اربط حساب Klaviyo أولًا.",
    storage_down: "تعذّر الحفظ الآن. حاول مرة أخرى بعد قليل.",
};

static EN: Texts = Texts {
    heading: "Loyalty points",
    intro: "Points are computed from the customer's orders and reviews at Salla, and appear in Klaviyo as events and a balance on the profile. These rules are the same as in the app's settings at Salla.",
    enabled: "Loyalty points on",
    percent: "Points, % of the order total",
    review: "Points per product review",
    review_none: "None",
    award: "Award points when the order is",
    delivered: "Delivered",
    completed: "Completed",
    multipliers: "Tier multiplier (%)",
    multipliers_hint: "100 to 300; leave empty for none.",
    save: "Save points rules",
    saved: "Points rules saved.",
    invalid: "Value not accepted in field:",
    not_connected: "Connect a Klaviyo account first.",
    storage_down: "Could not save just now. Please try again shortly.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

/// The section for a connected store, with the rules held (the defaults, off, when none).
pub fn section(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    if signed.klaviyo.is_none() {
        return html! {};
    }
    let rules = signed
        .record
        .and_then(|r| r.loyalty.clone())
        .unwrap_or_default();
    render(lang, theme, signed, &rules, None)
}

fn render(
    lang: Lang,
    theme: Theme,
    signed: &Signed<'_>,
    rules: &PointsRules,
    message: Option<Message>,
) -> Markup {
    let t = texts(lang);
    html! {
        section id="points" {
            h2 { (t.heading) }
            @match message {
                Some(Message::Saved) => div class="alert notice" id="points-notice" role="status" { (t.saved) },
                Some(Message::Invalid(field)) => div class="alert error" id="points-error" role="alert" {
                    (t.invalid) " " code { (field) }
                },
                Some(Message::NotConnected) => div class="alert error" id="points-error" role="alert" { (t.not_connected) },
                Some(Message::StorageDown) => div class="alert error" id="points-error" role="alert" { (t.storage_down) },
                None => {}
            }
            p class="hint" { (t.intro) }
            form method="post" id="points-form" {
                input type="hidden" name="csrf" value=(signed.csrf);
                input type="hidden" name="store_id" value=(signed.store_id);
                input type="hidden" name="lang" value=(lang.code());
                input type="hidden" name="theme" value=(theme.code());
                @if let Some(session) = signed.session {
                    input type="hidden" name="session" value=(session);
                }
                input type="hidden" name="action" value="points_save";
                label class="confirm" for="points_enabled" {
                    input type="checkbox" id="points_enabled" name="points_enabled" value="yes" checked[rules.enabled];
                    " " (t.enabled)
                }
                label for="points_percent" { (t.percent) }
                select id="points_percent" name="points_percent" {
                    @for p in PERCENT {
                        option value=(p) selected[rules.percent == p] { (p) " %" }
                    }
                }
                label for="points_review" { (t.review) }
                select id="points_review" name="points_review" {
                    option value="0" selected[rules.review_points == 0] { (t.review_none) }
                    @for p in (*REVIEW_POINTS.start()..=*REVIEW_POINTS.end()).step_by(5) {
                        option value=(p) selected[rules.review_points == p] { (p) }
                    }
                }
                label for="points_award" { (t.award) }
                select id="points_award" name="points_award_status" {
                    option value="delivered" selected[rules.award == Award::Delivered] { (t.delivered) }
                    option value="completed" selected[rules.award == Award::Completed] { (t.completed) }
                }
                fieldset {
                    legend { (t.multipliers) }
                    p class="hint" { (t.multipliers_hint) }
                    @for tier in TIERS {
                        @let name = multiplier_field(tier);
                        @let value = rules.multipliers.iter().find(|m| m.tier == tier).map(|m| m.percent.to_string()).unwrap_or_default();
                        label for=(name) { (tier) }
                        input type="text" inputmode="numeric" id=(name) name=(name) value=(value) maxlength="4";
                    }
                }
                button type="submit" class="primary" id="points-save" { (t.save) }
            }
        }
    }
}

fn multiplier_field(tier: &str) -> String {
    [POINTS_MULTIPLIER_PREFIX, &tier.to_ascii_lowercase()].concat()
}

/// The rules the form holds, or the first field out of bounds.
fn rules_from(form: &[(String, String)]) -> Result<PointsRules, &'static str> {
    let field = |name: &str| adapters::web::param(form, name).map(str::trim);
    let number = |name: &'static str| -> Result<Option<u64>, &'static str> {
        match field(name) {
            None | Some("") => Ok(None),
            Some(raw) => crate::crm_form::decimal(raw, 0).map(Some).ok_or(name),
        }
    };
    let percent = number(POINTS_PERCENT_SETTING)?
        .and_then(|p| u8::try_from(p).ok())
        .filter(|p| PERCENT.contains(p))
        .ok_or(POINTS_PERCENT_SETTING)?;
    let review_points = number(POINTS_REVIEW_SETTING)?
        .unwrap_or(0)
        .try_into()
        .ok()
        .filter(|p: &u8| *p == 0 || REVIEW_POINTS.contains(p))
        .ok_or(POINTS_REVIEW_SETTING)?;
    let award = match field(POINTS_AWARD_SETTING) {
        None | Some("delivered") => Award::Delivered,
        Some("completed") => Award::Completed,
        Some(_) => return Err(POINTS_AWARD_SETTING),
    };
    let mut multipliers = Vec::new();
    for tier in TIERS {
        let name: &'static str = match tier {
            "New" => "points_multiplier_new",
            "Bronze" => "points_multiplier_bronze",
            "Silver" => "points_multiplier_silver",
            "Gold" => "points_multiplier_gold",
            "Platinum" => "points_multiplier_platinum",
            _ => "points_multiplier_vip",
        };
        let Some(percent) = number(name)? else {
            continue;
        };
        let percent = u16::try_from(percent)
            .ok()
            .filter(|p| MULTIPLIER_PERCENT.contains(p))
            .ok_or(name)?;
        if percent != 100 {
            multipliers.push(TierMultiplier {
                tier: tier.to_owned(),
                percent,
            });
        }
    }
    Ok(PointsRules {
        enabled: field(POINTS_ENABLED_SETTING) == Some("yes"),
        percent,
        review_points,
        multipliers,
        award,
    })
}

/// The settings fields at Salla for `rules`, in the types the form declares. A tier's
/// multiplier the rules no longer have is cleared if `before` had it.
fn settings_fields(rules: &PointsRules, before: Option<&PointsRules>) -> Vec<(String, Value)> {
    let mut fields = vec![
        (
            POINTS_ENABLED_SETTING.to_owned(),
            Value::Bool(rules.enabled),
        ),
        (
            POINTS_PERCENT_SETTING.to_owned(),
            Value::from(rules.percent),
        ),
        (
            POINTS_REVIEW_SETTING.to_owned(),
            Value::from(rules.review_points),
        ),
        (
            POINTS_AWARD_SETTING.to_owned(),
            Value::from(match rules.award {
                Award::Delivered => "delivered",
                Award::Completed => "completed",
            }),
        ),
    ];
    for tier in TIERS {
        let now = rules.multipliers.iter().find(|m| m.tier == tier);
        let had = before.is_some_and(|b| b.multipliers.iter().any(|m| m.tier == tier));
        match now {
            Some(m) => fields.push((
                multiplier_field(tier),
                Value::from(format!("{}%", m.percent)),
            )),
            None if had => fields.push((multiplier_field(tier), Value::from(""))),
            None => {}
        }
    }
    fields
}

/// `points_save`, after the form's session, store and CSRF checks.
pub async fn post(
    deps: &Deps,
    (lang, theme): (Lang, Theme),
    session: &Session,
    form: &[(String, String)],
    started: Instant,
) -> Response<Body> {
    let store_id = session.store_id.as_str();
    let held = deps.keys.get(store_id).await;
    let (record, rules, message) = match held {
        Err(e) => {
            tracing::error!(event = "onboarding_read", store_id, error = %e);
            (None, PointsRules::default(), Message::StorageDown)
        }
        Ok(record) => match (record, rules_from(form)) {
            (Some(r), _) if r.klaviyo.is_none() => {
                (Some(r), PointsRules::default(), Message::NotConnected)
            }
            (None, _) => (None, PointsRules::default(), Message::NotConnected),
            (Some(r), Err(field)) => {
                let held = r.loyalty.clone().unwrap_or_default();
                (Some(r), held, Message::Invalid(field))
            }
            (Some(r), Ok(rules)) => save(deps, r, rules).await,
        },
    };
    let status = match message {
        Message::Saved => StatusCode::OK,
        Message::StorageDown => StatusCode::SERVICE_UNAVAILABLE,
        Message::Invalid(_) | Message::NotConnected => StatusCode::BAD_REQUEST,
    };
    let klaviyo = record.as_ref().and_then(|r| r.klaviyo.as_ref());
    let parts = view::Parts {
        klaviyo,
        mapping: None,
        health: None,
        record: record.as_ref(),
    };
    let resp = view::signed_in_with_section(
        deps,
        (lang, theme),
        status,
        session,
        parts,
        "points",
        |signed| render(lang, theme, signed, &rules, Some(message)),
    );
    let outcome = match message {
        Message::Saved => "points_saved",
        Message::Invalid(_) => "points_invalid",
        Message::NotConnected => "points_not_connected",
        Message::StorageDown => "points_storage_down",
    };
    tracing::info!(
        event = "onboarding",
        action = "points_save",
        store_id,
        outcome,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64,
    );
    resp
}

async fn save(
    deps: &Deps,
    record: StoreRecord,
    rules: PointsRules,
) -> (Option<StoreRecord>, PointsRules, Message) {
    let before = record.loyalty.clone();
    let store_id = record.store_id.clone();
    // Only onto a live record: `form::post` refused an uninstalled store, and one that
    // uninstalled since (or is gone) has no key to award points with.
    let written = keystore::update_live(deps.keys.as_ref(), &store_id, IfAbsent::Skip, |r| {
        r.loyalty = Some(rules.clone());
    })
    .await;
    match written {
        Ok(Err(_)) => (None, PointsRules::default(), Message::NotConnected),
        Ok(Ok(written)) => {
            if let Some(sync) = &deps.settings_sync {
                let fields = settings_fields(&rules, before.as_ref());
                let changes: Vec<(&str, Value)> = fields
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.clone()))
                    .collect();
                sync.write(&written, &changes).await;
            }
            (Some(written), rules, Message::Saved)
        }
        Err(e) => {
            tracing::error!(event = "onboarding_write", store_id = %store_id, error = %e);
            (Some(record), rules, Message::StorageDown)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_form_reads_into_rules_within_bounds() {
        let rules = rules_from(&form(&[
            ("points_enabled", "yes"),
            ("points_percent", "٣"),
            ("points_review", "10"),
            ("points_award_status", "completed"),
            ("points_multiplier_silver", "110"),
            ("points_multiplier_gold", ""),
            ("points_multiplier_vip", "100"),
        ]))
        .unwrap();
        assert!(rules.enabled);
        assert_eq!((rules.percent, rules.review_points), (3, 10));
        assert_eq!(rules.award, Award::Completed);
        assert_eq!(
            rules.multipliers,
            [TierMultiplier {
                tier: "Silver".into(),
                percent: 110
            }]
        );
        let off = rules_from(&form(&[("points_percent", "1")])).unwrap();
        assert!(!off.enabled);
        assert_eq!(off.review_points, 0);
    }

    #[test]
    fn a_value_out_of_bounds_names_its_field() {
        for (pairs, field) in [
            (vec![("points_percent", "6")], "points_percent"),
            (vec![("points_percent", "")], "points_percent"),
            (
                vec![("points_percent", "2"), ("points_review", "3")],
                "points_review",
            ),
            (
                vec![("points_percent", "2"), ("points_award_status", "shipped")],
                "points_award_status",
            ),
            (
                vec![("points_percent", "2"), ("points_multiplier_gold", "350")],
                "points_multiplier_gold",
            ),
            (
                vec![("points_percent", "2"), ("points_multiplier_new", "x2")],
                "points_multiplier_new",
            ),
        ] {
            assert_eq!(rules_from(&form(&pairs)), Err(field), "{pairs:?}");
        }
    }

    /// What is written to Salla reads back, through the intake's own parser, as the same
    /// rules (one source of truth).
    #[test]
    fn the_settings_written_read_back_as_the_same_rules() {
        let rules = PointsRules {
            enabled: true,
            percent: 4,
            review_points: 15,
            multipliers: vec![TierMultiplier {
                tier: "Platinum".into(),
                percent: 200,
            }],
            award: Award::Completed,
        };
        let before = PointsRules {
            multipliers: vec![TierMultiplier {
                tier: "Silver".into(),
                percent: 110,
            }],
            ..PointsRules::default()
        };
        let fields = settings_fields(&rules, Some(&before));
        let settings: serde_json::Map<String, Value> = fields.into_iter().collect();
        assert_eq!(settings["points_multiplier_silver"], "");
        let event = serde_json::json!({
            "event": "app.settings.updated",
            "merchant": 1803665367,
            "created_at": "2026-12-02 10:00:00",
            "data": {"settings": settings},
        });
        let envelope = mapping::parse_envelope(event.to_string().as_bytes()).unwrap();
        assert_eq!(mapping::points::rules_in(&envelope), Some(rules));
    }
}
