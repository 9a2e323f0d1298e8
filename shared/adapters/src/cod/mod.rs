//! Cash-on-delivery confirmation: the signed links a shopper follows from a Klaviyo message
//! to confirm or cancel an order, with nothing stored on our side.

pub mod link;
