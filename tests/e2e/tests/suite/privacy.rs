//! The privacy promise, checked on everything a process wrote: the whole sample corpus goes
//! through the intake (lifecycle events included, plus bad-signature, truncated and
//! Klaviyo-failure variants so that warning and error paths log too), in a child process
//! that logs exactly as the dev server and the Lambdas do (`adapters::logging::init`, JSON to
//! stdout) and keeps its keys in an embedded key store under a temporary DATA_DIR. The parent
//! then scans the child's stdout, stderr and every file under DATA_DIR for every email, phone
//! (raw, +966…, 966…, 0…), first/last/full name, Salla token and Klaviyo key from the inputs.
//! Zero hits are allowed, except two canaries the child plants on purpose, which the scanner
//! must find: that is what shows the scan can fail.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use adapters::config::{Config, Profile};
use e2e::harness::{Harness, fast_policy, fresh, merchant_of, sample, sample_names, sign};
use klaviyo_stub::{Fault, StubAccount};
use serde_json::{Value, json};

/// The Klaviyo key the child connects every store with, and one the stub rejects.
const PRIVACY_KEY: &str = "pk_privacy_check_7f3a9c21d4";
const REJECTED_KEY: &str = "pk_privacy_rejected_5b8e02";
const REVOKED_KEY: &str = "pk_privacy_revoked_key_never_added";
/// Planted by the child: one in its log output, one in a file under DATA_DIR.
const CANARY_EMAIL: &str = "canary.planted@example.test";
const CANARY_MOBILE: (&str, &str) = ("+966", "511122233");

// ---------------------------------------------------------------------------------------------
// What to look for.

fn phone_forms(code: Option<&str>, mobile: &str) -> Vec<String> {
    let digits: String = mobile.chars().filter(char::is_ascii_digit).collect();
    let mut forms = vec![mobile.to_string(), digits.clone()];
    if let Some(code) = code {
        let code_digits: String = code.chars().filter(char::is_ascii_digit).collect();
        forms.push(format!("+{code_digits}{digits}"));
        forms.push(format!("{code_digits}{digits}"));
        forms.push(format!("0{digits}"));
    }
    forms
}

/// Every personal value and secret in a JSON tree. Names count only in objects that describe
/// a person (they also hold an email or a mobile), so product and status names are not
/// mistaken for shoppers.
fn collect(v: &Value, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            let text = |k: &str| match map.get(k) {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_string()),
                Some(Value::Number(n)) => Some(n.to_string()),
                _ => None,
            };
            let person = map.contains_key("email")
                || map.contains_key("mobile")
                || map.contains_key("phone");
            if let Some(e) = text("email") {
                out.insert(e);
            }
            for key in ["mobile", "phone"] {
                if let Some(m) = text(key) {
                    out.extend(phone_forms(text("mobile_code").as_deref(), &m));
                }
            }
            if person {
                for key in ["first_name", "last_name", "name", "full_name"] {
                    if let Some(n) = text(key) {
                        out.insert(n);
                    }
                }
            }
            for key in ["access_token", "refresh_token", "klaviyo_private_key"] {
                if let Some(s) = text(key) {
                    out.insert(s);
                }
            }
            map.values().for_each(|c| collect(c, out));
        }
        Value::Array(items) => items.iter().for_each(|c| collect(c, out)),
        _ => {}
    }
}

fn needles() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for name in sample_names() {
        if let Ok(v) = serde_json::from_slice::<Value>(&sample(&name)) {
            collect(&v, &mut out);
        }
    }
    out.insert(PRIVACY_KEY.into());
    out.insert(REJECTED_KEY.into());
    out.insert(REVOKED_KEY.into());
    out.insert(CANARY_EMAIL.into());
    out.extend(phone_forms(Some(CANARY_MOBILE.0), CANARY_MOBILE.1));
    // Very short values ("SA", "1") would match anything and identify no one.
    out.retain(|n| n.chars().count() >= 5);
    out
}

/// Whether `needle` occurs in `haystack`, ignoring ASCII case. A needle of digits only (a
/// phone in one of its forms) counts only as a whole number: inside a longer one, such as a
/// latency's float tail (`1.2010999…`), it names no one, while `+966…`, `tel:0…` or `"966…"`
/// all still match.
fn contains_ci(haystack: &[u8], needle: &str) -> bool {
    let needle = needle.as_bytes().to_ascii_lowercase();
    let digits_only = needle.iter().all(u8::is_ascii_digit);
    let digit = |i: usize| haystack.get(i).is_some_and(u8::is_ascii_digit);
    let dot = |i: usize| haystack.get(i) == Some(&b'.');
    // The number goes on before `at` or after `end`: a digit, or a decimal point then a digit.
    let joined_before =
        |at: usize| at >= 1 && (digit(at - 1) || (at >= 2 && dot(at - 1) && digit(at - 2)));
    let joined_after = |end: usize| digit(end) || (dot(end) && digit(end + 1));
    haystack.windows(needle.len()).enumerate().any(|(at, w)| {
        w.eq_ignore_ascii_case(&needle)
            && !(digits_only && (joined_before(at) || joined_after(at + needle.len())))
    })
}

/// (where, needle) for every needle found in `haystack`.
fn scan(
    place: &str,
    haystack: &[u8],
    needles: &BTreeSet<String>,
    hits: &mut Vec<(String, String)>,
) {
    for n in needles {
        if contains_ci(haystack, n) {
            hits.push((place.to_string(), n.clone()));
        }
    }
}

fn scan_dir(
    dir: &Path,
    needles: &BTreeSet<String>,
    hits: &mut Vec<(String, String)>,
    files: &mut usize,
) {
    for entry in std::fs::read_dir(dir).expect("read DATA_DIR").flatten() {
        let path = entry.path();
        if path.is_dir() {
            scan_dir(&path, needles, hits, files);
        } else {
            *files += 1;
            let bytes = std::fs::read(&path).expect("read a data file");
            scan(&path.display().to_string(), &bytes, needles, hits);
        }
    }
}

#[test]
fn the_scanner_finds_every_form_of_a_planted_value() {
    let needles = needles();
    let mut hits = Vec::new();
    let line = format!(r#"{{"level":"INFO","fields":{{"x":"{CANARY_EMAIL}","p":"0511122233"}}}}"#);
    scan("line", line.to_uppercase().as_bytes(), &needles, &mut hits);
    let found: BTreeSet<&str> = hits.iter().map(|(_, n)| n.as_str()).collect();
    assert!(found.contains(CANARY_EMAIL), "{found:?}");
    assert!(found.contains("0511122233"), "{found:?}");
    // A phone's digits inside a longer number (a float's tail) are not a phone; the same
    // digits standing alone, after `+` or inside a string, are.
    for (text, leak) in [
        (r#"{"latency_ms":1.201099999999}"#, false),
        (r#"{"id":92010999999990}"#, false),
        (r#"{"p":"+201099999999"}"#, true),
        (r#"{"p":"201099999999"}"#, true),
        (r#"tel:201099999999."#, true),
    ] {
        let mut hits = Vec::new();
        scan("line", text.as_bytes(), &needles, &mut hits);
        let found = hits.iter().any(|(_, n)| n.contains("201099999999"));
        assert_eq!(found, leak, "{text}: {hits:?}");
    }
    // The corpus's own values are in the list in all their forms.
    for expected in [
        "test@gmail.com",
        "+966555555555",
        "966555555555",
        "555555555",
        "Mohammed",
        "User Name",
    ] {
        assert!(
            needles.contains(expected),
            "{expected} missing from {needles:?}"
        );
    }
}

#[test]
fn the_corpus_leaves_no_personal_data_in_logs_or_the_data_dir() {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let exe = std::env::current_exe().expect("test binary");
    let child = match module_path!().split_once("::") {
        Some((_, module)) => format!("{module}::child_run_the_corpus"),
        None => "child_run_the_corpus".to_owned(),
    };
    let out = Command::new(exe)
        .args([
            child.as_str(),
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PRIVACY_DATA_DIR", data_dir.path())
        // Our crates at their most verbose; dependencies at the production default.
        .env(
            "RUST_LOG",
            "info,webhook_intake=trace,adapters=trace,dev_server=trace,mapping=trace",
        )
        .output()
        .expect("run the child");
    let stdout = out.stdout.clone();
    let stderr = out.stderr.clone();
    let text = String::from_utf8_lossy(&stdout);
    assert!(
        out.status.success() && text.contains("test result: ok. 1 passed"),
        "the child failed or did not run:\n{text}\n{}",
        String::from_utf8_lossy(&stderr)
    );
    let log_lines = text.lines().filter(|l| l.starts_with('{')).count();
    assert!(
        log_lines > 100,
        "the child logged one line per webhook at least: {log_lines}"
    );

    let needles = needles();
    let mut hits = Vec::new();
    scan("stdout", &stdout, &needles, &mut hits);
    scan("stderr", &stderr, &needles, &mut hits);
    let mut files = 0;
    scan_dir(data_dir.path(), &needles, &mut hits, &mut files);
    assert!(files >= 2, "the key store wrote its files ({files})");

    // The canaries must be found where they were planted: the scan works on both sources.
    let canary_phone = format!("{}{}", CANARY_MOBILE.0, CANARY_MOBILE.1);
    assert!(
        hits.iter().any(|(p, n)| p == "stdout" && n == CANARY_EMAIL),
        "{hits:?}"
    );
    assert!(
        hits.iter()
            .any(|(p, n)| p.ends_with("canary.txt") && *n == canary_phone),
        "{hits:?}"
    );
    let canaries = phone_forms(Some(CANARY_MOBILE.0), CANARY_MOBILE.1);
    let leaks: Vec<_> = hits
        .iter()
        .filter(|(_, n)| n != CANARY_EMAIL && !canaries.contains(n))
        .collect();
    eprintln!(
        "scanned {} bytes of output ({log_lines} log lines) and {files} files for {} values: {} canary hits, {} leaks",
        stdout.len() + stderr.len(),
        needles.len(),
        hits.len() - leaks.len(),
        leaks.len()
    );
    assert!(
        leaks.is_empty(),
        "personal data or secrets written by the process: {leaks:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Child side.

fn readdress(body: &[u8], merchant: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(body).unwrap();
    v["merchant"] = json!(merchant.parse::<u64>().unwrap());
    serde_json::to_vec(&v).unwrap()
}

fn settings(merchant: &str, key: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_slice(&sample("app.settings.updated.json")).unwrap();
    v["data"]["settings"]["klaviyo_private_key"] = json!(key);
    fresh(&readdress(&serde_json::to_vec(&v).unwrap(), merchant))
}

#[tokio::test]
#[ignore = "run by the_corpus_leaves_no_personal_data_in_logs_or_the_data_dir in a child process"]
async fn child_run_the_corpus() {
    let data_dir =
        std::env::var("PRIVACY_DATA_DIR").expect("PRIVACY_DATA_DIR: run by the parent test");
    adapters::logging::init();
    let nowhere = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let (config, _) = Config::from_lookup(
        |k| match k {
            "KEY_STORE" => Some("embedded".into()),
            "DATA_DIR" => Some(data_dir.clone()),
            _ => None,
        },
        Profile::Dev { port: 0 },
    )
    .unwrap();
    let store = adapters::keystore::build(&config)
        .await
        .expect("embedded key store");
    let h = Harness::start_with(
        store,
        fast_policy(),
        &[
            ("SALLA_API_URL", nowhere.as_str()),
            ("SALLA_ACCOUNTS_URL", nowhere.as_str()),
        ],
    )
    .await;
    h.klaviyo
        .add_account(PRIVACY_KEY, StubAccount::new("Privacy", "PrV123"));

    let names = sample_names();
    let merchants: BTreeSet<String> = names
        .iter()
        .filter_map(|n| merchant_of(&sample(n)))
        .collect();
    // Salla tokens (expired, so cart enrichment tries a refresh) and a Klaviyo key per store.
    for m in &merchants {
        assert_eq!(
            h.post_signed(&fresh(&readdress(&sample("app.store.authorize.json"), m)))
                .await
                .status,
            200
        );
        let a = h.post_signed(&settings(m, PRIVACY_KEY)).await;
        assert_eq!(a.body["outcome"], "klaviyo_key_stored", "{}", a.body);
    }
    // A key Klaviyo refuses: logged as rejected, never stored.
    h.post_signed(&settings("193718979", REJECTED_KEY)).await;

    let store_events: Vec<&String> = names.iter().filter(|n| !n.starts_with("app.")).collect();
    for name in &store_events {
        let body = sample(name);
        h.post_signed(&body).await;
        // Bad signature, truncated body: the 401 and 400 paths log too.
        h.post(&body, &[("x-salla-signature", &sign(b"other"))])
            .await;
        h.post_signed(&body[..body.len() / 2]).await;
    }
    // Klaviyo failing: 503s, a rate limit, a phone Klaviyo refuses, a revoked key.
    h.klaviyo.push_fault(Fault::Status {
        status: 503,
        retry_after: None,
        times: 6,
    });
    h.klaviyo.push_fault(Fault::Status {
        status: 429,
        retry_after: Some(0),
        times: 2,
    });
    h.klaviyo.duplicate_profile_phone("+966501806978");
    for name in &store_events {
        h.post_signed(&sample(name)).await;
    }
    h.post_signed(&settings(
        "1305146709",
        "pk_privacy_revoked_key_never_added",
    ))
    .await;
    // The lifecycle samples as Salla sends them, uninstall last (one store stays on disk).
    for name in names.iter().filter(|n| n.starts_with("app.")) {
        h.post_signed(&fresh(&sample(name))).await;
    }
    assert!(
        !h.klaviyo.requests().is_empty(),
        "the corpus reached Klaviyo"
    );

    // Canaries: the parent's scan must find these two.
    println!("canary {CANARY_EMAIL}");
    std::fs::write(
        Path::new(&data_dir).join("canary.txt"),
        format!("{}{}", CANARY_MOBILE.0, CANARY_MOBILE.1),
    )
    .unwrap();
}
