//! Lambda entry point: dependencies once per cold start, then one SQS batch per invocation.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::logging::init();
    let deps = history_worker::Deps::from_env().await.unwrap_or_else(|e| {
        eprintln!("history-worker: {e}");
        std::process::exit(1)
    });
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let deadline = adapters::deadline::Deadline::from_lambda(
            event.context.deadline,
            history_worker::DEADLINE_MARGIN,
            history_worker::BUDGET,
        );
        let response = history_worker::sqs::handle_event(deps, event.payload, deadline).await;
        Ok::<_, Error>(response)
    }))
    .await
}
