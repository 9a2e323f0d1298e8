//! Runs generated inputs through [`check`] on worker threads, each input inside
//! `catch_unwind`, and tallies outcomes.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::check::{Outcome, check};
use crate::corpus::Corpus;
use crate::generate::{Generator, Input, Strategy};

/// At most this many failing inputs are kept whole in the report.
const KEPT_FAILURES: usize = 5;

/// A failing input, kept so it can be replayed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub strategy: Strategy,
    pub kind: &'static str,
    pub message: String,
    pub bytes: Vec<u8>,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub inputs: u64,
    pub panics: u64,
    pub signature_mismatches: u64,
    pub by_outcome: BTreeMap<String, u64>,
    pub by_strategy: BTreeMap<&'static str, u64>,
    pub by_status: BTreeMap<u16, u64>,
    pub truncations: u64,
    /// Distinct (sample, length) truncations in the corpus.
    pub truncation_span: u64,
    pub max_input_bytes: usize,
    pub elapsed: Duration,
    pub failures: Vec<Failure>,
}

impl Report {
    pub fn inputs_per_sec(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Whether every input went through without a defect.
    pub fn clean(&self) -> bool {
        self.panics == 0 && self.signature_mismatches == 0
    }

    fn merge(&mut self, other: Report) {
        self.inputs += other.inputs;
        self.panics += other.panics;
        self.signature_mismatches += other.signature_mismatches;
        for (k, v) in other.by_outcome {
            *self.by_outcome.entry(k).or_default() += v;
        }
        for (k, v) in other.by_strategy {
            *self.by_strategy.entry(k).or_default() += v;
        }
        for (k, v) in other.by_status {
            *self.by_status.entry(k).or_default() += v;
        }
        self.truncations += other.truncations;
        self.max_input_bytes = self.max_input_bytes.max(other.max_input_bytes);
        let room = KEPT_FAILURES.saturating_sub(self.failures.len());
        self.failures.extend(other.failures.into_iter().take(room));
    }

    pub fn to_json(&self) -> Value {
        json!({
            "inputs": self.inputs,
            "panics": self.panics,
            "signature_mismatches": self.signature_mismatches,
            "inputs_per_sec": self.inputs_per_sec().round(),
            "elapsed_secs": (self.elapsed.as_secs_f64() * 100.0).round() / 100.0,
            "by_status": self.by_status.iter().map(|(k, v)| (k.to_string(), json!(v))).collect::<serde_json::Map<_, _>>(),
            "by_outcome": self.by_outcome,
            "by_strategy": self.by_strategy,
            "truncations": self.truncations,
            "truncation_span": self.truncation_span,
            "every_truncation_covered": self.truncations >= self.truncation_span,
            "max_input_bytes": self.max_input_bytes,
            "failures": self.failures.iter().map(|f| json!({
                "strategy": f.strategy.name(), "kind": f.kind, "message": f.message, "len": f.bytes.len(),
            })).collect::<Vec<_>>(),
        })
    }

    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&format!(
            "inputs {:>10}   panics {}   signature mismatches {}   {:.0} inputs/s   {:.1} s\n",
            self.inputs,
            self.panics,
            self.signature_mismatches,
            self.inputs_per_sec(),
            self.elapsed.as_secs_f64()
        ));
        out.push_str(&format!(
            "truncations {} over {} (sample, length) pairs; largest input {} bytes\n",
            self.truncations, self.truncation_span, self.max_input_bytes
        ));
        out.push_str("intake status  count\n");
        for (status, n) in &self.by_status {
            out.push_str(&format!("  {status:>12}  {n}\n"));
        }
        out.push_str("strategy             count\n");
        for (s, n) in &self.by_strategy {
            out.push_str(&format!("  {s:<18} {n}\n"));
        }
        out.push_str("outcome                      count\n");
        for (o, n) in &self.by_outcome {
            out.push_str(&format!("  {o:<26} {n}\n"));
        }
        out
    }
}

thread_local! {
    /// The panic message of the input being checked on this thread, set by the hook.
    static LAST_PANIC: RefCell<Option<String>> = const { RefCell::new(None) };
    /// Set while this thread checks an input: the hook stays quiet for those panics (they are
    /// counted and reported) and defers to the previous hook for any other.
    static CHECKING: RefCell<Option<Strategy>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let checking = CHECKING.with(|c| *c.borrow());
            match checking {
                Some(strategy) => {
                    let message = info.to_string();
                    // Under panic=abort nothing after this hook runs: say what failed first.
                    if cfg!(panic = "abort") {
                        eprintln!("fuzz: panic on a {} input: {message}", strategy.name());
                    }
                    LAST_PANIC.with(|p| *p.borrow_mut() = Some(message));
                }
                None => previous(info),
            }
        }));
    });
}

/// Checks one input, catching a panic: `Err` holds the panic message.
pub fn check_caught(input: &Input) -> Result<Outcome, String> {
    check_caught_with(input, check)
}

/// [`check_caught`] with another checker (tests use one that panics, to prove panics are caught).
pub fn check_caught_with(
    input: &Input,
    checker: impl FnOnce(&Input) -> Outcome,
) -> Result<Outcome, String> {
    install_hook();
    CHECKING.with(|c| *c.borrow_mut() = Some(input.strategy));
    let result = catch_unwind(AssertUnwindSafe(|| checker(input)));
    CHECKING.with(|c| *c.borrow_mut() = None);
    result.map_err(|_| {
        LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| "panic".into())
    })
}

/// Tallies one input into `report`.
pub fn record(report: &mut Report, input: &Input, result: Result<Outcome, String>) {
    report.inputs += 1;
    report.max_input_bytes = report.max_input_bytes.max(input.bytes.len());
    *report.by_strategy.entry(input.strategy.name()).or_default() += 1;
    let keep = |report: &mut Report, kind: &'static str, message: String| {
        if report.failures.len() < KEPT_FAILURES {
            report.failures.push(Failure {
                strategy: input.strategy,
                kind,
                message,
                bytes: input.bytes.clone(),
            });
        }
    };
    match result {
        Ok(Outcome::SignatureMismatch) => {
            report.signature_mismatches += 1;
            *report
                .by_outcome
                .entry("signature_mismatch".into())
                .or_default() += 1;
            keep(
                report,
                "signature_mismatch",
                "verify disagreed with the credential".into(),
            );
        }
        Ok(outcome) => {
            *report.by_outcome.entry(outcome.name()).or_default() += 1;
            *report.by_status.entry(outcome.intake_status()).or_default() += 1;
        }
        Err(message) => {
            report.panics += 1;
            *report.by_outcome.entry("panic".into()).or_default() += 1;
            keep(report, "panic", message);
        }
    }
}

/// `total` inputs over `threads` workers, reproducible from `seed`.
pub fn run(corpus: Arc<Corpus>, total: u64, threads: usize, seed: u64) -> Report {
    let threads = threads.max(1);
    let started = Instant::now();
    let span = corpus.samples.iter().map(|(_, b)| b.len() as u64 + 1).sum();
    let mut report = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|lane| {
                let corpus = corpus.clone();
                let share =
                    total / threads as u64 + u64::from((lane as u64) < total % threads as u64);
                scope.spawn(move || {
                    let mut generator = Generator::new(corpus, seed, lane, threads);
                    let mut report = Report::default();
                    for _ in 0..share {
                        let input = generator.next_input();
                        let result = check_caught(&input);
                        record(&mut report, &input, result);
                    }
                    report.truncations = generator.truncations as u64;
                    report
                })
            })
            .collect();
        let mut merged = Report::default();
        for w in workers {
            match w.join() {
                Ok(r) => merged.merge(r),
                // A worker can only die outside check_caught (the generator itself panicked).
                Err(_) => merged.panics += 1,
            }
        }
        merged
    });
    report.truncation_span = span;
    report.elapsed = started.elapsed();
    report
}
