//! The production key store: one DynamoDB item per store, each secret encrypted with KMS.
//!
//! Item layout (partition key `store_id`, string):
//! - `version` (N): optimistic-concurrency counter; every put is conditional on it.
//! - plain, non-secret metadata: `klaviyo_account_name`, `klaviyo_account_id`,
//!   `klaviyo_validated_at`, `klaviyo_needs_reconnect`, `salla_expires_at`, `salla_scope`,
//!   `salla_refresh_lease_until`, `updated_at`.
//! - secrets as Binary KMS ciphertexts: `klaviyo_private_key`, `salla_access_token`,
//!   `salla_refresh_token`. Each is encrypted under the encryption context
//!   `{"store_id": <id>, "secret": <attribute name>}`, so a ciphertext copied into another
//!   store's item, or into another attribute, fails to decrypt.
//!
//! Errors never carry SDK messages (which might echo request parts); only error codes.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};

use super::{KeyStore, KlaviyoConnection, SallaTokens, StoreRecord};
use crate::{AdapterError, Secret};

const DYNAMODB: &str = "dynamodb";
const KMS: &str = "kms";

const KEY: &str = "store_id";
const VERSION: &str = "version";
const UPDATED_AT: &str = "updated_at";
const K_PRIVATE_KEY: &str = "klaviyo_private_key";
const K_ACCOUNT_NAME: &str = "klaviyo_account_name";
const K_ACCOUNT_ID: &str = "klaviyo_account_id";
const K_VALIDATED_AT: &str = "klaviyo_validated_at";
const K_NEEDS_RECONNECT: &str = "klaviyo_needs_reconnect";
const S_ACCESS_TOKEN: &str = "salla_access_token";
const S_REFRESH_TOKEN: &str = "salla_refresh_token";
const S_EXPIRES_AT: &str = "salla_expires_at";
const S_SCOPE: &str = "salla_scope";
const S_REFRESH_LEASE_UNTIL: &str = "salla_refresh_lease_until";

#[derive(Debug, Clone)]
pub struct DynamoKeyStore {
    dynamo: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    table: String,
    kms_key_id: String,
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
            kms,
            table: table.into(),
            kms_key_id: kms_key_id.into(),
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Creates the table (on-demand billing, `store_id` key) if it does not exist. For the
    /// dev path and tests only: in AWS the table comes from the SAM template.
    pub async fn create_table_if_missing(&self) -> Result<(), AdapterError> {
        match self
            .dynamo
            .describe_table()
            .table_name(&self.table)
            .send()
            .await
        {
            Ok(_) => return Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(sdk_error(DYNAMODB, &e)),
        }
        let key_attribute = AttributeDefinition::builder()
            .attribute_name(KEY)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|_| config_bug("attribute definition"))?;
        let key_schema = KeySchemaElement::builder()
            .attribute_name(KEY)
            .key_type(KeyType::Hash)
            .build()
            .map_err(|_| config_bug("key schema"))?;
        match self
            .dynamo
            .create_table()
            .table_name(&self.table)
            .attribute_definitions(key_attribute)
            .key_schema(key_schema)
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Another process created it between our describe and create.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(sdk_error(DYNAMODB, &e)),
        }
    }

    async fn encrypt(
        &self,
        store_id: &str,
        secret: &'static str,
        value: &Secret,
    ) -> Result<AttributeValue, AdapterError> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.kms_key_id)
            .plaintext(aws_sdk_kms::primitives::Blob::new(
                value.expose().as_bytes(),
            ))
            .encryption_context("store_id", store_id)
            .encryption_context("secret", secret)
            .send()
            .await
            .map_err(|e| kms_encrypt_error(&e))?;
        let blob = out
            .ciphertext_blob
            .ok_or_else(|| AdapterError::BadResponse {
                service: KMS,
                detail: "encrypt answered without a ciphertext".into(),
            })?;
        Ok(AttributeValue::B(Blob::new(blob.into_inner())))
    }

    async fn decrypt(
        &self,
        store_id: &str,
        secret: &'static str,
        ciphertext: Vec<u8>,
    ) -> Result<Secret, AdapterError> {
        let out = self
            .kms
            .decrypt()
            // Naming the key makes KMS refuse a ciphertext made under any other key.
            .key_id(&self.kms_key_id)
            .ciphertext_blob(aws_sdk_kms::primitives::Blob::new(ciphertext))
            .encryption_context("store_id", store_id)
            .encryption_context("secret", secret)
            .send()
            .await
            .map_err(|e| kms_decrypt_error(store_id, &e))?;
        let plain = out.plaintext.ok_or_else(|| AdapterError::BadResponse {
            service: KMS,
            detail: "decrypt answered without a plaintext".into(),
        })?;
        String::from_utf8(plain.into_inner())
            .map(Secret::new)
            .map_err(|_| AdapterError::Decrypt {
                store_id: store_id.to_string(),
            })
    }

    async fn decrypt_opt(
        &self,
        store_id: &str,
        secret: &'static str,
        ciphertext: Option<Vec<u8>>,
    ) -> Result<Option<Secret>, AdapterError> {
        match ciphertext {
            None => Ok(None),
            Some(c) => self.decrypt(store_id, secret, c).await.map(Some),
        }
    }

    async fn encrypt_opt(
        &self,
        store_id: &str,
        secret: &'static str,
        value: Option<&Secret>,
    ) -> Result<Option<AttributeValue>, AdapterError> {
        match value {
            None => Ok(None),
            Some(v) => self.encrypt(store_id, secret, v).await.map(Some),
        }
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
            .map_err(|e| sdk_error(DYNAMODB, &e))?;
        let Some(mut item) = out.item else {
            return Ok(None);
        };
        let attrs = Attrs { item: &item };
        let version = attrs.u64(VERSION)?;
        let k_account_name = attrs.opt_string(K_ACCOUNT_NAME)?;
        let k_account_id = attrs.opt_string(K_ACCOUNT_ID)?;
        let k_validated_at = attrs.opt_i64(K_VALIDATED_AT)?.unwrap_or(0);
        let k_needs_reconnect = attrs.opt_bool(K_NEEDS_RECONNECT)?.unwrap_or(false);
        let s_expires_at = attrs.opt_i64(S_EXPIRES_AT)?.unwrap_or(0);
        let s_scope = attrs.opt_string(S_SCOPE)?;
        let s_lease = attrs.opt_i64(S_REFRESH_LEASE_UNTIL)?;

        let k_key = take_blob(&mut item, K_PRIVATE_KEY, store_id)?;
        let s_access = take_blob(&mut item, S_ACCESS_TOKEN, store_id)?;
        let s_refresh = take_blob(&mut item, S_REFRESH_TOKEN, store_id)?;
        // The decrypts are independent KMS round trips; running them together keeps a
        // cold read at one KMS latency instead of three.
        let (k_key, s_access, s_refresh) = tokio::join!(
            self.decrypt_opt(store_id, K_PRIVATE_KEY, k_key),
            self.decrypt_opt(store_id, S_ACCESS_TOKEN, s_access),
            self.decrypt_opt(store_id, S_REFRESH_TOKEN, s_refresh),
        );
        let (k_key, s_access, s_refresh) = (k_key?, s_access?, s_refresh?);

        let klaviyo = k_key.map(|private_key| KlaviyoConnection {
            private_key,
            account_name: k_account_name,
            account_id: k_account_id,
            validated_at: k_validated_at,
            needs_reconnect: k_needs_reconnect,
        });
        let salla = match (s_access, s_refresh) {
            (Some(access_token), Some(refresh_token)) => Some(SallaTokens {
                access_token,
                refresh_token,
                expires_at: s_expires_at,
                scope: s_scope,
                refresh_lease_until: s_lease,
            }),
            (None, None) => None,
            _ => return Err(malformed(S_REFRESH_TOKEN)),
        };
        Ok(Some(StoreRecord {
            store_id: store_id.to_string(),
            klaviyo,
            salla,
            version,
        }))
    }

    async fn put(&self, record: &StoreRecord) -> Result<u64, AdapterError> {
        let id = record.store_id.as_str();
        check_store_id(id)?;
        let (k_key, s_access, s_refresh) = tokio::join!(
            self.encrypt_opt(
                id,
                K_PRIVATE_KEY,
                record.klaviyo.as_ref().map(|k| &k.private_key)
            ),
            self.encrypt_opt(
                id,
                S_ACCESS_TOKEN,
                record.salla.as_ref().map(|s| &s.access_token)
            ),
            self.encrypt_opt(
                id,
                S_REFRESH_TOKEN,
                record.salla.as_ref().map(|s| &s.refresh_token)
            ),
        );
        let (k_key, s_access, s_refresh) = (k_key?, s_access?, s_refresh?);

        let version = record
            .version
            .checked_add(1)
            .ok_or_else(|| malformed(VERSION))?;
        let mut item = HashMap::new();
        item.insert(KEY.to_string(), AttributeValue::S(id.to_string()));
        item.insert(VERSION.to_string(), number(version));
        item.insert(UPDATED_AT.to_string(), number(crate::clock::now_unix()));
        let mut set = |name: &str, value: Option<AttributeValue>| {
            if let Some(v) = value {
                item.insert(name.to_string(), v);
            }
        };
        set(K_PRIVATE_KEY, k_key);
        set(S_ACCESS_TOKEN, s_access);
        set(S_REFRESH_TOKEN, s_refresh);
        if let Some(k) = &record.klaviyo {
            set(
                K_ACCOUNT_NAME,
                k.account_name.clone().map(AttributeValue::S),
            );
            set(K_ACCOUNT_ID, k.account_id.clone().map(AttributeValue::S));
            set(K_VALIDATED_AT, Some(number(k.validated_at)));
            set(
                K_NEEDS_RECONNECT,
                Some(AttributeValue::Bool(k.needs_reconnect)),
            );
        }
        if let Some(s) = &record.salla {
            set(S_EXPIRES_AT, Some(number(s.expires_at)));
            set(S_SCOPE, s.scope.clone().map(AttributeValue::S));
            set(S_REFRESH_LEASE_UNTIL, s.refresh_lease_until.map(number));
        }

        let request = self
            .dynamo
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let request = if record.version == 0 {
            request
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", KEY)
        } else {
            request
                .condition_expression("#v = :v")
                .expression_attribute_names("#v", VERSION)
                .expression_attribute_values(":v", number(record.version))
        };
        match request.send().await {
            Ok(_) => Ok(version),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(AdapterError::Conflict {
                    store_id: id.to_string(),
                })
            }
            Err(e) => Err(sdk_error(DYNAMODB, &e)),
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
            .map_err(|e| sdk_error(DYNAMODB, &e))?;
        Ok(())
    }
}

/// DynamoDB refuses empty keys and keys over 2048 bytes; say so plainly instead of passing
/// its validation error along.
fn check_store_id(store_id: &str) -> Result<(), AdapterError> {
    if store_id.is_empty() || store_id.len() > 2048 {
        return Err(AdapterError::Rejected {
            service: DYNAMODB,
            status: 400,
            code: "invalid_store_id".into(),
            detail: "store id must be 1 to 2048 bytes".into(),
        });
    }
    Ok(())
}

fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

/// Typed reads of plain attributes; a wrong type is a malformed item, not a panic.
struct Attrs<'a> {
    item: &'a HashMap<String, AttributeValue>,
}

impl Attrs<'_> {
    fn opt_string(&self, name: &'static str) -> Result<Option<String>, AdapterError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(s)) => Ok(Some(s.clone())),
            Some(_) => Err(malformed(name)),
        }
    }

    fn opt_i64(&self, name: &'static str) -> Result<Option<i64>, AdapterError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::N(n)) => n.parse().map(Some).map_err(|_| malformed(name)),
            Some(_) => Err(malformed(name)),
        }
    }

    fn opt_bool(&self, name: &'static str) -> Result<Option<bool>, AdapterError> {
        match self.item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(malformed(name)),
        }
    }

    fn u64(&self, name: &'static str) -> Result<u64, AdapterError> {
        match self.item.get(name) {
            Some(AttributeValue::N(n)) => n.parse().map_err(|_| malformed(name)),
            _ => Err(malformed(name)),
        }
    }
}

fn take_blob(
    item: &mut HashMap<String, AttributeValue>,
    name: &'static str,
    store_id: &str,
) -> Result<Option<Vec<u8>>, AdapterError> {
    match item.remove(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::B(b)) => Ok(Some(b.into_inner())),
        // A secret stored as anything but ciphertext cannot be trusted.
        Some(_) => Err(AdapterError::Decrypt {
            store_id: store_id.to_string(),
        }),
    }
}

fn malformed(attribute: &'static str) -> AdapterError {
    AdapterError::BadResponse {
        service: DYNAMODB,
        detail: format!("stored item has a missing or malformed `{attribute}`"),
    }
}

fn config_bug(what: &str) -> AdapterError {
    AdapterError::Config(format!("could not build the table's {what}"))
}

/// Error codes that mean "slow down / try again", whatever HTTP status they came with.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionConflictException",
    "DependencyTimeoutException",
    "KMSInternalException",
    "KeyUnavailableException",
    "InternalServerError",
    "ServiceUnavailable",
];

/// Maps an SDK failure to our error, keeping only the error code (SDK messages may echo
/// request parts). Throttling, 5xx, timeouts and dispatch failures are transient
/// (`Unavailable`); any other refusal (validation, missing table, access denied) is
/// `Rejected`: retrying the same request will not help.
fn sdk_error<E>(service: &'static str, err: &SdkError<E, HttpResponse>) -> AdapterError
where
    E: ProvideErrorMetadata,
{
    let unavailable = |detail: &str| AdapterError::Unavailable {
        service,
        detail: detail.to_string(),
    };
    match err {
        SdkError::TimeoutError(_) => unavailable("timeout"),
        SdkError::DispatchFailure(_) => unavailable("dispatch failure"),
        SdkError::ResponseError(_) => unavailable("unreadable response"),
        SdkError::ConstructionFailure(_) => unavailable("request construction failed"),
        SdkError::ServiceError(service_err) => {
            let code = err.code().unwrap_or("UnknownError");
            let status = service_err.raw().status().as_u16();
            if status >= 500 || TRANSIENT_CODES.contains(&code) {
                unavailable(code)
            } else {
                AdapterError::Rejected {
                    service,
                    status,
                    code: code.to_string(),
                    detail: "request refused".to_string(),
                }
            }
        }
        _ => unavailable("unknown failure"),
    }
}

fn kms_decrypt_error(
    store_id: &str,
    err: &SdkError<aws_sdk_kms::operation::decrypt::DecryptError, HttpResponse>,
) -> AdapterError {
    use aws_sdk_kms::operation::decrypt::DecryptError as E;
    match err.as_service_error() {
        Some(
            E::InvalidCiphertextException(_)
            | E::IncorrectKeyException(_)
            | E::InvalidKeyUsageException(_),
        ) => AdapterError::Decrypt {
            store_id: store_id.to_string(),
        },
        // Moto and real KMS answer AccessDenied for a wrong encryption context in some cases.
        Some(e) if e.code() == Some("AccessDeniedException") => AdapterError::Decrypt {
            store_id: store_id.to_string(),
        },
        _ => sdk_error(KMS, err),
    }
}

fn kms_encrypt_error(
    err: &SdkError<aws_sdk_kms::operation::encrypt::EncryptError, HttpResponse>,
) -> AdapterError {
    use aws_sdk_kms::operation::encrypt::EncryptError as E;
    match err.as_service_error() {
        // The configured key cannot be used at all: an operator must fix KMS_KEY_ID or the
        // key policy; retrying will not help.
        Some(
            E::NotFoundException(_)
            | E::DisabledException(_)
            | E::InvalidKeyUsageException(_)
            | E::KmsInvalidStateException(_),
        ) => AdapterError::Config(format!(
            "KMS_KEY_ID is not usable for encryption ({})",
            err.code().unwrap_or("unknown")
        )),
        _ => sdk_error(KMS, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_kms::operation::decrypt::DecryptError;
    use aws_sdk_kms::operation::encrypt::EncryptError;
    use aws_sdk_kms::types::error::{InvalidCiphertextException, NotFoundException};
    use aws_smithy_types::body::SdkBody;

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().unwrap(), SdkBody::empty())
    }

    fn generic(code: &str, message: &str) -> ErrorMetadata {
        ErrorMetadata::builder().code(code).message(message).build()
    }

    fn decrypt_err(err: DecryptError, status: u16) -> AdapterError {
        kms_decrypt_error("42", &SdkError::service_error(err, response(status)))
    }

    #[test]
    fn throttling_and_5xx_are_transient() {
        let throttled = decrypt_err(
            DecryptError::generic(generic("ThrottlingException", "x")),
            400,
        );
        assert!(
            matches!(&throttled, AdapterError::Unavailable { service: "kms", detail } if detail == "ThrottlingException")
        );
        let internal = decrypt_err(DecryptError::generic(generic("Whatever", "x")), 503);
        assert!(internal.is_transient());
    }

    #[test]
    fn bad_ciphertext_and_access_denied_are_decrypt_errors() {
        let invalid =
            DecryptError::InvalidCiphertextException(InvalidCiphertextException::builder().build());
        assert!(
            matches!(decrypt_err(invalid, 400), AdapterError::Decrypt { store_id } if store_id == "42")
        );
        let denied = decrypt_err(
            DecryptError::generic(generic("AccessDeniedException", "x")),
            400,
        );
        assert!(matches!(denied, AdapterError::Decrypt { .. }));
    }

    #[test]
    fn other_refusals_are_rejected_without_the_message() {
        let err = sdk_error(
            DYNAMODB,
            &SdkError::<DecryptError, _>::service_error(
                DecryptError::generic(generic(
                    "ValidationException",
                    "value pk_live_SECRET is bad",
                )),
                response(400),
            ),
        );
        assert!(
            matches!(&err, AdapterError::Rejected { status: 400, code, .. } if code == "ValidationException")
        );
        assert!(!err.is_transient());
        assert!(!err.to_string().contains("pk_live_SECRET"));
    }

    #[test]
    fn unusable_encryption_key_is_a_config_error() {
        let err = kms_encrypt_error(&SdkError::service_error(
            EncryptError::NotFoundException(NotFoundException::builder().build()),
            response(400),
        ));
        assert!(matches!(err, AdapterError::Config(_)));
    }

    #[test]
    fn store_id_bounds() {
        assert!(check_store_id("").is_err());
        assert!(check_store_id(&"1".repeat(2049)).is_err());
        assert!(check_store_id("1234567").is_ok());
    }
}
