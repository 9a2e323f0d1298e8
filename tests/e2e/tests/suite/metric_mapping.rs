//! Klaviyo's metric mapping set from the onboarding page, against the Klaviyo stub: unset
//! mappings point at our API metrics once those exist, another integration's mapping is left
//! alone and shown to the merchant, and showing the page again writes nothing.

use std::sync::Arc;

use adapters::Secret;
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, StoreRecord};
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use adapters::once::memory::MemorySpentMarks;
use adapters::session::{self, Purpose};
use klaviyo_stub::{KlaviyoStub, StubAccount};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request};
use serde_json::json;
use tokio::time::Instant;

const SESSION_SECRET: &str = "test-session-secret-0123456789-abcdef";
const STORE: &str = "1803665367";
const KEY: &str = "pk_mapping_0123456789abcdefWXYZ";
const SCOPELESS_KEY: &str = "pk_mapping_scopeless_0123456789";

struct World {
    klaviyo: KlaviyoStub,
    client: KlaviyoClient,
    onboarding: key_onboarding::Deps,
}

async fn world(key: &str) -> World {
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(KEY, StubAccount::new("Store", "AbC123"));
    klaviyo.add_account(
        SCOPELESS_KEY,
        StubAccount {
            name: "Other".into(),
            id: "XyZ789".into(),
            scopes_ok: false,
        },
    );
    let keys = Arc::new(MemoryKeyStore::new());
    let mut record = StoreRecord::new(STORE);
    record.klaviyo = Some(KlaviyoConnection {
        private_key: Secret::new(key),
        account_name: Some("Store".into()),
        account_id: Some("AbC123".into()),
        validated_at: adapters::clock::now_unix(),
        needs_reconnect: false,
    });
    keys.put(&record).await.expect("seed record");
    let client = KlaviyoClient::new(&klaviyo.base_url);
    World {
        onboarding: key_onboarding::Deps {
            keys,
            klaviyo: Arc::new(client.clone()),
            session_secret: Secret::new(SESSION_SECRET),
            handoffs: Arc::new(MemorySpentMarks::new()),
            embedded: None,
            dashboard_origin: adapters::web::SALLA_DASHBOARD_ORIGIN.into(),
            health: Arc::new(adapters::health::memory::MemoryHealth::new()),
            settings_sync: None,
            history: Default::default(),
            mapping_cache: Default::default(),
        },
        client,
        klaviyo,
    }
}

/// One event of `metric` through the real client, so the stub creates the API metric as
/// Klaviyo does with a metric's first event.
async fn send_event(w: &World, metric: &str) {
    let body = json!({"data": {"type": "event", "attributes": {
        "properties": {"OrderId": "1"},
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": {"external_id": "salla:1:customer:1"}}},
        "unique_id": format!("{metric}-1")
    }}});
    let d = w
        .client
        .call(
            &Secret::new(KEY),
            "POST",
            "/api/events",
            Some(&body),
            Instant::now() + std::time::Duration::from_secs(5),
        )
        .await
        .expect("stub answers");
    assert_eq!(d.status, 202, "{:?}", w.klaviyo.violations());
}

async fn page(w: &World, lang: &str) -> String {
    let token = session::issue(
        SESSION_SECRET.as_bytes(),
        STORE,
        Purpose::Session,
        adapters::clock::now_unix(),
        session::SESSION_TTL_SECS,
    );
    let cookie = format!("{}={token}", key_onboarding::SESSION_COOKIE);
    let req: Request = lambda_http::http::Request::builder()
        .method(Method::GET)
        .uri(format!("/?lang={lang}"))
        .header("cookie", cookie)
        .body(Body::Empty)
        .unwrap();
    let resp = key_onboarding::handle(&w.onboarding, req).await;
    assert_eq!(resp.status(), StatusCode::OK);
    String::from_utf8_lossy(resp.body().as_ref()).into_owned()
}

fn state(html: &str, mapping: &str) -> String {
    let marker = format!("data-mapping=\"{mapping}\" data-state=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("{mapping} not shown"))
        + marker.len();
    let len = html[start..].find('"').unwrap();
    html[start..start + len].to_string()
}

#[tokio::test]
async fn another_integrations_mapping_is_left_alone_and_reported_and_twice_changes_nothing() {
    let w = world(KEY).await;
    let shopify = w.klaviyo.add_metric("Placed Order", "Shopify");
    w.klaviyo.set_mapped_metric("revenue", &shopify);
    for metric in ["Placed Order", "Started Checkout", "Ordered Product"] {
        send_event(&w, metric).await;
    }

    let html = page(&w, "en").await;
    assert_eq!(state(&html, "revenue"), "other");
    assert_eq!(state(&html, "started_checkout"), "ours");
    assert_eq!(state(&html, "ordered_product"), "ours");
    assert_eq!(state(&html, "cancelled_sales"), "pending");
    assert_eq!(state(&html, "refunded_sales"), "pending");
    assert!(html.contains("another integration"), "{html}");
    let mapped = w.klaviyo.mapped_metrics();
    assert_eq!(
        mapped["revenue"], shopify,
        "the other integration's mapping is kept"
    );
    assert_eq!(
        mapped["started_checkout"],
        KlaviyoStub::api_metric_id("Started Checkout")
    );
    assert_eq!(
        mapped["ordered_product"],
        KlaviyoStub::api_metric_id("Ordered Product")
    );
    assert!(!mapped.contains_key("cancelled_sales"));
    assert_eq!(w.klaviyo.mapped_metric_updates(), 2);

    // Shown again (Arabic): nothing written.
    let html = page(&w, "ar").await;
    assert_eq!(state(&html, "revenue"), "other");
    assert!(html.contains("لم نغيّره"));
    assert_eq!(w.klaviyo.mapped_metric_updates(), 2);

    // The first Cancelled Order creates the metric; the next visit maps it.
    send_event(&w, "Cancelled Order").await;
    let html = page(&w, "en").await;
    assert_eq!(state(&html, "cancelled_sales"), "ours");
    assert_eq!(w.klaviyo.mapped_metric_updates(), 3);
    assert_eq!(w.klaviyo.mapped_metrics()["revenue"], shopify);
    assert!(
        w.klaviyo.violations().is_empty(),
        "{:?}",
        w.klaviyo.violations()
    );
}

#[tokio::test]
async fn all_five_mappings_are_set_within_klaviyos_one_write_per_second() {
    // PATCH /api/mapped-metrics/{id} allows one request a second per account: the writes
    // after the first are refused with Retry-After 1 and must still all land before the page's
    // deadline.
    let w = world(KEY).await;
    for (_, metric) in adapters::klaviyo::mapped_metrics::MAPPINGS {
        send_event(&w, metric).await;
    }
    w.klaviyo
        .set_rate_limits(klaviyo_stub::RateLimitMode::Klaviyo);
    let html = page(&w, "en").await;
    for (mapping, _) in adapters::klaviyo::mapped_metrics::MAPPINGS {
        assert_eq!(state(&html, mapping), "ours", "{mapping}");
    }
    assert_eq!(w.klaviyo.mapped_metric_updates(), 5);
    assert!(
        w.klaviyo.stats().throttled >= 1,
        "the stub's burst window was exercised"
    );
}

#[tokio::test]
async fn a_key_without_metrics_scopes_is_named_on_the_page() {
    let w = world(SCOPELESS_KEY).await;
    let html = page(&w, "en").await;
    assert!(html.contains("id=\"mapping-scopes\""), "{html}");
    assert!(html.contains("metrics:write"));
    assert_eq!(w.klaviyo.mapped_metric_updates(), 0);
}

#[test]
fn the_mapped_metric_names_are_the_ones_the_mapping_crate_emits() {
    use adapters::klaviyo::mapped_metrics::MAPPINGS;
    use mapping::metrics;
    let expected = [
        ("revenue", metrics::PLACED_ORDER),
        ("cancelled_sales", metrics::CANCELLED_ORDER),
        ("refunded_sales", metrics::REFUNDED_ORDER),
        ("ordered_product", metrics::ORDERED_PRODUCT),
        ("started_checkout", metrics::STARTED_CHECKOUT),
    ];
    assert_eq!(MAPPINGS, expected);
}
