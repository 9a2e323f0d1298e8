//! How a page request or form post ended, for the one log line each writes.

use std::time::Instant;

use lambda_http::http::StatusCode;

/// What the request was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Handoff,
    /// Sign-in from Salla's dashboard (the embedded page's token).
    Embedded,
    View,
    Post,
    Save,
    Disconnect,
    Rerun,
    TestEvent,
}

impl Action {
    pub fn name(self) -> &'static str {
        match self {
            Action::Handoff => "handoff",
            Action::Embedded => "embedded",
            Action::View => "view",
            Action::Post => "post",
            Action::Save => "save",
            Action::Disconnect => "disconnect",
            Action::Rerun => "rerun_import",
            Action::TestEvent => "test_event",
        }
    }
}

/// A request that succeeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A handoff token traded for the session cookie.
    SignedIn,
    /// The store's page shown.
    Shown,
    /// A key checked with Klaviyo and saved.
    Saved,
    /// The key deleted.
    Disconnected,
    /// A new history import claimed (and queued where a queue is configured).
    ImportQueued,
    /// Klaviyo accepted the test event.
    TestSent,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::SignedIn => "handoff",
            Outcome::Shown => "shown",
            Outcome::Saved => "saved",
            Outcome::Disconnected => "disconnected",
            Outcome::ImportQueued => "import_queued",
            Outcome::TestSent => "test_sent",
        }
    }
}

/// The log line: ids, codes and timings only.
pub fn log(
    action: Action,
    store_id: Option<&str>,
    outcome: &'static str,
    status: StatusCode,
    started: Instant,
) {
    tracing::info!(
        event = "onboarding",
        action = action.name(),
        store_id = store_id.unwrap_or(""),
        outcome,
        status = status.as_u16(),
        latency_ms = started.elapsed().as_millis() as u64
    );
}
