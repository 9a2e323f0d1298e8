//! Generated-input runs over the code that sees untrusted bytes first: envelope parsing,
//! signature checking and mapping. Each input goes through exactly what the intake does with a
//! body (verify, parse, plan, build every Klaviyo request) inside `catch_unwind`, and its
//! outcome is counted. A panic is the only failure: every other outcome maps to a 2xx or 4xx
//! at the intake's edge (see [`check::Outcome::intake_status`]).
//!
//! Inputs are reproducible: a run is a seed, and each worker's generator is seeded from it.

pub mod check;
pub mod corpus;
pub mod generate;
pub mod mutate;
pub mod run;

pub use check::{Outcome, check};
pub use corpus::Corpus;
pub use generate::{Generator, Input, Strategy};
pub use run::{Report, run};
