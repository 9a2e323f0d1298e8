//! The cold start every Lambda function shares: read the configuration (each function names
//! the settings it requires), build the key store and the function's dependencies once, stop
//! with one line naming the problem if any of that fails, then serve invocations.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;

use lambda_http::{Body, Request, Response, service_fn};

use crate::AdapterError;
use crate::config::{Config, Profile};
use crate::keystore::KeyStore;

/// A function's dependencies (`Deps`): how they are built and how they answer a request.
pub trait Function: Sized + Sync {
    /// The binary's name, prefixed to the start-up error line.
    const NAME: &'static str;
    /// The settings this function cannot start without.
    const REQUIRED: &'static [&'static str];

    /// Builds the clients once per cold start around the already-built key store.
    fn from_config(config: &Config, keys: Arc<dyn KeyStore>) -> Result<Self, AdapterError>;

    /// Answers one request. Never fails: every error is already an HTTP answer.
    fn handle(&self, req: Request) -> impl Future<Output = Response<Body>> + Send;
}

/// Configuration, key store and dependencies from the process environment.
pub async fn build<F: Function>() -> Result<F, AdapterError> {
    let (config, _) = Config::from_env(Profile::Lambda {
        required: F::REQUIRED,
    })?;
    if config.webhook_strategy == crate::salla::signature::Strategy::Token {
        tracing::warn!(
            function = F::NAME,
            "webhook token strategy allowed by SALLA_ALLOW_TOKEN_STRATEGY: the webhook secret \
             travels in every request header; prefer the signature strategy"
        );
    }
    if let Some(previous) = &config.webhook_previous_secret {
        tracing::warn!(
            function = F::NAME,
            rotation_ends_at = previous.until,
            "webhook secret rotation: the previous secret verifies until rotation_ends_at"
        );
    }
    let keys = crate::keystore::build(&config).await?;
    F::from_config(&config, keys)
}

/// The whole `main` of a function: logging, [`build`] (exiting with one line on failure),
/// then the Lambda runtime loop.
pub async fn run<F: Function>() -> Result<(), lambda_http::Error> {
    crate::logging::init();
    let deps = build::<F>().await.unwrap_or_else(|e| {
        eprintln!("{}: {e}", F::NAME);
        std::process::exit(1)
    });
    let deps = &deps;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Infallible>(deps.handle(req).await)
    }))
    .await
}
