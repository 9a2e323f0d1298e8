//! How long the import waits before its next Salla call, so it takes at most its share of the
//! store's rate budget and is never refused (429) while it follows the advice.
//!
//! Salla's budget is per store and shared by everything holding the store's token: the live
//! path's cart enrichment must still find room while an import runs. The pacer therefore
//! leaves a reserve in every window (default 15 % of `X-RateLimit-Limit`, at least 10
//! requests) and spreads the rest evenly over the time left until `X-RateLimit-Reset`. The
//! rule is "never take `X-RateLimit-Remaining` below the reserve", read from every answer:
//! what the live path spends comes out of the import's part, and the reserve stays free for a
//! burst at any moment of the window. It needs no memory of earlier calls, so a worker that
//! restarts mid-window, or two workers of one store, still keep it. The leak Salla allows
//! after a window is spent (1 request/s) is left to the live path entirely. A 429 blocks until
//! `Retry-After`; the customers endpoints' own cap (500 per 10 minutes, not reported in
//! headers) is a fixed spacing.
//!
//! Pure: no clock inside; every method takes `now`.

use std::time::{Duration, SystemTime};

use super::client::RateInfo;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PacerConfig {
    /// Share of `X-RateLimit-Limit` left to the live path in every window.
    pub reserve_share: f64,
    /// The reserve's floor, in requests.
    pub reserve_min: u32,
    /// Least time between two calls (the customers cap), if any.
    pub min_interval: Option<Duration>,
    /// Wait after a 429 without `Retry-After`, and after an answer that still reports a spent
    /// window past its own reset time (clock skew between Salla and us).
    pub fallback_wait: Duration,
}

impl Default for PacerConfig {
    fn default() -> Self {
        PacerConfig {
            reserve_share: 0.15,
            reserve_min: 10,
            min_interval: None,
            fallback_wait: Duration::from_secs(1),
        }
    }
}

impl PacerConfig {
    /// For `/customers`: the default reserve plus Salla's customers cap (500 requests per 10
    /// minutes), of which the same share is left to other callers.
    pub fn customers() -> Self {
        let base = PacerConfig::default();
        let share = (1.0 - base.reserve_share).max(0.01);
        PacerConfig {
            min_interval: Some(Duration::from_secs_f64(600.0 / (500.0 * share))),
            ..base
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    limit: Option<u32>,
    remaining: u32,
    reset_at: Option<SystemTime>,
    at: SystemTime,
}

#[derive(Debug, Clone)]
pub struct Pacer {
    config: PacerConfig,
    seen: Option<Seen>,
    blocked_until: Option<SystemTime>,
    last_call: Option<SystemTime>,
    throttled: u64,
}

fn until(now: SystemTime, then: SystemTime) -> Duration {
    then.duration_since(now).unwrap_or(Duration::ZERO)
}

impl Pacer {
    pub fn new(config: PacerConfig) -> Self {
        Pacer {
            config,
            seen: None,
            blocked_until: None,
            last_call: None,
            throttled: 0,
        }
    }

    /// The requests left to the live path in a window of `limit`.
    pub fn reserve(&self, limit: u32) -> u32 {
        let share = (f64::from(limit) * self.config.reserve_share.clamp(0.0, 1.0)).ceil() as u32;
        share.max(self.config.reserve_min)
    }

    /// The requests the import may spend in a full window of `limit` with no live traffic.
    pub fn import_budget(&self, limit: u32) -> u32 {
        limit.saturating_sub(self.reserve(limit))
    }

    /// 429 answers seen (the import's, as observed).
    pub fn throttled(&self) -> u64 {
        self.throttled
    }

    /// Records one answer (`now` = when it arrived).
    pub fn observe(&mut self, rate: &RateInfo, now: SystemTime) {
        self.last_call = Some(now);
        if rate.rate_limited() {
            self.throttled += 1;
            let wait = rate.retry_after.unwrap_or(self.config.fallback_wait);
            self.blocked_until = Some(now + wait);
        }
        if let Some(remaining) = rate.remaining {
            self.seen = Some(Seen {
                limit: rate.limit.or(self.seen.and_then(|s| s.limit)),
                remaining,
                reset_at: rate.reset_at,
                at: now,
            });
        }
    }

    /// How long to wait, from `now`, before the next call.
    pub fn wait(&self, now: SystemTime) -> Duration {
        let mut wait = Duration::ZERO;
        if let Some(blocked) = self.blocked_until {
            wait = wait.max(until(now, blocked));
        }
        if let (Some(min), Some(last)) = (self.config.min_interval, self.last_call) {
            wait = wait.max(until(now, last + min));
        }
        let Some(seen) = self.seen else {
            // Nothing known yet: the first answer tells us the budget.
            return wait;
        };
        let reserve = seen
            .limit
            .map_or(self.config.reserve_min, |l| self.reserve(l));
        let spendable = seen.remaining.saturating_sub(reserve);
        let Some(reset) = seen.reset_at else {
            // No reset time: spend down to the reserve, then probe at the fallback pace.
            if spendable > 0 {
                return wait;
            }
            return wait.max(until(now, seen.at + self.config.fallback_wait));
        };
        if spendable > 0 {
            // Spread what is ours over the rest of the window.
            let step = until(seen.at, reset) / spendable;
            return wait.max(until(now, seen.at + step));
        }
        if seen.at < reset {
            // Ours is spent: the next call goes at the reset.
            return wait.max(until(now, reset));
        }
        // Salla reported a spent window after its own reset time: our clocks disagree.
        wait.max(until(now, seen.at + self.config.fallback_wait))
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    const T0: u64 = 1_796_083_200;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(T0) + Duration::from_millis(ms)
    }

    fn rate(status: u16, limit: u32, remaining: u32, reset_ms: u64) -> RateInfo {
        RateInfo {
            status,
            limit: Some(limit),
            remaining: Some(remaining),
            reset_at: Some(at(reset_ms)),
            retry_after: None,
        }
    }

    #[test]
    fn reserve_is_15_percent_with_a_floor_of_10() {
        let p = Pacer::new(PacerConfig::default());
        assert_eq!(p.reserve(120), 18);
        assert_eq!(p.reserve(360), 54);
        assert_eq!(p.reserve(720), 108);
        assert_eq!(p.reserve(40), 10);
        assert_eq!(p.import_budget(120), 102);
        assert_eq!(
            p.import_budget(8),
            0,
            "a plan smaller than the reserve is the live path's"
        );
    }

    #[test]
    fn first_call_goes_at_once() {
        assert_eq!(
            Pacer::new(PacerConfig::default()).wait(at(0)),
            Duration::ZERO
        );
    }

    #[test]
    fn spreads_the_import_share_over_the_rest_of_the_window() {
        let mut p = Pacer::new(PacerConfig::default());
        // 119 left, 18 reserved: 101 calls over the 60 s left.
        p.observe(&rate(200, 120, 119, 60_000), at(0));
        let step = p.wait(at(0));
        assert_eq!(step, Duration::from_secs(60) / 101);
        // Time spent since the answer counts.
        assert_eq!(p.wait(at(100)), step - Duration::from_millis(100));
        assert_eq!(p.wait(at(5_000)), Duration::ZERO);
    }

    #[test]
    fn at_the_reserve_waits_for_the_reset() {
        let mut p = Pacer::new(PacerConfig::default());
        p.observe(&rate(200, 120, 18, 42_000), at(30_000));
        assert_eq!(p.wait(at(30_000)), Duration::from_secs(12));
        // Live traffic spent more than its reserve: still only the reset.
        p.observe(&rate(200, 120, 0, 42_000), at(31_000));
        assert_eq!(p.wait(at(31_000)), Duration::from_secs(11));
        // After the reset, the next call goes (it opens the new window).
        assert_eq!(p.wait(at(42_000)), Duration::ZERO);
    }

    #[test]
    fn a_spent_window_reported_after_its_reset_waits_the_fallback() {
        let mut p = Pacer::new(PacerConfig::default());
        p.observe(&rate(200, 120, 3, 10_000), at(10_500));
        assert_eq!(p.wait(at(10_500)), Duration::from_secs(1));
    }

    #[test]
    fn a_429_blocks_until_retry_after() {
        let mut p = Pacer::new(PacerConfig::default());
        let mut r = rate(429, 120, 0, 50_000);
        r.retry_after = Some(Duration::from_secs(7));
        p.observe(&r, at(0));
        assert_eq!(p.throttled(), 1);
        // Retry-After is later than nothing else here, but the reset is later still.
        assert_eq!(p.wait(at(0)), Duration::from_secs(50));
        let mut early = Pacer::new(PacerConfig::default());
        let r = RateInfo {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
            ..RateInfo::default()
        };
        early.observe(&r, at(0));
        assert_eq!(early.wait(at(2_000)), Duration::from_secs(5));
        let mut bare = Pacer::new(PacerConfig::default());
        bare.observe(
            &RateInfo {
                status: 429,
                ..RateInfo::default()
            },
            at(0),
        );
        assert_eq!(
            bare.wait(at(0)),
            Duration::from_secs(1),
            "no Retry-After: fallback"
        );
    }

    #[test]
    fn without_headers_it_does_not_throttle_and_without_reset_it_probes() {
        let mut p = Pacer::new(PacerConfig::default());
        p.observe(
            &RateInfo {
                status: 200,
                ..RateInfo::default()
            },
            at(0),
        );
        assert_eq!(p.wait(at(0)), Duration::ZERO);
        p.observe(
            &RateInfo {
                status: 200,
                remaining: Some(50),
                ..RateInfo::default()
            },
            at(0),
        );
        assert_eq!(p.wait(at(0)), Duration::ZERO);
        p.observe(
            &RateInfo {
                status: 200,
                remaining: Some(10),
                ..RateInfo::default()
            },
            at(0),
        );
        assert_eq!(p.wait(at(0)), Duration::from_secs(1));
    }

    #[test]
    fn customers_keep_below_their_cap() {
        let mut p = Pacer::new(PacerConfig::customers());
        p.observe(&rate(200, 720, 700, 60_000), at(0));
        let gap = p.wait(at(0));
        // 500 per 600 s less the reserve share: ≥ 1.2 s apart, ≤ 425 per 10 minutes.
        assert!(gap >= Duration::from_millis(1_400), "{gap:?}");
        assert!(Duration::from_secs(600).as_secs_f64() / gap.as_secs_f64() <= 425.5);
    }

    /// Salla's window as the docs describe it (a fresh window opens with the first call after
    /// the last one ended), with a live path calling at random and the import following the
    /// pacer, for ten minutes: the import is never refused, never takes the reserve, uses at
    /// least 85 % of what each window leaves it, and the live path always finds room.
    #[test]
    fn following_the_pacer_gives_zero_429s_and_uses_the_share() {
        const LIMIT: u32 = 120;
        const WINDOW_MS: u64 = 60_000;
        struct Salla {
            start: u64,
            used: u32,
        }
        impl Salla {
            fn call(&mut self, t: u64) -> RateInfo {
                if t >= self.start + WINDOW_MS {
                    self.start = t;
                    self.used = 0;
                }
                let reset = self.start + WINDOW_MS;
                if self.used >= LIMIT {
                    return RateInfo {
                        retry_after: Some(Duration::from_millis(reset - t)),
                        ..rate(429, LIMIT, 0, reset)
                    };
                }
                self.used += 1;
                rate(200, LIMIT, LIMIT - self.used, reset)
            }
        }
        let mut salla = Salla { start: 0, used: 0 };
        let mut pacer = Pacer::new(PacerConfig::default());
        let budget = pacer.import_budget(LIMIT);
        let mut rng = 0x2545_f491_4f6c_dd1d_u64;
        let mut next_live = 0u64;
        let mut t = 0u64;
        let (mut import_429, mut live_429) = (0, 0);
        // Window start → (import calls, live calls).
        let mut per_window: std::collections::BTreeMap<u64, (u32, u32)> = Default::default();
        while t < 10 * WINDOW_MS {
            let wait = pacer.wait(at(t)).as_millis() as u64;
            let send = t + wait;
            // Live calls due before the import's next one go first (up to the reserve a window).
            while next_live <= send {
                if salla.call(next_live).status == 429 {
                    live_429 += 1;
                } else {
                    per_window.entry(salla.start).or_default().1 += 1;
                }
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // About 12 live calls a minute on average (below the reserve of 18).
                next_live += 1_000 + rng % 8_000;
            }
            let r = salla.call(send);
            if r.status == 429 {
                import_429 += 1;
            } else {
                per_window.entry(salla.start).or_default().0 += 1;
            }
            // 80 ms round trip.
            t = send + 80;
            pacer.observe(&r, at(t));
        }
        assert_eq!(import_429, 0, "the import is never refused");
        assert_eq!(live_429, 0, "the live path always finds room");
        let windows: Vec<(u32, u32)> = per_window.values().copied().collect();
        // The last window is cut by the end of the run.
        for (import, live) in &windows[..windows.len() - 1] {
            // The import's part is what the window holds beyond the reserve and the live calls.
            let allowed = budget - live;
            assert!(
                import <= &allowed,
                "never into the reserve: {import} > {allowed}"
            );
            assert!(
                f64::from(*import) >= 0.85 * f64::from(allowed),
                "at least 85 % of its part: {import} of {allowed} ({windows:?})"
            );
        }
    }
}
