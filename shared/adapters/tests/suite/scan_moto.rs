//! The token-state scan on moto (every store with tokens listed across pages, with its expiry
//! and blocked flag, and no KMS request) and on the embedded store's files.

use crate::keystore_support::*;

use adapters::keystore::scan::TokenScan;
use adapters::keystore::{KeyStore, StoreRecord};

#[tokio::test]
async fn scan_pages_through_token_states_without_kms() {
    let Some(url) = moto_url() else { return };
    let moto = Moto::connect(&url).await;
    let store = moto.store("scan").await;

    let mut due = full_record("1001");
    due.salla.as_mut().unwrap().expires_at = 1_800_000_000;
    let mut blocked = full_record("1002");
    blocked.salla.as_mut().unwrap().refresh_blocked_at = Some(1_700_000_000);
    let mut keyless = full_record("1003");
    keyless.salla = None;
    for record in [&due, &blocked, &keyless, &full_record("1004")] {
        store.put(record).await.unwrap();
    }
    store.put(&StoreRecord::new("1005")).await.unwrap();

    let before = moto.requests.get();
    let mut seen = Vec::new();
    let mut start: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = store.scan_tokens(start.as_deref(), 2).await.unwrap();
        pages += 1;
        seen.extend(page.stores);
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
        assert!(pages < 10, "the scan must end");
    }
    // One DynamoDB request per page and no KMS call.
    assert_eq!(moto.requests.get() - before, pages);
    assert!(pages >= 2, "a limit of 2 over 5 items pages");

    seen.sort_by(|a, b| a.store_id.cmp(&b.store_id));
    let ids: Vec<&str> = seen.iter().map(|s| s.store_id.as_str()).collect();
    assert_eq!(
        ids,
        ["1001", "1002", "1004"],
        "stores without tokens are left out"
    );
    assert_eq!(seen[0].expires_at, Some(1_800_000_000));
    assert_eq!(seen[0].refresh_blocked_at, None);
    assert_eq!(seen[1].refresh_blocked_at, Some(1_700_000_000));
}

#[tokio::test]
async fn embedded_scan_reads_the_files_metadata() {
    use adapters::keystore::embedded::EmbeddedKeyStore;
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    let mut blocked = full_record("2002");
    blocked.salla.as_mut().unwrap().refresh_blocked_at = Some(1_700_000_000);
    let mut keyless = full_record("2003");
    keyless.salla = None;
    for record in [&full_record("2001"), &blocked, &keyless] {
        store.put(record).await.unwrap();
    }
    let first = store.scan_tokens(None, 2).await.unwrap();
    assert_eq!(first.next.as_deref(), Some("2002"));
    let rest = store.scan_tokens(first.next.as_deref(), 2).await.unwrap();
    assert_eq!(rest.next, None);
    let all: Vec<_> = first.stores.into_iter().chain(rest.stores).collect();
    assert_eq!(all.len(), 3);
    assert_eq!(all[0].expires_at, Some(1_760_086_400));
    assert_eq!(all[1].refresh_blocked_at, Some(1_700_000_000));
    assert_eq!(all[2].expires_at, None, "no tokens held");
}
