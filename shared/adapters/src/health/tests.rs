use super::*;

const T0: i64 = 1_796_256_000; // 2026-12-03 00:00:00 UTC (a day boundary)

#[test]
fn a_store_is_written_at_most_once_a_minute() {
    let tally = Tally::default();
    // The first webhook of a store in this process is written at once.
    let first = tally.record("7", T0 + 10, ["Placed Order", "Ordered Product"], None);
    let (store, days) = first.expect("first flush");
    assert_eq!(store, "7");
    assert_eq!(days.len(), 1);
    assert_eq!(days[0].1.counts.get(&(0, "Placed Order".into())), Some(&1));
    assert_eq!(days[0].1.last_ok, Some(T0 + 10));
    // Within the minute: held.
    for s in 0..50 {
        assert!(
            tally
                .record("7", T0 + 11 + s, ["Placed Order"], None)
                .is_none()
        );
    }
    assert!(
        tally
            .record("7", T0 + 62, [], Some("klaviyo_key_revoked"))
            .is_none()
    );
    // A minute after the last write: everything held since, in one flush.
    let (_, days) = tally
        .record("7", T0 + 70, ["Placed Order"], None)
        .expect("due");
    let stats = &days[0].1;
    assert_eq!(stats.counts.get(&(0, "Placed Order".into())), Some(&51));
    assert_eq!(stats.failures.get("klaviyo_key_revoked"), Some(&1));
    assert_eq!(
        stats.failure_last.get("klaviyo_key_revoked"),
        Some(&(T0 + 62))
    );
}

#[test]
fn a_quiet_store_is_written_by_another_store_s_webhook() {
    let tally = Tally::default();
    tally
        .record("7", T0, ["Placed Order"], None)
        .expect("first");
    assert!(tally.record("7", T0 + 5, ["Placed Order"], None).is_none());
    // Store 8's first write goes first; store 7 is not due yet.
    assert_eq!(
        tally
            .record("8", T0 + 30, ["Started Checkout"], None)
            .unwrap()
            .0,
        "8"
    );
    assert!(
        tally
            .record("8", T0 + 40, ["Started Checkout"], None)
            .is_none()
    );
    // Store 7 went quiet; store 8's next webhook past 7's minute carries 7's counts.
    let (store, days) = tally
        .record("8", T0 + 61, ["Started Checkout"], None)
        .unwrap();
    assert_eq!(store, "7");
    assert_eq!(days[0].1.counts.get(&(0, "Placed Order".into())), Some(&1));
}

#[test]
fn counts_split_at_midnight_and_a_failed_write_is_kept() {
    let tally = Tally::default();
    tally.record("7", T0 - 5, ["Placed Order"], None);
    tally.record("7", T0 - 1, ["Placed Order"], None);
    let (_, days) = tally.record("7", T0 + 100, ["Placed Order"], None).unwrap();
    assert_eq!(
        days.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        [day_of(T0) - 1, day_of(T0)]
    );
    assert_eq!(days[0].1.counts.get(&(23, "Placed Order".into())), Some(&1));
    tally.restore(("7".into(), days));
    let (_, again) = tally.record("7", T0 + 200, [], None).unwrap();
    assert_eq!(again.len(), 2, "restored counts ride on the next flush");
}

#[tokio::test]
async fn the_page_view_covers_24_hours_and_7_days() {
    let store = memory::MemoryHealth::new();
    let now = T0 + 5 * 3600 + 30; // 05:00:30 on day T0
    let mut today = DayStats::default();
    today.counts.insert((5, "Placed Order".into()), 2);
    today.counts.insert((0, "Placed Order".into()), 1);
    today.last_ok = Some(now - 30);
    let mut yesterday = DayStats::default();
    yesterday.counts.insert((6, "Placed Order".into()), 4); // 23 h ago: inside 24 h
    yesterday.counts.insert((5, "Placed Order".into()), 8); // 24 h ago: outside
    yesterday.failures.insert("klaviyo_unavailable".into(), 3);
    yesterday
        .failure_last
        .insert("klaviyo_unavailable".into(), now - 86_000);
    let mut old = DayStats::default();
    old.counts.insert((1, "Fulfilled Order".into()), 9);
    store.add("7", day_of(now), &today).await.unwrap();
    store.add("7", day_of(now) - 1, &yesterday).await.unwrap();
    store.add("7", day_of(now) - 6, &old).await.unwrap();
    store.add("7", day_of(now) - 7, &old).await.unwrap(); // beyond 7 days
    let health = read(&store, "7", now).await.unwrap();
    assert_eq!(
        health.metrics,
        [
            MetricCount {
                metric: "Placed Order".into(),
                last_24h: 7,
                last_7d: 15
            },
            MetricCount {
                metric: "Fulfilled Order".into(),
                last_24h: 0,
                last_7d: 9
            },
        ]
    );
    assert_eq!(health.hourly.len(), 24);
    assert_eq!(health.hourly[23], 2, "this hour is last");
    assert_eq!(health.hourly[0], 4, "23 hours ago is first");
    assert_eq!(health.hourly.iter().sum::<u64>(), 7);
    assert_eq!(health.last_ok, Some(now - 30));
    assert_eq!(
        health.failures,
        [FailureCount {
            code: "klaviyo_unavailable".into(),
            count: 3,
            last_at: now - 86_000
        }]
    );
}

#[tokio::test]
async fn the_embedded_store_adds_across_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = embedded::EmbeddedHealth::open(dir.path().join("health"));
    let mut stats = DayStats::default();
    stats.counts.insert((3, "Placed Order".into()), 2);
    stats.failures.insert("klaviyo_rejected".into(), 1);
    stats.failure_last.insert("klaviyo_rejected".into(), T0 + 3);
    store.add("7", day_of(T0), &stats).await.unwrap();
    store.add("7", day_of(T0), &stats).await.unwrap();
    let read = store.day("7", day_of(T0)).await.unwrap();
    assert_eq!(read.counts.get(&(3, "Placed Order".into())), Some(&4));
    assert_eq!(read.failures.get("klaviyo_rejected"), Some(&2));
    // A store id that is not a number never becomes a path.
    store.add("../x", day_of(T0), &stats).await.unwrap();
    assert_eq!(
        std::fs::read_dir(dir.path().join("health"))
            .unwrap()
            .count(),
        1
    );
}

/// A stopping process writes what it still holds, for every store, and holds nothing after.
#[tokio::test]
async fn flush_all_writes_what_is_held_for_every_store() {
    let tally = Tally::default();
    let store = memory::MemoryHealth::new();
    for (id, at) in [("7", T0), ("8", T0 + 1)] {
        let flush = tally.record(id, at, ["Placed Order"], None).expect("first");
        write(&store, &tally, flush).await;
    }
    // Held within the minute.
    assert!(tally.record("7", T0 + 5, ["Placed Order"], None).is_none());
    assert!(
        tally
            .record("8", T0 + 6, [], Some("klaviyo_outage"))
            .is_none()
    );
    flush_all(&store, &tally).await;
    let seven = store.day("7", day_of(T0)).await.unwrap();
    assert_eq!(seven.counts.get(&(0, "Placed Order".into())), Some(&2));
    let eight = store.day("8", day_of(T0)).await.unwrap();
    assert_eq!(eight.failures.get("klaviyo_outage"), Some(&1));
    assert!(tally.drain().is_empty());
}
