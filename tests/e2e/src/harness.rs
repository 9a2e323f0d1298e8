//! An in-process deployment for end-to-end tests: the dev server's router on 127.0.0.1:0 with
//! the real handlers, the Klaviyo stub behind `KLAVIYO_API_URL`, and a key store the test can
//! inspect. Requests go over real HTTP, signed exactly as Salla signs them.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use adapters::Secret;
use adapters::config::{Config, Profile};
use adapters::keystore::{KeyStore, KlaviyoConnection, StoreRecord, memory::MemoryKeyStore};
use adapters::klaviyo::{KlaviyoClient, RetryPolicy};
use dev_server::App;
use klaviyo_stub::{KlaviyoStub, StubAccount};
use serde_json::Value;

pub const WEBHOOK_SECRET: &str = "e2e-webhook-secret";
pub const GOOD_KEY: &str = "pk_e2e_good_key_0001";

/// The Salla sample bodies in `tests/fixtures/salla-samples`.
pub fn samples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures/salla-samples")
}

pub fn sample(name: &str) -> Vec<u8> {
    let path = samples_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("sample {} missing: {e}", path.display()))
}

/// Every sample file name, sorted.
pub fn sample_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(samples_dir())
        .expect("tests/fixtures/salla-samples must exist")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// The top-level `merchant` of a body, as the store id the intake will use.
pub fn merchant_of(body: &[u8]) -> Option<String> {
    let v: Value = serde_json::from_slice(body).ok()?;
    match v.get("merchant")? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// `body` with its `created_at` set to `at` (unix seconds), written the way Salla writes it
/// (`YYYY-MM-DD HH:MM:SS`, Riyadh time). The sample bodies carry old times, and the intake
/// ignores a lifecycle event sent long ago as a replay. A body that is not a JSON object is
/// returned as it is.
pub fn stamped(body: &[u8], at: i64) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(body) else {
        return body.to_vec();
    };
    let Some(map) = v.as_object_mut() else {
        return body.to_vec();
    };
    map.insert("created_at".into(), Value::from(riyadh_time(at)));
    serde_json::to_vec(&v).unwrap_or_else(|_| body.to_vec())
}

/// [`stamped`] with the current time: a delivery sent just now.
pub fn fresh(body: &[u8]) -> Vec<u8> {
    stamped(body, adapters::clock::now_unix())
}

/// Unix seconds as Salla's naive local time (UTC+3, no daylight saving).
fn riyadh_time(at: i64) -> String {
    let local = at + 3 * 3600;
    let (days, secs) = (local.div_euclid(86_400), local.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

pub fn sign(body: &[u8]) -> String {
    adapters::salla::signature::sign(WEBHOOK_SECRET.as_bytes(), body)
}

/// A short retry budget so fault tests finish in seconds; the production default is 20 s.
pub fn fast_policy() -> RetryPolicy {
    RetryPolicy {
        budget: Duration::from_secs(3),
        attempt_timeout: Duration::from_secs(1),
        base_backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(100),
        max_attempts: 3,
        max_rate_limit_wait: Duration::from_secs(2),
    }
}

pub struct Harness {
    pub klaviyo: KlaviyoStub,
    pub store: Arc<dyn KeyStore>,
    pub base_url: String,
    pub http: reqwest::Client,
    /// The app being served (its intake's sync-health tally, for instance).
    pub app: Arc<App>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub elapsed: Duration,
}

impl Harness {
    /// Memory key store, fast retry policy.
    pub async fn start() -> Harness {
        Self::start_with(Arc::new(MemoryKeyStore::new()), fast_policy(), &[]).await
    }

    pub async fn start_with(
        store: Arc<dyn KeyStore>,
        policy: RetryPolicy,
        extra_env: &[(&str, &str)],
    ) -> Harness {
        Self::start_full(store, policy, extra_env, None).await
    }

    /// Memory key store, fast retry policy, and the sync-health store given (shared by the
    /// intake and the page).
    pub async fn start_with_health(health: Arc<dyn adapters::health::HealthStore>) -> Harness {
        Self::start_full(
            Arc::new(MemoryKeyStore::new()),
            fast_policy(),
            &[],
            Some(health),
        )
        .await
    }

    async fn start_full(
        store: Arc<dyn KeyStore>,
        policy: RetryPolicy,
        extra_env: &[(&str, &str)],
        health: Option<Arc<dyn adapters::health::HealthStore>>,
    ) -> Harness {
        let klaviyo = KlaviyoStub::start().await;
        klaviyo.add_account(GOOD_KEY, StubAccount::new("متجر الاختبار", "AbC123"));
        let klaviyo_url = klaviyo.base_url.clone();
        let extra: Vec<(String, String)> = extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (config, _) = Config::from_lookup(
            |k| {
                if let Some((_, v)) = extra.iter().find(|(ek, _)| ek == k) {
                    return Some(v.clone());
                }
                match k {
                    "SALLA_WEBHOOK_SECRET" => Some(WEBHOOK_SECRET.into()),
                    "KLAVIYO_API_URL" => Some(klaviyo_url.clone()),
                    _ => None,
                }
            },
            Profile::Dev { port: 0 },
        )
        .expect("test config");
        let mut app = App::new(&config, store.clone()).expect("app wiring");
        // Sync health in memory, shared by the intake and the page, unless the test chose a
        // data directory (then it is kept there, as the dev server keeps it).
        if let Some(health) = health {
            app.intake.health = health.clone();
            app.onboarding.health = health;
        } else if !extra.iter().any(|(k, _)| k == "DATA_DIR") {
            let health = Arc::new(adapters::health::memory::MemoryHealth::new());
            app.intake.health = health.clone();
            app.onboarding.health = health;
        }
        app.intake.klaviyo = Arc::new(KlaviyoClient::with_policy(klaviyo_url, policy.clone()));
        app.intake.budget = policy.budget;
        Self::serve(app, klaviyo, store).await
    }

    /// Serves an already-wired app (for tests that swap more dependencies).
    pub async fn serve(app: App, klaviyo: KlaviyoStub, store: Arc<dyn KeyStore>) -> Harness {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let app = Arc::new(app);
        let server = tokio::spawn(dev_server::serve(listener, app.clone()));
        Harness {
            klaviyo,
            store,
            base_url: format!("http://{addr}"),
            http: reqwest::Client::new(),
            app,
            server,
        }
    }

    /// Stores a validated Klaviyo connection for `store_id`, as onboarding would.
    pub async fn connect(&self, store_id: &str, key: &str) {
        let mut record = self
            .store
            .get(store_id)
            .await
            .expect("get")
            .unwrap_or_else(|| StoreRecord::new(store_id));
        record.klaviyo = Some(KlaviyoConnection {
            private_key: Secret::new(key),
            account_name: Some("متجر الاختبار".into()),
            account_id: Some("AbC123".into()),
            validated_at: 1_700_000_000,
            needs_reconnect: false,
        });
        self.store.put(&record).await.expect("put");
    }

    /// POSTs a body to /webhook signed with the test secret.
    pub async fn post_signed(&self, body: &[u8]) -> Answer {
        let signature = sign(body);
        self.post(
            body,
            &[
                ("x-salla-signature", signature.as_str()),
                ("x-salla-security-strategy", "Signature"),
            ],
        )
        .await
    }

    pub async fn post(&self, body: &[u8], headers: &[(&str, &str)]) -> Answer {
        let started = Instant::now();
        let mut req = self
            .http
            .post(format!("{}/webhook", self.base_url))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("intake answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_str(&text).unwrap_or(Value::String(text)),
            elapsed: started.elapsed(),
        }
    }

    /// unique_ids of the create-event requests the stub received, in arrival order.
    pub fn event_unique_ids(&self) -> Vec<String> {
        self.klaviyo
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.starts_with("/api/events"))
            .filter_map(|r| {
                r.body
                    .as_ref()?
                    .pointer("/data/attributes/unique_id")?
                    .as_str()
                    .map(str::to_string)
            })
            .collect()
    }
}

/// MOTO_URL, or None when the test should skip. With CI set, a missing emulator is a failure.
pub fn moto_url() -> Option<String> {
    match std::env::var("MOTO_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("MOTO_URL is not set but CI is: start moto with ./tests/run")
        }
        _ => {
            eprintln!("skipping: MOTO_URL not set (./tests/run starts moto)");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_body_reads_back_as_its_time() {
        for at in [951_782_400, 1_672_479_085, 1_764_633_600, 4_102_444_799] {
            let body = stamped(&sample("app.settings.updated.json"), at);
            let envelope = mapping::parse_envelope(&body).unwrap();
            assert_eq!(envelope.created_at_unix(), Some(at), "{at}");
        }
        assert_eq!(stamped(b"[1]", 5), b"[1]");
    }
}
