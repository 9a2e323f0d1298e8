//! The spec checker's tests as one test binary.

mod strict;
mod walker;
