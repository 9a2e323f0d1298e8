//! The onboarding page's HTML: status, key form, disconnect, how-to. One self-contained
//! document (inline CSS, no scripts, no external assets) that reads well on a phone and inside
//! Salla's dashboard frame. Written with `maud`: every interpolated value is escaped unless
//! marked otherwise, and only the fixed stylesheet is.

use adapters::keystore::KlaviyoConnection;
use adapters::klaviyo::REQUIRED_SCOPES;
use adapters::session::StoreLabel;
use maud::{Markup, PreEscaped, html};

use crate::i18n::{Lang, Notice, Problem, Theme};

/// What a signed-in page shows.
pub struct Signed<'a> {
    pub store_id: &'a str,
    /// Name and domain from Salla at sign-in, for the merchant to confirm.
    pub store: &'a StoreLabel,
    pub klaviyo: Option<&'a KlaviyoConnection>,
    /// CSRF token for this session's forms.
    pub csrf: &'a str,
    /// The session token itself, for a page opened inside Salla's dashboard: its forms carry
    /// the session, since a browser may refuse our cookie in a third-party frame.
    pub session: Option<&'a str>,
    /// The store's sync health and the time it was read, when it could be.
    pub health: Option<(&'a adapters::health::Health, i64)>,
    /// Klaviyo's metric mapping, for a connected key.
    pub mapping: Option<&'a crate::metric_mapping::MappingView>,
    /// The store's record as read (its history progress and whether a re-run is allowed);
    /// `None` when the store has none.
    pub record: Option<&'a adapters::keystore::StoreRecord>,
    /// Unix seconds the page was drawn at.
    pub now: i64,
}

pub struct View<'a> {
    pub lang: Lang,
    /// Salla's dashboard theme (`theme=light|dark`).
    pub theme: Theme,
    /// `None`: no valid session, so no status and no forms.
    pub signed: Option<Signed<'a>>,
    pub notice: Option<Notice>,
    pub problem: Option<Problem>,
}

/// The two palettes, as CSS custom properties. Every text colour meets WCAG AA (4.5:1) on
/// the background it is drawn on (`tests::palettes_meet_wcag_aa`).
pub(crate) const LIGHT: &[(&str, &str)] = &[
    ("bg", "#f6f7f9"),
    ("fg", "#1d2330"),
    ("card", "#ffffff"),
    ("line", "#e3e6eb"),
    ("muted", "#5b6472"),
    ("link", "#1849a9"),
    ("input", "#c5cbd3"),
    ("err-bg", "#fdecec"),
    ("err-line", "#f3b9b9"),
    ("err-fg", "#8a1c1c"),
    ("ok-bg", "#e8f6ee"),
    ("ok-line", "#a8dcbc"),
    ("ok-fg", "#135c32"),
    ("warn-bg", "#fff6e0"),
    ("warn-line", "#f0d48a"),
    ("warn-fg", "#6b4b00"),
    ("btn-bg", "#1d2330"),
    ("btn-fg", "#ffffff"),
    ("danger", "#a11c1c"),
    ("danger-line", "#e0a3a3"),
    ("bar", "#1d6b4f"),
];

pub(crate) const DARK: &[(&str, &str)] = &[
    ("bg", "#121417"),
    ("fg", "#e6e8eb"),
    ("card", "#1c1f24"),
    ("line", "#30353d"),
    ("muted", "#a3abb8"),
    ("link", "#8ab4ff"),
    ("input", "#4a515c"),
    ("err-bg", "#3a1618"),
    ("err-line", "#6e2a2e"),
    ("err-fg", "#ffb4b4"),
    ("ok-bg", "#10301f"),
    ("ok-line", "#2a6a47"),
    ("ok-fg", "#9be3b8"),
    ("warn-bg", "#33290c"),
    ("warn-line", "#6b5416"),
    ("warn-fg", "#f5d88a"),
    ("btn-bg", "#e6e8eb"),
    ("btn-fg", "#121417"),
    ("danger", "#ff9b9b"),
    ("danger-line", "#6e2a2e"),
    ("bar", "#4cc38a"),
];

const RULES: &str = "\
*{box-sizing:border-box}\
body{margin:0;font-family:system-ui,-apple-system,\"Segoe UI\",Tahoma,\"Noto Sans Arabic\",sans-serif;background:var(--bg);color:var(--fg);line-height:1.6;font-size:16px}\
main{max-width:640px;margin:0 auto;padding:16px}\
header{display:flex;justify-content:space-between;align-items:center;gap:12px;margin:8px 0 16px}\
h1{font-size:1.3rem;margin:0}\
h2{font-size:1.05rem;margin:0 0 10px}\
section{background:var(--card);border:1px solid var(--line);border-radius:12px;padding:16px;margin-bottom:14px}\
.alert{border-radius:10px;padding:12px 14px;margin-bottom:14px;font-weight:500}\
.error{background:var(--err-bg);border:1px solid var(--err-line);color:var(--err-fg)}\
.notice{background:var(--ok-bg);border:1px solid var(--ok-line);color:var(--ok-fg)}\
.warn{background:var(--warn-bg);border:1px solid var(--warn-line);color:var(--warn-fg)}\
.badge{display:inline-block;background:var(--ok-bg);color:var(--ok-fg);border-radius:999px;padding:2px 10px;font-size:.85rem;font-weight:600}\
dl{margin:8px 0 0;display:grid;grid-template-columns:max-content 1fr;gap:4px 12px}\
dt{color:var(--muted)}dd{margin:0;overflow-wrap:anywhere}\
label{display:block;font-weight:600;margin-bottom:6px}\
label.confirm{font-weight:500;margin:0 0 12px}\
input[type=password]{width:100%;font-size:1rem;padding:10px 12px;border:1px solid var(--input);border-radius:8px;direction:ltr;text-align:left;background:var(--card);color:var(--fg)}\
.hint{color:var(--muted);font-size:.9rem;margin:6px 0 12px}\
button{font-size:1rem;padding:10px 18px;border-radius:8px;border:0;cursor:pointer;min-height:44px}\
.primary{background:var(--btn-bg);color:var(--btn-fg)}\
.secondary{background:var(--card);color:var(--fg);border:1px solid var(--input)}\
.danger{background:var(--card);color:var(--danger);border:1px solid var(--danger-line)}\
ol{padding-inline-start:20px;margin:0}li{margin-bottom:6px}\
ul.scopes{list-style:none;padding:0;margin:8px 0}\
ul.scopes li{display:flex;justify-content:space-between;gap:8px;border-bottom:1px dashed var(--line);padding:4px 0}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;direction:ltr;unicode-bidi:isolate}\
footer{color:var(--muted);font-size:.85rem;text-align:center;padding:8px 0 16px}\
table{width:100%;border-collapse:collapse;margin:8px 0}\
th,td{text-align:start;padding:4px 6px;border-bottom:1px solid var(--line);font-size:.92rem}\
th{color:var(--muted);font-weight:600}\
#chart rect{fill:var(--bar)}#chart rect[fill=\"#e3e6eb\"]{fill:var(--line)}\
.bar{display:flex;align-items:center;gap:10px}\
progress{flex:1;height:14px;accent-color:var(--bar)}\
a{color:var(--link)}";

/// The stylesheet: both palettes, chosen by the root element's class, and the rules.
fn style() -> &'static str {
    static STYLE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let vars = |palette: &[(&str, &str)]| {
            palette
                .iter()
                .map(|(name, value)| format!("--{name}:{value};"))
                .collect::<String>()
        };
        format!(
            ":root{{color-scheme:light;{}}}:root.dark{{color-scheme:dark;{}}}{RULES}",
            vars(LIGHT),
            vars(DARK)
        )
    });
    &STYLE
}

pub fn render(view: &View<'_>) -> String {
    let lang = view.lang;
    let theme = view.theme;
    let t = lang.texts();
    let other = match lang {
        Lang::Ar => "en",
        Lang::En => "ar",
    };
    let page = html! {
        (PreEscaped("<!doctype html>\n"))
        html lang=(lang.code()) dir=(lang.dir()) class=[theme.class()] {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (t.title) }
                style { (PreEscaped(style())) }
            }
            body {
                main {
                    header {
                        h1 { (t.title) }
                        a href={ "?lang=" (other) (theme.query_suffix()) } hreflang=(other) { (t.other_lang_label) }
                    }
                    @if let Some(problem) = view.problem {
                        div class="alert error" id="error" role="alert" { (t.problem(problem)) }
                    }
                    @if let Some(notice) = view.notice {
                        div class="alert notice" id="notice" role="status" { (t.notice(notice)) }
                    }
                    @if let Some(signed) = &view.signed {
                        (status(lang, signed))
                        @if let (Some(_), Some((health, now))) = (signed.klaviyo, signed.health) {
                            (crate::health_view::section(lang, health, now, format_time))
                        }
                        @if let Some(mapping) = signed.mapping {
                            (crate::metric_mapping::section(lang, mapping))
                        }
                        (crate::history_view::section(lang, signed.record, signed.now, format_time, rerun_form(lang, theme, signed)))
                        @if signed.klaviyo.is_some_and(|k| !k.needs_reconnect) {
                            (test_event_form(lang, theme, signed))
                        }
                        (key_form(lang, theme, signed))
                        @if signed.klaviyo.is_some() {
                            (disconnect_form(lang, theme, signed))
                        }
                        (crate::crm_view::section(lang, theme, signed))
                        (crate::points_page::section(lang, theme, signed))
                    }
                    (help(lang))
                    footer { (t.privacy) }
                }
            }
        }
    };
    let mut html = page.into_string();
    html.push('\n');
    html
}

fn status(lang: Lang, signed: &Signed<'_>) -> Markup {
    let t = lang.texts();
    html! {
        section id="status" {
            h2 { (t.status_heading) }
            @match signed.klaviyo {
                Some(k) => {
                    @if k.needs_reconnect {
                        div class="alert warn" id="reconnect" { (t.reconnect_needed) }
                    } @else {
                        span class="badge" id="connected" { (t.connected) }
                    }
                    dl {
                        dt { (t.account) }
                        dd id="account" {
                            (k.account_name.as_deref().or(k.account_id.as_deref()).unwrap_or("—"))
                        }
                        dt { (t.key_ending) }
                        dd { code id="last4" { "••••" (k.private_key.last4()) } }
                        dt { (t.last_checked) }
                        dd { bdi dir="ltr" { (format_time(k.validated_at)) } }
                        (store_rows(lang, signed))
                    }
                }
                None => {
                    p id="not-connected" { (t.not_connected) }
                    dl { (store_rows(lang, signed)) }
                }
            }
        }
    }
}

/// The key input is always empty: the stored key never travels back to the browser.
fn key_form(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    let t = lang.texts();
    let heading = if signed.klaviyo.is_some() {
        t.form_heading_replace
    } else {
        t.form_heading_new
    };
    html! {
        section {
            h2 { (heading) }
            form method="post" id="save-form" {
                (hidden_fields(lang, theme, signed))
                input type="hidden" name="action" value="save";
                label for="private_key" { (t.key_label) }
                input type="password" id="private_key" name="private_key" autocomplete="off"
                    spellcheck="false" autocapitalize="off" placeholder="pk_…" maxlength="200" required;
                p class="hint" { (t.key_hint) }
                label class="confirm" for="confirm_store" {
                    input type="checkbox" id="confirm_store" name="confirm_store" value="yes" required;
                    " " (t.confirm_store) " "
                    bdi id="confirm-store-name" { (store_title(signed)) }
                }
                button type="submit" class="primary" id="save" { (t.save) }
            }
        }
    }
}

/// The store as the merchant knows it: name and domain when Salla gave them, the id always.
fn store_rows(lang: Lang, signed: &Signed<'_>) -> Markup {
    let t = lang.texts();
    html! {
        @if let Some(name) = &signed.store.name {
            dt { (t.store_name) }
            dd id="store-name" { bdi { (name) } }
        }
        @if let Some(domain) = &signed.store.domain {
            dt { (t.store_domain) }
            dd id="store-domain" { bdi dir="ltr" { (domain) } }
        }
        dt { (t.store) }
        dd { code { (signed.store_id) } }
    }
}

/// `name (domain)`, or the store id when Salla named neither.
fn store_title(signed: &Signed<'_>) -> String {
    match (&signed.store.name, &signed.store.domain) {
        (Some(name), Some(domain)) => format!("{name} ({domain})"),
        (Some(only), None) | (None, Some(only)) => only.clone(),
        (None, None) => signed.store_id.to_string(),
    }
}

fn disconnect_form(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    let t = lang.texts();
    html! {
        section {
            h2 { (t.disconnect_heading) }
            p class="hint" { (t.disconnect_text) }
            form method="post" id="disconnect-form" {
                (hidden_fields(lang, theme, signed))
                input type="hidden" name="action" value="disconnect";
                button type="submit" class="danger" id="disconnect" { (t.disconnect) }
            }
        }
    }
}

/// The store id ties the form to the store it was rendered for (two stores open in two tabs
/// share one cookie); the CSRF token ties it to the session.
fn hidden_fields(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    html! {
        input type="hidden" name="csrf" value=(signed.csrf);
        input type="hidden" name="store_id" value=(signed.store_id);
        input type="hidden" name="lang" value=(lang.code());
        input type="hidden" name="theme" value=(theme.code());
        @if let Some(session) = signed.session {
            input type="hidden" name="session" value=(session);
        }
    }
}

/// "Import again": shown by the history section only when a re-run is allowed.
fn rerun_form(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    html! {
        form method="post" id="rerun-form" {
            (hidden_fields(lang, theme, signed))
            input type="hidden" name="action" value="rerun_import";
            button type="submit" class="secondary" id="rerun" { (lang.texts().rerun) }
        }
    }
}

/// One event to Klaviyo, to see the connection work end to end.
fn test_event_form(lang: Lang, theme: Theme, signed: &Signed<'_>) -> Markup {
    let t = lang.texts();
    html! {
        section id="test-event" {
            h2 { (t.test_heading) }
            p class="hint" { (t.test_text) }
            form method="post" id="test-event-form" {
                (hidden_fields(lang, theme, signed))
                input type="hidden" name="action" value="test_event";
                button type="submit" class="secondary" id="send-test" { (t.test_send) }
            }
        }
    }
}

fn help(lang: Lang) -> Markup {
    let t = lang.texts();
    let [first, second, scopes_step] = t.help_steps;
    html! {
        section id="help" {
            h2 { (t.help_heading) }
            ol {
                li { (first) }
                li { (second) }
                li {
                    (scopes_step)
                    ul class="scopes" aria-label=(t.help_scopes) {
                        @for scope in REQUIRED_SCOPES {
                            li {
                                code { (scope) }
                                span {
                                    @if scope.ends_with(":read") { (t.scope_read) } @else { (t.scope_full) }
                                }
                            }
                        }
                    }
                }
                li { (t.help_last) }
            }
        }
    }
}

/// `2026-11-23 09:42 UTC`: unambiguous in both languages.
fn format_time(unix: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(format).ok())
        .unwrap_or_else(|| "—".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::Secret;

    #[test]
    fn connected_page_shows_metadata_but_not_the_key_and_escapes() {
        let k = KlaviyoConnection {
            private_key: Secret::new("pk_secret_value_WXYZ"),
            account_name: Some("<script>x</script> متجر".into()),
            account_id: Some("AbC".into()),
            validated_at: 1_795_000_000,
            needs_reconnect: true,
        };
        let html = render(&View {
            lang: Lang::Ar,
            theme: Theme::Light,
            signed: Some(Signed {
                store_id: "42",
                store: &StoreLabel::new(Some("متجر <i>"), Some("https://salla.sa/x")),
                klaviyo: Some(&k),
                csrf: "c\"srf",
                session: None,
                health: None,
                mapping: None,
                record: None,
                now: 0,
            }),
            notice: None,
            problem: Some(Problem::InvalidKey),
        });
        assert!(html.contains("dir=\"rtl\""));
        assert!(html.contains("••••WXYZ"));
        assert!(!html.contains("pk_secret_value"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt; متجر"));
        assert!(html.contains("value=\"c&quot;srf\""));
        assert!(html.contains("id=\"reconnect\""));
        assert!(html.contains("2026-11-18 "));
        // The store to confirm: name and domain, escaped, beside a required box.
        assert!(html.contains("<dd id=\"store-name\"><bdi>متجر &lt;i&gt;</bdi></dd>"));
        assert!(html.contains("https://salla.sa/x"));
        assert!(html.contains("name=\"confirm_store\" value=\"yes\" required"));
        assert!(html.contains("متجر &lt;i&gt; (https://salla.sa/x)"));
        assert!(html.contains(&crate::i18n::AR.problem(Problem::InvalidKey)));
    }

    /// A hostile store id or account name is text on the page, in content and attributes.
    #[test]
    fn hostile_values_are_escaped_everywhere() {
        let k = KlaviyoConnection {
            private_key: Secret::new("pk_secret<b>"),
            account_name: Some("\"><script>alert(1)</script>".into()),
            account_id: None,
            validated_at: 0,
            needs_reconnect: false,
        };
        let html = render(&View {
            lang: Lang::En,
            theme: Theme::Light,
            signed: Some(Signed {
                store_id: "1\"><img src=x onerror=alert(2)>",
                store: &StoreLabel::new(Some("<img src=y>"), Some("\"><script>alert(3)</script>")),
                klaviyo: Some(&k),
                csrf: "<csrf>",
                session: Some("<session>"),
                health: None,
                mapping: None,
                record: None,
                now: 0,
            }),
            notice: Some(Notice::Saved),
            problem: None,
        });
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<img"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("value=\"1&quot;&gt;&lt;img src=x onerror=alert(2)&gt;\""));
        assert!(html.contains("value=\"&lt;csrf&gt;\""));
        assert!(html.contains("name=\"session\" value=\"&lt;session&gt;\""));
        assert!(html.contains("id=\"connected\""));
    }

    #[test]
    fn page_keeps_its_document_shape() {
        let html = render(&View {
            lang: Lang::Ar,
            theme: Theme::Light,
            signed: None,
            notice: None,
            problem: None,
        });
        assert!(html.starts_with(
            "<!doctype html>\n<html lang=\"ar\" dir=\"rtl\"><head><meta charset=\"utf-8\">"
        ));
        assert!(html.ends_with("</footer></main></body></html>\n"));
        assert!(html.contains("<a href=\"?lang=en\" hreflang=\"en\">English</a>"));
        assert!(html.contains(&format!("<style>{}</style>", style())));
        assert_eq!(html.matches("<li>").count(), 4 + REQUIRED_SCOPES.len());
    }

    #[test]
    fn signed_out_page_has_no_forms() {
        let html = render(&View {
            lang: Lang::En,
            theme: Theme::Light,
            signed: None,
            notice: None,
            problem: Some(Problem::SessionExpired),
        });
        assert!(html.contains("lang=\"en\" dir=\"ltr\""));
        assert!(!html.contains("<form"));
        assert!(html.contains("subscriptions:write"));
    }

    fn luminance(hex: &str) -> f64 {
        let channel = |i: usize| {
            let c = f64::from(u8::from_str_radix(&hex[i..i + 2], 16).unwrap()) / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5)
    }

    fn contrast(a: &str, b: &str) -> f64 {
        let (la, lb) = (luminance(a), luminance(b));
        (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
    }

    /// Every text colour on the background it is drawn on, in both themes: 4.5:1 or more.
    #[test]
    fn palettes_meet_wcag_aa() {
        let pairs = [
            ("fg", "bg"),
            ("fg", "card"),
            ("muted", "card"),
            ("muted", "bg"),
            ("link", "card"),
            ("err-fg", "err-bg"),
            ("ok-fg", "ok-bg"),
            ("warn-fg", "warn-bg"),
            ("btn-fg", "btn-bg"),
            ("danger", "card"),
        ];
        for (name, palette) in [("light", LIGHT), ("dark", DARK)] {
            let get = |key: &str| palette.iter().find(|(k, _)| *k == key).unwrap().1;
            assert_eq!(
                palette.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
                LIGHT.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
                "both palettes set the same variables"
            );
            for (text, background) in pairs {
                let ratio = contrast(get(text), get(background));
                assert!(
                    ratio >= 4.5,
                    "{name}: {text} on {background} is {ratio:.2}:1"
                );
            }
        }
    }

    /// A connected store with everything on: health for every metric and every failure cause,
    /// the import mid-way with a repair running, all five mappings, a long store name.
    pub(crate) fn full_page(lang: Lang, theme: Theme) -> String {
        use adapters::health::{FailureCount, Health, MetricCount};
        use adapters::history::{HistoryProgress, HistoryStatus, Phase};
        use adapters::klaviyo::mapped_metrics::{
            MAPPINGS, MappingEntry, MappingReport, MappingState,
        };
        let now = 1_800_000_000;
        let k = KlaviyoConnection {
            private_key: Secret::new("pk_0123456789abcdef0123456789abcdef_WXYZ"),
            account_name: Some("متجر العطور الفاخرة للهدايا والمناسبات".repeat(2)),
            account_id: Some("AbC123".into()),
            validated_at: now - 3600,
            needs_reconnect: false,
        };
        let metrics = [
            "Placed Order",
            "Ordered Product",
            "Started Checkout",
            "Fulfilled Order",
            "Cancelled Order",
            "Refunded Order",
            "Shipped Order",
            "Delivered Order",
            "Viewed Product",
            "Added to Cart",
            "Abandoned Cart",
            "Created Customer",
            "Updated Customer",
            "Rated Product",
            "Applied Coupon",
            "Paid Order",
            "Order Status Changed",
            "Subscribed to Back in Stock",
            "Left Review",
            "Logged In",
        ];
        let health = Health {
            metrics: metrics
                .iter()
                .enumerate()
                .map(|(i, m)| MetricCount {
                    metric: (*m).into(),
                    last_24h: 1_000 + i as u64,
                    last_7d: 100_000 + i as u64,
                })
                .collect(),
            hourly: (0..24).map(|h| 100 * h + 7).collect(),
            last_ok: Some(now - 30),
            failures: [
                "revoked_key",
                "missing_scope",
                "klaviyo_outage",
                "rejected_data",
                "temporary_failure",
                "unreadable_event",
                "internal_error",
            ]
            .iter()
            .map(|c| FailureCount {
                code: (*c).into(),
                count: 12_345,
                last_at: now - 60,
            })
            .collect(),
        };
        let mut history = HistoryProgress::started(now - 900);
        history.status = HistoryStatus::Stopped;
        history.phase = Phase::OrdersOlder;
        history.orders_done = 123_456;
        history.orders_total = 234_567;
        history.customers_done = 45_678;
        history.customers_total = 45_678;
        history.products_done = 9_999;
        history.finished_at = Some(now - 60);
        history.last_error = Some("missing_scope:orders.read".into());
        history.repair_from = Some(now - 600);
        let mut record = adapters::keystore::StoreRecord::new("1803665367");
        record.klaviyo = Some(k.clone());
        record.history = Some(history);
        let mapping = crate::metric_mapping::MappingView::Report(MappingReport {
            entries: MAPPINGS
                .iter()
                .map(|&(mapping, metric)| MappingEntry {
                    mapping,
                    metric,
                    state: MappingState::Other,
                    changed: false,
                })
                .collect(),
        });
        render(&View {
            lang,
            theme,
            signed: Some(Signed {
                store_id: "1803665367",
                store: &StoreLabel::new(
                    Some(&"متجر العطور الفاخرة للهدايا".repeat(3)),
                    Some("https://perfume-gifts-and-occasions.salla.sa"),
                ),
                klaviyo: Some(&k),
                csrf: &"c".repeat(64),
                session: Some(&"s".repeat(400)),
                health: Some((&health, now)),
                mapping: Some(&mapping),
                record: Some(&record),
                now,
            }),
            notice: Some(Notice::TestSent),
            problem: Some(Problem::MissingScopes),
        })
    }

    /// The page's budget: at most 60 KB, and nothing the browser would fetch from elsewhere
    /// (no script, stylesheet, image, font or frame; no absolute URL in `src`, `href`,
    /// `action` or CSS `url()`, and no `@import`).
    #[test]
    fn the_fullest_page_stays_within_its_budget_and_fetches_nothing() {
        for lang in [Lang::Ar, Lang::En] {
            for theme in [Theme::Light, Theme::Dark] {
                let html = full_page(lang, theme);
                assert!(
                    html.contains(r#"id="history-repair""#) && html.contains(r#"id="failures""#)
                );
                assert!(
                    html.len() <= 60 * 1024,
                    "{lang:?} {theme:?}: {} bytes",
                    html.len()
                );
                let lower = html.to_ascii_lowercase();
                for fetching in [
                    "<script", "<link", "<img", "<iframe", "<object", "<embed", "@import", "url(",
                    "srcset",
                ] {
                    assert!(!lower.contains(fetching), "{fetching}");
                }
                for attr in ["src=\"", "href=\"", "action=\""] {
                    for (at, _) in lower.match_indices(attr) {
                        let value = &lower[at + attr.len()..];
                        assert!(
                            !value.starts_with("http:")
                                && !value.starts_with("https:")
                                && !value.starts_with("//"),
                            "{}",
                            &html[at..(at + 80).min(html.len())]
                        );
                    }
                }
            }
        }
    }
}
