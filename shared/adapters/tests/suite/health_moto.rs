//! Sync-health day records in the store table, against moto's DynamoDB: flushes add up, the
//! record holds counts, codes and times only and expires by TTL 30 days after its day (it has
//! no `salla_expires_at`, so the token scan never lists it). Needs MOTO_URL; skips without it, fails without it
//! under CI.

use crate::keystore_support;

use adapters::health::{self, DayStats, HealthStore, Tally};
use adapters::keystore::dynamo::health::{DynamoHealth, key};
use aws_sdk_dynamodb::types::AttributeValue;
use keystore_support::*;

#[tokio::test]
async fn flushes_add_up_in_one_day_record_of_counts_only() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("health").await;
    let days = DynamoHealth::new(moto.dynamo.clone(), store.table());
    let tally = Tally::default();
    let now = adapters::clock::now_unix();

    let first = tally.record("7", now, ["Placed Order", "Ordered Product"], None);
    health::write(&days, &tally, first.expect("first flush")).await;
    assert!(tally.record("7", now + 1, ["Placed Order"], None).is_none());
    assert!(
        tally
            .record("7", now + 2, [], Some("klaviyo_unavailable"))
            .is_none()
    );
    let due = tally
        .record("7", now + 61, ["Placed Order"], None)
        .expect("due");
    health::write(&days, &tally, due).await;

    let day = health::day_of(now + 61);
    let read = days.day("7", day).await.unwrap();
    let placed: u64 = read
        .counts
        .iter()
        .filter(|((_, m), _)| m == "Placed Order")
        .map(|(_, n)| n)
        .sum();
    // Three Placed Order, unless the minute crossed midnight (then split over two days).
    if health::day_of(now) == day {
        assert_eq!(placed, 3, "{read:?}");
        assert_eq!(read.failures.get("klaviyo_unavailable"), Some(&1));
    }
    assert_eq!(read.last_ok, Some(now + 61));

    let item = moto
        .dynamo
        .get_item()
        .table_name(store.table())
        .key("store_id", AttributeValue::S(key("7", day)))
        .send()
        .await
        .unwrap()
        .item
        .expect("the day record");
    let ttl: i64 = item["ttl"].as_n().unwrap().parse().unwrap();
    assert_eq!(ttl, (day + 1 + health::KEEP_DAYS) * 86_400);
    for (name, value) in &item {
        assert!(
            name == "store_id" || value.as_n().is_ok(),
            "only numbers besides the key: {name}"
        );
    }

    // The page's view reads it back.
    let view = health::read(&days, "7", now + 61).await.unwrap();
    assert!(view.metrics.iter().any(|m| m.metric == "Placed Order"));
}

#[tokio::test]
async fn an_empty_day_reads_as_empty() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("health-empty").await;
    let days = DynamoHealth::new(moto.dynamo.clone(), store.table());
    assert_eq!(days.day("7", 20_000).await.unwrap(), DayStats::default());
}
