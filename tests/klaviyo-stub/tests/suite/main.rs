//! The stub's tests as one test binary, one module per concern.

mod common;

mod auth;
mod bin;
mod faults;
mod ratelimits;
mod routes;
mod segments;
mod throughput;
