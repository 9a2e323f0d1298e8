//! CRM provisioning end to end: a real order relayed by the intake creates the Placed Order
//! metric in the (stub) account; the provisioning adapter then builds the tier and churn
//! segments from the pure definitions, every body checked strictly by the stub.

use std::time::Duration;

use adapters::Secret;
use adapters::crm::{Provisioner, Report, Wanted};
use adapters::klaviyo::KlaviyoClient;
use e2e::harness::{GOOD_KEY, Harness, fresh, merchant_of, sample};
use mapping::crm::{self, NAME_PREFIX};
use serde_json::{Value, json};
use tokio::time::Instant;

const ACCOUNT: &str = "AbC123";

/// A harness whose stub account has received one relayed order (so the metric exists).
async fn with_an_order() -> Harness {
    let h = Harness::start().await;
    let body = fresh(&sample("order.created.json"));
    let store = merchant_of(&body).expect("sample names its store");
    h.connect(&store, GOOD_KEY).await;
    let a = h.post_signed(&body).await;
    assert_eq!(a.status, 200, "{}", a.body);
    h
}

fn wanted(specs: &[crm::SegmentSpec]) -> Vec<Wanted> {
    specs
        .iter()
        .map(|s| Wanted {
            name: s.name.clone(),
            definition: s.definition.clone(),
        })
        .collect()
}

fn names(h: &Harness) -> Vec<String> {
    h.klaviyo
        .segments(ACCOUNT)
        .iter()
        .map(|(_, a)| a["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(10)
}

/// A provisioner for the tests of what is created: the stub enforces no limits here, so
/// writes are not spaced (the limits have their own test below).
fn provisioner<'a>(client: &'a KlaviyoClient, key: &'a Secret) -> Provisioner<'a> {
    Provisioner::new(client, key, deadline()).with_write_gap(Duration::ZERO)
}

#[tokio::test]
async fn tiers_and_churn_are_provisioned_once_updated_on_change_and_removed_cleanly() {
    let h = with_an_order().await;
    let client = KlaviyoClient::new(h.klaviyo.base_url.clone());
    let key = Secret::new(GOOD_KEY);

    // The merchant's own segment, which nothing of ours may touch.
    let own = json!({"data": {"type": "segment", "attributes": {"name": "VIP (my own)", "definition":
        {"condition_groups": [{"conditions": [{"type": "profile-marketing-consent",
            "consent": {"channel": "email", "can_receive_marketing": true,
                        "consent_status": {"subscription": "any"}}}]}]}}}});
    let own_id = {
        use adapters::crm::JsonApi;
        let created = client
            .json(&key, "POST", "/api/segments", Some(&own), deadline())
            .await
            .expect("merchant's own segment");
        created["data"]["id"].as_str().expect("id").to_owned()
    };

    let p = provisioner(&client, &key);
    let metric = p
        .metric_id(mapping::metrics::PLACED_ORDER)
        .await
        .expect("metrics")
        .expect("the relayed order created Placed Order");
    assert_eq!(metric, klaviyo_stub::metric_id("Placed Order"));

    let ladder = crm::preset_a(crm::DEFAULT_MARGIN_BP).expect("preset A");
    let a = wanted(&crm::segments(&ladder, &metric));
    assert_eq!(a.len(), 9, "6 tiers and 3 churn segments");

    // The preview says what a run would do and changes nothing.
    let preview = p.preview_segments(NAME_PREFIX, &a).await.expect("preview");
    assert_eq!(preview.created.len(), 9, "{preview:?}");
    assert_eq!(names(&h).len(), 1, "a preview writes nothing");

    let first = p.ensure_segments(NAME_PREFIX, &a).await.expect("first run");
    assert_eq!(first.created.len(), 9, "{first:?}");
    assert!(first.updated.is_empty() && first.unchanged.is_empty() && first.removed.is_empty());
    assert_eq!(names(&h).len(), 10);
    let tagged = h.klaviyo.tagged(ACCOUNT, adapters::crm::APP_TAG);
    assert_eq!(tagged.len(), 9, "every segment of ours is tagged");
    assert!(
        tagged
            .iter()
            .all(|(kind, id)| kind == "segment" && *id != own_id)
    );

    // Twice: nothing new, nothing changed (the listing pages past ten, so paging is exercised).
    let second = p
        .ensure_segments(NAME_PREFIX, &a)
        .await
        .expect("second run");
    assert_eq!(
        second,
        Report {
            unchanged: a.iter().map(|w| w.name.clone()).collect(),
            ..Report::default()
        }
    );
    assert_eq!(names(&h).len(), 10);

    // A new margin changes every tier (the base tier ends where Bronze starts): updated in
    // place, churn unchanged.
    let thirty = wanted(&crm::segments(&crm::preset_a(3_000).unwrap(), &metric));
    let third = p
        .ensure_segments(NAME_PREFIX, &thirty)
        .await
        .expect("margin change");
    assert_eq!(
        (third.updated.len(), third.unchanged.len()),
        (6, 3),
        "{third:?}"
    );
    assert!(third.created.is_empty() && third.removed.is_empty());
    let bronze = h
        .klaviyo
        .segments(ACCOUNT)
        .into_iter()
        .find(|(_, a)| a["name"].as_str().is_some_and(|n| n.contains("Bronze")))
        .expect("bronze");
    assert_eq!(
        bronze.1["definition"]["condition_groups"][1]["conditions"][0]["measurement_filter"]["value"],
        json!(333.34)
    );

    // Switching to Preset B: Bronze/Silver/Gold/Platinum redefined, New and VIP removed.
    let b = wanted(&crm::segments(&crm::preset_b(), &metric));
    let preview = p
        .preview_segments(NAME_PREFIX, &b)
        .await
        .expect("preview B");
    assert_eq!(
        (preview.updated.len(), preview.removed.len()),
        (4, 2),
        "{preview:?}"
    );
    let fourth = p.ensure_segments(NAME_PREFIX, &b).await.expect("preset B");
    assert_eq!(fourth.removed.len(), 2, "{fourth:?}");
    assert_eq!(fourth.updated.len(), 4, "{fourth:?}");
    assert_eq!(names(&h).len(), 8);

    // Removal: nothing of ours left, the merchant's segment untouched.
    let removed = p.remove_segments(NAME_PREFIX).await.expect("remove");
    assert_eq!(removed.removed.len(), 7);
    let left = h.klaviyo.segments(ACCOUNT);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].0, own_id);
    assert_eq!(left[0].1, own["data"]["attributes"]);
    let again = p.remove_segments(NAME_PREFIX).await.expect("remove again");
    assert_eq!(again, Report::default());

    assert!(
        h.klaviyo.violations().is_empty(),
        "{:#?}",
        h.klaviyo.violations()
    );
}

#[tokio::test]
async fn an_account_without_orders_has_no_metric_yet_and_a_missing_scope_is_a_clear_error() {
    let h = Harness::start().await;
    let client = KlaviyoClient::new(h.klaviyo.base_url.clone());
    let key = Secret::new(GOOD_KEY);
    let p = provisioner(&client, &key);
    assert_eq!(p.metric_id("Placed Order").await.expect("metrics"), None);

    let wrong = Secret::new("pk_not_connected");
    let p = provisioner(&client, &wrong);
    let err = p.remove_segments(NAME_PREFIX).await.unwrap_err();
    assert!(
        matches!(
            err,
            adapters::AdapterError::Unauthorized { status: 401, .. }
        ),
        "{err}"
    );
    // A name outside the prefix is never provisioned (it could not be found or removed again).
    let p = provisioner(&client, &key);
    let stray = Wanted {
        name: "Gold".into(),
        definition: Value::Null,
    };
    assert!(p.ensure_segments(NAME_PREFIX, &[stray]).await.is_err());
    assert!(p.ensure_segments("", &[]).await.is_err());
    assert!(h.klaviyo.segments(ACCOUNT).is_empty());
}

#[tokio::test]
async fn draft_flows_are_created_once_and_removed_without_touching_the_merchants_own() {
    let h = with_an_order().await;
    let client = KlaviyoClient::new(h.klaviyo.base_url.clone());
    let key = Secret::new(GOOD_KEY);
    let p = provisioner(&client, &key);

    let own = json!({"data": {"type": "flow", "attributes": {"name": "My own welcome", "definition": {
        "triggers": [{"type": "metric", "id": "M1"}],
        "actions": [{"type": "time-delay", "temporary_id": "a", "links": {"next": null},
                     "data": {"unit": "hours", "value": 1}}],
        "entry_action_id": "a"}}}});
    {
        use adapters::crm::JsonApi;
        client
            .json(&key, "POST", "/api/flows", Some(&own), deadline())
            .await
            .expect("merchant's own flow");
    }

    // Segments first: the win-back and tier flows trigger on them.
    let metric = p.metric_id("Placed Order").await.unwrap().expect("metric");
    let ladder = crm::preset_a(crm::DEFAULT_MARGIN_BP).unwrap();
    let segments = crm::segments(&ladder, &metric);
    p.ensure_segments(NAME_PREFIX, &wanted(&segments))
        .await
        .expect("segments");
    let by_name = p.segment_ids(NAME_PREFIX).await.expect("segment ids");
    let inputs = crm::FlowInputs {
        metrics: p
            .metric_ids(&[
                "Placed Order",
                "Started Checkout",
                "Delivered Order",
                "Shipped Order",
                "Out for Delivery",
            ])
            .await
            .expect("metric ids"),
        segments: segments
            .iter()
            .filter_map(|s| Some((s.key.clone(), by_name.get(&s.name)?.clone())))
            .collect(),
        timezone: "Asia/Riyadh".into(),
    };
    assert_eq!(inputs.segments.len(), 9);
    let tiers = crm::tier_segments(&ladder, &metric);
    let (flows, waiting) = crm::flows(&inputs, &tiers);
    // Only Placed Order has reached this account: the cart, post-purchase and order-update
    // flows wait for their first event.
    assert_eq!(waiting.len(), 5, "{waiting:?}");
    let want: Vec<Wanted> = flows
        .iter()
        .map(|f| Wanted {
            name: f.name.clone(),
            definition: f.definition.clone(),
        })
        .collect();
    assert_eq!(want.len(), 2 + 3 + 6 + 1);

    let preview = p.preview_flows(NAME_PREFIX, &want).await.expect("preview");
    assert_eq!(preview.created.len(), want.len());
    let first = p.ensure_flows(NAME_PREFIX, &want).await.expect("flows");
    assert_eq!(first.created.len(), want.len(), "{first:?}");
    let second = p
        .ensure_flows(NAME_PREFIX, &want)
        .await
        .expect("flows again");
    assert!(
        second.created.is_empty() && second.removed.is_empty(),
        "{second:?}"
    );
    assert_eq!(second.unchanged.len(), want.len());
    let tagged = h.klaviyo.tagged(ACCOUNT, adapters::crm::APP_TAG);
    assert_eq!(
        tagged.iter().filter(|(kind, _)| kind == "flow").count(),
        want.len(),
        "every flow of ours is tagged, once"
    );
    {
        use adapters::crm::JsonApi;
        let tags = client
            .json(&key, "GET", "/api/tags", None, deadline())
            .await
            .expect("tags");
        assert_eq!(
            tags["data"].as_array().map(Vec::len),
            Some(1),
            "one app tag, reused"
        );
    }
    let stored = h.klaviyo.flows(ACCOUNT);
    assert_eq!(stored.len(), want.len() + 1);
    // What Klaviyo holds is what was built: drafts, triggered by the account's own ids.
    let gold = stored
        .iter()
        .find(|(_, a)| a["name"].as_str().is_some_and(|n| n.ends_with("Gold")))
        .expect("gold tier flow");
    let gold_segment = &inputs.segments["tier:Gold"];
    assert_eq!(
        gold.1["definition"]["triggers"][0]["id"],
        json!(gold_segment)
    );

    let removed = p.remove_flows(NAME_PREFIX).await.expect("remove flows");
    assert_eq!(removed.removed.len(), want.len());
    let left = h.klaviyo.flows(ACCOUNT);
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].1, own["data"]["attributes"]);
    p.remove_segments(NAME_PREFIX)
        .await
        .expect("remove segments");
    assert!(h.klaviyo.segments(ACCOUNT).is_empty());
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:#?}",
        h.klaviyo.violations()
    );
}

/// With Klaviyo's own limits on (segment create: 1/s burst, 15/min), a full run of nine
/// segments goes through without a single 429: writes are spaced, not retried.
#[tokio::test]
async fn provisioning_stays_inside_klaviyos_write_limits() {
    let h = with_an_order().await;
    h.klaviyo
        .set_rate_limits(klaviyo_stub::RateLimitMode::Klaviyo);
    let client = KlaviyoClient::new(h.klaviyo.base_url.clone());
    let key = Secret::new(GOOD_KEY);
    let p = Provisioner::new(&client, &key, Instant::now() + Duration::from_secs(30));
    let metric = p.metric_id("Placed Order").await.unwrap().expect("metric");
    let all = wanted(&crm::segments(&crm::preset_b(), &metric));
    let started = Instant::now();
    let report = p
        .ensure_segments(NAME_PREFIX, &all)
        .await
        .expect("provisioned");
    assert_eq!(report.created.len(), 7);
    assert_eq!(
        h.klaviyo.stats().throttled,
        0,
        "{:?}",
        h.klaviyo.stats().throttled_by
    );
    assert!(started.elapsed() >= adapters::crm::WRITE_GAP * 6);

    // A deadline too short for the next write ends the run cleanly; a re-run finishes it.
    p.remove_segments(NAME_PREFIX).await.expect("remove");
    let short = Provisioner::new(&client, &key, Instant::now() + Duration::from_millis(1_500));
    let err = short.ensure_segments(NAME_PREFIX, &all).await.unwrap_err();
    assert!(
        matches!(err, adapters::AdapterError::Unavailable { .. }),
        "{err}"
    );
    let partial = names(&h).len();
    assert!((1..7).contains(&partial), "{partial}");
    let resumed = Provisioner::new(&client, &key, Instant::now() + Duration::from_secs(30));
    let rest = resumed
        .ensure_segments(NAME_PREFIX, &all)
        .await
        .expect("resumed");
    assert_eq!(rest.created.len() + rest.unchanged.len(), 7);
    assert_eq!(rest.unchanged.len(), partial);
    assert_eq!(names(&h).len(), 7);
    assert!(
        h.klaviyo.violations().is_empty(),
        "{:#?}",
        h.klaviyo.violations()
    );
}
