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

#[test]
fn products_with_skus_become_variants_and_categories() {
    let body = common::product_with_variants();
    let store_id = store(&body);
    let reqs = plan(&body);
    let labels: Vec<String> = reqs.iter().map(KlaviyoRequest::label).collect();
    assert_eq!(
        labels,
        [
            "catalog-category-upsert",
            "catalog-category-upsert",
            "catalog-upsert",
            "catalog-variant-upsert",
            "catalog-variant-upsert"
        ],
        "categories first, then the item that points at them, then its variants"
    );
    let category = reqs[0].body().unwrap();
    assert_eq!(category["data"]["attributes"]["name"], "عطور");
    assert_eq!(
        category["data"]["attributes"]["external_id"],
        format!("salla:{store_id}:category:501")
    );
    let item = reqs[2].body().unwrap();
    assert_eq!(
        item["data"]["relationships"]["categories"]["data"][1]["id"],
        format!("$custom:::$default:::salla:{store_id}:category:502")
    );
    assert!(
        item["data"]["attributes"].get("image_full_url").is_none(),
        "no image: still a valid create"
    );
    let KlaviyoRequest::UpsertCatalogVariant(small) = &reqs[3] else {
        panic!("variant")
    };
    assert_eq!(small.sku, "OUD-50");
    assert_eq!(small.title, "عطر عود - 50 مل");
    assert_eq!((small.price, small.inventory_quantity), (150.0, 4));
    assert_eq!(
        small.inventory_policy, 1,
        "hidden from feeds when out of stock"
    );
    let KlaviyoRequest::UpsertCatalogVariant(large) = &reqs[4] else {
        panic!("variant")
    };
    assert_eq!(large.price, 199.0, "the SKU's sale price");
    assert_eq!(
        large.sku, large.external_id,
        "an empty SKU code falls back to the variant's id"
    );
    let body = reqs[4].body().unwrap();
    assert_eq!(
        body["data"]["relationships"]["item"]["data"]["id"],
        mapping::catalog_item_id(&mapping::product_id(&store_id, "1025569331"))
    );
    assert_eq!(reqs[4].path(), "/api/catalog-variants");
    let (method, path, _) = reqs[4].fallback(409).expect("409 → update");
    assert_eq!(method, "PATCH");
    assert_eq!(
        path,
        format!(
            "/api/catalog-variants/$custom:::$default:::salla:{store_id}:product:1025569331:sku:9002"
        )
    );

    // Unlimited stock: shown whatever the quantity.
    let mut unlimited = common::product_with_variants();
    unlimited["data"]["unlimited_quantity"] = json!(true);
    let reqs = plan(&unlimited);
    let KlaviyoRequest::UpsertCatalogVariant(v) = &reqs[3] else {
        panic!("variant")
    };
    assert_eq!(v.inventory_policy, 2);

    // The history import's single item never points at categories it did not create.
    let bytes = serde_json::to_vec(&common::product_with_variants()["data"]).unwrap();
    let alone = mapping::history_product(&bytes, &store_id).unwrap();
    assert_eq!(alone.categories, None);
    assert_eq!(
        mapping::history_catalog(&bytes, &store_id).unwrap().len(),
        5
    );
}

#[test]
fn orders_carry_categories_and_brands_where_the_product_is_known() {
    let order = sample_value("order.created.json");
    let env = mapping::parse_envelope(&serde_json::to_vec(&order).unwrap()).unwrap();
    let wanted = mapping::products_to_enrich(&env);
    assert!(
        wanted.contains(&"720881993".to_owned()),
        "order lines without categories are fetched: {wanted:?}"
    );
    let mut enrichment = Enrichment::default();
    enrichment.products.insert(
        "720881993".into(),
        mapping::ProductDetails {
            categories: vec!["بيتزا".into(), "وجبات".into()],
            brand: Some("مطعم".into()),
            ..mapping::ProductDetails::default()
        },
    );
    let reqs = requests(plan_value(&order, &enrichment));
    let evs = events(&reqs);
    let placed = evs[0];
    assert_eq!(placed.properties["Categories"], json!(["بيتزا", "وجبات"]));
    assert_eq!(placed.properties["Brands"], json!(["مطعم"]));
    let item = placed.properties["Items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["SallaProductID"] == "720881993")
        .unwrap();
    assert_eq!(item["Categories"], json!(["بيتزا", "وجبات"]));
    assert_eq!(item["Brand"], json!("مطعم"));
    let ordered = evs
        .iter()
        .find(|e| {
            e.metric == metrics::ORDERED_PRODUCT && e.properties["SallaProductID"] == "720881993"
        })
        .unwrap();
    assert_eq!(ordered.properties["ProductBrand"], json!("مطعم"));
    assert_eq!(ordered.properties["Categories"], json!(["بيتزا", "وجبات"]));

    // The history path given the same details sends the same Placed Order.
    let detail = serde_json::to_vec(&order["data"]).unwrap();
    let store_id = store(&order);
    let imported =
        mapping::history_order(&detail, &store_id, &enrichment, mapping::Backfill::No).unwrap();
    assert_eq!(imported[0].properties, placed.properties);

    // A line whose product already names categories and a brand is not fetched.
    let mut known = order.clone();
    for item in known["data"]["items"].as_array_mut().unwrap() {
        item["product"]["categories"] = json!([{"id": 1, "name": "x"}]);
        item["product"]["brand"] = json!({"name": "b"});
    }
    let env = mapping::parse_envelope(&serde_json::to_vec(&known).unwrap()).unwrap();
    assert_eq!(mapping::products_to_enrich(&env), Vec::<String>::new());
}

#[test]
fn a_cart_updated_days_ago_is_not_backdated_out_of_the_flow() {
    let recent = sample_value("abandoned.cart.json");
    let reqs = plan(&recent);
    let e = events(&reqs)[0];
    // 51 minutes before the delivery: the cart's own time stands.
    assert_eq!(e.time.as_deref(), Some("2025-01-21T17:09:39+03:00"));
    assert_eq!(
        e.properties["CartUpdatedAt"],
        json!("2025-01-21T17:09:39+03:00")
    );

    let mut old = recent.clone();
    old["data"]["updated_at"] = json!({"date": "2025-01-18 09:00:00.000000", "timezone_type": 3, "timezone": "Asia/Riyadh"});
    let reqs = plan(&old);
    let e = events(&reqs)[0];
    assert_eq!(
        e.time.as_deref(),
        Some("2025-01-21T18:00:32+03:00"),
        "the time it reached us"
    );
    assert_eq!(
        e.properties["CartUpdatedAt"],
        json!("2025-01-18T09:00:00+03:00")
    );
    assert_eq!(
        e.unique_id
            .as_deref()
            .map(|u| u.ends_with("2025-01-18T09:00:00+03:00")),
        Some(true),
        "the cart version still names the checkout"
    );
    assert!(
        e.properties["CheckoutURL"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );

    // A cart time after the delivery (a skewed clock) is not trusted either.
    let mut future = recent.clone();
    future["data"]["updated_at"] = json!("2025-01-22 09:00:00");
    let reqs = plan(&future);
    assert_eq!(
        events(&reqs)[0].time.as_deref(),
        Some("2025-01-21T18:00:32+03:00")
    );
}

fn status(slug: &str) -> Value {
    let mut v = sample_value("order.status.updated.json");
    v["data"]["order"]["status"]["slug"] = json!(slug);
    v
}

#[test]
fn only_revenue_metrics_carry_value() {
    for slug in [
        "completed",
        "shipped",
        "delivering",
        "delivered",
        "restoring",
        "canceled",
    ] {
        let reqs = plan(&status(slug));
        for e in events(&reqs) {
            if mapping::metrics::carries_revenue(&e.metric) {
                assert!(e.value.is_some(), "{slug}: {} keeps value", e.metric);
                assert!(!e.properties.contains_key("OrderTotal"));
            } else {
                assert_eq!(e.value, None, "{slug}: {} must not count revenue", e.metric);
                assert_eq!(e.value_currency, None);
                assert_eq!(
                    e.properties["OrderTotal"],
                    json!(154),
                    "{slug}: {}",
                    e.metric
                );
                assert_eq!(e.properties["Currency"], json!("SAR"));
            }
        }
    }
    let reqs = plan(&status("shipped"));
    let metrics_sent: Vec<&str> = events(&reqs).iter().map(|e| e.metric.as_str()).collect();
    assert!(metrics_sent.contains(&metrics::SHIPPED_ORDER));
    assert!(metrics_sent.contains(&metrics::ORDER_STATUS_UPDATED));
}

#[test]
fn partial_refunds_send_the_refunded_amount_and_returns_their_details() {
    let mut refund = status("restored");
    refund["data"]["order"]["refund"] = json!({"amount": {"amount": 40, "currency": "SAR"}});
    let reqs = plan(&refund);
    let refunded = events(&reqs)
        .into_iter()
        .find(|e| e.metric == metrics::REFUNDED_ORDER)
        .unwrap();
    assert_eq!(
        refunded.value,
        Some(40.0),
        "the refunded amount, not the total"
    );
    assert_eq!(refunded.properties["RefundedAmount"], json!(40));
    // Without a stated amount the whole order is refunded.
    let reqs = plan(&status("restored"));
    let full = events(&reqs)
        .into_iter()
        .find(|e| e.metric == metrics::REFUNDED_ORDER)
        .unwrap();
    assert_eq!(full.value, Some(154.0));
    assert_eq!(full.properties["ReturnType"], json!("return"));

    let mut exchange = status("restoring");
    let items = exchange["data"]["order"]["items"].clone();
    exchange["data"]["order"]["return_reason"] = json!("المقاس غير مناسب");
    exchange["data"]["order"]["return_type"] = json!("exchange");
    exchange["data"]["order"]["return_items"] = json!([items[0].clone()]);
    let reqs = plan(&exchange);
    let requested = events(&reqs)
        .into_iter()
        .find(|e| e.metric == metrics::RETURN_REQUESTED)
        .unwrap();
    assert_eq!(
        requested.properties["ReturnReason"],
        json!("المقاس غير مناسب")
    );
    assert_eq!(requested.properties["ReturnType"], json!("exchange"));
    assert_eq!(
        requested.properties["ReturnedItems"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(requested.value, None);
}

#[test]
fn an_order_awaiting_a_bank_transfer_is_revenue_when_paid_and_cod_when_created() {
    let mut pending = sample_value("order.created.json");
    pending["data"]["payment_method"] = json!("bank");
    pending["data"]["is_pending_payment"] = json!(true);
    pending["data"]["status"] =
        json!({"id": 1473353380, "name": "بإنتظار الدفع", "slug": "payment_pending"});
    let reqs = plan(&pending);
    let sent: Vec<&str> = events(&reqs).iter().map(|e| e.metric.as_str()).collect();
    assert_eq!(sent, [metrics::ORDER_STATUS_UPDATED], "not revenue yet");
    assert_eq!(events(&reqs)[0].value, None);

    // The same order, paid and moved on: Placed Order with the order's unique_id, dated at
    // the status change so the post-purchase flow still runs.
    let mut paid = status("in_progress");
    paid["data"]["order"]["payment_method"] = json!("bank");
    paid["data"]["order"]["is_pending_payment"] = json!(false);
    let reqs = plan(&paid);
    let evs = events(&reqs);
    let placed = evs
        .iter()
        .find(|e| e.metric == metrics::PLACED_ORDER)
        .unwrap();
    let order_id = paid["data"]["order"]["id"].to_string();
    assert_eq!(
        placed.unique_id.as_deref(),
        Some(format!("salla:{}:order:{order_id}", store(&paid)).as_str())
    );
    assert_eq!(placed.value, Some(154.0));
    assert!(evs.iter().any(|e| e.metric == metrics::ORDERED_PRODUCT));
    assert_eq!(
        placed.time,
        evs.last().unwrap().time,
        "the status change's time"
    );

    // Cash on delivery is placed when created, whatever its status.
    let mut cod = pending.clone();
    cod["data"]["payment_method"] = json!("cod");
    let reqs = plan(&cod);
    assert_eq!(events(&reqs)[0].metric, metrics::PLACED_ORDER);
    // And a COD order's status changes never re-send it.
    let reqs = plan(&status("in_progress"));
    assert!(
        events(&reqs)
            .iter()
            .all(|e| e.metric != metrics::PLACED_ORDER)
    );
}

#[test]
fn locations_use_english_country_names_and_the_shoppers_time_zone() {
    let reqs = plan(&sample_value("order.created.json"));
    let profile = &events(&reqs)[0].profile;
    let loc = profile.location.as_ref().unwrap();
    assert_eq!(loc.country.as_deref(), Some("Saudi Arabia"));
    assert_eq!(loc.timezone.as_deref(), Some("Asia/Riyadh"));
    assert_eq!(
        loc.city.as_deref(),
        Some("جدة"),
        "the city as Salla names it"
    );
    assert_eq!(profile.properties["salla_country_name"], json!("السعودية"));

    // A Kuwaiti shopper of a Saudi store: the shopper's country and zone, not the store's.
    let mut kw = sample_value("order.created.json");
    kw["data"]["customer"]["country"] = json!("الكويت");
    kw["data"]["customer"]["country_code"] = json!("KW");
    let reqs = plan(&kw);
    let loc = events(&reqs)[0].profile.location.clone().unwrap();
    assert_eq!(loc.country.as_deref(), Some("Kuwait"));
    assert_eq!(loc.timezone.as_deref(), Some("Asia/Kuwait"));

    // The short customer form (no country_code): the Arabic name is enough.
    let reqs = plan(&sample_value("abandoned.cart.json"));
    let loc = events(&reqs)[0].profile.location.clone();
    if let Some(loc) = loc {
        assert!(
            loc.country.as_deref().is_none_or(|c| c.is_ascii()),
            "{loc:?}"
        );
    }

    // An unknown country: no Arabic name in location, no guessed zone.
    let mut unknown = sample_value("order.created.json");
    unknown["data"]["customer"]["country"] = json!("جزر القمر");
    unknown["data"]["customer"]["country_code"] = json!(null);
    let reqs = plan(&unknown);
    let profile = &events(&reqs)[0].profile;
    let loc = profile.location.clone().unwrap();
    assert_eq!((loc.country, loc.timezone), (None, None));
    assert_eq!(profile.properties["salla_country_name"], json!("جزر القمر"));
}

#[test]
fn loyalty_prizes_and_special_offers_are_not_coupons() {
    let reqs = plan(&status("completed"));
    let e = events(&reqs)[0];
    // The sample's only discount is a loyalty prize: a free product, code FREE_PRODUCT.
    assert!(
        !e.properties.contains_key("DiscountCode"),
        "{:?}",
        e.properties.get("DiscountCode")
    );
    assert_eq!(e.properties["Discounts"][0]["Type"], json!("loyalty_prize"));
    assert_eq!(e.properties["DiscountValue"], json!(126), "still a saving");

    let mut mixed = sample_value("order.created.json");
    mixed["data"]["amounts"]["discounts"] = json!([
        {"title": "RAMADAN", "type": "coupon", "code": "RAMADAN", "discount": "10.00"},
        {"title": "منتج مجاني", "type": "loyalty_prize", "code": "FREE_PRODUCT", "discount": "20"},
        {"title": "new offer", "type": "special", "code": "new offer", "discount": "5.00"}
    ]);
    let reqs = plan(&mixed);
    let placed = events(&reqs)[0];
    assert_eq!(placed.properties["DiscountCode"], json!("RAMADAN"));
    assert_eq!(placed.properties["DiscountCodes"], json!(["RAMADAN"]));
    assert_eq!(placed.properties["DiscountValue"], json!(35));
    assert_eq!(placed.properties["Discounts"].as_array().unwrap().len(), 3);

    let mut coupon_event = mixed.clone();
    coupon_event["event"] = json!("order.coupon.updated");
    let reqs = plan(&coupon_event);
    let codes: Vec<&Value> = events(&reqs)
        .iter()
        .map(|e| &e.properties["CouponCode"])
        .collect();
    assert_eq!(codes, [&json!("RAMADAN")]);
}

#[test]
fn shipment_milestones_reach_the_orders_customer_never_a_gift_recipient() {
    let mut delivered = sample_value("shipment.creating.json");
    delivered["event"] = json!("shipment.updated");
    // ship_to is someone else: a gift.
    delivered["data"]["ship_to"]["email"] = json!("gift.recipient@example.com");
    delivered["data"]["ship_to"]["phone"] = json!("966555555555");
    let env = mapping::parse_envelope(&serde_json::to_vec(&delivered).unwrap()).unwrap();
    assert_eq!(
        mapping::shipment_order_to_enrich(&env).as_deref(),
        Some("560695738")
    );

    // Without the order: nobody to send to, and the recipient is never used.
    let bare = plan_value(&delivered, &Enrichment::default()).unwrap();
    assert!(matches!(bare, mapping::Action::Ignore { .. }), "{bare:?}");

    let enrichment = common::shipment_order_enrichment();
    let reqs = requests(plan_value(&delivered, &enrichment));
    let evs = events(&reqs);
    let sent: Vec<&str> = evs.iter().map(|e| e.metric.as_str()).collect();
    assert_eq!(
        sent,
        [
            metrics::FULFILLED_ORDER,
            metrics::DELIVERED_ORDER,
            metrics::SHIPMENT_UPDATED
        ]
    );
    for e in &evs {
        assert_eq!(
            e.profile.email.as_deref(),
            Some("usertest@gmail.com"),
            "{}",
            e.metric
        );
        assert_ne!(e.profile.phone_number.as_deref(), Some("+966555555555"));
    }
    let store_id = store(&delivered);
    let fulfilled = evs[0];
    let delivered_event = evs[1];
    assert_eq!(
        delivered_event.unique_id.as_deref(),
        Some(format!("salla:{store_id}:order:560695738:delivered").as_str())
    );
    assert!(
        delivered_event.properties.contains_key("Items"),
        "the order's items"
    );
    assert_eq!(
        delivered_event.properties["TrackingNumber"],
        json!("4324233")
    );

    // The order-status route for the same order and milestone: same ids and value.
    let mut status_path = sample_value("order.status.updated.json");
    status_path["merchant"] = delivered["merchant"].clone();
    let mut order: Value = serde_json::from_str(enrichment.order.as_deref().unwrap()).unwrap();
    order["status"] = json!({"id": 1, "name": "تم التوصيل", "slug": "delivered"});
    status_path["data"]["order"] = order;
    let via_status = plan(&status_path);
    let via_status = events(&via_status);
    let twin = |metric: &str| *via_status.iter().find(|e| e.metric == metric).unwrap();
    assert_eq!(
        twin(metrics::DELIVERED_ORDER).unique_id,
        delivered_event.unique_id
    );
    assert_eq!(
        twin(metrics::FULFILLED_ORDER).unique_id,
        fulfilled.unique_id
    );
    assert_eq!(twin(metrics::FULFILLED_ORDER).value, fulfilled.value);
    assert!(fulfilled.value.is_some());
    assert_eq!(
        twin(metrics::DELIVERED_ORDER).properties["OrderTotal"],
        delivered_event.properties["OrderTotal"]
    );

    // A fetched order that is not this shipment's is not used.
    let mut other = enrichment.clone();
    other.order = Some(other.order.unwrap().replace("560695738", "1"));
    let wrong = plan_value(&delivered, &other).unwrap();
    assert!(matches!(wrong, mapping::Action::Ignore { .. }), "{wrong:?}");
}
