//! The one error type of the adapters crate. Handlers map it to an HTTP status at the edge
//! (see [`AdapterError::is_transient`]): transient errors answer Salla with 503 so it retries.

use std::fmt;

/// The dependency an [`AdapterError`] comes from. Displayed as the lower-case name the logs
/// carry (`service = "dynamodb"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    DynamoDb,
    Kms,
    Klaviyo,
    Salla,
    /// The local development key store on disk.
    EmbeddedKeyStore,
    /// The history import's queue.
    Sqs,
}

impl Service {
    pub fn as_str(self) -> &'static str {
        match self {
            Service::DynamoDb => "dynamodb",
            Service::Kms => "kms",
            Service::Klaviyo => "klaviyo",
            Service::Salla => "salla",
            Service::EmbeddedKeyStore => "embedded key store",
            Service::Sqs => "sqs",
        }
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

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
    Unavailable { service: Service, detail: String },

    /// A dependency rejected the credential we sent (revoked key, expired token, missing scope).
    #[error("{service} rejected the credential (HTTP {status}{})", code.as_deref().map(|c| format!(", {c}")).unwrap_or_default())]
    Unauthorized {
        service: Service,
        status: u16,
        code: Option<String>,
    },

    /// A dependency rejected the request itself (4xx other than auth). `detail` is the
    /// dependency's own error detail, which never contains our payload.
    #[error("{service} rejected the request (HTTP {status}, {code}): {detail}")]
    Rejected {
        service: Service,
        status: u16,
        code: String,
        detail: String,
    },

    /// A dependency answered with something we could not understand.
    #[error("{service} answered unexpectedly: {detail}")]
    BadResponse { service: Service, detail: String },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_display_as_the_logged_names() {
        let names: Vec<String> = [
            Service::DynamoDb,
            Service::Kms,
            Service::Klaviyo,
            Service::Salla,
            Service::EmbeddedKeyStore,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        assert_eq!(
            names,
            ["dynamodb", "kms", "klaviyo", "salla", "embedded key store"]
        );
    }

    #[test]
    fn messages_name_the_service() {
        let e = AdapterError::Unavailable {
            service: Service::DynamoDb,
            detail: "timeout".into(),
        };
        assert_eq!(e.to_string(), "dynamodb unavailable: timeout");
        let e = AdapterError::Unauthorized {
            service: Service::Klaviyo,
            status: 401,
            code: Some("not_authenticated".into()),
        };
        assert_eq!(
            e.to_string(),
            "klaviyo rejected the credential (HTTP 401, not_authenticated)"
        );
        let e = AdapterError::Rejected {
            service: Service::Salla,
            status: 400,
            code: "invalid_grant".into(),
            detail: "token request refused".into(),
        };
        assert_eq!(
            e.to_string(),
            "salla rejected the request (HTTP 400, invalid_grant): token request refused"
        );
        let e = AdapterError::BadResponse {
            service: Service::EmbeddedKeyStore,
            detail: "x".into(),
        };
        assert_eq!(e.to_string(), "embedded key store answered unexpectedly: x");
    }
}
