//! Day records in process memory, for tests.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::{DayStats, HealthStore};
use crate::AdapterError;

#[derive(Debug, Default)]
pub struct MemoryHealth {
    days: Mutex<HashMap<(String, i64), DayStats>>,
}

impl MemoryHealth {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl HealthStore for MemoryHealth {
    async fn add(&self, store_id: &str, day: i64, stats: &DayStats) -> Result<(), AdapterError> {
        if let Ok(mut days) = self.days.lock() {
            days.entry((store_id.to_owned(), day))
                .or_default()
                .merge(stats);
        }
        Ok(())
    }

    async fn day(&self, store_id: &str, day: i64) -> Result<DayStats, AdapterError> {
        Ok(self
            .days
            .lock()
            .ok()
            .and_then(|days| days.get(&(store_id.to_owned(), day)).cloned())
            .unwrap_or_default())
    }
}
