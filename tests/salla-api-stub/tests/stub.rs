//! The stub's behaviours, one test each, through real HTTP.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Response;
use salla_api_stub::{Dataset, RateConfig, SallaApiStub};
use serde_json::Value;

const TOKEN: &str = "tok-store-1";

async fn stub_with(orders: usize) -> SallaApiStub {
    let stub = SallaApiStub::start().await;
    stub.set_rate_limits(RateConfig::OFF, RateConfig::OFF);
    stub.add_store("1", TOKEN, Dataset::new(42, orders, 30, 12));
    stub
}

thread_local! {
    // Building a client loads the root certificates (tens of ms unoptimised); each test runs on
    // its own thread, so one client per thread is one per test.
    static CLIENT: reqwest::Client = reqwest::Client::new();
}

async fn get(stub: &SallaApiStub, token: &str, path_and_query: &str) -> Response {
    CLIENT
        .with(reqwest::Client::clone)
        .get(format!("{}{path_and_query}", stub.base_url))
        .bearer_auth(token)
        .send()
        .await
        .expect("request")
}

async fn json(stub: &SallaApiStub, path_and_query: &str) -> (u16, Value) {
    let r = get(stub, TOKEN, path_and_query).await;
    let status = r.status().as_u16();
    (status, r.json().await.expect("JSON body"))
}

fn ids(body: &Value) -> Vec<u64> {
    body["data"]
        .as_array()
        .expect("data array")
        .iter()
        .map(|o| o["id"].as_u64().expect("numeric id"))
        .collect()
}

#[tokio::test]
async fn orders_page_with_salla_defaults_and_pagination_object() {
    let stub = stub_with(40).await;
    let (status, body) = json(&stub, "/orders").await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], 200);
    assert_eq!(body["success"], true);
    assert_eq!(ids(&body).len(), 15, "default per_page is 15");
    let p = &body["pagination"];
    assert_eq!(
        (
            &p["count"],
            &p["total"],
            &p["perPage"],
            &p["currentPage"],
            &p["totalPages"]
        ),
        (
            &Value::from(15),
            &Value::from(40),
            &Value::from(15),
            &Value::from(1),
            &Value::from(3)
        )
    );
    assert!(
        p["links"]["next"]
            .as_str()
            .is_some_and(|l| l.contains("page=2"))
    );
    let (_, last) = json(&stub, "/orders?page=3&per_page=15").await;
    assert_eq!(ids(&last).len(), 10);
    assert!(last["pagination"]["links"].get("next").is_none());
    let (_, beyond) = json(&stub, "/orders?page=9").await;
    assert!(ids(&beyond).is_empty());
}

#[tokio::test]
async fn per_page_above_60_and_bad_parameters_are_422_with_the_field_named() {
    let stub = stub_with(5).await;
    let (_, ok) = json(&stub, "/orders?per_page=60").await;
    assert_eq!(ok["pagination"]["perPage"], 60);
    for (query, field) in [
        ("per_page=61", "per_page"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("from_date=2026-02-30", "from_date"),
        ("sort_by=total", "sort_by"),
    ] {
        let (status, body) = json(&stub, &format!("/orders?{query}")).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(body["success"], false);
        assert_eq!(body["error"]["message"], "alert.invalid_fields");
        assert!(body["error"]["fields"][field].is_array(), "{query}: {body}");
    }
    let (status, _) = json(&stub, "/customers?per_page=61").await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn date_window_is_inclusive_and_sorting_follows_sort_by() {
    let stub = stub_with(400).await;
    let all = stub.order_ids("1");
    // The whole list, ascending, page by page.
    let mut seen = Vec::new();
    for page in 1..=7 {
        let (_, body) = json(
            &stub,
            &format!("/orders?sort_by=id-asc&per_page=60&page={page}"),
        )
        .await;
        seen.extend(ids(&body));
    }
    assert_eq!(seen, all);
    let (_, desc) = json(&stub, "/orders?sort_by=id-desc&per_page=5").await;
    let newest: Vec<u64> = all.iter().rev().take(5).copied().collect();
    assert_eq!(ids(&desc), newest);
    let (_, default) = json(&stub, "/orders?per_page=5").await;
    assert_eq!(ids(&default), newest, "newest first by default");

    // A one-month window: every order dated inside it (local days, inclusive), none outside.
    let (_, window) = json(
        &stub,
        "/orders?from_date=2026-01-01&to_date=2026-01-31&sort_by=id-asc&per_page=60",
    )
    .await;
    let dates: Vec<String> = window["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["date"]["date"].as_str().unwrap().to_owned())
        .collect();
    assert!(!dates.is_empty());
    assert!(
        dates
            .iter()
            .all(|d| d.as_str() >= "2026-01-01" && d.as_str() < "2026-02-01"),
        "{dates:?}"
    );
    let total = window["pagination"]["total"].as_u64().unwrap() as usize;
    assert_eq!(total, dates.len());
    let mut in_month = 0;
    for page in 1..=7 {
        let (_, b) = json(&stub, &format!("/orders?per_page=60&page={page}")).await;
        in_month += b["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|o| o["date"]["date"].as_str().unwrap().starts_with("2026-01"))
            .count();
    }
    assert_eq!(in_month, total);
    // A single day is inclusive at both ends.
    let first_day = &dates[0][..10];
    let (_, day) = json(
        &stub,
        &format!("/orders?from_date={first_day}&to_date={first_day}"),
    )
    .await;
    assert!(day["pagination"]["total"].as_u64().unwrap() >= 1);
}

#[tokio::test]
async fn orders_added_while_paging_land_after_an_ascending_window() {
    let stub = stub_with(100).await;
    let (_, first) = json(&stub, "/orders?sort_by=id-asc&per_page=30&page=1").await;
    stub.add_orders("1", 5);
    let (_, second) = json(&stub, "/orders?sort_by=id-asc&per_page=30&page=2").await;
    let all = stub.order_ids("1");
    assert_eq!(all.len(), 105);
    let mut got = ids(&first);
    got.extend(ids(&second));
    assert_eq!(got, all[..60].to_vec(), "ascending pages do not shift");
    assert_eq!(second["pagination"]["total"], 105);
    // The new orders are dated after every generated one and are served in full.
    let (_, newest) = json(&stub, "/orders?per_page=5").await;
    assert_eq!(
        ids(&newest),
        all[100..].iter().rev().copied().collect::<Vec<_>>()
    );
    let (status, detail) = json(&stub, &format!("/orders/{}", all[104])).await;
    assert_eq!(status, 200);
    assert!(detail["data"]["date"]["date"].as_str().unwrap() >= "2026-12-01");
    // A window that ended before them is unchanged.
    let (_, past) = json(&stub, "/orders?to_date=2026-11-30&per_page=1").await;
    assert_eq!(past["pagination"]["total"], 100);
}

#[tokio::test]
async fn detail_is_the_webhook_order_model_and_the_list_is_the_short_form() {
    let stub = stub_with(60).await;
    let sample: Value = serde_json::from_str(include_str!(
        "../../fixtures/salla-samples/order.created.json"
    ))
    .unwrap();
    let sample_keys: BTreeSet<&String> = sample["data"].as_object().unwrap().keys().collect();
    let mut statuses = BTreeSet::new();
    let mut methods = BTreeSet::new();
    let mut with_options = 0;
    let mut multi_line = 0;
    for id in stub.order_ids("1") {
        let (status, body) = json(&stub, &format!("/orders/{id}")).await;
        assert_eq!(status, 200);
        let o = &body["data"];
        let keys: BTreeSet<&String> = o.as_object().unwrap().keys().collect();
        assert_eq!(keys, sample_keys, "same fields as the webhook order");
        assert_eq!(o["id"], id);
        assert!(o["customer"]["email"].as_str().unwrap().contains('@'));
        statuses.insert(o["status"]["slug"].as_str().unwrap().to_owned());
        methods.insert(o["payment_method"].as_str().unwrap().to_owned());
        let items = o["items"].as_array().unwrap();
        multi_line += usize::from(items.len() > 1);
        with_options += usize::from(
            items
                .iter()
                .any(|i| !i["options"].as_array().unwrap().is_empty()),
        );
        let lines: u64 = items
            .iter()
            .map(|i| i["amounts"]["total"]["amount"].as_u64().unwrap())
            .sum();
        assert_eq!(o["amounts"]["sub_total"]["amount"], lines);
    }
    assert!(statuses.len() >= 6, "{statuses:?}");
    assert_eq!(methods.len(), 4, "{methods:?}");
    assert!(with_options > 0 && multi_line > 0);

    let (_, list) = json(&stub, "/orders?per_page=3").await;
    let item = &list["data"][0];
    for key in [
        "id",
        "reference_id",
        "total",
        "date",
        "status",
        "payment_method",
        "items",
    ] {
        assert!(item.get(key).is_some(), "{key}");
    }
    assert!(
        item.get("customer").is_none(),
        "the list has no customer block"
    );
    assert!(item["items"][0].get("thumbnail").is_some());

    let (status, body) = json(&stub, "/orders/12345").await;
    assert_eq!((status, &body["success"]), (404, &Value::Bool(false)));
    let (status, _) = json(&stub, "/orders/abc").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn customers_and_products_page_with_their_fields() {
    let stub = stub_with(1).await;
    let (_, c) = json(&stub, "/customers?per_page=20&page=2").await;
    assert_eq!(c["pagination"]["total"], 30);
    assert_eq!(c["data"].as_array().unwrap().len(), 10);
    for key in [
        "id",
        "first_name",
        "last_name",
        "mobile",
        "mobile_code",
        "email",
        "gender",
        "city",
        "country",
        "updated_at",
    ] {
        assert!(c["data"][0].get(key).is_some(), "customer {key}");
    }
    assert!(c["data"][0]["mobile"].is_u64(), "mobile is a number");
    let (_, p) = json(&stub, "/products").await;
    assert_eq!(p["pagination"]["total"], 12);
    for key in [
        "id",
        "name",
        "sku",
        "price",
        "sale_price",
        "regular_price",
        "url",
        "urls",
        "main_image",
        "images",
        "status",
        "quantity",
        "categories",
        "brand",
    ] {
        assert!(p["data"][0].get(key).is_some(), "product {key}");
    }
    assert_eq!(stub.customers("1").len(), 30);
    // The detail is the list's record; categories and brands are Salla's `{id, name}`.
    let products = p["data"].as_array().unwrap();
    for listed in products {
        let (status, detail) = json(&stub, &format!("/products/{}", listed["id"])).await;
        assert_eq!(status, 200);
        assert_eq!(&detail["data"], listed);
        assert!(listed["categories"][0]["name"].is_string());
    }
    assert!(products.iter().any(|p| p["brand"]["name"].is_string()));
    let (status, _) = json(&stub, "/products/1").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn unknown_expired_and_rotated_tokens() {
    let stub = stub_with(3).await;
    let r = get(&stub, "nope", "/orders").await;
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().get("x-ratelimit-limit").is_none());
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["success"], false);
    assert_eq!(body["error"]["message"], "The access token is invalid");

    stub.expire_token_after("1", Some(2));
    assert_eq!(get(&stub, TOKEN, "/orders").await.status().as_u16(), 200);
    assert_eq!(get(&stub, TOKEN, "/products").await.status().as_u16(), 200);
    for _ in 0..3 {
        assert_eq!(get(&stub, TOKEN, "/orders").await.status().as_u16(), 401);
    }
    stub.rotate_token("1", "tok-2");
    assert_eq!(
        get(&stub, TOKEN, "/orders").await.status().as_u16(),
        401,
        "old token is gone"
    );
    assert_eq!(get(&stub, "tok-2", "/orders").await.status().as_u16(), 200);
    stub.expire_token_after("1", None);
    assert_eq!(get(&stub, "tok-2", "/orders").await.status().as_u16(), 200);
}

#[tokio::test]
async fn a_missing_scope_is_401_with_salla_s_scope_message() {
    let stub = stub_with(3).await;
    stub.deny_scope("1", "customers.read");
    let r = get(&stub, TOKEN, "/customers").await;
    assert_eq!(r.status().as_u16(), 401);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "The access token should have access to one of those scopes: customers.read"
    );
    assert_eq!(get(&stub, TOKEN, "/orders").await.status().as_u16(), 200);
}

#[tokio::test]
async fn rate_limit_headers_then_429_with_retry_after_then_the_leak() {
    let stub = stub_with(3).await;
    stub.set_rate_limits(
        RateConfig {
            limit: 3,
            window: Duration::from_secs(60),
            leak_every: Some(Duration::from_millis(300)),
            precise_headers: false,
        },
        RateConfig::OFF,
    );
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let r = get(&stub, TOKEN, "/orders").await;
        assert_eq!(r.status().as_u16(), 200);
        let h = r.headers();
        assert_eq!(h["x-ratelimit-limit"], "3");
        let reset: u64 = h["x-ratelimit-reset"].to_str().unwrap().parse().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            (now + 55..=now + 61).contains(&reset),
            "reset {reset} now {now}"
        );
        remaining.push(h["x-ratelimit-remaining"].to_str().unwrap().to_owned());
    }
    assert_eq!(remaining, ["2", "1", "0"]);
    assert_eq!(
        get(&stub, TOKEN, "/orders").await.status().as_u16(),
        200,
        "leak slot"
    );
    let r = get(&stub, TOKEN, "/orders").await;
    assert_eq!(r.status().as_u16(), 429);
    assert_eq!(r.headers()["retry-after"], "1");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "0");
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        get(&stub, TOKEN, "/orders").await.status().as_u16(),
        200,
        "next leak"
    );
    assert_eq!(stub.stats().throttled, 1);
}

#[tokio::test]
async fn customers_have_their_own_cap() {
    let stub = stub_with(3).await;
    stub.set_rate_limits(
        RateConfig::OFF,
        RateConfig {
            limit: 2,
            window: Duration::from_secs(600),
            leak_every: None,
            precise_headers: false,
        },
    );
    for _ in 0..2 {
        assert_eq!(get(&stub, TOKEN, "/customers").await.status().as_u16(), 200);
    }
    let r = get(&stub, TOKEN, "/customers").await;
    assert_eq!(r.status().as_u16(), 429);
    let after: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((599..=600).contains(&after), "{after}");
    assert_eq!(
        get(&stub, TOKEN, "/orders").await.status().as_u16(),
        200,
        "orders unaffected"
    );
}

#[tokio::test]
async fn default_limits_are_plus_scaled_for_tests() {
    let stub = SallaApiStub::start().await;
    stub.add_store("1", TOKEN, Dataset::new(1, 1, 1, 1));
    let r = get(&stub, TOKEN, "/orders").await;
    assert_eq!(r.headers()["x-ratelimit-limit"], "120");
    assert_eq!(r.headers()["x-ratelimit-remaining"], "119");
    // Time-scaled: the reset has millisecond fractions, about one second ahead.
    let reset: f64 = r.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        reset > now && reset <= now + 1.05,
        "reset {reset} now {now}"
    );
    assert!(
        r.headers()["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .contains('.')
    );
}

#[tokio::test]
async fn injected_failures_and_latency() {
    let stub = stub_with(3).await;
    stub.fail_next(2, 503);
    stub.fail_next(1, 500);
    let statuses: Vec<u16> = futures_statuses(&stub, 4).await;
    assert_eq!(statuses, [503, 503, 500, 200]);
    stub.set_latency(Duration::from_millis(150));
    let t = Instant::now();
    assert_eq!(get(&stub, TOKEN, "/orders").await.status().as_u16(), 200);
    assert!(t.elapsed() >= Duration::from_millis(150));
}

async fn futures_statuses(stub: &SallaApiStub, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(get(stub, TOKEN, "/orders").await.status().as_u16());
    }
    out
}

#[tokio::test]
async fn every_call_is_recorded_without_tokens_or_bodies() {
    let stub = stub_with(3).await;
    get(&stub, TOKEN, "/orders?page=1&per_page=2").await;
    get(&stub, "secret-unknown", "/products").await;
    let calls = stub.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].store_id.as_deref(), Some("1"));
    assert_eq!(
        (
            calls[0].path.as_str(),
            calls[0].query.as_str(),
            calls[0].status
        ),
        ("/orders", "page=1&per_page=2", 200)
    );
    assert_eq!((calls[1].store_id.as_deref(), calls[1].status), (None, 401));
    let dump = format!("{calls:?}{:?}", stub.stats());
    assert!(!dump.contains(TOKEN) && !dump.contains("secret-unknown"));
    let stats = stub.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.by_status.get(&401), Some(&1));
    assert_eq!(stats.by_store.get("1"), Some(&1));
}

#[tokio::test]
async fn ten_thousand_orders_are_served_cheaply() {
    let stub = stub_with(10_000).await;
    let t = Instant::now();
    let (_, body) = json(&stub, "/orders?sort_by=id-asc&per_page=60&page=167").await;
    assert_eq!(body["pagination"]["total"], 10_000);
    assert_eq!(body["pagination"]["totalPages"], 167);
    assert_eq!(ids(&body).len(), 40);
    let last = *stub.order_ids("1").last().unwrap();
    assert_eq!(ids(&body).last(), Some(&last));
    let (status, _) = json(&stub, &format!("/orders/{last}")).await;
    assert_eq!(status, 200);
    let (_, window) = json(&stub, "/orders?from_date=2025-06-01&to_date=2025-06-30").await;
    let n = window["pagination"]["total"].as_u64().unwrap();
    assert!((350..500).contains(&n), "about 10000/24 a month: {n}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    // The date spread covers about two years.
    let (_, oldest) = json(&stub, "/orders?sort_by=id-asc&per_page=1").await;
    assert!(
        oldest["data"][0]["date"]["date"]
            .as_str()
            .unwrap()
            .starts_with("2024-12")
    );
}

/// A status the merchant set shows in the list as in the detail: Salla's list is the
/// order's current short form, and a repair reads the status there.
#[tokio::test]
async fn a_changed_status_shows_in_the_list_and_the_detail() {
    let stub = stub_with(60).await;
    let id = stub
        .order_ids("1")
        .into_iter()
        .find(|id| stub.order_detail("1", *id).unwrap()["status"]["slug"] == "under_review")
        .expect("an order under review");
    stub.set_order_status("1", id, "delivered");
    let (_, list) = json(&stub, "/orders?per_page=60").await;
    let listed = list["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .expect("listed")
        .clone();
    assert_eq!(listed["status"]["slug"], "delivered");
    assert_eq!(listed["is_pending_payment"], false);
    assert_eq!(listed["can_cancel"], false);
    let (_, detail) = json(&stub, &format!("/orders/{id}")).await;
    assert_eq!(detail["data"]["status"]["slug"], "delivered");
}
