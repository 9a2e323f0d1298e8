//! `fuzz [--inputs N] [--threads N] [--seed N] [--json FILE]`: generated inputs through
//! signature checking, envelope parsing and mapping; exits 1 on any panic or signature defect.
//! Failing inputs are written to target/fuzz-failures/ for replay.
//!
//! The workspace's release profile aborts on panic; build with
//! `CARGO_PROFILE_RELEASE_PANIC=unwind` (infra/scripts/fuzz.sh does) so a panic is counted
//! and reported instead of ending the run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use fuzz::{Corpus, run};

struct Args {
    inputs: u64,
    threads: usize,
    seed: u64,
    json: Option<PathBuf>,
    samples: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        inputs: 1_000_000,
        threads: std::thread::available_parallelism().map_or(2, |n| n.get()),
        seed: 0x5a11a,
        json: None,
        samples: Corpus::default_dir(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--inputs" => args.inputs = value()?.parse().map_err(|_| "--inputs: a number")?,
            "--threads" => args.threads = value()?.parse().map_err(|_| "--threads: a number")?,
            "--seed" => args.seed = value()?.parse().map_err(|_| "--seed: a number")?,
            "--json" => args.json = Some(PathBuf::from(value()?)),
            "--samples" => args.samples = PathBuf::from(value()?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("fuzz: {e}");
            }
            eprintln!(
                "usage: fuzz [--inputs N] [--threads N] [--seed N] [--json FILE] [--samples DIR]"
            );
            return ExitCode::from(2);
        }
    };
    if cfg!(panic = "abort") {
        eprintln!(
            "fuzz: built with panic=abort: a panic ends the run (still a failure). \
             Build with CARGO_PROFILE_RELEASE_PANIC=unwind to count and keep failing inputs."
        );
    }
    let corpus = match Corpus::load(&args.samples) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!(
                "fuzz: cannot load samples from {}: {e}",
                args.samples.display()
            );
            return ExitCode::from(2);
        }
    };
    eprintln!(
        "fuzz: {} inputs on {} threads, seed {}, {} samples ({} bytes)",
        args.inputs,
        args.threads,
        args.seed,
        corpus.samples.len(),
        corpus.total_bytes()
    );
    let report = run(corpus, args.inputs, args.threads, args.seed);
    print!("{}", report.table());
    let summary = report.to_json();
    println!("{summary}");
    if let Some(path) = &args.json
        && let Err(e) = std::fs::write(path, format!("{summary}\n"))
    {
        eprintln!("fuzz: cannot write {}: {e}", path.display());
    }
    if !report.failures.is_empty() {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
        if std::fs::create_dir_all(&dir).is_ok() {
            for (i, f) in report.failures.iter().enumerate() {
                let path = dir.join(format!("{i}-{}-{}.bin", f.kind, f.strategy.name()));
                let _ = std::fs::write(&path, &f.bytes);
                eprintln!(
                    "fuzz: {} ({}) kept at {}",
                    f.kind,
                    f.message,
                    path.display()
                );
            }
        }
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
