//! The intake when DynamoDB or KMS fail, and the DynamoDB + KMS path on moto.
//!
//! The AWS SDK takes its endpoint from the process environment (`AWS_ENDPOINT_URL`,
//! `AWS_ENDPOINT_URL_KMS`, …), which tests in one process must not change under each other.
//! So each scenario runs in a child process: this test binary re-run on one `#[ignore]`d
//! `child_*` test with the endpoints in its environment. The parent checks the child passed.
//! The store is built as production builds it (`adapters::keystore::build`) with a
//! zero TTL, so its own cache is a pass-through, then wrapped in `CountingKeyStore` inside a
//! warm `CachedKeyStore`: the counts are calls that reached DynamoDB (+ KMS).

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use adapters::config::{Config, Profile};
use adapters::keystore::KeyStore;
use adapters::keystore::cached::{CachedKeyStore, CountingKeyStore};
use e2e::harness::{GOOD_KEY, Harness, fast_policy, fresh, moto_url, sample};
use serde_json::{Value, json};

const STORE: &str = "1305146709";

// ---------------------------------------------------------------------------------------------
// Parent side: set up moto, run children.

fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

/// The name the test harness knows `name` (a test of this module) by: its module path inside
/// the test binary, then the function.
fn test_path(name: &str) -> String {
    match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::{name}"),
        None => name.to_owned(),
    }
}

/// Runs one child test with these AWS endpoints and parameters; panics with its output if it
/// failed or did not run.
fn run_child(name: &str, dynamodb: &str, kms: &str, params: &[(&str, &str)]) {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Command::new(exe);
    cmd.args([
        test_path(name).as_str(),
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for var in [
        "AWS_ENDPOINT_URL",
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_KMS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
        .env("AWS_ENDPOINT_URL_KMS", kms)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws-credentials",
        );
    for (k, v) in params {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child {name} failed or did not run:\n{stdout}\n{stderr}"
    );
}

async fn aws_json(url: &str, service: &str, target: &str, body: Value) -> Value {
    let content_type = if service == "dynamodb" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .header(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("moto answers");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    assert!(status.is_success(), "moto {target}: {status} {text}");
    serde_json::from_str(&text).expect("moto JSON")
}

/// A fresh table and KMS key on moto (moto keeps state across runs, so names are unique).
async fn moto_table_and_key(url: &str) -> (String, String) {
    let key = aws_json(
        url,
        "kms",
        "TrentService.CreateKey",
        json!({"Description": "e2e faults"}),
    )
    .await;
    let key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("KeyId")
        .to_string();
    let table = format!(
        "e2e-faults-{:016x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    );
    aws_json(
        url,
        "dynamodb",
        "DynamoDB_20120810.CreateTable",
        json!({
            "TableName": table,
            "AttributeDefinitions": [{"AttributeName": "store_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "store_id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .await;
    (table, key_id)
}

#[test]
fn dynamodb_unreachable_answers_503_quickly_and_calls_no_klaviyo() {
    let nowhere = closed_port_url();
    run_child(
        "child_store_unreachable",
        &nowhere,
        &nowhere,
        &[("F_TABLE", "t"), ("F_KMS_KEY", "k")],
    );
}

#[tokio::test]
async fn moto_key_store_relays_and_a_warm_second_event_makes_no_store_call() {
    let Some(url) = moto_url() else { return };
    let (table, key) = moto_table_and_key(&url).await;
    run_child(
        "child_connect_and_relay",
        &url,
        &url,
        &[("F_TABLE", &table), ("F_KMS_KEY", &key)],
    );
}

#[tokio::test]
async fn kms_unreachable_answers_503_and_a_replay_after_recovery_delivers_once() {
    let Some(url) = moto_url() else { return };
    let (table, key) = moto_table_and_key(&url).await;
    let params = [("F_TABLE", table.as_str()), ("F_KMS_KEY", key.as_str())];
    run_child("child_connect_and_relay", &url, &url, &params);
    // A cold process whose KMS is unreachable while DynamoDB answers.
    run_child("child_kms_unreachable", &url, &closed_port_url(), &params);
    run_child("child_recovered_replay", &url, &url, &params);
}

#[tokio::test]
async fn wrong_or_missing_kms_key_answers_500_with_a_clear_code_never_200() {
    let Some(url) = moto_url() else { return };
    let (table, key) = moto_table_and_key(&url).await;
    run_child(
        "child_connect_and_relay",
        &url,
        &url,
        &[("F_TABLE", &table), ("F_KMS_KEY", &key)],
    );
    // Same table, another (existing) KMS key: what was stored cannot be decrypted with it.
    let (_, other_key) = moto_table_and_key(&url).await;
    run_child(
        "child_wrong_kms_key",
        &url,
        &url,
        &[("F_TABLE", &table), ("F_KMS_KEY", &other_key)],
    );
}

// ---------------------------------------------------------------------------------------------
// Child side: run only by the parents above, with AWS endpoints in the environment.

const CHILD: &str = "run by a parent test in faults_aws.rs with AWS endpoints in its environment";

fn param(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} missing: this test is {CHILD}"))
}

/// The production store (DynamoDB + KMS, from the environment) with a pass-through cache,
/// counted, inside a warm cache.
async fn counted_store() -> (Arc<dyn KeyStore>, Arc<CountingKeyStore>) {
    let (table, key) = (param("F_TABLE"), param("F_KMS_KEY"));
    let (config, _) = Config::from_lookup(
        |k| match k {
            "KEY_STORE" => Some("dynamodb".into()),
            "TABLE_NAME" => Some(table.clone()),
            "KMS_KEY_ID" => Some(key.clone()),
            "KEY_CACHE_TTL_SECS" => Some("0".into()),
            _ => None,
        },
        Profile::Dev { port: 0 },
    )
    .expect("config");
    let dynamo = adapters::keystore::build(&config).await.expect("key store");
    let counting = Arc::new(CountingKeyStore::new(dynamo));
    let cached: Arc<dyn KeyStore> = Arc::new(CachedKeyStore::new(
        counting.clone(),
        Duration::from_secs(60),
    ));
    (cached, counting)
}

fn settings(key: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    v["merchant"] = json!(STORE.parse::<u64>().unwrap());
    v["data"]["settings"]["klaviyo_private_key"] = json!(key);
    fresh(&serde_json::to_vec(&v).unwrap())
}

/// A sample re-addressed to the test store.
fn for_store(name: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample(name)).unwrap();
    v["merchant"] = json!(STORE.parse::<u64>().unwrap());
    serde_json::to_vec(&v).unwrap()
}

fn event_posts(h: &Harness) -> usize {
    h.klaviyo
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.starts_with("/api/events"))
        .count()
}

#[tokio::test]
#[ignore = "run by dynamodb_unreachable_answers_503_quickly_and_calls_no_klaviyo"]
async fn child_store_unreachable() {
    let (store, _) = counted_store().await;
    let h = Harness::start_with(store, fast_policy(), &[]).await;
    let a = h.post_signed(&sample("order.created.json")).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.body["error"], "unavailable");
    assert!(
        a.elapsed < Duration::from_secs(10),
        "bounded: {:?}",
        a.elapsed
    );
    // A new key cannot be saved either: 503 so Salla redelivers the settings later.
    let a = h.post_signed(&settings(GOOD_KEY)).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert!(
        a.elapsed < Duration::from_secs(10),
        "bounded: {:?}",
        a.elapsed
    );
    assert_eq!(
        event_posts(&h),
        0,
        "no event goes to Klaviyo without the store's key"
    );
    let text = a.body.to_string();
    assert!(!text.contains(GOOD_KEY), "{text}");
    eprintln!("unreachable store: 503 in {:?}", a.elapsed);
}

#[tokio::test]
#[ignore = "run by the moto tests in faults_aws.rs"]
async fn child_connect_and_relay() {
    let (store, counting) = counted_store().await;
    let h = Harness::start_with(store, fast_policy(), &[]).await;
    let a = h.post_signed(&settings(GOOD_KEY)).await;
    assert_eq!(a.body["outcome"], "klaviyo_key_stored", "{}", a.body);

    let a = h.post_signed(&sample("order.created.json")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["outcome"], "sent");
    assert!(
        h.klaviyo.distinct_event_ids() >= 2,
        "Placed Order and Ordered Product at least"
    );
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );

    // Warm: the record written by settings is cached, so events read nothing from AWS.
    let before = counting.counts();
    for name in [
        "customer.login.json",
        "order.status.updated.json",
        "order.created.json",
    ] {
        let a = h.post_signed(&for_store(name)).await;
        assert_eq!(a.status, 200, "{name}: {}", a.body);
        assert_eq!(a.body["outcome"], "sent", "{name}: {}", a.body);
    }
    let after = counting.counts();
    assert_eq!(
        after.gets, before.gets,
        "no DynamoDB/KMS read per warm event"
    );
    assert_eq!(after.puts, before.puts);
    eprintln!("store calls: {after:?}");
}

#[tokio::test]
#[ignore = "run by kms_unreachable_answers_503_and_a_replay_after_recovery_delivers_once"]
async fn child_kms_unreachable() {
    let (store, counting) = counted_store().await;
    let h = Harness::start_with(store, fast_policy(), &[]).await;
    let a = h.post_signed(&sample("order.created.json")).await;
    assert_eq!(a.status, 503, "{}", a.body);
    assert_eq!(a.body["error"], "unavailable");
    assert!(
        a.elapsed < Duration::from_secs(10),
        "bounded: {:?}",
        a.elapsed
    );
    assert_eq!(
        counting.counts().gets,
        1,
        "the record was read (DynamoDB answered)"
    );
    assert_eq!(event_posts(&h), 0);
}

#[tokio::test]
#[ignore = "run by kms_unreachable_answers_503_and_a_replay_after_recovery_delivers_once"]
async fn child_recovered_replay() {
    let (store, _) = counted_store().await;
    let h = Harness::start_with(store, fast_policy(), &[]).await;
    let body = sample("order.created.json");
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let delivered = h.klaviyo.distinct_event_ids();
    assert!(delivered >= 2);
    // Salla may deliver the same webhook again: nothing new is recorded.
    assert_eq!(h.post_signed(&body).await.status, 200);
    assert_eq!(h.klaviyo.distinct_event_ids(), delivered);
}

#[tokio::test]
#[ignore = "run by wrong_or_missing_kms_key_answers_500_with_a_clear_code_never_200"]
async fn child_wrong_kms_key() {
    let (store, _) = counted_store().await;
    let h = Harness::start_with(store.clone(), fast_policy(), &[]).await;
    // The stored key was encrypted under another KMS key: not decryptable here.
    let a = h.post_signed(&sample("order.created.json")).await;
    assert_eq!(a.status, 500, "{}", a.body);
    assert_eq!(a.body["error"], "internal");
    assert!(!a.body.to_string().contains(GOOD_KEY));
    assert_eq!(event_posts(&h), 0);

    // A KMS key id that does not exist: a new key cannot be stored, and Salla is told so.
    let (config, _) = Config::from_lookup(
        |k| match k {
            "KEY_STORE" => Some("dynamodb".into()),
            "TABLE_NAME" => Some(param("F_TABLE")),
            "KMS_KEY_ID" => Some("00000000-0000-0000-0000-000000000000".into()),
            _ => None,
        },
        Profile::Dev { port: 0 },
    )
    .expect("config");
    let missing_key_store = adapters::keystore::build(&config).await.expect("store");
    let h = Harness::start_with(missing_key_store.clone(), fast_policy(), &[]).await;
    let mut v: Value = serde_json::from_slice(&settings(GOOD_KEY)).unwrap();
    v["merchant"] = json!(424242);
    let a = h.post_signed(&serde_json::to_vec(&v).unwrap()).await;
    assert!(a.status == 500 || a.status == 503, "{}", a.body);
    assert!(
        a.body["error"] == "internal" || a.body["error"] == "unavailable",
        "{}",
        a.body
    );
    // At most the settings event's time (recorded before the key check, so an older
    // settings event cannot overtake this one): no key.
    let held = missing_key_store.get("424242").await.expect("get");
    assert!(
        held.as_ref()
            .is_none_or(|r| r.klaviyo.is_none() && r.salla.is_none()),
        "no key stored"
    );
}
