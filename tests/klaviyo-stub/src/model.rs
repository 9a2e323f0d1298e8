//! The stub's public data types: accounts, recorded requests, faults, counters.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

/// A Klaviyo account reachable with one private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StubAccount {
    /// `contact_information.organization_name`.
    pub name: String,
    /// Account id, which is also its public API key (six characters like `AbC123`).
    pub id: String,
    /// `false` makes every call with this key answer 403 with a missing-scope error.
    pub scopes_ok: bool,
}

impl StubAccount {
    /// An account whose key has every scope.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> StubAccount {
        StubAccount {
            name: name.into(),
            id: id.into(),
            scopes_ok: true,
        }
    }
}

/// One request as the stub saw it, with the stub's answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recorded {
    /// Upper-case HTTP method.
    pub method: String,
    /// Path and query string exactly as received.
    pub path: String,
    /// The spec's `operationId` the request mapped to, if any (`create_event`).
    pub operation_id: Option<String>,
    /// The key from `Authorization: Klaviyo-API-Key <key>`.
    pub api_key: Option<String>,
    pub revision: Option<String>,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// `X-Klaviyo-User-Agent`, which Klaviyo's own integrations send.
    pub klaviyo_user_agent: Option<String>,
    /// Parsed JSON body; `None` when empty or not JSON.
    pub body: Option<Value>,
    /// Status answered; 0 when the connection was dropped on purpose.
    pub status: u16,
    /// Spec and header violations found in this request.
    pub violations: Vec<String>,
}

/// A fault the stub injects instead of (or before) its normal answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer `status` with a JSON:API error body (and `Retry-After` if given); the request is
    /// not processed.
    Status {
        status: u16,
        retry_after: Option<u64>,
        times: usize,
    },
    /// Wait `delay`, then process and answer normally.
    Delay { delay: Duration, times: usize },
    /// Close the connection without answering; the request is not processed.
    Drop { times: usize },
}

impl Fault {
    pub(crate) fn times(&self) -> usize {
        match self {
            Fault::Status { times, .. } | Fault::Delay { times, .. } | Fault::Drop { times } => {
                *times
            }
        }
    }
}

/// Cheap counters, kept even when request recording is off (load runs).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StubStats {
    pub requests: usize,
    pub violations: usize,
    pub distinct_events: usize,
    /// Create-event requests answered 202, duplicates included.
    pub events_accepted: usize,
    /// Accepted create-events whose (profile, metric, unique_id) was already recorded: Klaviyo
    /// drops them, but each one used a request of the account's quota.
    pub duplicate_events: usize,
    pub by_status: BTreeMap<u16, usize>,
    /// Requests answered 429 by the rate-limit mode (not injected faults).
    pub throttled: usize,
    /// The same, per endpoint (`POST /api/events`) and window (`burst`, `steady`).
    pub throttled_by: BTreeMap<String, usize>,
    /// Wall-clock time (Unix ms) the newest distinct event was first accepted.
    pub last_new_event_unix_ms: Option<u64>,
    /// Profile bulk import jobs accepted.
    pub profile_bulk_jobs: usize,
}

/// When a distinct event first reached the stub, and how many copies were dropped after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Landing {
    pub first_unix_ms: u64,
    pub duplicates: u32,
}
