//! The HTTP edge: credential check, routing, error → status, one structured log line.

use std::time::Instant;

use lambda_http::{Body, Request, Response};
use mapping::Action;
use serde_json::json;

use crate::Deps;
use crate::error::IntakeError;
pub use crate::outcome::Outcome;
use crate::{enrich, lifecycle, relay};

/// Facts gathered while handling, logged once at the end.
#[derive(Debug, Default)]
struct Trace {
    event: Option<String>,
    store_id: Option<String>,
}

pub async fn handle(deps: &Deps, req: Request) -> Response<Body> {
    let started = Instant::now();
    let mut trace = Trace::default();
    let result = process(deps, &req, &mut trace).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
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

async fn process(deps: &Deps, req: &Request, trace: &mut Trace) -> Result<Outcome, IntakeError> {
    let body: &[u8] = req.body().as_ref();
    if body.len() > deps.max_body_bytes {
        return Err(IntakeError::TooLarge {
            limit: deps.max_body_bytes,
        });
    }
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok());
    // lambda_http has already base64-decoded a function-URL body flagged isBase64Encoded, so
    // these are the bytes Salla signed.
    if !adapters::salla::signature::verify(
        deps.strategy,
        deps.webhook_secret.expose().as_bytes(),
        body,
        header("x-salla-signature"),
        header("authorization"),
    ) {
        return Err(IntakeError::Unauthenticated);
    }

    let envelope = mapping::parse_envelope(body)?;
    trace.event = Some(envelope.event.clone());
    trace.store_id = Some(envelope.store_id.clone());

    // Events whose Klaviyo requests want product details (abandoned carts, partial product
    // updates) have them looked up first, so the mapping runs exactly once per webhook.
    let wanted = mapping::products_to_enrich(&envelope);
    let mut record = None;
    let mut enrichment = mapping::Enrichment::default();
    if !wanted.is_empty() {
        record = deps.store.get(&envelope.store_id).await?;
        let Some(connected) = record.as_ref().filter(|r| r.klaviyo.is_some()) else {
            return Ok(Outcome::NoKlaviyoKey);
        };
        enrichment = enrich::enrichment(deps, connected, &wanted).await;
    }

    match mapping::plan(&envelope, &enrichment)? {
        Action::Authorize(auth) => lifecycle::authorize(deps, &envelope.store_id, auth).await,
        Action::SettingsUpdated {
            klaviyo_private_key,
        } => lifecycle::settings_updated(deps, &envelope.store_id, klaviyo_private_key).await,
        Action::Uninstalled => lifecycle::uninstalled(deps, &envelope.store_id).await,
        Action::Ignore { reason } => Ok(Outcome::Ignored { reason }),
        Action::Send(requests) => {
            let record = match record {
                Some(record) => Some(record),
                None => deps.store.get(&envelope.store_id).await?,
            };
            let Some(klaviyo) = record.and_then(|r| r.klaviyo) else {
                return Ok(Outcome::NoKlaviyoKey);
            };
            relay::send_all(deps, &envelope.store_id, &klaviyo, &requests).await
        }
    }
}

fn json_response(status: u16, body: serde_json::Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store")
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
