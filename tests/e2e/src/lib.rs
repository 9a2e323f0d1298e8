//! Shared helpers for the end-to-end tests.

pub mod salla_stub;
