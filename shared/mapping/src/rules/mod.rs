//! The one table from Salla event name to mapping rule, and `plan`.
//!
//! Every event the product knows is listed, including the ones it deliberately ignores (with
//! the reason), so the decision for each Salla event is visible in one place. Anything not in
//! the table is ignored as unknown; nothing is guessed. Each event family's rules live in the
//! file beside this one named for it.

mod app;
mod cart;
mod catalog;
mod customer;
mod order;
mod shipment;
mod status;

pub use app::KLAVIYO_KEY_SETTING;
pub use customer::{EMAIL_OPT_IN_FLAGS, SMS_OPT_IN_FLAGS};
pub use status::{STATUS_METRICS, StatusKey};

use crate::MappingError;
use crate::plan::{Action, Ctx};
use crate::salla::enrichment::Enrichment;
use crate::salla::envelope::Envelope;

/// What the product does with one Salla event.
#[derive(Clone, Copy)]
pub enum Rule {
    /// Maps the delivery to an [`Action`].
    Map(fn(&Ctx) -> Result<Action, MappingError>),
    /// Known and deliberately not relayed, for this reason.
    Ignore(&'static str),
}

use Rule::{Ignore, Map};

const ORDER_ENDS_CART_FLOWS: &str =
    "the Placed Order from order.created already ends abandoned-cart flows";
const ORDER_EDITS: &str = "Placed Order is immutable in Klaviyo; edits are not re-sent";
const STORE_CONFIG: &str = "store configuration event";
const APP_LIFECYCLE: &str = "app lifecycle event";
const APP_BILLING: &str = "app billing event";

/// Sorted by event name (checked by a test) for binary search.
#[rustfmt::skip]
pub const RULES: &[(&str, Rule)] = &[
    ("abandoned.cart",                  Map(cart::abandoned)),
    ("abandoned.cart.purchased",        Ignore(ORDER_ENDS_CART_FLOWS)),
    ("abandoned.cart.status.changed",   Ignore(ORDER_ENDS_CART_FLOWS)),
    ("app.feedback.created",            Ignore(APP_LIFECYCLE)),
    ("app.installed",                   Ignore("app lifecycle event; tokens arrive with app.store.authorize")),
    ("app.settings.updated",            Map(app::settings_updated)),
    ("app.store.authorize",             Map(app::authorize)),
    ("app.subscription.canceled",       Ignore(APP_BILLING)),
    ("app.subscription.expired",        Ignore(APP_BILLING)),
    ("app.subscription.renewed",        Ignore(APP_BILLING)),
    ("app.subscription.started",        Ignore(APP_BILLING)),
    ("app.trial.canceled",              Ignore(APP_BILLING)),
    ("app.trial.expired",               Ignore(APP_BILLING)),
    ("app.trial.started",               Ignore(APP_BILLING)),
    ("app.uninstalled",                 Map(app::uninstalled)),
    ("app.updated",                     Ignore("app lifecycle event; fresh tokens follow as app.store.authorize")),
    ("brand.created",                   Ignore(STORE_CONFIG)),
    ("brand.deleted",                   Ignore(STORE_CONFIG)),
    ("brand.updated",                   Ignore(STORE_CONFIG)),
    ("category.created",                Ignore(STORE_CONFIG)),
    ("category.updated",                Ignore(STORE_CONFIG)),
    ("coupon.applied",                  Map(cart::coupon_applied)),
    ("customer.created",                Map(customer::created)),
    ("customer.login",                  Map(customer::login)),
    ("customer.otp.request",            Ignore("one-time passwords are never relayed")),
    ("customer.updated",                Map(customer::updated)),
    ("invoice.created",                 Ignore("invoices duplicate order events (fired on completed/restored)")),
    ("order.cancelled",                 Map(order::cancelled)),
    ("order.coupon.updated",            Map(order::coupon_updated)),
    ("order.created",                   Map(order::created)),
    ("order.deleted",                   Ignore("Klaviyo events cannot be retracted; cancellations arrive as order.cancelled")),
    ("order.payment.updated",           Ignore("payment progress arrives as order.status.updated")),
    ("order.products.updated",          Ignore(ORDER_EDITS)),
    ("order.refunded",                  Map(order::refunded)),
    ("order.shipment.cancelled",        Map(shipment::cancelled)),
    ("order.shipment.created",          Map(shipment::created)),
    ("order.shipment.creating",         Ignore("shipping-app hook; order.shipment.created follows")),
    ("order.shipment.return.cancelled", Map(shipment::return_cancelled)),
    ("order.shipment.return.created",   Map(shipment::return_created)),
    ("order.shipment.return.creating",  Ignore("shipping-app hook; order.shipment.return.created follows")),
    ("order.shipping.address.updated",  Ignore("a shipping address belongs to the order, not the shopper's profile")),
    ("order.status.updated",            Map(order::status_updated)),
    ("order.total.price.updated",       Ignore(ORDER_EDITS)),
    ("order.updated",                   Ignore("status changes arrive as order.status.updated")),
    ("product.available",               Map(catalog::upsert)),
    ("product.brand.updated",           Map(catalog::upsert)),
    ("product.category.updated",        Map(catalog::upsert)),
    ("product.channels.changed",        Map(catalog::upsert)),
    ("product.created",                 Map(catalog::upsert)),
    ("product.deleted",                 Map(catalog::delete)),
    ("product.image.updated",           Map(catalog::upsert)),
    ("product.price.updated",           Map(catalog::upsert)),
    ("product.quantity.low",            Map(catalog::upsert)),
    ("product.status.updated",          Map(catalog::upsert)),
    ("product.tags.updated",            Map(catalog::upsert)),
    ("product.updated",                 Map(catalog::upsert)),
    ("review.added",                    Map(customer::review)),
    ("shipment.cancelled",              Map(shipment::cancelled)),
    ("shipment.created",                Map(shipment::created)),
    ("shipment.creating",               Ignore("shipping-app hook; shipment.created follows")),
    ("shipment.updated",                Map(shipment::updated)),
    ("shipping.company.created",        Ignore(STORE_CONFIG)),
    ("shipping.company.deleted",        Ignore(STORE_CONFIG)),
    ("shipping.company.updated",        Ignore(STORE_CONFIG)),
    ("shipping.zone.created",           Ignore(STORE_CONFIG)),
    ("shipping.zone.updated",           Ignore(STORE_CONFIG)),
    ("specialoffer.created",            Ignore(STORE_CONFIG)),
    ("specialoffer.updated",            Ignore(STORE_CONFIG)),
    ("store.branch.activated",          Ignore(STORE_CONFIG)),
    ("store.branch.created",            Ignore(STORE_CONFIG)),
    ("store.branch.deleted",            Ignore(STORE_CONFIG)),
    ("store.branch.setDefault",         Ignore(STORE_CONFIG)),
    ("store.branch.updated",            Ignore(STORE_CONFIG)),
    ("storetax.created",                Ignore(STORE_CONFIG)),
];

/// Every event name the rules table knows (mapped or deliberately ignored), sorted.
pub fn known_events() -> impl Iterator<Item = &'static str> {
    RULES.iter().map(|(name, _)| *name)
}

/// Maps one parsed delivery to what the intake should do. Pure: no I/O, no clock.
pub fn plan(env: &Envelope, enrichment: &Enrichment) -> Result<Action, MappingError> {
    match RULES.binary_search_by(|(name, _)| (*name).cmp(env.event.as_str())) {
        Ok(i) => match RULES[i].1 {
            Map(rule) => rule(&Ctx { env, enrichment }),
            Ignore(reason) => Ok(Action::Ignore { reason }),
        },
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
