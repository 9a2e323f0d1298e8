use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::{Value, json};
use tokio::time::{Duration, Instant};

use super::*;
use crate::klaviyo::{AccountInfo, Delivery};

type Query = (String, Vec<(String, String)>);

/// Answers from canned pages keyed by path and page; records every query.
#[derive(Default)]
struct Salla {
    pages: HashMap<(String, u32), Result<Option<String>, u16>>,
    queries: Mutex<Vec<Query>>,
}

impl Salla {
    fn page(mut self, path: &str, page: u32, body: Value) -> Self {
        self.pages
            .insert((path.into(), page), Ok(Some(body.to_string())));
        self
    }

    fn fail(mut self, path: &str, page: u32, status: u16) -> Self {
        self.pages.insert((path.into(), page), Err(status));
        self
    }
}

#[async_trait]
impl PointsSource for Salla {
    async fn get_page(
        &self,
        _token: &Secret,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Option<String>, AdapterError> {
        self.queries.lock().unwrap().push((
            path.into(),
            query
                .iter()
                .map(|(k, v)| ((*k).into(), v.clone()))
                .collect(),
        ));
        let page = query
            .iter()
            .find(|(k, _)| *k == "page")
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(1);
        match self.pages.get(&(path.to_owned(), page)) {
            None => Ok(None),
            Some(Ok(body)) => Ok(body.clone()),
            Some(Err(503)) => Err(AdapterError::Unavailable {
                service: Service::Salla,
                detail: "HTTP 503".into(),
            }),
            Some(Err(status)) => Err(AdapterError::Unauthorized {
                service: Service::Salla,
                status: *status,
                code: None,
            }),
        }
    }
}

fn orders_page(ids: &[u64], page: u32, pages: u32) -> Value {
    let data: Vec<Value> = ids
        .iter()
        .map(|id| json!({"id": id, "status": {"slug": "delivered"}, "total": {"amount": 100, "currency": "SAR"}, "date": "2026-01-10 03:00:00"}))
        .collect();
    json!({"data": data, "pagination": {"currentPage": page, "totalPages": pages}})
}

#[tokio::test]
async fn reads_every_order_page_and_the_reviews() {
    let salla = Salla::default()
        .page("/orders", 1, orders_page(&[1, 2], 1, 2))
        .page("/orders", 2, orders_page(&[3], 2, 2))
        .page(
            "/reviews",
            1,
            json!({"data": [
                {"id": 9, "type": "rating", "customer": {"id": 77}, "product": {"id": 5}, "created_at": "2026-01-11 03:00:00"},
                {"id": 10, "type": "rating", "customer": {"id": 78}, "product": {"id": 5}, "created_at": "2026-01-11 03:00:00"}
            ], "pagination": {"totalPages": 1}}),
        );
    let facts = read_customer(&salla, &Secret::new("t"), "77")
        .await
        .unwrap();
    let ids: Vec<&str> = facts.orders.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["1", "2", "3"]);
    assert_eq!(
        facts.reviews.len(),
        1,
        "another customer's review is dropped"
    );
    assert_eq!((facts.salla_calls, facts.reviews_read), (3, true));
    let queries = salla.queries.lock().unwrap();
    assert!(queries[0].1.contains(&("customer_id".into(), "77".into())));
    assert!(queries[2].1.contains(&("type".into(), "rating".into())));
    // Debug names counts only.
    assert!(!format!("{facts:?}").contains("SAR"));
}

#[tokio::test]
async fn a_refused_review_listing_is_no_reviews_but_a_transient_one_fails() {
    let base = || Salla::default().page("/orders", 1, orders_page(&[1], 1, 1));
    let facts = read_customer(&base().fail("/reviews", 1, 403), &Secret::new("t"), "77")
        .await
        .unwrap();
    assert_eq!(
        (facts.orders.len(), facts.reviews.len(), facts.reviews_read),
        (1, 0, false)
    );
    let facts = read_customer(&base(), &Secret::new("t"), "77")
        .await
        .unwrap();
    assert!(!facts.reviews_read, "404 reviews route");
    let err = read_customer(&base().fail("/reviews", 1, 503), &Secret::new("t"), "77")
        .await
        .unwrap_err();
    assert!(err.is_transient());
    let err = read_customer(
        &Salla::default().fail("/orders", 1, 503),
        &Secret::new("t"),
        "77",
    )
    .await
    .unwrap_err();
    assert!(err.is_transient());
    // No order list at all is not "no orders".
    assert!(
        read_customer(&Salla::default(), &Secret::new("t"), "77")
            .await
            .is_err()
    );
    assert!(
        read_customer(&base(), &Secret::new("t"), "7&x=1")
            .await
            .is_err()
    );
}

#[tokio::test]
async fn order_pages_are_capped() {
    let mut salla = Salla::default();
    for page in 1..=20 {
        salla = salla.page("/orders", page, orders_page(&[u64::from(page)], page, 20));
    }
    let facts = read_customer(&salla, &Secret::new("t"), "77")
        .await
        .unwrap();
    assert_eq!(facts.orders.len(), MAX_ORDER_PAGES as usize);
}

#[tokio::test]
async fn the_customer_of_an_order() {
    let salla = Salla::default().page(
        "/orders/5",
        1,
        json!({"data": {"id": 5, "customer": {"id": 77, "first_name": "S", "mobile": 501234567}}}),
    );
    let (id, customer) = order_customer(&salla, &Secret::new("t"), "5")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, "77");
    assert!(customer.contains("501234567"));
    assert_eq!(
        order_customer(&salla, &Secret::new("t"), "6")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        order_customer(&salla, &Secret::new("t"), "../x")
            .await
            .unwrap(),
        None
    );
}

/// Answers each path with a canned status, records the calls.
struct Klaviyo {
    status: HashMap<&'static str, u16>,
    calls: Mutex<Vec<(String, Value)>>,
}

#[async_trait]
impl KlaviyoApi for Klaviyo {
    async fn get_account(&self, _key: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("not used")
    }

    async fn call(
        &self,
        _key: &Secret,
        _method: &'static str,
        path: &str,
        body: Option<&Value>,
        _deadline: Instant,
    ) -> Result<Delivery, AdapterError> {
        let body = body.cloned().unwrap_or(Value::Null);
        let has_phone = body
            .pointer("/data/attributes/profile/data/attributes/phone_number")
            .or_else(|| body.pointer("/data/attributes/phone_number"))
            .is_some();
        self.calls.lock().unwrap().push((path.to_owned(), body));
        let status = match self.status.get(path) {
            Some(409) if !has_phone => 202,
            Some(s) => *s,
            None => 202,
        };
        Ok(Delivery {
            status,
            attempts: 1,
            error: (status >= 400).then(|| crate::klaviyo::errors::parse(b"")),
        })
    }
}

fn requests() -> Vec<KlaviyoRequest> {
    let ladder = mapping::crm::preset_a(mapping::crm::DEFAULT_MARGIN_BP).unwrap();
    let profile = mapping::points::customer_profile(
        "1",
        br#"{"id":77,"mobile_code":"+966","mobile":"501234567","email":"s@example.com"}"#,
    )
    .unwrap();
    let orders =
        mapping::points::orders_from_listing(orders_page(&[1], 1, 1).to_string().as_bytes())
            .unwrap();
    let rules = mapping::points::PointsRules {
        enabled: true,
        percent: 5,
        review_points: 0,
        multipliers: Vec::new(),
        award: mapping::points::Award::Delivered,
    };
    mapping::points::evaluate(
        "1",
        &profile,
        &orders,
        &[],
        &rules,
        &ladder,
        1_768_100_000,
        &mapping::points::Trigger::Order("1".into()),
    )
    .requests
}

#[tokio::test]
async fn sends_the_event_then_the_balance_and_drops_a_conflicting_phone() {
    let deadline = Instant::now() + Duration::from_secs(5);
    let klaviyo = Klaviyo {
        status: HashMap::from([("/api/profile-import", 409)]),
        calls: Mutex::new(Vec::new()),
    };
    let calls = send(&klaviyo, &Secret::new("pk_x"), &requests(), deadline)
        .await
        .unwrap();
    assert_eq!(calls, 3);
    let sent = klaviyo.calls.lock().unwrap().clone();
    let paths: Vec<&str> = sent.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        ["/api/events", "/api/profile-import", "/api/profile-import"]
    );
    assert_eq!(
        sent[2]
            .1
            .pointer("/data/attributes/properties/Salla Points"),
        Some(&json!(5))
    );
    let refused = Klaviyo {
        status: HashMap::from([("/api/events", 400)]),
        calls: Mutex::new(Vec::new()),
    };
    let err = send(&refused, &Secret::new("pk_x"), &requests(), deadline)
        .await
        .unwrap_err();
    assert!(matches!(err, AdapterError::Rejected { status: 400, .. }));
}

/// The multipliers follow the tiers the merchant chose on the page, the segments' ladder.
#[test]
fn the_ladder_is_the_merchants_tier_choice() {
    use crate::keystore::StoreRecord;
    use mapping::crm::CrmSettings;
    let mut record = StoreRecord::new("1");
    // Unset: Preset A at the default margin (LTV 100 needs 400 spent for Bronze).
    assert_eq!(ladder(&record).tier_of(40_000, 1), Some("Bronze"));
    // Preset B counts orders only: 6 orders are Silver whatever was spent.
    record.crm = Some(CrmSettings::B);
    assert_eq!(ladder(&record).tier_of(100, 6), Some("Silver"));
    // Preset A at a 50 % margin: 200 spent is already Bronze.
    record.crm = Some(CrmSettings::A { margin_bp: 5_000 });
    assert_eq!(ladder(&record).tier_of(20_000, 1), Some("Bronze"));
    // A stored choice that no longer validates falls back to the default, never panics.
    record.crm = Some(CrmSettings::A { margin_bp: 0 });
    assert_eq!(ladder(&record).tier_of(40_000, 1), Some("Bronze"));
}

/// The facts are a shopper's: formatting them shows counts only.
#[test]
fn customer_facts_debug_shows_counts_only() {
    let listing = json!({"data": [
        {"id": 9, "status": {"slug": "delivered"}, "total": {"amount": 731, "currency": "SAR"}, "date": "2026-11-20 10:00:00"}
    ]});
    let facts = CustomerFacts {
        orders: mapping::points::orders_from_listing(listing.to_string().as_bytes()).unwrap(),
        reviews: Vec::new(),
        salla_calls: 2,
        reviews_read: true,
    };
    assert_eq!(facts.orders.len(), 1);
    let shown = format!("{facts:?}");
    assert!(shown.contains("orders: 1"), "{shown}");
    assert!(
        !shown.contains("731") && !shown.contains("2026-11-20"),
        "{shown}"
    );
}
