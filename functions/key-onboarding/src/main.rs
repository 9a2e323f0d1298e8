//! Lambda entry point: configuration, clients (once per cold start), run.

use std::convert::Infallible;

use adapters::config::{Config, Profile};
use lambda_http::{Error, run, service_fn};

const REQUIRED: &[&str] = &["SESSION_SECRET"];

#[tokio::main]
async fn main() -> Result<(), Error> {
    adapters::logging::init();
    let deps = match Config::from_env(Profile::Lambda { required: REQUIRED }) {
        Ok((config, _)) => match adapters::keystore::build(&config).await {
            Ok(keys) => key_onboarding::Deps::from_config(&config, keys),
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    }
    .unwrap_or_else(|e| {
        eprintln!("key-onboarding: {e}");
        std::process::exit(1)
    });
    let deps = &deps;
    run(service_fn(move |req| async move {
        Ok::<_, Infallible>(key_onboarding::handle(deps, req).await)
    }))
    .await
}
