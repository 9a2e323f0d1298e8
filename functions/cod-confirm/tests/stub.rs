//! The page against the Salla API stub: a confirmed order's status update arrives exactly
//! once with the store's token; GETs (link scanners), second clicks, stale, foreign, swapped
//! and forged links never reach the update.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use adapters::cod::link::{Action, Link, LinkSecrets};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::{AccountInfo, Delivery, KlaviyoApi};
use adapters::once::memory::MemorySpentMarks;
use adapters::salla::order_status::{OrderStatusClient, TIMEOUT};
use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
use adapters::{AdapterError, Secret};
use async_trait::async_trait;
use cod_confirm::Deps;
use lambda_http::http::Method;
use lambda_http::{Body, Request};
use salla_api_stub::{Dataset, RateConfig, SallaApiStub, StatusUpdate};
use serde_json::Value;

const NOW: i64 = 1_796_000_000;
const SECRET: &str = "cod-link-secret-for-the-stub-test-0123456789";
const STORE: u64 = 7;
const TOKEN: &str = "tok-store-7";

#[derive(Default)]
struct FakeKlaviyo {
    sent: Mutex<Vec<(String, Value)>>,
    /// Answers this status instead of 202 when set.
    refuse: Mutex<Option<u16>>,
    /// Replaces the store's key (a reconnection elsewhere) while the request is in flight.
    replace_key_in: Mutex<Option<Arc<MemoryKeyStore>>>,
}

#[async_trait]
impl KlaviyoApi for FakeKlaviyo {
    async fn get_account(&self, _key: &Secret) -> Result<AccountInfo, AdapterError> {
        unreachable!("the page never checks a key")
    }

    async fn call(
        &self,
        key: &Secret,
        _method: &'static str,
        path: &str,
        body: Option<&Value>,
        _deadline: tokio::time::Instant,
    ) -> Result<Delivery, AdapterError> {
        assert_eq!(key.expose(), "pk_store_7");
        self.sent
            .lock()
            .unwrap()
            .push((path.to_owned(), body.cloned().unwrap_or(Value::Null)));
        let store = self.replace_key_in.lock().unwrap().clone();
        if let Some(store) = store {
            adapters::keystore::update(store.as_ref(), &STORE.to_string(), |r| {
                r.klaviyo.as_mut().unwrap().private_key = Secret::new("pk_store_7_new");
            })
            .await
            .unwrap();
        }
        Ok(Delivery {
            status: self.refuse.lock().unwrap().unwrap_or(202),
            attempts: 1,
            error: None,
        })
    }
}

struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        unreachable!("the token is fresh")
    }
}

fn now() -> i64 {
    NOW
}

struct World {
    stub: SallaApiStub,
    deps: Deps,
    keys: Arc<MemoryKeyStore>,
    klaviyo: Arc<FakeKlaviyo>,
    /// A COD order awaiting review.
    order: u64,
}

async fn world() -> World {
    let stub = SallaApiStub::start().await;
    stub.set_rate_limits(RateConfig::OFF, RateConfig::OFF);
    stub.add_store(&STORE.to_string(), TOKEN, Dataset::new(5, 60, 20, 10));
    stub.add_store("8", "tok-store-8", Dataset::new(6, 60, 20, 10));
    let order = stub
        .order_ids(&STORE.to_string())
        .into_iter()
        .find(|id| {
            let d = stub.order_detail(&STORE.to_string(), *id).unwrap();
            d["payment_method"] == "cod"
        })
        .expect("a cod order in the dataset");
    stub.set_order_status(&STORE.to_string(), order, "under_review");
    let record = StoreRecord {
        store_id: STORE.to_string(),
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new("pk_store_7"),
            account_name: None,
            account_id: None,
            validated_at: NOW,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("refresh"),
            expires_at: NOW + 86_400 * 10,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        ..StoreRecord::new(STORE.to_string())
    };
    let klaviyo = Arc::new(FakeKlaviyo::default());
    let keys = Arc::new(MemoryKeyStore::new());
    adapters::keystore::KeyStore::put(keys.as_ref(), &record)
        .await
        .unwrap();
    let deps = Deps {
        keys: keys.clone(),
        orders: Arc::new(OrderStatusClient::new(stub.base_url.clone(), TIMEOUT)),
        klaviyo: klaviyo.clone(),
        refresher: Arc::new(NoRefresh),
        refresh_locks: RefreshLocks::default(),
        links: LinkSecrets::new(Secret::new(SECRET)),
        answers: Arc::new(MemorySpentMarks::new()),
        now,
    };
    World {
        stub,
        deps,
        keys,
        klaviyo,
        order,
    }
}

fn link(store_id: u64, order_id: u64, action: Action) -> String {
    LinkSecrets::new(Secret::new(SECRET)).issue(&Link {
        store_id,
        order_id,
        action,
        expires_at: NOW + 3600,
    })
}

async fn get(deps: &Deps, token: &str) -> (u16, String) {
    let req = lambda_http::http::Request::builder()
        .method(Method::GET)
        .uri(format!("https://cod.example/{token}?lang=en"))
        .body(Body::Empty)
        .unwrap();
    send(deps, req).await
}

async fn post(deps: &Deps, token: &str) -> (u16, String) {
    let req = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(format!("https://cod.example/{token}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::Text(format!("t={token}&lang=en")))
        .unwrap();
    send(deps, req).await
}

async fn send(deps: &Deps, req: Request) -> (u16, String) {
    let resp = cod_confirm::handle(deps, req).await;
    let status = resp.status().as_u16();
    let csp = resp.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    let body = match resp.body() {
        Body::Text(t) => t.clone(),
        _ => String::new(),
    };
    (status, body)
}

fn posts(stub: &SallaApiStub) -> usize {
    stub.calls().iter().filter(|c| c.method == "POST").count()
}

#[tokio::test]
async fn a_confirmed_order_is_updated_exactly_once() {
    let w = world().await;
    let token = link(STORE, w.order, Action::Confirm);

    // Opening the link (as a link scanner does) changes nothing.
    let (status, page) = get(&w.deps, &token).await;
    assert_eq!(status, 200);
    assert!(page.contains("Confirm order") && page.contains("<form method=\"post\">"));
    let (_, _) = get(&w.deps, &token).await;
    assert_eq!(posts(&w.stub), 0);

    let (status, page) = post(&w.deps, &token).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your order is confirmed"), "{page}");
    assert_eq!(
        w.stub.status_updates(),
        [StatusUpdate {
            store_id: STORE.to_string(),
            order_id: w.order,
            slug: "in_progress".into(),
        }]
    );

    // A second click, and the cancel link afterwards: the current state, no update.
    let (_, page) = post(&w.deps, &token).await;
    assert!(page.contains("Your order is confirmed") && !page.contains("<button"));
    let (_, page) = post(&w.deps, &link(STORE, w.order, Action::Cancel)).await;
    assert!(page.contains("can no longer be changed"), "{page}");
    assert_eq!(w.stub.status_updates().len(), 1);

    // One Klaviyo event, with the unique id scheme.
    let sent = w.klaviyo.sent.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, "/api/events");
    let attributes = &sent[0].1["data"]["attributes"];
    assert_eq!(
        attributes["unique_id"],
        format!("salla:{STORE}:order:{}:cod_confirmed", w.order)
    );
    assert_eq!(
        attributes["metric"]["data"]["attributes"]["name"],
        "COD Confirmed"
    );
}

#[tokio::test]
async fn a_cancel_link_cancels_and_a_shipped_order_is_left_alone() {
    let w = world().await;
    let (_, page) = post(&w.deps, &link(STORE, w.order, Action::Cancel)).await;
    assert!(page.contains("Your order is cancelled"), "{page}");
    assert_eq!(w.stub.status_updates()[0].slug, "canceled");

    let w = world().await;
    w.stub
        .set_order_status(&STORE.to_string(), w.order, "shipped");
    let (status, page) = post(&w.deps, &link(STORE, w.order, Action::Confirm)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Shipped"), "{page}");
    assert!(w.stub.status_updates().is_empty());
}

#[tokio::test]
async fn stale_foreign_and_forged_links_never_reach_salla() {
    let w = world().await;
    let mut tokens = vec![
        // Expired.
        LinkSecrets::new(Secret::new(SECRET)).issue(&Link {
            store_id: STORE,
            order_id: w.order,
            action: Action::Confirm,
            expires_at: NOW - 1,
        }),
        // Signed by someone else.
        LinkSecrets::new(Secret::new("not-our-secret-but-long-enough-0123456789")).issue(&Link {
            store_id: STORE,
            order_id: w.order,
            action: Action::Confirm,
            expires_at: NOW + 3600,
        }),
        "garbage".to_owned(),
        String::new(),
    ];
    // A valid link with one character changed.
    let mut altered = link(STORE, w.order, Action::Confirm).into_bytes();
    altered[10] = if altered[10] == b'A' { b'B' } else { b'A' };
    tokens.push(String::from_utf8(altered).unwrap());
    for token in &tokens {
        let (status, _) = post(&w.deps, token).await;
        assert!(status == 404 || status == 410, "{status}");
    }
    let (status, page) = get(&w.deps, &tokens[0]).await;
    assert_eq!(status, 410);
    assert!(page.contains("expired"));
    assert!(w.stub.calls().is_empty(), "{:?}", w.stub.calls());

    // A link for another store (one we hold nothing for) reaches no update either.
    let other = w.stub.order_ids("8")[0];
    let (status, _) = post(&w.deps, &link(8, other, Action::Confirm)).await;
    assert_eq!(status, 404);
    assert_eq!(posts(&w.stub), 0);

    // A POST whose form token differs from the URL's is refused.
    let req = lambda_http::http::Request::builder()
        .method(Method::POST)
        .uri(format!(
            "https://cod.example/{}",
            link(STORE, w.order, Action::Confirm)
        ))
        .body(Body::Text(format!(
            "t={}",
            link(STORE, w.order, Action::Cancel)
        )))
        .unwrap();
    let (status, _) = send(&w.deps, req).await;
    assert_eq!(status, 404);
    assert!(w.stub.status_updates().is_empty());
    assert!(w.klaviyo.sent.lock().unwrap().is_empty());
}

#[tokio::test]
async fn the_merchant_s_status_and_cancel_choice_are_applied() {
    let w = world().await;
    let mut record = w.deps.keys.get(&STORE.to_string()).await.unwrap().unwrap();
    record.cod = Some(mapping::CodSettings {
        confirmed_status: "completed".into(),
        cancel_allowed: false,
        ..mapping::CodSettings::default()
    });
    w.deps.keys.put(&record).await.unwrap();

    let (status, page) = post(&w.deps, &link(STORE, w.order, Action::Cancel)).await;
    assert_eq!(status, 200);
    assert!(page.contains("please contact the store"), "{page}");
    assert!(!page.contains("<button"));
    assert!(w.stub.status_updates().is_empty());

    let (_, page) = post(&w.deps, &link(STORE, w.order, Action::Confirm)).await;
    assert!(page.contains("Your order is confirmed"), "{page}");
    assert_eq!(w.stub.status_updates()[0].slug, "completed");
    let sent = w.klaviyo.sent.lock().unwrap().clone();
    assert_eq!(
        sent[0].1["data"]["attributes"]["properties"]["Status"],
        "completed"
    );
}

/// A confirm and a cancel pressed at the same moment (two tabs): Salla has no
/// compare-and-set, so only one of them may move the order.
#[tokio::test]
async fn two_answers_at_once_move_the_order_once() {
    let w = world().await;
    let confirm = link(STORE, w.order, Action::Confirm);
    let cancel = link(STORE, w.order, Action::Cancel);
    let (a, b) = tokio::join!(post(&w.deps, &confirm), post(&w.deps, &cancel));
    assert_eq!(
        w.stub.status_updates().len(),
        1,
        "{:?}",
        w.stub.status_updates()
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let busy = if a.0 == 409 { &a.1 } else { &b.1 };
    assert!(busy.contains("being recorded"), "{busy}");
    // Reloading shows what the winner did.
    let (_, page) = get(&w.deps, &confirm).await;
    assert!(
        page.contains("Your order is confirmed") || page.contains("can no longer be changed"),
        "{page}"
    );
}

async fn needs_reconnect(keys: &MemoryKeyStore) -> (bool, String) {
    let record = adapters::keystore::KeyStore::get(keys, &STORE.to_string())
        .await
        .unwrap()
        .unwrap();
    let k = record.klaviyo.unwrap();
    (k.needs_reconnect, k.private_key.expose().to_owned())
}

/// A key Klaviyo refuses flags the store for reconnection, as the webhook path does, so the
/// merchant's page asks for a new key and later answers stop sending the refused one; a key
/// replaced while the event was in flight is not blamed for the old one's refusal.
#[tokio::test]
async fn a_refused_key_flags_the_store_unless_it_was_replaced_meanwhile() {
    let w = world().await;
    *w.klaviyo.refuse.lock().unwrap() = Some(401);
    let (status, page) = post(&w.deps, &link(STORE, w.order, Action::Confirm)).await;
    assert_eq!(status, 200);
    assert!(page.contains("Your order is confirmed"), "{page}");
    assert_eq!(
        needs_reconnect(&w.keys).await,
        (true, "pk_store_7".to_owned()),
        "the refused key is flagged"
    );
    // Flagged: the next answer does not send the key again.
    let other = w
        .stub
        .order_ids(&STORE.to_string())
        .into_iter()
        .find(|id| {
            *id != w.order
                && w.stub.order_detail(&STORE.to_string(), *id).unwrap()["payment_method"] == "cod"
        })
        .expect("a second cod order");
    w.stub
        .set_order_status(&STORE.to_string(), other, "under_review");
    post(&w.deps, &link(STORE, other, Action::Confirm)).await;
    assert_eq!(w.klaviyo.sent.lock().unwrap().len(), 1);

    let w = world().await;
    *w.klaviyo.refuse.lock().unwrap() = Some(401);
    *w.klaviyo.replace_key_in.lock().unwrap() = Some(w.keys.clone());
    post(&w.deps, &link(STORE, w.order, Action::Confirm)).await;
    assert_eq!(
        needs_reconnect(&w.keys).await,
        (false, "pk_store_7_new".to_owned()),
        "the new key is not flagged for the old one's refusal"
    );
}
