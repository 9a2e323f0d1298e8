//! OAuth callback (Salla Custom Mode and "manage connection"): Salla redirects the merchant
//! here with `?code=…&state=…`. We exchange the code, ask Salla which store it is for, store
//! the store's tokens encrypted, and redirect to the key onboarding page with a short-lived
//! handoff token bound to that store. Every failure is a plain bilingual page, never a trace.

mod connect;
pub mod deps;
pub mod error;
mod handler;
pub mod outcome;
mod page;

pub use deps::{Authorizer, Deps};
pub use error::CallbackError;
pub use handler::handle;
