//! EmbeddedKeyStore: the local development store (files under a data directory).

use crate::keystore_support;

use std::fs;
use std::path::Path;

use adapters::AdapterError;
use adapters::keystore::embedded::EmbeddedKeyStore;
use adapters::keystore::{KeyStore, StoreRecord, update};
use keystore_support::*;

fn store_file(dir: &Path, id: &str) -> std::path::PathBuf {
    dir.join("stores").join(format!("{id}.json"))
}

#[tokio::test]
async fn round_trip_put_get_delete() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    assert_eq!(store.get("1001").await.unwrap(), None);

    let record = full_record("1001");
    assert_eq!(store.put(&record).await.unwrap(), 1);
    let got = store.get("1001").await.unwrap().unwrap();
    assert_eq!(
        got,
        StoreRecord {
            version: 1,
            ..record
        }
    );

    let mut no_salla = got;
    no_salla.salla = None;
    assert_eq!(store.put(&no_salla).await.unwrap(), 2);
    assert_eq!(store.get("1001").await.unwrap().unwrap().salla, None);

    store.delete("1001").await.unwrap();
    assert_eq!(store.get("1001").await.unwrap(), None);
    assert!(!store_file(dir.path(), "1001").exists());
    store.delete("1001").await.unwrap();
}

#[tokio::test]
async fn survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = EmbeddedKeyStore::open(dir.path()).unwrap();
        store.put(&full_record("2002")).await.unwrap();
    }
    let key_before = fs::read(dir.path().join("master.key")).unwrap();
    let reopened = EmbeddedKeyStore::open(dir.path()).unwrap();
    let got = reopened.get("2002").await.unwrap().unwrap();
    assert_eq!(got.version, 1);
    assert_eq!(got.klaviyo.unwrap().private_key.expose(), KLAVIYO_KEY);
    // Reopening reuses the key rather than replacing it.
    assert_eq!(fs::read(dir.path().join("master.key")).unwrap(), key_before);
}

#[tokio::test]
async fn file_holds_no_plaintext_and_key_is_private() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    store.put(&full_record("3003")).await.unwrap();

    let text = fs::read_to_string(store_file(dir.path(), "3003")).unwrap();
    for secret in [KLAVIYO_KEY, ACCESS_TOKEN, REFRESH_TOKEN] {
        assert!(
            !text.contains(secret),
            "store file holds a plaintext secret"
        );
    }
    // Non-secret metadata stays readable for local debugging.
    assert!(text.contains("Acme Store"));

    let key = dir.path().join("master.key");
    assert_eq!(fs::metadata(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600
        );
        let file_mode = fs::metadata(store_file(dir.path(), "3003"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(file_mode & 0o077, 0, "store file readable by others");
    }
    // No temporary files left behind.
    let names: Vec<_> = fs::read_dir(dir.path().join("stores"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec!["3003.json"]);
}

#[tokio::test]
async fn tampered_file_fails_to_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    store.put(&full_record("4004")).await.unwrap();
    let path = store_file(dir.path(), "4004");
    let original = fs::read_to_string(&path).unwrap();

    // Flip one character of the Klaviyo key's ciphertext.
    let mut json: serde_json::Value = serde_json::from_str(&original).unwrap();
    let ct = json["klaviyo"]["private_key"]["ciphertext"]
        .as_str()
        .unwrap()
        .to_string();
    let flipped = match ct.strip_prefix('A') {
        Some(rest) => format!("B{rest}"),
        None => format!("A{}", &ct[1..]),
    };
    json["klaviyo"]["private_key"]["ciphertext"] = flipped.into();
    fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    let err = store.get("4004").await.unwrap_err();
    assert!(
        matches!(&err, AdapterError::Decrypt { store_id } if store_id == "4004"),
        "{err:?}"
    );

    // Moving a ciphertext to another field fails too (the field name is authenticated).
    let mut json: serde_json::Value = serde_json::from_str(&original).unwrap();
    json["salla"]["access_token"] = json["salla"]["refresh_token"].clone();
    fs::write(&path, serde_json::to_vec(&json).unwrap()).unwrap();
    assert!(matches!(
        store.get("4004").await,
        Err(AdapterError::Decrypt { .. })
    ));

    // Garbage is a decrypt failure, not a panic.
    fs::write(&path, b"{ not json").unwrap();
    assert!(matches!(
        store.get("4004").await,
        Err(AdapterError::Decrypt { .. })
    ));

    // The untouched file still opens (so the failures above are the tampering).
    fs::write(&path, &original).unwrap();
    assert!(store.get("4004").await.unwrap().is_some());
}

#[tokio::test]
async fn file_copied_to_another_store_fails_to_decrypt() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    store.put(&full_record("5005")).await.unwrap();
    let text = fs::read_to_string(store_file(dir.path(), "5005")).unwrap();
    // Same ciphertexts, relabelled as store 6006.
    fs::write(
        store_file(dir.path(), "6006"),
        text.replace("\"5005\"", "\"6006\""),
    )
    .unwrap();
    assert!(matches!(
        store.get("6006").await,
        Err(AdapterError::Decrypt { store_id }) if store_id == "6006"
    ));
}

#[tokio::test]
async fn another_master_key_cannot_read_the_files() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    EmbeddedKeyStore::open(a.path())
        .unwrap()
        .put(&full_record("7007"))
        .await
        .unwrap();
    let other = EmbeddedKeyStore::open(b.path()).unwrap();
    fs::copy(store_file(a.path(), "7007"), store_file(b.path(), "7007")).unwrap();
    assert!(matches!(
        other.get("7007").await,
        Err(AdapterError::Decrypt { .. })
    ));
}

#[tokio::test]
async fn bad_store_ids_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path().join("data")).unwrap();
    let long = "9".repeat(65);
    for bad in [
        "",
        "../escape",
        "a/b",
        "..",
        "x.json",
        "nul\0",
        "ünï",
        long.as_str(),
    ] {
        assert!(
            matches!(store.get(bad).await, Err(AdapterError::Rejected { .. })),
            "get {bad:?}"
        );
        assert!(
            matches!(
                store.put(&full_record(bad)).await,
                Err(AdapterError::Rejected { .. })
            ),
            "put {bad:?}"
        );
        assert!(
            matches!(store.delete(bad).await, Err(AdapterError::Rejected { .. })),
            "delete {bad:?}"
        );
    }
    // Nothing was written anywhere, in or beside the data directory.
    assert_eq!(
        fs::read_dir(dir.path().join("data/stores"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    // The longest allowed id works.
    let max = "9".repeat(64);
    assert_eq!(store.put(&full_record(&max)).await.unwrap(), 1);
}

#[tokio::test]
async fn version_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    let record = full_record("8008");
    assert_eq!(store.put(&record).await.unwrap(), 1);
    assert!(matches!(
        store.put(&record).await,
        Err(AdapterError::Conflict { .. })
    ));

    // Two writers from version 1, racing on two handles to the same directory.
    let other = EmbeddedKeyStore::open(dir.path()).unwrap();
    let mut first = store.get("8008").await.unwrap().unwrap();
    let mut second = first.clone();
    first.klaviyo.as_mut().unwrap().account_name = Some("first".into());
    second.klaviyo.as_mut().unwrap().account_name = Some("second".into());
    let (r1, r2) = tokio::join!(store.put(&first), other.put(&second));
    let wins = [&r1, &r2].iter().filter(|r| matches!(r, Ok(2))).count();
    let conflicts = [&r1, &r2]
        .iter()
        .filter(|r| matches!(r, Err(AdapterError::Conflict { .. })))
        .count();
    assert_eq!((wins, conflicts), (1, 1), "{r1:?} / {r2:?}");

    let mut ahead = store.get("8008").await.unwrap().unwrap();
    ahead.version = 5;
    assert!(matches!(
        store.put(&ahead).await,
        Err(AdapterError::Conflict { .. })
    ));
}

#[tokio::test]
async fn concurrent_updates_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(EmbeddedKeyStore::open(dir.path()).unwrap());
    store.put(&full_record("9009")).await.unwrap();
    // Four tasks each bump validated_at once through `update`; with the version rule
    // none of the increments may be lost.
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                update(store.as_ref(), "9009", |r| {
                    r.klaviyo.as_mut().unwrap().validated_at += 1
                })
                .await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let got = store.get("9009").await.unwrap().unwrap();
    assert_eq!(got.version, 5);
    assert_eq!(got.klaviyo.unwrap().validated_at, 1_760_000_004);
}

#[tokio::test]
async fn lifecycle_times_and_expired_markers() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    let now = adapters::clock::now_unix();
    let mut marker = StoreRecord::new("3003");
    marker.lifecycle = adapters::keystore::Lifecycle {
        authorized_at: Some(now - 20),
        settings_at: None,
        uninstalled_at: Some(now),
    };
    marker.ttl = Some(now + 3600);
    assert_eq!(store.put(&marker).await.unwrap(), 1);
    let got = store.get("3003").await.unwrap().expect("live marker");
    assert_eq!((got.lifecycle, got.ttl), (marker.lifecycle, marker.ttl));
    assert!(matches!(
        store.put(&StoreRecord::new("3003")).await,
        Err(AdapterError::Conflict { .. })
    ));

    let mut expired = got;
    expired.ttl = Some(now - 1);
    assert_eq!(store.put(&expired).await.unwrap(), 2);
    assert_eq!(store.get("3003").await.unwrap(), None);
    assert_eq!(store.version("3003").await.unwrap(), None);
    assert_eq!(store.put(&full_record("3003")).await.unwrap(), 1);
    let fresh = store.get("3003").await.unwrap().expect("replaced");
    assert_eq!(fresh.ttl, None);
}

#[tokio::test]
async fn history_progress_survives_reopen() {
    use adapters::history::{HistoryProgress, HistoryStatus};
    let dir = tempfile::tempdir().unwrap();
    let mut record = full_record("1001");
    let mut progress = HistoryProgress::started(1_796_000_000);
    progress.status = HistoryStatus::Done;
    progress.finished_at = Some(1_796_000_500);
    progress.cursor = None;
    record.history = Some(progress);
    {
        let store = EmbeddedKeyStore::open(dir.path()).unwrap();
        record.version = store.put(&record).await.unwrap();
    }
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    assert_eq!(store.get("1001").await.unwrap(), Some(record));
}

#[tokio::test]
async fn crm_settings_survive_the_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedKeyStore::open(dir.path()).unwrap();
    let mut record = full_record("3003");
    record.crm = Some(mapping::crm::CrmSettings::B);
    record.version = store.put(&record).await.unwrap();
    assert_eq!(store.get("3003").await.unwrap(), Some(record));
    let text = fs::read_to_string(store_file(dir.path(), "3003")).unwrap();
    assert!(text.contains("\"preset\": \"b\""), "{text}");
}
