//! Shared helpers for the integration tests: the Salla samples, synthetic deliveries derived
//! from them, and a JSON rendering of `plan` results for goldens.
#![allow(dead_code)]

use mapping::{Action, Enrichment, KeySetting, KlaviyoRequest, MappingError, ProductDetails};
use serde_json::{Value, json};
use std::path::PathBuf;

/// The Salla sample bodies in `<repo>/tests/fixtures/salla-samples`.
pub fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/salla-samples"
    ))
}

/// Every `*.json` sample, sorted by file name. Panics if the folder is missing: a test that
/// found no samples would prove nothing.
pub fn samples() -> Vec<(String, Vec<u8>)> {
    let dir = samples_dir();
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read Salla samples at {}: {e}", dir.display()));
    let mut out: Vec<(String, Vec<u8>)> = entries
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let bytes = std::fs::read(&p).expect("readable sample");
            (name, bytes)
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 20,
        "expected the Salla samples, found {}",
        out.len()
    );
    out
}

pub fn sample_value(name: &str) -> Value {
    let path = samples_dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("sample is JSON")
}

/// A sample's body with a different event name.
pub fn as_event(sample: &str, event: &str) -> Value {
    let mut v = sample_value(sample);
    v["event"] = json!(event);
    v
}

pub fn plan_value(body: &Value, enrichment: &Enrichment) -> Result<Action, MappingError> {
    let bytes = serde_json::to_vec(body).expect("serializable");
    plan_bytes(&bytes, enrichment)
}

pub fn plan_bytes(body: &[u8], enrichment: &Enrichment) -> Result<Action, MappingError> {
    let env = mapping::parse_envelope(body)?;
    mapping::plan(&env, enrichment)
}

/// The requests of a `Send`, or a panic naming what came instead.
pub fn requests(result: Result<Action, MappingError>) -> Vec<KlaviyoRequest> {
    match result {
        Ok(Action::Send(r)) => r,
        other => panic!("expected Send, got {other:?}"),
    }
}

/// Details as the intake would fetch them for the abandoned.cart sample's products.
pub fn cart_enrichment() -> Enrichment {
    let mut e = Enrichment::default();
    e.products.insert(
        "401511871".into(),
        ProductDetails {
            name: Some("عطر عود ملكي ١٠٠ مل".into()),
            sku: Some("OUD-100".into()),
            price: Some(40.0),
            url: Some("https://salla.sa/dev-wofftr4xsra5xtlv/oud/p401511871".into()),
            image_url: Some("https://cdn.salla.sa/oud.jpg".into()),
            categories: vec!["عطور".into()],
            brand: Some("Brand X".into()),
        },
    );
    e.products.insert(
        "64738276".into(),
        ProductDetails {
            name: Some("Gift box".into()),
            price: Some(20.0),
            ..ProductDetails::default()
        },
    );
    e
}

/// The product.created sample with two options' SKUs, categories and no image, in the shape
/// of Salla's product model (`options[].values[]`, `skus[].related_option_values`).
pub fn product_with_variants() -> Value {
    let mut v = sample_value("product.created.json");
    let d = &mut v["data"];
    d["type"] = json!("product");
    d["name"] = json!("عطر عود");
    d["unlimited_quantity"] = json!(false);
    d["options"] = json!([{"id": 11, "name": "الحجم", "values": [
        {"id": 101, "name": "50 مل"}, {"id": 102, "name": "100 مل"}
    ]}]);
    d["skus"] = json!([
        {"id": 9001, "sku": "OUD-50", "price": {"amount": 150, "currency": "SAR"},
         "sale_price": {"amount": 0, "currency": "SAR"}, "stock_quantity": 4,
         "related_option_values": [101]},
        {"id": 9002, "sku": "", "price": {"amount": 250, "currency": "SAR"},
         "sale_price": {"amount": 199, "currency": "SAR"}, "stock_quantity": 0,
         "related_option_values": [102]}
    ]);
    d["categories"] = json!([{"id": 501, "name": "عطور"}, {"id": 502, "name": "هدايا"}]);
    v
}

/// The shipment sample's order as the intake would fetch it (`GET /orders/560695738`): the
/// order.created sample's order under the shipment's order id.
pub fn shipment_order_enrichment() -> Enrichment {
    let mut detail = sample_value("order.created.json")["data"].clone();
    detail["id"] = json!(560695738);
    detail["reference_id"] = json!(48927);
    Enrichment {
        order: Some(detail.to_string()),
        ..Enrichment::default()
    }
}

/// Deliveries no sample covers, derived from the samples: (label, body, enrichment).
pub fn synthetic() -> Vec<(String, Value, Enrichment)> {
    let none = Enrichment::default;
    let mut out: Vec<(String, Value, Enrichment)> = Vec::new();
    out.push((
        "order.cancelled".into(),
        as_event("order.created.json", "order.cancelled"),
        none(),
    ));
    out.push((
        "order.refunded".into(),
        as_event("order.created.json", "order.refunded"),
        none(),
    ));
    let mut coupon = as_event("order.created.json", "order.coupon.updated");
    coupon["data"]["coupon"] = json!({"code": "RAMADAN10"});
    out.push(("order.coupon.updated".into(), coupon, none()));
    let mut cod = sample_value("order.created.json");
    cod["data"]["payment_method"] = json!("cod");
    cod["data"]["amounts"]["cash_on_delivery"] = json!({"amount": 12, "currency": "SAR"});
    out.push(("order.created cod".into(), cod, none()));
    for slug in [
        "payment_pending",
        "under_review",
        "in_progress",
        "completed",
        "shipped",
        "delivering",
        "delivered",
        "canceled",
        "restoring",
        "restored",
        "request_quote",
    ] {
        let mut v = sample_value("order.status.updated.json");
        v["data"]["order"]["status"]["slug"] = json!(slug);
        out.push((format!("order.status.updated {slug}"), v, none()));
    }
    let mut custom = sample_value("order.status.updated.json");
    custom["data"]["customized"] = json!({"id": 1693817923, "name": "تم الشحن عبر أرامكس"});
    custom["data"]["order"]["status"]["slug"] = json!("shipped");
    out.push(("order.status.updated custom".into(), custom, none()));
    for event in ["shipment.created", "shipment.cancelled", "shipment.updated"] {
        out.push((
            format!("{event} enriched with its order"),
            as_event("shipment.creating.json", event),
            shipment_order_enrichment(),
        ));
    }
    let mut ret = as_event("shipment.creating.json", "shipment.created");
    ret["data"]["type"] = json!("return");
    out.push(("shipment.created return".into(), ret, none()));
    for event in ["order.shipment.return.created", "order.shipment.created"] {
        let mut v = as_event("order.shipment.cancelled.json", event);
        v["data"]["customer"] = sample_value("order.created.json")["data"]["customer"].clone();
        out.push((event.into(), v, none()));
    }
    for event in ["customer.created", "customer.updated"] {
        out.push((event.into(), as_event("customer.login.json", event), none()));
        let mut opted = as_event("customer.login.json", event);
        opted["data"]["accepts_marketing"] = json!(true);
        opted["data"]["accepts_sms_marketing"] = json!("true");
        out.push((format!("{event} opted in"), opted, none()));
    }
    out.push((
        "abandoned.cart enriched".into(),
        sample_value("abandoned.cart.json"),
        cart_enrichment(),
    ));
    out.push((
        "product.deleted".into(),
        as_event("product.status.updated.json", "product.deleted"),
        none(),
    ));
    out.push((
        "product.quantity.low".into(),
        as_event("product.created.json", "product.quantity.low"),
        none(),
    ));
    out.push((
        "product.created variants".into(),
        product_with_variants(),
        none(),
    ));
    let mut enriched = Enrichment::default();
    enriched.products.insert(
        "1462551237".into(),
        ProductDetails {
            name: Some("قميص".into()),
            url: Some("https://store.example/p1462551237".into()),
            ..ProductDetails::default()
        },
    );
    out.push((
        "product.price.updated enriched".into(),
        sample_value("product.price.updated.json"),
        enriched,
    ));
    out
}

/// A `plan` result as JSON: the action kind, and for `Send` each request's method, path and
/// body (plus the 409 fallback where there is one).
pub fn render(result: &Result<Action, MappingError>) -> Value {
    match result {
        Err(e) => json!({"error": e.to_string()}),
        Ok(Action::Authorize(a)) => json!({
            "action": "authorize",
            "access_token": a.access_token,
            "refresh_token": a.refresh_token,
            "expires": a.expires,
            "scope": a.scope,
        }),
        Ok(Action::SettingsUpdated {
            klaviyo_private_key,
            cod,
        }) => {
            let key = match klaviyo_private_key {
                KeySetting::Absent => json!({"absent": true}),
                KeySetting::Cleared => json!({"cleared": true}),
                KeySetting::Key(k) => json!({"key": k}),
            };
            let mut v = json!({"action": "settings_updated", "klaviyo_private_key": key});
            if let Some(cod) = cod {
                v["cod"] = serde_json::to_value(cod).unwrap_or_default();
            }
            v
        }
        Ok(Action::Uninstalled) => json!({"action": "uninstalled"}),
        Ok(Action::Ignore { reason }) => json!({"action": "ignore", "reason": reason}),
        Ok(Action::Send(requests)) => json!({
            "action": "send",
            "requests": requests.iter().map(|r| {
                let mut v = json!({
                    "label": r.label(),
                    "method": r.method(),
                    "path": r.path(),
                    "body": r.body(),
                });
                if let Some((method, path, body)) = r.fallback(409) {
                    v["on_409"] = json!({"method": method, "path": path, "body": body});
                }
                v
            }).collect::<Vec<_>>(),
        }),
    }
}
