//! A short generated run for CI (the full ≥1,000,000-input run is infra/scripts/fuzz.sh), and
//! checks that the generators and the panic catcher do what the long run relies on.

use std::sync::Arc;

use fuzz::run::{Report, check_caught, check_caught_with, record};
use fuzz::{Corpus, Generator, Outcome, Strategy, check, run};

fn corpus() -> Arc<Corpus> {
    Arc::new(Corpus::load(&Corpus::default_dir()).expect("tests/fixtures/salla-samples"))
}

#[test]
fn twenty_thousand_mixed_inputs_never_panic_or_map_to_5xx() {
    let report = run(corpus(), 20_000, 2, 7);
    assert_eq!(report.inputs, 20_000);
    assert!(report.clean(), "{}", report.to_json());
    for status in report.by_status.keys() {
        assert!(
            [200, 400, 401].contains(status),
            "unexpected intake status {status}: {}",
            report.table()
        );
    }
    // The mix must reach the planner, not just the JSON parser.
    let sends = report.by_outcome.get("200/send").copied().unwrap_or(0);
    assert!(
        sends > 500,
        "too few inputs were relayable: {}",
        report.table()
    );
    assert!(
        report
            .by_outcome
            .get("400/wrong_type")
            .copied()
            .unwrap_or(0)
            > 100
    );
    for s in Strategy::ALL {
        assert!(
            report.by_strategy.get(s.name()).copied().unwrap_or(0) > 0,
            "{} never generated",
            s.name()
        );
    }
}

#[test]
fn truncations_are_a_400_unless_whole_json_and_visit_lengths_in_order() {
    // The release run covers every length of every sample; here every length of the small
    // samples and about 400 lengths of each large one, to stay quick in a debug build.
    let corpus = corpus();
    let mut checked = 0;
    for (name, body) in &corpus.samples {
        let step = (body.len() / 400).max(1);
        for len in (0..=body.len()).step_by(step) {
            let prefix = &body[..len];
            let input = fuzz::Input {
                strategy: Strategy::Truncated,
                bytes: prefix.to_vec(),
                auth: adapters::salla::signature::Strategy::Signature,
                signature_header: Some(adapters::salla::signature::sign(
                    fuzz::generate::SECRET,
                    prefix,
                )),
                authorization_header: None,
                credential_valid: true,
            };
            let outcome = check(&input);
            if serde_json::from_slice::<serde_json::Value>(prefix).is_err() {
                assert_eq!(
                    outcome.intake_status(),
                    400,
                    "{name} cut at {len}: {outcome:?}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 5_000, "{checked}");

    // The generator walks (sample, length) pairs in order: lengths 0, 1, 2, … of the first
    // sample, then the next sample; two lanes interleave without overlap.
    let first = corpus.samples[0].1.clone();
    let mut lane0 = Generator::new(corpus.clone(), 1, 0, 2);
    let mut lane1 = Generator::new(corpus.clone(), 1, 1, 2);
    for len in (0..first.len().min(300)).step_by(2) {
        assert_eq!(
            lane0.generate(Strategy::Truncated).bytes,
            first[..len].to_vec()
        );
        assert_eq!(
            lane1.generate(Strategy::Truncated).bytes,
            first[..len + 1].to_vec()
        );
    }
}

#[test]
fn generators_make_the_inputs_they_claim() {
    let mut generator = Generator::new(corpus(), 3, 0, 1);
    let mut deepest = 0;
    let mut invalid_utf8 = 0;
    let mut largest = 0;
    for _ in 0..200 {
        let deep = generator.generate(Strategy::DeepNesting);
        let mut depth: usize = 0;
        let mut max: usize = 0;
        for b in &deep.bytes {
            match b {
                b'[' | b'{' => {
                    depth += 1;
                    max = max.max(depth);
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        deepest = deepest.max(max);
        let bad = generator.generate(Strategy::NonUtf8);
        if std::str::from_utf8(&bad.bytes).is_err() {
            invalid_utf8 += 1;
        }
    }
    for _ in 0..10 {
        largest = largest.max(generator.generate(Strategy::Huge).bytes.len());
    }
    assert!(deepest >= fuzz::generate::DEEP_LEVELS, "deepest {deepest}");
    assert_eq!(
        invalid_utf8, 200,
        "every non-UTF-8 input must be invalid UTF-8"
    );
    assert!(largest > 100_000, "largest huge input {largest} bytes");
}

#[test]
fn a_panic_in_the_checked_code_is_caught_counted_and_kept() {
    let mut generator = Generator::new(corpus(), 5, 0, 1);
    let input = generator.generate(Strategy::TypeSwap);
    let result = check_caught_with(&input, |_| panic!("planted failure"));
    let message = result.clone().expect_err("the panic must be caught");
    assert!(message.contains("planted failure"), "{message}");
    let mut report = Report::default();
    record(&mut report, &input, result);
    assert_eq!(report.panics, 1);
    assert!(!report.clean());
    assert_eq!(report.failures[0].bytes, input.bytes);
    // And the real checker on the same input does not panic.
    assert!(check_caught(&input).is_ok());
}

#[test]
fn a_wrong_credential_is_never_accepted() {
    let mut generator = Generator::new(corpus(), 11, 0, 1);
    for _ in 0..2_000 {
        let mut input = generator.next_input();
        if input.credential_valid {
            // Any single-byte change to the body must break a signature made for the original.
            if input.auth == adapters::salla::signature::Strategy::Signature
                && !input.bytes.is_empty()
            {
                input.bytes[0] ^= 0x20;
                input.credential_valid = false;
            } else {
                continue;
            }
        }
        let outcome = check(&input);
        assert!(
            matches!(outcome, Outcome::Unauthenticated(_)),
            "{:?} accepted: {outcome:?}",
            input.strategy
        );
    }
}
