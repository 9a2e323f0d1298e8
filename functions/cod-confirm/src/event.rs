//! The Klaviyo event a shopper's answer sends, so the merchant's flow can stop its reminders
//! and branch.

use std::sync::Arc;

use adapters::cod::link::Action;
use adapters::salla::order_status::OrderSummary;
use mapping::{EventRequest, KlaviyoRequest, Profile, Properties};
use serde_json::Value;

/// Metric names: part of merchants' flows, never renamed.
pub const COD_CONFIRMED: &str = "COD Confirmed";
pub const COD_CANCELLED: &str = "COD Cancelled";

/// The event for `action` on `order` of `store_id`, or `None` when the order's customer has
/// nothing Klaviyo can identify a profile by.
pub fn event(store_id: u64, action: Action, order: &OrderSummary) -> Option<KlaviyoRequest> {
    let store = store_id.to_string();
    let id = order.id.to_string();
    let c = &order.customer;
    let profile = Profile {
        email: c.email.clone(),
        phone_number: c.phone.clone(),
        external_id: c
            .id
            .as_ref()
            .map(|cid| format!("salla:{store}:customer:{cid}")),
        first_name: c.first_name.clone(),
        last_name: c.last_name.clone(),
        properties: Properties::from([(
            mapping::STORE_PROPERTY.into(),
            Value::String(store.clone()),
        )]),
        ..Profile::default()
    };
    if !profile.has_identifier() {
        return None;
    }
    let (metric, milestone) = match action {
        Action::Confirm => (COD_CONFIRMED, "cod_confirmed"),
        Action::Cancel => (COD_CANCELLED, "cod_cancelled"),
    };
    let mut properties = Properties::new();
    properties.insert("OrderId", Value::String(id.clone()));
    properties.insert("OrderNumber", Value::String(order.number.clone()));
    properties.insert("PaymentMethod", Value::String(order.payment_method.clone()));
    // The order as it stands after the answer: the status the merchant chose for it.
    properties.insert("Status", Value::String(order.status.clone()));
    let value = order
        .total
        .as_ref()
        .and_then(|(amount, _)| amount.parse::<f64>().ok())
        .filter(|v| v.is_finite());
    Some(KlaviyoRequest::CreateEvent(EventRequest {
        metric: metric.to_owned(),
        profile: Arc::new(profile),
        properties,
        time: None,
        value,
        value_currency: order
            .total
            .as_ref()
            .map(|(_, currency)| currency.clone())
            .filter(|c| !c.is_empty()),
        unique_id: Some(format!("salla:{store}:order:{id}:{milestone}")),
        backfill: false,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use adapters::salla::order_status::Customer;

    fn order() -> OrderSummary {
        OrderSummary {
            id: 55,
            number: "71234".into(),
            status: "under_review".into(),
            payment_method: "cod".into(),
            total: Some(("120.50".into(), "SAR".into())),
            customer: Customer {
                id: Some("9".into()),
                email: Some("s@example.com".into()),
                phone: Some("+966500000001".into()),
                first_name: Some("Sara".into()),
                last_name: None,
            },
        }
    }

    #[test]
    fn the_events_carry_the_unique_id_scheme_and_the_profile() {
        let Some(KlaviyoRequest::CreateEvent(e)) = event(7, Action::Confirm, &order()) else {
            panic!("an event");
        };
        assert_eq!(e.metric, "COD Confirmed");
        assert_eq!(
            e.unique_id.as_deref(),
            Some("salla:7:order:55:cod_confirmed")
        );
        assert_eq!(e.profile.phone_number.as_deref(), Some("+966500000001"));
        assert_eq!(e.profile.external_id.as_deref(), Some("salla:7:customer:9"));
        assert_eq!(e.value, Some(120.5));
        assert_eq!(e.value_currency.as_deref(), Some("SAR"));
        let cancelled = OrderSummary {
            status: "canceled".into(),
            ..order()
        };
        let Some(KlaviyoRequest::CreateEvent(e)) = event(7, Action::Cancel, &cancelled) else {
            panic!("an event");
        };
        assert_eq!(e.metric, "COD Cancelled");
        assert_eq!(
            e.unique_id.as_deref(),
            Some("salla:7:order:55:cod_cancelled")
        );
        assert_eq!(
            e.properties.get("Status"),
            Some(&Value::String("canceled".into()))
        );
    }

    /// Both events validate against Klaviyo's OpenAPI spec in strict mode (unknown keys
    /// rejected), as every request the relay sends does.
    #[test]
    fn both_events_are_spec_valid() {
        let spec = spec_check::Spec::shared();
        for action in [Action::Confirm, Action::Cancel] {
            let request = event(7, action, &order()).expect("an event");
            let checked =
                spec.validate_request(request.method(), &request.path(), request.body().as_ref());
            assert!(checked.is_ok(), "{action:?}: {checked:?}");
        }
    }

    #[test]
    fn no_identifier_no_event() {
        let mut o = order();
        o.customer = Customer::default();
        assert!(event(7, Action::Confirm, &o).is_none());
    }
}
