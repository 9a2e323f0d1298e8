//! One Klaviyo profile per shopper, against the Klaviyo stub with the real client: a shopper
//! first seen by phone only, then known by email, then imported with both ends as one profile
//! holding both identifiers and every event; a phone-only profile that might be someone else
//! is never merged.

use std::time::Duration;

use adapters::Secret;
use adapters::klaviyo::profiles::{self, Resolution};
use adapters::klaviyo::{KlaviyoApi, KlaviyoClient};
use klaviyo_stub::{KlaviyoStub, StubAccount};
use serde_json::{Value, json};
use tokio::time::Instant;

const KEY: &str = "pk_profiles_0123456789abcdefWXYZ";
const EMAIL: &str = "noura@example.com";
const PHONE: &str = "+966500000123";
const EXTERNAL: &str = "salla:1803665367:customer:77";

async fn stub() -> (KlaviyoStub, KlaviyoClient) {
    let stub = KlaviyoStub::start().await;
    stub.add_account(KEY, StubAccount::new("Store", "AbC123"));
    let client = KlaviyoClient::new(&stub.base_url);
    (stub, client)
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(5)
}

async fn event(client: &KlaviyoClient, metric: &str, unique: &str, profile: Value) {
    let body = json!({"data": {"type": "event", "attributes": {
        "properties": {"Source": "test"},
        "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
        "profile": {"data": {"type": "profile", "attributes": profile}},
        "unique_id": unique
    }}});
    let d = client
        .call(
            &Secret::new(KEY),
            "POST",
            "/api/events",
            Some(&body),
            deadline(),
        )
        .await
        .unwrap();
    assert_eq!(d.status, 202);
}

fn import(attrs: Value) -> Value {
    json!({"data": {"type": "profile", "attributes": attrs}})
}

/// The relay's path for a profile import: send; on 409 duplicate_profile, resolve.
async fn import_profile(client: &KlaviyoClient, body: &Value) -> (u16, Option<Resolution>) {
    let key = Secret::new(KEY);
    let first = client
        .call(&key, "POST", "/api/profile-import", Some(body), deadline())
        .await
        .unwrap();
    let Some(dup) = first
        .error
        .as_ref()
        .filter(|e| first.status == 409 && e.code == "duplicate_profile")
        .and_then(|e| e.duplicate_profile_id.clone())
    else {
        return (first.status, None);
    };
    let r = profiles::resolve_duplicate(client, &key, body, &dup, deadline())
        .await
        .unwrap();
    (first.status, Some(r))
}

#[tokio::test]
async fn a_phone_only_shopper_later_seen_with_email_ends_as_one_profile_with_every_event() {
    let (stub, client) = stub().await;
    // A cart by phone only, then an account created by email only: two profiles.
    event(
        &client,
        "Started Checkout",
        "cart-1",
        json!({"phone_number": PHONE}),
    )
    .await;
    event(
        &client,
        "Created Account",
        "acct-1",
        json!({"email": EMAIL, "external_id": EXTERNAL}),
    )
    .await;
    let phone_profile = stub.profile_with(&format!("phone_number:{PHONE}")).unwrap();
    let email_profile = stub.profile_with(&format!("email:{EMAIL}")).unwrap();
    assert_ne!(phone_profile, email_profile);

    let body = import(
        json!({"email": EMAIL, "phone_number": PHONE, "external_id": EXTERNAL, "first_name": "Noura"}),
    );
    let (status, resolution) = import_profile(&client, &body).await;
    assert_eq!(status, 409, "the stub names both profiles as Klaviyo does");
    let Some(Resolution::Merged { delivery }) = resolution else {
        panic!("expected a merge, got {resolution:?}");
    };
    assert!(delivery.is_success(), "{delivery:?}");

    assert_eq!(stub.profile_count(), 1);
    let ids = stub.profile_identifiers(&email_profile);
    assert!(ids.contains(&format!("email:{EMAIL}")), "{ids:?}");
    assert!(ids.contains(&format!("phone_number:{PHONE}")), "{ids:?}");
    assert!(ids.contains(&format!("external_id:{EXTERNAL}")), "{ids:?}");
    let events = stub.profile_events(&email_profile);
    let metrics: Vec<&str> = events.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(metrics, ["Created Account", "Started Checkout"]);
    assert!(stub.profile_events(&phone_profile).is_empty());

    // A later event carrying both identifiers lands on the same profile, and a second import
    // is a plain update.
    event(
        &client,
        "Placed Order",
        "order-1",
        json!({"email": EMAIL, "phone_number": PHONE}),
    )
    .await;
    assert_eq!(stub.profile_events(&email_profile).len(), 3);
    assert_eq!(import_profile(&client, &body).await.0, 200);
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
    let merges: Vec<_> = stub
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/profile-merge")
        .collect();
    assert_eq!(merges.len(), 1);
}

#[tokio::test]
async fn a_phone_profile_that_holds_another_email_is_never_merged() {
    let (stub, client) = stub().await;
    // Someone else (or an old address) holds the phone with an email of their own.
    event(
        &client,
        "Placed Order",
        "o-1",
        json!({"email": "other@example.com", "phone_number": PHONE}),
    )
    .await;
    event(&client, "Created Account", "a-1", json!({"email": EMAIL})).await;
    let before = stub.profile_count();
    assert_eq!(before, 2);

    let body = import(json!({"email": EMAIL, "phone_number": PHONE}));
    let (status, resolution) = import_profile(&client, &body).await;
    assert_eq!(status, 409);
    assert!(
        matches!(resolution, Some(Resolution::NotSafe(_))),
        "{resolution:?}"
    );
    assert_eq!(stub.profile_count(), 2, "nothing merged");
    assert!(
        stub.requests()
            .iter()
            .all(|r| r.path != "/api/profile-merge")
    );
    assert!(stub.violations().is_empty(), "{:?}", stub.violations());
}

#[tokio::test]
async fn a_phone_profile_of_another_customer_id_is_never_merged() {
    let (stub, client) = stub().await;
    event(
        &client,
        "Started Checkout",
        "c-1",
        json!({"phone_number": PHONE, "external_id": "salla:1803665367:customer:99"}),
    )
    .await;
    event(&client, "Created Account", "a-1", json!({"email": EMAIL})).await;
    let body = import(json!({"email": EMAIL, "phone_number": PHONE, "external_id": EXTERNAL}));
    // The email's profile is found by email; the phone's profile belongs to customer 99.
    let (status, resolution) = import_profile(&client, &body).await;
    assert_eq!(status, 409);
    assert!(
        matches!(resolution, Some(Resolution::NotSafe(_))),
        "{resolution:?}"
    );
    assert_eq!(stub.profile_count(), 2);
}

/// Through the webhook intake: needs the relay's call site for
/// `profiles::resolve_duplicate` (`functions/webhook-intake/src/relay.rs::deliver`); without it
/// the relay resends without the phone and the shopper stays split in two.
#[tokio::test]
async fn the_intake_joins_a_phone_only_profile_and_the_email_profile_of_one_customer() {
    use e2e::harness::{GOOD_KEY, Harness, fresh, merchant_of, sample};
    let h = Harness::start().await;
    // Salla's customer payload (the login sample's customer), as `customer.updated`.
    let mut customer: Value = serde_json::from_slice(&sample("customer.login.json")).unwrap();
    customer["event"] = json!("customer.updated");
    let body = serde_json::to_vec(&customer).unwrap();
    let store = merchant_of(&body).expect("sample names its store");
    h.connect(&store, GOOD_KEY).await;

    // The identifiers the intake sends for this customer, as Klaviyo receives them.
    assert_eq!(h.post_signed(&fresh(&body)).await.status, 200);
    let import = h
        .klaviyo
        .requests()
        .into_iter()
        .find(|r| r.path == "/api/profile-import")
        .and_then(|r| r.body)
        .expect("the customer is imported");
    let attrs = &import["data"]["attributes"];
    let email = attrs["email"].as_str().expect("email").to_owned();
    let phone = attrs["phone_number"].as_str().expect("phone").to_owned();

    // Klaviyo already holds the shopper twice: a phone-only cart and an email-only profile.
    h.klaviyo.reset();
    let client = KlaviyoClient::new(&h.klaviyo.base_url);
    let send = |metric: &'static str, profile: Value| {
        let client = client.clone();
        async move {
            let body = json!({"data": {"type": "event", "attributes": {
                "properties": {"Source": "test"},
                "metric": {"data": {"type": "metric", "attributes": {"name": metric}}},
                "profile": {"data": {"type": "profile", "attributes": profile}},
                "unique_id": metric
            }}});
            let d = client
                .call(
                    &Secret::new(GOOD_KEY),
                    "POST",
                    "/api/events",
                    Some(&body),
                    deadline(),
                )
                .await
                .unwrap();
            assert_eq!(d.status, 202);
        }
    };
    send("Started Checkout", json!({"phone_number": phone})).await;
    send("Subscribed", json!({"email": email})).await;
    assert_eq!(h.klaviyo.profile_count(), 2);

    assert_eq!(h.post_signed(&fresh(&body)).await.status, 200);
    assert_eq!(h.klaviyo.profile_count(), 1, "one profile per shopper");
    let id = h.klaviyo.profile_with(&format!("email:{email}")).unwrap();
    let ids = h.klaviyo.profile_identifiers(&id);
    assert!(ids.contains(&format!("phone_number:{phone}")), "{ids:?}");
    let metrics: Vec<String> = h
        .klaviyo
        .profile_events(&id)
        .into_iter()
        .map(|(m, _)| m)
        .collect();
    assert!(
        metrics.contains(&"Started Checkout".to_string()),
        "{metrics:?}"
    );
    assert!(metrics.contains(&"Subscribed".to_string()), "{metrics:?}");
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:?}",
        h.klaviyo.violations()
    );
}
