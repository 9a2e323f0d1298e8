//! What happened to one delivery that succeeded.

/// What happened to one delivery, for the response body and the log line.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Store event relayed: how many Klaviyo requests went out, and how long the intake
    /// waited on Klaviyo for them (they go out together), for the added-latency figure.
    Sent { requests: usize, klaviyo_ms: f64 },
    /// No Klaviyo key connected for this store yet: nothing to relay to.
    NoKlaviyoKey,
    /// Event we deliberately do not use.
    Ignored { reason: &'static str },
    /// App lifecycle change applied to what we hold for the store.
    Lifecycle { change: &'static str },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Sent { .. } => "sent",
            Outcome::NoKlaviyoKey => "no_klaviyo_key",
            Outcome::Ignored { .. } => "ignored",
            Outcome::Lifecycle { change } => change,
        }
    }
}
