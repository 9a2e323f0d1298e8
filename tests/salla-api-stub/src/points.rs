//! What the loyalty points read, for stores a test gives explicit points data: a customer's
//! orders (`GET /orders?customer_id=`, the short form), their reviews
//! (`GET /reviews?customer_id=&type=`; the filter names are the app's assumption, see
//! `adapters::points`), the date-filtered order listing of those orders and their detail
//! (`GET /orders/{id}` with the customer). Stores without points data are answered by the
//! generated dataset as before.

use std::collections::HashMap;

use serde_json::{Value, json};

use crate::SallaApiStub;
use crate::data::{local_text, salla_date};

/// One order of a points test.
#[derive(Debug, Clone, PartialEq)]
pub struct PointsOrder {
    pub id: u64,
    pub customer_id: u64,
    pub slug: String,
    /// In SAR.
    pub total: f64,
    /// The order date, UTC epoch seconds.
    pub epoch: i64,
}

#[derive(Default)]
struct StorePoints {
    customers: HashMap<u64, Value>,
    orders: Vec<PointsOrder>,
    /// (customer id, review item).
    reviews: Vec<(u64, Value)>,
}

#[derive(Default)]
pub(crate) struct PointsData(HashMap<String, StorePoints>);

impl SallaApiStub {
    /// A customer (a Salla customer object with an `id`) of `store_id`'s points data.
    pub fn add_points_customer(&self, store_id: &str, customer: Value) {
        let id = customer["id"].as_u64().unwrap_or_default();
        let mut s = self.shared.lock();
        let store = s.points.0.entry(store_id.to_owned()).or_default();
        store.customers.insert(id, customer);
    }

    /// Adds the order, or replaces the one with its id.
    pub fn put_points_order(&self, store_id: &str, order: PointsOrder) {
        let mut s = self.shared.lock();
        let store = s.points.0.entry(store_id.to_owned()).or_default();
        store.orders.retain(|o| o.id != order.id);
        store.orders.push(order);
    }

    /// A product review (`type: rating`) by `customer_id`.
    pub fn add_points_review(
        &self,
        store_id: &str,
        customer_id: u64,
        review_id: u64,
        product_id: u64,
        epoch: i64,
    ) {
        let mut s = self.shared.lock();
        let store = s.points.0.entry(store_id.to_owned()).or_default();
        store.reviews.push((
            customer_id,
            json!({
                "id": review_id,
                "type": "rating",
                "rating": 5,
                "content": "ممتاز",
                "customer": {"id": customer_id},
                "product": {"id": product_id},
                "created_at": local_text(epoch),
            }),
        ));
    }
}

fn summary(o: &PointsOrder) -> Value {
    json!({
        "id": o.id,
        "total": {"amount": o.total, "currency": "SAR"},
        "date": salla_date(o.epoch),
        "status": {"id": 1, "name": o.slug, "slug": o.slug},
    })
}

fn page(items: Vec<Value>) -> Value {
    let n = items.len();
    json!({
        "status": 200,
        "success": true,
        "pagination": {"count": n, "total": n, "perPage": 60, "currentPage": 1, "totalPages": 1, "links": []},
        "data": items,
    })
}

/// The answer for a points read of `store_id`, `None` when the route is not one of these or
/// the store has no points data; `Some(Err(()))` is a 404.
pub(crate) fn route(
    data: &PointsData,
    store_id: &str,
    path: &str,
    query: &str,
) -> Option<Result<Value, ()>> {
    let store = data.0.get(store_id)?;
    let param = |key: &str| {
        query
            .split('&')
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned())
    };
    let path = path.trim_end_matches('/');
    if path == "/reviews" {
        let customer: Option<u64> = param("customer_id").and_then(|c| c.parse().ok());
        let items = store
            .reviews
            .iter()
            .filter(|(by, _)| customer.is_none_or(|c| c == *by))
            .map(|(_, r)| r.clone())
            .collect();
        return Some(Ok(page(items)));
    }
    if path == "/orders" {
        let customer: Option<u64> = param("customer_id").and_then(|c| c.parse().ok());
        let day = |o: &PointsOrder| local_text(o.epoch)[..10].to_owned();
        let (from, to) = (param("from_date"), param("to_date"));
        let items = store
            .orders
            .iter()
            .filter(|o| customer.is_none_or(|c| c == o.customer_id))
            .filter(|o| from.as_deref().is_none_or(|f| day(o).as_str() >= f))
            .filter(|o| to.as_deref().is_none_or(|t| day(o).as_str() <= t))
            .map(summary)
            .collect();
        return Some(Ok(page(items)));
    }
    let id: u64 = path.strip_prefix("/orders/")?.parse().ok()?;
    let order = store.orders.iter().find(|o| o.id == id)?;
    let mut detail = summary(order);
    detail["customer"] = store
        .customers
        .get(&order.customer_id)
        .cloned()
        .unwrap_or_else(|| json!({"id": order.customer_id}));
    Some(Ok(json!({"status": 200, "success": true, "data": detail})))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dataset;

    async fn get(stub: &SallaApiStub, path: &str) -> Value {
        reqwest::Client::new()
            .get(format!("{}{path}", stub.base_url))
            .bearer_auth("tok")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_customers_orders_reviews_and_day_listing() {
        let stub = SallaApiStub::start().await;
        stub.add_store("42", "tok", Dataset::new(1, 3, 1, 1));
        // Without points data the generated dataset answers.
        assert_eq!(
            get(&stub, "/orders").await["data"]
                .as_array()
                .unwrap()
                .len(),
            3
        );
        stub.add_points_customer("42", json!({"id": 77, "email": "s@example.com"}));
        let order = |id, customer_id, slug: &str, epoch| PointsOrder {
            id,
            customer_id,
            slug: slug.into(),
            total: 100.0,
            epoch,
        };
        stub.put_points_order("42", order(1, 77, "delivered", 1_768_003_200));
        stub.put_points_order("42", order(2, 78, "delivered", 1_768_003_200));
        stub.put_points_order("42", order(1, 77, "restored", 1_768_003_200));
        stub.add_points_review("42", 77, 9, 5, 1_768_003_200);
        let mine = get(&stub, "/orders?customer_id=77&page=1&per_page=60").await;
        assert_eq!(mine["data"].as_array().unwrap().len(), 1);
        assert_eq!(mine["data"][0]["status"]["slug"], "restored");
        let day = get(&stub, "/orders?from_date=2026-01-10&to_date=2026-01-10").await;
        assert_eq!(day["data"].as_array().unwrap().len(), 2);
        let none = get(&stub, "/orders?from_date=2026-01-11&to_date=2026-01-12").await;
        assert!(none["data"].as_array().unwrap().is_empty());
        assert_eq!(
            get(&stub, "/orders/1").await["data"]["customer"]["email"],
            "s@example.com"
        );
        let reviews = get(&stub, "/reviews?customer_id=77&type=rating").await;
        assert_eq!(reviews["data"][0]["product"]["id"], 5);
        assert!(
            get(&stub, "/reviews?customer_id=78").await["data"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }
}
