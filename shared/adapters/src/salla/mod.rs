//! Salla: webhook authenticity, OAuth (code exchange, refresh, user info), the single-use
//! refresh token's safe spending, the Merchant API, and sign-in from Salla's dashboard.

pub mod api;
pub mod embedded;
pub mod merchant;
pub mod oauth;
pub mod order_status;
pub mod refresh;
pub mod signature;
