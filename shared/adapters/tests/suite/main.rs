//! The key store's integration tests, one binary (each binary links the AWS SDK again).

mod keystore_support;

mod health_moto;
mod history_moto;
mod keystore_cache;
mod keystore_embedded;
mod keystore_moto;
mod once_moto;
mod scan_moto;
