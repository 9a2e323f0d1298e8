//! Mutations over bytes and over JSON trees. Each one keeps the input close enough to a real
//! Salla body that it gets past the JSON parser often, which is where the interesting code is.

use rand::Rng;
use rand::rngs::SmallRng;
use serde_json::{Map, Value, json};

/// Field names seen in Salla bodies: random objects use them so mutated payloads reach the
/// mapping's field lookups instead of being ignored as unknown keys.
pub const FIELD_NAMES: &[&str] = &[
    "id",
    "event",
    "merchant",
    "created_at",
    "data",
    "customer",
    "items",
    "product",
    "product_id",
    "quantity",
    "amounts",
    "total",
    "amount",
    "currency",
    "status",
    "slug",
    "name",
    "first_name",
    "last_name",
    "email",
    "mobile",
    "mobile_code",
    "phone",
    "country",
    "country_code",
    "city",
    "reference_id",
    "urls",
    "url",
    "customer_url",
    "price",
    "sale_price",
    "sku",
    "images",
    "image",
    "main_image",
    "options",
    "coupon",
    "code",
    "shipping",
    "shipment",
    "tracking_number",
    "shipping_number",
    "settings",
    "klaviyo_private_key",
    "access_token",
    "refresh_token",
    "expires",
    "scope",
    "date",
    "timezone",
    "rating",
    "content",
    "checkout_url",
    "subtotal",
    "total_discount",
    "updated_at",
    "birthday",
    "gender",
    "groups",
    "is_notifications_enabled",
    "categories",
    "brand",
    "description",
    "thumbnail",
    "payment_method",
    "order_id",
    "cart",
];

/// 1–8 byte-level edits: bit flips, overwrites, inserts, deletes, duplicated chunks.
pub fn flip_bytes(rng: &mut SmallRng, bytes: &mut Vec<u8>) {
    const SPECIAL: &[u8] = b"\"{}[],:\\0-.eE \n\t\x00";
    for _ in 0..rng.random_range(1..=8) {
        let len = bytes.len();
        let at = if len == 0 {
            0
        } else {
            rng.random_range(0..len)
        };
        match rng.random_range(0..6) {
            0 if len > 0 => bytes[at] ^= 1 << rng.random_range(0..8),
            1 if len > 0 => bytes[at] = rng.random(),
            2 if len > 0 => bytes[at] = SPECIAL[rng.random_range(0..SPECIAL.len())],
            3 => bytes.insert(at, rng.random()),
            4 if len > 0 => {
                bytes.remove(at);
            }
            _ if len > 0 => {
                let end = (at + rng.random_range(1..64)).min(len);
                let chunk = bytes[at..end].to_vec();
                let to = rng.random_range(0..=bytes.len());
                bytes.splice(to..to, chunk);
            }
            _ => bytes.push(rng.random()),
        }
    }
}

/// Inserts invalid UTF-8 sequences, mostly right inside string literals (after a quote), where
/// a lenient decoder would be tempted to accept them.
pub fn non_utf8(rng: &mut SmallRng, bytes: &mut Vec<u8>) {
    const BAD: &[&[u8]] = &[
        b"\xff",
        b"\xfe\xff",
        b"\xc0\x80",
        b"\x80",
        b"\xe2\x82",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf8\x88\x80\x80\x80",
    ];
    let quotes: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'"')
        .map(|(i, _)| i + 1)
        .collect();
    for _ in 0..rng.random_range(1..=3) {
        let at = if !quotes.is_empty() && rng.random_bool(0.8) {
            quotes[rng.random_range(0..quotes.len())].min(bytes.len())
        } else {
            rng.random_range(0..=bytes.len())
        };
        let seq = BAD[rng.random_range(0..BAD.len())];
        bytes.splice(at..at, seq.iter().copied());
    }
}

/// A random JSON value; containers recurse up to `depth`.
pub fn random_value(rng: &mut SmallRng, depth: usize) -> Value {
    let kinds = if depth == 0 { 4 } else { 6 };
    match rng.random_range(0..kinds) {
        0 => Value::Null,
        1 => Value::Bool(rng.random()),
        2 => random_number(rng),
        3 => Value::String(random_string(rng)),
        4 => Value::Array(
            (0..rng.random_range(0..5))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let mut map = Map::new();
            for _ in 0..rng.random_range(0..6) {
                let key = FIELD_NAMES[rng.random_range(0..FIELD_NAMES.len())];
                map.insert(key.to_string(), random_value(rng, depth - 1));
            }
            Value::Object(map)
        }
    }
}

pub fn random_number(rng: &mut SmallRng) -> Value {
    match rng.random_range(0..10) {
        0 => json!(0),
        1 => json!(-1),
        2 => json!(i64::MIN),
        3 => json!(u64::MAX),
        4 => json!(1e308),
        5 => json!(-0.0),
        6 => json!(rng.random::<f64>() * 1000.0),
        7 => json!(rng.random_range(1_000_000_000u64..9_999_999_999)),
        8 => json!(rng.random::<i32>()),
        _ => json!(rng.random::<u32>() % 100),
    }
}

pub fn random_string(rng: &mut SmallRng) -> String {
    match rng.random_range(0..16) {
        0 => String::new(),
        1 => "   ".into(),
        2 => "عميل تجريبي".into(),
        3 => rng.random_range(0u64..99_999_999_999).to_string(),
        4 => format!("+9665{:08}", rng.random_range(0..99_999_999u32)),
        5 => format!("05{:08}", rng.random_range(0..99_999_999u32)),
        6 => format!("user{}@example.test", rng.random::<u16>()),
        7 => "x".repeat(rng.random_range(1..20_000)),
        8 => "\u{0}\u{1}\u{7f}\u{200f}\u{feff}".into(),
        9 => "2024-02-30 25:61:61".into(),
        10 => "Sun Jun 26 2022 12:21:48 GMT+0300".into(),
        11 => "-5.5e-3".into(),
        12 => "https://salla.sa/x?y=<script>".into(),
        13 => "ب".repeat(rng.random_range(1..60_000)),
        14 => "true".into(),
        _ => (0..rng.random_range(1..40))
            .map(|_| char::from_u32(rng.random_range(0x20..0x2FFF)).unwrap_or('?'))
            .collect(),
    }
}

/// Replaces 1–4 random nodes of the tree with values of (usually) another type. One time in
/// four the target is a top-level envelope field, which the parser checks first.
pub fn swap_types(rng: &mut SmallRng, root: &mut Value) {
    for _ in 0..rng.random_range(1..=4) {
        if rng.random_bool(0.25) {
            if let Value::Object(map) = root {
                let key = ["event", "merchant", "data", "created_at"][rng.random_range(0..4)];
                map.insert(key.into(), random_value(rng, 2));
            }
            continue;
        }
        let count = count_nodes(root);
        let target = rng.random_range(0..count);
        let replacement = random_value(rng, 3);
        let mut seen = 0;
        replace_nth(root, target, &mut seen, replacement);
    }
}

fn count_nodes(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count_nodes).sum(),
        Value::Object(m) => m.values().map(count_nodes).sum(),
        _ => 0,
    }
}

/// Depth-first; returns true once the replacement is placed. Bodies are a few KB and at most
/// ~10 levels, so recursion depth is bounded by the corpus, not by the input.
fn replace_nth(v: &mut Value, target: usize, seen: &mut usize, replacement: Value) -> bool {
    if *seen == target {
        *v = replacement;
        return true;
    }
    *seen += 1;
    let mut replacement = Some(replacement);
    let children: Vec<&mut Value> = match v {
        Value::Array(a) => a.iter_mut().collect(),
        Value::Object(m) => m.values_mut().collect(),
        _ => return false,
    };
    for child in children {
        let before = *seen;
        let size = count_nodes(child);
        if target < before + size {
            return replace_nth(
                child,
                target,
                seen,
                replacement.take().unwrap_or(Value::Null),
            );
        }
        *seen += size;
    }
    false
}

/// 10,000 levels of nesting in one of several shapes, bare or inside an envelope.
pub fn deep_nesting(rng: &mut SmallRng, levels: usize) -> Vec<u8> {
    let (open, close, leaf): (&str, &str, &str) = match rng.random_range(0..3) {
        0 => ("[", "]", "1"),
        1 => ("{\"a\":", "}", "1"),
        _ => ("[{\"items\":", "}]", "[]"),
    };
    let closed = rng.random_bool(0.5);
    let mut nest = open.repeat(levels);
    if closed {
        nest.push_str(leaf);
        nest.push_str(&close.repeat(levels));
    }
    let body = match rng.random_range(0..3) {
        0 => nest,
        1 => format!(
            r#"{{"event":"order.created","merchant":1305146709,"data":{{"id":1,"items":{nest}}}}}"#
        ),
        _ => format!(r#"{{"event":{nest},"merchant":1,"data":{{}}}}"#),
    };
    body.into_bytes()
}

/// Valid JSON nested `levels` deep inside a real envelope's data: deeper than Klaviyo's limit
/// of 10 but within the parser's, so it reaches the mapping's property clamping.
pub fn nested_within_parser_limit(base: &Value, levels: usize) -> Value {
    let mut inner = json!("leaf");
    for i in 0..levels {
        inner = if i % 2 == 0 {
            json!({ "options": inner })
        } else {
            json!([inner])
        };
    }
    let mut v = base.clone();
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        data.insert("options".into(), inner.clone());
        if let Some(Value::Array(items)) = data.get_mut("items") {
            for item in items.iter_mut().filter_map(Value::as_object_mut) {
                item.insert("options".into(), inner.clone());
            }
        }
    }
    v
}

/// One huge string, array or object placed inside a real envelope.
pub fn huge(rng: &mut SmallRng, base: &Value) -> Value {
    let mut v = base.clone();
    let big = match rng.random_range(0..4) {
        0 => Value::String("ع".repeat(rng.random_range(50_000..500_000))),
        1 => Value::String("a".repeat(rng.random_range(100_000..1_000_000))),
        2 => Value::Array(vec![
            json!({"product_id": 1, "quantity": 1, "name": "x"});
            rng.random_range(5_000..60_000)
        ]),
        _ => Value::Object(
            (0..rng.random_range(1_000..20_000))
                .map(|i| (format!("k{i}"), json!(i)))
                .collect(),
        ),
    };
    if let Some(data) = v.get_mut("data").and_then(Value::as_object_mut) {
        let key =
            ["items", "name", "options", "customer", "notes", "email"][rng.random_range(0..6)];
        data.insert(key.into(), big);
    }
    v
}
