//! The sync-health section of the signed-in page: events relayed per Klaviyo metric over 24
//! hours and 7 days, an hourly bar chart drawn here as inline SVG (no script, no external
//! asset), the last successful delivery, and failures by cause with their last occurrence.
//! Counts and codes only ([`adapters::health`]): nothing on it names a shopper.

use adapters::health::Health;
use maud::{Markup, html};

use crate::i18n::Lang;

/// A failure this recent of a kind Salla redelivers means a retry is pending.
const REDELIVERY_WINDOW_SECS: i64 = 15 * 60;
/// Causes the intake answers with a 5xx, so Salla sends the webhook again.
const REDELIVERED: [&str; 2] = ["klaviyo_outage", "temporary_failure"];

struct Texts {
    heading: &'static str,
    metric: &'static str,
    day: &'static str,
    week: &'static str,
    none_yet: &'static str,
    last_ok: &'static str,
    never: &'static str,
    failures: &'static str,
    cause: &'static str,
    count: &'static str,
    last_seen: &'static str,
    redelivering: &'static str,
    chart: &'static str,
}

const AR: Texts = Texts {
    heading: "حالة المزامنة",
    metric: "الحدث في Klaviyo",
    day: "آخر 24 ساعة",
    week: "آخر 7 أيام",
    none_yet: "لم يصل أي حدث إلى Klaviyo خلال الأيام السبعة الماضية.",
    last_ok: "آخر إرسال ناجح",
    never: "لا يوجد",
    failures: "الإخفاقات (آخر 7 أيام)",
    cause: "السبب",
    count: "العدد",
    last_seen: "آخر مرة",
    redelivering: "ستعيد سلة إرسال الأحداث التي تعذر إرسالها مؤخراً.",
    chart: "الأحداث في كل ساعة خلال آخر 24 ساعة",
};

const EN: Texts = Texts {
    heading: "Sync health",
    metric: "Klaviyo event",
    day: "Last 24 hours",
    week: "Last 7 days",
    none_yet: "No event reached Klaviyo in the last 7 days.",
    last_ok: "Last successful delivery",
    never: "None",
    failures: "Failures (last 7 days)",
    cause: "Cause",
    count: "Count",
    last_seen: "Last seen",
    redelivering: "Salla is redelivering the events that failed recently.",
    chart: "Events per hour over the last 24 hours",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

fn cause_name(code: &str, lang: Lang) -> &str {
    let (ar, en) = match code {
        "revoked_key" => ("المفتاح ملغى في Klaviyo", "Klaviyo key revoked"),
        "missing_scope" => ("صلاحية ناقصة في المفتاح", "Key is missing a scope"),
        "klaviyo_outage" => ("تعذر الوصول إلى Klaviyo", "Klaviyo unreachable"),
        "rejected_data" => ("رفض Klaviyo البيانات", "Klaviyo rejected the data"),
        "temporary_failure" => ("عطل مؤقت", "Temporary failure"),
        "unreadable_event" => ("حدث غير مقروء من سلة", "Unreadable event from Salla"),
        "internal_error" => ("خطأ داخلي", "Internal error"),
        other => return other,
    };
    match lang {
        Lang::Ar => ar,
        Lang::En => en,
    }
}

pub fn section(lang: Lang, health: &Health, now: i64, format_time: fn(i64) -> String) -> Markup {
    let t = texts(lang);
    let redelivering = health.failures.iter().any(|f| {
        REDELIVERED.contains(&f.code.as_str()) && now - f.last_at <= REDELIVERY_WINDOW_SECS
    });
    html! {
        section id="health" {
            h2 { (t.heading) }
            @if redelivering {
                div class="alert warn" id="redelivering" { (t.redelivering) }
            }
            (chart(t, &health.hourly))
            @if health.metrics.is_empty() {
                p id="no-events" { (t.none_yet) }
            } @else {
                table id="metrics" {
                    thead { tr { th { (t.metric) } th { (t.day) } th { (t.week) } } }
                    tbody {
                        @for m in &health.metrics {
                            tr { td { bdi { (m.metric) } } td { (m.last_24h) } td { (m.last_7d) } }
                        }
                    }
                }
            }
            dl {
                dt { (t.last_ok) }
                dd id="last-ok" {
                    @match health.last_ok {
                        Some(at) => bdi dir="ltr" { (format_time(at)) },
                        None => (t.never),
                    }
                }
            }
            @if !health.failures.is_empty() {
                h2 { (t.failures) }
                table id="failures" {
                    thead { tr { th { (t.cause) } th { (t.count) } th { (t.last_seen) } } }
                    tbody {
                        @for f in &health.failures {
                            tr {
                                td { (cause_name(&f.code, lang)) }
                                td { (f.count) }
                                td { bdi dir="ltr" { (format_time(f.last_at)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// 24 bars, oldest on the left whatever the page's direction, scaled to the busiest hour.
fn chart(t: &Texts, hourly: &[u64]) -> Markup {
    let max = hourly.iter().copied().max().unwrap_or(0).max(1);
    let (width, height, bar) = (240u64, 48u64, 10u64);
    html! {
        svg id="chart" viewBox={ "0 0 " (width) " " (height) } width="100%" height="60"
            role="img" aria-label=(t.chart) dir="ltr" {
            title { (t.chart) }
            @for (i, n) in hourly.iter().enumerate() {
                @let h = if *n == 0 { 1 } else { (n * (height - 2)).div_ceil(max).max(2) };
                rect x=((i as u64) * bar + 1) y=(height - h) width=(bar - 2) height=(h)
                    fill=(if *n == 0 { "#e3e6eb" } else { "#1d6b4f" }) {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::health::{FailureCount, MetricCount};

    fn health(now: i64) -> Health {
        let mut hourly = vec![0; 24];
        hourly[23] = 4;
        hourly[0] = 1;
        Health {
            metrics: vec![MetricCount {
                metric: "<Placed Order>".into(),
                last_24h: 5,
                last_7d: 12,
            }],
            hourly,
            last_ok: Some(now - 60),
            failures: vec![FailureCount {
                code: "klaviyo_outage".into(),
                count: 3,
                last_at: now - 120,
            }],
        }
    }

    fn time(unix: i64) -> String {
        format!("t{unix}")
    }

    #[test]
    fn counts_causes_and_the_chart_are_shown_escaped() {
        let now = 1_800_000_000;
        let html = section(Lang::En, &health(now), now, time).into_string();
        assert!(html.contains("&lt;Placed Order&gt;") && !html.contains("<Placed Order>"));
        assert!(html.contains("<td>5</td><td>12</td>"));
        assert!(html.contains("Klaviyo unreachable") && html.contains("<td>3</td>"));
        assert!(html.contains(&format!("t{}", now - 60)));
        assert_eq!(html.matches("<rect").count(), 24);
        assert!(html.contains(r#"id="redelivering""#));
        // An hour later the outage is history: no redelivery notice.
        let later = section(Lang::Ar, &health(now), now + 3600, time).into_string();
        assert!(!later.contains("redelivering") && later.contains("تعذر الوصول إلى Klaviyo"));
    }

    #[test]
    fn an_empty_store_says_so() {
        let html = section(
            Lang::En,
            &Health {
                hourly: vec![0; 24],
                ..Health::default()
            },
            0,
            time,
        )
        .into_string();
        assert!(html.contains(r#"id="no-events""#) && html.contains("None"));
        assert!(!html.contains(r#"id="failures""#));
    }
}
