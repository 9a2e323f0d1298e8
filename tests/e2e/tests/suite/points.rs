//! Loyalty points end to end: the real intake, the Salla API stub holding the customer's
//! orders and reviews, and the strict Klaviyo stub. A delivered order earns once however
//! often Salla redelivers, a returned one is reversed, a product review earns, and the
//! `Salla Points` profile property follows each step; the daily expiry pass, run by the
//! history worker at a fixed clock, announces the points of an order placed 12 months before.

use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::KlaviyoClient;
use adapters::salla::merchant::{DEFAULT_TIMEOUT, MerchantApi};
use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
use async_trait::async_trait;
use e2e::harness::{GOOD_KEY, Harness, fast_policy, fresh, sample};
use history_worker::WorkerConfig;
use klaviyo_stub::{KlaviyoStub, StubAccount};
use mapping::points::PointsRules;
use salla_api_stub::{Dataset, PointsOrder, RateConfig, SallaApiStub};
use serde_json::{Value, json};

const STORE: &str = "1402718839";
const TOKEN: &str = "ory_at_points_e2e";
const CUSTOMER: u64 = 1_779_795_066;

fn rules() -> PointsRules {
    PointsRules {
        enabled: true,
        percent: 2,
        review_points: 10,
        multipliers: Vec::new(),
        award: mapping::points::Award::Delivered,
    }
}

fn record(now: i64) -> StoreRecord {
    StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(GOOD_KEY),
            account_name: None,
            account_id: None,
            validated_at: now,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("ory_rt_points_e2e"),
            expires_at: now + 10 * 86_400,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        loyalty: Some(rules()),
        ..StoreRecord::new(STORE)
    }
}

fn salla_stub_customer() -> Value {
    let v: Value = serde_json::from_slice(&sample("order.status.updated.json")).unwrap();
    v["data"]["order"]["customer"].clone()
}

async fn salla() -> SallaApiStub {
    let salla = SallaApiStub::start().await;
    salla.set_rate_limits(RateConfig::OFF, RateConfig::OFF);
    salla.add_store(STORE, TOKEN, Dataset::new(7, 1, 1, 1));
    salla.add_points_customer(STORE, salla_stub_customer());
    salla
}

fn order(id: u64, slug: &str, total: f64, epoch: i64) -> PointsOrder {
    PointsOrder {
        id,
        customer_id: CUSTOMER,
        slug: slug.into(),
        total,
        epoch,
    }
}

fn status_update(order: u64, slug: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample("order.status.updated.json")).unwrap();
    v["merchant"] = json!(STORE.parse::<u64>().unwrap());
    v["data"]["order"]["id"] = json!(order);
    v["data"]["order"]["status"]["slug"] = json!(slug);
    fresh(&serde_json::to_vec(&v).unwrap())
}

fn review_added(product: u64) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample("review.added.json")).unwrap();
    v["merchant"] = json!(STORE.parse::<u64>().unwrap());
    v["data"]["customer"]["id"] = json!(CUSTOMER.to_string());
    v["data"]["product"]["id"] = json!(product.to_string());
    fresh(&serde_json::to_vec(&v).unwrap())
}

/// (metric, unique_id) of the points events Klaviyo kept.
fn points_events(klaviyo: &KlaviyoStub) -> Vec<(String, String)> {
    klaviyo
        .events()
        .iter()
        .filter_map(|e| {
            let a = &e["data"]["attributes"];
            let metric = a["metric"]["data"]["attributes"]["name"].as_str()?;
            metric.starts_with("Points ").then(|| {
                (
                    metric.to_owned(),
                    a["unique_id"].as_str().unwrap_or("").to_owned(),
                )
            })
        })
        .collect()
}

/// The `Salla Points` of the last profile import.
fn balance(klaviyo: &KlaviyoStub) -> Option<Value> {
    klaviyo
        .requests()
        .iter()
        .rev()
        .filter(|r| r.path.starts_with("/api/profile-import"))
        .find_map(|r| {
            r.body
                .as_ref()?
                .pointer("/data/attributes/properties/Salla Points")
                .cloned()
        })
}

#[tokio::test]
async fn delivered_earns_once_returned_reverses_and_a_review_earns() {
    let now = adapters::clock::now_unix();
    let salla = salla().await;
    let keys = Arc::new(MemoryKeyStore::new());
    keys.put(&record(now)).await.unwrap();
    let h = Harness::start_with(
        keys,
        fast_policy(),
        &[("SALLA_API_URL", salla.base_url.as_str())],
    )
    .await;

    salla.put_points_order(STORE, order(501, "delivered", 450.0, now - 3 * 86_400));
    salla.put_points_order(STORE, order(502, "in_progress", 900.0, now - 86_400));
    for _ in 0..2 {
        // Salla's redelivery: the same event twice.
        let answer = h.post_signed(&status_update(501, "delivered")).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let earned = format!("salla:{STORE}:order:501:points_earned");
    assert_eq!(
        points_events(&h.klaviyo),
        [("Points Earned".into(), earned.clone())]
    );
    assert_eq!(balance(&h.klaviyo), Some(json!(9)), "2 % of 450");

    salla.put_points_order(STORE, order(501, "restored", 450.0, now - 3 * 86_400));
    let answer = h.post_signed(&status_update(501, "restored")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let reversed = format!("salla:{STORE}:order:501:points_reversed");
    assert_eq!(
        points_events(&h.klaviyo),
        [
            ("Points Earned".into(), earned.clone()),
            ("Points Reversed".into(), reversed.clone())
        ]
    );
    assert_eq!(balance(&h.klaviyo), Some(json!(0)));

    salla.add_points_review(STORE, CUSTOMER, 9001, 1_653_503_260, now - 60);
    let answer = h.post_signed(&review_added(1_653_503_260)).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    let review = format!("salla:{STORE}:review:9001:points_earned");
    assert_eq!(
        points_events(&h.klaviyo),
        [
            ("Points Earned".into(), earned),
            ("Points Reversed".into(), reversed),
            ("Points Earned".into(), review)
        ]
    );
    assert_eq!(balance(&h.klaviyo), Some(json!(10)));
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );

    // The points events land on the shopper the relay uses: the same external id.
    let external = format!("salla:{STORE}:customer:{CUSTOMER}");
    for e in h.klaviyo.events() {
        let profile = &e["data"]["attributes"]["profile"]["data"]["attributes"];
        if e["data"]["attributes"]["metric"]["data"]["attributes"]["name"]
            .as_str()
            .is_some_and(|m| m.starts_with("Points "))
        {
            assert_eq!(profile["external_id"], json!(external), "{e}");
        }
    }
}

#[tokio::test]
async fn salla_down_answers_503_and_the_redelivery_earns() {
    let now = adapters::clock::now_unix();
    let salla = salla().await;
    let keys = Arc::new(MemoryKeyStore::new());
    keys.put(&record(now)).await.unwrap();
    let h = Harness::start_with(
        keys,
        fast_policy(),
        &[("SALLA_API_URL", salla.base_url.as_str())],
    )
    .await;
    salla.put_points_order(STORE, order(601, "delivered", 1_000.0, now - 86_400));
    salla.fail_next(1, 503);
    let answer = h.post_signed(&status_update(601, "delivered")).await;
    assert_eq!(answer.status, 503, "{:?}", answer.body);
    assert!(points_events(&h.klaviyo).is_empty());
    let answer = h.post_signed(&status_update(601, "delivered")).await;
    assert_eq!(answer.status, 200, "{:?}", answer.body);
    assert_eq!(points_events(&h.klaviyo).len(), 1);
    assert_eq!(balance(&h.klaviyo), Some(json!(20)));
}

struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        Err(RefreshError::NotSpent(adapters::AdapterError::Config(
            "no refresh in tests".into(),
        )))
    }
}

#[tokio::test]
async fn the_daily_pass_expires_an_order_placed_twelve_months_before() {
    // 2027-01-10T12:00:00Z; order 701 was placed on 2026-01-10, order 702 last month.
    const NOW: i64 = 1_799_582_400;
    let placed = 1_768_003_200;
    let salla = salla().await;
    salla.put_points_order(STORE, order(701, "delivered", 1_000.0, placed));
    salla.put_points_order(STORE, order(702, "delivered", 500.0, NOW - 30 * 86_400));
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new("متجر الاختبار", "AbC123"));
    let keys = Arc::new(MemoryKeyStore::new());
    keys.put(&record(NOW)).await.unwrap();
    let deps = history_worker::Deps {
        store: keys.clone(),
        scan: keys,
        salla: Arc::new(MerchantApi::new(salla.base_url.clone(), DEFAULT_TIMEOUT)),
        klaviyo: Arc::new(KlaviyoClient::new(klaviyo.base_url.clone())),
        queue: Arc::new(MemoryHistoryQueue::new()),
        refresher: Arc::new(NoRefresh),
        locks: RefreshLocks::default(),
        config: WorkerConfig::default(),
    };
    let deadline = || Deadline::after(Duration::from_secs(10));
    let report = history_worker::points::expire(&deps, STORE, NOW, deadline())
        .await
        .unwrap();
    assert_eq!(
        (report.customers, report.expired_events),
        (1, 1),
        "{report:?}"
    );
    assert_eq!(
        points_events(&klaviyo),
        [(
            "Points Expired".to_owned(),
            format!("salla:{STORE}:order:701:points_expired")
        )]
    );
    assert_eq!(
        balance(&klaviyo),
        Some(json!(10)),
        "order 702's 2 % of 500 is left"
    );
    // The next day's pass announces nothing new.
    history_worker::points::expire(&deps, STORE, NOW + 86_400, deadline())
        .await
        .unwrap();
    assert_eq!(points_events(&klaviyo).len(), 1);
    assert!(
        klaviyo.violations().is_empty(),
        "{:?}",
        klaviyo.violations()
    );
}
