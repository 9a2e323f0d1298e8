//! The history queue on moto's SQS: a task sent is a message whose body is the task, which
//! reads back as the same task.

use crate::keystore_support::*;

use adapters::history::sqs::SqsHistoryQueue;
use adapters::history::{HistoryQueue, Task};

#[tokio::test]
async fn sqs_queue_sends_the_task_as_the_message_body() {
    let Some(url) = moto_url() else { return };
    let conf = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .endpoint_url(&url)
        .load()
        .await;
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let queue_url = sqs
        .create_queue()
        .queue_name(unique("history"))
        .send()
        .await
        .expect("moto create_queue")
        .queue_url
        .expect("queue url");
    let queue = SqsHistoryQueue::new(sqs.clone(), queue_url.clone());
    queue.enqueue(&Task::import("1803665367")).await.unwrap();
    queue.enqueue(&Task::SweepAll).await.unwrap();

    let mut tasks = Vec::new();
    for _ in 0..5 {
        let out = sqs
            .receive_message()
            .queue_url(&queue_url)
            .max_number_of_messages(10)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            tasks.push(Task::parse(m.body().unwrap_or_default()).unwrap());
        }
        if tasks.len() >= 2 {
            break;
        }
    }
    tasks.sort_by_key(|t| t.store_id().is_none());
    assert_eq!(tasks, [Task::import("1803665367"), Task::SweepAll]);

    let missing = SqsHistoryQueue::new(sqs, format!("{url}/123456789012/no-such-queue"));
    let err = missing.enqueue(&Task::SweepAll).await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert!(err.to_string().starts_with("sqs unavailable"), "{err}");
}
