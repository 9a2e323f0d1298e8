//! The mapping crate's integration tests, one binary (each binary links the crate again).

mod common;

mod behaviour;
mod bulk;
mod debug_redacted;
mod fidelity;
mod golden;
mod history;
mod never_panics;
mod spec_strict;
