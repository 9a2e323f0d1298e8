//! Walking every store's token state without touching a secret: what the scheduled token
//! refresh reads to find stores whose Salla tokens are close to expiry, quiet stores included
//! (a store without carts never refreshes on the webhook path).
//!
//! A scan returns only non-secret metadata ([`TokenState`]): DynamoDB projects the store id,
//! the expiry and the blocked flag, so no ciphertext leaves the table and no KMS call is made;
//! only the stores a refresh then picks are read in full.

use async_trait::async_trait;

use super::{MAX_STORE_ID_LEN, SallaTokens};
use crate::AdapterError;

/// One store's Salla token state, as a scan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenState {
    pub store_id: String,
    /// Absolute expiry of the access token, unix seconds; `None` when no tokens are held.
    pub expires_at: Option<i64>,
    /// Set when refreshing stopped for the store (see [`SallaTokens::refresh_blocked_at`]).
    pub refresh_blocked_at: Option<i64>,
}

/// One page of a scan; `next` is where the next page starts (`None`: the scan is complete).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScanPage {
    pub stores: Vec<TokenState>,
    pub next: Option<String>,
}

/// A key store whose stores can be listed page by page, secrets left alone.
#[async_trait]
pub trait TokenScan: Send + Sync {
    /// Up to about `limit` stores after `start` (`None`: from the beginning). A page may hold
    /// fewer (DynamoDB filters after reading) and still have a `next`.
    async fn scan_tokens(&self, start: Option<&str>, limit: u32) -> Result<ScanPage, AdapterError>;
}

/// Why a scanned store is not refreshed now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Not a Salla store id (Salla's are decimal): never sent to Salla.
    BadStoreId,
    /// No Salla tokens held.
    NoTokens,
    /// Refreshing stopped until the merchant re-authorizes.
    Blocked,
    /// More than [`SallaTokens::REFRESH_MARGIN_SECS`] left.
    NotDue,
}

impl Skip {
    /// The log's outcome name.
    pub fn name(self) -> &'static str {
        match self {
            Skip::BadStoreId => "bad_store_id",
            Skip::NoTokens => "no_tokens",
            Skip::Blocked => "blocked",
            Skip::NotDue => "not_due",
        }
    }
}

/// Whether the store's tokens should be refreshed at `now`, or why not.
pub fn due(state: &TokenState, now: i64) -> Result<(), Skip> {
    if !is_salla_store_id(&state.store_id) {
        return Err(Skip::BadStoreId);
    }
    let Some(expires_at) = state.expires_at else {
        return Err(Skip::NoTokens);
    };
    if state.refresh_blocked_at.is_some() {
        return Err(Skip::Blocked);
    }
    if expires_at.saturating_sub(now) > SallaTokens::REFRESH_MARGIN_SECS {
        return Err(Skip::NotDue);
    }
    Ok(())
}

/// The stores of `states` due at `now`, soonest expiry first (so a run cut short by its time
/// budget has refreshed the most urgent ones; the next run continues with the rest).
pub fn select_due(states: &[TokenState], now: i64) -> Vec<&TokenState> {
    let mut picked: Vec<&TokenState> = states.iter().filter(|s| due(s, now).is_ok()).collect();
    picked.sort_by(|a, b| {
        a.expires_at
            .cmp(&b.expires_at)
            .then_with(|| a.store_id.cmp(&b.store_id))
    });
    picked
}

/// Salla's merchant ids are decimal numbers; anything else did not come from Salla.
pub fn is_salla_store_id(store_id: &str) -> bool {
    !store_id.is_empty()
        && store_id.len() <= MAX_STORE_ID_LEN
        && store_id.bytes().all(|b| b.is_ascii_digit())
}

/// One page of `states` (sorted by store id) after `start`: the paging the file and memory
/// stores share.
pub(crate) fn page_of(mut states: Vec<TokenState>, start: Option<&str>, limit: u32) -> ScanPage {
    states.sort_by(|a, b| a.store_id.cmp(&b.store_id));
    let limit = limit.max(1) as usize;
    let mut stores: Vec<TokenState> = states
        .into_iter()
        .filter(|s| start.is_none_or(|start| s.store_id.as_str() > start))
        .take(limit + 1)
        .collect();
    let next = if stores.len() > limit {
        stores.truncate(limit);
        stores.last().map(|s| s.store_id.clone())
    } else {
        None
    };
    ScanPage { stores, next }
}

#[async_trait]
impl TokenScan for super::memory::MemoryKeyStore {
    async fn scan_tokens(&self, start: Option<&str>, limit: u32) -> Result<ScanPage, AdapterError> {
        let states = self
            .records()
            .into_iter()
            .map(|r| TokenState {
                expires_at: r.salla.as_ref().map(|s| s.expires_at),
                refresh_blocked_at: r.salla.as_ref().and_then(|s| s.refresh_blocked_at),
                store_id: r.store_id,
            })
            .collect();
        Ok(page_of(states, start, limit))
    }
}

#[async_trait]
impl TokenScan for super::embedded::EmbeddedKeyStore {
    /// Reads each store file's plain metadata; the sealed secrets are not opened.
    async fn scan_tokens(&self, start: Option<&str>, limit: u32) -> Result<ScanPage, AdapterError> {
        let dir = self.stores_dir().to_path_buf();
        let start = start.map(str::to_string);
        tokio::task::spawn_blocking(move || {
            let states = embedded_states(&dir)?;
            Ok(page_of(states, start.as_deref(), limit))
        })
        .await
        .map_err(|_| AdapterError::Unavailable {
            service: crate::Service::EmbeddedKeyStore,
            detail: "file task failed".into(),
        })?
    }
}

/// The token state in every `<store_id>.json` under `dir`. A file that does not parse is
/// skipped: reading it for a refresh would fail the same way, and it says nothing secret.
fn embedded_states(dir: &std::path::Path) -> Result<Vec<TokenState>, AdapterError> {
    let entries = std::fs::read_dir(dir).map_err(|_| AdapterError::Unavailable {
        service: crate::Service::EmbeddedKeyStore,
        detail: "could not list the stores directory".into(),
    })?;
    let mut states = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(store_id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
        else {
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(file) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
            continue;
        };
        let salla = file.get("salla").filter(|s| s.is_object());
        states.push(TokenState {
            store_id: store_id.to_string(),
            expires_at: salla.and_then(|s| s.get("expires_at")?.as_i64()),
            refresh_blocked_at: salla.and_then(|s| s.get("refresh_blocked_at")?.as_i64()),
        });
    }
    Ok(states)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;
    const DAY: i64 = 24 * 3600;

    fn state(id: &str, expires_at: Option<i64>, blocked: Option<i64>) -> TokenState {
        TokenState {
            store_id: id.into(),
            expires_at,
            refresh_blocked_at: blocked,
        }
    }

    #[test]
    fn due_within_three_days_of_expiry() {
        assert_eq!(due(&state("1", Some(NOW + DAY), None), NOW), Ok(()));
        assert_eq!(due(&state("1", Some(NOW + 3 * DAY), None), NOW), Ok(()));
        assert_eq!(
            due(&state("1", Some(NOW + 3 * DAY + 1), None), NOW),
            Err(Skip::NotDue)
        );
        assert_eq!(
            due(&state("1", Some(NOW + 10 * DAY), None), NOW),
            Err(Skip::NotDue)
        );
        // Already expired: the refresh token may still be good, so try.
        assert_eq!(due(&state("1", Some(NOW - DAY), None), NOW), Ok(()));
        assert_eq!(due(&state("1", Some(i64::MIN), None), NOW), Ok(()));
        assert_eq!(
            due(&state("1", Some(i64::MAX), None), i64::MIN),
            Err(Skip::NotDue)
        );
    }

    #[test]
    fn blocked_and_tokenless_stores_are_skipped() {
        assert_eq!(
            due(&state("1", Some(NOW + DAY), Some(NOW - 5)), NOW),
            Err(Skip::Blocked)
        );
        assert_eq!(due(&state("1", None, None), NOW), Err(Skip::NoTokens));
        assert_eq!(due(&state("1", None, Some(NOW)), NOW), Err(Skip::NoTokens));
    }

    #[test]
    fn only_decimal_store_ids() {
        for bad in [
            "", "abc", "12a", "-1", "1 ", " 1", "١٢", "1.5", "../1", "0x1f",
        ] {
            assert_eq!(
                due(&state(bad, Some(NOW), None), NOW),
                Err(Skip::BadStoreId),
                "{bad:?}"
            );
        }
        let long = "1".repeat(MAX_STORE_ID_LEN + 1);
        assert_eq!(
            due(&state(&long, Some(NOW), None), NOW),
            Err(Skip::BadStoreId)
        );
        assert!(is_salla_store_id(&"1".repeat(MAX_STORE_ID_LEN)));
        assert!(is_salla_store_id("1803665367"));
    }

    #[test]
    fn soonest_expiry_first() {
        let states = vec![
            state("3", Some(NOW + 2 * DAY), None),
            state("1", Some(NOW + 10 * DAY), None),
            state("2", Some(NOW + DAY), None),
            state("4", Some(NOW + DAY), Some(NOW)),
            state("x5", Some(NOW), None),
            state("6", None, None),
            state("0", Some(NOW + DAY), None),
        ];
        let ids: Vec<&str> = select_due(&states, NOW)
            .iter()
            .map(|s| s.store_id.as_str())
            .collect();
        assert_eq!(ids, ["0", "2", "3"]);
    }

    #[test]
    fn pages_follow_on() {
        let states: Vec<TokenState> = ["5", "1", "3", "2", "4"]
            .iter()
            .map(|id| state(id, None, None))
            .collect();
        let first = page_of(states.clone(), None, 2);
        assert_eq!(first.stores.len(), 2);
        assert_eq!(first.next.as_deref(), Some("2"));
        let second = page_of(states.clone(), first.next.as_deref(), 2);
        assert_eq!(
            second
                .stores
                .iter()
                .map(|s| s.store_id.as_str())
                .collect::<Vec<_>>(),
            ["3", "4"]
        );
        let last = page_of(states.clone(), second.next.as_deref(), 2);
        assert_eq!(last.stores.len(), 1);
        assert_eq!(last.next, None);
        // Exactly a page's worth: no empty page after it.
        assert_eq!(page_of(states, None, 5).next, None);
    }
}
