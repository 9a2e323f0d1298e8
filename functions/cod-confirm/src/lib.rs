//! Cash-on-delivery confirmation: the page a shopper reaches from the signed link in a
//! Klaviyo message. A GET shows the order and one button; only the button's POST (carrying
//! the same token) moves the order in Salla, because mail clients and link scanners open
//! every link in a message. Nothing is stored: the link says everything (see
//! [`adapters::cod::link`]). Routes on the last path segment or `?t=`, so the same handler
//! serves the Lambda function URL (`/{token}`) and the dev server (`/cod/{token}`).

mod decide;
pub mod deps;
mod event;
mod handler;
mod view;

pub use decide::{AWAITING, CANCELLED_STATUS, CONFIRMED_STATUS};
pub use deps::Deps;
pub use event::{COD_CANCELLED, COD_CONFIRMED};
pub use handler::handle;
