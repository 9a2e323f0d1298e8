//! Lambda entry point: configuration, clients, then one [`token_refresh::run`] per scheduled
//! invocation.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::logging::init();
    let deps = token_refresh::Deps::from_env().await.unwrap_or_else(|e| {
        eprintln!("token-refresh: {e}");
        std::process::exit(1)
    });
    let deps = &deps;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let deadline = token_refresh::invocation_deadline(event.context.deadline);
        let summary = token_refresh::run(deps, deadline).await?;
        Ok::<_, Error>(serde_json::to_value(summary)?)
    }))
    .await
}
