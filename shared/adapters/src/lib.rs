//! Adapters the three functions share. Everything that talks to the outside world lives
//! here, behind small traits, so handlers stay thin and the mapping crate stays pure.

pub mod clock;
pub mod cod;
pub mod config;
pub mod crm;
pub mod deadline;
pub mod error;
pub mod health;
pub mod history;
pub mod http;
pub mod keystore;
pub mod klaviyo;
pub mod logging;
pub mod once;
pub mod points;
pub mod salla;
pub mod secret;
pub mod session;
pub mod startup;
pub mod web;

pub use error::{AdapterError, Service};
pub use secret::Secret;
