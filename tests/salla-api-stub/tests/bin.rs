//! The `salla-api-stub` binary: banner, a served request, summary at stdin EOF.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

#[tokio::test]
async fn binary_serves_and_prints_a_summary_at_stdin_eof() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_salla-api-stub"))
        .args(["--port", "0", "--token", "t1", "--orders", "30"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).expect("banner");
    let base = banner
        .trim()
        .strip_prefix("listening on ")
        .expect("banner")
        .to_owned();
    let r = reqwest::Client::new()
        .get(format!("{base}/orders"))
        .bearer_auth("t1")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["pagination"]["total"], 30);
    drop(child.stdin.take());
    let mut summary = String::new();
    stdout.read_line(&mut summary).expect("summary");
    let summary: Value = serde_json::from_str(&summary).expect("JSON line");
    assert_eq!(summary["requests"], 1);
    assert_eq!(summary["by_status"]["200"], 1);
    assert!(child.wait().expect("exit").success());
}

#[test]
fn bad_arguments_print_usage_and_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_salla-api-stub"))
        .args(["--orders", "many"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("usage: salla-api-stub"));
}
