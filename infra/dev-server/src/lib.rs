//! The local dev server: the same handlers as on Lambda, served by hyper on 127.0.0.1.
//!
//! Only the wiring differs from AWS: requests are converted to the `lambda_http::Request` a
//! function URL would deliver (body bytes, headers, query parameters), and the embedded key
//! store stands in for DynamoDB + KMS unless `KEY_STORE=dynamodb`.

pub mod convert;
pub mod history;
pub mod routes;

pub use routes::{App, serve};
