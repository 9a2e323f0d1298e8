//! Where history work starts, through the real intake over HTTP:
//! - connecting a store (its Klaviyo key, then Salla's `app.store.authorize`) sends exactly
//!   one import message to the history queue on moto's SQS, however often Salla redelivers;
//!   the worker, fed that message as Lambda's SQS event, saves the import's progress;
//! - a Klaviyo outage longer than Salla's retries: every delivery of an order answers 503,
//!   the store is marked with its first miss, the next good delivery queues one repair, and
//!   the repair sends the missed order to the strict Klaviyo stub (without `backfill`: it is
//!   recent) and clears the mark.

use std::sync::Arc;
use std::time::Duration;

use adapters::Secret;
use adapters::config::{Config, Profile};
use adapters::deadline::Deadline;
use adapters::history::memory::MemoryHistoryQueue;
use adapters::history::sqs::SqsHistoryQueue;
use adapters::history::start::HistoryStart;
use adapters::history::{HistoryProgress, HistoryQueue, HistoryStatus, StoreJob, Task};
use adapters::keystore::memory::MemoryKeyStore;
use adapters::keystore::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use adapters::klaviyo::KlaviyoClient;
use adapters::salla::merchant::{DEFAULT_TIMEOUT, MerchantApi};
use adapters::salla::refresh::{RefreshError, RefreshLocks, TokenRefresher};
use async_trait::async_trait;
use dev_server::App;
use e2e::harness::{GOOD_KEY, Harness, WEBHOOK_SECRET, fast_policy, fresh, moto_url, sample};
use history_worker::{Outcome, WorkerConfig};
use klaviyo_stub::{Fault, KlaviyoStub, StubAccount};
use salla_api_stub::{Dataset, SallaApiStub};
use serde_json::{Value, json};

const STORE: &str = "1305146709";
const TOKEN: &str = "ory_at_history_e2e";

struct NoRefresh;

#[async_trait]
impl TokenRefresher for NoRefresh {
    async fn refresh(&self, _: &Secret, _: Duration) -> Result<SallaTokens, RefreshError> {
        Err(RefreshError::NotSpent(adapters::AdapterError::Config(
            "no refresh in this test".into(),
        )))
    }
}

/// The intake (and the dev server's other routes) over HTTP, queueing history work on `queue`.
async fn intake(store: Arc<MemoryKeyStore>, queue: Arc<dyn HistoryQueue>) -> Harness {
    let klaviyo = KlaviyoStub::start().await;
    klaviyo.add_account(GOOD_KEY, StubAccount::new("متجر الاختبار", "AbC123"));
    let klaviyo_url = klaviyo.base_url.clone();
    let (config, _) = Config::from_lookup(
        |k| match k {
            "SALLA_WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.into()),
            "KLAVIYO_API_URL" => Some(klaviyo_url.clone()),
            _ => None,
        },
        Profile::Dev { port: 0 },
    )
    .expect("test config");
    let store: Arc<dyn KeyStore> = store;
    let mut app = App::new(&config, store.clone()).expect("app wiring");
    let policy = fast_policy();
    app.intake.klaviyo = Arc::new(KlaviyoClient::with_policy(klaviyo_url, policy.clone()));
    app.intake.budget = policy.budget;
    app.intake.history = HistoryStart::new(queue);
    Harness::serve(app, klaviyo, store).await
}

fn worker(
    store: Arc<MemoryKeyStore>,
    salla: &SallaApiStub,
    klaviyo: &KlaviyoStub,
    queue: Arc<dyn HistoryQueue>,
) -> history_worker::Deps {
    history_worker::Deps {
        store: store.clone(),
        scan: store,
        salla: Arc::new(MerchantApi::new(salla.base_url.clone(), DEFAULT_TIMEOUT)),
        klaviyo: Arc::new(KlaviyoClient::new(klaviyo.base_url.clone())),
        queue,
        refresher: Arc::new(NoRefresh),
        locks: RefreshLocks::default(),
        config: WorkerConfig {
            page_min: Duration::ZERO,
            save_reserve: Duration::from_millis(200),
            ..WorkerConfig::default()
        },
    }
}

fn sqs_client(moto: &str) -> aws_sdk_sqs::Client {
    let conf = aws_sdk_sqs::Config::builder()
        .behavior_version(aws_sdk_sqs::config::BehaviorVersion::latest())
        .region(aws_sdk_sqs::config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_sqs::config::Credentials::new(
            "test", "test", None, None, "e2e",
        ))
        .build();
    aws_sdk_sqs::Client::from_conf(conf)
}

/// Every message body on the queue (waiting up to a second for the first).
async fn drain_sqs(client: &aws_sdk_sqs::Client, url: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    loop {
        let got = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(if out.is_empty() { 1 } else { 0 })
            .send()
            .await
            .expect("moto receives");
        let messages = got.messages.unwrap_or_default();
        if messages.is_empty() {
            return out;
        }
        for m in messages {
            out.push((m.message_id.unwrap_or_default(), m.body.unwrap_or_default()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connecting_a_store_sends_one_import_message_over_sqs_and_the_worker_runs_it() {
    let Some(moto) = moto_url() else { return };
    let sqs = sqs_client(&moto);
    let name = format!("history-e2e-{}", adapters::clock::now_unix());
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("moto creates the queue")
        .queue_url
        .expect("queue url");
    let queue: Arc<dyn HistoryQueue> = Arc::new(SqsHistoryQueue::new(sqs.clone(), &queue_url));

    let authorize = sample("app.store.authorize.json");
    let body: Value = serde_json::from_slice(&authorize).unwrap();
    let store_id = match &body["merchant"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let token = body["data"]["access_token"]
        .as_str()
        .expect("the sample's token")
        .to_owned();
    let store = Arc::new(MemoryKeyStore::new());
    let h = intake(store.clone(), queue.clone()).await;

    // The key first: no import yet (no Salla tokens to read history with).
    h.connect(&store_id, GOOD_KEY).await;
    assert!(drain_sqs(&sqs, &queue_url).await.is_empty());
    // Salla's authorize completes the connection; its redeliveries change nothing.
    for _ in 0..3 {
        let answer = h.post_signed(&fresh(&authorize)).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    let messages = drain_sqs(&sqs, &queue_url).await;
    assert_eq!(
        messages.iter().map(|m| m.1.clone()).collect::<Vec<_>>(),
        vec![Task::import(&store_id).to_body()],
        "exactly one import message, a store id and a cursor"
    );
    let claimed = store.get(&store_id).await.unwrap().unwrap().history;
    assert_eq!(claimed.map(|p| p.status), Some(HistoryStatus::Running));

    // The worker, fed the message as Lambda's SQS event, imports and saves its progress. The
    // sample's token expired long ago: the worker would refresh it first, so it gets a
    // current expiry here (the refresh is token-refresh's test).
    adapters::keystore::update(store.as_ref(), &store_id, |r| {
        if let Some(s) = r.salla.as_mut() {
            s.expires_at = adapters::clock::now_unix() + 10 * 86_400;
        }
    })
    .await
    .unwrap();
    let salla = SallaApiStub::start().await;
    salla.add_store(&store_id, &token, Dataset::new(5, 12, 4, 2));
    let deps = worker(store.clone(), &salla, &h.klaviyo, queue.clone());
    let mut pending = messages;
    for _ in 0..50 {
        if pending.is_empty() {
            break;
        }
        let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
        event.records = pending
            .drain(..)
            .map(|(id, body)| {
                let mut m = aws_lambda_events::event::sqs::SqsMessage::default();
                m.message_id = Some(id);
                m.body = Some(body);
                m
            })
            .collect();
        let response = history_worker::sqs::handle_event(
            &deps,
            event,
            Deadline::after(Duration::from_secs(30)),
        )
        .await;
        assert!(response.batch_item_failures.is_empty());
        pending = drain_sqs(&sqs, &queue_url).await;
    }
    let progress = store
        .get(&store_id)
        .await
        .unwrap()
        .unwrap()
        .history
        .unwrap();
    assert_eq!(progress.status, HistoryStatus::Done, "{progress:?}");
    assert_eq!((progress.orders_done, progress.orders_total), (12, 12));
}

fn connected_record(now: i64) -> StoreRecord {
    let mut done = HistoryProgress::started(now - 86_400);
    done.status = HistoryStatus::Done;
    done.cursor = None;
    done.finished_at = Some(now - 80_000);
    StoreRecord {
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(GOOD_KEY),
            account_name: None,
            account_id: None,
            validated_at: 1,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(TOKEN),
            refresh_token: Secret::new("ory_rt_history_e2e"),
            expires_at: now + 10 * 86_400,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }),
        history: Some(done),
        ..StoreRecord::new(STORE)
    }
}

/// `order.created` for one of the stub's orders: the webhook's `data` is the order's detail.
fn order_created(salla: &SallaApiStub, order_id: u64) -> Vec<u8> {
    let detail = salla.order_detail(STORE, order_id).expect("the order");
    fresh(
        &serde_json::to_vec(&json!({
            "event": "order.created",
            "merchant": STORE.parse::<u64>().unwrap(),
            "created_at": "2026-01-01 00:00:00",
            "data": detail,
        }))
        .unwrap(),
    )
}

fn placed_order(event: &Value) -> Option<(String, bool)> {
    let a = &event["data"]["attributes"];
    (a["metric"]["data"]["attributes"]["name"] == "Placed Order").then(|| {
        (
            a["unique_id"].as_str().unwrap_or_default().to_owned(),
            a["backfill"].as_bool().unwrap_or(false),
        )
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_salla_s_retries_is_repaired_once_the_store_delivers_again() {
    let now = adapters::clock::now_unix();
    let salla = SallaApiStub::start().await;
    // Ten orders over the last two days, then the two of this test, minutes ago.
    salla.add_store(
        STORE,
        TOKEN,
        Dataset {
            end_epoch: now - 600,
            span_days: 2,
            ..Dataset::new(9, 10, 3, 2)
        },
    );
    salla.add_orders(STORE, 2);
    let ids = salla.order_ids(STORE);
    let (missed, later) = (ids[ids.len() - 2], ids[ids.len() - 1]);
    let store = Arc::new(MemoryKeyStore::with_records([connected_record(now)]));
    let queue = Arc::new(MemoryHistoryQueue::new());
    let h = intake(store.clone(), queue.clone()).await;

    // Klaviyo is down for the first delivery and Salla's three retries.
    h.klaviyo.push_fault(Fault::Status {
        status: 503,
        retry_after: None,
        times: 10_000,
    });
    let missed_body = order_created(&salla, missed);
    for _ in 0..4 {
        assert_eq!(h.post_signed(&missed_body).await.status, 503);
    }
    let marked = store.get(STORE).await.unwrap().unwrap().history.unwrap();
    let first_miss = marked.first_miss_at.expect("the first miss is marked");
    assert!((now..now + 60).contains(&first_miss), "{first_miss}");
    assert!(queue.is_empty(), "no repair while Klaviyo is down");

    // Klaviyo is back: the next delivery goes through and queues one repair.
    h.klaviyo.reset();
    assert_eq!(
        h.post_signed(&order_created(&salla, later)).await.status,
        200
    );
    assert_eq!(
        h.post_signed(&order_created(&salla, later)).await.status,
        200
    );
    let bodies = queue.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let Ok(Task::Store { job, .. }) = Task::parse(&bodies[0]) else {
        panic!("a store task");
    };
    assert_eq!(job, StoreJob::Repair { since: first_miss });

    // The worker runs the repair.
    let deps = worker(store.clone(), &salla, &h.klaviyo, queue.clone());
    let mut outcomes = Vec::new();
    while let Some(body) = queue.try_pop() {
        let report = history_worker::handle(&deps, &body, Deadline::after(Duration::from_secs(30)))
            .await
            .expect("no transient failure");
        outcomes.push(report.outcome);
        assert!(outcomes.len() < 20);
    }
    assert_eq!(outcomes.last(), Some(&Outcome::Done), "{outcomes:?}");

    let violations: Vec<String> = h
        .klaviyo
        .violations()
        .into_iter()
        .filter(|v| !v.contains("bulk_import_profiles is not implemented"))
        .collect();
    assert_eq!(violations, Vec::<String>::new(), "spec-valid bodies");
    let placed: Vec<(String, bool)> = h.klaviyo.events().iter().filter_map(placed_order).collect();
    let missed_id = placed
        .iter()
        .find(|(uid, _)| *uid == format!("salla:{STORE}:order:{missed}"))
        .unwrap_or_else(|| panic!("the missed order reached Klaviyo: {placed:?}"));
    assert!(
        !missed_id.1,
        "a recent order is re-sent without backfill, so flows run"
    );
    assert_eq!(
        placed
            .iter()
            .filter(|(uid, _)| *uid == format!("salla:{STORE}:order:{later}"))
            .count(),
        1,
        "the order delivered live is kept once"
    );
    let repaired = store.get(STORE).await.unwrap().unwrap().history.unwrap();
    assert_eq!(
        (repaired.first_miss_at, repaired.repair_from),
        (None, None),
        "the mark is cleared"
    );
    assert_eq!(repaired.status, HistoryStatus::Done);
}
