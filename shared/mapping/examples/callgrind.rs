//! Runs parse + plan of one webhook body a given number of times, for counting instructions
//! under callgrind without criterion's own work in the count. Two runs with different counts
//! give the cost of one iteration: (instructions at 1,100 − instructions at 100) / 1,000.
//!
//! ```text
//! cargo build --release -p mapping --example callgrind
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null \
//!     target/release/examples/callgrind path/to/order.created.json 1100
//! ```
//!
//! An optional third argument, `parse` or `plan`, counts only that half.

// The webhook-intake binary runs on mimalloc, so the count is taken with it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::hint::black_box;

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(runs)) = (args.next(), args.next()) else {
        eprintln!("usage: callgrind BODY.json RUNS [parse|plan]");
        std::process::exit(2);
    };
    let runs: u32 = runs.parse().expect("RUNS is a whole number");
    let body = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let enrichment = mapping::Enrichment::default();
    mapping::warm_up();
    match args.next().as_deref() {
        None => {
            for _ in 0..runs {
                let env = mapping::parse_envelope(black_box(&body)).expect("body parses");
                black_box(mapping::plan(&env, &enrichment).expect("body maps"));
            }
        }
        Some("parse") => {
            for _ in 0..runs {
                black_box(mapping::parse_envelope(black_box(&body)).expect("body parses"));
            }
        }
        Some("plan") => {
            let env = mapping::parse_envelope(&body).expect("body parses");
            for _ in 0..runs {
                black_box(mapping::plan(black_box(&env), &enrichment).expect("body maps"));
            }
        }
        Some(other) => panic!("unknown mode {other}"),
    }
}
