//! 401 / 403 behaviour and the any-key mode.

use crate::common;

use common::{body, into_parts, send, stub};
use klaviyo_stub::{KlaviyoStub, REVISION, StubAccount};

async fn with_key(stub: &KlaviyoStub, auth: Option<&str>) -> (u16, Option<serde_json::Value>) {
    let mut rb = common::client()
        .get(format!("{}/api/accounts", stub.base_url))
        .header("revision", REVISION);
    if let Some(a) = auth {
        rb = rb.header("Authorization", a);
    }
    into_parts(rb.send().await.expect("send")).await
}

#[tokio::test]
async fn missing_or_malformed_authorization_is_401_and_a_violation() {
    let stub = stub().await;
    for auth in [
        None,
        Some(format!("Bearer {}", common::KEY)),
        Some("Klaviyo-API-Key ".into()),
    ] {
        let (status, json) = with_key(&stub, auth.as_deref()).await;
        assert_eq!(status, 401, "{auth:?}");
        assert_eq!(
            json.expect("body")["errors"][0]["code"],
            "not_authenticated"
        );
    }
    assert_eq!(stub.violations().len(), 3, "{:#?}", stub.violations());
}

#[tokio::test]
async fn unknown_key_is_401_but_not_a_violation() {
    let stub = stub().await;
    let (status, json) = with_key(&stub, Some("Klaviyo-API-Key pk_revoked")).await;
    assert_eq!(status, 401);
    assert_eq!(
        json.expect("body")["errors"][0]["code"],
        "authentication_failed"
    );
    assert!(stub.violations().is_empty());
    assert_eq!(stub.requests()[0].api_key.as_deref(), Some("pk_revoked"));
}

#[tokio::test]
async fn key_without_scopes_is_403_naming_the_missing_scopes() {
    let stub = stub().await;
    stub.add_account(
        "pk_narrow",
        StubAccount {
            name: "Narrow".into(),
            id: "Nar123".into(),
            scopes_ok: false,
        },
    );
    let (status, json) = with_key(&stub, Some("Klaviyo-API-Key pk_narrow")).await;
    assert_eq!(status, 403);
    let err = &json.expect("body")["errors"][0];
    assert_eq!(err["code"], "permission_denied");
    assert!(
        err["detail"]
            .as_str()
            .expect("detail")
            .contains("accounts:read"),
        "{err}"
    );

    let r = common::client()
        .post(format!("{}/api/events", stub.base_url))
        .header("Authorization", "Klaviyo-API-Key pk_narrow")
        .header("revision", REVISION)
        .header("Content-Type", "application/vnd.api+json")
        .body(body("create_event.json").to_string())
        .send()
        .await
        .expect("send");
    let (status, json) = into_parts(r).await;
    assert_eq!(status, 403);
    assert!(
        json.expect("body")["errors"][0]["detail"]
            .as_str()
            .expect("detail")
            .contains("events:write")
    );
    assert_eq!(stub.distinct_event_ids(), 0);
}

#[tokio::test]
async fn any_key_mode_accepts_every_pk_key_as_its_own_account() {
    let stub = KlaviyoStub::start().await;
    assert_eq!(
        with_key(&stub, Some("Klaviyo-API-Key pk_store_1")).await.0,
        401
    );
    stub.set_accept_any_key(true);
    let (s1, a1) = with_key(&stub, Some("Klaviyo-API-Key pk_store_1")).await;
    let (s2, a2) = with_key(&stub, Some("Klaviyo-API-Key pk_store_2")).await;
    assert_eq!((s1, s2), (200, 200));
    assert_ne!(
        a1.expect("body")["data"][0]["id"],
        a2.expect("body")["data"][0]["id"]
    );
    assert_eq!(
        with_key(&stub, Some("Klaviyo-API-Key sk_not_private"))
            .await
            .0,
        401
    );
    // The well-behaved client still works on a stub with accounts added explicitly.
    stub.add_account(common::KEY, StubAccount::new("x", "Xyz123"));
    assert_eq!(send(&stub, "GET", "/api/accounts", None).await.0, 200);
}
