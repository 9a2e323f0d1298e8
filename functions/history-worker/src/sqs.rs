//! The Lambda's SQS event: each record's body is one task; a record that a later delivery
//! may fix is reported as a batch item failure (ReportBatchItemFailures), so SQS delivers it
//! again after its visibility timeout and, after five receives, moves it to the dead-letter
//! queue. Every other record is deleted.

use adapters::deadline::Deadline;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::{Deps, engine};

pub async fn handle_event(deps: &Deps, event: SqsEvent, deadline: Deadline) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    for record in event.records {
        let id = record.message_id.clone().unwrap_or_default();
        let body = record.body.as_deref().unwrap_or("");
        if engine::handle(deps, body, deadline).await.is_err() {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            response.batch_item_failures.push(failure);
        }
    }
    response
}
