//! Property tests: arbitrary bytes, arbitrary JSON and mutated Salla samples never panic in
//! parse_envelope + plan, nor in turning the resulting requests into HTTP calls.

use crate::common;

use mapping::{Action, Enrichment, KlaviyoRequest, ProductDetails};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

pub(crate) fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::String),
        prop_oneof![
            Just("+966501806978"),
            Just("0501806978"),
            Just("2022-06-26 12:21:45"),
            Just("Sun Jun 26 2022 12:21:48 GMT+0300"),
            Just("cod"),
            Just("canceled"),
            Just("shipped"),
            Just("https://x.example/p"),
            Just("١٢٣٫٥"),
            Just("1,234.50"),
            Just("true"),
            Just("return"),
        ]
        .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(5, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key(), inner), 0..8)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Keys the mapping actually reads, so random objects reach deep code paths.
fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "id",
            "order",
            "customer",
            "status",
            "slug",
            "name",
            "customized",
            "items",
            "product",
            "product_id",
            "quantity",
            "amounts",
            "total",
            "amount",
            "currency",
            "date",
            "timezone",
            "mobile",
            "mobile_code",
            "email",
            "first_name",
            "payment_method",
            "cash_on_delivery",
            "discounts",
            "code",
            "discount",
            "shipping",
            "shipment",
            "shipments",
            "tracking_link",
            "tracking_number",
            "urls",
            "url",
            "price",
            "sale_price",
            "expired_at",
            "settings",
            "klaviyo_private_key",
            "access_token",
            "refresh_token",
            "expires",
            "coupon",
            "cart",
            "ship_to",
            "ship_from",
            "type",
            "order_id",
            "groups",
            "options",
            "value",
            "created_at",
            "updated_at",
            "rating",
            "draft",
            "accepts_marketing",
            "images",
            "categories",
            "brand",
        ])
        .prop_map(str::to_owned),
        "[a-z_]{1,8}",
    ]
}

fn event_name() -> impl Strategy<Value = String> {
    let known: Vec<String> = mapping::known_events().map(str::to_owned).collect();
    prop_oneof![prop::sample::select(known), ".{0,20}"]
}

/// Exercises everything the intake would call on a plan.
fn drive(body: &[u8], enrichment: &Enrichment) {
    let Ok(env) = mapping::parse_envelope(body) else {
        return;
    };
    let _ = mapping::products_to_enrich(&env);
    if let Ok(Action::Send(requests)) = mapping::plan(&env, enrichment) {
        for r in &requests {
            let _ = (r.method(), r.path(), r.body(), r.label(), r.unique_id());
            let _ = r.fallback(409);
            if let Some(retry) = r.without_phone() {
                let _ = retry.body();
            }
            if let KlaviyoRequest::CreateEvent(e) = r {
                assert!(
                    e.profile.has_identifier(),
                    "an event without identifier would be rejected"
                );
            }
        }
    }
}

/// Exercises the history import on one object read from Salla's Merchant API.
fn drive_history(item: &[u8], store: &str) {
    for backfill in [mapping::Backfill::Yes, mapping::Backfill::No] {
        if let Ok(events) =
            mapping::history_order(item, store, &enrichment_for_everything(), backfill)
        {
            for e in &events {
                assert!(e.profile.has_identifier(), "an event without identifier");
                assert_eq!(e.backfill, backfill == mapping::Backfill::Yes);
            }
            for job in mapping::pack_events(events) {
                let _ = (job.method(), job.path(), job.body(), job.label());
            }
        }
    }
    if let Ok(profile) = mapping::history_customer(item, store) {
        assert!(profile.has_identifier(), "a profile without identifier");
        for job in mapping::pack_profiles([profile]) {
            let _ = job.body();
        }
    }
    if let Ok(item) = mapping::history_product(item, store) {
        let _ = KlaviyoRequest::UpsertCatalogItem(item).body();
    }
}

fn enrichment_for_everything() -> Enrichment {
    let mut e = Enrichment::default();
    for id in ["1", "0", "401511871", "64738276", "1462551237"] {
        e.products.insert(
            id.into(),
            ProductDetails {
                name: Some("x".into()),
                price: Some(f64::MAX),
                ..Default::default()
            },
        );
    }
    e
}

/// Every JSON pointer inside a value.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
            out.push(p.clone());
            pointers(c, p, out);
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| {
            let p = format!("{at}/{i}");
            out.push(p.clone());
            pointers(c, p, out);
        }),
        _ => {}
    }
}

pub(crate) fn mutate(mut v: Value, pick: usize, op: u8, replacement: Value) -> Value {
    let mut ptrs = Vec::new();
    pointers(&v, String::new(), &mut ptrs);
    if ptrs.is_empty() {
        return v;
    }
    let ptr = &ptrs[pick % ptrs.len()];
    let (parent_ptr, last) = ptr.rsplit_once('/').unwrap_or(("", ptr));
    if op.is_multiple_of(4) {
        match v.pointer_mut(parent_ptr) {
            Some(Value::Object(m)) => {
                m.remove(&last.replace("~1", "/").replace("~0", "~"));
            }
            Some(Value::Array(a)) => {
                if let Ok(i) = last.parse::<usize>()
                    && i < a.len()
                {
                    a.remove(i);
                }
            }
            _ => {}
        }
    } else if let Some(slot) = v.pointer_mut(ptr) {
        *slot = match op % 4 {
            1 => replacement,
            2 => json!(slot.to_string()), // change type: anything → string
            _ => match slot {
                Value::String(s) => s.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
                Value::Number(_) => json!([]),
                _ => json!({}),
            },
        };
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        drive(&bytes, &Enrichment::default());
    }

    #[test]
    fn arbitrary_json_never_panics(event in event_name(), merchant in arb_json(), data in arb_json(), created in arb_json()) {
        let body = json!({"event": event, "merchant": merchant, "created_at": created, "data": data});
        let bytes = serde_json::to_vec(&body).unwrap();
        drive(&bytes, &Enrichment::default());
        drive(&bytes, &enrichment_for_everything());
        let with_store = json!({"event": body["event"], "merchant": 7, "data": body["data"]});
        drive(&serde_json::to_vec(&with_store).unwrap(), &enrichment_for_everything());
    }

    #[test]
    fn mutated_samples_never_panic(
        sample in 0usize..64,
        mutations in prop::collection::vec((any::<usize>(), any::<u8>(), arb_json()), 1..6),
        event in prop::option::of(event_name()),
    ) {
        let samples = common::samples();
        let (_, bytes) = &samples[sample % samples.len()];
        let mut v: Value = serde_json::from_slice(bytes).unwrap();
        for (pick, op, replacement) in mutations {
            v = mutate(v, pick, op, replacement);
        }
        if let Some(event) = event
            && let Some(obj) = v.as_object_mut()
        {
            obj.insert("event".into(), json!(event));
        }
        let bytes = serde_json::to_vec(&v).unwrap();
        drive(&bytes, &Enrichment::default());
        drive(&bytes, &enrichment_for_everything());
        if let Some(data) = v.get("data") {
            let data = serde_json::to_vec(data).unwrap();
            drive_history(&data, "7");
            if let Some(order) = v.pointer("/data/order") {
                drive_history(&serde_json::to_vec(order).unwrap(), "7");
            }
        }
    }

    #[test]
    fn arbitrary_history_objects_never_panic(item in arb_json(), store in ".{0,12}") {
        let bytes = serde_json::to_vec(&item).unwrap();
        drive_history(&bytes, &store);
        drive_history(&bytes, "7");
    }

    #[test]
    fn arbitrary_history_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        drive_history(&bytes, "7");
    }
}
