//! Spent marks in a process-local map, for tests and the handler tests of the functions.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{CLOCK_MARGIN_SECS, Claim, SpentMarks, check_id};
use crate::{AdapterError, Service};

#[derive(Debug, Default)]
pub struct MemorySpentMarks {
    /// id → the unix second after which the mark may go.
    marks: Mutex<HashMap<String, i64>>,
}

impl MemorySpentMarks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Marks held (expired ones go at the next claim).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        // Every change is one insert or retain: a poisoned map is still whole.
        self.marks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SpentMarks for MemorySpentMarks {
    async fn claim(&self, id: &str, expires_at: i64) -> Result<Claim, AdapterError> {
        check_id(id, Service::EmbeddedKeyStore)?;
        let now = crate::clock::now_unix();
        let mut marks = self.lock();
        marks.retain(|_, keep_until| *keep_until >= now);
        if marks.contains_key(id) {
            return Ok(Claim::Spent);
        }
        marks.insert(id.to_string(), expires_at.saturating_add(CLOCK_MARGIN_SECS));
        Ok(Claim::First)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_id_is_spent_once_and_expired_marks_go() {
        let marks = MemorySpentMarks::new();
        let now = crate::clock::now_unix();
        assert_eq!(marks.claim("a", now + 30).await.unwrap(), Claim::First);
        assert_eq!(marks.claim("a", now + 30).await.unwrap(), Claim::Spent);
        assert_eq!(marks.claim("b", now + 30).await.unwrap(), Claim::First);
        // A mark whose keep-until has passed is dropped at the next claim.
        marks
            .claim("old", now - CLOCK_MARGIN_SECS - 10)
            .await
            .unwrap();
        marks.claim("c", now + 30).await.unwrap();
        assert_eq!(marks.len(), 3);
        assert!(marks.claim("../x", now).await.is_err());
    }
}
