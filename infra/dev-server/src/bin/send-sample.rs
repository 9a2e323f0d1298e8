//! Signs a Salla webhook body with the webhook secret and posts it to the running dev server,
//! so a newcomer can watch one event flow end to end:
//!
//!     cargo run -p dev-server --bin send-sample -- order.created
//!     cargo run -p dev-server --bin send-sample -- path/to/body.json --url http://127.0.0.1:3000/webhook --merchant 42
//!
//! A bare name is looked up in tests/fixtures/salla-samples. The secret is SALLA_WEBHOOK_SECRET, or
//! the dev server's development default.

use std::path::PathBuf;
use std::process::ExitCode;

const DEV_SECRET: &str = "dev-webhook-secret";

fn resolve(arg: &str) -> Option<PathBuf> {
    let direct = PathBuf::from(arg);
    if direct.is_file() {
        return Some(direct);
    }
    let samples =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/salla-samples");
    [samples.join(arg), samples.join(format!("{arg}.json"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// An app lifecycle event gets `created_at` = now: the samples carry old times, and the
/// intake ignores a lifecycle event sent long ago as a replay.
fn sent_now_if_lifecycle(body: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return body;
    };
    let lifecycle = v["event"].as_str().is_some_and(|e| e.starts_with("app."));
    if !lifecycle || !v.is_object() {
        return body;
    }
    v["created_at"] = adapters::clock::now_unix().into();
    serde_json::to_vec(&v).unwrap_or(body)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut file = None;
    let mut url = format!(
        "http://127.0.0.1:{}/webhook",
        std::env::var("PORT").unwrap_or_else(|_| "3000".into())
    );
    let mut merchant: Option<String> = None;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--url" => url = args.next().unwrap_or(url),
            "--merchant" => merchant = args.next(),
            "-h" | "--help" => {
                eprintln!(
                    "usage: send-sample <sample-name|file.json> [--url URL] [--merchant STORE_ID]"
                );
                return ExitCode::SUCCESS;
            }
            _ => file = Some(a),
        }
    }
    let Some(path) = file.as_deref().and_then(resolve) else {
        eprintln!("send-sample: give a sample name (e.g. order.created) or a JSON file");
        return ExitCode::FAILURE;
    };
    let mut body = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("send-sample: cannot read {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    };
    if let Some(m) = merchant {
        let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(&body) else {
            eprintln!("send-sample: --merchant needs a JSON object body");
            return ExitCode::FAILURE;
        };
        v["merchant"] = m
            .parse::<u64>()
            .map(Into::into)
            .unwrap_or_else(|_| m.into());
        body = serde_json::to_vec(&v).unwrap_or_default();
    }
    body = sent_now_if_lifecycle(body);
    let secret = std::env::var("SALLA_WEBHOOK_SECRET").unwrap_or_else(|_| DEV_SECRET.into());
    let signature = adapters::salla::signature::sign(secret.as_bytes(), &body);
    let resp = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("x-salla-security-strategy", "Signature")
        .header("x-salla-signature", signature)
        .body(body)
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status();
            println!("{} {}", status.as_u16(), r.text().await.unwrap_or_default());
            if status.is_success() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("send-sample: {url}: {e}");
            ExitCode::FAILURE
        }
    }
}
