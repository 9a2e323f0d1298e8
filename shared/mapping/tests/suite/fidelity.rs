//! What Klaviyo computes from the events: catalog joins, revenue, carts that reach flows,
//! locations, discounts and shipment milestones (README "Klaviyo features that depend on it").

use crate::common;

use common::{cart_enrichment, plan_value, requests, sample_value};
use mapping::{Enrichment, EventRequest, KlaviyoRequest, metrics};
use serde_json::{Value, json};

fn events(reqs: &[KlaviyoRequest]) -> Vec<&EventRequest> {
    reqs.iter()
        .filter_map(|r| match r {
            KlaviyoRequest::CreateEvent(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn plan(body: &Value) -> Vec<KlaviyoRequest> {
    requests(plan_value(body, &Enrichment::default()))
}

fn store(body: &Value) -> String {
    match &body["merchant"] {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn catalog_external_id(body: &Value) -> String {
    match plan(body).as_slice() {
        [KlaviyoRequest::UpsertCatalogItem(item)] => item.external_id.clone(),
        other => panic!("expected one catalog upsert, got {other:?}"),
    }
}

#[test]
fn catalog_items_and_event_product_ids_are_one_value() {
    let order = sample_value("order.created.json");
    let store_id = store(&order);
    let reqs = plan(&order);
    let evs = events(&reqs);
    let placed = evs[0];
    assert_eq!(placed.metric, metrics::PLACED_ORDER);
    let first = &placed.properties["Items"][0];
    let salla_id = first["SallaProductID"]
        .as_str()
        .expect("Salla id kept")
        .to_owned();
    let expected = mapping::product_id(&store_id, &salla_id);
    assert_eq!(first["ProductID"], json!(expected));
    let ordered = evs
        .iter()
        .find(|e| e.metric == metrics::ORDERED_PRODUCT)
        .unwrap();
    assert_eq!(ordered.properties["ProductID"], json!(expected));

    // The product's own catalog upsert uses the same value as its external_id.
    let mut product = sample_value("product.created.json");
    product["merchant"] = order["merchant"].clone();
    product["data"]["id"] = json!(salla_id.parse::<u64>().unwrap());
    assert_eq!(catalog_external_id(&product), expected);

    // Started Checkout items too.
    let cart = requests(plan_value(
        &sample_value("abandoned.cart.json"),
        &cart_enrichment(),
    ));
    let cart_store = store(&sample_value("abandoned.cart.json"));
    assert_eq!(
        events(&cart)[0].properties["Items"][0]["ProductID"],
        json!(mapping::product_id(&cart_store, "401511871"))
    );

    // Two stores in one Klaviyo account never share a product id.
    assert_ne!(
        mapping::product_id("1", "77"),
        mapping::product_id("2", "77")
    );
    let mut other = product.clone();
    other["merchant"] = json!(999);
    assert_ne!(catalog_external_id(&other), expected);
}

#[test]
fn reviews_name_the_catalog_product() {
    let review = sample_value("review.added.json");
    let reqs = plan(&review);
    let e = events(&reqs)[0];
    let salla = e.properties["SallaProductID"].as_str().unwrap();
    assert_eq!(
        e.properties["ProductID"],
        json!(mapping::product_id(&store(&review), salla))
    );
}
