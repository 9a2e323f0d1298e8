//! Single-use marks: "this random id has been spent", kept until the thing it names has
//! expired. The onboarding page spends a handoff token's id ([`crate::session::Claims::id`])
//! when it trades the token for a cookie session, so a handoff URL copied from a history,
//! a proxy log or a shoulder works at most once, and only within its 30 seconds.
//!
//! A mark holds only the random id and an expiry: no store id, nothing about a shopper.
//!
//! Implementations, chosen like the key store's:
//! - [`crate::keystore::dynamo::once::DynamoSpentMarks`]: an item in the store table under a
//!   key that can never be a store id (`handoff#<id>`; store ids are decimal), written with
//!   a conditional put so two concurrent claims cannot both win, removed by DynamoDB's TTL
//!   (attribute `ttl`).
//! - [`embedded::EmbeddedSpentMarks`]: a file per id under `<DATA_DIR>/handoffs/`, created
//!   exclusively.
//! - [`memory::MemorySpentMarks`]: a process-local map, for tests.

use std::sync::Arc;

use async_trait::async_trait;

use crate::AdapterError;
use crate::config::{Config, KeyStoreKind};

pub mod embedded;
pub mod memory;

/// Prefix of a handoff mark's key in the store table. Not a digit, so no store id (decimal)
/// ever collides with it, and a job that walks the table's store records skips it.
pub const HANDOFF_KEY_PREFIX: &str = "handoff#";

/// How long a mark outlives what it names, in seconds: a process whose clock runs behind
/// DynamoDB's still finds the mark while it would accept the token.
pub const CLOCK_MARGIN_SECS: i64 = 300;

/// Longest id accepted (the session module's ids are 22 characters).
const MAX_ID_LEN: usize = 64;

/// What a claim found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// This call spent the id: go ahead.
    First,
    /// Someone spent it before.
    Spent,
}

#[async_trait]
pub trait SpentMarks: Send + Sync {
    /// Spends `id`, which names something valid until `expires_at` (unix seconds). Exactly one
    /// of any number of concurrent claims of one id gets [`Claim::First`]. The mark is kept at
    /// least until `expires_at` (plus [`CLOCK_MARGIN_SECS`]).
    async fn claim(&self, id: &str, expires_at: i64) -> Result<Claim, AdapterError>;
}

/// The marks that go with the configured key store. Built once per cold start; the DynamoDB
/// client is made on first use (see [`crate::keystore::dynamo::once`]).
pub fn build(config: &Config) -> Result<Arc<dyn SpentMarks>, AdapterError> {
    Ok(match &config.key_store {
        KeyStoreKind::Embedded { data_dir } => Arc::new(embedded::EmbeddedSpentMarks::open(
            data_dir.join("handoffs"),
        )?),
        KeyStoreKind::DynamoDb { table, .. } => Arc::new(
            crate::keystore::dynamo::once::DynamoSpentMarks::from_env(table.clone()),
        ),
    })
}

/// Whether `id` can be a mark's id: 1 to 64 characters of base64url's alphabet, so it is safe
/// as a file name and as part of a key.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Refuses an id [`valid_id`] does not accept.
pub(crate) fn check_id(id: &str, service: crate::Service) -> Result<(), AdapterError> {
    if valid_id(id) {
        return Ok(());
    }
    Err(AdapterError::Rejected {
        service,
        status: 400,
        code: "invalid_mark_id".into(),
        detail: "a spent-mark id must be 1 to 64 base64url characters".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_base64url_and_bounded() {
        assert!(valid_id("AbC-_09"));
        for bad in ["", "a/b", "../x", "a#b", "a b", &"a".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
            assert!(check_id(bad, crate::Service::EmbeddedKeyStore).is_err());
        }
    }

    #[test]
    fn the_key_prefix_cannot_be_a_store_id() {
        assert!(!HANDOFF_KEY_PREFIX.starts_with(|c: char| c.is_ascii_digit()));
    }
}
