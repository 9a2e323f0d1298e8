//! Behaviour of the mapping beyond the goldens: status slugs, unique ids, consent, Arabic text,
//! COD, enrichment, shipments, catalog and errors.

use crate::common;

use common::{as_event, cart_enrichment, plan_value, requests, sample_value, synthetic};
use mapping::{
    Action, Enrichment, KeySetting, KlaviyoRequest, MappingError, ProductDetails, metrics,
};
use serde_json::{Value, json};

fn events(reqs: &[KlaviyoRequest]) -> Vec<&mapping::EventRequest> {
    reqs.iter()
        .filter_map(|r| match r {
            KlaviyoRequest::CreateEvent(e) => Some(e),
            _ => None,
        })
        .collect()
}

fn labels(reqs: &[KlaviyoRequest]) -> Vec<String> {
    reqs.iter().map(KlaviyoRequest::label).collect()
}

fn plan(body: &Value) -> Result<Action, MappingError> {
    plan_value(body, &Enrichment::default())
}

fn status_update(slug: &str) -> Vec<KlaviyoRequest> {
    let mut v = sample_value("order.status.updated.json");
    v["data"]["order"]["status"]["slug"] = json!(slug);
    requests(plan(&v))
}

#[test]
fn status_slugs_choose_metrics() {
    let table: &[(&str, &[&str])] = &[
        ("payment_pending", &[]),
        ("under_review", &[]),
        ("in_progress", &[]),
        ("completed", &[metrics::FULFILLED_ORDER]),
        (
            "shipped",
            &[metrics::FULFILLED_ORDER, metrics::SHIPPED_ORDER],
        ),
        (
            "delivering",
            &[metrics::FULFILLED_ORDER, metrics::OUT_FOR_DELIVERY],
        ),
        (
            "delivered",
            &[metrics::FULFILLED_ORDER, metrics::DELIVERED_ORDER],
        ),
        ("canceled", &[metrics::CANCELLED_ORDER]),
        ("restoring", &[metrics::RETURN_REQUESTED]),
        ("restored", &[metrics::REFUNDED_ORDER]),
        ("some_future_slug", &[]),
    ];
    for (slug, expected) in table {
        let got = labels(&status_update(slug));
        let mut want: Vec<String> = expected.iter().map(|s| s.to_string()).collect();
        want.push(metrics::ORDER_STATUS_UPDATED.to_string());
        assert_eq!(got, want, "slug {slug}");
        let generic = events(&status_update(slug))
            .pop()
            .expect("generic status event")
            .clone();
        assert_eq!(generic.properties["StatusSlug"], json!(slug));
        assert_eq!(generic.properties["StatusName"], json!("تم التنفيذ"));
    }
}

#[test]
fn custom_status_keeps_parent_slug_and_its_own_name() {
    let mut v = sample_value("order.status.updated.json");
    v["data"]["customized"] = json!({"id": 1693817923, "name": "تم الشحن عبر أرامكس"});
    v["data"]["order"]["status"]["slug"] = json!("shipped");
    let reqs = requests(plan(&v));
    assert_eq!(labels(&reqs)[1], metrics::SHIPPED_ORDER);
    let generic = events(&reqs)[2];
    assert_eq!(
        generic.properties["StatusName"],
        json!("تم الشحن عبر أرامكس")
    );
    assert_eq!(
        generic.unique_id.as_deref(),
        Some("salla:193718979:order:629263027:status:shipped:1693817923")
    );
}

#[test]
fn cancelled_and_refunded_reuse_the_placed_order_id() {
    let placed = requests(plan(&sample_value("order.created.json")));
    let placed_id = placed[0].unique_id().expect("placed id").to_owned();
    assert_eq!(placed_id, "salla:1305146709:order:2116149737");
    for (event, metric) in [
        ("order.cancelled", metrics::CANCELLED_ORDER),
        ("order.refunded", metrics::REFUNDED_ORDER),
    ] {
        let reqs = requests(plan(&as_event("order.created.json", event)));
        let e = events(&reqs)[0];
        assert_eq!(e.metric, metric);
        assert_eq!(e.unique_id.as_deref(), Some(placed_id.as_str()), "{event}");
        assert_eq!(
            e.value,
            Some(196.0),
            "{event} carries the order total for CLV"
        );
    }
    // The same order cancelled through order.status.updated gets the same id too.
    let cancelled = status_update("canceled");
    assert_eq!(
        cancelled[0].unique_id(),
        Some("salla:193718979:order:629263027")
    );
}

#[test]
fn unique_ids_ignore_delivery_time_and_retries() {
    let first = sample_value("order.created.json");
    let mut redelivered = first.clone();
    redelivered["created_at"] = json!("Sun Jun 26 2022 12:26:48 GMT+0300");
    let a = requests(plan(&first));
    let b = requests(plan(&redelivered));
    let bodies = |r: &[KlaviyoRequest]| {
        r.iter()
            .map(|x| serde_json::to_vec(&x.body()).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        bodies(&a),
        bodies(&b),
        "Placed Order's time comes from the order date"
    );
}

#[test]
fn two_lines_of_one_order_never_collide() {
    let mut v = sample_value("order.created.json");
    let line = v["data"]["items"][0].clone();
    // Same product twice, even with the same (bogus) item id, and a line with no ids at all.
    let mut bare = line.clone();
    bare.as_object_mut().unwrap().remove("id");
    bare.as_object_mut().unwrap().remove("product");
    v["data"]["items"] = json!([line.clone(), line, bare.clone(), bare]);
    let reqs = requests(plan(&v));
    let ids: Vec<&str> = reqs.iter().filter_map(KlaviyoRequest::unique_id).collect();
    assert_eq!(ids.len(), 5);
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "{ids:?}");
}

#[test]
fn unique_ids_are_namespaced_by_store() {
    let mut other_store = sample_value("order.created.json");
    other_store["merchant"] = json!(42);
    let a = requests(plan(&sample_value("order.created.json")));
    let b = requests(plan(&other_store));
    assert_ne!(a[0].unique_id(), b[0].unique_id());
    assert_eq!(
        events(&b)[0].profile.external_id.as_deref(),
        Some("salla:42:customer:225167971")
    );
}

#[test]
fn consent_is_never_inferred() {
    // Nothing in the samples or in the ordinary synthetic deliveries opts in.
    for (label, body, enrichment) in synthetic() {
        if label.ends_with("opted in") {
            continue;
        }
        if let Ok(Action::Send(reqs)) = plan_value(&body, &enrichment) {
            assert!(
                !reqs
                    .iter()
                    .any(|r| matches!(r, KlaviyoRequest::Subscribe(_))),
                "{label}"
            );
        }
    }
    // An order never subscribes, even when its customer object carries an opt-in flag.
    let mut order = sample_value("order.created.json");
    order["data"]["customer"]["accepts_marketing"] = json!(true);
    order["data"]["accepts_marketing"] = json!(true);
    let reqs = requests(plan(&order));
    assert!(
        !reqs
            .iter()
            .any(|r| matches!(r, KlaviyoRequest::Subscribe(_)))
    );
    // Salla's notification switch is not marketing consent.
    let customer = as_event("customer.login.json", "customer.created");
    assert_eq!(customer["data"]["is_notifications_enabled"], json!(true));
    assert_eq!(
        labels(&requests(plan(&customer))),
        ["profile-import", metrics::CREATED_ACCOUNT]
    );
}

#[test]
fn explicit_opt_in_subscribes_the_consented_channels_only() {
    let mut v = as_event("customer.login.json", "customer.updated");
    v["data"]["accepts_marketing"] = json!("true");
    let reqs = requests(plan(&v));
    assert_eq!(labels(&reqs), ["profile-import", "subscribe"]);
    let body = reqs[1].body().expect("body");
    let profile = &body["data"]["attributes"]["profiles"]["data"][0]["attributes"];
    assert_eq!(profile["email"], json!("test@gmail.com"));
    assert_eq!(
        profile["subscriptions"],
        json!({"email": {"marketing": {"consent": "SUBSCRIBED"}}})
    );
    assert!(
        profile.get("phone_number").is_none(),
        "no SMS consent was given"
    );

    v["data"]["accepts_sms_marketing"] = json!(true);
    let reqs = requests(plan(&v));
    let body = reqs[1].body().expect("body");
    let subs = &body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"];
    assert_eq!(subs["sms"], json!({"marketing": {"consent": "SUBSCRIBED"}}));
    // Without the phone, only the email consent can be retried.
    let retry = reqs[1].without_phone().expect("email consent remains");
    let retry_body = retry.body().expect("body");
    assert!(
        retry_body["data"]["attributes"]["profiles"]["data"][0]["attributes"]["subscriptions"]
            .get("sms")
            .is_none()
    );
}

#[test]
fn arabic_text_passes_through_intact() {
    let reqs = requests(plan(&sample_value("order.status.updated.json")));
    let body = reqs[1].body().expect("body");
    let props = &body["data"]["attributes"]["properties"];
    assert_eq!(
        props["StatusNote"],
        json!("تم إرسال تفاصيل الطلب  إلى بريد العميل")
    );
    assert_eq!(
        props["ItemNames"][1],
        json!("عطر إترنتي مومنت من كالفن كلاين للنساء، او دي بارفان، 100 مل")
    );
    assert_eq!(props["ShippingCompany"], json!("محمول"));
    let bytes = serde_json::to_string(&body).expect("json");
    assert!(
        bytes.contains("تم التنفيذ"),
        "Arabic is written as UTF-8, not escaped"
    );
}

#[test]
fn cash_on_delivery_is_flagged_with_its_fee() {
    let mut v = sample_value("order.created.json");
    v["data"]["payment_method"] = json!("cod");
    v["data"]["amounts"]["cash_on_delivery"] = json!({"amount": "12.50", "currency": "SAR"});
    let reqs = requests(plan(&v));
    let placed = events(&reqs)[0];
    assert_eq!(placed.properties["IsCashOnDelivery"], json!(true));
    assert_eq!(placed.properties["CODFee"], json!(12.5));
    assert_eq!(placed.properties["PaymentMethod"], json!("cod"));
}

#[test]
fn abandoned_cart_uses_enrichment_when_given() {
    let env =
        mapping::parse_envelope(&serde_json::to_vec(&sample_value("abandoned.cart.json")).unwrap())
            .unwrap();
    assert_eq!(mapping::products_to_enrich(&env), ["401511871", "64738276"]);
    let reqs = requests(plan_value(
        &sample_value("abandoned.cart.json"),
        &cart_enrichment(),
    ));
    let e = events(&reqs)[0];
    assert_eq!(e.metric, metrics::STARTED_CHECKOUT);
    assert_eq!(
        e.properties["ItemNames"],
        json!(["عطر عود ملكي ١٠٠ مل", "Gift box"])
    );
    let first = &e.properties["Items"][0];
    assert_eq!(first["ProductName"], json!("عطر عود ملكي ١٠٠ مل"));
    assert_eq!(first["ItemPrice"], json!(40));
    assert_eq!(first["RowTotal"], json!(80), "price × quantity 2");
    assert_eq!(first["ImageURL"], json!("https://cdn.salla.sa/oud.jpg"));
    assert_eq!(e.properties["Categories"], json!(["عطور"]));
    assert_eq!(e.properties["Brands"], json!(["Brand X"]));
    assert_eq!(
        e.properties["CheckoutURL"],
        json!("https://salla.sa/dev-wofftr4xsra5xtlv/checkout/1097962121")
    );
    assert_eq!(e.value, Some(100.0));
    // Without enrichment the same cart still maps, with ids and quantities only.
    let bare = requests(plan(&sample_value("abandoned.cart.json")));
    assert!(!events(&bare)[0].properties.contains_key("ItemNames"));
}

#[test]
fn products_to_enrich_only_where_details_are_missing() {
    let ids = |sample: &str| {
        let env =
            mapping::parse_envelope(&std::fs::read(common::samples_dir().join(sample)).unwrap())
                .unwrap();
        mapping::products_to_enrich(&env)
    };
    assert_eq!(ids("product.price.updated.json"), ["1462551237"]);
    assert_eq!(ids("product.status.updated.json"), ["799860060"]);
    assert!(ids("product.created.json").is_empty());
    // Order lines name no categories or brand: their products are fetched (fidelity.rs).
    assert_eq!(ids("order.created.json"), ["720881993"]);
    let mut big = sample_value("abandoned.cart.json");
    big["data"]["items"] = (0..80)
        .map(|i| json!({"product_id": i, "quantity": 1}))
        .collect();
    let env = mapping::parse_envelope(&serde_json::to_vec(&big).unwrap()).unwrap();
    assert_eq!(
        mapping::products_to_enrich(&env).len(),
        mapping::MAX_PRODUCTS_TO_ENRICH
    );
}

#[test]
fn partial_product_event_becomes_a_full_upsert_when_enriched() {
    let mut e = Enrichment::default();
    e.products.insert(
        "1462551237".into(),
        ProductDetails {
            name: Some("قميص".into()),
            url: Some("https://store.example/p1".into()),
            ..ProductDetails::default()
        },
    );
    let reqs = requests(plan_value(&sample_value("product.price.updated.json"), &e));
    assert_eq!(
        (reqs[0].method(), reqs[0].path().as_str()),
        ("POST", "/api/catalog-items")
    );
    let body = reqs[0].body().expect("body");
    assert_eq!(body["data"]["attributes"]["title"], json!("قميص"));
    assert_eq!(
        body["data"]["attributes"]["price"],
        json!(150.0),
        "the sale ended before this delivery"
    );
    // Without metadata from a full payload, the 409 PATCH must not wipe the stored metadata.
    let (_, _, patch) = reqs[0].fallback(409).expect("fallback");
    assert!(patch["data"]["attributes"].get("custom_metadata").is_none());
}

#[test]
fn product_deleted_deletes_the_catalog_item() {
    let reqs = requests(plan(&as_event(
        "product.status.updated.json",
        "product.deleted",
    )));
    assert_eq!(reqs[0].method(), "DELETE");
    assert_eq!(
        reqs[0].path(),
        "/api/catalog-items/$custom:::$default:::salla:546096831:product:799860060"
    );
    assert_eq!(reqs[0].body(), None);
}

#[test]
fn shipments_carry_tracking_and_reach_the_shopper() {
    // The shipment's own `customer` (when Salla includes it) receives its events.
    let shipment = |event: &str| {
        let mut v = as_event("shipment.creating.json", event);
        let mut customer = sample_value("order.created.json")["data"]["customer"].clone();
        customer["email"] = json!("username@email.com");
        v["data"]["customer"] = customer;
        v
    };
    let reqs = requests(plan(&shipment("shipment.created")));
    let e = events(&reqs)[0];
    assert_eq!(e.metric, metrics::SHIPMENT_CREATED);
    assert_eq!(e.properties["TrackingNumber"], json!("4324233"));
    assert_eq!(
        e.properties["TrackingURL"],
        json!("https://www.company/tracking/tracking-express.html?submit=1&tracking-id=12345")
    );
    assert_eq!(e.properties["ShippingCompany"], json!("Shipping App"));
    assert_eq!(e.properties["OrderId"], json!("560695738"));
    assert_eq!(e.properties["CODAmount"], json!(10.7));
    assert_eq!(e.profile.email.as_deref(), Some("username@email.com"));
    assert_eq!(e.profile.phone_number.as_deref(), Some("+966501806978"));
    assert_eq!(
        e.unique_id.as_deref(),
        Some("salla:136409261:shipment:362985662:created")
    );

    // A courier's "delivered" is also the order's Delivered (and Fulfilled) milestone.
    let updated = requests(plan(&shipment("shipment.updated")));
    assert_eq!(
        labels(&updated),
        [
            metrics::FULFILLED_ORDER,
            metrics::DELIVERED_ORDER,
            metrics::SHIPMENT_UPDATED
        ]
    );
    assert_eq!(
        updated[1].unique_id(),
        Some("salla:136409261:order:560695738:delivered")
    );

    let mut ret = as_event("shipment.creating.json", "shipment.created");
    ret["data"]["type"] = json!("return");
    let reqs = requests(plan(&ret));
    assert_eq!(labels(&reqs), [metrics::RETURN_SHIPMENT_CREATED]);

    // Only `ship_to`, who may be a gift recipient: ignored (fidelity.rs has the enriched case).
    let bare = plan(&as_event("shipment.creating.json", "shipment.created"));
    assert!(matches!(bare, Ok(Action::Ignore { .. })), "{bare:?}");

    // The minimal order-scoped payload without any contact is ignored, not an error.
    let minimal = plan(&sample_value("order.shipment.cancelled.json"));
    assert!(matches!(minimal, Ok(Action::Ignore { .. })), "{minimal:?}");
}

#[test]
fn coupon_events_carry_code_and_discount() {
    let reqs = requests(plan(&sample_value("coupon.applied.json")));
    let e = events(&reqs)[0];
    assert_eq!(e.metric, metrics::APPLIED_COUPON);
    assert_eq!(e.properties["CouponCode"], json!("wizefriend"));
    assert_eq!(e.properties["DiscountValue"], json!(100));
    // Phone-only shopper: identified by phone and namespaced id, no email.
    assert_eq!(e.profile.email, None);
    assert_eq!(e.profile.phone_number.as_deref(), Some("+251944130250"));

    let mut order = as_event("order.created.json", "order.coupon.updated");
    order["data"]["coupon"] = json!({"code": "RAMADAN10"});
    let reqs = requests(plan(&order));
    // The sample's "new offer" is a special offer (`type: special`), not a coupon.
    assert_eq!(labels(&reqs), [metrics::APPLIED_COUPON]);
    let codes: Vec<&Value> = events(&reqs)
        .iter()
        .map(|e| &e.properties["CouponCode"])
        .collect();
    assert_eq!(codes, [&json!("RAMADAN10")]);
}

#[test]
fn customer_events() {
    let created = requests(plan(&as_event("customer.login.json", "customer.created")));
    assert_eq!(
        labels(&created),
        ["profile-import", metrics::CREATED_ACCOUNT]
    );
    let body = created[0].body().expect("body");
    assert_eq!(body["data"]["type"], json!("profile"));
    assert_eq!(
        body["data"]["attributes"]["phone_number"],
        json!("+966555555555")
    );
    let login = requests(plan(&sample_value("customer.login.json")));
    assert_eq!(labels(&login), [metrics::LOGGED_IN]);
    let review = requests(plan(&sample_value("review.added.json")));
    assert_eq!(events(&review)[0].properties["Rating"], json!(5));
}

#[test]
fn phone_can_be_dropped_for_klaviyo_retries() {
    let reqs = requests(plan(&sample_value("order.created.json")));
    let retry = reqs[0]
        .without_phone()
        .expect("email and external id remain");
    let KlaviyoRequest::CreateEvent(e) = retry else {
        panic!("event expected")
    };
    assert_eq!(e.profile.phone_number, None);
    assert_eq!(e.unique_id.as_deref(), reqs[0].unique_id());
}

#[test]
fn missing_essentials_are_errors_naming_the_field() {
    let cases: Vec<(Value, MappingError)> = vec![
        (
            {
                let mut v = sample_value("order.created.json");
                v["data"].as_object_mut().unwrap().remove("id");
                v
            },
            MappingError::MissingField("data.id"),
        ),
        (
            {
                let mut v = sample_value("order.created.json");
                v["data"].as_object_mut().unwrap().remove("customer");
                v
            },
            MappingError::MissingField("data.customer"),
        ),
        (
            {
                let mut v = sample_value("order.created.json");
                v["data"]["customer"] = json!({"name": "بلا هوية"});
                v
            },
            MappingError::MissingField("data.customer"),
        ),
        (
            {
                let mut v = sample_value("order.status.updated.json");
                v["data"]["order"]["status"]
                    .as_object_mut()
                    .unwrap()
                    .remove("slug");
                v
            },
            MappingError::MissingField("data.order.status.slug"),
        ),
        (
            {
                let mut v = sample_value("order.status.updated.json");
                v["data"]["order"].as_object_mut().unwrap().remove("id");
                v
            },
            MappingError::MissingField("data.order.id"),
        ),
        (
            {
                let mut v = sample_value("abandoned.cart.json");
                v["data"].as_object_mut().unwrap().remove("customer");
                v
            },
            MappingError::MissingField("data.customer"),
        ),
        (
            {
                let mut v = sample_value("coupon.applied.json");
                v["data"]["cart"].as_object_mut().unwrap().remove("coupon");
                v
            },
            MappingError::MissingField("data.cart.coupon.code"),
        ),
        (
            {
                let mut v = sample_value("app.store.authorize.json");
                v["data"].as_object_mut().unwrap().remove("access_token");
                v
            },
            MappingError::MissingField("data.access_token"),
        ),
        (
            {
                let mut v = sample_value("app.store.authorize.json");
                v["data"]["expires"] = json!("soon");
                v
            },
            MappingError::WrongType {
                field: "data.expires",
                expected: "integer",
            },
        ),
        (
            {
                let mut v = sample_value("app.settings.updated.json");
                v["data"].as_object_mut().unwrap().remove("settings");
                v
            },
            MappingError::MissingField("data.settings"),
        ),
        (
            {
                let mut v = sample_value("product.created.json");
                v["data"].as_object_mut().unwrap().remove("id");
                v
            },
            MappingError::MissingField("data.id"),
        ),
    ];
    for (body, expected) in cases {
        assert_eq!(plan(&body), Err(expected.clone()), "{expected}");
        assert!(
            !expected.to_string().contains('@'),
            "errors never carry payload values"
        );
    }
}

#[test]
fn settings_key_is_trimmed_and_redacted() {
    let mut v = sample_value("app.settings.updated.json");
    v["data"]["settings"]["klaviyo_private_key"] = json!("  pk_live_abc123  ");
    let action = plan(&v).expect("maps");
    assert_eq!(
        action,
        Action::SettingsUpdated {
            klaviyo_private_key: KeySetting::Key("pk_live_abc123".into()),
            cod: None
        }
    );
    assert!(
        !format!("{action:?}").contains("pk_live"),
        "Debug must not print the key"
    );
    v["data"]["settings"]["klaviyo_private_key"] = json!("   ");
    assert_eq!(
        plan(&v),
        Ok(Action::SettingsUpdated {
            klaviyo_private_key: KeySetting::Cleared,
            cod: None
        })
    );
    v["data"]["settings"]["klaviyo_private_key"] = json!("");
    assert_eq!(
        plan(&v),
        Ok(Action::SettingsUpdated {
            klaviyo_private_key: KeySetting::Cleared,
            cod: None
        })
    );

    let auth = plan(&sample_value("app.store.authorize.json")).expect("maps");
    let shown = format!("{auth:?}");
    assert!(
        !shown.contains("KGsnBcNN") && !shown.contains("fWcceFWF"),
        "{shown}"
    );
    let Action::Authorize(a) = auth else {
        panic!("authorize expected")
    };
    assert_eq!(a.expires, 1634819484);
}

/// A settings delivery without the key field (or with `null`) must not read as "key removed":
/// only an explicit empty value disconnects a store.
#[test]
fn settings_without_key_field_is_absent_not_cleared() {
    let mut v = sample_value("app.settings.updated.json");
    v["data"]["settings"] = json!({"other_setting": "x"});
    assert_eq!(
        plan(&v),
        Ok(Action::SettingsUpdated {
            klaviyo_private_key: KeySetting::Absent,
            cod: None
        })
    );
    v["data"]["settings"]["klaviyo_private_key"] = Value::Null;
    assert_eq!(
        plan(&v),
        Ok(Action::SettingsUpdated {
            klaviyo_private_key: KeySetting::Absent,
            cod: None
        })
    );
}

/// The COD confirmation settings ride on the same delivery as the key; a malformed one falls
/// back to its default and never costs the key.
#[test]
fn settings_carry_the_cod_confirmation_choices() {
    let mut v = sample_value("app.settings.updated.json");
    v["data"]["settings"]["klaviyo_private_key"] = json!("pk_live_abc123");
    v["data"]["settings"]["cod_confirmation"] = json!(true);
    v["data"]["settings"]["cod_confirmed_status"] = json!("completed");
    v["data"]["settings"]["cod_allow_cancel"] = json!("0");
    v["data"]["settings"]["cod_link_hours"] = json!("not a number");
    let Ok(Action::SettingsUpdated {
        klaviyo_private_key: KeySetting::Key(_),
        cod: Some(cod),
    }) = plan(&v)
    else {
        panic!("the key and the COD settings: {:?}", plan(&v));
    };
    assert_eq!(
        cod,
        mapping::CodSettings {
            enabled: true,
            confirmed_status: "completed".into(),
            cancel_allowed: false,
            link_hours: mapping::DEFAULT_LINK_HOURS,
        }
    );
}

#[test]
fn unknown_and_unused_events_are_ignored() {
    for event in [
        "order.teleported",
        "app.something.new",
        "invoice.created",
        "order.updated",
        "customer.otp.request",
    ] {
        let v = json!({"event": event, "merchant": 1, "data": {}});
        assert!(matches!(plan(&v), Ok(Action::Ignore { .. })), "{event}");
    }
}

#[test]
fn draft_orders_are_not_placed() {
    let mut v = sample_value("order.created.json");
    v["data"]["draft"] = json!(true);
    assert_eq!(
        plan(&v),
        Ok(Action::Ignore {
            reason: "draft order"
        })
    );
}
