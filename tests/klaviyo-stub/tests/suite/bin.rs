//! The `klaviyo-stub` binary: banner line, any-key mode, summary on stdin EOF.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

#[tokio::test]
async fn binary_serves_and_prints_a_summary_at_stdin_eof() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_klaviyo-stub"))
        .args(["--port", "0", "--latency-ms", "20", "--accept-any-key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn klaviyo-stub");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("banner");
    let base = banner
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected banner {banner:?}"))
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");

    let r = reqwest::Client::new()
        .get(format!("{base}/api/accounts"))
        .header("Authorization", "Klaviyo-API-Key pk_any_store")
        .header("revision", "2026-07-15")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let r = reqwest::Client::new()
        .get(format!("{base}/api/nope"))
        .header("Authorization", "Klaviyo-API-Key pk_any_store")
        .header("revision", "2026-07-15")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 404);

    drop(child.stdin.take()); // EOF
    let mut summary = String::new();
    stdout.read_line(&mut summary).expect("summary");
    let summary: Value = serde_json::from_str(&summary).expect("one JSON line");
    assert_eq!(summary["requests"], 2);
    assert_eq!(summary["violations"], 1);
    assert_eq!(summary["distinct_events"], 0);
    assert_eq!(summary["by_status"]["200"], 1);
    let status = child.wait().expect("exit");
    assert_eq!(status.code(), Some(1), "violations make the run fail");
}

#[test]
fn bad_arguments_print_usage_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_klaviyo-stub"))
        .arg("--latency-ms")
        .arg("soon")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: klaviyo-stub"));
}

#[cfg(unix)]
#[test]
fn binary_with_ignore_stdin_keeps_running_until_sigint() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_klaviyo-stub"))
        .args(["--ignore-stdin"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn klaviyo-stub");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("banner");
    assert!(
        banner.starts_with("listening on http://127.0.0.1:"),
        "{banner:?}"
    );
    // stdin is already at EOF; the stub must still be up.
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(
        child.try_wait().expect("try_wait").is_none(),
        "exited at stdin EOF"
    );

    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(killed.success());
    let mut summary = String::new();
    stdout.read_line(&mut summary).expect("summary");
    let summary: Value = serde_json::from_str(&summary).expect("one JSON line");
    assert_eq!(summary["requests"], 0);
    assert_eq!(child.wait().expect("exit").code(), Some(0));
}

#[tokio::test]
async fn binary_rate_limit_flag_throttles_and_writes_landings() {
    let dir = std::env::temp_dir().join(format!("klaviyo-stub-landings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let landings = dir.join("landings.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_klaviyo-stub"))
        .args(["--accept-any-key", "--rate-limits", "klaviyo", "--landings"])
        .arg(&landings)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn klaviyo-stub");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("banner");
    let base = banner
        .trim()
        .strip_prefix("listening on ")
        .expect("banner")
        .to_owned();

    // GET /api/accounts allows one request a second: three in a row cross at most one
    // second boundary, so at least one is refused.
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = client
            .get(format!("{base}/api/accounts"))
            .header("Authorization", "Klaviyo-API-Key pk_any_store")
            .header("revision", "2026-07-15")
            .send()
            .await
            .expect("request");
        let status = r.status().as_u16();
        if status == 429 {
            assert!(r.headers().get("retry-after").is_some());
        }
        statuses.push(status);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let event = crate::common::event("shopper@example.com", "Placed Order", Some("o-1"));
    let r = client
        .post(format!("{base}/api/events"))
        .header("Authorization", "Klaviyo-API-Key pk_any_store")
        .header("revision", "2026-07-15")
        .header("Content-Type", "application/vnd.api+json")
        .body(event.to_string())
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 202);

    drop(child.stdin.take());
    let mut summary = String::new();
    stdout.read_line(&mut summary).expect("summary");
    let summary: Value = serde_json::from_str(&summary).expect("one JSON line");
    assert_eq!(summary["rate_limits"], "klaviyo");
    assert!(summary["throttled"].as_u64() >= Some(1), "{summary}");
    assert!(summary["last_new_event_unix_ms"].as_u64().is_some());
    assert_eq!(child.wait().expect("exit").code(), Some(0));
    let text = std::fs::read_to_string(&landings).expect("landings file");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["unique_id"], "o-1");
    assert_eq!(lines[0]["duplicates"], 0);
    let _ = std::fs::remove_dir_all(&dir);
}
