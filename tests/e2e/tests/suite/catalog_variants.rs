//! A product with categories and SKUs through the real intake: the strict Klaviyo stub holds
//! its categories, the item and one variant per SKU afterwards (they depend on each other, so
//! they go out in order), and a redelivery updates them instead of failing.

use e2e::harness::{GOOD_KEY, Harness, fresh, sample};
use serde_json::{Value, json};

#[tokio::test]
async fn a_product_with_options_becomes_categories_an_item_and_variants() {
    let h = Harness::start().await;
    let mut v: Value = serde_json::from_slice(&sample("product.created.json")).unwrap();
    let store = v["merchant"].to_string();
    h.connect(&store, GOOD_KEY).await;
    let product = v["data"]["id"].to_string();
    v["data"]["categories"] = json!([{"id": 31, "name": "عطور"}, {"id": 32, "name": "هدايا"}]);
    v["data"]["skus"] = json!([
        {"id": 901, "sku": "P-RED", "price": {"amount": 120, "currency": "SAR"}, "stock_quantity": 4},
        {"id": 902, "sku": "P-BLUE", "price": {"amount": 125, "currency": "SAR"}, "stock_quantity": 0}
    ]);
    let body = fresh(&serde_json::to_vec(&v).unwrap());
    for _ in 0..2 {
        let answer = h.post_signed(&body).await;
        assert_eq!(answer.status, 200, "{:?}", answer.body);
    }
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );
    let ids = h.klaviyo.catalog_ids();
    let prefix = format!("salla:{store}:");
    let count = |kind: &str| {
        ids.iter()
            .filter(|id| id.starts_with(kind) && id.contains(&prefix))
            .count()
    };
    assert_eq!(count("catalog-category/"), 2, "{ids:?}");
    assert_eq!(count("catalog-variant/"), 2, "{ids:?}");
    assert!(
        ids.iter()
            .any(|id| id == &format!("$custom:::$default:::salla:{store}:product:{product}")),
        "{ids:?}"
    );
}
