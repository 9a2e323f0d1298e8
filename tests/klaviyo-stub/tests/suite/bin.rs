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
