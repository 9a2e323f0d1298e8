//! Shared helpers for the end-to-end tests.

pub mod harness;
pub mod salla_stub;
