//! Structured JSON logs for every process. Fields only: event name, store id, outcome, status
//! codes, latency — never a payload, an email, a phone, a name, a token or a key.

use tracing::Level;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{FilterExt, filter_fn};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The most verbose level let through for crates whose own lines can carry shopper data,
/// whatever `RUST_LOG` says (`None`: nothing at all). A ceiling applied after the user's
/// filter, not a directive inside it: a `RUST_LOG` naming a sub-module or a span
/// (`[Lambda runtime invoke]=trace`) would outrank a directive.
/// - rlibphonenumber writes the number it is parsing into its `trace!` lines (the
///   subscriber also forwards the `log` crate's records);
/// - lambda_runtime and its API client trace every raw invocation, body included, at
///   `debug`/`trace`.
const CEILINGS: &[(&str, Option<Level>)] = &[
    ("rlibphonenumber", None),
    ("lambda_runtime", Some(Level::INFO)),
    ("lambda_runtime_api_client", Some(Level::INFO)),
];

/// Installs the JSON subscriber once; `RUST_LOG` filters (default `info`). Safe to call twice.
pub fn init() {
    let spec = std::env::var("RUST_LOG").ok();
    // Also forwards the `log` crate's records (tracing-subscriber's `tracing-log` feature).
    let _ = subscriber(spec.as_deref(), std::io::stdout).try_init();
}

/// The subscriber [`init`] installs, writing to `writer`.
fn subscriber<W>(spec: Option<&str>, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let ceiling = filter_fn(|meta| within_ceiling(meta.target(), meta.level()));
    tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .with_target(false)
            .with_writer(writer)
            .with_filter(env_filter(spec).and(ceiling)),
    )
}

/// `spec` (a `RUST_LOG` value; `info` when absent or invalid).
fn env_filter(spec: Option<&str>) -> EnvFilter {
    spec.and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"))
}

fn within_ceiling(target: &str, level: &Level) -> bool {
    let crate_name = target.split("::").next().unwrap_or(target);
    match CEILINGS.iter().find(|(name, _)| *name == crate_name) {
        Some((_, Some(ceiling))) => level <= ceiling,
        Some((_, None)) => false,
        None => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn logged(spec: Option<&str>, emit: impl FnOnce()) -> String {
        let capture = Capture::default();
        let writer = capture.clone();
        tracing::subscriber::with_default(subscriber(spec, move || writer.clone()), emit);
        String::from_utf8(capture.0.lock().unwrap().clone()).unwrap()
    }

    /// lambda_runtime traces every raw invocation (the whole request, body included) at
    /// `trace`/`debug`; no `RUST_LOG` lets those lines through, however it names the crate
    /// or its spans. Its `info` and above, and our own lines, still get in.
    #[test]
    fn lambda_runtime_raw_event_lines_are_dropped_at_any_filter() {
        for spec in [
            None,
            Some("trace"),
            Some("info,lambda_runtime=trace"),
            Some("info,lambda_runtime=trace,lambda_runtime_api_client=trace"),
            Some(
                "info,lambda_runtime::layers::api_response=trace,lambda_runtime_api_client::body=debug",
            ),
            Some("[Lambda runtime invoke]=trace"),
            Some("[{requestId}]=trace"),
        ] {
            let out = logged(spec, || {
                let span = tracing::info_span!("Lambda runtime invoke", requestId = "r-1");
                let _entered = span.enter();
                tracing::trace!(target: "lambda_runtime::layers::api_response", body = "raw-event-shopper@example.com", "raw event");
                tracing::debug!(target: "lambda_runtime", body = "raw-event-shopper@example.com", "raw event");
                tracing::trace!(target: "lambda_runtime_api_client::body", body = "raw-event-shopper@example.com", "raw body");
                tracing::error!(target: "lambda_runtime", "runtime-error-line");
                tracing::info!(target: "webhook_intake", outcome = "relayed", "webhook");
            });
            assert!(!out.contains("shopper@example.com"), "{spec:?}: {out}");
            assert!(out.contains("runtime-error-line"), "{spec:?}: {out}");
            assert!(out.contains("relayed"), "{spec:?}: {out}");
        }
    }

    /// Even at `RUST_LOG=trace` the phone library's lines stay out, and ours still get in.
    #[test]
    fn phone_library_is_silenced_at_any_level() {
        for spec in [
            None,
            Some("trace"),
            Some("info,rlibphonenumber=trace"),
            Some("webhook=notalevel"),
            Some("info,[{number}]=trace"),
        ] {
            let out = logged(spec, || {
                tracing::warn!(target: "rlibphonenumber::phonenumberutil", "number +966501806978");
                tracing::info!(target: "webhook_intake", outcome = "relayed", "webhook");
            });
            assert!(!out.contains("966501806978"), "{spec:?}: {out}");
            assert!(out.contains("relayed"), "{spec:?}: {out}");
        }
    }
}
