//! An in-process [`HistoryQueue`]: the dev server's worker waits on it, and tests read what
//! the worker enqueued. Tasks are held as their message bodies, so what passes through it is
//! exactly what SQS would carry.

use std::collections::VecDeque;
use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::{HistoryQueue, Task};
use crate::AdapterError;

#[derive(Debug, Default)]
pub struct MemoryHistoryQueue {
    bodies: Mutex<VecDeque<String>>,
    ready: Notify,
}

impl MemoryHistoryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<String>> {
        // Every change is one push or pop, so a poisoned lock holds a whole queue.
        self.bodies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The oldest message body, if any.
    pub fn try_pop(&self) -> Option<String> {
        self.lock().pop_front()
    }

    /// The oldest message body, waiting for one.
    pub async fn pop(&self) -> String {
        loop {
            let notified = self.ready.notified();
            if let Some(body) = self.try_pop() {
                return body;
            }
            notified.await;
        }
    }

    /// Every body held, oldest first, without removing them.
    pub fn bodies(&self) -> Vec<String> {
        self.lock().iter().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[async_trait]
impl HistoryQueue for MemoryHistoryQueue {
    async fn enqueue(&self, task: &Task) -> Result<(), AdapterError> {
        self.lock().push_back(task.to_body());
        self.ready.notify_one();
        Ok(())
    }
}
