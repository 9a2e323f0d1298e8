//! Salla: webhook authenticity, OAuth (code exchange, refresh, user info) and the Merchant API.

pub mod api;
pub mod oauth;
pub mod signature;
