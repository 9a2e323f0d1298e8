//! The history-import section of the signed-in page: phase, a progress bar (a native
//! `<progress>`, no script), counts, start and end, the status with what a stop means for
//! the merchant, a gap repair in progress, and the re-run button when a re-run is allowed.
//! From [`HistoryProgress`] only: counts, times and an error code.

use adapters::history::start::{self, RerunRefused};
use adapters::history::{HistoryProgress, HistoryStatus, Phase};
use adapters::keystore::StoreRecord;
use maud::{Markup, html};

use crate::i18n::Lang;

struct Texts {
    heading: &'static str,
    waiting: &'static str,
    not_connected: &'static str,
    phase: &'static str,
    status: &'static str,
    customers: &'static str,
    orders: &'static str,
    products: &'static str,
    started: &'static str,
    finished: &'static str,
    of: &'static str,
    running: &'static str,
    stalled: &'static str,
    done: &'static str,
    stopped: &'static str,
    repair: &'static str,
    rerun_hint: &'static str,
    progress: &'static str,
}

static AR: Texts = Texts {
    heading: "استيراد السجل السابق",
    waiting: "يبدأ استيراد طلبات متجرك وعملائه السابقين تلقائيًا بعد اكتمال الربط.",
    not_connected: "يبدأ الاستيراد بعد ربط مفتاح Klaviyo صالح.",
    phase: "المرحلة",
    status: "الحالة",
    customers: "العملاء",
    orders: "الطلبات",
    products: "المنتجات",
    started: "بدأ",
    finished: "انتهى",
    of: "من",
    running: "قيد التنفيذ",
    stalled: "متوقف مؤقتًا: سيُستأنف تلقائيًا، أو أعد تشغيله الآن.",
    done: "اكتمل",
    stopped: "توقف",
    repair: "نعيد الآن إرسال الطلبات التي تعذر إرسالها مؤخرًا.",
    rerun_hint: "يعيد الاستيراد من البداية. لن يتكرر أي حدث في Klaviyo.",
    progress: "نسبة التقدم",
};

static EN: Texts = Texts {
    heading: "History import",
    waiting: "Your store's past orders and customers are imported automatically once the connection is complete.",
    not_connected: "The import starts once a valid Klaviyo key is connected.",
    phase: "Phase",
    status: "Status",
    customers: "Customers",
    orders: "Orders",
    products: "Products",
    started: "Started",
    finished: "Finished",
    of: "of",
    running: "Running",
    stalled: "Paused: it resumes by itself, or run it again now.",
    done: "Done",
    stopped: "Stopped",
    repair: "Orders that could not be sent recently are being sent again now.",
    rerun_hint: "Imports everything again from the start. No event is duplicated in Klaviyo.",
    progress: "Progress",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

fn phase_name(phase: Phase, lang: Lang) -> &'static str {
    let (ar, en) = match phase {
        Phase::Products => ("المنتجات", "Products"),
        Phase::Customers => ("العملاء", "Customers"),
        Phase::OrdersRecent => ("طلبات آخر 90 يومًا", "Orders of the last 90 days"),
        Phase::OrdersOlder => ("الطلبات الأقدم", "Older orders"),
    };
    match lang {
        Lang::Ar => ar,
        Lang::En => en,
    }
}

/// What a stop's error code means for the merchant and what to do about it.
pub fn stop_reason(code: &str, lang: Lang) -> String {
    let ar = lang == Lang::Ar;
    if let Some(scope) = code.strip_prefix("missing_scope:") {
        return if ar {
            format!(
                "ينقص التطبيقَ في سلة إذنُ {scope}. أعد تثبيت التطبيق من متجر تطبيقات سلة ووافق على كل الأذونات، ثم أعد تشغيل الاستيراد."
            )
        } else {
            format!(
                "The app is missing Salla's {scope} permission. Reinstall it from Salla's App Store, accept every permission, then run the import again."
            )
        };
    }
    let (a, e) = match code {
        "salla_token_revoked" | "salla_not_connected" => (
            "ألغت سلة صلاحية التطبيق على متجرك. أعد تثبيت التطبيق من لوحة تحكم سلة، ثم أعد تشغيل الاستيراد.",
            "Salla revoked the app's access to your store. Reinstall the app from your Salla dashboard, then run the import again.",
        ),
        "klaviyo_key_revoked" | "klaviyo_not_connected" => (
            "رفض Klaviyo المفتاح الخاص. الصق مفتاحًا جديدًا أدناه، ثم أعد تشغيل الاستيراد.",
            "Klaviyo rejected the private key. Paste a new key below, then run the import again.",
        ),
        _ => (
            "توقف الاستيراد بسبب خطأ غير متوقع. أعد تشغيله، وإن تكرر فتواصل مع الدعم واذكر الرمز أدناه.",
            "The import stopped on an unexpected error. Run it again; if it happens again, contact support with the code below.",
        ),
    };
    if ar { a.into() } else { e.into() }
}

/// Overall progress in percent: products first (a small share), then customers, then orders.
pub fn percent(h: &HistoryProgress) -> u64 {
    if h.status == HistoryStatus::Done {
        return 100;
    }
    let frac = |done: u64, total: u64| {
        done.min(total)
            .saturating_mul(100)
            .checked_div(total)
            .unwrap_or(0)
    };
    match h.phase {
        Phase::Products => 2,
        Phase::Customers => 5 + frac(h.customers_done, h.customers_total) * 25 / 100,
        Phase::OrdersRecent => 30 + frac(h.orders_done, h.orders_total) * 40 / 100,
        Phase::OrdersOlder => 70 + frac(h.orders_done, h.orders_total) * 29 / 100,
    }
}

/// The section; `rerun` is the re-run form, shown when [`start::rerun_allowed`] says so.
pub fn section(
    lang: Lang,
    record: Option<&StoreRecord>,
    now: i64,
    format_time: fn(i64) -> String,
    rerun: Markup,
) -> Markup {
    let t = texts(lang);
    let history = record.and_then(|r| r.history.as_ref());
    let allowed = record.map(|r| start::rerun_allowed(r, now));
    html! {
        section id="history" {
            h2 { (t.heading) }
            @match history {
                None => {
                    @if matches!(allowed, Some(Err(RerunRefused::NotConnected)) | None) {
                        p id="history-none" { (t.not_connected) }
                    } @else {
                        p id="history-none" { (t.waiting) }
                    }
                }
                Some(h) => {
                    @let pct = percent(h);
                    @let stalled = h.status == HistoryStatus::Running
                        && record.is_some_and(|r| start::import_stalled(r, now, start::IMPORT_STALE_SECS));
                    @let status = match h.status {
                        HistoryStatus::Running => t.running,
                        HistoryStatus::Done => t.done,
                        HistoryStatus::Stopped => t.stopped,
                    };
                    div class="bar" {
                        progress id="history-progress" value=(pct) max="100" aria-label=(t.progress) { (pct) "%" }
                        span id="history-percent" { bdi dir="ltr" { (pct) "%" } }
                    }
                    dl {
                        dt { (t.status) }
                        dd id="history-status" data-status=(h.status.as_str()) { (status) }
                        @if h.status == HistoryStatus::Running {
                            dt { (t.phase) }
                            dd id="history-phase" data-phase=(h.phase.as_str()) { (phase_name(h.phase, lang)) }
                        }
                        dt { (t.products) }
                        dd id="history-products" { (h.products_done) }
                        dt { (t.customers) }
                        dd id="history-customers" { (h.customers_done) " " (t.of) " " (h.customers_total) }
                        dt { (t.orders) }
                        dd id="history-orders" { (h.orders_done) " " (t.of) " " (h.orders_total) }
                        dt { (t.started) }
                        dd { bdi dir="ltr" { (format_time(h.started_at)) } }
                        @if let Some(at) = h.finished_at {
                            dt { (t.finished) }
                            dd id="history-finished" { bdi dir="ltr" { (format_time(at)) } }
                        }
                    }
                    @if stalled {
                        div class="alert warn" id="history-stalled" { (t.stalled) }
                    }
                    @if h.status == HistoryStatus::Stopped {
                        div class="alert error" id="history-error" {
                            (stop_reason(h.last_error.as_deref().unwrap_or(""), lang))
                            @if let Some(code) = &h.last_error {
                                " " code { (code) }
                            }
                        }
                    }
                    @if h.repair_from.is_some() {
                        div class="alert notice" id="history-repair" { (t.repair) }
                    }
                }
            }
            @if history.is_some() && matches!(allowed, Some(Ok(()))) {
                p class="hint" { (t.rerun_hint) }
                (rerun)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::Secret;
    use adapters::keystore::{KlaviyoConnection, SallaTokens};

    fn time(unix: i64) -> String {
        format!("t{unix}")
    }

    fn record(history: Option<HistoryProgress>) -> StoreRecord {
        let mut r = StoreRecord::new("42");
        r.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new("pk_x_ABCD"),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        });
        r.salla = Some(SallaTokens {
            access_token: Secret::new("a"),
            refresh_token: Secret::new("r"),
            expires_at: i64::MAX / 2,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        });
        r.history = history;
        r
    }

    fn form() -> Markup {
        html! { form id="rerun-form" {} }
    }

    fn mid_import(now: i64) -> HistoryProgress {
        let mut h = HistoryProgress::started(now - 600);
        h.phase = Phase::OrdersRecent;
        h.orders_done = 250;
        h.orders_total = 1000;
        h.customers_done = 400;
        h.customers_total = 400;
        h.products_done = 37;
        h.updated_at = now - 5;
        h
    }

    #[test]
    fn a_running_import_shows_its_phase_counts_and_bar_without_a_rerun() {
        let now = 1_800_000_000;
        let r = record(Some(mid_import(now)));
        for lang in [Lang::Ar, Lang::En] {
            let html = section(lang, Some(&r), now, time, form()).into_string();
            assert!(html.contains(r#"value="40" max="100""#), "{html}");
            assert!(html.contains(r#"data-status="running""#));
            assert!(html.contains(r#"data-phase="orders_recent""#));
            assert!(html.contains(">250 ") && html.contains(" 1000<"));
            assert!(html.contains(&format!("t{}", now - 600)));
            assert!(!html.contains("rerun-form"), "refused while running");
            assert!(!html.contains("history-stalled"));
        }
        // An hour without a save: stalled, and a re-run is offered.
        let later = now - 5 + start::IMPORT_STALE_SECS;
        let html = section(Lang::En, Some(&r), later, time, form()).into_string();
        assert!(html.contains("history-stalled") && html.contains("rerun-form"));
    }

    #[test]
    fn a_stop_is_explained_in_the_merchants_language_with_what_to_do() {
        let now = 1_800_000_000;
        for (code, ar, en) in [
            (
                "salla_token_revoked",
                "أعد تثبيت التطبيق",
                "Reinstall the app",
            ),
            (
                "missing_scope:orders.read",
                "orders.read",
                "orders.read permission",
            ),
            (
                "klaviyo_key_revoked",
                "الصق مفتاحًا جديدًا",
                "Paste a new key",
            ),
            ("salla_http_422", "تواصل مع الدعم", "contact support"),
        ] {
            let mut h = mid_import(now);
            h.status = HistoryStatus::Stopped;
            h.last_error = Some(code.into());
            h.finished_at = Some(now - 1);
            let r = record(Some(h));
            let html_ar = section(Lang::Ar, Some(&r), now, time, form()).into_string();
            let html_en = section(Lang::En, Some(&r), now, time, form()).into_string();
            assert!(html_ar.contains(ar), "{code}: {html_ar}");
            assert!(html_en.contains(en), "{code}: {html_en}");
            assert!(html_en.contains(&format!("<code>{code}</code>")));
            assert!(html_en.contains("rerun-form") && html_en.contains("history-finished"));
        }
    }

    #[test]
    fn done_is_full_a_repair_is_shown_and_nothing_yet_says_when_it_starts() {
        let now = 1_800_000_000;
        let mut h = mid_import(now);
        h.status = HistoryStatus::Done;
        h.repair_from = Some(now - 100);
        let r = record(Some(h));
        let html = section(Lang::En, Some(&r), now, time, form()).into_string();
        assert!(html.contains(r#"value="100""#) && html.contains("history-repair"));
        let html = section(Lang::En, Some(&record(None)), now, time, form()).into_string();
        assert!(html.contains("automatically once the connection is complete"));
        assert!(!html.contains("<progress") && !html.contains("rerun-form"));
        let mut unkeyed = record(None);
        unkeyed.klaviyo = None;
        let html = section(Lang::Ar, Some(&unkeyed), now, time, form()).into_string();
        assert!(html.contains(AR.not_connected));
    }

    #[test]
    fn percent_grows_through_the_phases() {
        let mut h = HistoryProgress::started(0);
        let mut seen = vec![percent(&h)];
        h.phase = Phase::Customers;
        h.customers_total = 10;
        h.customers_done = 10;
        seen.push(percent(&h));
        h.phase = Phase::OrdersRecent;
        h.orders_total = 4;
        h.orders_done = 4;
        seen.push(percent(&h));
        h.phase = Phase::OrdersOlder;
        h.orders_total = 8;
        h.orders_done = 8;
        seen.push(percent(&h));
        h.status = HistoryStatus::Done;
        seen.push(percent(&h));
        assert_eq!(seen, [2, 30, 70, 99, 100]);
    }
}
