//! Sends one webhook's Klaviyo requests concurrently and folds their results into one answer
//! for Salla.

use tokio::time::Instant;

use adapters::AdapterError;
use adapters::deadline::Deadline;
use adapters::keystore::{self, KlaviyoConnection};
use adapters::klaviyo::Delivery;
use futures::future::join_all;
use mapping::KlaviyoRequest;

use crate::Deps;
use crate::error::IntakeError;
use crate::outcome::Outcome;

pub async fn send_all(
    deps: &Deps,
    store_id: &str,
    connection: &KlaviyoConnection,
    requests: &[KlaviyoRequest],
    deadline: Deadline,
) -> Result<Outcome, IntakeError> {
    let started = Instant::now();
    let results = join_all(
        requests
            .iter()
            .map(|r| deliver(deps, connection, r, deadline.instant())),
    )
    .await;
    let klaviyo_ms = started.elapsed().as_secs_f64() * 1000.0;

    // A transient failure wins: Salla redelivers the whole webhook, and the requests that did
    // go through are deduplicated by Klaviyo through their unique_id.
    let mut worst: Option<IntakeError> = None;
    for (request, result) in requests.iter().zip(results) {
        let Err(e) = result else { continue };
        let label = request.label();
        match &e {
            AdapterError::Rejected {
                status,
                code,
                detail,
                ..
            } => {
                tracing::error!(store_id, request = %label, klaviyo_status = status, klaviyo_code = %code, klaviyo_detail = %detail, "klaviyo rejected request");
            }
            other => {
                tracing::warn!(store_id, request = %label, error = %other, "klaviyo request failed");
            }
        }
        let e = IntakeError::from(e);
        worst = Some(match worst {
            None => e,
            Some(prev) => more_urgent(prev, e),
        });
    }
    match worst {
        None => Ok(Outcome::Sent {
            requests: requests.len(),
            klaviyo_ms,
        }),
        Some(IntakeError::KlaviyoKeyRevoked) => {
            mark_needs_reconnect(deps, store_id).await;
            Err(IntakeError::KlaviyoKeyRevoked)
        }
        Some(e) => Err(e),
    }
}

/// Retry-able beats revoked beats rejected: the answer should make Salla redeliver whenever
/// a redelivery could succeed.
fn more_urgent(a: IntakeError, b: IntakeError) -> IntakeError {
    let rank = |e: &IntakeError| match e {
        IntakeError::Unavailable(_) => 0,
        IntakeError::Internal(_) => 1,
        IntakeError::KlaviyoKeyRevoked => 2,
        _ => 3,
    };
    if rank(&b) < rank(&a) { b } else { a }
}

/// One request with Klaviyo's documented special cases:
/// - catalog create answered 409 (item exists) → the update the mapping prepared;
/// - PATCH/DELETE of a catalog item answered 404 → nothing to change, done;
/// - 409 `duplicate_profile` or 400 about the phone → resend once without the phone, so the
///   event still lands on the profile found by email / external id.
async fn deliver(
    deps: &Deps,
    connection: &KlaviyoConnection,
    request: &KlaviyoRequest,
    deadline: Instant,
) -> Result<Delivery, AdapterError> {
    let key = &connection.private_key;
    let body = request.body();
    let path = request.path();
    let first = deps
        .klaviyo
        .call(key, request.method(), &path, body.as_ref(), deadline)
        .await?;
    if first.is_success() {
        return Ok(first);
    }
    if let Some((method, path, body)) = request.fallback(first.status) {
        let second = deps
            .klaviyo
            .call(key, method, &path, Some(&body), deadline)
            .await?;
        if second.status == 404 {
            return Ok(second);
        }
        return second.into_result();
    }
    if first.status == 404 && matches!(request.method(), "PATCH" | "DELETE") {
        return Ok(first);
    }
    let phone_conflict = first.error.as_ref().is_some_and(|e| {
        (first.status == 409 && e.code == "duplicate_profile")
            || (first.status == 400 && e.mentions_phone)
    });
    if phone_conflict && let Some(without_phone) = request.without_phone() {
        let body = without_phone.body();
        return deps
            .klaviyo
            .call(
                key,
                without_phone.method(),
                &without_phone.path(),
                body.as_ref(),
                deadline,
            )
            .await?
            .into_result();
    }
    first.into_result()
}

/// Records that the key stopped working so the onboarding page can ask the merchant to
/// reconnect. Best effort: the 424 to Salla already reports the failure.
async fn mark_needs_reconnect(deps: &Deps, store_id: &str) {
    let result = keystore::update(deps.store.as_ref(), store_id, |record| {
        if let Some(k) = record.klaviyo.as_mut() {
            k.needs_reconnect = true;
        }
    })
    .await;
    if let Err(e) = result {
        tracing::warn!(store_id, error = %e, "could not mark store as needing reconnection");
    }
}
