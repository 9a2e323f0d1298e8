//! Input generation: a weighted mix of strategies over the sample corpus, each input paired
//! with the credential headers a caller might send.

use std::sync::Arc;

use adapters::salla::signature::{self, Strategy as AuthStrategy};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

use crate::corpus::Corpus;
use crate::mutate;

/// The webhook secret every generated signature uses.
pub const SECRET: &[u8] = b"fuzz-webhook-secret";

/// Nesting depth of the deep-nesting strategy.
pub const DEEP_LEVELS: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Strategy {
    /// Uniformly random bytes, 0–512 long.
    RandomBytes,
    /// A sample cut at a length; lengths are visited in order, so a long enough run covers
    /// every length of every sample.
    Truncated,
    /// A sample with a few byte-level edits.
    ByteFlips,
    /// A sample with JSON nodes replaced by values of other types.
    TypeSwap,
    /// A known event name over another sample's data, possibly type-swapped.
    RandomEnvelope,
    /// A sample with invalid UTF-8 inserted.
    NonUtf8,
    /// 10,000 levels of `[` / `{` (bare, in `data`, in `event`), or valid nesting just under the
    /// parser's limit inside a real envelope.
    DeepNesting,
    /// Huge strings (up to 1 MB), arrays (up to 60k items) or objects (up to 20k keys).
    Huge,
}

impl Strategy {
    pub const ALL: [Strategy; 8] = [
        Strategy::RandomBytes,
        Strategy::Truncated,
        Strategy::ByteFlips,
        Strategy::TypeSwap,
        Strategy::RandomEnvelope,
        Strategy::NonUtf8,
        Strategy::DeepNesting,
        Strategy::Huge,
    ];

    /// Relative frequency in a mixed run, per 10,000 inputs. Huge inputs cost milliseconds
    /// each, so they are rare; everything else is cheap.
    pub fn weight(self) -> u32 {
        match self {
            Strategy::RandomBytes => 800,
            Strategy::Truncated => 1_500,
            Strategy::ByteFlips => 2_000,
            Strategy::TypeSwap => 2_400,
            Strategy::RandomEnvelope => 2_200,
            Strategy::NonUtf8 => 800,
            Strategy::DeepNesting => 280,
            Strategy::Huge => 20,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Strategy::RandomBytes => "random_bytes",
            Strategy::Truncated => "truncated",
            Strategy::ByteFlips => "byte_flips",
            Strategy::TypeSwap => "type_swap",
            Strategy::RandomEnvelope => "random_envelope",
            Strategy::NonUtf8 => "non_utf8",
            Strategy::DeepNesting => "deep_nesting",
            Strategy::Huge => "huge",
        }
    }
}

/// One generated delivery: body bytes and the credentials sent with them.
#[derive(Debug, Clone)]
pub struct Input {
    pub strategy: Strategy,
    pub bytes: Vec<u8>,
    pub auth: AuthStrategy,
    pub signature_header: Option<String>,
    pub authorization_header: Option<String>,
    /// Whether the credential was made correctly for these bytes: `verify` must agree.
    pub credential_valid: bool,
}

pub struct Generator {
    corpus: Arc<Corpus>,
    rng: SmallRng,
    /// This generator visits truncation indexes `lane, lane + lanes, …`, so parallel workers
    /// together cover every (sample, length) pair once per pass.
    truncation_next: usize,
    truncation_stride: usize,
    /// Truncations generated so far by this generator.
    pub truncations: usize,
    events: Vec<&'static str>,
}

impl Generator {
    pub fn new(corpus: Arc<Corpus>, seed: u64, lane: usize, lanes: usize) -> Generator {
        let mut events: Vec<&'static str> = mapping::known_events().collect();
        events.sort_unstable();
        Generator {
            corpus,
            rng: SmallRng::seed_from_u64(seed ^ (lane as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            truncation_next: lane,
            truncation_stride: lanes.max(1),
            truncations: 0,
            events,
        }
    }

    /// The next input of a weighted mix of every strategy.
    pub fn next_input(&mut self) -> Input {
        let total: u32 = Strategy::ALL.iter().map(|s| s.weight()).sum();
        let mut pick = self.rng.random_range(0..total);
        let mut chosen = Strategy::RandomBytes;
        for s in Strategy::ALL {
            if pick < s.weight() {
                chosen = s;
                break;
            }
            pick -= s.weight();
        }
        self.generate(chosen)
    }

    pub fn generate(&mut self, strategy: Strategy) -> Input {
        let bytes = match strategy {
            Strategy::RandomBytes => {
                let mut b = vec![0u8; self.rng.random_range(0..512)];
                self.rng.fill(&mut b[..]);
                b
            }
            Strategy::Truncated => self.truncated(),
            Strategy::ByteFlips => {
                let mut b = self.sample_bytes();
                mutate::flip_bytes(&mut self.rng, &mut b);
                b
            }
            Strategy::TypeSwap => {
                let mut v = self.sample_object();
                mutate::swap_types(&mut self.rng, &mut v);
                to_bytes(&v)
            }
            Strategy::RandomEnvelope => self.random_envelope(),
            Strategy::NonUtf8 => {
                let mut b = self.sample_bytes();
                mutate::non_utf8(&mut self.rng, &mut b);
                b
            }
            Strategy::DeepNesting => {
                if self.rng.random_bool(0.75) {
                    mutate::deep_nesting(&mut self.rng, DEEP_LEVELS)
                } else {
                    let base = self.sample_object();
                    let levels = self.rng.random_range(11..120);
                    to_bytes(&mutate::nested_within_parser_limit(&base, levels))
                }
            }
            Strategy::Huge => {
                let base = self.sample_object();
                to_bytes(&mutate::huge(&mut self.rng, &base))
            }
        };
        self.credentials(strategy, bytes)
    }

    fn truncated(&mut self) -> Vec<u8> {
        // Index space: for each sample, lengths 0..=len.
        let span: usize = self.corpus.samples.iter().map(|(_, b)| b.len() + 1).sum();
        let mut index = self.truncation_next % span.max(1);
        self.truncation_next += self.truncation_stride;
        self.truncations += 1;
        for (_, body) in &self.corpus.samples {
            if index <= body.len() {
                return body[..index].to_vec();
            }
            index -= body.len() + 1;
        }
        Vec::new()
    }

    fn sample_bytes(&mut self) -> Vec<u8> {
        let i = self.rng.random_range(0..self.corpus.samples.len());
        self.corpus.samples[i].1.clone()
    }

    fn sample_object(&mut self) -> Value {
        if self.corpus.objects.is_empty() {
            return json!({});
        }
        let i = self.rng.random_range(0..self.corpus.objects.len());
        self.corpus.objects[i].clone()
    }

    fn random_envelope(&mut self) -> Vec<u8> {
        let donor = self.sample_object();
        let event = if self.rng.random_bool(0.9) && !self.events.is_empty() {
            Value::from(self.events[self.rng.random_range(0..self.events.len())])
        } else {
            Value::String(mutate::random_string(&mut self.rng))
        };
        let merchant = match self.rng.random_range(0..5) {
            0 => Value::String(self.rng.random_range(1u64..9_999_999_999).to_string()),
            1 => mutate::random_value(&mut self.rng, 1),
            _ => Value::from(self.rng.random_range(1u64..9_999_999_999)),
        };
        let data = donor
            .get("data")
            .cloned()
            .filter(Value::is_object)
            .unwrap_or_else(|| mutate::random_value(&mut self.rng, 4));
        let created_at = if self.rng.random_bool(0.7) {
            donor.get("created_at").cloned().unwrap_or(Value::Null)
        } else {
            Value::String(mutate::random_string(&mut self.rng))
        };
        let mut v =
            json!({"event": event, "merchant": merchant, "created_at": created_at, "data": data});
        if self.rng.random_bool(0.5) {
            mutate::swap_types(&mut self.rng, &mut v);
        }
        to_bytes(&v)
    }

    fn credentials(&mut self, strategy: Strategy, bytes: Vec<u8>) -> Input {
        let good = signature::sign(SECRET, &bytes);
        let mut input = Input {
            strategy,
            bytes,
            auth: AuthStrategy::Signature,
            signature_header: None,
            authorization_header: None,
            credential_valid: false,
        };
        match self.rng.random_range(0..20) {
            0..=11 => {
                input.signature_header = Some(good);
                input.credential_valid = true;
            }
            12 => {
                input.signature_header = Some(format!("sha256={}", good.to_uppercase()));
                input.credential_valid = true;
            }
            13 => {
                // One hex digit changed: still hex, wrong MAC.
                let mut wrong = good.into_bytes();
                wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
                input.signature_header = Some(String::from_utf8_lossy(&wrong).into_owned());
            }
            14 => input.signature_header = Some(mutate::random_string(&mut self.rng)),
            15 => input.signature_header = Some(good[..self.rng.random_range(0..64)].to_string()),
            16 => {}
            17 => {
                input.auth = AuthStrategy::Token;
                input.authorization_header = Some(String::from_utf8_lossy(SECRET).into_owned());
                input.credential_valid = true;
            }
            18 => {
                input.auth = AuthStrategy::Token;
                input.authorization_header = Some(mutate::random_string(&mut self.rng));
            }
            _ => {
                input.auth = AuthStrategy::Token;
                input.signature_header = Some(good);
            }
        }
        input
    }
}

fn to_bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
