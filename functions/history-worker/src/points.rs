//! The loyalty points' daily expiry pass, run when a store's daily sweep finishes.
//!
//! Points expire 12 months after they were earned, and an order's points are earned at its
//! order date as Salla's listing gives it, so the orders whose points expire now are the
//! orders placed 12 months ago: one date-filtered order listing per store with points on,
//! then for each delivered order among them its customer (the order detail) and that
//! customer's recomputation, which sends the "Points Expired" events falling in the pass's
//! window and the new balance. The window is the last [`WINDOW_DAYS`] days, so a day the
//! pass did not run is covered the next day (Klaviyo keeps one event per `unique_id`).
//!
//! Best effort: a failure is logged and the sweep still counts as done; the balance of a
//! customer the pass missed is still right at their next points event.

use std::collections::HashSet;

use adapters::deadline::Deadline;
use adapters::points::PointsSource;
use adapters::salla::refresh::TokenRefresh;
use adapters::{AdapterError, Secret, Service};
use async_trait::async_trait;
use mapping::points::Trigger;

use crate::Deps;
use crate::sources::SallaSource;

/// Days of expiries one pass announces (ending now).
pub const WINDOW_DAYS: i64 = 2;
/// Listing pages read per pass (60 orders each).
pub const MAX_PAGES: u32 = 10;
/// Customers recomputed per pass; the rest are left to the next points event.
pub const MAX_CUSTOMERS: usize = 200;
const DAY: i64 = 86_400;

/// What one pass did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpiryReport {
    pub orders_listed: usize,
    pub customers: usize,
    pub expired_events: usize,
    pub salla_calls: u32,
    pub klaviyo_calls: u32,
}

/// The worker's Salla source seen as the points adapter's.
struct Source<'a>(&'a dyn SallaSource);

#[async_trait]
impl PointsSource for Source<'_> {
    async fn get_page(
        &self,
        token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<String>, AdapterError> {
        self.0.raw_page(token, path, query).await.into_result()
    }
}

fn day(at: i64) -> Option<String> {
    let d = time::OffsetDateTime::from_unix_timestamp(at).ok()?.date();
    Some(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}

/// When an earning made at `at` was made, 12 months before: the inverse of
/// `mapping::points::expires_at`, widened by a day on each side for local dates.
fn earned_days(now: i64) -> Option<(String, String)> {
    let back = |t: i64| {
        let t = time::OffsetDateTime::from_unix_timestamp(t).ok()?;
        let year = t.year() - 1;
        let earlier = t
            .replace_year(year)
            .or_else(|_| t.replace_day(28).and_then(|t| t.replace_year(year)))
            .ok()?;
        Some(earlier.unix_timestamp())
    };
    let from = back(now - WINDOW_DAYS * DAY)? - DAY;
    let to = back(now)? + DAY;
    Some((day(from)?, day(to)?))
}

/// The pass for one store at `now` (unix seconds). Nothing happens unless the store's points
/// are on and both connections are usable.
pub async fn expire(
    deps: &Deps,
    store_id: &str,
    now: i64,
    deadline: Deadline,
) -> Result<ExpiryReport, AdapterError> {
    let mut report = ExpiryReport::default();
    let Some(record) = deadline
        .run(Service::DynamoDb, deps.store.get(store_id))
        .await?
    else {
        return Ok(report);
    };
    let Some(rules) = record.loyalty.as_ref().filter(|r| r.enabled) else {
        return Ok(report);
    };
    let Some(key) = record
        .klaviyo
        .as_ref()
        .filter(|k| !k.needs_reconnect)
        .map(|k| k.private_key.clone())
    else {
        return Ok(report);
    };
    let token = TokenRefresh {
        store: deps.store.as_ref(),
        refresher: deps.refresher.as_ref(),
        locks: &deps.locks,
    }
    .access_token(&record, now, deadline)
    .await;
    let Some(token) = token else {
        return Ok(report);
    };
    let source = Source(deps.salla.as_ref());
    let (from_date, to_date) =
        earned_days(now).ok_or_else(|| AdapterError::Config("clock".into()))?;
    let window = (now - WINDOW_DAYS * DAY, now);

    let mut orders = Vec::new();
    for page in 1..=MAX_PAGES {
        let query = [
            ("from_date", from_date.clone()),
            ("to_date", to_date.clone()),
            ("page", page.to_string()),
            ("per_page", "60".to_owned()),
        ];
        report.salla_calls += 1;
        let Some(body) = deadline
            .run(Service::Salla, source.get_page(&token, "/orders", &query))
            .await?
        else {
            break;
        };
        let listed = mapping::points::orders_from_listing(body.as_bytes()).map_err(|_| {
            AdapterError::BadResponse {
                service: Service::Salla,
                detail: "order list unreadable".into(),
            }
        })?;
        orders.extend(listed);
        if page >= adapters::points::total_pages(&body) {
            break;
        }
    }
    report.orders_listed = orders.len();
    let due = orders.iter().filter(|o| {
        rules.award.earning_statuses().contains(&o.status.as_str())
            && o.delivered_at
                .or(o.date)
                .and_then(mapping::points::expires_at)
                .is_some_and(|at| window.0 <= at && at < window.1)
    });
    let ladder = adapters::points::ladder(&record);
    let mut seen = HashSet::new();
    for order in due {
        if seen.len() >= MAX_CUSTOMERS {
            break;
        }
        report.salla_calls += 1;
        let Some((customer_id, customer)) = deadline
            .run(
                Service::Salla,
                adapters::points::order_customer(&source, &token, &order.id),
            )
            .await?
        else {
            continue;
        };
        if !seen.insert(customer_id.clone()) {
            continue;
        }
        let facts = deadline
            .run(
                Service::Salla,
                adapters::points::read_customer(&source, &token, &customer_id),
            )
            .await?;
        report.salla_calls += facts.salla_calls;
        let Ok(profile) = mapping::points::customer_profile(store_id, customer.as_bytes()) else {
            continue;
        };
        let evaluation = mapping::points::evaluate(
            store_id,
            &profile,
            &facts.orders,
            &facts.reviews,
            rules,
            &ladder,
            now,
            &Trigger::Expiry {
                from: window.0,
                to: window.1,
            },
        );
        report.customers += 1;
        report.expired_events += evaluation.requests.len() - 1;
        report.klaviyo_calls += adapters::points::send(
            deps.klaviyo.as_ref(),
            &key,
            &evaluation.requests,
            deadline.instant(),
        )
        .await?;
    }
    Ok(report)
}

/// [`expire`] at the current time, logged; never fails the sweep.
pub async fn expire_logged(deps: &Deps, store_id: &str, deadline: Deadline) {
    let started = std::time::Instant::now();
    match expire(deps, store_id, adapters::clock::now_unix(), deadline).await {
        Ok(r) if r == ExpiryReport::default() => {}
        Ok(r) => tracing::info!(
            event = "points_expiry",
            store_id,
            outcome = "done",
            orders_listed = r.orders_listed,
            customers = r.customers,
            expired_events = r.expired_events,
            salla_calls = r.salla_calls,
            klaviyo_calls = r.klaviyo_calls,
            latency_ms = started.elapsed().as_millis() as u64,
        ),
        Err(e) => tracing::warn!(event = "points_expiry", store_id, outcome = "failed", error = %e),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use adapters::history::memory::MemoryHistoryQueue;
    use adapters::keystore::memory::MemoryKeyStore;
    use adapters::keystore::{KlaviyoConnection, SallaTokens, StoreRecord};
    use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
    use adapters::salla::merchant::{Answer, DateWindow, RateInfo};
    use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
    use serde_json::{Value, json};

    use super::*;
    use crate::WorkerConfig;
    use crate::sources::{ListedOrder, SallaItem, SallaPage};

    /// 2027-01-10T12:00:00Z: orders placed on 2026-01-10 expire today.
    const NOW: i64 = 1_799_582_400;

    type Query = (String, Vec<(String, String)>);

    #[derive(Default)]
    struct Salla {
        queries: Mutex<Vec<Query>>,
    }

    fn unused<T>() -> Answer<T> {
        Answer {
            result: Err(AdapterError::Config("not used".into())),
            rate: RateInfo::default(),
        }
    }

    #[async_trait]
    impl SallaSource for Salla {
        async fn orders(
            &self,
            _: &Secret,
            _: DateWindow,
            _: u32,
            _: u32,
        ) -> Answer<SallaPage<ListedOrder>> {
            unused()
        }
        async fn order(&self, _: &Secret, _: u64) -> Answer<Option<String>> {
            unused()
        }
        async fn customers(&self, _: &Secret, _: u32) -> Answer<SallaPage<SallaItem>> {
            unused()
        }
        async fn products(&self, _: &Secret, _: u32) -> Answer<SallaPage<SallaItem>> {
            unused()
        }
        async fn product(&self, _: &Secret, _: u64) -> Answer<Option<mapping::ProductDetails>> {
            unused()
        }
        async fn raw_page(
            &self,
            _: &Secret,
            path: &str,
            query: &[(&str, String)],
        ) -> Answer<Option<String>> {
            Answer {
                result: self.page(path, query),
                rate: RateInfo::default(),
            }
        }
    }

    impl Salla {
        fn page(
            &self,
            path: &str,
            query: &[(&str, String)],
        ) -> Result<Option<String>, AdapterError> {
            let q: Vec<(String, String)> = query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect();
            self.queries
                .lock()
                .unwrap()
                .push((path.to_owned(), q.clone()));
            let has = |k: &str| q.iter().any(|(key, _)| key == k);
            let order = |id: u64, slug: &str, date: &str| json!({"id": id, "status": {"slug": slug}, "total": {"amount": 1000, "currency": "SAR"}, "date": date});
            let body = match path {
                // The day listing: two orders placed 12 months ago, one not delivered.
                "/orders" if has("from_date") => json!({"data": [
                    order(1, "delivered", "2026-01-10 03:00:00"),
                    order(2, "canceled", "2026-01-10 03:00:00"),
                ], "pagination": {"totalPages": 1}}),
                "/orders/1" => {
                    json!({"data": {"id": 1, "customer": {"id": 77, "email": "s@example.com"}}})
                }
                // The customer's own orders: the expiring one and a recent one.
                "/orders" => json!({"data": [
                    order(1, "delivered", "2026-01-10 03:00:00"),
                    order(3, "delivered", "2026-12-01 03:00:00"),
                ], "pagination": {"totalPages": 1}}),
                "/reviews" => json!({"data": []}),
                _ => return Ok(None),
            };
            Ok(Some(body.to_string()))
        }
    }

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

    struct NoRefresh;

    #[async_trait]
    impl TokenRefresher for NoRefresh {
        async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
            Err(RefreshError::NotSpent(AdapterError::Config(
                "no refresh".into(),
            )))
        }
    }

    fn record(enabled: bool) -> StoreRecord {
        StoreRecord {
            klaviyo: Some(KlaviyoConnection {
                private_key: Secret::new("pk_x"),
                account_name: None,
                account_id: Some("A".into()),
                validated_at: 1,
                needs_reconnect: false,
            }),
            salla: Some(SallaTokens {
                access_token: Secret::new("at"),
                refresh_token: Secret::new("rt"),
                expires_at: NOW + 30 * DAY,
                scope: None,
                refresh_lease_until: None,
                refresh_blocked_at: None,
            }),
            loyalty: Some(mapping::points::PointsRules {
                enabled,
                percent: 2,
                review_points: 0,
                multipliers: Vec::new(),
                award: mapping::points::Award::Delivered,
            }),
            ..StoreRecord::new("42")
        }
    }

    fn deps(enabled: bool) -> (Deps, Arc<Salla>, Arc<Klaviyo>) {
        let store = Arc::new(MemoryKeyStore::with_records([record(enabled)]));
        let salla = Arc::new(Salla::default());
        let klaviyo = Arc::new(Klaviyo::default());
        let deps = Deps {
            store: store.clone(),
            scan: store,
            salla: salla.clone(),
            klaviyo: klaviyo.clone(),
            queue: Arc::new(MemoryHistoryQueue::new()),
            refresher: Arc::new(NoRefresh),
            locks: RefreshLocks::default(),
            config: WorkerConfig::default(),
        };
        (deps, salla, klaviyo)
    }

    #[tokio::test]
    async fn orders_placed_twelve_months_ago_expire_once() {
        let (deps, salla, klaviyo) = deps(true);
        let report = expire(&deps, "42", NOW, Deadline::after(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(
            (
                report.orders_listed,
                report.customers,
                report.expired_events
            ),
            (2, 1, 1)
        );
        // The day listing (two days' window, a day wider each side), the order's detail,
        // the customer's orders and reviews.
        assert_eq!(report.salla_calls, 4);
        let q = salla.queries.lock().unwrap().clone();
        assert!(
            q[0].1.contains(&("from_date".into(), "2026-01-07".into())),
            "{q:?}"
        );
        assert!(
            q[0].1.contains(&("to_date".into(), "2026-01-11".into())),
            "{q:?}"
        );
        let sent = klaviyo.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 2);
        let event = &sent[0].1["data"]["attributes"];
        assert_eq!(
            event["metric"]["data"]["attributes"]["name"],
            "Points Expired"
        );
        assert_eq!(event["unique_id"], "salla:42:order:1:points_expired");
        assert_eq!(event["time"], "2027-01-10T00:00:00+00:00");
        assert!(
            event.get("backfill").is_none(),
            "a live expiry may trigger a flow"
        );
        // What is left: order 3 (2 % of 1,000).
        assert_eq!(
            sent[1]
                .1
                .pointer("/data/attributes/properties/Salla Points"),
            Some(&json!(20))
        );
        // Two days on, the expiry is outside the window: nothing more is announced.
        let later = expire(
            &deps,
            "42",
            NOW + 2 * DAY,
            Deadline::after(Duration::from_secs(5)),
        )
        .await
        .unwrap();
        assert_eq!(later.expired_events, 0);
    }

    #[tokio::test]
    async fn nothing_runs_when_points_are_off() {
        let (deps, salla, klaviyo) = deps(false);
        let report = expire(&deps, "42", NOW, Deadline::after(Duration::from_secs(5)))
            .await
            .unwrap();
        assert_eq!(report, ExpiryReport::default());
        assert!(salla.queries.lock().unwrap().is_empty());
        assert!(klaviyo.0.lock().unwrap().is_empty());
    }
}
