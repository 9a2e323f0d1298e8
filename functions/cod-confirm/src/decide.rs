//! What a link may do to an order as it stands now. Pure, so every case is a unit test.
//!
//! Eligibility: the order must be paid on delivery (`payment_method` `cod`) and still
//! awaiting the merchant's review: `under_review` (where Salla places a new COD order) or
//! `payment_pending`. Anything else (in progress, shipped, delivered, cancelled, restored, a
//! status the merchant set by hand) means someone already decided, and the page shows that
//! instead of changing it.
//!
//! The merchant's settings decide where a confirmed order goes (`in_progress` unless they
//! chose another status) and whether a shopper may cancel at all; they are read when the
//! shopper answers, so a change applies to links already sent.

use adapters::cod::link::Action;
use adapters::salla::order_status::OrderSummary;
use mapping::CodSettings;

/// The status a confirmed order moves to by default. Salla's `in_progress` ("قيد التنفيذ")
/// is where a merchant moves an order they accept.
pub const CONFIRMED_STATUS: &str = mapping::DEFAULT_CONFIRMED_STATUS;
/// The status a cancelled order moves to.
pub const CANCELLED_STATUS: &str = "canceled";

/// Statuses in which an order still awaits the shopper's confirmation.
pub const AWAITING: [&str; 2] = ["under_review", "payment_pending"];

/// The answer for one order and one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision<'a> {
    /// The order awaits confirmation: the page offers the button, the POST moves it.
    Act { target: &'a str },
    /// The order is already where this action would take it (a second click).
    AlreadyDone,
    /// Someone else moved the order on (shipped, cancelled by the merchant, ...), or it is
    /// not a cash-on-delivery order.
    Settled,
    /// A cancel link of a store that no longer lets shoppers cancel from a message.
    CancelNotAllowed,
}

pub fn target(action: Action, settings: &CodSettings) -> &str {
    match action {
        Action::Confirm => &settings.confirmed_status,
        Action::Cancel => CANCELLED_STATUS,
    }
}

pub fn decide<'a>(action: Action, order: &OrderSummary, settings: &'a CodSettings) -> Decision<'a> {
    let target = target(action, settings);
    if order.status == target {
        return Decision::AlreadyDone;
    }
    if order.payment_method == "cod" && AWAITING.contains(&order.status.as_str()) {
        if action == Action::Cancel && !settings.cancel_allowed {
            return Decision::CancelNotAllowed;
        }
        Decision::Act { target }
    } else {
        Decision::Settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on() -> CodSettings {
        CodSettings::default()
    }

    fn order(status: &str, method: &str) -> OrderSummary {
        OrderSummary {
            id: 1,
            status: status.into(),
            payment_method: method.into(),
            ..OrderSummary::default()
        }
    }

    #[test]
    fn only_a_cod_order_awaiting_review_can_be_acted_on() {
        for status in AWAITING {
            assert_eq!(
                decide(Action::Confirm, &order(status, "cod"), &on()),
                Decision::Act {
                    target: "in_progress"
                }
            );
            assert_eq!(
                decide(Action::Cancel, &order(status, "cod"), &on()),
                Decision::Act { target: "canceled" }
            );
            assert_eq!(
                decide(Action::Confirm, &order(status, "mada"), &on()),
                Decision::Settled
            );
        }
        for status in [
            "shipped",
            "delivering",
            "delivered",
            "completed",
            "restored",
            "",
        ] {
            assert_eq!(
                decide(Action::Confirm, &order(status, "cod"), &on()),
                Decision::Settled,
                "{status}"
            );
        }
    }

    #[test]
    fn a_second_click_is_already_done_and_the_other_action_is_settled() {
        assert_eq!(
            decide(Action::Confirm, &order("in_progress", "cod"), &on()),
            Decision::AlreadyDone
        );
        assert_eq!(
            decide(Action::Cancel, &order("canceled", "cod"), &on()),
            Decision::AlreadyDone
        );
        // Cancelling a confirmed order, or confirming a cancelled one, is not the shopper's.
        assert_eq!(
            decide(Action::Cancel, &order("in_progress", "cod"), &on()),
            Decision::Settled
        );
        assert_eq!(
            decide(Action::Confirm, &order("canceled", "cod"), &on()),
            Decision::Settled
        );
    }

    #[test]
    fn the_merchant_s_status_and_cancel_choice_apply() {
        let settings = CodSettings {
            confirmed_status: "completed".into(),
            cancel_allowed: false,
            ..CodSettings::default()
        };
        assert_eq!(
            decide(Action::Confirm, &order("under_review", "cod"), &settings),
            Decision::Act {
                target: "completed"
            }
        );
        assert_eq!(
            decide(Action::Confirm, &order("completed", "cod"), &settings),
            Decision::AlreadyDone
        );
        assert_eq!(
            decide(Action::Cancel, &order("under_review", "cod"), &settings),
            Decision::CancelNotAllowed
        );
        // An order the merchant cancelled still reads as done, not as refused.
        assert_eq!(
            decide(Action::Cancel, &order("canceled", "cod"), &settings),
            Decision::AlreadyDone
        );
    }
}
