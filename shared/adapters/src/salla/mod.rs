//! Salla: webhook authenticity, OAuth (code exchange, refresh, user info), the single-use
//! refresh token's safe spending, and the Merchant API.

pub mod api;
pub mod merchant;
pub mod oauth;
pub mod refresh;
pub mod signature;
