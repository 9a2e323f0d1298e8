//! Malformed but authentic (correctly signed) bodies over HTTP: each gets a clear 4xx JSON
//! error naming the problem class, never a 5xx, never a hang, never an echo of the payload.
//! (intake.rs covers a few basic shapes and bad credentials; these are the harder ones.)

use std::time::Duration;

use e2e::harness::{Answer, GOOD_KEY, Harness, merchant_of, sample, sample_names};
use serde_json::{Value, json};

/// No answer may take longer than this: a hang is a failure, not a slow pass.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

async fn post(h: &Harness, body: &[u8]) -> Answer {
    tokio::time::timeout(ANSWER_WITHIN, h.post_signed(body))
        .await
        .unwrap_or_else(|_| {
            panic!(
                "no answer within {ANSWER_WITHIN:?} for a {}-byte body",
                body.len()
            )
        })
}

/// A store-connected harness, so that "no key yet → 200" cannot hide a parsing problem.
async fn harness() -> Harness {
    let h = Harness::start().await;
    for name in sample_names() {
        if let Some(store) = merchant_of(&sample(&name)) {
            h.connect(&store, GOOD_KEY).await;
        }
    }
    h.connect("1305146709", GOOD_KEY).await;
    h
}

/// A clear client error: the status, `ok: false`, a known error code, and a message that
/// repeats nothing from the body.
fn assert_clear_4xx(a: &Answer, status: u16, code: &str, body: &[u8], what: &str) {
    assert_eq!(a.status, status, "{what}: {}", a.body);
    assert_eq!(a.body["ok"], json!(false), "{what}: {}", a.body);
    assert_eq!(a.body["error"], json!(code), "{what}: {}", a.body);
    let message = a.body["message"].as_str().unwrap_or_default();
    assert!(
        !message.is_empty(),
        "{what}: the message explains the problem"
    );
    let text = String::from_utf8_lossy(body);
    for needle in ["@", "+966", "966501806978", "Mohammed"] {
        if text.contains(needle) {
            assert!(
                !a.body.to_string().contains(needle),
                "{what}: the answer echoes `{needle}`"
            );
        }
    }
}

fn with(base: &str, edit: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample(base)).unwrap();
    edit(&mut v);
    serde_json::to_vec(&v).unwrap()
}

#[tokio::test]
async fn wrongly_typed_envelopes_get_400_naming_the_field() {
    let h = harness().await;
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "merchant as object",
            with("order.created.json", |v| {
                v["merchant"] = json!({"id": 1305146709})
            }),
            "merchant",
        ),
        (
            "merchant as array",
            with("order.created.json", |v| {
                v["merchant"] = json!([1305146709])
            }),
            "merchant",
        ),
        (
            "merchant negative",
            with("order.created.json", |v| v["merchant"] = json!(-5)),
            "merchant",
        ),
        (
            "data as string",
            with("order.created.json", |v| v["data"] = json!("{\"id\":1}")),
            "data",
        ),
        (
            "data as array",
            with("customer.login.json", |v| v["data"] = json!([{"id": 1}])),
            "data",
        ),
        (
            "event as number",
            with("order.created.json", |v| v["event"] = json!(42)),
            "event",
        ),
        (
            "event as object",
            with("order.created.json", |v| {
                v["event"] = json!({"name": "order.created"})
            }),
            "event",
        ),
        (
            "event empty",
            with("order.created.json", |v| v["event"] = json!("  ")),
            "event",
        ),
    ];
    for (what, body, field) in cases {
        let a = post(&h, &body).await;
        assert_clear_4xx(&a, 400, "bad_body", &body, what);
        let message = a.body["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(field),
            "{what}: the message names `{field}`: {message}"
        );
    }
    assert!(
        h.klaviyo.requests().is_empty(),
        "nothing malformed reaches Klaviyo"
    );
}

#[tokio::test]
async fn empty_non_utf8_and_deeply_nested_bodies_get_400() {
    let h = harness().await;
    let login = sample("customer.login.json");
    let mut latin1 = login.clone();
    // "User" → "Us\xe9r": a Latin-1 byte where UTF-8 is required.
    let at = latin1.windows(4).position(|w| w == b"User").unwrap();
    latin1[at + 2] = 0xe9;
    let mut overlong = login.clone();
    overlong.splice(at..at, [0xc0, 0x80]);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty body", Vec::new()),
        ("whitespace only", b"  \n\t ".to_vec()),
        ("JSON null", b"null".to_vec()),
        ("a bare string", b"\"order.created\"".to_vec()),
        ("Latin-1 byte inside a string", latin1),
        ("overlong NUL encoding", overlong),
        ("UTF-16 with BOM", "{\"event\":\"x\"}".encode_utf16().flat_map(u16::to_le_bytes).collect()),
        ("100k opening brackets", vec![b'['; 100_000]),
        ("100k balanced brackets", [vec![b'['; 100_000], vec![b']'; 100_000]].concat()),
        (
            "nesting inside data",
            format!(
                r#"{{"event":"order.created","merchant":1305146709,"data":{{"id":1,"items":{}1{}}}}}"#,
                "[".repeat(50_000),
                "]".repeat(50_000)
            )
            .into_bytes(),
        ),
        ("100k nested objects", "{\"a\":".repeat(100_000).into_bytes()),
    ];
    for (what, body) in cases {
        let a = post(&h, &body).await;
        assert_clear_4xx(&a, 400, "bad_body", &body, what);
    }
    assert!(h.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn oversized_bodies_get_413_before_anything_else() {
    let h = harness().await;
    // Just over the intake's 1 MiB cap, as valid JSON, signed.
    let padding = "x".repeat(webhook_intake::deps::MAX_BODY_BYTES);
    let big = with("customer.login.json", |v| {
        v["data"]["notes"] = json!(padding)
    });
    let a = post(&h, &big).await;
    assert_clear_4xx(&a, 413, "too_large", &big, "1 MiB + JSON");
    // Past the dev server's own 6 MiB transport cap: refused before the handler runs.
    let huge = vec![b'{'; 7 * 1024 * 1024];
    let a = post(&h, &huge).await;
    assert_eq!(a.status, 413, "{}", a.body);
    assert_eq!(a.body["error"], "too_large");
    assert!(h.klaviyo.requests().is_empty());
}

#[tokio::test]
async fn every_truncation_of_a_sample_is_a_400_unless_it_is_still_whole_json() {
    let h = harness().await;
    let body = sample("customer.login.json");
    let mut cut_400 = 0;
    for len in 0..body.len() {
        let prefix = &body[..len];
        let a = post(&h, prefix).await;
        if serde_json::from_slice::<Value>(prefix).is_ok() {
            assert_eq!(
                a.status, 200,
                "a {len}-byte prefix that is whole JSON: {}",
                a.body
            );
        } else {
            assert_clear_4xx(&a, 400, "bad_body", prefix, &format!("cut at {len}"));
            cut_400 += 1;
        }
    }
    assert!(cut_400 > 1_000, "{cut_400}");
}

/// Small deterministic generator (xorshift): the e2e crate does not pull in the fuzz crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn random_value(rng: &mut Rng, depth: usize) -> Value {
    match rng.below(if depth == 0 { 5 } else { 7 }) {
        0 => Value::Null,
        1 => json!(rng.below(2) == 0),
        2 => [
            json!(0),
            json!(-1),
            json!(1e300),
            json!(u64::MAX),
            json!(1.5),
        ][rng.below(5)]
        .clone(),
        3 => json!(["", " ", "عميل", "+966500000000", "x@y", "2024-13-45", "0"][rng.below(7)]),
        4 => json!("ب".repeat(rng.below(3000))),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth - 1))
                .collect(),
        ),
        _ => {
            let keys = [
                "id", "name", "email", "mobile", "items", "customer", "amounts", "status",
                "product", "total",
            ];
            Value::Object(
                (0..rng.below(5))
                    .map(|_| {
                        (
                            keys[rng.below(keys.len())].to_string(),
                            random_value(rng, depth - 1),
                        )
                    })
                    .collect(),
            )
        }
    }
}

/// Replaces the `n`-th node (pre-order) of `v`; returns how many nodes were passed.
fn replace_nth(v: &mut Value, n: &mut usize, with: &mut Option<Value>) {
    if *n == 0 {
        if let Some(w) = with.take() {
            *v = w;
        }
        return;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().for_each(|c| replace_nth(c, n, with)),
        Value::Object(m) => m.values_mut().for_each(|c| replace_nth(c, n, with)),
        _ => {}
    }
}

#[tokio::test]
async fn thousands_of_generated_signed_bodies_never_get_a_5xx() {
    let h = harness().await;
    let bases: Vec<Vec<u8>> = sample_names()
        .iter()
        .filter(|n| !n.starts_with("app.") && !n.starts_with("oauth2."))
        .map(|n| sample(n))
        .collect();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut bodies = Vec::new();
    for i in 0..3_000 {
        let base = &bases[i % bases.len()];
        let body = match rng.below(4) {
            // Byte edits.
            0 => {
                let mut b = base.clone();
                for _ in 0..=rng.below(6) {
                    let at = rng.below(b.len());
                    b[at] = (rng.next() & 0xff) as u8;
                }
                b
            }
            // Truncation.
            1 => base[..rng.below(base.len())].to_vec(),
            // Type swaps anywhere in the tree, merchant kept valid most of the time.
            _ => {
                let mut v: Value = serde_json::from_slice(base).unwrap();
                for _ in 0..=rng.below(3) {
                    let mut n = rng.below(200);
                    let mut with = Some(random_value(&mut rng, 3));
                    if let Some(data) = v.get_mut("data") {
                        replace_nth(data, &mut n, &mut with);
                    }
                }
                serde_json::to_vec(&v).unwrap()
            }
        };
        bodies.push(body);
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for body in &bodies {
        let a = post(&h, body).await;
        *statuses.entry(a.status).or_default() += 1;
        assert!(
            a.status < 500,
            "{} for a generated body: {} (body starts {:?})",
            a.status,
            a.body,
            String::from_utf8_lossy(&body[..body.len().min(120)])
        );
        if a.status != 200 {
            assert!(
                a.body["error"].is_string(),
                "a 4xx names its error: {}",
                a.body
            );
        }
    }
    eprintln!("generated bodies by status: {statuses:?}");
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 300,
        "{statuses:?}"
    );
    assert!(
        statuses.get(&400).copied().unwrap_or(0) > 300,
        "{statuses:?}"
    );
}
