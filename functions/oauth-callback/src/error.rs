//! Why the callback stopped. Each variant maps to one status and one page.

use adapters::AdapterError;
use lambda_http::http::StatusCode;

#[derive(Debug, thiserror::Error)]
pub enum CallbackError {
    /// The merchant pressed "cancel" on Salla's consent screen.
    #[error("the merchant denied the authorization")]
    Denied,
    /// No `code` (or an absurd one): someone opened the URL by hand.
    #[error("no usable authorization code")]
    MissingCode,
    /// The code was already used or expired (single-use; a browser refresh reuses it).
    #[error("authorization code already used or expired")]
    CodeUsed,
    /// Salla refused for another reason (our client credentials, a bad redirect URI).
    #[error("Salla refused: {0}")]
    SallaRefused(Refusal),
    /// Salla's accounts service is down or slow.
    #[error("Salla unavailable: {0}")]
    SallaDown(AdapterError),
    /// We could not save the tokens.
    #[error("could not store the tokens: {0}")]
    StorageDown(AdapterError),
    #[error("no such page")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
}

/// What Salla refused with: its own answer, or an `error` parameter on the redirect.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Answer(AdapterError),
    #[error("the authorization redirect carried an error")]
    Redirect,
}

impl CallbackError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Denied | Self::MissingCode | Self::CodeUsed => StatusCode::BAD_REQUEST,
            Self::SallaRefused(_) => StatusCode::BAD_GATEWAY,
            Self::SallaDown(_) | Self::StorageDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// A short machine-readable code for the log line.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Denied => "denied",
            Self::MissingCode => "missing_code",
            Self::CodeUsed => "code_used",
            Self::SallaRefused(_) => "salla_refused",
            Self::SallaDown(_) => "salla_down",
            Self::StorageDown(_) => "storage_down",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
        }
    }

    /// Classifies an error from Salla's OAuth endpoints.
    pub fn from_salla(e: AdapterError) -> Self {
        match e {
            AdapterError::Rejected { ref code, .. } if code == "invalid_grant" => Self::CodeUsed,
            e if e.is_transient() => Self::SallaDown(e),
            e => Self::SallaRefused(Refusal::Answer(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn salla_errors_are_classified() {
        let rejected = |code: &str| AdapterError::Rejected {
            service: adapters::error::Service::Salla,
            status: 400,
            code: code.into(),
            detail: String::new(),
        };
        assert!(matches!(
            CallbackError::from_salla(rejected("invalid_grant")),
            CallbackError::CodeUsed
        ));
        let refused = CallbackError::from_salla(rejected("invalid_client"));
        assert_eq!(refused.status(), StatusCode::BAD_GATEWAY);
        let down = CallbackError::from_salla(AdapterError::Unavailable {
            service: adapters::error::Service::Salla,
            detail: "timeout".into(),
        });
        assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(down.code(), "salla_down");
    }
}
