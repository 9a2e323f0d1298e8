//! How much the stub itself can take, so load runs know it is not the bottleneck.
//! `cargo test -p klaviyo-stub --release --test suite throughput -- --ignored --nocapture`

use crate::common;

use std::sync::Arc;
use std::time::Instant;

use common::{event, stub};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly (see the file header)"]
async fn create_event_throughput() {
    const TASKS: usize = 16;
    const PER_TASK: usize = 500;
    let stub = Arc::new(stub().await);
    stub.set_recording(false);
    let started = Instant::now();
    let mut handles = Vec::new();
    for t in 0..TASKS {
        let stub = Arc::clone(&stub);
        handles.push(tokio::spawn(async move {
            let client = common::client();
            let mut latencies = Vec::with_capacity(PER_TASK);
            for i in 0..PER_TASK {
                let e = event(
                    &format!("c{t}@example.com"),
                    "Placed Order",
                    Some(&format!("o{i}")),
                );
                let sent = Instant::now();
                let resp = common::request_with(&client, &stub, "POST", "/api/events", Some(&e))
                    .send()
                    .await
                    .expect("send");
                let status = resp.status().as_u16();
                resp.bytes().await.expect("body");
                latencies.push(sent.elapsed());
                assert_eq!(status, 202);
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for h in handles {
        latencies.extend(h.await.expect("task"));
    }
    let elapsed = started.elapsed();
    latencies.sort();
    let n = latencies.len();
    eprintln!(
        "klaviyo-stub: {n} create-event requests in {elapsed:?} = {:.0}/s; p50 {:?}, p99 {:?} \
         (client and stub share 2 cores)",
        n as f64 / elapsed.as_secs_f64(),
        latencies[n / 2],
        latencies[n * 99 / 100],
    );
    assert_eq!(stub.distinct_event_ids(), TASKS * PER_TASK);
    assert!(stub.violations().is_empty());
}
