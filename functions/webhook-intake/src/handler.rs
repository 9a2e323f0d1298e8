//! The HTTP edge: credential check, routing, error → status, one structured log line.

use std::time::Instant;

use adapters::Service;
use adapters::deadline::Deadline;
use adapters::keystore::StoreRecord;
use adapters::salla::signature::Verified;
use lambda_http::{Body, Request, RequestExt, Response};
use mapping::Action;
use serde_json::json;

use crate::Deps;
use crate::error::IntakeError;
use crate::outcome::Outcome;
use crate::{enrich, lifecycle, relay};

/// Facts gathered while handling, logged once at the end.
#[derive(Debug, Default)]
struct Trace {
    event: Option<String>,
    store_id: Option<String>,
    /// Metrics of the events relayed, for the sync-health counts.
    relayed: Vec<String>,
    /// A store event for Klaviyo (not a lifecycle change).
    store_event: bool,
}

pub async fn handle(deps: &Deps, req: Request) -> Response<Body> {
    let started = Instant::now();
    let deadline = invocation_deadline(deps, &req);
    let mut trace = Trace::default();
    let result = process(deps, &req, deadline, &mut trace).await;
    count(deps, &trace, &result).await;
    if let Some(store_id) = trace.store_id.as_deref() {
        let effect = crate::gap::effect(trace.store_event, &result);
        crate::gap::after(deps, store_id, effect, deadline).await;
    }
    let latency_ms = millis(started.elapsed());
    let event = trace.event.as_deref().unwrap_or("-");
    let store_id = trace.store_id.as_deref().unwrap_or("-");
    match result {
        Ok(outcome) => {
            let (requests, klaviyo_ms) = match &outcome {
                Outcome::Sent {
                    requests,
                    klaviyo_ms,
                } => (*requests, *klaviyo_ms),
                _ => (0, 0.0),
            };
            tracing::info!(
                event,
                store_id,
                outcome = outcome.name(),
                status = 200,
                requests,
                latency_ms,
                klaviyo_ms,
                "webhook"
            );
            json_response(
                200,
                json!({"ok": true, "outcome": outcome.name(), "requests": requests}),
            )
        }
        Err(e) => {
            let status = e.status();
            if status >= 500 || status == 424 || status == 422 {
                tracing::warn!(event, store_id, outcome = e.code(), status, latency_ms, error = %e, "webhook");
            } else {
                tracing::info!(
                    event,
                    store_id,
                    outcome = e.code(),
                    status,
                    latency_ms,
                    "webhook"
                );
            }
            // The message names the problem class only: it never repeats the payload.
            json_response(
                status,
                json!({"ok": false, "error": e.code(), "message": e.to_string()}),
            )
        }
    }
}

/// The one deadline of this invocation: Lambda's, less a margin, and never past the budget
/// (outside Lambda, the budget from now).
fn invocation_deadline(deps: &Deps, req: &Request) -> Deadline {
    match req.lambda_context_ref() {
        Some(ctx) => Deadline::from_lambda(ctx.deadline, crate::deps::DEADLINE_MARGIN, deps.budget),
        None => Deadline::after(deps.budget),
    }
}

async fn process(
    deps: &Deps,
    req: &Request,
    deadline: Deadline,
    trace: &mut Trace,
) -> Result<Outcome, IntakeError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > deps.max_body_bytes {
        return Err(IntakeError::TooLarge {
            limit: deps.max_body_bytes,
        });
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    // lambda_http has already base64-decoded a function-URL body flagged isBase64Encoded, so
    // these are the bytes Salla signed.
    let verified = deps.webhook_secrets.verify(
        deps.strategy,
        body,
        header("x-salla-signature"),
        header("authorization"),
        adapters::clock::now_unix(),
    );
    match verified {
        None => return Err(IntakeError::Unauthenticated),
        // Counted by the template's metric filter: the overlap may end once this stops.
        Some(Verified::Previous) => {
            tracing::info!(
                event = "webhook_previous_secret",
                "delivery verified with the previous webhook secret"
            )
        }
        Some(Verified::Current) => {}
    }

    let envelope = mapping::parse_envelope(body)?;
    trace.event = Some(envelope.event.clone());
    trace.store_id = Some(envelope.store_id.clone());

    // Events whose Klaviyo requests want product details (abandoned carts, partial product
    // updates) have them looked up first, so the mapping runs exactly once per webhook.
    let wanted = mapping::products_to_enrich(&envelope);
    let mut record = Held::default();
    let mut enrichment = mapping::Enrichment::default();
    if !wanted.is_empty() {
        let Some(connected) = record.connected(deps, &envelope.store_id, deadline).await? else {
            return Ok(Outcome::NoKlaviyoKey);
        };
        enrichment = enrich::enrichment(deps, connected, &wanted, deadline).await;
    }
    // A shipment that names no customer goes to its order's customer, read from Salla.
    if let Some(order_id) = mapping::shipment_order_to_enrich(&envelope) {
        let Some(connected) = record.connected(deps, &envelope.store_id, deadline).await? else {
            return Ok(Outcome::NoKlaviyoKey);
        };
        enrichment.order = enrich::shipment_order(deps, connected, &order_id, deadline).await?;
    }
    // A COD order's Placed Order carries its signed confirm/cancel links, as the merchant's
    // settings say (on or off, cancel allowed, lifetime). The lifetime counts from when Salla
    // sent the order, so a redelivery builds the same links (and the same request) as the
    // first delivery.
    if let (Some(issuer), Some(order_id), Ok(store_id)) = (
        deps.cod_links.as_ref(),
        mapping::cod_order_to_link(&envelope),
        envelope.store_id.parse::<u64>(),
    ) {
        let settings = record
            .get(deps, &envelope.store_id, deadline)
            .await?
            .and_then(|r| r.cod.clone())
            .unwrap_or_default();
        if settings.enabled {
            let sent = envelope
                .created_at_unix()
                .unwrap_or_else(adapters::clock::now_unix);
            let (confirm_url, cancel_url) =
                issuer.urls(store_id, order_id, sent, settings.link_lifetime_secs());
            enrichment.cod_links = Some(mapping::CodLinks {
                confirm_url,
                cancel_url: settings.cancel_allowed.then_some(cancel_url),
            });
        }
    }

    let created_at = envelope.created_at_unix();
    match mapping::plan(&envelope, &enrichment)? {
        Action::Authorize(auth) => {
            within(
                deadline,
                lifecycle::authorize(deps, &envelope.store_id, auth, created_at),
            )
            .await
        }
        Action::SettingsUpdated {
            klaviyo_private_key,
            cod,
        } => {
            let loyalty = mapping::points::rules_in(&envelope);
            let change = async {
                let gate = lifecycle::settings_gate(
                    deps,
                    &envelope.store_id,
                    &klaviyo_private_key,
                    cod.as_ref(),
                    loyalty.as_ref(),
                    created_at,
                );
                if let Some(refused) = gate.await? {
                    return Ok(refused);
                }
                lifecycle::settings_updated(
                    deps,
                    &envelope.store_id,
                    klaviyo_private_key,
                    created_at,
                    deadline,
                )
                .await
            };
            within(deadline, change).await
        }
        Action::Uninstalled => {
            within(
                deadline,
                lifecycle::uninstalled(deps, &envelope.store_id, created_at),
            )
            .await
        }
        Action::Ignore { reason } => Ok(Outcome::Ignored { reason }),
        Action::Send(requests) => {
            trace.store_event = true;
            let klaviyo = record
                .get(deps, &envelope.store_id, deadline)
                .await?
                .and_then(|r| r.klaviyo.clone());
            let Some(klaviyo) = klaviyo else {
                return Ok(Outcome::NoKlaviyoKey);
            };
            let mut sent =
                relay::send_all(deps, &envelope.store_id, &klaviyo, &requests, deadline).await;
            if sent.is_ok()
                && let Some(held) = record.get(deps, &envelope.store_id, deadline).await?
                && let Err(e) = crate::points::after_relay(deps, &envelope, held, deadline).await
            {
                sent = Err(e);
            }
            if sent.is_ok() {
                trace.relayed = requests
                    .iter()
                    .filter_map(|r| match r {
                        mapping::KlaviyoRequest::CreateEvent(e) => Some(e.metric.clone()),
                        _ => None,
                    })
                    .collect();
            }
            sent
        }
    }
}

/// The store's record, read at most once per delivery, when something first needs it (an
/// absent store is remembered as absent, not read again).
#[derive(Default)]
struct Held(Option<Option<StoreRecord>>);

impl Held {
    async fn get(
        &mut self,
        deps: &Deps,
        store_id: &str,
        deadline: Deadline,
    ) -> Result<Option<&StoreRecord>, IntakeError> {
        if self.0.is_none() {
            let read = deadline
                .run(Service::DynamoDb, deps.store.get(store_id))
                .await?;
            // A deletion marker is an uninstalled store: its store events are not relayed,
            // whatever a late settings event may have left in it.
            self.0 = Some(read.filter(|r| !r.is_marker()));
        }
        Ok(self.0.as_ref().and_then(Option::as_ref))
    }

    /// The record when the store has a Klaviyo key.
    async fn connected(
        &mut self,
        deps: &Deps,
        store_id: &str,
        deadline: Deadline,
    ) -> Result<Option<&StoreRecord>, IntakeError> {
        Ok(self
            .get(deps, store_id, deadline)
            .await?
            .filter(|r| r.klaviyo.is_some()))
    }
}

/// Adds the delivery to the sync-health counts of its store (only once the signature proved
/// which store it is), and writes what is due: at most once a minute per store, never
/// failing the delivery.
async fn count(deps: &Deps, trace: &Trace, result: &Result<Outcome, IntakeError>) {
    let Some(store_id) = trace.store_id.as_deref() else {
        return;
    };
    let failure = match result {
        Ok(Outcome::Sent { .. }) => None,
        Ok(_) => return,
        Err(e) => match health_cause(e) {
            Some(cause) => Some(cause),
            None => return,
        },
    };
    let now = adapters::clock::now_unix();
    let relayed = trace.relayed.iter().map(String::as_str);
    if let Some(flush) = deps.tally.record(store_id, now, relayed, failure) {
        adapters::health::write(deps.health.as_ref(), &deps.tally, flush).await;
    }
}

/// The cause a merchant reads on the page, or `None` for what says nothing about their sync.
fn health_cause(e: &IntakeError) -> Option<&'static str> {
    Some(match e {
        IntakeError::KlaviyoKeyRevoked => "revoked_key",
        IntakeError::KlaviyoRejected { code } if code.contains("permission") => "missing_scope",
        IntakeError::KlaviyoRejected { .. } => "rejected_data",
        IntakeError::Unavailable(adapters::AdapterError::Unavailable {
            service: Service::Klaviyo,
            ..
        }) => "klaviyo_outage",
        // Salla redelivers these: the merchant sees that a retry is pending.
        IntakeError::Unavailable(_) => "temporary_failure",
        IntakeError::BadBody(_) => "unreadable_event",
        IntakeError::Internal(_) => "internal_error",
        IntakeError::Unauthenticated | IntakeError::TooLarge { .. } => return None,
    })
}

/// A lifecycle change cut off at the deadline answers 503: every change is a version-checked
/// merge, so Salla's redelivery applies it whole.
async fn within<F>(deadline: Deadline, change: F) -> Result<Outcome, IntakeError>
where
    F: Future<Output = Result<Outcome, IntakeError>>,
{
    tokio::time::timeout_at(deadline.instant(), change)
        .await
        .unwrap_or_else(|_| {
            Err(IntakeError::Unavailable(
                adapters::AdapterError::Unavailable {
                    service: Service::DynamoDb,
                    detail: "invocation deadline reached".into(),
                },
            ))
        })
}

fn json_response(status: u16, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use adapters::config::{Config, Profile};
    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KeyStore, StoreRecord};
    use serde_json::Value;

    use super::*;

    const SECRET: &str = "intake-test-secret";

    fn deps(store: Arc<MemoryKeyStore>) -> Deps {
        let (config, _) = Config::from_lookup(
            |k| (k == "SALLA_WEBHOOK_SECRET").then(|| SECRET.to_string()),
            Profile::Dev { port: 0 },
        )
        .unwrap();
        let mut deps = Deps::new(&config, store);
        deps.health = Arc::new(adapters::health::memory::MemoryHealth::new());
        deps
    }

    fn delivery(body: &str, signed: bool) -> Request {
        let mut builder = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook");
        if signed {
            let signature = adapters::salla::signature::sign(SECRET.as_bytes(), body.as_bytes());
            builder = builder.header("x-salla-signature", signature);
        }
        builder.body(Body::Text(body.into())).unwrap()
    }

    async fn answer(deps: &Deps, req: Request) -> (u16, Value) {
        let resp = handle(deps, req).await;
        let body = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => Value::Null,
        };
        (resp.status().as_u16(), body)
    }

    /// A delivery sent just now (UTC, so unambiguous whatever Salla's local time).
    fn event(name: &str) -> String {
        let now = adapters::clock::now_unix();
        format!(r#"{{"event":"{name}","merchant":42,"created_at":{now},"data":{{}}}}"#)
    }

    #[tokio::test]
    async fn credential_size_and_body_are_checked_in_that_order() {
        let deps = deps(Arc::new(MemoryKeyStore::new()));
        let (status, body) = answer(&deps, delivery(&event("order.created"), false)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthenticated"))
        );

        let huge = "x".repeat(MAX_BODY + 1);
        let (status, body) = answer(&deps, delivery(&huge, true)).await;
        assert_eq!((status, body["error"].as_str()), (413, Some("too_large")));

        let (status, body) = answer(&deps, delivery(r#"{"event":"order.created"}"#, true)).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("bad_body")));
    }

    #[tokio::test]
    async fn ignored_events_and_uninstalls_answer_200() {
        let store = Arc::new(MemoryKeyStore::with_records([StoreRecord::new("42")]));
        let deps = deps(store.clone());
        let (status, body) =
            answer(&deps, delivery(&event("app.subscription.renewed"), true)).await;
        assert_eq!((status, body["outcome"].as_str()), (200, Some("ignored")));
        assert_eq!(store.len(), 1);

        let (status, body) = answer(&deps, delivery(&event("app.uninstalled"), true)).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["outcome"], "store_deleted");
        let marker = store.get("42").await.unwrap().expect("deletion marker");
        assert!(marker.klaviyo.is_none() && marker.salla.is_none() && marker.ttl.is_some());
    }

    /// A deletion marker is an uninstalled store: whatever a late settings event left in it,
    /// no store event of that store is relayed to Klaviyo.
    #[tokio::test]
    async fn store_events_of_an_uninstalled_store_are_not_relayed() {
        let now = adapters::clock::now_unix();
        let body = include_str!("../../../tests/fixtures/salla-samples/customer.login.json");
        let store_id = serde_json::from_str::<Value>(body).unwrap()["merchant"].to_string();
        let mut marker = StoreRecord::new(store_id);
        marker.mark_uninstalled(now - 60, now);
        marker.klaviyo = Some(adapters::keystore::KlaviyoConnection {
            private_key: adapters::Secret::new("pk_left_in_a_marker"),
            account_name: None,
            account_id: None,
            validated_at: 0,
            needs_reconnect: false,
        });
        let deps = deps(Arc::new(MemoryKeyStore::with_records([marker])));
        let (status, body) = answer(&deps, delivery(body, true)).await;
        assert_eq!(
            (status, body["outcome"].as_str()),
            (200, Some("no_klaviyo_key")),
            "{body}"
        );
    }

    #[tokio::test]
    async fn the_previous_secret_verifies_until_the_rotation_ends() {
        let rotating = |ends: &str| {
            let ends = ends.to_string();
            let (config, _) = Config::from_lookup(
                move |k| match k {
                    "SALLA_WEBHOOK_SECRET" => Some("the-new-secret".to_string()),
                    "SALLA_WEBHOOK_SECRET_PREVIOUS" => Some(SECRET.to_string()),
                    "SALLA_WEBHOOK_ROTATION_ENDS_AT" => Some(ends.clone()),
                    _ => None,
                },
                Profile::Dev { port: 0 },
            )
            .unwrap();
            Deps::new(&config, Arc::new(MemoryKeyStore::new()))
        };
        let body = event("app.subscription.renewed");
        let open = rotating("2100-01-01T00:00:00Z");
        let (status, _) = answer(&open, delivery(&body, true)).await;
        assert_eq!(
            status, 200,
            "signed with the previous secret, inside the window"
        );
        let mut new = delivery(&body, false);
        new.headers_mut().insert(
            "x-salla-signature",
            adapters::salla::signature::sign(b"the-new-secret", body.as_bytes())
                .parse()
                .unwrap(),
        );
        assert_eq!(answer(&open, new).await.0, 200, "the new secret verifies");

        let closed = rotating("2020-01-01T00:00:00Z");
        let (status, body) = answer(&closed, delivery(&body, true)).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("unauthenticated"))
        );
    }

    /// Records every Klaviyo request body and answers 202.
    #[derive(Default)]
    struct Recording {
        bodies: std::sync::Mutex<Vec<Value>>,
    }

    #[async_trait::async_trait]
    impl adapters::klaviyo::KlaviyoApi for Recording {
        async fn get_account(
            &self,
            _: &adapters::Secret,
        ) -> Result<adapters::klaviyo::AccountInfo, adapters::AdapterError> {
            Err(adapters::AdapterError::Config("not used".into()))
        }
        async fn call(
            &self,
            _: &adapters::Secret,
            _: &'static str,
            _: &str,
            body: Option<&Value>,
            _: tokio::time::Instant,
        ) -> Result<adapters::klaviyo::Delivery, adapters::AdapterError> {
            self.bodies
                .lock()
                .unwrap()
                .push(body.cloned().unwrap_or(Value::Null));
            Ok(adapters::klaviyo::Delivery {
                status: 202,
                attempts: 1,
                error: None,
            })
        }
    }

    #[tokio::test]
    async fn a_cod_order_s_placed_order_carries_links_that_open() {
        let store = Arc::new(MemoryKeyStore::with_records([connected_store()]));
        let mut deps = deps(store);
        let klaviyo = Arc::new(Recording::default());
        deps.klaviyo = klaviyo.clone();
        let sent = adapters::clock::now_unix();
        let order = |method: &str| {
            format!(
                r#"{{"event":"order.created","merchant":42,"created_at":"{sent}",
                "data":{{"id":777,"reference_id":1001,"payment_method":"{method}",
                "amounts":{{"total":{{"amount":50,"currency":"SAR"}}}},
                "customer":{{"id":5,"email":"a@b.example"}}}}}}"#
            )
        };
        let (status, _) = answer(&deps, delivery(&order("cod"), true)).await;
        assert_eq!(status, 200);
        let bodies = klaviyo.bodies.lock().unwrap().clone();
        let props = &bodies[0]["data"]["attributes"]["properties"];
        let confirm = props["CODConfirmURL"].as_str().expect("confirm link");
        let cancel = props["CODCancelURL"].as_str().expect("cancel link");
        let issuer = deps.cod_links.as_ref().unwrap();
        let now = adapters::clock::now_unix();
        for (url, action) in [
            (confirm, adapters::cod::link::Action::Confirm),
            (cancel, adapters::cod::link::Action::Cancel),
        ] {
            let token = url
                .strip_prefix(issuer.base_url.as_str())
                .expect("page URL");
            let link = issuer.secrets.open(token, now).expect("opens");
            assert_eq!(
                (link.store_id, link.order_id, link.action),
                (42, 777, action)
            );
        }

        // Salla's redelivery of the same body builds the same links: the request is the same.
        std::thread::sleep(std::time::Duration::from_millis(1100));
        answer(&deps, delivery(&order("cod"), true)).await;
        let again = klaviyo.bodies.lock().unwrap().last().cloned().unwrap();
        assert_eq!(again, bodies[0]);

        klaviyo.bodies.lock().unwrap().clear();
        answer(&deps, delivery(&order("mada"), true)).await;
        let bodies = klaviyo.bodies.lock().unwrap().clone();
        assert!(
            bodies[0]["data"]["attributes"]["properties"]
                .get("CODConfirmURL")
                .is_none()
        );
    }

    #[tokio::test]
    async fn the_merchant_s_cod_settings_shape_the_links() {
        let connected = |cod: Option<mapping::CodSettings>| StoreRecord {
            cod,
            ..connected_store()
        };
        let sent = adapters::clock::now_unix();
        let body = format!(
            r#"{{"event":"order.created","merchant":42,"created_at":"{sent}",
            "data":{{"id":777,"payment_method":"cod","customer":{{"id":5,"email":"a@b.example"}}}}}}"#
        );
        let run = async |cod| {
            let store = Arc::new(MemoryKeyStore::with_records([connected(cod)]));
            let mut deps = deps(store);
            let klaviyo = Arc::new(Recording::default());
            deps.klaviyo = klaviyo.clone();
            let (status, _) = answer(&deps, delivery(&body, true)).await;
            assert_eq!(status, 200);
            let props =
                klaviyo.bodies.lock().unwrap()[0]["data"]["attributes"]["properties"].clone();
            let link = |field: &str| {
                let url = props.get(field)?.as_str()?.to_owned();
                let issuer = deps.cod_links.as_ref()?;
                let token = url.strip_prefix(issuer.base_url.as_str())?;
                issuer.secrets.open(token, sent).ok()
            };
            (link("CODConfirmURL"), link("CODCancelURL"))
        };
        let settings = |enabled, cancel_allowed, link_hours| mapping::CodSettings {
            enabled,
            cancel_allowed,
            link_hours,
            ..mapping::CodSettings::default()
        };

        let (confirm, cancel) = run(Some(settings(true, false, 24))).await;
        assert_eq!(confirm.map(|l| l.expires_at - sent), Some(24 * 3600));
        assert!(
            cancel.is_none(),
            "no cancel link when cancelling is not allowed"
        );
        let (confirm, cancel) = run(Some(settings(false, true, 24))).await;
        assert!(confirm.is_none() && cancel.is_none(), "switched off");
        // Never saved: the defaults (on, cancel allowed, 72 hours).
        let (confirm, cancel) = run(None).await;
        assert_eq!(confirm.map(|l| l.expires_at - sent), Some(72 * 3600));
        assert!(cancel.is_some());
    }

    /// A relayed delivery counts its events under their metrics; an unsigned one counts
    /// nothing, since it proves no store.
    #[tokio::test]
    async fn relayed_events_reach_the_sync_health_counts() {
        let store = Arc::new(MemoryKeyStore::with_records([connected_store()]));
        let mut deps = deps(store);
        deps.klaviyo = Arc::new(Recording::default());
        let health = Arc::new(adapters::health::memory::MemoryHealth::new());
        deps.health = health.clone();
        let sent = adapters::clock::now_unix();
        let body = format!(
            r#"{{"event":"order.created","merchant":42,"created_at":"{sent}",
            "data":{{"id":777,"payment_method":"mada","customer":{{"id":5,"email":"a@b.example"}},
            "items":[{{"product_id":9,"name":"x","quantity":1,"amounts":{{"total":{{"amount":5}}}}}}]}}}}"#
        );
        assert_eq!(answer(&deps, delivery(&body, false)).await.0, 401);
        assert_eq!(answer(&deps, delivery(&body, true)).await.0, 200);
        let view = adapters::health::read(health.as_ref(), "42", adapters::clock::now_unix())
            .await
            .unwrap();
        let placed = view.metrics.iter().find(|m| m.metric == "Placed Order");
        assert_eq!(placed.map(|m| m.last_24h), Some(1), "{view:?}");
        assert!(view.last_ok.is_some());
        assert!(view.failures.is_empty());
    }

    /// Store 42 with a Klaviyo key.
    fn connected_store() -> StoreRecord {
        let mut record = StoreRecord::new("42");
        record.klaviyo = Some(adapters::keystore::KlaviyoConnection {
            private_key: adapters::Secret::new("pk_test"),
            account_name: None,
            account_id: None,
            validated_at: 0,
            needs_reconnect: false,
        });
        record
    }

    const MAX_BODY: usize = crate::deps::MAX_BODY_BYTES;
}

/// Milliseconds to the microsecond, so a log line reads `12.345` and never carries the long
/// binary tail of a float product (`12.344999999999`), which is noise and can look like a
/// phone number to a scanner.
pub fn millis(d: std::time::Duration) -> f64 {
    d.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod millis_tests {
    use super::millis;
    use std::time::Duration;

    #[test]
    fn latencies_have_at_most_three_decimals() {
        for nanos in [
            1_201_099_999u64,
            201_099_999,
            12_344_999,
            999,
            0,
            7_000_000_001,
        ] {
            let text = millis(Duration::from_nanos(nanos)).to_string();
            let decimals = text.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 3, "{nanos} ns logged as {text}");
        }
        assert_eq!(millis(Duration::from_micros(1_201_099)), 1201.099);
    }
}
