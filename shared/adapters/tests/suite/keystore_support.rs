//! Helpers shared by the key store integration tests: moto gating, SDK clients that count
//! the HTTP requests they send, and sample records.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use adapters::Secret;
use adapters::keystore::dynamo::DynamoKeyStore;
use adapters::keystore::{KlaviyoConnection, SallaTokens, StoreRecord};

/// moto's URL, or `None` (after printing "skipping") when MOTO_URL is unset. Under CI a
/// missing emulator is a failure, not a skip.
pub fn moto_url() -> Option<String> {
    match std::env::var("MOTO_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url.trim().to_string()),
        _ if std::env::var_os("CI").is_some() => panic!(
            "MOTO_URL is not set but CI is: start moto (infra/scripts/moto.sh start) and export MOTO_URL"
        ),
        _ => {
            eprintln!("skipping: MOTO_URL is not set (infra/scripts/moto.sh start)");
            None
        }
    }
}

/// A unique name per test and run: moto keeps state across test runs.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

/// Counts HTTP requests an SDK client actually sends (one per attempt, retries included).
#[derive(Debug, Clone, Default)]
pub struct RequestCounter(Arc<AtomicUsize>);

impl RequestCounter {
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl aws_sdk_dynamodb::config::Intercept for RequestCounter {
    fn name(&self) -> &'static str {
        "RequestCounter"
    }

    fn read_before_transmit(
        &self,
        _context: &aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &aws_sdk_dynamodb::config::RuntimeComponents,
        _cfg: &mut aws_sdk_dynamodb::config::ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

pub struct Moto {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub kms: aws_sdk_kms::Client,
    /// Requests sent by both clients together.
    pub requests: RequestCounter,
}

impl Moto {
    pub async fn connect(url: &str) -> Self {
        let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .test_credentials()
            .endpoint_url(url)
            .load()
            .await;
        let requests = RequestCounter::default();
        let dynamo = aws_sdk_dynamodb::Client::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&conf)
                .interceptor(requests.clone())
                .build(),
        );
        let kms = aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&conf)
                .interceptor(requests.clone())
                .build(),
        );
        Self {
            dynamo,
            kms,
            requests,
        }
    }

    /// A fresh KMS key and table, and a store over them.
    pub async fn store(&self, test: &str) -> DynamoKeyStore {
        let key = self
            .kms
            .create_key()
            .description(format!("key store test {test}"))
            .send()
            .await
            .expect("moto create_key");
        let key_id = key
            .key_metadata()
            .expect("key metadata")
            .key_id()
            .to_string();
        let store =
            DynamoKeyStore::new(self.dynamo.clone(), self.kms.clone(), unique(test), key_id);
        adapters::keystore::dynamo::dev::create_table_if_missing(&store)
            .await
            .expect("create table");
        store
    }
}

pub const KLAVIYO_KEY: &str = "pk_live_0123456789abcdef0123456789";
pub const ACCESS_TOKEN: &str = "ory_at_access_token_value_42";
pub const REFRESH_TOKEN: &str = "ory_rt_refresh_token_value_42";

pub fn full_record(store_id: &str) -> StoreRecord {
    StoreRecord {
        store_id: store_id.to_string(),
        klaviyo: Some(KlaviyoConnection {
            private_key: Secret::new(KLAVIYO_KEY),
            account_name: Some("Acme Store".into()),
            account_id: Some("XyZ123".into()),
            validated_at: 1_760_000_000,
            needs_reconnect: false,
        }),
        salla: Some(SallaTokens {
            access_token: Secret::new(ACCESS_TOKEN),
            refresh_token: Secret::new(REFRESH_TOKEN),
            expires_at: 1_760_086_400,
            scope: Some("offline_access orders.read".into()),
            refresh_lease_until: Some(1_760_000_030),
            refresh_blocked_at: None,
        }),
        version: 0,
        ..StoreRecord::default()
    }
}
