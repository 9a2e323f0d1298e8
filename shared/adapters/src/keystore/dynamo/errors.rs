//! SDK failures → [`AdapterError`]: transient (throttling, 5xx, timeouts, network) or permanent
//! (validation, missing table, access denied, unusable key).
//!
//! Only error codes are kept: SDK messages may echo request parts, secrets included.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::operation::encrypt::EncryptError;

use crate::{AdapterError, Service};

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

/// Throttling, 5xx, timeouts and dispatch failures are transient (`Unavailable`); any other
/// refusal is `Rejected`: retrying the same request will not help.
pub(crate) fn sdk_error<E>(service: Service, err: &SdkError<E, HttpResponse>) -> AdapterError
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

/// A ciphertext KMS will not open under this store's context is a [`AdapterError::Decrypt`];
/// everything else is classified like any other SDK failure.
pub(crate) fn kms_decrypt_error(
    store_id: &str,
    err: &SdkError<DecryptError, HttpResponse>,
) -> AdapterError {
    use DecryptError as E;
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
        _ => sdk_error(Service::Kms, err),
    }
}

/// A key that cannot encrypt at all is the operator's to fix (`KMS_KEY_ID` or the key policy).
pub(crate) fn kms_encrypt_error(err: &SdkError<EncryptError, HttpResponse>) -> AdapterError {
    use EncryptError as E;
    match err.as_service_error() {
        Some(
            E::NotFoundException(_)
            | E::DisabledException(_)
            | E::InvalidKeyUsageException(_)
            | E::KmsInvalidStateException(_),
        ) => AdapterError::Config(format!(
            "KMS_KEY_ID is not usable for encryption ({})",
            err.code().unwrap_or("unknown")
        )),
        _ => sdk_error(Service::Kms, err),
    }
}

/// Whether a DynamoDB put lost its version condition to another writer.
pub(crate) fn is_condition_failed(
    err: &SdkError<aws_sdk_dynamodb::operation::put_item::PutItemError, HttpResponse>,
) -> bool {
    err.as_service_error()
        .is_some_and(|s| s.is_conditional_check_failed_exception())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
    use aws_sdk_kms::error::ErrorMetadata;
    use aws_sdk_kms::types::error::{
        DisabledException, IncorrectKeyException, InvalidCiphertextException, NotFoundException,
    };
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
            matches!(&throttled, AdapterError::Unavailable { service: Service::Kms, detail } if detail == "ThrottlingException")
        );
        let internal = decrypt_err(DecryptError::generic(generic("Whatever", "x")), 503);
        assert!(internal.is_transient());
        for code in TRANSIENT_CODES {
            let err = sdk_error(
                Service::DynamoDb,
                &SdkError::<DecryptError, _>::service_error(
                    DecryptError::generic(generic(code, "x")),
                    response(400),
                ),
            );
            assert!(err.is_transient(), "{code}");
        }
    }

    #[test]
    fn bad_ciphertext_and_access_denied_are_decrypt_errors() {
        let invalid =
            DecryptError::InvalidCiphertextException(InvalidCiphertextException::builder().build());
        assert!(
            matches!(decrypt_err(invalid, 400), AdapterError::Decrypt { store_id } if store_id == "42")
        );
        let wrong_key =
            DecryptError::IncorrectKeyException(IncorrectKeyException::builder().build());
        assert!(matches!(
            decrypt_err(wrong_key, 400),
            AdapterError::Decrypt { .. }
        ));
        let denied = decrypt_err(
            DecryptError::generic(generic("AccessDeniedException", "x")),
            400,
        );
        assert!(matches!(denied, AdapterError::Decrypt { .. }));
    }

    #[test]
    fn other_refusals_are_rejected_without_the_message() {
        let err = sdk_error(
            Service::DynamoDb,
            &SdkError::<DecryptError, _>::service_error(
                DecryptError::generic(generic(
                    "ValidationException",
                    "value pk_live_SECRET is bad",
                )),
                response(400),
            ),
        );
        assert!(
            matches!(&err, AdapterError::Rejected { service: Service::DynamoDb, status: 400, code, .. } if code == "ValidationException")
        );
        assert!(!err.is_transient());
        assert!(!err.to_string().contains("pk_live_SECRET"));
    }

    #[test]
    fn network_failures_are_transient() {
        let err = sdk_error(
            Service::DynamoDb,
            &SdkError::<DecryptError, HttpResponse>::timeout_error("slow"),
        );
        assert!(
            matches!(&err, AdapterError::Unavailable { service: Service::DynamoDb, detail } if detail == "timeout")
        );
        let err = sdk_error(
            Service::Kms,
            &SdkError::<DecryptError, HttpResponse>::construction_failure("bad"),
        );
        assert!(err.is_transient());
    }

    #[test]
    fn unusable_encryption_key_is_a_config_error() {
        for err in [
            EncryptError::NotFoundException(NotFoundException::builder().build()),
            EncryptError::DisabledException(DisabledException::builder().build()),
        ] {
            let err = kms_encrypt_error(&SdkError::service_error(err, response(400)));
            assert!(matches!(err, AdapterError::Config(_)), "{err:?}");
        }
        let throttled = kms_encrypt_error(&SdkError::service_error(
            EncryptError::generic(generic("ThrottlingException", "x")),
            response(400),
        ));
        assert!(throttled.is_transient());
    }

    #[test]
    fn a_failed_version_condition_is_recognised() {
        let lost = SdkError::service_error(
            PutItemError::ConditionalCheckFailedException(
                ConditionalCheckFailedException::builder().build(),
            ),
            response(400),
        );
        assert!(is_condition_failed(&lost));
        let other = SdkError::service_error(
            PutItemError::generic(generic("ValidationException", "x")),
            response(400),
        );
        assert!(!is_condition_failed(&other));
    }
}
