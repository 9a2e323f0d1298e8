//! The one table from Salla event name to mapping rule, and `plan`.
//!
//! Every event the product knows is listed, including the ones it deliberately ignores (with
//! the reason), so the decision for each Salla event is visible in one place. Anything not in
//! the table is ignored as unknown; nothing is guessed.

use crate::app::SallaAuthorization;
use crate::klaviyo::KlaviyoRequest;
use crate::{
    Enrichment, Envelope, MappingError, app, cart, catalog, customer, date, order, shipment,
};

/// What the intake should do with one delivery.
#[derive(Clone, PartialEq)]
pub enum Action {
    /// `app.store.authorize`: store the Salla tokens.
    Authorize(SallaAuthorization),
    /// `app.settings.updated`: `data.settings.klaviyo_private_key`, trimmed; empty → `None`.
    SettingsUpdated { klaviyo_private_key: Option<String> },
    /// `app.uninstalled`: delete everything stored for the store.
    Uninstalled,
    /// Store events: send these requests to Klaviyo, in order.
    Send(Vec<KlaviyoRequest>),
    /// Known-but-unused and unknown events.
    Ignore { reason: &'static str },
}

/// Never prints the Klaviyo key, tokens or shopper data: requests show as their labels.
impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Authorize(auth) => f.debug_tuple("Authorize").field(auth).finish(),
            Action::SettingsUpdated {
                klaviyo_private_key,
            } => f
                .debug_struct("SettingsUpdated")
                .field(
                    "klaviyo_private_key",
                    &klaviyo_private_key.as_ref().map(|_| "<redacted>"),
                )
                .finish(),
            Action::Uninstalled => f.write_str("Uninstalled"),
            Action::Send(requests) => {
                let labels: Vec<String> = requests.iter().map(KlaviyoRequest::label).collect();
                f.debug_tuple("Send").field(&labels).finish()
            }
            Action::Ignore { reason } => f.debug_struct("Ignore").field("reason", reason).finish(),
        }
    }
}

/// What a rule sees: the delivery and whatever product details the intake fetched.
pub(crate) struct Ctx<'a> {
    pub env: &'a Envelope,
    pub enrichment: &'a Enrichment,
}

impl Ctx<'_> {
    pub fn store(&self) -> &str {
        &self.env.store_id
    }

    /// The delivery's own timestamp (`created_at`), as RFC 3339.
    pub fn event_time(&self) -> Option<String> {
        self.env.created_at.as_deref().and_then(date::timestamp_str)
    }
}

type Rule = fn(&Ctx) -> Result<Action, MappingError>;

macro_rules! ignore {
    ($reason:literal) => {{
        fn rule(_: &Ctx) -> Result<Action, MappingError> {
            Ok(Action::Ignore { reason: $reason })
        }
        rule as Rule
    }};
}

/// Sorted by event name (checked by a test) for binary search.
pub const RULES: &[(&str, Rule)] = &[
    ("abandoned.cart", cart::abandoned),
    (
        "abandoned.cart.purchased",
        ignore!("the Placed Order from order.created already ends abandoned-cart flows"),
    ),
    (
        "abandoned.cart.status.changed",
        ignore!("the Placed Order from order.created already ends abandoned-cart flows"),
    ),
    ("app.feedback.created", ignore!("app lifecycle event")),
    (
        "app.installed",
        ignore!("app lifecycle event; tokens arrive with app.store.authorize"),
    ),
    ("app.settings.updated", app::settings_updated),
    ("app.store.authorize", app::authorize),
    ("app.subscription.canceled", ignore!("app billing event")),
    ("app.subscription.expired", ignore!("app billing event")),
    ("app.subscription.renewed", ignore!("app billing event")),
    ("app.subscription.started", ignore!("app billing event")),
    ("app.trial.canceled", ignore!("app billing event")),
    ("app.trial.expired", ignore!("app billing event")),
    ("app.trial.started", ignore!("app billing event")),
    ("app.uninstalled", app::uninstalled),
    (
        "app.updated",
        ignore!("app lifecycle event; fresh tokens follow as app.store.authorize"),
    ),
    ("brand.created", ignore!("store configuration event")),
    ("brand.deleted", ignore!("store configuration event")),
    ("brand.updated", ignore!("store configuration event")),
    ("category.created", ignore!("store configuration event")),
    ("category.updated", ignore!("store configuration event")),
    ("coupon.applied", cart::coupon_applied),
    ("customer.created", customer::created),
    ("customer.login", customer::login),
    (
        "customer.otp.request",
        ignore!("one-time passwords are never relayed"),
    ),
    ("customer.updated", customer::updated),
    (
        "invoice.created",
        ignore!("invoices duplicate order events (fired on completed/restored)"),
    ),
    ("order.cancelled", order::cancelled),
    ("order.coupon.updated", order::coupon_updated),
    ("order.created", order::created),
    (
        "order.deleted",
        ignore!("Klaviyo events cannot be retracted; cancellations arrive as order.cancelled"),
    ),
    (
        "order.payment.updated",
        ignore!("payment progress arrives as order.status.updated"),
    ),
    (
        "order.products.updated",
        ignore!("Placed Order is immutable in Klaviyo; edits are not re-sent"),
    ),
    ("order.refunded", order::refunded),
    ("order.shipment.cancelled", shipment::cancelled),
    ("order.shipment.created", shipment::created),
    (
        "order.shipment.creating",
        ignore!("shipping-app hook; order.shipment.created follows"),
    ),
    (
        "order.shipment.return.cancelled",
        shipment::return_cancelled,
    ),
    ("order.shipment.return.created", shipment::return_created),
    (
        "order.shipment.return.creating",
        ignore!("shipping-app hook; order.shipment.return.created follows"),
    ),
    (
        "order.shipping.address.updated",
        ignore!("a shipping address belongs to the order, not the shopper's profile"),
    ),
    ("order.status.updated", order::status_updated),
    (
        "order.total.price.updated",
        ignore!("Placed Order is immutable in Klaviyo; edits are not re-sent"),
    ),
    (
        "order.updated",
        ignore!("status changes arrive as order.status.updated"),
    ),
    ("product.available", catalog::upsert),
    ("product.brand.updated", catalog::upsert),
    ("product.category.updated", catalog::upsert),
    ("product.channels.changed", catalog::upsert),
    ("product.created", catalog::upsert),
    ("product.deleted", catalog::delete),
    ("product.image.updated", catalog::upsert),
    ("product.price.updated", catalog::upsert),
    ("product.quantity.low", catalog::upsert),
    ("product.status.updated", catalog::upsert),
    ("product.tags.updated", catalog::upsert),
    ("product.updated", catalog::upsert),
    ("review.added", customer::review),
    ("shipment.cancelled", shipment::cancelled),
    ("shipment.created", shipment::created),
    (
        "shipment.creating",
        ignore!("shipping-app hook; shipment.created follows"),
    ),
    ("shipment.updated", shipment::updated),
    (
        "shipping.company.created",
        ignore!("store configuration event"),
    ),
    (
        "shipping.company.deleted",
        ignore!("store configuration event"),
    ),
    (
        "shipping.company.updated",
        ignore!("store configuration event"),
    ),
    (
        "shipping.zone.created",
        ignore!("store configuration event"),
    ),
    (
        "shipping.zone.updated",
        ignore!("store configuration event"),
    ),
    ("specialoffer.created", ignore!("store configuration event")),
    ("specialoffer.updated", ignore!("store configuration event")),
    (
        "store.branch.activated",
        ignore!("store configuration event"),
    ),
    ("store.branch.created", ignore!("store configuration event")),
    ("store.branch.deleted", ignore!("store configuration event")),
    (
        "store.branch.setDefault",
        ignore!("store configuration event"),
    ),
    ("store.branch.updated", ignore!("store configuration event")),
    ("storetax.created", ignore!("store configuration event")),
];

/// Every event name the rules table knows (mapped or deliberately ignored), sorted.
pub fn known_events() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|(name, _)| *name)
}

/// Maps one parsed delivery to what the intake should do. Pure: no I/O, no clock.
pub fn plan(env: &Envelope, enrichment: &Enrichment) -> Result<Action, MappingError> {
    let ctx = Ctx { env, enrichment };
    match RULES.binary_search_by(|(name, _)| (*name).cmp(env.event.as_str())) {
        Ok(i) => (RULES[i].1)(&ctx),
        Err(_) if env.event.starts_with("app.") => Ok(Action::Ignore {
            reason: "app event we do not use",
        }),
        Err(_) => Ok(Action::Ignore {
            reason: "unknown event",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in RULES.windows(2) {
            assert!(
                pair[0].0 < pair[1].0,
                "{} must sort before {}",
                pair[0].0,
                pair[1].0
            );
        }
    }
}
