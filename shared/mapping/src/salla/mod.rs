//! The input side: reading one Salla webhook delivery.
//!
//! - [`envelope`]: the delivery (`event`, `merchant`, `created_at`, `data`)
//! - [`json`]: the parsed body and the nesting limit
//! - [`lenient`]: readers for Salla's loosely typed values (ids, numbers, money, flags)
//! - [`date`]: Salla's date shapes → RFC 3339
//! - [`phone`]: phone numbers → E.164
//! - [`country`]: country codes and Arabic names → English names and time zones
//! - [`urls`]: which links are sent on
//! - [`items`]: order and cart lines
//! - [`profile`]: the shopper of a customer object or a shipping contact
//! - [`enrichment`]: product details the intake fetches when a payload lacks them
//! - [`cod_settings`]: the merchant's cash-on-delivery confirmation settings
//!
//! Nothing here decides what a delivery means; the rules do, from these readings.

pub(crate) mod cod_settings;
pub(crate) mod country;
pub(crate) mod date;
pub(crate) mod enrichment;
pub(crate) mod envelope;
pub(crate) mod items;
pub(crate) mod json;
pub(crate) mod lenient;
pub(crate) mod phone;
pub(crate) mod profile;
pub(crate) mod urls;
