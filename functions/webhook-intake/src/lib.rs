//! Webhook intake: the function Salla calls for every event.
//!
//! Order of work, and why: authenticate the raw bytes first (nothing is parsed for a caller
//! we have not verified), then parse and route. App lifecycle events change what we hold for
//! the store; store events are mapped (pure, `mapping` crate) and relayed to Klaviyo.
//! Nothing of the payload outlives the request: no queue, no file, no log line.

pub mod confirm;
pub mod deps;
pub mod enrich;
pub mod error;
pub mod gap;
pub mod handler;
pub mod lifecycle;
pub mod outcome;
pub mod points;
pub mod relay;

#[cfg(test)]
mod budget_tests;
#[cfg(test)]
mod relay_tests;

pub use deps::Deps;
pub use handler::handle;
pub use outcome::Outcome;
