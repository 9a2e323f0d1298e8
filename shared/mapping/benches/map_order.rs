//! parse_envelope + plan on Salla's order.created sample (target: median ≤ 20 µs).
//! Run: `infra/scripts/bench.sh` (this benchmark, then the medians; criterion itself prints
//! means). The parse-only and plan-only benchmarks show where the time goes, and a
//! serde_json::Value parse of the same body is there for comparison.
//! Figures: docs/performance.md.

// The webhook-intake binary runs on mimalloc, so the benchmark measures with it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const SAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/salla-samples/order.created.json"
);

fn map_order(c: &mut Criterion) {
    let body = std::fs::read(SAMPLE).unwrap_or_else(|e| panic!("{SAMPLE}: {e}"));
    let enrichment = mapping::Enrichment::default();
    c.bench_function("map_order/parse_envelope+plan", |b| {
        b.iter(|| {
            let env = mapping::parse_envelope(black_box(&body)).expect("sample parses");
            black_box(mapping::plan(&env, &enrichment).expect("sample maps"))
        })
    });
    c.bench_function("map_order/parse_envelope+plan+bodies", |b| {
        b.iter(|| {
            let env = mapping::parse_envelope(black_box(&body)).expect("sample parses");
            let Ok(mapping::Action::Send(requests)) = mapping::plan(&env, &enrichment) else {
                panic!("order.created maps to requests")
            };
            black_box(requests.iter().map(|r| r.body()).collect::<Vec<_>>())
        })
    });
    c.bench_function("map_order/parse_envelope_only", |b| {
        b.iter(|| black_box(mapping::parse_envelope(black_box(&body)).expect("sample parses")))
    });
    c.bench_function("map_order/serde_json_value_parse_for_comparison", |b| {
        b.iter(|| {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).expect("json"))
        })
    });
    let env = mapping::parse_envelope(&body).expect("sample parses");
    c.bench_function("map_order/plan_only", |b| {
        b.iter(|| black_box(mapping::plan(black_box(&env), &enrichment).expect("sample maps")))
    });
}

criterion_group! {
    name = benches;
    // Ten seconds per benchmark instead of criterion's five: on these 2-vCPU VMs a noisy
    // neighbour moves a five-second median by ±10%.
    config = Criterion::default().measurement_time(std::time::Duration::from_secs(10));
    targets = map_order
}
criterion_main!(benches);
