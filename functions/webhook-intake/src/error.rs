//! The intake's one error type and the HTTP status each maps to. Salla treats anything but
//! 200/201 as a failed delivery and redelivers it (3 times, ~5 minutes apart) and shows it in
//! the merchant's webhook log, so the status is how we ask for a retry or report a problem.

use adapters::{AdapterError, Service};
use mapping::MappingError;

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error("missing or invalid webhook credential")]
    Unauthenticated,
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("invalid webhook body: {0}")]
    BadBody(#[from] MappingError),
    /// Klaviyo, DynamoDB, KMS or Salla failing transiently: Salla should redeliver later.
    #[error("temporarily unavailable: {0}")]
    Unavailable(AdapterError),
    /// The store's Klaviyo key was revoked or lost its scopes; the merchant must reconnect.
    #[error("Klaviyo rejected the store's key; the merchant must reconnect")]
    KlaviyoKeyRevoked,
    /// Klaviyo rejected a request we built: a defect on our side, logged with Klaviyo's code.
    #[error("Klaviyo rejected the request ({code})")]
    KlaviyoRejected { code: String },
    #[error("internal error: {0}")]
    Internal(AdapterError),
}

impl IntakeError {
    pub fn status(&self) -> u16 {
        match self {
            IntakeError::Unauthenticated => 401,
            IntakeError::TooLarge { .. } => 413,
            IntakeError::BadBody(_) => 400,
            IntakeError::Unavailable(_) => 503,
            // 424 Failed Dependency: visible in Salla's webhook log, and Salla's redeliveries
            // will go through if the merchant reconnects within the retry window.
            IntakeError::KlaviyoKeyRevoked => 424,
            IntakeError::KlaviyoRejected { .. } => 422,
            IntakeError::Internal(_) => 500,
        }
    }

    /// A short machine-readable code for the response body and the log line.
    pub fn code(&self) -> &'static str {
        match self {
            IntakeError::Unauthenticated => "unauthenticated",
            IntakeError::TooLarge { .. } => "too_large",
            IntakeError::BadBody(_) => "bad_body",
            IntakeError::Unavailable(_) => "unavailable",
            IntakeError::KlaviyoKeyRevoked => "klaviyo_key_revoked",
            IntakeError::KlaviyoRejected { .. } => "klaviyo_rejected",
            IntakeError::Internal(_) => "internal",
        }
    }
}

impl From<AdapterError> for IntakeError {
    fn from(e: AdapterError) -> Self {
        match e {
            e if e.is_transient() => IntakeError::Unavailable(e),
            AdapterError::Unauthorized {
                service: Service::Klaviyo,
                ..
            } => IntakeError::KlaviyoKeyRevoked,
            AdapterError::Rejected {
                service: Service::Klaviyo,
                code,
                ..
            } => IntakeError::KlaviyoRejected { code },
            e => IntakeError::Internal(e),
        }
    }
}
