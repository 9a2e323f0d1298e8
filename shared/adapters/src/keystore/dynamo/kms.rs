//! Secrets in and out of KMS under the encryption context
//! `{"store_id": <id>, "secret": <attribute name>}`: a ciphertext copied into another store's
//! item, or into another attribute, fails to decrypt.

use aws_sdk_kms::primitives::Blob;

use super::errors::{kms_decrypt_error, kms_encrypt_error};
use crate::{AdapterError, Secret, Service};

/// The encryption context of one secret attribute of one store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Context<'a> {
    pub store_id: &'a str,
    /// The item attribute the ciphertext is stored in.
    pub secret: &'static str,
}

impl Context<'_> {
    /// The context as KMS receives it, pair by pair.
    pub fn pairs(&self) -> [(&'static str, &str); 2] {
        [("store_id", self.store_id), ("secret", self.secret)]
    }
}

/// The KMS key secrets are encrypted under.
#[derive(Debug, Clone)]
pub(crate) struct Kms {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl Kms {
    pub fn new(client: aws_sdk_kms::Client, key_id: String) -> Self {
        Self { client, key_id }
    }

    #[cfg(test)]
    pub fn client(&self) -> &aws_sdk_kms::Client {
        &self.client
    }

    pub async fn encrypt(&self, ctx: Context<'_>, value: &Secret) -> Result<Vec<u8>, AdapterError> {
        let mut request = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(value.expose().as_bytes()));
        for (k, v) in ctx.pairs() {
            request = request.encryption_context(k, v);
        }
        let out = request.send().await.map_err(|e| kms_encrypt_error(&e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| bad_response("encrypt answered without a ciphertext"))
    }

    pub async fn decrypt(
        &self,
        ctx: Context<'_>,
        ciphertext: Vec<u8>,
    ) -> Result<Secret, AdapterError> {
        let mut request = self
            .client
            .decrypt()
            // Naming the key makes KMS refuse a ciphertext made under any other key.
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(ciphertext));
        for (k, v) in ctx.pairs() {
            request = request.encryption_context(k, v);
        }
        let out = request
            .send()
            .await
            .map_err(|e| kms_decrypt_error(ctx.store_id, &e))?;
        let plain = out
            .plaintext
            .ok_or_else(|| bad_response("decrypt answered without a plaintext"))?;
        plaintext(ctx.store_id, plain.into_inner())
    }

    pub async fn encrypt_opt(
        &self,
        ctx: Context<'_>,
        value: Option<&Secret>,
    ) -> Result<Option<Vec<u8>>, AdapterError> {
        match value {
            None => Ok(None),
            Some(v) => self.encrypt(ctx, v).await.map(Some),
        }
    }

    pub async fn decrypt_opt(
        &self,
        ctx: Context<'_>,
        ciphertext: Option<Vec<u8>>,
    ) -> Result<Option<Secret>, AdapterError> {
        match ciphertext {
            None => Ok(None),
            Some(c) => self.decrypt(ctx, c).await.map(Some),
        }
    }
}

/// Every secret we store is text; bytes that are not UTF-8 did not come from us.
fn plaintext(store_id: &str, bytes: Vec<u8>) -> Result<Secret, AdapterError> {
    String::from_utf8(bytes)
        .map(Secret::new)
        .map_err(|_| AdapterError::Decrypt {
            store_id: store_id.to_string(),
        })
}

fn bad_response(detail: &str) -> AdapterError {
    AdapterError::BadResponse {
        service: Service::Kms,
        detail: detail.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_names_the_store_and_the_attribute() {
        let ctx = Context {
            store_id: "42",
            secret: "salla_refresh_token",
        };
        assert_eq!(
            ctx.pairs(),
            [("store_id", "42"), ("secret", "salla_refresh_token")]
        );
    }

    #[test]
    fn non_utf8_plaintext_is_a_decrypt_error() {
        assert_eq!(
            plaintext("7", b"pk_abc".to_vec()).unwrap().expose(),
            "pk_abc"
        );
        assert!(matches!(
            plaintext("7", vec![0xff, 0xfe]),
            Err(AdapterError::Decrypt { store_id }) if store_id == "7"
        ));
    }

    #[tokio::test]
    async fn unreachable_kms_is_transient_on_both_paths() {
        let conf = aws_sdk_kms::Config::builder()
            .behavior_version(aws_sdk_kms::config::BehaviorVersion::latest())
            .region(aws_sdk_kms::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_kms::config::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .endpoint_url("http://127.0.0.1:9")
            .retry_config(aws_sdk_kms::config::retry::RetryConfig::disabled())
            .build();
        let kms = Kms::new(aws_sdk_kms::Client::from_conf(conf), "k".into());
        let ctx = Context {
            store_id: "1",
            secret: "klaviyo_private_key",
        };
        let err = kms.encrypt(ctx, &Secret::new("pk_x")).await.unwrap_err();
        assert!(
            matches!(
                err,
                AdapterError::Unavailable {
                    service: Service::Kms,
                    ..
                }
            ),
            "{err:?}"
        );
        let err = kms.decrypt(ctx, vec![1, 2, 3]).await.unwrap_err();
        assert!(err.is_transient(), "{err:?}");
        assert_eq!(kms.encrypt_opt(ctx, None).await.unwrap(), None);
        assert!(kms.decrypt_opt(ctx, None).await.unwrap().is_none());
    }
}
