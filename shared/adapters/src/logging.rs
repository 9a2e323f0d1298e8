//! Structured JSON logs for every process. Fields only: event name, store id, outcome, status
//! codes, latency — never a payload, an email, a phone, a name, a token or a key.

/// Installs the JSON subscriber once; `RUST_LOG` filters (default `info`). Safe to call twice.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
