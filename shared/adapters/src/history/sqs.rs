//! The history queue on SQS: one `SendMessage` per task, the body being [`Task::to_body`].
//! Errors carry SDK error codes only, never a message.

use async_trait::async_trait;
use aws_sdk_sqs::error::ProvideErrorMetadata;

use super::{HistoryQueue, Task};
use crate::{AdapterError, Service};

#[derive(Debug, Clone)]
pub struct SqsHistoryQueue {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl SqsHistoryQueue {
    pub fn new(client: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> Self {
        Self {
            client,
            queue_url: queue_url.into(),
        }
    }

    /// A queue over a client from the standard AWS chain (`AWS_ENDPOINT_URL` points at moto
    /// locally).
    pub async fn from_env(queue_url: impl Into<String>) -> Self {
        let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Self::new(aws_sdk_sqs::Client::new(&aws), queue_url)
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

#[async_trait]
impl HistoryQueue for SqsHistoryQueue {
    async fn enqueue(&self, task: &Task) -> Result<(), AdapterError> {
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(task.to_body())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| {
                let code = e.code().unwrap_or("request failed");
                let code: String = code
                    .chars()
                    .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
                    .take(64)
                    .collect();
                AdapterError::Unavailable {
                    service: Service::Sqs,
                    detail: format!("SendMessage failed ({code})"),
                }
            })
    }
}

/// An [`SqsHistoryQueue`] whose client is built on the first send and kept for the process:
/// for the functions whose dependencies are built without an async step, and which enqueue
/// only when a store connects or a repair is due.
#[derive(Debug)]
pub struct LazySqsHistoryQueue {
    queue_url: String,
    queue: tokio::sync::OnceCell<SqsHistoryQueue>,
}

impl LazySqsHistoryQueue {
    pub fn new(queue_url: impl Into<String>) -> Self {
        Self {
            queue_url: queue_url.into(),
            queue: tokio::sync::OnceCell::new(),
        }
    }
}

#[async_trait]
impl HistoryQueue for LazySqsHistoryQueue {
    async fn enqueue(&self, task: &Task) -> Result<(), AdapterError> {
        let queue = self
            .queue
            .get_or_init(|| SqsHistoryQueue::from_env(self.queue_url.clone()))
            .await;
        queue.enqueue(task).await
    }
}
