//! `--key-store dynamodb`: a table and a KMS key on moto for the dev server, and moto's request
//! recorder to count the DynamoDB and KMS calls made while the load runs.

use serde_json::{Value, json};

pub struct MotoSetup {
    pub url: String,
    pub table: String,
    pub kms_key_id: String,
}

async fn call(
    client: &reqwest::Client,
    url: &str,
    service: &str,
    target: &str,
    body: Value,
) -> Result<Value, String> {
    let content_type = if service == "dynamodb" {
        "application/x-amz-json-1.0"
    } else {
        "application/x-amz-json-1.1"
    };
    // Moto reads the region and service from the credential scope; the signature is not checked.
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=00"
    );
    let resp = client
        .post(url)
        .header("content-type", content_type)
        .header("x-amz-target", target)
        .header("authorization", auth)
        .body(body.to_string())
        .send()
        .await
        .map_err(|e| format!("moto {target}: {e}"))?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    if !status.is_success() {
        return Err(format!("moto {target}: HTTP {status}: {text}"));
    }
    serde_json::from_str(&text).map_err(|_| format!("moto {target}: not JSON"))
}

pub async fn setup(client: &reqwest::Client, url: &str) -> Result<MotoSetup, String> {
    let key = call(
        client,
        url,
        "kms",
        "TrentService.CreateKey",
        json!({"Description": "load run"}),
    )
    .await?;
    let kms_key_id = key["KeyMetadata"]["KeyId"]
        .as_str()
        .ok_or("moto CreateKey: no KeyId")?
        .to_string();
    let table = format!("load-{:08x}", rand::random::<u32>());
    call(
        client,
        url,
        "dynamodb",
        "DynamoDB_20120810.CreateTable",
        json!({
            "TableName": table,
            "AttributeDefinitions": [{"AttributeName": "store_id", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "store_id", "KeyType": "HASH"}],
            "BillingMode": "PAY_PER_REQUEST"
        }),
    )
    .await?;
    Ok(MotoSetup {
        url: url.trim_end_matches('/').to_string(),
        table,
        kms_key_id,
    })
}

/// Starts moto's recorder with an empty log.
pub async fn start_recording(client: &reqwest::Client, url: &str) -> Result<(), String> {
    for step in ["reset-recording", "start-recording"] {
        client
            .post(format!("{url}/moto-api/recorder/{step}"))
            .send()
            .await
            .map_err(|e| format!("moto recorder {step}: {e}"))?;
    }
    Ok(())
}

/// Stops the recorder; counts (DynamoDB GetItem, KMS Decrypt, all requests) recorded since start.
pub async fn stop_and_count(
    client: &reqwest::Client,
    url: &str,
) -> Result<(u64, u64, u64), String> {
    client
        .post(format!("{url}/moto-api/recorder/stop-recording"))
        .send()
        .await
        .map_err(|e| format!("moto recorder stop: {e}"))?;
    let log = client
        .get(format!("{url}/moto-api/recorder/download-recording"))
        .send()
        .await
        .map_err(|e| format!("moto recorder download: {e}"))?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let lines: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).collect();
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count() as u64;
    Ok((
        count("DynamoDB_20120810.GetItem"),
        count("TrentService.Decrypt"),
        lines.len() as u64,
    ))
}
