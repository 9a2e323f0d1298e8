//! Why a page request or form post did not succeed: the status it answers with, the code the
//! log line carries, and the message the merchant reads.

use adapters::AdapterError;
use adapters::history::start::RerunRefused;
use adapters::salla::embedded::EmbeddedTokenError;
use adapters::session::SessionError;
use lambda_http::http::StatusCode;

use crate::i18n::Problem;

#[derive(Debug, thiserror::Error)]
pub enum OnboardingError {
    /// No session cookie, or one that is invalid or expired.
    #[error("no valid session")]
    NoSession,
    /// The handoff token from the OAuth callback is invalid or expired.
    #[error("handoff refused: {0}")]
    BadHandoff(SessionError),
    /// A valid handoff token presented a second time (a copied URL, a replay).
    #[error("handoff already used")]
    HandoffUsed,
    /// A form rendered for another store than the session's (two tabs, one cookie).
    #[error("form posted for another store")]
    OtherStore,
    #[error("missing or invalid CSRF token")]
    CsrfFailed,
    #[error("unknown form action")]
    UnknownAction,
    /// A key posted without the merchant ticking "this is my store".
    #[error("store not confirmed")]
    Unconfirmed,
    #[error("body larger than {limit} bytes")]
    TooLarge { limit: usize },
    /// The pasted key failed its shape check or Klaviyo's (the problem says which).
    #[error("key refused: {0:?}")]
    Key(Problem),
    /// A page action for a store that uninstalled the app: its record is a deletion marker,
    /// which only a reinstall changes.
    #[error("store uninstalled the app")]
    AppRemoved,
    #[error("key store unavailable: {0}")]
    StorageDown(AdapterError),
    /// The token Salla's dashboard appended to the page's URL did not verify.
    #[error("embedded token refused: {0}")]
    BadEmbeddedToken(EmbeddedTokenError),
    /// Salla could not say whose the token is (down, slow, unexpected answer).
    #[error("Salla unavailable: {0}")]
    SallaDown(AdapterError),
    /// "Import again" refused (an import runs, or the store is not connected).
    #[error("re-run refused: {0:?}")]
    Rerun(RerunRefused),
    /// The re-run could not be claimed or queued.
    #[error("re-run not started")]
    RerunFailed,
    /// The test event did not reach Klaviyo, or Klaviyo refused it (the problem says why).
    #[error("test event failed: {0:?}")]
    TestEvent(Problem),
}

impl OnboardingError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NoSession
            | Self::BadHandoff(_)
            | Self::HandoffUsed
            | Self::OtherStore
            | Self::BadEmbeddedToken(_) => StatusCode::UNAUTHORIZED,
            Self::CsrfFailed => StatusCode::FORBIDDEN,
            Self::UnknownAction | Self::Unconfirmed => StatusCode::BAD_REQUEST,
            Self::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Key(Problem::KlaviyoDown) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Key(_) => StatusCode::BAD_REQUEST,
            Self::StorageDown(_) | Self::SallaDown(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Rerun(_) => StatusCode::CONFLICT,
            Self::AppRemoved => StatusCode::GONE,
            Self::RerunFailed | Self::TestEvent(Problem::KlaviyoDown) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            // The store's key cannot send events: the merchant's request was fine.
            Self::TestEvent(_) => StatusCode::CONFLICT,
        }
    }

    /// A short machine-readable code for the log line.
    pub fn code(&self) -> &'static str {
        match self {
            Self::NoSession => "no_session",
            Self::BadHandoff(_) => "bad_handoff",
            Self::HandoffUsed => "handoff_used",
            Self::OtherStore => "other_store",
            Self::CsrfFailed => "csrf_failed",
            Self::UnknownAction => "bad_request",
            Self::Unconfirmed => "store_not_confirmed",
            Self::TooLarge { .. } => "too_large",
            Self::Key(problem) => problem.code(),
            Self::StorageDown(_) => "storage_down",
            Self::AppRemoved => "app_removed",
            Self::BadEmbeddedToken(EmbeddedTokenError::Expired) => "embedded_token_expired",
            Self::BadEmbeddedToken(_) => "embedded_token_refused",
            Self::SallaDown(_) => "salla_down",
            Self::Rerun(RerunRefused::Running) => "import_running",
            Self::Rerun(RerunRefused::NotConnected) => "import_not_connected",
            Self::RerunFailed => "import_failed",
            Self::TestEvent(problem) => problem.code(),
        }
    }

    /// What the page tells the merchant. Every session failure reads the same, so a caller
    /// learns nothing about other stores; the reason goes to the log only.
    pub fn problem(&self) -> Problem {
        match self {
            Self::NoSession
            | Self::BadHandoff(_)
            | Self::HandoffUsed
            | Self::OtherStore
            | Self::BadEmbeddedToken(_) => Problem::SessionExpired,
            Self::CsrfFailed => Problem::FormExpired,
            Self::UnknownAction | Self::TooLarge { .. } => Problem::BadRequest,
            Self::Unconfirmed => Problem::ConfirmStore,
            Self::Key(problem) => *problem,
            Self::StorageDown(_) => Problem::StorageDown,
            Self::AppRemoved => Problem::AppRemoved,
            Self::SallaDown(_) => Problem::SallaDown,
            Self::Rerun(RerunRefused::Running) => Problem::ImportRunning,
            Self::Rerun(RerunRefused::NotConnected) => Problem::ImportNotConnected,
            Self::RerunFailed => Problem::ImportFailed,
            Self::TestEvent(problem) => *problem,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_codes_and_messages() {
        let cases = [
            (
                OnboardingError::NoSession,
                401,
                "no_session",
                Problem::SessionExpired,
            ),
            (
                OnboardingError::HandoffUsed,
                401,
                "handoff_used",
                Problem::SessionExpired,
            ),
            (
                OnboardingError::OtherStore,
                401,
                "other_store",
                Problem::SessionExpired,
            ),
            (
                OnboardingError::CsrfFailed,
                403,
                "csrf_failed",
                Problem::FormExpired,
            ),
            (
                OnboardingError::TooLarge { limit: 1 },
                413,
                "too_large",
                Problem::BadRequest,
            ),
            (
                OnboardingError::Key(Problem::InvalidKey),
                400,
                "invalid_key",
                Problem::InvalidKey,
            ),
            (
                OnboardingError::AppRemoved,
                410,
                "app_removed",
                Problem::AppRemoved,
            ),
            (
                OnboardingError::Key(Problem::KlaviyoDown),
                503,
                "klaviyo_down",
                Problem::KlaviyoDown,
            ),
        ];
        for (e, status, code, problem) in cases {
            assert_eq!(e.status().as_u16(), status, "{e}");
            assert_eq!(e.code(), code);
            assert_eq!(e.problem(), problem);
        }
    }
}
