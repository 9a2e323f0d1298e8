//! Klaviyo's metric mapping, set when the connected page is shown (right after a key is saved,
//! and again on later visits, which sets mappings whose metric has appeared since) and shown to
//! the merchant: which mappings point at this app's metrics, which at another integration's
//! (left alone), which wait for their first event.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;
use std::time::Duration;

use adapters::AdapterError;
use adapters::keystore::KlaviyoConnection;
use adapters::klaviyo::KlaviyoApi;
use adapters::klaviyo::mapped_metrics::{self, MappingReport, MappingState};
use maud::{Markup, html};
use tokio::time::Instant;

use crate::i18n::Lang;

/// How long the page waits for the mapping (two reads, up to five writes that Klaviyo allows
/// one per second): the page still renders if Klaviyo is slow, saying so.
const MAPPING_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingView {
    Report(MappingReport),
    /// The key lacks `metrics:read` / `metrics:write`.
    MissingScopes,
    /// Klaviyo did not answer usefully in time.
    Unavailable,
}

/// How long a store's settled mapping report (every mapping ours or another integration's)
/// is reused by the warm process: a page view then costs no Klaviyo call (a report takes two
/// reads at least, up to seven calls). A report with a mapping still waiting for its metric
/// is not kept: the next view maps it as soon as the metric exists.
pub const CACHE_TTL: Duration = Duration::from_secs(600);
/// Stores kept at most; past it the cache starts over (a warm process serves far fewer).
const CACHE_MAX: usize = 10_000;

/// Each store's last settled report, for the key it was read with (a new key is read
/// afresh). A refusal or an outage is asked again on the next view.
#[derive(Default)]
pub struct MappingCache {
    entries: Mutex<HashMap<String, (u64, Instant, MappingReport)>>,
}

impl MappingCache {
    fn fingerprint(connection: &KlaviyoConnection) -> u64 {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        connection.private_key.expose().hash(&mut h);
        h.finish()
    }

    fn get(
        &self,
        store_id: &str,
        connection: &KlaviyoConnection,
        now: Instant,
    ) -> Option<MappingReport> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let (key, at, report) = entries.get(store_id)?;
        (*key == Self::fingerprint(connection) && now.duration_since(*at) < CACHE_TTL)
            .then(|| report.clone())
    }

    fn put(
        &self,
        store_id: &str,
        connection: &KlaviyoConnection,
        now: Instant,
        report: &MappingReport,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if entries.len() >= CACHE_MAX {
            entries.retain(|_, (_, at, _)| now.duration_since(*at) < CACHE_TTL);
            if entries.len() >= CACHE_MAX {
                entries.clear();
            }
        }
        entries.insert(
            store_id.to_string(),
            (Self::fingerprint(connection), now, report.clone()),
        );
    }
}

/// [`ensure`] through the warm process's cache.
pub async fn ensure_cached(
    cache: &MappingCache,
    klaviyo: &dyn KlaviyoApi,
    store_id: &str,
    connection: &KlaviyoConnection,
) -> MappingView {
    if let Some(report) = cache.get(store_id, connection, Instant::now()) {
        return MappingView::Report(report);
    }
    let view = ensure(klaviyo, store_id, connection).await;
    if let MappingView::Report(report) = &view
        && report.pending().next().is_none()
    {
        cache.put(store_id, connection, Instant::now(), report);
    }
    view
}

/// Sets what can be set and reports the rest. Logs counts only.
pub async fn ensure(
    klaviyo: &dyn KlaviyoApi,
    store_id: &str,
    connection: &KlaviyoConnection,
) -> MappingView {
    let deadline = Instant::now() + MAPPING_TIMEOUT;
    match mapped_metrics::ensure(klaviyo, &connection.private_key, deadline).await {
        Ok(report) => {
            tracing::info!(
                event = "metric_mapping",
                store_id,
                outcome = "checked",
                changed = report.changed(),
                other = report.others().count(),
                pending = report.pending().count()
            );
            MappingView::Report(report)
        }
        Err(e) => {
            let view = match e {
                AdapterError::Unauthorized { .. } => MappingView::MissingScopes,
                _ => MappingView::Unavailable,
            };
            tracing::warn!(event = "metric_mapping", store_id, outcome = ?view, error = %e);
            view
        }
    }
}

struct Texts {
    heading: &'static str,
    intro: &'static str,
    ours: &'static str,
    other: &'static str,
    other_hint: &'static str,
    pending: &'static str,
    missing_scopes: &'static str,
    unavailable: &'static str,
}

static AR: Texts = Texts {
    heading: "ربط مقاييس الإيرادات في Klaviyo",
    intro: "يعتمد Klaviyo على هذا الربط لحساب الإيرادات وقيمة العميل (CLV) وخصم الطلبات الملغاة والمستردة.",
    ours: "مربوط بأحداث متجرك",
    other: "مربوط بمقياس تكامل آخر، ولم نغيّره",
    other_hint: "إن أردت أن تُحسب إيرادات سلة، غيّر الربط في Klaviyo (Analytics ← Metrics ← Metric mapping).",
    pending: "بانتظار أول حدث من هذا النوع، ثم يُربط تلقائيًا",
    missing_scopes: "لم نتمكن من ربط المقاييس: تنقص المفتاح صلاحيتا metrics:read و metrics:write.",
    unavailable: "تعذر قراءة ربط المقاييس من Klaviyo الآن. أعد تحميل الصفحة بعد دقيقة.",
};

static EN: Texts = Texts {
    heading: "Klaviyo revenue metric mapping",
    intro: "Klaviyo uses this mapping for revenue, customer lifetime value (CLV) and netting cancelled and refunded orders.",
    ours: "Mapped to your store's events",
    other: "Mapped to another integration's metric; left unchanged",
    other_hint: "To have Salla revenue counted, change the mapping in Klaviyo (Analytics → Metrics → Metric mapping).",
    pending: "Waiting for the first event of this kind, then mapped automatically",
    missing_scopes: "Metrics could not be mapped: the key is missing the metrics:read and metrics:write scopes.",
    unavailable: "Klaviyo's metric mapping could not be read right now. Reload the page in a minute.",
};

fn texts(lang: Lang) -> &'static Texts {
    match lang {
        Lang::Ar => &AR,
        Lang::En => &EN,
    }
}

/// Klaviyo's own label for a mapping, as its settings page names it (kept in English in both
/// languages so the merchant finds it there).
fn label(mapping: &str) -> &'static str {
    match mapping {
        "revenue" => "Revenue",
        "cancelled_sales" => "Cancelled sales",
        "refunded_sales" => "Refunded sales",
        "ordered_product" => "Ordered product",
        "started_checkout" => "Started checkout",
        _ => "—",
    }
}

pub fn section(lang: Lang, view: &MappingView) -> Markup {
    let t = texts(lang);
    html! {
        section id="metric-mapping" {
            h2 { (t.heading) }
            p class="hint" { (t.intro) }
            @match view {
                MappingView::Report(report) => {
                    ul class="scopes" {
                        @for e in &report.entries {
                            li data-mapping=(e.mapping) data-state=(state_code(e.state)) {
                                span { bdi dir="ltr" { (label(e.mapping)) " → " code { (e.metric) } } }
                                span {
                                    @match e.state {
                                        MappingState::Ours => { (t.ours) }
                                        MappingState::Other => { (t.other) }
                                        MappingState::Pending => { (t.pending) }
                                    }
                                }
                            }
                        }
                    }
                    @if report.others().next().is_some() {
                        div class="alert warn" id="mapping-other" { (t.other_hint) }
                    }
                }
                MappingView::MissingScopes => {
                    div class="alert warn" id="mapping-scopes" { (t.missing_scopes) }
                }
                MappingView::Unavailable => {
                    div class="alert warn" id="mapping-unavailable" { (t.unavailable) }
                }
            }
        }
    }
}

fn state_code(state: MappingState) -> &'static str {
    match state {
        MappingState::Ours => "ours",
        MappingState::Other => "other",
        MappingState::Pending => "pending",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::klaviyo::mapped_metrics::{MAPPINGS, MappingEntry};

    fn report(states: &[MappingState]) -> MappingView {
        MappingView::Report(MappingReport {
            entries: MAPPINGS
                .iter()
                .zip(states)
                .map(|(&(mapping, metric), &state)| MappingEntry {
                    mapping,
                    metric,
                    state,
                    changed: false,
                })
                .collect(),
        })
    }

    #[test]
    fn a_report_is_reused_for_ten_minutes_for_the_same_key_only() {
        let cache = MappingCache::default();
        let connection = |key: &str| KlaviyoConnection {
            private_key: adapters::Secret::new(key),
            account_name: None,
            account_id: None,
            validated_at: 0,
            needs_reconnect: false,
        };
        let MappingView::Report(report) = report(&[MappingState::Ours; 5]) else {
            unreachable!()
        };
        let now = Instant::now();
        cache.put("42", &connection("pk_a"), now, &report);
        assert_eq!(
            cache.get("42", &connection("pk_a"), now + CACHE_TTL / 2),
            Some(report.clone())
        );
        assert_eq!(
            cache.get("42", &connection("pk_b"), now),
            None,
            "another key"
        );
        assert_eq!(
            cache.get("43", &connection("pk_a"), now),
            None,
            "another store"
        );
        assert_eq!(
            cache.get("42", &connection("pk_a"), now + CACHE_TTL),
            None,
            "expired"
        );
    }

    #[test]
    fn every_mapping_has_a_label() {
        for (m, _) in MAPPINGS {
            assert_ne!(label(m), "—", "{m}");
        }
    }

    #[test]
    fn another_integrations_mapping_is_named_in_both_languages() {
        use MappingState::*;
        let view = report(&[Other, Ours, Pending, Ours, Ours]);
        for lang in [Lang::Ar, Lang::En] {
            let html = section(lang, &view).into_string();
            let t = texts(lang);
            assert!(
                html.contains("data-mapping=\"revenue\" data-state=\"other\""),
                "{html}"
            );
            assert!(html.contains("data-mapping=\"refunded_sales\" data-state=\"pending\""));
            assert!(html.contains(t.other) && html.contains(t.other_hint));
            assert!(html.contains(t.pending) && html.contains(t.ours));
            assert!(html.contains("Placed Order"));
        }
        let html = section(Lang::En, &report(&[Ours; 5])).into_string();
        assert!(!html.contains("mapping-other"));
        assert!(
            section(Lang::Ar, &MappingView::MissingScopes)
                .into_string()
                .contains("metrics:write")
        );
        assert!(
            section(Lang::En, &MappingView::Unavailable)
                .into_string()
                .contains("mapping-unavailable")
        );
    }
}
