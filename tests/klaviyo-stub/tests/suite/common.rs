//! Shared helpers: a well-behaved client (right headers) and the reference request bodies.
#![allow(dead_code)]

use klaviyo_stub::{KlaviyoStub, REVISION, StubAccount};
use serde_json::Value;

pub const KEY: &str = "pk_test_0123456789abcdef";

/// A stub with one account (`KEY`, "متجر نورة", `AbC123`).
pub async fn stub() -> KlaviyoStub {
    let stub = KlaviyoStub::start().await;
    stub.add_account(KEY, StubAccount::new("متجر نورة", "AbC123"));
    stub
}

/// The reference bodies spec-check's tests use (`tests/spec-check/tests/bodies/`).
pub fn body(name: &str) -> Value {
    let path = format!(
        "{}/../spec-check/tests/bodies/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().build().expect("client")
}

/// A request with every header Klaviyo wants.
pub fn request(
    stub: &KlaviyoStub,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> reqwest::RequestBuilder {
    request_with(&client(), stub, method, path, body)
}

/// Same as [`request`] on a given client (keeps connections alive across requests).
pub fn request_with(
    client: &reqwest::Client,
    stub: &KlaviyoStub,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> reqwest::RequestBuilder {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut rb = client
        .request(method, format!("{}{path}", stub.base_url))
        .header("Authorization", format!("Klaviyo-API-Key {KEY}"))
        .header("revision", REVISION)
        .header("Accept", "application/vnd.api+json")
        .header("X-Klaviyo-User-Agent", "klaviyo-for-salla/test");
    if let Some(b) = body {
        rb = rb
            .header("Content-Type", "application/vnd.api+json")
            .body(b.to_string());
    }
    rb
}

/// Sends and returns (status, parsed JSON body or None when empty).
pub async fn send(
    stub: &KlaviyoStub,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, Option<Value>) {
    into_parts(
        request(stub, method, path, body)
            .send()
            .await
            .expect("send"),
    )
    .await
}

pub async fn into_parts(resp: reqwest::Response) -> (u16, Option<Value>) {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.expect("body");
    let json = if bytes.is_empty() {
        None
    } else {
        Some(serde_json::from_slice(&bytes).expect("JSON body"))
    };
    (status, json)
}

/// An event body with the given profile email, metric name and unique_id.
pub fn event(email: &str, metric: &str, unique_id: Option<&str>) -> Value {
    let mut b = body("create_event.json");
    let attrs = &mut b["data"]["attributes"];
    attrs["profile"]["data"]["attributes"] = serde_json::json!({ "email": email });
    attrs["metric"]["data"]["attributes"]["name"] = Value::from(metric);
    match unique_id {
        Some(u) => attrs["unique_id"] = Value::from(u),
        None => {
            attrs
                .as_object_mut()
                .expect("attributes")
                .remove("unique_id");
        }
    }
    b
}
