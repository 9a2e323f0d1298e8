//! The one error type of the adapters crate. Handlers map it to an HTTP status at the edge
//! (see [`AdapterError::is_transient`]): transient errors answer Salla with 503 so it retries.

#[derive(Debug, thiserror::Error)]
pub enum AdapterError {
    /// A required setting is missing or malformed. Names the variable, never its value.
    #[error("configuration: {0}")]
    Config(String),

    /// An optimistic-concurrency write lost a race; the caller re-reads and retries.
    #[error("write conflict for store {store_id}")]
    Conflict { store_id: String },

    /// A stored secret failed to decrypt (wrong key, wrong encryption context, tampering).
    #[error("stored secret for store {store_id} could not be decrypted")]
    Decrypt { store_id: String },

    /// A dependency (DynamoDB, KMS, Klaviyo, Salla, the local disk) is unreachable, throttling
    /// or failing in a way that a later retry may fix.
    #[error("{service} unavailable: {detail}")]
    Unavailable {
        service: &'static str,
        detail: String,
    },

    /// A dependency rejected the credential we sent (revoked key, expired token, missing scope).
    #[error("{service} rejected the credential (HTTP {status}{})", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Unauthorized {
        service: &'static str,
        status: u16,
        code: Option<String>,
    },

    /// A dependency rejected the request itself (4xx other than auth). `detail` is the
    /// dependency's own error detail, which never contains our payload.
    #[error("{service} rejected the request (HTTP {status}, {code}): {detail}")]
    Rejected {
        service: &'static str,
        status: u16,
        code: String,
        detail: String,
    },

    /// A dependency answered with something we could not understand.
    #[error("{service} answered unexpectedly: {detail}")]
    BadResponse {
        service: &'static str,
        detail: String,
    },
}

impl AdapterError {
    /// Whether a retry later (by us, or by Salla redelivering the webhook) may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            AdapterError::Unavailable { .. } | AdapterError::Conflict { .. }
        )
    }
}
