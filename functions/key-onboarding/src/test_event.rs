//! "Send a test event": one event to Klaviyo with the store's saved key, so the merchant sees
//! the connection work end to end. It names no shopper: the profile is the store's own test
//! profile (`external_id` only), the properties are the store id and the time it was sent.
//! Its `unique_id` is fixed per store and minute, so a double click is one event in Klaviyo.

use std::time::Duration;

use adapters::AdapterError;
use adapters::keystore::KlaviyoConnection;
use adapters::klaviyo::KlaviyoApi;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::i18n::Problem;

/// The metric the test event is recorded under in Klaviyo.
pub const METRIC: &str = "Salla Test Event";
/// How long the merchant waits for Klaviyo's answer (retries included).
const TIMEOUT: Duration = Duration::from_secs(6);

/// The profile the store's test events are recorded on.
pub fn external_id(store_id: &str) -> String {
    format!("salla:{store_id}:test")
}

/// One per store and minute.
pub fn unique_id(store_id: &str, now: i64) -> String {
    format!("salla:{store_id}:test:{}", now.div_euclid(60))
}

/// `POST /api/events`'s body.
pub fn body(store_id: &str, now: i64) -> Value {
    let sent_at = time::OffsetDateTime::from_unix_timestamp(now)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    json!({
        "data": {
            "type": "event",
            "attributes": {
                "properties": {"store_id": store_id, "sent_at": sent_at, "source": "merchant_page"},
                "time": sent_at,
                "unique_id": unique_id(store_id, now),
                "metric": {"data": {"type": "metric", "attributes": {"name": METRIC}}},
                "profile": {"data": {"type": "profile", "attributes": {"external_id": external_id(store_id)}}}
            }
        }
    })
}

/// Sends the event; `Err` names what the merchant should do about a refusal.
pub async fn send(
    klaviyo: &dyn KlaviyoApi,
    store_id: &str,
    connection: &KlaviyoConnection,
    now: i64,
) -> Result<(), Problem> {
    let body = body(store_id, now);
    let answer = klaviyo
        .call(
            &connection.private_key,
            "POST",
            "/api/events",
            Some(&body),
            Instant::now() + TIMEOUT,
        )
        .await
        .and_then(|d| d.into_result());
    let outcome = match &answer {
        Ok(_) => Ok(()),
        Err(AdapterError::Unauthorized { status: 403, .. }) => Err(Problem::TestScope),
        Err(AdapterError::Unauthorized { .. }) => Err(Problem::TestKeyRevoked),
        Err(AdapterError::Rejected { .. }) => Err(Problem::TestRejected),
        Err(_) => Err(Problem::KlaviyoDown),
    };
    let status = match &answer {
        Ok(d) => d.status,
        Err(AdapterError::Unauthorized { status, .. } | AdapterError::Rejected { status, .. }) => {
            *status
        }
        Err(_) => 0,
    };
    tracing::info!(
        event = "test_event",
        store_id,
        outcome = outcome.map_or_else(|p| p.code(), |()| "accepted"),
        status
    );
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::Secret;
    use adapters::klaviyo::{AccountInfo, Delivery};
    use async_trait::async_trait;
    use std::sync::Mutex;

    /// Answers every call with `status` (or unreachable for 0), keeping the bodies.
    struct Answering {
        status: u16,
        bodies: Mutex<Vec<(String, Value)>>,
    }

    #[async_trait]
    impl KlaviyoApi for Answering {
        async fn get_account(&self, _key: &Secret) -> Result<AccountInfo, AdapterError> {
            unreachable!("the test event checks no key")
        }

        async fn call(
            &self,
            _key: &Secret,
            method: &'static str,
            path: &str,
            body: Option<&Value>,
            _deadline: Instant,
        ) -> Result<Delivery, AdapterError> {
            self.bodies
                .lock()
                .unwrap()
                .push((format!("{method} {path}"), body.cloned().unwrap()));
            if self.status == 0 {
                return Err(AdapterError::Unavailable {
                    service: adapters::error::Service::Klaviyo,
                    detail: "timeout".into(),
                });
            }
            Ok(Delivery {
                status: self.status,
                attempts: 1,
                error: None,
            })
        }
    }

    fn connection() -> KlaviyoConnection {
        KlaviyoConnection {
            private_key: Secret::new("pk_test_ABCD"),
            account_name: None,
            account_id: None,
            validated_at: 0,
            needs_reconnect: false,
        }
    }

    #[tokio::test]
    async fn each_answer_is_named_for_the_merchant() {
        for (status, expected) in [
            (202, Ok(())),
            (401, Err(Problem::TestKeyRevoked)),
            (403, Err(Problem::TestScope)),
            (400, Err(Problem::TestRejected)),
            (0, Err(Problem::KlaviyoDown)),
        ] {
            let api = Answering {
                status,
                bodies: Mutex::default(),
            };
            let got = send(&api, "42", &connection(), 1_800_000_030).await;
            assert_eq!(got, expected, "{status}");
            let bodies = api.bodies.lock().unwrap();
            assert_eq!(bodies.len(), 1);
            assert_eq!(bodies[0].0, "POST /api/events");
        }
    }

    #[test]
    fn the_body_names_the_store_only_and_is_one_per_minute() {
        let a = body("42", 1_800_000_000);
        let attrs = &a["data"]["attributes"];
        assert_eq!(attrs["metric"]["data"]["attributes"]["name"], METRIC);
        assert_eq!(
            attrs["profile"]["data"]["attributes"],
            json!({"external_id": "salla:42:test"})
        );
        assert_eq!(attrs["unique_id"], "salla:42:test:30000000");
        assert_eq!(attrs["properties"]["store_id"], "42");
        assert_eq!(attrs["time"], "2027-01-15T08:00:00Z");
        assert_eq!(
            body("42", 1_800_000_059)["data"]["attributes"]["unique_id"],
            attrs["unique_id"],
            "the same minute"
        );
        assert_ne!(
            body("42", 1_800_000_060)["data"]["attributes"]["unique_id"],
            attrs["unique_id"]
        );
    }
}
