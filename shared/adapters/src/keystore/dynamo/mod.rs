//! The production key store: one DynamoDB item per store ([`item`]), each secret encrypted
//! with KMS under an encryption context naming the store and the attribute ([`kms`]), SDK
//! failures classified as transient or permanent ([`errors`]).
//!
//! Errors never carry SDK messages (which might echo request parts); only error codes.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

use super::{KeyStore, StoreRecord};
use crate::{AdapterError, Service};

#[cfg(feature = "dev")]
pub mod dev;
mod errors;
pub mod health;
mod item;
mod kms;
pub mod once;
mod scan;

use errors::{is_condition_failed, sdk_error};
use item::{Item, K_PRIVATE_KEY, KEY, S_ACCESS_TOKEN, S_REFRESH_TOKEN, Secrets, TTL, VERSION};
use kms::{Context, Kms};

/// Longest partition key DynamoDB accepts, in bytes.
const MAX_STORE_ID_BYTES: usize = 2048;

#[derive(Debug, Clone)]
pub struct DynamoKeyStore {
    dynamo: aws_sdk_dynamodb::Client,
    kms: Kms,
    table: String,
}

impl DynamoKeyStore {
    pub fn new(
        dynamo: aws_sdk_dynamodb::Client,
        kms: aws_sdk_kms::Client,
        table: impl Into<String>,
        kms_key_id: impl Into<String>,
    ) -> Self {
        Self {
            dynamo,
            kms: Kms::new(kms, kms_key_id.into()),
            table: table.into(),
        }
    }

    /// A store over clients built from the standard AWS chain (region, credentials and
    /// `AWS_ENDPOINT_URL`, which points at moto locally).
    pub async fn from_env(table: impl Into<String>, kms_key_id: impl Into<String>) -> Self {
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(sdk_timeouts())
            .load()
            .await;
        Self::new(
            aws_sdk_dynamodb::Client::new(&aws),
            aws_sdk_kms::Client::new(&aws),
            table,
            kms_key_id,
        )
    }

    pub fn table(&self) -> &str {
        &self.table
    }
}

#[async_trait]
impl KeyStore for DynamoKeyStore {
    async fn get(&self, store_id: &str) -> Result<Option<StoreRecord>, AdapterError> {
        check_store_id(store_id)?;
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(store_id.to_string()))
            // Strong reads: `update` re-reads after a conflict and must see the winner.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_error(Service::DynamoDb, &e))?;
        let Some(attributes) = out.item else {
            return Ok(None);
        };
        let mut item = Item::decode(attributes)?;
        if item.expired(crate::clock::now_unix()) {
            return Ok(None);
        }
        // The key the caller asked for, whatever the item's own copy says.
        item.store_id = store_id.to_string();
        let ciphertexts = item.take_ciphertexts()?;
        let ctx = |secret| Context { store_id, secret };
        // The decrypts are independent KMS round trips; running them together keeps a
        // cold read at one KMS latency instead of three.
        let (k_key, s_access, s_refresh) = tokio::join!(
            self.kms
                .decrypt_opt(ctx(K_PRIVATE_KEY), ciphertexts.klaviyo_private_key),
            self.kms
                .decrypt_opt(ctx(S_ACCESS_TOKEN), ciphertexts.salla_access_token),
            self.kms
                .decrypt_opt(ctx(S_REFRESH_TOKEN), ciphertexts.salla_refresh_token),
        );
        let secrets = Secrets {
            klaviyo_private_key: k_key?,
            salla_access_token: s_access?,
            salla_refresh_token: s_refresh?,
        };
        item.into_record(secrets).map(Some)
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        let store_id = record.store_id.as_str();
        check_store_id(store_id)?;
        let ctx = |secret| Context { store_id, secret };
        let klaviyo = record.klaviyo.as_ref();
        let salla = record.salla.as_ref();
        let (k_key, s_access, s_refresh) = tokio::join!(
            self.kms
                .encrypt_opt(ctx(K_PRIVATE_KEY), klaviyo.map(|k| &k.private_key)),
            self.kms
                .encrypt_opt(ctx(S_ACCESS_TOKEN), salla.map(|s| &s.access_token)),
            self.kms
                .encrypt_opt(ctx(S_REFRESH_TOKEN), salla.map(|s| &s.refresh_token)),
        );
        let ciphertexts = Secrets {
            klaviyo_private_key: k_key?,
            salla_access_token: s_access?,
            salla_refresh_token: s_refresh?,
        };
        let version = record
            .version
            .checked_add(1)
            .ok_or_else(|| AdapterError::BadResponse {
                service: Service::DynamoDb,
                detail: format!("stored item has a missing or malformed `{VERSION}`"),
            })?;
        let item = Item::from_record(record, version, crate::clock::now_unix(), ciphertexts);

        let request = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item.encode()?));
        let request = if record.version == 0 {
            // An expired deletion marker reads as absent, so a first put may replace it.
            request
                .condition_expression("attribute_not_exists(#k) OR #ttl <= :now")
                .expression_attribute_names("#k", KEY)
                .expression_attribute_names("#ttl", TTL)
                .expression_attribute_values(
                    ":now",
                    AttributeValue::N(crate::clock::now_unix().to_string()),
                )
        } else {
            request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", AttributeValue::N(record.version.to_string()))
        };
        match request.send().await {
            Ok(_) => Ok(version),
            Err(e) if is_condition_failed(&e) => Err(AdapterError::Conflict {
                store_id: store_id.to_string(),
            }),
            Err(e) => Err(sdk_error(Service::DynamoDb, &e)),
        }
    }

    async fn delete(&self, store_id: &str) -> Result<(), AdapterError> {
        check_store_id(store_id)?;
        self.dynamo
            .delete_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(store_id.to_string()))
            .send()
            .await
            .map_err(|e| sdk_error(Service::DynamoDb, &e))?;
        Ok(())
    }

    /// One strongly consistent GetItem projecting `version` and `ttl` alone: no secret leaves
    /// the table and no KMS call is made, so the cache can confirm an entry cheaply.
    async fn version(&self, store_id: &str) -> Result<Option<u64>, AdapterError> {
        check_store_id(store_id)?;
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.table)
            .key(KEY, AttributeValue::S(store_id.to_string()))
            .consistent_read(true)
            .projection_expression("#v, #ttl")
            .expression_attribute_names("#v", VERSION)
            .expression_attribute_names("#ttl", TTL)
            .send()
            .await
            .map_err(|e| sdk_error(Service::DynamoDb, &e))?;
        let Some(attributes) = out.item else {
            return Ok(None);
        };
        if let Some(AttributeValue::N(ttl)) = attributes.get(TTL)
            && ttl
                .parse::<i64>()
                .is_ok_and(|ttl| ttl <= crate::clock::now_unix())
        {
            return Ok(None);
        }
        match attributes.get(VERSION) {
            Some(AttributeValue::N(n)) => n.parse().map(Some).ok(),
            _ => None,
        }
        .ok_or_else(|| AdapterError::BadResponse {
            service: Service::DynamoDb,
            detail: format!("stored item has a missing or malformed `{VERSION}`"),
        })
    }
}

/// Bounds on one DynamoDB or KMS call, retries included. The SDK sets none by default, so a
/// hung connection would hold an invocation until Lambda's timeout. Both answer in
/// milliseconds when healthy: an attempt that takes a second is lost, and three attempts
/// (the SDK's standard retry) fit in the operation bound, which stays well inside the
/// intake's 20 s budget (the invocation's deadline cuts a read off sooner if it must).
pub fn sdk_timeouts() -> aws_config::timeout::TimeoutConfig {
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(500))
        .operation_attempt_timeout(std::time::Duration::from_millis(1500))
        .operation_timeout(std::time::Duration::from_secs(4))
        .build()
}

/// DynamoDB refuses empty keys and keys over 2048 bytes; say so plainly instead of passing
/// its validation error along.
fn check_store_id(store_id: &str) -> Result<(), AdapterError> {
    if store_id.is_empty() || store_id.len() > MAX_STORE_ID_BYTES {
        return Err(AdapterError::Rejected {
            service: Service::DynamoDb,
            status: 400,
            code: "invalid_store_id".into(),
            detail: "store id must be 1 to 2048 bytes".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn sdk_calls_are_bounded() {
        let store = DynamoKeyStore::from_env("t", "k").await;
        for timeouts in [
            store.dynamo.config().timeout_config(),
            store.kms.client().config().timeout_config(),
        ] {
            let timeouts = timeouts.expect("timeout config");
            let operation = timeouts.operation_timeout().expect("operation timeout");
            let attempt = timeouts
                .operation_attempt_timeout()
                .expect("attempt timeout");
            assert!(
                operation <= std::time::Duration::from_secs(5),
                "{operation:?}"
            );
            assert!(attempt < operation);
            assert!(timeouts.connect_timeout().is_some());
        }
    }

    #[test]
    fn store_id_bounds() {
        assert!(check_store_id("").is_err());
        assert!(check_store_id(&"1".repeat(2049)).is_err());
        assert!(check_store_id(&"1".repeat(2048)).is_ok());
        assert!(check_store_id("1234567").is_ok());
    }
}
