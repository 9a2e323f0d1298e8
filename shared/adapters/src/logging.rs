//! Structured JSON logs for every process. Fields only: event name, store id, outcome, status
//! codes, latency — never a payload, an email, a phone, a name, a token or a key.

use tracing_subscriber::EnvFilter;

/// Crates whose own log lines carry shopper data, silenced whatever `RUST_LOG` says:
/// rlibphonenumber writes the number it is parsing into its `trace!` lines, and the
/// subscriber forwards the `log` crate's records.
const SILENCED: &[&str] = &["rlibphonenumber=off"];

/// Installs the JSON subscriber once; `RUST_LOG` filters (default `info`). Safe to call twice.
pub fn init() {
    let spec = std::env::var("RUST_LOG").ok();
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(env_filter(spec.as_deref()))
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

/// `spec` (a `RUST_LOG` value; `info` when absent or invalid) plus [`SILENCED`].
fn env_filter(spec: Option<&str>) -> EnvFilter {
    let mut filter = spec
        .and_then(|s| EnvFilter::try_new(s).ok())
        .unwrap_or_else(|| EnvFilter::new("info"));
    for directive in SILENCED {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
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

    /// Even at `RUST_LOG=trace` the phone library's lines stay out, and ours still get in.
    #[test]
    fn phone_library_is_silenced_at_any_level() {
        for spec in [
            None,
            Some("trace"),
            Some("info,rlibphonenumber=trace"),
            Some("webhook=notalevel"),
        ] {
            let capture = Capture::default();
            let writer = capture.clone();
            let subscriber = tracing_subscriber::fmt()
                .json()
                .with_env_filter(env_filter(spec))
                .with_writer(move || writer.clone())
                .finish();
            tracing::subscriber::with_default(subscriber, || {
                tracing::warn!(target: "rlibphonenumber::phonenumberutil", "number +966501806978");
                tracing::info!(target: "webhook_intake", outcome = "relayed", "webhook");
            });
            let out = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
            assert!(!out.contains("966501806978"), "{spec:?}: {out}");
            assert!(out.contains("relayed"), "{spec:?}: {out}");
        }
    }
}
