//! Which deliveries are points events, and what of them the intake needs: the customer (to
//! read their orders and reviews, and to build their profile) and what the event is about.

use serde::Serialize;

use super::REVERSING_STATUSES;
use super::rules::PointsRules;
use crate::salla::envelope::Envelope;
use crate::salla::json::{Json, JsonValueTrait};
use crate::salla::lenient::{self, get};

/// What a points event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// An order reached a status that earns or reverses points.
    Order(String),
    /// The customer reviewed this product (Salla's payload carries no review id: the review
    /// is found in the customer's listing by its product).
    ProductReview(String),
}

/// A points event: the customer and the subject. Its `Debug` hides the customer object.
#[derive(Clone, PartialEq, Eq)]
pub struct Cue {
    pub customer_id: String,
    /// The delivery's customer object as JSON text, for [`super::customer_profile`].
    pub customer: String,
    pub subject: Subject,
}

impl std::fmt::Debug for Cue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cue")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

fn customer_of(customer: Option<&Json>) -> Option<(String, String)> {
    let customer = customer.filter(|c| c.is_object())?;
    let id = lenient::id(customer.get("id"))?;
    let text = sonic_rs::to_string(customer).ok()?;
    Some((id, text))
}

/// The points event in `env` under `rules`, if it is one: `order.status.updated` to a status
/// that earns (see [`super::Award`]) or reverses (`restored`, `refunded`) points,
/// `order.refunded`, and `review.added` of a product.
pub fn cue(env: &Envelope, rules: &PointsRules) -> Option<Cue> {
    let data = env.data();
    let (order, customer, subject) = match env.event.as_str() {
        "order.status.updated" => {
            let order = data.get("order")?;
            let slug = lenient::text(get(order, &["status", "slug"]))?.to_ascii_lowercase();
            if !rules.award.earning_statuses().contains(&slug.as_str())
                && !REVERSING_STATUSES.contains(&slug.as_str())
            {
                return None;
            }
            (Some(order), order.get("customer"), None)
        }
        "order.refunded" => {
            let order = data.get("order").filter(|o| o.is_object()).unwrap_or(data);
            (Some(order), order.get("customer"), None)
        }
        "review.added" => {
            if lenient::text(data.get("type")).is_some_and(|t| t != "rating") {
                return None;
            }
            let product = lenient::id(get(data, &["product", "id"]))?;
            (
                None,
                data.get("customer"),
                Some(Subject::ProductReview(product)),
            )
        }
        _ => return None,
    };
    let subject = match (subject, order) {
        (Some(s), _) => s,
        (None, Some(order)) => Subject::Order(lenient::id(order.get("id"))?),
        (None, None) => return None,
    };
    let (customer_id, customer) = customer_of(customer)?;
    Some(Cue {
        customer_id,
        customer,
        subject,
    })
}

/// The points rules in an `app.settings.updated` delivery (`data.settings`), or `None` when
/// it is another event or holds none of the points fields.
pub fn rules_in(env: &Envelope) -> Option<PointsRules> {
    if env.event != "app.settings.updated" {
        return None;
    }
    let settings = env.data().get("settings").filter(|s| s.is_object())?;
    PointsRules::from_settings(settings)
}

/// Serialisable for logs: which kind of subject, never an id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SubjectKind {
    Order,
    Review,
}

impl Subject {
    pub fn kind(&self) -> SubjectKind {
        match self {
            Subject::Order(_) => SubjectKind::Order,
            Subject::ProductReview(_) => SubjectKind::Review,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salla::envelope::parse_envelope;

    fn sample(name: &str) -> serde_json::Value {
        let path = format!(
            "{}/../../tests/fixtures/salla-samples/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|_| panic!("{path}"))).unwrap()
    }

    fn cue_of(v: &serde_json::Value) -> Option<Cue> {
        cue(
            &parse_envelope(v.to_string().as_bytes()).unwrap(),
            &PointsRules::default(),
        )
    }

    #[test]
    fn delivered_returned_and_refunded_orders_are_cues() {
        let mut v = sample("order.status.updated.json");
        assert_eq!(cue_of(&v), None, "completed earns nothing");
        for slug in ["delivered", "restored", "refunded"] {
            v["data"]["order"]["status"]["slug"] = slug.into();
            let c = cue_of(&v).unwrap();
            assert_eq!(c.subject, Subject::Order("629263027".into()), "{slug}");
            assert_eq!(c.customer_id, "1779795066");
            assert!(c.customer.contains("Test.2022@salla.sa"));
            assert!(!format!("{c:?}").contains("salla.sa"));
        }
        v["data"]["order"]["status"]["slug"] = "completed".into();
        let completed = PointsRules {
            award: super::super::Award::Completed,
            ..PointsRules::default()
        };
        let env = parse_envelope(v.to_string().as_bytes()).unwrap();
        assert!(
            cue(&env, &completed).is_some(),
            "completed earns when chosen"
        );
        v["data"]["order"]["customer"] = serde_json::Value::Null;
        assert_eq!(cue_of(&v), None, "no customer, nobody to award");
    }

    #[test]
    fn a_product_review_is_a_cue() {
        let mut v = sample("review.added.json");
        let c = cue_of(&v).unwrap();
        assert_eq!(c.subject, Subject::ProductReview("1653503260".into()));
        assert_eq!(c.customer_id, "2107468057");
        v["data"]["type"] = "testimonial".into();
        assert_eq!(cue_of(&v), None);
    }

    #[test]
    fn rules_ride_on_the_settings_delivery() {
        let mut v = sample("app.settings.updated.json");
        assert_eq!(
            rules_in(&parse_envelope(v.to_string().as_bytes()).unwrap()),
            None
        );
        v["data"]["settings"]["points_enabled"] = true.into();
        v["data"]["settings"]["points_percent"] = "4".into();
        let r = rules_in(&parse_envelope(v.to_string().as_bytes()).unwrap()).unwrap();
        assert!(r.enabled);
        assert_eq!(r.percent, 4);
        let order = sample("order.status.updated.json");
        assert_eq!(
            rules_in(&parse_envelope(order.to_string().as_bytes()).unwrap()),
            None
        );
    }
}
