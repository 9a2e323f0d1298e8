//! What a link may do to an order as it stands now. Pure, so every case is a unit test.
//!
//! Eligibility: the order must be paid on delivery (`payment_method` `cod`) and still
//! awaiting the merchant's review: `under_review` (where Salla places a new COD order) or
//! `payment_pending`. Anything else (in progress, shipped, delivered, cancelled, restored, a
//! status the merchant set by hand) means someone already decided, and the page shows that
//! instead of changing it.

use adapters::cod::link::Action;
use adapters::salla::order_status::OrderSummary;

/// The status a confirmed order moves to. Salla's `in_progress` ("قيد التنفيذ") is where a
/// merchant moves an order they accept; a merchant-chosen status is a later setting.
pub const CONFIRMED_STATUS: &str = "in_progress";
/// The status a cancelled order moves to.
pub const CANCELLED_STATUS: &str = "canceled";

/// Statuses in which an order still awaits the shopper's confirmation.
pub const AWAITING: [&str; 2] = ["under_review", "payment_pending"];

/// The answer for one order and one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The order awaits confirmation: the page offers the button, the POST moves it.
    Act { target: &'static str },
    /// The order is already where this action would take it (a second click).
    AlreadyDone,
    /// Someone else moved the order on (shipped, cancelled by the merchant, ...), or it is
    /// not a cash-on-delivery order.
    Settled,
}

pub fn target(action: Action) -> &'static str {
    match action {
        Action::Confirm => CONFIRMED_STATUS,
        Action::Cancel => CANCELLED_STATUS,
    }
}

pub fn decide(action: Action, order: &OrderSummary) -> Decision {
    let target = target(action);
    if order.status == target {
        return Decision::AlreadyDone;
    }
    if order.payment_method == "cod" && AWAITING.contains(&order.status.as_str()) {
        Decision::Act { target }
    } else {
        Decision::Settled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
                decide(Action::Confirm, &order(status, "cod")),
                Decision::Act {
                    target: "in_progress"
                }
            );
            assert_eq!(
                decide(Action::Cancel, &order(status, "cod")),
                Decision::Act { target: "canceled" }
            );
            assert_eq!(
                decide(Action::Confirm, &order(status, "mada")),
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
                decide(Action::Confirm, &order(status, "cod")),
                Decision::Settled,
                "{status}"
            );
        }
    }

    #[test]
    fn a_second_click_is_already_done_and_the_other_action_is_settled() {
        assert_eq!(
            decide(Action::Confirm, &order("in_progress", "cod")),
            Decision::AlreadyDone
        );
        assert_eq!(
            decide(Action::Cancel, &order("canceled", "cod")),
            Decision::AlreadyDone
        );
        // Cancelling a confirmed order, or confirming a cancelled one, is not the shopper's.
        assert_eq!(
            decide(Action::Cancel, &order("in_progress", "cod")),
            Decision::Settled
        );
        assert_eq!(
            decide(Action::Confirm, &order("canceled", "cod")),
            Decision::Settled
        );
    }
}
