//! History work that a delivery's result starts (see `adapters::history::start`):
//! - a store event the intake could not deliver (a 5xx answer, or the store's key refused)
//!   marks the store's first miss, so a repair later re-sends what Salla's retries did not;
//! - a store event delivered to a marked store queues that repair;
//! - a lifecycle change that stored Salla tokens or a Klaviyo key queues the store's first
//!   import once it holds both.
//!
//! All of it runs inside the invocation's deadline and after the answer is decided: it never
//! changes what Salla is told. The record is read through the warm-process cache, which the
//! delivery has just filled, so a store with nothing to start costs no I/O.

use adapters::deadline::Deadline;
use adapters::history::start;
use adapters::{AdapterError, Service};

use crate::Deps;
use crate::error::IntakeError;
use crate::outcome::Outcome;

/// What one delivery came to, as far as history is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The event may be lost once Salla's retries end: mark the miss.
    Missed,
    /// Delivered: a marked store's repair may start.
    Delivered,
    /// Tokens or a key stored: the first import may start.
    Connected,
    None,
}

/// Classifies a result; `relayed` says whether the delivery was a store event for Klaviyo.
pub fn effect(relayed: bool, result: &Result<Outcome, IntakeError>) -> Effect {
    match result {
        Ok(Outcome::Sent { .. }) => Effect::Delivered,
        Ok(Outcome::Lifecycle {
            change: "salla_tokens_stored" | "klaviyo_key_stored" | "klaviyo_account_changed",
        }) => Effect::Connected,
        Err(IntakeError::KlaviyoKeyRevoked) if relayed => Effect::Missed,
        Err(IntakeError::Unavailable(e) | IntakeError::Internal(e))
            if relayed && !key_store_failure(e) =>
        {
            Effect::Missed
        }
        _ => Effect::None,
    }
}

/// The store's record could not be read: the mark could not be written either, and trying
/// would only double the load on a key store that is already failing.
fn key_store_failure(e: &AdapterError) -> bool {
    let store = |s: &Service| {
        matches!(
            s,
            Service::DynamoDb | Service::Kms | Service::EmbeddedKeyStore
        )
    };
    match e {
        AdapterError::Unavailable { service, .. } | AdapterError::BadResponse { service, .. } => {
            store(service)
        }
        AdapterError::Decrypt { .. } | AdapterError::Conflict { .. } => true,
        _ => false,
    }
}

/// Runs the delivery's history effect for `store_id`, within `deadline` (skipped when no
/// time is left: the daily sweep covers what it would have started).
pub async fn after(deps: &Deps, store_id: &str, effect: Effect, deadline: Deadline) {
    if effect == Effect::None || deadline.has_passed() {
        return;
    }
    let work = async {
        let record = match deps.store.get(store_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(event = "history_gap", store_id, outcome = "read_failed", error = %e);
                return;
            }
        };
        let store = deps.store.as_ref();
        match effect {
            Effect::Missed => {
                start::record_miss(store, &record, adapters::clock::now_unix()).await;
            }
            Effect::Delivered => {
                deps.history.repair_if_due(store, &record, "intake").await;
            }
            Effect::Connected => {
                deps.history
                    .import_if_connected(store, &record, "intake")
                    .await;
            }
            Effect::None => {}
        }
    };
    if deadline
        .run(Service::DynamoDb, async {
            work.await;
            Ok(())
        })
        .await
        .is_err()
    {
        tracing::warn!(event = "history_gap", store_id, outcome = "out_of_time");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_relayed_event_that_failed_is_a_miss() {
        let down = || {
            Err(IntakeError::Unavailable(AdapterError::Unavailable {
                service: Service::Klaviyo,
                detail: "HTTP 503".into(),
            }))
        };
        assert_eq!(effect(true, &down()), Effect::Missed);
        assert_eq!(
            effect(true, &Err(IntakeError::KlaviyoKeyRevoked)),
            Effect::Missed
        );
        // The key store failing: nothing could be marked, so nothing is tried.
        let kms = Err(IntakeError::Unavailable(AdapterError::Unavailable {
            service: Service::Kms,
            detail: "unreachable".into(),
        }));
        assert_eq!(effect(true, &kms), Effect::None);
        // A lifecycle change that failed is redelivered by Salla, not repaired from orders.
        assert_eq!(effect(false, &down()), Effect::None);
        // A body we refused is not an event Klaviyo should have had.
        assert_eq!(
            effect(true, &Err(IntakeError::Unauthenticated)),
            Effect::None
        );
        assert_eq!(
            effect(
                true,
                &Ok(Outcome::Sent {
                    requests: 1,
                    klaviyo_ms: 1.0
                })
            ),
            Effect::Delivered
        );
        assert_eq!(
            effect(
                false,
                &Ok(Outcome::Lifecycle {
                    change: "klaviyo_key_stored"
                })
            ),
            Effect::Connected
        );
        assert_eq!(effect(true, &Ok(Outcome::NoKlaviyoKey)), Effect::None);
    }
}
