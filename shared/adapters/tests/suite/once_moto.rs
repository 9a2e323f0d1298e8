//! Handoff spent-marks in the store table, against moto's DynamoDB. Needs MOTO_URL; skips
//! without it, fails without it under CI.

use crate::keystore_support;

use std::sync::Arc;

use adapters::keystore::dynamo::once::{DynamoSpentMarks, TTL_ATTRIBUTE};
use adapters::keystore::{KeyStore, update};
use adapters::once::{CLOCK_MARGIN_SECS, Claim, HANDOFF_KEY_PREFIX, SpentMarks};
use aws_sdk_dynamodb::types::AttributeValue;
use keystore_support::*;

#[tokio::test]
async fn a_handoff_id_is_spent_once_with_a_ttl_and_no_store_data() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("once").await;
    let marks = DynamoSpentMarks::new(moto.dynamo.clone(), store.table());
    let now = adapters::clock::now_unix();

    assert_eq!(marks.claim("tokA", now + 30).await.unwrap(), Claim::First);
    assert_eq!(marks.claim("tokA", now + 30).await.unwrap(), Claim::Spent);
    assert_eq!(marks.claim("tokB", now + 30).await.unwrap(), Claim::First);

    let item = moto
        .dynamo
        .get_item()
        .table_name(store.table())
        .key(
            "store_id",
            AttributeValue::S(format!("{HANDOFF_KEY_PREFIX}tokA")),
        )
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .expect("the mark is an item");
    let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
    names.sort();
    assert_eq!(
        names,
        ["store_id", TTL_ATTRIBUTE],
        "only the key and its expiry"
    );
    assert_eq!(
        item[TTL_ATTRIBUTE],
        AttributeValue::N((now + 30 + CLOCK_MARGIN_SECS).to_string())
    );

    // Store records beside the marks are untouched, and a mark is no store to the key store.
    update(&store, "1803665367", |r| r.salla = full_record("x").salla)
        .await
        .unwrap();
    assert!(store.get("1803665367").await.unwrap().is_some());
    assert_eq!(marks.claim("tokC", now + 30).await.unwrap(), Claim::First);
}

/// Two Lambda instances claiming one handoff at once: the conditional put lets one win.
#[tokio::test]
async fn concurrent_claims_of_one_id_have_exactly_one_winner() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("once-race").await;
    let marks = Arc::new(DynamoSpentMarks::new(moto.dynamo.clone(), store.table()));
    let now = adapters::clock::now_unix();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let marks = marks.clone();
            tokio::spawn(async move { marks.claim("raced", now + 30).await.unwrap() })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        if task.await.unwrap() == Claim::First {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test]
async fn an_unreachable_table_is_an_error_not_a_spent_mark() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let marks = DynamoSpentMarks::new(moto.dynamo.clone(), unique("missing-table"));
    let err = marks
        .claim("tokZ", adapters::clock::now_unix() + 30)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("dynamodb"), "{err}");
}
