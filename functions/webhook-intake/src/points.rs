//! Loyalty points on the relay path. After a points event (an order delivered, returned or
//! refunded; a product review added) has been relayed, and when the store's points are on,
//! the customer's orders and reviews are read from Salla, `mapping::points` computes the
//! balance and the event for this subject, and both go to Klaviyo.
//!
//! Cost per points event: Salla, one order listing page per 60 orders of the customer (one
//! for nearly every shopper) and one reviews page; Klaviyo, the event (two for a reversal,
//! which also records its earning as a backfill) and the balance's profile import.
//!
//! A transient Salla or Klaviyo failure answers 503: Salla redelivers, the relayed events and
//! the points events are dropped by Klaviyo by their `unique_id`, and the balance is computed
//! afresh. A store without usable Salla tokens, or a customer Salla will not list, gets no
//! points for the event (logged, never retried: a redelivery could not help).

use std::time::Instant;

use adapters::Service;
use adapters::clock::now_unix;
use adapters::deadline::Deadline;
use adapters::keystore::StoreRecord;
use mapping::Envelope;
use mapping::points::{Cue, Subject, Trigger};

use crate::Deps;
use crate::error::IntakeError;

/// What one points evaluation did, for the log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PointsSent {
    pub salla_calls: u32,
    pub klaviyo_requests: usize,
}

/// Computes and sends the customer's points when `envelope` is a points event and the
/// store's points are on; `Ok(None)` when there is nothing to do.
pub async fn after_relay(
    deps: &Deps,
    envelope: &Envelope,
    record: &StoreRecord,
    deadline: Deadline,
) -> Result<Option<PointsSent>, IntakeError> {
    let Some(rules) = record.loyalty.as_ref().filter(|r| r.enabled) else {
        return Ok(None);
    };
    let Some(cue) = mapping::points::cue(envelope, rules) else {
        return Ok(None);
    };
    let Some(klaviyo) = record.klaviyo.as_ref() else {
        return Ok(None);
    };
    let store_id = envelope.store_id.as_str();
    let kind = cue.subject.kind();
    let started = Instant::now();
    let skip = |outcome: &'static str| {
        tracing::info!(event = "points", store_id, subject = ?kind, outcome, "points");
        Ok(None)
    };
    let Some(token) = crate::enrich::access_token(deps, record, deadline).await else {
        return skip("no_salla_token");
    };
    // Salla's reads leave Klaviyo its share of the invocation, as the enrichment's do.
    let facts = match crate::enrich::enrichment_deadline(deadline)
        .run(
            Service::Salla,
            adapters::points::read_customer(deps.points.as_ref(), &token, &cue.customer_id),
        )
        .await
    {
        Ok(facts) => facts,
        Err(e) if e.is_transient() => return Err(IntakeError::Unavailable(e)),
        Err(e) => {
            tracing::warn!(event = "points", store_id, subject = ?kind, outcome = "salla_refused", error = %e, "points");
            return Ok(None);
        }
    };
    let Ok(profile) = mapping::points::customer_profile(store_id, cue.customer.as_bytes()) else {
        return skip("no_profile");
    };
    let Some(trigger) = trigger(&cue, &facts) else {
        // Salla's listing does not show the subject yet: ask for the delivery again.
        tracing::warn!(event = "points", store_id, subject = ?kind, outcome = "not_listed_yet", "points");
        return Err(IntakeError::Unavailable(
            adapters::AdapterError::Unavailable {
                service: Service::Salla,
                detail: "points subject not listed yet".into(),
            },
        ));
    };
    let ladder = adapters::points::ladder(record);
    let evaluation = mapping::points::evaluate(
        store_id,
        &profile,
        &facts.orders,
        &facts.reviews,
        rules,
        &ladder,
        now_unix(),
        &trigger,
    );
    crate::relay::send_all(deps, store_id, klaviyo, &evaluation.requests, deadline).await?;
    let sent = PointsSent {
        salla_calls: facts.salla_calls,
        klaviyo_requests: evaluation.requests.len(),
    };
    tracing::info!(
        event = "points",
        store_id,
        subject = ?kind,
        outcome = "sent",
        salla_calls = sent.salla_calls,
        klaviyo_requests = sent.klaviyo_requests,
        latency_ms = crate::handler::millis(started.elapsed()),
        "points"
    );
    Ok(Some(sent))
}

/// The evaluation's trigger for `cue`, or `None` when Salla's listing does not hold the
/// subject (an order missing from the customer's orders; a reviewed product missing from a
/// reviews listing that could be read).
fn trigger(cue: &Cue, facts: &adapters::points::CustomerFacts) -> Option<Trigger> {
    match &cue.subject {
        Subject::Order(id) => facts
            .orders
            .iter()
            .any(|o| &o.id == id)
            .then(|| Trigger::Order(id.clone())),
        Subject::ProductReview(product) => {
            let first = facts
                .reviews
                .iter()
                .filter(|r| r.product_id.as_deref() == Some(product.as_str()) && r.date.is_some())
                .min_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
            match first {
                Some(review) => Some(Trigger::Review(review.id.clone())),
                // Without a reviews listing, the balance is still sent.
                None if !facts.reviews_read => Some(Trigger::Review(String::new())),
                None => None,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use adapters::config::{Config, Profile};
    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KlaviyoConnection, SallaTokens};
    use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
    use adapters::points::PointsSource;
    use adapters::{AdapterError, Secret};
    use async_trait::async_trait;
    use lambda_http::{Body, Request};
    use serde_json::{Value, json};

    use super::*;

    const SECRET: &str = "points-test-secret";
    const STORE: &str = "42";

    /// Salla's listings for customer 77: canned bodies, `down` answers 503.
    #[derive(Default)]
    struct Salla {
        orders: Mutex<Value>,
        reviews: Mutex<Value>,
        down: Mutex<bool>,
        calls: Mutex<u32>,
    }

    #[async_trait]
    impl PointsSource for Salla {
        async fn get_page(
            &self,
            _token: &Secret,
            path: &str,
            query: &[(&str, String)],
        ) -> Result<Option<String>, AdapterError> {
            *self.calls.lock().unwrap() += 1;
            if *self.down.lock().unwrap() {
                return Err(AdapterError::Unavailable {
                    service: Service::Salla,
                    detail: "HTTP 503".into(),
                });
            }
            assert!(query.contains(&("customer_id", "77".to_owned())));
            Ok(Some(match path {
                "/orders" => self.orders.lock().unwrap().to_string(),
                "/reviews" => self.reviews.lock().unwrap().to_string(),
                _ => return Ok(None),
            }))
        }
    }

    /// Accepts everything, keeps each (path, body).
    #[derive(Default)]
    struct Klaviyo(Mutex<Vec<(String, Value)>>);

    #[async_trait]
    impl KlaviyoApi for Klaviyo {
        async fn get_account(&self, _: &Secret) -> Result<AccountInfo, AdapterError> {
            unreachable!("no key check here")
        }
        async fn call(
            &self,
            _: &Secret,
            _: &'static str,
            path: &str,
            body: Option<&Value>,
            _: tokio::time::Instant,
        ) -> Result<Delivery, AdapterError> {
            self.0
                .lock()
                .unwrap()
                .push((path.to_owned(), body.cloned().unwrap_or(Value::Null)));
            Ok(Delivery {
                status: 202,
                attempts: 1,
                error: None,
            })
        }
    }

    impl Klaviyo {
        fn points_events(&self) -> Vec<(String, String)> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .filter_map(|(_, b)| {
                    let a = b.pointer("/data/attributes")?;
                    let metric = a.pointer("/metric/data/attributes/name")?.as_str()?;
                    metric.starts_with("Points").then(|| {
                        (
                            metric.to_owned(),
                            a["unique_id"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                })
                .collect()
        }

        fn balances(&self) -> Vec<u64> {
            self.0
                .lock()
                .unwrap()
                .iter()
                .filter(|(p, _)| p == "/api/profile-import")
                .filter_map(|(_, b)| {
                    b.pointer("/data/attributes/properties/Salla Points")?
                        .as_u64()
                })
                .collect()
        }
    }

    fn store(enabled: bool) -> StoreRecord {
        let mut record = StoreRecord::new(STORE);
        record.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new("pk_points"),
            account_name: None,
            account_id: Some("A".into()),
            validated_at: 1,
            needs_reconnect: false,
        });
        record.salla = Some(SallaTokens {
            access_token: Secret::new("at"),
            refresh_token: Secret::new("rt"),
            expires_at: now_unix() + 30 * 86_400,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        });
        record.loyalty = Some(mapping::points::PointsRules {
            enabled,
            percent: 2,
            review_points: 10,
            multipliers: Vec::new(),
            award: mapping::points::Award::Delivered,
        });
        record
    }

    fn deps(record: StoreRecord) -> (Deps, Arc<Salla>, Arc<Klaviyo>) {
        let (config, _) = Config::from_lookup(
            |k| (k == "SALLA_WEBHOOK_SECRET").then(|| SECRET.to_string()),
            Profile::Dev { port: 0 },
        )
        .unwrap();
        let mut deps = Deps::new(&config, Arc::new(MemoryKeyStore::with_records([record])));
        deps.health = Arc::new(adapters::health::memory::MemoryHealth::new());
        let salla = Arc::new(Salla::default());
        let klaviyo = Arc::new(Klaviyo::default());
        deps.points = salla.clone();
        deps.klaviyo = klaviyo.clone();
        (deps, salla, klaviyo)
    }

    fn listed(orders: &[(u64, &str, u64)]) -> Value {
        let data: Vec<Value> = orders
            .iter()
            .map(|(id, slug, sar)| json!({"id": id, "status": {"slug": slug}, "total": {"amount": sar, "currency": "SAR"}, "date": "2026-11-20 10:00:00"}))
            .collect();
        json!({"data": data, "pagination": {"totalPages": 1}})
    }

    fn status_delivery(order: u64, slug: &str) -> Request {
        let body = json!({
            "event": "order.status.updated",
            "merchant": 42,
            "created_at": now_unix(),
            "data": {"order": {
                "id": order,
                "status": {"slug": slug, "name": "x"},
                "date": "2026-11-20 10:00:00",
                "total": {"amount": 450, "currency": "SAR"},
                "customer": {"id": 77, "first_name": "Sara", "email": "sara@example.com"}
            }}
        })
        .to_string();
        let signature = adapters::salla::signature::sign(SECRET.as_bytes(), body.as_bytes());
        lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook")
            .header("x-salla-signature", signature)
            .body(Body::Text(body))
            .unwrap()
    }

    async fn status(deps: &Deps, req: Request) -> u16 {
        crate::handle(deps, req).await.status().as_u16()
    }

    #[tokio::test]
    async fn a_delivered_order_earns_and_sends_the_balance() {
        let (deps, salla, klaviyo) = deps(store(true));
        *salla.orders.lock().unwrap() = listed(&[(1, "delivered", 450), (2, "in_progress", 100)]);
        *salla.reviews.lock().unwrap() = json!({"data": []});
        assert_eq!(status(&deps, status_delivery(1, "delivered")).await, 200);
        assert_eq!(
            klaviyo.points_events(),
            [(
                "Points Earned".to_owned(),
                "salla:42:order:1:points_earned".to_owned()
            )]
        );
        assert_eq!(klaviyo.balances(), [9]);
        assert_eq!(
            *salla.calls.lock().unwrap(),
            2,
            "one order page, one reviews page"
        );
    }

    #[tokio::test]
    async fn points_off_or_another_status_reads_nothing() {
        let (deps, salla, klaviyo) = deps(store(false));
        assert_eq!(status(&deps, status_delivery(1, "delivered")).await, 200);
        let (on, salla_on, _) = self::deps(store(true));
        assert_eq!(status(&on, status_delivery(1, "shipped")).await, 200);
        assert_eq!(
            *salla.calls.lock().unwrap() + *salla_on.calls.lock().unwrap(),
            0
        );
        assert!(klaviyo.points_events().is_empty());
    }

    #[tokio::test]
    async fn salla_down_or_the_order_not_listed_yet_answers_503() {
        let (deps, salla, _) = deps(store(true));
        *salla.down.lock().unwrap() = true;
        assert_eq!(status(&deps, status_delivery(1, "delivered")).await, 503);
        *salla.down.lock().unwrap() = false;
        *salla.orders.lock().unwrap() = listed(&[]);
        *salla.reviews.lock().unwrap() = json!({"data": []});
        assert_eq!(status(&deps, status_delivery(1, "delivered")).await, 503);
        *salla.orders.lock().unwrap() = listed(&[(1, "delivered", 450)]);
        assert_eq!(status(&deps, status_delivery(1, "delivered")).await, 200);
    }
}

#[cfg(test)]
mod settings_tests {
    use std::sync::Arc;

    use adapters::config::{Config, Profile};
    use adapters::keystore::KeyStore;
    use adapters::keystore::memory::MemoryKeyStore;
    use lambda_http::Body;
    use serde_json::json;

    use super::*;

    const SECRET: &str = "points-settings-secret";

    /// The settings form's points fields reach the store's record through the real handler;
    /// a bad value falls back alone and the rest is kept.
    #[tokio::test]
    async fn the_settings_form_sets_the_rules() {
        let (config, _) = Config::from_lookup(
            |k| (k == "SALLA_WEBHOOK_SECRET").then(|| SECRET.to_string()),
            Profile::Dev { port: 0 },
        )
        .unwrap();
        let store = Arc::new(MemoryKeyStore::with_records([StoreRecord::new("42")]));
        let mut deps = Deps::new(&config, store.clone());
        deps.health = Arc::new(adapters::health::memory::MemoryHealth::new());
        let body = json!({
            "event": "app.settings.updated",
            "merchant": 42,
            "created_at": now_unix(),
            "data": {"settings": {
                "points_enabled": "1",
                "points_percent": 9,
                "points_review": "15",
                "points_multiplier_gold": "x2"
            }}
        })
        .to_string();
        let signature = adapters::salla::signature::sign(SECRET.as_bytes(), body.as_bytes());
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhook")
            .header("x-salla-signature", signature)
            .body(Body::Text(body))
            .unwrap();
        let resp = crate::handle(&deps, req).await;
        assert_eq!(resp.status().as_u16(), 200);
        let rules = store.get("42").await.unwrap().unwrap().loyalty.unwrap();
        assert!(rules.enabled);
        assert_eq!(
            (rules.percent, rules.review_points),
            (1, 15),
            "9 % is out of bounds"
        );
        assert_eq!(rules.multiplier(Some("Gold")), 200);
    }
}
