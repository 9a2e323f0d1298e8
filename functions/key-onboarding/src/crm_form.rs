//! The CRM section's form posts (`action=crm_*`), reached from `form::post` after its session,
//! store and CSRF checks: open the tier settings, save them, preview what a run would do,
//! create/update the segments and flows in the merchant's Klaviyo, or remove what the app
//! created. Every answer is the store's page with the CRM section expanded (no redirect: the
//! report is the answer, and every action is safe to repeat).

use std::time::{Duration, Instant};

use adapters::crm::{Provisioner, Report, ViaKlaviyoApi, Wanted};
use adapters::keystore::{self, IfAbsent, StoreRecord};
use adapters::{AdapterError, Secret};
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use mapping::crm::{self, CrmSettings, NAME_PREFIX, OrderWindow, TierThreshold};
use mapping::metrics as m;

use crate::crm_view::{self, CrmProblem, Done, Hidden, Panel, Run, Values};
use crate::i18n::{Lang, Theme};
use crate::session::Session;
use crate::{Deps, view};

/// How long one provisioning request may take, counted from its arrival. Writes are paced one per 1.1 s, so a first run
/// of 9 segments and up to 18 flows needs about 30 s: past this budget it stops cleanly and
/// the page says "partly done, run again" (the next run creates only the rest). Below the
/// function's 29 s timeout (template.yaml, `KeyOnboardingFunction`), so the page answers.
pub const RUN_BUDGET: Duration = Duration::from_secs(24);

/// The spacing between writes: Klaviyo's (see [`adapters::crm::WRITE_GAP`]); none in the
/// unit tests, whose fake account has no limits.
const WRITE_GAP: Duration = if cfg!(test) {
    Duration::ZERO
} else {
    adapters::crm::WRITE_GAP
};

/// The time zone the flows' send times are pinned to. Salla stores sell in the Gulf, and the
/// app holds no per-store time zone; Klaviyo's flow editor lets the merchant change it.
const STORE_TIMEZONE: &str = "Asia/Riyadh";

/// The metrics the flows trigger on, looked up in the account.
const FLOW_METRICS: [&str; 5] = [
    m::PLACED_ORDER,
    m::STARTED_CHECKOUT,
    m::DELIVERED_ORDER,
    m::SHIPPED_ORDER,
    m::OUT_FOR_DELIVERY,
];

/// Whether `action` is one of this section's.
pub fn handles(action: &str) -> bool {
    action.starts_with("crm_")
}

pub async fn post(
    deps: &Deps,
    (lang, theme): (Lang, Theme),
    session: &Session,
    form: &[(String, String)],
    started: Instant,
) -> Response<Body> {
    let action = adapters::web::param(form, "action").unwrap_or_default();
    let store_id = session.store_id.as_str();
    let record = match deps.keys.get(store_id).await {
        Ok(record) => record,
        Err(e) => {
            tracing::error!(event = "onboarding_read", store_id, error = %e);
            let panel = Panel {
                values: Values::of(&CrmSettings::default()),
                done: None,
                problem: Some(CrmProblem::StorageDown),
            };
            return answer(deps, (lang, theme), session, None, panel, action, started);
        }
    };
    let stored = record
        .as_ref()
        .and_then(|r| r.crm.clone())
        .unwrap_or_default();
    // The run's budget counts from the request's arrival, so what came before it (store
    // reads, the settings save) cannot push the answer past the function's timeout.
    let run_ends = tokio::time::Instant::from_std(started) + RUN_BUDGET;
    let result = act(deps, store_id, record.as_ref(), action, form, run_ends).await;
    let panel = match result {
        Ok((settings, done)) => Panel {
            values: Values::of(&settings),
            done,
            problem: None,
        },
        Err(problem) => Panel {
            // The form's choice as typed (refused, or not yet run): the merchant fixes or
            // retries it without typing it again.
            values: if carries_settings(action) {
                Values::typed(|name| adapters::web::param(form, name))
            } else {
                Values::of(&stored)
            },
            done: None,
            problem: Some(problem),
        },
    };
    answer(
        deps,
        (lang, theme),
        session,
        record.as_ref(),
        panel,
        action,
        started,
    )
}

/// Whether the action posts the settings form.
fn carries_settings(action: &str) -> bool {
    matches!(action, "crm_save" | "crm_preview" | "crm_apply")
}

/// Runs one action; `Ok` carries the settings to show and what was done (`None`: opened).
async fn act(
    deps: &Deps,
    store_id: &str,
    record: Option<&StoreRecord>,
    action: &str,
    form: &[(String, String)],
    run_ends: tokio::time::Instant,
) -> Result<(CrmSettings, Option<Done>), CrmProblem> {
    let key = record
        .and_then(|r| r.klaviyo.as_ref())
        .filter(|k| !k.needs_reconnect)
        .map(|k| &k.private_key)
        .ok_or(CrmProblem::NotConnected)?;
    let stored = record.and_then(|r| r.crm.clone()).unwrap_or_default();
    match action {
        "crm_open" => Ok((stored, None)),
        "crm_save" => {
            let settings = settings_from(form)?;
            save(deps, store_id, &settings).await?;
            Ok((settings, Some(Done::Saved)))
        }
        // The preview shows what the form's choice would do, and stores nothing.
        "crm_preview" => {
            let settings = settings_from(form)?;
            let run = provision(deps, store_id, key, &settings, false, run_ends).await?;
            Ok((settings, Some(Done::Preview(run))))
        }
        "crm_apply" => {
            let settings = settings_from(form)?;
            save(deps, store_id, &settings).await?;
            let run = provision(deps, store_id, key, &settings, true, run_ends).await?;
            Ok((settings, Some(Done::Applied(run))))
        }
        "crm_remove" => {
            let run = remove(deps, store_id, key, run_ends).await?;
            Ok((stored, Some(Done::Removed(run))))
        }
        _ => Err(CrmProblem::UnknownAction),
    }
}

/// Only onto a live record: `form::post` refused an uninstalled store, and a store that
/// uninstalled since (or is gone) has no connection to provision for.
async fn save(deps: &Deps, store_id: &str, settings: &CrmSettings) -> Result<(), CrmProblem> {
    keystore::update_live(deps.keys.as_ref(), store_id, IfAbsent::Skip, |r| {
        r.crm = Some(settings.clone())
    })
    .await
    .map_err(|e| {
        tracing::error!(event = "onboarding_write", store_id, error = %e);
        CrmProblem::StorageDown
    })?
    .map(|_| ())
    .map_err(|_| CrmProblem::NotConnected)
}

/// Segments first (the win-back and tier flows trigger on them), then the flows. `apply`
/// false compares only: nothing is written.
async fn provision(
    deps: &Deps,
    store_id: &str,
    key: &Secret,
    settings: &CrmSettings,
    apply: bool,
    run_ends: tokio::time::Instant,
) -> Result<Run, CrmProblem> {
    let ladder = settings.ladder().map_err(field)?;
    let api = ViaKlaviyoApi(deps.klaviyo.as_ref());
    let p = Provisioner::new(&api, key, run_ends).with_write_gap(WRITE_GAP);
    let fail = |e| klaviyo_problem(store_id, apply, e);
    let metric = p
        .metric_id(m::PLACED_ORDER)
        .await
        .map_err(fail)?
        .ok_or(CrmProblem::NoOrders)?;
    let specs = crm::segments(&ladder, &metric);
    let wanted: Vec<Wanted> = specs
        .iter()
        .map(|s| Wanted {
            name: s.name.clone(),
            definition: s.definition.clone(),
        })
        .collect();
    let segments = if apply {
        p.ensure_segments(NAME_PREFIX, &wanted).await
    } else {
        p.preview_segments(NAME_PREFIX, &wanted).await
    }
    .map_err(fail)?;
    let ids = p.segment_ids(NAME_PREFIX).await.map_err(fail)?;
    let inputs = crm::FlowInputs {
        metrics: p.metric_ids(&FLOW_METRICS).await.map_err(fail)?,
        // A preview's segments may not exist yet: a stand-in id builds their flows, whose
        // names are all a preview compares.
        segments: specs
            .iter()
            .filter_map(|s| match ids.get(&s.name) {
                Some(id) => Some((s.key.clone(), id.clone())),
                None => (!apply).then(|| (s.key.clone(), "new".to_owned())),
            })
            .collect(),
        timezone: STORE_TIMEZONE.to_owned(),
    };
    let (flows, waiting) = crm::flows(&inputs, &crm::tier_segments(&ladder, &metric));
    let wanted: Vec<Wanted> = flows
        .iter()
        .map(|f| Wanted {
            name: f.name.clone(),
            definition: f.definition.clone(),
        })
        .collect();
    let flows = if apply {
        p.ensure_flows(NAME_PREFIX, &wanted).await
    } else {
        p.preview_flows(NAME_PREFIX, &wanted).await
    }
    .map_err(fail)?;
    let run = Run {
        segments,
        flows,
        // What is missing, once each (two flows may wait for the same metric).
        waiting: waiting
            .into_iter()
            .map(|w| w.needs)
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect(),
    };
    log_run(store_id, if apply { "applied" } else { "previewed" }, &run);
    Ok(run)
}

/// Flows first: they refer to the segments.
async fn remove(
    deps: &Deps,
    store_id: &str,
    key: &Secret,
    run_ends: tokio::time::Instant,
) -> Result<Run, CrmProblem> {
    let api = ViaKlaviyoApi(deps.klaviyo.as_ref());
    let p = Provisioner::new(&api, key, run_ends).with_write_gap(WRITE_GAP);
    let fail = |e| klaviyo_problem(store_id, true, e);
    let flows = p.remove_flows(NAME_PREFIX).await.map_err(fail)?;
    let segments = p.remove_segments(NAME_PREFIX).await.map_err(fail)?;
    let run = Run {
        segments,
        flows,
        waiting: Vec::new(),
    };
    log_run(store_id, "removed", &run);
    Ok(run)
}

fn log_run(store_id: &str, outcome: &'static str, run: &Run) {
    let count = |f: fn(&Report) -> usize| f(&run.segments) + f(&run.flows);
    tracing::info!(
        event = "crm_provisioning",
        store_id,
        outcome,
        created = count(|r| r.created.len()),
        updated = count(|r| r.updated.len()),
        unchanged = count(|r| r.unchanged.len()),
        removed = count(|r| r.removed.len()),
        waiting = run.waiting.len()
    );
}

/// 403: the key lacks the CRM scopes (Klaviyo does not say which a key has, so this is how
/// the page learns it); 401: the key was revoked; out of time or Klaviyo busy: a run that
/// writes may have done part of its work.
fn klaviyo_problem(store_id: &str, writes: bool, e: AdapterError) -> CrmProblem {
    let problem = match &e {
        AdapterError::Unauthorized { status: 403, .. } => CrmProblem::MissingScopes,
        AdapterError::Unauthorized { .. } => CrmProblem::KeyRefused,
        _ if writes => CrmProblem::Partial,
        _ => CrmProblem::KlaviyoDown,
    };
    tracing::warn!(event = "crm_provisioning", store_id, outcome = ?problem, error = %e);
    problem
}

fn field(e: mapping::MappingError) -> CrmProblem {
    match e {
        mapping::MappingError::WrongType { field, .. } => CrmProblem::Field(field),
        _ => CrmProblem::Field("tiers"),
    }
}

/// The form's tier choice, validated by the ladder it builds.
fn settings_from(form: &[(String, String)]) -> Result<CrmSettings, CrmProblem> {
    let get = |name: &str| {
        adapters::web::param(form, name)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let settings = match get("preset") {
        Some("a") => {
            let margin = get("margin")
                .and_then(|v| decimal(v, 2))
                .and_then(|bp| u32::try_from(bp).ok())
                .ok_or(CrmProblem::Field("margin"))?;
            CrmSettings::A { margin_bp: margin }
        }
        Some("b") => CrmSettings::B,
        Some("custom") => {
            let window = match get("window") {
                Some("last_365_days") => OrderWindow::Last365Days,
                _ => OrderWindow::AllTime,
            };
            let mut tiers = Vec::new();
            for i in 1..=crm::MAX_TIERS {
                let orders = get(&format!("tier{i}_orders"));
                let spent = get(&format!("tier{i}_spent"));
                if orders.is_none() && spent.is_none() {
                    continue;
                }
                let min_orders = orders
                    .and_then(|v| decimal(v, 0))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or(CrmProblem::Field("tiers.min_orders"))?;
                let min_spent_minor = match spent {
                    None => None,
                    Some(v) => Some(decimal(v, 2).ok_or(CrmProblem::Field("tiers.min_spent"))?),
                };
                tiers.push(TierThreshold {
                    min_spent_minor,
                    min_orders,
                });
            }
            CrmSettings::Custom { window, tiers }
        }
        _ => return Err(CrmProblem::Field("preset")),
    };
    settings.ladder().map_err(field)?;
    Ok(settings)
}

/// A non-negative decimal with at most `places` decimals, scaled by 10^places: `27.5` at 2
/// places is 2750. Arabic-Indic digits and separators are read as typed on an Arabic
/// keyboard; thousands separators are dropped.
pub(crate) fn decimal(raw: &str, places: u32) -> Option<u64> {
    let mut text = String::new();
    for c in raw.chars() {
        match c {
            '0'..='9' | '.' => text.push(c),
            '٠'..='٩' => text.push(char::from(b'0' + (c as u32 - '٠' as u32) as u8)),
            '٫' => text.push('.'),
            ',' | '٬' => {}
            _ => return None,
        }
    }
    let (whole, frac) = text.split_once('.').unwrap_or((&text, ""));
    if whole.is_empty() && frac.is_empty()
        || whole.len() > 12
        || frac.len() > places as usize
        || frac.contains('.')
    {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let scale = 10u64.pow(places);
    let frac: u64 = format!("{frac:0<width$}", width = places as usize)
        .parse()
        .unwrap_or(0);
    whole.checked_mul(scale)?.checked_add(frac)
}

/// The store's page with the CRM section expanded, and the request's log line.
fn answer(
    deps: &Deps,
    (lang, theme): (Lang, Theme),
    session: &Session,
    record: Option<&StoreRecord>,
    panel: Panel,
    action: &str,
    started: Instant,
) -> Response<Body> {
    let status = match panel.problem {
        None => StatusCode::OK,
        Some(CrmProblem::KlaviyoDown | CrmProblem::StorageDown | CrmProblem::Partial) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        Some(_) => StatusCode::BAD_REQUEST,
    };
    let klaviyo = record.and_then(|r| r.klaviyo.as_ref());
    let parts = view::Parts {
        klaviyo,
        mapping: None,
        health: None,
        record,
    };
    let resp = view::signed_in_with_section(
        deps,
        (lang, theme),
        status,
        session,
        parts,
        "crm",
        |signed| {
            let hidden = Hidden {
                theme,
                csrf: signed.csrf,
                store_id: signed.store_id,
                session: signed.session,
            };
            crm_view::panel(lang, &hidden, &panel)
        },
    );
    let outcome = match (&panel.problem, &panel.done) {
        (Some(problem), _) => problem.code(),
        (None, None) => "crm_shown",
        (None, Some(Done::Saved)) => "crm_saved",
        (None, Some(Done::Preview(_))) => "crm_previewed",
        (None, Some(Done::Applied(_))) => "crm_applied",
        (None, Some(Done::Removed(_))) => "crm_removed",
    };
    tracing::info!(
        event = "onboarding",
        action = if handles(action) { action } else { "crm" },
        store_id = %session.store_id,
        outcome,
        status = resp.status().as_u16(),
        latency_ms = started.elapsed().as_millis() as u64
    );
    resp
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use adapters::keystore::{KeyStore, KlaviyoConnection};
    use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
    use async_trait::async_trait;
    use lambda_http::http::StatusCode;
    use serde_json::{Value, json};

    use super::*;
    use crate::handle;
    use crate::test_support::{self, GOOD_KEY, STORE, form, session_token, text};

    /// An account in memory: metrics, segments, flows and tags, as Klaviyo's JSON:API lists
    /// and creates them. `forbidden` answers every call 403 (a key without the CRM scopes);
    /// `fail_after` answers 503 once that many writes went through.
    #[derive(Default)]
    struct Account {
        metrics: Vec<&'static str>,
        resources: BTreeMap<String, (String, Value)>,
        next: usize,
        writes: usize,
        forbidden: bool,
        fail_after: Option<usize>,
    }

    #[derive(Clone, Default)]
    struct FakeAccount(Arc<Mutex<Account>>);

    impl FakeAccount {
        fn with_orders() -> Self {
            let f = FakeAccount::default();
            f.0.lock().unwrap().metrics = vec!["Placed Order"];
            f
        }
        fn names(&self, kind: &str) -> Vec<String> {
            let a = self.0.lock().unwrap();
            a.resources
                .values()
                .filter(|(k, _)| k == kind)
                .map(|(_, v)| v["name"].as_str().unwrap_or_default().to_owned())
                .collect()
        }
        fn writes(&self) -> usize {
            self.0.lock().unwrap().writes
        }
    }

    fn ok(status: u16) -> Delivery {
        Delivery {
            status,
            attempts: 1,
            error: None,
        }
    }

    #[async_trait]
    impl KlaviyoApi for FakeAccount {
        async fn get_account(&self, _key: &Secret) -> Result<AccountInfo, AdapterError> {
            Ok(AccountInfo {
                id: "AbC".into(),
                name: Some("Shop".into()),
                preferred_currency: None,
            })
        }
        async fn call(
            &self,
            key: &Secret,
            method: &'static str,
            path: &str,
            body: Option<&Value>,
            deadline: tokio::time::Instant,
        ) -> Result<Delivery, AdapterError> {
            Ok(self.call_json(key, method, path, body, deadline).await?.0)
        }
        async fn call_json(
            &self,
            _key: &Secret,
            method: &'static str,
            path: &str,
            body: Option<&Value>,
            _deadline: tokio::time::Instant,
        ) -> Result<(Delivery, Option<Value>), AdapterError> {
            let mut a = self.0.lock().unwrap();
            if a.forbidden {
                return Ok((ok(403), None));
            }
            let route = path.split('?').next().unwrap_or_default();
            let parts: Vec<&str> = route.trim_start_matches("/api/").split('/').collect();
            let list = |a: &Account, kind: &str| {
                let data: Vec<Value> = a
                    .resources
                    .iter()
                    .filter(|(_, (k, _))| k == kind)
                    .map(|(id, (_, attrs))| json!({"id": id, "type": kind, "attributes": attrs}))
                    .collect();
                json!({"data": data, "links": {}})
            };
            match (method, parts.as_slice()) {
                ("GET", ["metrics"]) => {
                    let data: Vec<Value> = a
                        .metrics
                        .iter()
                        .map(|n| {
                            json!({"id": format!("M-{n}"),
                        "attributes": {"name": n, "integration": {"category": "API"}}})
                        })
                        .collect();
                    Ok((ok(200), Some(json!({"data": data, "links": {}}))))
                }
                ("GET", ["segments"]) => Ok((ok(200), Some(list(&a, "segment")))),
                ("GET", ["flows"]) => Ok((ok(200), Some(list(&a, "flow")))),
                ("GET", ["tags"]) => Ok((ok(200), Some(list(&a, "tag")))),
                ("POST", ["tags", _, "relationships", _]) => Ok((ok(204), None)),
                ("POST", [kind @ ("segments" | "flows" | "tags")]) => {
                    if matches!(*kind, "segments" | "flows") {
                        if a.fail_after.is_some_and(|n| a.writes >= n) {
                            return Ok((ok(503), None));
                        }
                        a.writes += 1;
                    }
                    a.next += 1;
                    let id = format!("R{}", a.next);
                    let attrs = body.and_then(|b| b.pointer("/data/attributes")).cloned();
                    let kind = kind.trim_end_matches('s').to_owned();
                    a.resources
                        .insert(id.clone(), (kind, attrs.unwrap_or(Value::Null)));
                    Ok((ok(201), Some(json!({"data": {"id": id}}))))
                }
                ("PATCH", [_, id]) => {
                    a.writes += 1;
                    let attrs = body.and_then(|b| b.pointer("/data/attributes")).cloned();
                    if let (Some(entry), Some(attrs)) = (a.resources.get_mut(*id), attrs) {
                        entry.1 = attrs;
                    }
                    Ok((ok(200), Some(json!({"data": {"id": id}}))))
                }
                ("DELETE", [_, id]) => {
                    let found = a.resources.remove(*id).is_some();
                    Ok((ok(if found { 204 } else { 404 }), None))
                }
                _ => Ok((ok(404), None)),
            }
        }
    }

    async fn world(
        account: &FakeAccount,
    ) -> (crate::Deps, Arc<adapters::keystore::memory::MemoryKeyStore>) {
        let (mut deps, keys) = test_support::deps();
        deps.klaviyo = Arc::new(account.clone());
        let mut record = StoreRecord::new(STORE);
        record.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new(GOOD_KEY),
            account_name: Some("Shop".into()),
            account_id: Some("AbC".into()),
            validated_at: 1,
            needs_reconnect: false,
        });
        keys.put(&record).await.unwrap();
        (deps, keys)
    }

    async fn post(deps: &crate::Deps, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let token = session_token(STORE, 0);
        let resp = handle(deps, form(&token, fields)).await;
        (resp.status(), text(&resp).to_owned())
    }

    const PRESET_A: [(&str, &str); 3] =
        [("action", "crm_apply"), ("preset", "a"), ("margin", "25")];

    #[tokio::test]
    async fn the_section_shows_for_a_connected_store_with_the_optional_scopes() {
        let account = FakeAccount::with_orders();
        let (deps, keys) = world(&account).await;
        let token = session_token(STORE, 0);
        let get = test_support::request(
            lambda_http::http::Method::GET,
            "/onboarding?lang=en",
            Some(&token),
            "",
        );
        let html = text(&handle(&deps, get).await).to_owned();
        assert!(html.contains("<section id=\"crm\">"), "{html}");
        assert!(html.contains("value=\"crm_open\""));
        for scope in adapters::crm::CRM_SCOPES {
            assert!(html.contains(&format!("<code>{scope}</code>")), "{scope}");
        }
        assert!(html.contains("Relaying orders and customers works without them"));
        // Not connected: no section.
        let mut record = keys.get(STORE).await.unwrap().unwrap();
        record.klaviyo = None;
        keys.put(&record).await.unwrap();
        let get = test_support::request(
            lambda_http::http::Method::GET,
            "/onboarding",
            Some(&token),
            "",
        );
        assert!(!text(&handle(&deps, get).await).contains("id=\"crm\""));
    }

    #[tokio::test]
    async fn open_shows_the_stored_choice_and_save_validates_naming_the_field() {
        let account = FakeAccount::with_orders();
        let (deps, keys) = world(&account).await;
        let (status, html) = post(&deps, &[("action", "crm_open")]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("id=\"crm-preset-a\" checked"), "{html}");
        assert!(html.contains("id=\"crm-margin\" name=\"margin\" value=\"25\""));
        assert_eq!(html.matches("<section id=\"crm\">").count(), 1);

        let custom = [
            ("action", "crm_save"),
            ("preset", "custom"),
            ("window", "last_365_days"),
            ("tier1_orders", "2"),
            ("tier1_spent", "٥٠٠"),
            ("tier2_orders", "6"),
            ("tier2_spent", "1,500.5"),
        ];
        let (status, html) = post(&deps, &custom).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("Tier settings saved."));
        assert!(html.contains("value=\"1500.5\""), "{html}");
        let stored = keys.get(STORE).await.unwrap().unwrap().crm;
        assert_eq!(
            stored,
            Some(CrmSettings::Custom {
                window: OrderWindow::Last365Days,
                tiers: vec![
                    TierThreshold {
                        min_spent_minor: Some(50_000),
                        min_orders: 2
                    },
                    TierThreshold {
                        min_spent_minor: Some(150_050),
                        min_orders: 6
                    },
                ],
            })
        );

        // Out of bounds: refused with the field named, the stored choice unchanged.
        for (fields, message) in [
            (vec![("preset", "a"), ("margin", "0.5")], "Average margin"),
            (vec![("preset", "a"), ("margin", "abc")], "Average margin"),
            (vec![("preset", "custom"), ("tier1_orders", "0")], "Orders:"),
            (vec![("preset", "custom"), ("tier1_spent", "10")], "Orders:"),
            (
                vec![
                    ("preset", "custom"),
                    ("tier1_orders", "3"),
                    ("tier1_spent", "1.234"),
                ],
                "Total spent",
            ),
            (
                vec![
                    ("preset", "custom"),
                    ("tier1_orders", "5"),
                    ("tier2_orders", "4"),
                ],
                "Tiers:",
            ),
            (vec![("preset", "custom")], "Tiers:"),
            (vec![("preset", "z")], "Choose one"),
        ] {
            let mut all = vec![("action", "crm_save")];
            all.extend(fields.iter().copied());
            let (status, html) = post(&deps, &all).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{fields:?}");
            assert!(html.contains("id=\"crm-error\""), "{fields:?}");
            assert!(html.contains(message), "{fields:?}: {html}");
            // What was typed comes back in the form.
            for (name, value) in &fields {
                if *name != "preset" {
                    assert!(
                        html.contains(&format!("name=\"{name}\" value=\"{value}\"")),
                        "{name}"
                    );
                }
            }
            assert_eq!(keys.get(STORE).await.unwrap().unwrap().crm, stored);
        }
        assert_eq!(account.writes(), 0);
    }

    #[tokio::test]
    async fn preview_create_again_and_remove_leave_the_merchants_own_alone() {
        let account = FakeAccount::with_orders();
        let (deps, keys) = world(&account).await;
        account.0.lock().unwrap().resources.insert(
            "MINE".into(),
            (
                "segment".into(),
                json!({"name": "My VIPs", "definition": {}}),
            ),
        );

        let (status, html) = post(&deps, &[("action", "crm_preview"), ("preset", "b")]).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("Preview: nothing has been changed"));
        assert!(html.contains("Would be created (7)"), "{html}");
        assert_eq!(account.writes(), 0, "a preview writes nothing");
        assert_eq!(
            keys.get(STORE).await.unwrap().unwrap().crm,
            None,
            "nor stores"
        );

        let (status, html) = post(&deps, &PRESET_A).await;
        assert_eq!(status, StatusCode::OK, "{html}");
        assert!(html.contains("Done in your Klaviyo"));
        assert_eq!(account.names("segment").len(), 10);
        let flows = account.names("flow").len();
        assert!(flows > 0);
        assert!(html.contains(&format!("Created ({flows})")), "{html}");
        assert!(html.contains("Flows are created as drafts"));
        assert!(
            html.contains("id=\"crm-waiting\""),
            "flows waiting for their metrics"
        );
        assert_eq!(
            keys.get(STORE).await.unwrap().unwrap().crm,
            Some(CrmSettings::A { margin_bp: 2_500 })
        );

        let writes = account.writes();
        let (status, html) = post(&deps, &PRESET_A).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(account.writes(), writes, "nothing new the second time");
        assert!(html.contains("Created (0)"));
        assert!(html.contains(&format!("Already up to date ({})", 9)));

        let (status, html) = post(&deps, &[("action", "crm_remove")]).await;
        assert_eq!(status, StatusCode::OK);
        assert!(html.contains("Removed from your Klaviyo"));
        assert!(html.contains(&format!("Removed ({flows})")));
        assert_eq!(account.names("segment"), ["My VIPs"]);
        assert!(account.names("flow").is_empty());
    }

    /// A key store that answers each read after `0` seconds.
    struct SlowReads(Arc<adapters::keystore::memory::MemoryKeyStore>, u64);

    #[async_trait]
    impl KeyStore for SlowReads {
        async fn get(&self, id: &str) -> Result<Option<StoreRecord>, AdapterError> {
            tokio::time::sleep(Duration::from_secs(self.1)).await;
            self.0.get(id).await
        }
        async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
            self.0.put(record).await
        }
        async fn delete(&self, id: &str) -> Result<(), AdapterError> {
            self.0.delete(id).await
        }
    }

    /// The run's budget counts from when the request arrived, not from when the provisioning
    /// starts: slow store reads before it leave the run less time, and the page still answers
    /// inside the function's timeout.
    #[tokio::test(start_paused = true)]
    async fn the_run_budget_counts_from_the_request_not_from_the_run() {
        let account = FakeAccount::with_orders();
        let (mut deps, keys) = world(&account).await;
        deps.keys = Arc::new(SlowReads(keys, 13));
        let (status, html) = post(&deps, &PRESET_A).await;
        assert!(
            html.contains("Partly done"),
            "the run was not cut short ({status})"
        );
        assert_eq!(
            account.names("segment").len(),
            0,
            "no time was left to write"
        );
    }

    #[tokio::test]
    async fn klaviyo_problems_are_told_plainly() {
        // A key without the CRM scopes: the scopes to create a key with.
        let account = FakeAccount::with_orders();
        account.0.lock().unwrap().forbidden = true;
        let (deps, _) = world(&account).await;
        let (status, html) = post(&deps, &[("action", "crm_apply"), ("preset", "b")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            html.contains("Your key lacks the segments/flows scopes"),
            "{html}"
        );
        assert!(html.contains("<code>segments:write</code>"));
        assert!(
            html.contains("id=\"crm-preset-b\" checked"),
            "the choice as posted"
        );

        // No order yet: nothing to count.
        let account = FakeAccount::default();
        let (deps, _) = world(&account).await;
        let (status, html) = post(&deps, &PRESET_A).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("No order has reached your Klaviyo yet"));
        assert_eq!(account.writes(), 0);

        // Cut part-way: partly done, and the next run finishes without duplicates.
        let account = FakeAccount::with_orders();
        account.0.lock().unwrap().fail_after = Some(4);
        let (deps, _) = world(&account).await;
        let (status, html) = post(&deps, &PRESET_A).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(html.contains("Partly done"), "the run was not cut short");
        assert_eq!(account.names("segment").len(), 4);
        account.0.lock().unwrap().fail_after = None;
        let (status, _) = post(&deps, &PRESET_A).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(account.names("segment").len(), 9);
    }

    #[tokio::test]
    async fn crm_posts_need_the_session_csrf_and_a_connected_key() {
        let account = FakeAccount::with_orders();
        let (deps, keys) = world(&account).await;
        let forged = [PRESET_A[0], PRESET_A[1], PRESET_A[2], ("csrf", "forged")];
        let (status, _) = post(&deps, &forged).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        let other = [PRESET_A[0], ("store_id", "43")];
        let (status, html) = post(&deps, &other).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(!html.contains("crm-form"));
        assert_eq!(account.writes(), 0);
        assert_eq!(keys.get(STORE).await.unwrap().unwrap().crm, None);

        let mut record = keys.get(STORE).await.unwrap().unwrap();
        record.klaviyo.as_mut().unwrap().needs_reconnect = true;
        keys.put(&record).await.unwrap();
        let (status, html) = post(&deps, &PRESET_A).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(html.contains("Connect a working Klaviyo key first."));
        let (status, _) = post(&deps, &[("action", "crm_nonsense")]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(account.writes(), 0);
    }

    /// Inside Salla's frame the session travels in the forms: every CRM form carries it on.
    #[tokio::test]
    async fn inside_the_dashboard_frame_the_crm_forms_carry_the_session() {
        let account = FakeAccount::with_orders();
        let (deps, _) = world(&account).await;
        let token = session_token(STORE, 0);
        let csrf = test_support::csrf(&token);
        let body: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("csrf", csrf.as_str()),
                ("store_id", STORE),
                ("session", token.as_str()),
                ("action", "crm_open"),
            ])
            .finish();
        let req =
            test_support::request(lambda_http::http::Method::POST, "/onboarding", None, &body);
        let resp = handle(&deps, req).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let html = text(&resp);
        let carried = format!("name=\"session\" value=\"{token}\"");
        // The key form, the disconnect form, the CRM settings form and the removal form.
        assert!(html.matches(&carried).count() >= 4, "{html}");
        assert!(html.contains("id=\"crm-form\""));
        assert!(html.contains("id=\"crm-remove-form\""));
    }

    #[test]
    fn decimals_read_as_typed() {
        assert_eq!(decimal("27.5", 2), Some(2_750));
        assert_eq!(decimal("٢٧٫٥", 2), Some(2_750));
        assert_eq!(decimal("1,000", 2), Some(100_000));
        assert_eq!(decimal(".5", 2), Some(50));
        assert_eq!(decimal("3", 0), Some(3));
        for bad in ["", ".", "1.2.3", "1.234", "-1", "1e3", "9999999999999"] {
            assert_eq!(decimal(bad, 2), None, "{bad}");
        }
        assert_eq!(decimal("2.5", 0), None);
    }
}
