//! Sends one webhook's Klaviyo requests concurrently and folds their results into one answer
//! for Salla.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use adapters::deadline::Deadline;
use tokio::time::Instant;

use adapters::keystore::{self, KlaviyoConnection};
use adapters::klaviyo::Delivery;
use adapters::klaviyo::profiles::{self, Resolution};
use adapters::{AdapterError, Secret};
use futures::StreamExt;
use mapping::KlaviyoRequest;

use crate::Deps;
use crate::error::IntakeError;
use crate::outcome::Outcome;

/// Most Klaviyo requests one webhook has in flight at once. A typical event plans 1–5
/// requests, which all go out together; a large order plans one per line, and 8 keeps it
/// from opening hundreds of connections (and from spending a per-account rate limit in one
/// burst) while a 100-line order still takes ~13 round trips, well inside the budget.
pub const MAX_IN_FLIGHT: usize = 8;

/// How often one warm process sends a store's flagged key to Klaviyo again, to notice a key
/// that works again (scopes restored) without calling Klaviyo on every event.
pub const RECONNECT_PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// When this process last sent each flagged store's key to Klaviyo.
#[derive(Default)]
pub struct ReconnectProbes(Mutex<HashMap<String, Instant>>);

impl ReconnectProbes {
    /// Whether a flagged store's key may be tried now; if so, counts this as the try.
    fn take(&self, store_id: &str) -> bool {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let due = last
            .get(store_id)
            .is_none_or(|at| at.elapsed() >= RECONNECT_PROBE_INTERVAL);
        if due {
            // Bounded like the key cache: flagged stores are few, and forgetting only
            // allows one extra probe.
            if last.len() >= 10_000 {
                last.clear();
            }
            last.insert(store_id.to_string(), Instant::now());
        }
        due
    }

    fn tried(&self, store_id: &str) {
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        last.insert(store_id.to_string(), Instant::now());
    }
}

pub async fn send_all(
    deps: &Deps,
    store_id: &str,
    connection: &KlaviyoConnection,
    requests: &[KlaviyoRequest],
    deadline: Deadline,
) -> Result<Outcome, IntakeError> {
    // A key Klaviyo refused is not sent with every event: the answer is 424 (Salla
    // redelivers, so the event survives a reconnection within its retries), with one probe
    // per interval in case the key works again.
    if connection.needs_reconnect && !deps.reconnect_probes.take(store_id) {
        return Err(IntakeError::KlaviyoKeyRevoked);
    }
    let started = Instant::now();
    // `buffered` keeps the results in request order, for the zip below. The stream runs over
    // indices: a closure taking `&KlaviyoRequest` makes the future fail the `Send` check
    // the Lambda runtime needs (a higher-ranked lifetime the compiler cannot prove).
    // A product's catalog requests depend on each other (its categories, then the item that
    // links them, then its variants), so a delivery holding categories or variants goes out
    // one request at a time, in the mapping's order.
    let ordered = requests.iter().any(|r| {
        matches!(
            r,
            KlaviyoRequest::UpsertCatalogCategory(_) | KlaviyoRequest::UpsertCatalogVariant(_)
        )
    });
    let in_flight = if ordered { 1 } else { MAX_IN_FLIGHT };
    let results: Vec<_> = futures::stream::iter(0..requests.len())
        .map(|i| deliver(deps, connection, &requests[i], deadline.instant()))
        .buffered(in_flight)
        .collect()
        .await;
    let klaviyo_ms = crate::handler::millis(started.elapsed());

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
        None => {
            if connection.needs_reconnect {
                set_needs_reconnect(deps, store_id, &connection.private_key, false).await;
            }
            Ok(Outcome::Sent {
                requests: requests.len(),
                klaviyo_ms,
            })
        }
        Some(IntakeError::KlaviyoKeyRevoked) => {
            deps.reconnect_probes.tried(store_id);
            if !connection.needs_reconnect {
                set_needs_reconnect(deps, store_id, &connection.private_key, true).await;
            }
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
/// - 409 `duplicate_profile` on a profile import whose named profile holds only this
///   shopper's phone → merge it into the email's profile and import again (one profile);
/// - otherwise 409 `duplicate_profile` or 400 about the phone → resend once without the
///   phone, so the event still lands on the profile found by email / external id.
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
    // A phone-only profile Klaviyo names in the conflict is merged into the shopper's when the
    // rule in adapters::klaviyo::profiles allows it; otherwise the resend without the phone.
    if first.status == 409
        && matches!(request, KlaviyoRequest::ImportProfile(_))
        && let Some(duplicate) = first
            .error
            .as_ref()
            .and_then(|e| e.duplicate_profile_id.as_deref())
        && let Some(body) = body.as_ref()
    {
        match profiles::resolve_duplicate(deps.klaviyo.as_ref(), key, body, duplicate, deadline)
            .await?
        {
            Resolution::Merged { delivery } | Resolution::WithoutPhone { delivery } => {
                return delivery.into_result();
            }
            Resolution::NotSafe(_) => {}
        }
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

/// Records that the key stopped (or, after a probe, started again) working, so the
/// onboarding page asks the merchant to reconnect. Only if `key` is still the store's key:
/// the merchant may have connected a new one while this webhook was in flight, and that one
/// must not be flagged for the old key's failure. Nothing is written for a store gone or
/// uninstalled meanwhile. Best effort: the answer to Salla already reports the failure.
async fn set_needs_reconnect(deps: &Deps, store_id: &str, key: &Secret, flag: bool) {
    let live = keystore::IfAbsent::Skip;
    let result = keystore::update_live(deps.store.as_ref(), store_id, live, |record| {
        if let Some(k) = record.klaviyo.as_mut()
            && k.private_key == *key
        {
            k.needs_reconnect = flag;
        }
    })
    .await;
    if let Err(e) = result {
        tracing::warn!(store_id, error = %e, "could not record the store's reconnection state");
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use adapters::config::{Config, Profile};
    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KeyStore, KlaviyoConnection, StoreRecord};

    use super::*;

    fn deps(store: Arc<MemoryKeyStore>) -> Deps {
        let (config, _) = Config::from_lookup(
            |k| (k == "SALLA_WEBHOOK_SECRET").then(|| "relay-test-secret".to_string()),
            Profile::Dev { port: 0 },
        )
        .unwrap();
        Deps::new(&config, store)
    }

    fn keyed(key: &str) -> StoreRecord {
        let mut record = StoreRecord::new("7");
        record.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new(key),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        });
        record
    }

    /// The flag belongs to a record that exists and is not uninstalled: a webhook in flight
    /// across an uninstall neither creates a record nor writes onto the marker.
    #[tokio::test]
    async fn the_reconnect_flag_is_never_written_for_a_store_gone_or_uninstalled() {
        let key = Secret::new("pk_held");
        let gone = Arc::new(MemoryKeyStore::new());
        set_needs_reconnect(&deps(gone.clone()), "7", &key, true).await;
        assert!(gone.is_empty());

        // A settings event after the uninstall left a key on the marker.
        let mut marker = keyed("pk_held");
        marker.mark_uninstalled(100, adapters::clock::now_unix());
        marker.klaviyo = keyed("pk_held").klaviyo;
        let store = Arc::new(MemoryKeyStore::with_records([marker]));
        let held = store.get("7").await.unwrap();
        set_needs_reconnect(&deps(store.clone()), "7", &key, true).await;
        assert_eq!(store.get("7").await.unwrap(), held);

        let live = Arc::new(MemoryKeyStore::with_records([keyed("pk_held")]));
        set_needs_reconnect(&deps(live.clone()), "7", &key, true).await;
        let flagged = live.get("7").await.unwrap().unwrap();
        assert!(flagged.klaviyo.unwrap().needs_reconnect);
    }
}
