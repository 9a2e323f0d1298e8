//! The stub's memory: accounts, Klaviyo-side data (profiles, events, catalog), injected faults,
//! and what was recorded. One mutex; no lock is held across an await.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::jsonapi;
use crate::model::{Fault, Landing, Recorded, StubAccount, StubStats};
use crate::ratelimit::{Limiter, RateLimitMode};

/// A fault waiting in the queue, optionally limited to one route.
#[derive(Debug)]
pub(crate) struct QueuedFault {
    pub fault: Fault,
    pub remaining: usize,
    /// `(METHOD, path prefix)`; `None` matches every request.
    pub only: Option<(String, String)>,
}

#[derive(Default)]
pub(crate) struct World {
    pub accounts: HashMap<String, StubAccount>,
    pub accept_any_key: bool,
    /// Off in load runs: keep counters only, no request log or event bodies.
    pub record: bool,
    pub requests: Vec<Recorded>,
    pub violations: Vec<String>,
    pub events: Vec<Value>,
    /// Klaviyo's event dedup key: (profile, metric name, unique_id).
    pub event_keys: HashSet<(String, String, String)>,
    /// Profile identifier (`email:…`, `phone_number:…`, `external_id:…`) → profile id.
    pub profiles: HashMap<String, String>,
    pub next_profile: u64,
    /// Catalog item id (`$custom:::$default:::<external_id>`) → attributes.
    pub catalog: HashMap<String, Value>,
    pub faults: VecDeque<QueuedFault>,
    pub latency: Duration,
    pub duplicate_phones: HashSet<String>,
    pub stats: StubStats,
    pub rate_limits: RateLimitMode,
    pub limiter: Limiter,
    /// Added to the real time since start (tests move the rate-limit windows without waiting).
    pub clock_offset: Duration,
    /// Tests: the rate-limit clock is `clock_offset` alone, so windows never roll by themselves.
    pub manual_clock: bool,
    /// When each distinct event was first accepted, and how many duplicates followed it; kept
    /// only when asked for (load runs that attribute events to deliveries).
    pub landings: Option<HashMap<(String, String, String), Landing>>,
    /// Metrics of other integrations and the account's metric mapping.
    pub mapping: crate::mapped_metrics::MappingWorld,
    pub segments: crate::segments::Segments,
    pub flows: crate::flows::Flows,
    pub tags: crate::tags::Tags,
}

pub(crate) struct State {
    world: Mutex<World>,
    started: Instant,
}

impl State {
    pub(crate) fn new() -> State {
        State {
            world: Mutex::new(World {
                record: true,
                ..World::default()
            }),
            started: Instant::now(),
        }
    }

    /// The stub's clock for rate-limit windows: time since start plus any test offset.
    pub(crate) fn now(&self, world: &World) -> Duration {
        if world.manual_clock {
            world.clock_offset
        } else {
            self.started.elapsed() + world.clock_offset
        }
    }

    /// A poisoned lock only means a test thread panicked; the data is still usable.
    pub(crate) fn lock(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl World {
    /// Takes one use of the first queued fault that matches this request.
    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<Fault> {
        let index = self.faults.iter().position(|q| match &q.only {
            None => true,
            Some((m, prefix)) => {
                m.eq_ignore_ascii_case(method) && path.starts_with(prefix.as_str())
            }
        })?;
        let queued = self.faults.get_mut(index)?;
        let fault = queued.fault.clone();
        queued.remaining = queued.remaining.saturating_sub(1);
        if queued.remaining == 0 {
            self.faults.remove(index);
        }
        Some(fault)
    }

    /// The account a key opens, if any. With `accept_any_key`, every `pk_` key opens an account
    /// whose id is derived from the key, so different stores look like different accounts.
    pub(crate) fn account_for(&self, key: &str) -> Option<StubAccount> {
        if let Some(account) = self.accounts.get(key) {
            return Some(account.clone());
        }
        (self.accept_any_key && key.starts_with("pk_")).then(|| StubAccount {
            name: "Load Test Store".to_owned(),
            id: public_id_for(key),
            scopes_ok: true,
        })
    }

    /// Finds the profile any of `identifiers` belongs to, or creates one; then links every
    /// identifier to it (Klaviyo's "identify" behaviour). Returns (profile id, created).
    pub(crate) fn upsert_profile(&mut self, identifiers: &[String]) -> (String, bool) {
        let existing = identifiers
            .iter()
            .find_map(|i| self.profiles.get(i))
            .cloned();
        let (id, created) = match existing {
            Some(id) => (id, false),
            None => {
                self.next_profile += 1;
                (jsonapi::profile_id(self.next_profile), true)
            }
        };
        for i in identifiers {
            self.profiles.entry(i.clone()).or_insert_with(|| id.clone());
        }
        (id, created)
    }

    /// Counts one accepted create-event with Klaviyo's dedup key; true if it is the first.
    pub(crate) fn accept_event(&mut self, key: (String, String, String)) -> bool {
        self.stats.events_accepted += 1;
        let now_ms = unix_ms();
        if let Some(landings) = &mut self.landings {
            landings
                .entry(key.clone())
                .and_modify(|l| l.duplicates += 1)
                .or_insert(Landing {
                    first_unix_ms: now_ms,
                    duplicates: 0,
                });
        }
        let first = self.event_keys.insert(key);
        if first {
            self.stats.distinct_events = self.event_keys.len();
            self.stats.last_new_event_unix_ms = Some(now_ms);
        } else {
            self.stats.duplicate_events += 1;
        }
        first
    }

    pub(crate) fn record(&mut self, recorded: Recorded) {
        self.stats.requests += 1;
        *self.stats.by_status.entry(recorded.status).or_default() += 1;
        self.stats.violations += recorded.violations.len();
        for v in &recorded.violations {
            if self.record || self.violations.len() < 1000 {
                self.violations
                    .push(format!("{} {}: {v}", recorded.method, recorded.path));
            }
        }
        if self.record {
            self.requests.push(recorded);
        }
    }

    /// Forgets everything that happened; keeps the configuration (accounts, any-key mode,
    /// recording mode).
    pub(crate) fn reset(&mut self) {
        let keep = World {
            accounts: std::mem::take(&mut self.accounts),
            accept_any_key: self.accept_any_key,
            record: self.record,
            rate_limits: self.rate_limits,
            manual_clock: self.manual_clock,
            landings: self.landings.as_ref().map(|_| HashMap::new()),
            ..World::default()
        };
        *self = keep;
    }
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Six base-62 characters from an FNV-1a hash of the key, like Klaviyo's public keys.
fn public_id_for(key: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (0..6)
        .map(|_| {
            let c = ALPHABET[(h % 62) as usize] as char;
            h /= 62;
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_are_taken_in_order_and_per_route() {
        let mut w = World::default();
        w.faults.push_back(QueuedFault {
            fault: Fault::Drop { times: 1 },
            remaining: 1,
            only: Some(("POST".into(), "/api/profile-import".into())),
        });
        w.faults.push_back(QueuedFault {
            fault: Fault::Drop { times: 2 },
            remaining: 2,
            only: None,
        });
        assert_eq!(
            w.take_fault("POST", "/api/events"),
            Some(Fault::Drop { times: 2 })
        );
        assert_eq!(
            w.take_fault("POST", "/api/profile-import"),
            Some(Fault::Drop { times: 1 })
        );
        assert_eq!(
            w.take_fault("GET", "/api/accounts"),
            Some(Fault::Drop { times: 2 })
        );
        assert_eq!(w.take_fault("GET", "/api/accounts"), None);
    }

    #[test]
    fn profiles_are_found_by_any_identifier() {
        let mut w = World::default();
        let (a, created) = w.upsert_profile(&["email:a@x".into()]);
        assert!(created);
        let (b, created) = w.upsert_profile(&["phone_number:+9665".into(), "email:a@x".into()]);
        assert!(!created);
        assert_eq!(a, b);
        let (c, _) = w.upsert_profile(&["phone_number:+9665".into()]);
        assert_eq!(a, c);
    }

    #[test]
    fn any_key_mode_derives_stable_distinct_ids() {
        let mut w = World::default();
        assert!(w.account_for("pk_one").is_none());
        w.accept_any_key = true;
        let one = w.account_for("pk_one").expect("pk_ key");
        assert_eq!(one.id.len(), 6);
        assert_eq!(one, w.account_for("pk_one").expect("again"));
        assert_ne!(one.id, w.account_for("pk_two").expect("pk_ key").id);
        assert!(w.account_for("sk_one").is_none());
    }
}
