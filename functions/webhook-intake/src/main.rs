//! Lambda entry point: configuration, clients (once per cold start), run.

use std::convert::Infallible;

use adapters::config::{Config, Profile};
use lambda_http::{Error, run, service_fn};

// Each webhook builds and drops a few hundred small strings and maps (the parsed body, the
// Klaviyo requests); mimalloc's thread-local free lists make that ~10% faster end to end
// than glibc malloc (measured on the mapping benchmark, which uses the same allocator).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const REQUIRED: &[&str] = &[
    "SALLA_WEBHOOK_SECRET",
    "SALLA_CLIENT_ID",
    "SALLA_CLIENT_SECRET",
];

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::logging::init();
    let deps = match Config::from_env(Profile::Lambda { required: REQUIRED }) {
        Ok((config, _)) => webhook_intake::Deps::from_config(&config).await,
        Err(e) => Err(e),
    }
    .unwrap_or_else(|e| {
        eprintln!("webhook-intake: {e}");
        std::process::exit(1)
    });
    let deps = &deps;
    run(service_fn(move |req| async move {
        Ok::<_, Infallible>(webhook_intake::handle(deps, req).await)
    }))
    .await
}
