//! The rules. Each `check` pushes a [`Violation`] per problem found; [`check_all`] runs them
//! all. Rule ids are stable so tests can assert that a specific rule fired.

use std::fmt;

use serde_json::Value as Json;

pub mod alarms;
pub mod functions;
pub mod iam;
pub mod kms;
pub mod logging;
pub mod outputs;
pub mod queues;
pub mod schedules;
pub mod secrets;
pub mod storage;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub location: String,
    pub detail: String,
}

impl Violation {
    pub fn new(rule: &'static str, location: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            rule,
            location: location.into(),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.rule, self.location, self.detail)
    }
}

/// What each deployed binary is allowed and expected to have. The template must match this
/// exactly: a missing permission breaks the function, an extra one widens access.
pub struct FunctionSpec {
    pub binary: &'static str,
    /// Every DynamoDB action its role may use (on the store table only).
    pub dynamodb: &'static [&'static str],
    /// Every KMS action its role may use (on the store key only, under an encryption context).
    pub kms: &'static [&'static str],
    /// Environment variables it must have besides [`COMMON_ENV`].
    pub env: &'static [&'static str],
    /// Secret environment variables it may have (and must get from a secret store).
    pub secrets: &'static [&'static str],
}

/// Environment every function gets.
pub const COMMON_ENV: &[&str] = &[
    "RUST_LOG",
    "KEY_STORE",
    "TABLE_NAME",
    "KMS_KEY_ID",
    "KEY_CACHE_TTL_SECS",
];

pub const FUNCTIONS: &[FunctionSpec] = &[
    FunctionSpec {
        binary: "webhook-intake",
        // UpdateItem adds the sync-health counts (adapters::keystore::dynamo::health). No
        // DeleteItem: an uninstall leaves a deletion marker and nothing deletes a record.
        dynamodb: &[
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
        ],
        kms: &["kms:Encrypt", "kms:Decrypt"],
        env: &[
            "SALLA_WEBHOOK_SECRET",
            "SALLA_WEBHOOK_STRATEGY",
            "SALLA_ALLOW_TOKEN_STRATEGY",
            "SALLA_WEBHOOK_SECRET_PREVIOUS",
            "SALLA_WEBHOOK_ROTATION_ENDS_AT",
            "SALLA_CLIENT_ID",
            "SALLA_CLIENT_SECRET",
            "SALLA_ACCOUNTS_URL",
            "SALLA_API_URL",
            "SALLA_APP_ID",
            "KLAVIYO_API_URL",
            "COD_LINK_SECRET",
            "COD_CONFIRM_URL",
        ],
        secrets: &[
            "SALLA_WEBHOOK_SECRET",
            "SALLA_WEBHOOK_SECRET_PREVIOUS",
            "SALLA_CLIENT_SECRET",
            "COD_LINK_SECRET",
        ],
    },
    FunctionSpec {
        binary: "key-onboarding",
        // PutItem also spends handoff tokens: a conditional put of `{store_id: handoff#<id>,
        // ttl}` in the same table (adapters::keystore::dynamo::once). No new action needed.
        dynamodb: &["dynamodb:GetItem", "dynamodb:PutItem"],
        kms: &["kms:Encrypt", "kms:Decrypt"],
        env: &[
            "SESSION_SECRET",
            "KLAVIYO_API_URL",
            "SALLA_APP_ID",
            "SALLA_EXCHANGE_URL",
        ],
        secrets: &["SESSION_SECRET"],
    },
    FunctionSpec {
        binary: "oauth-callback",
        dynamodb: &["dynamodb:GetItem", "dynamodb:PutItem"],
        kms: &["kms:Encrypt", "kms:Decrypt"],
        env: &[
            "SALLA_CLIENT_ID",
            "SALLA_CLIENT_SECRET",
            "SESSION_SECRET",
            "ONBOARDING_URL",
        ],
        secrets: &["SALLA_CLIENT_SECRET", "SESSION_SECRET"],
    },
    FunctionSpec {
        binary: "token-refresh",
        // Scan lists token expiry only (non-secret attributes projected); PutItem takes the
        // refresh lease and saves the new tokens.
        dynamodb: &["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"],
        kms: &["kms:Encrypt", "kms:Decrypt"],
        env: &[
            "SALLA_CLIENT_ID",
            "SALLA_CLIENT_SECRET",
            "SALLA_ACCOUNTS_URL",
        ],
        secrets: &["SALLA_CLIENT_SECRET"],
    },
    FunctionSpec {
        binary: "cod-confirm",
        // PutItem takes the Salla refresh lease and saves refreshed tokens.
        dynamodb: &["dynamodb:GetItem", "dynamodb:PutItem"],
        kms: &["kms:Encrypt", "kms:Decrypt"],
        env: &[
            "COD_LINK_SECRET",
            "COD_LINK_SECRET_PREVIOUS",
            "COD_LINK_ROTATION_ENDS_AT",
            "SALLA_CLIENT_ID",
            "SALLA_CLIENT_SECRET",
            "SALLA_ACCOUNTS_URL",
            "SALLA_API_URL",
            "KLAVIYO_API_URL",
        ],
        secrets: &[
            "COD_LINK_SECRET",
            "COD_LINK_SECRET_PREVIOUS",
            "SALLA_CLIENT_SECRET",
        ],
    },
    FunctionSpec {
        binary: "history-worker",
        // Scan lists the stores for the daily sweep; PutItem saves the import's progress and
        // refreshed tokens. Its SQS actions are checked by the history queue rules.
        dynamodb: &["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"],
        kms: &["kms:Encrypt", "kms:Decrypt"],
        env: &[
            "SALLA_CLIENT_ID",
            "SALLA_CLIENT_SECRET",
            "SALLA_ACCOUNTS_URL",
            "SALLA_API_URL",
            "KLAVIYO_API_URL",
            "HISTORY_QUEUE_URL",
        ],
        secrets: &["SALLA_CLIENT_SECRET"],
    },
];

/// Binaries run by an EventBridge Scheduler schedule instead of a URL: no function URL, a
/// longer timeout, one at a time.
pub const SCHEDULED: &[&str] = &["token-refresh"];

pub fn is_scheduled(binary: &str) -> bool {
    SCHEDULED.contains(&binary)
}

/// Binaries driven by a queue's event source mapping (see [`queues`]): no function URL, a
/// longer timeout, a small reserved concurrency.
pub const QUEUED: &[&str] = &["history-worker"];

pub fn is_queued(binary: &str) -> bool {
    QUEUED.contains(&binary)
}

pub fn spec_for(binary: &str) -> Option<&'static FunctionSpec> {
    FUNCTIONS.iter().find(|s| s.binary == binary)
}

/// Runs every rule.
pub fn check_all(doc: &Json) -> Vec<Violation> {
    let mut out = Vec::new();
    iam::check(doc, &mut out);
    kms::check(doc, &mut out);
    functions::check(doc, &mut out);
    storage::check(doc, &mut out);
    secrets::check(doc, &mut out);
    logging::check(doc, &mut out);
    outputs::check(doc, &mut out);
    schedules::check(doc, &mut out);
    alarms::check(doc, &mut out);
    queues::check(doc, &mut out);
    out
}
