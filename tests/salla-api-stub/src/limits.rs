//! Salla's per-store rate limit, as the docs describe it (KIT salla-api-core, docs 421125):
//! a per-minute budget by plan (Plus 120, Pro 360, Special 720); once it is spent, one more
//! request per second leaks through until the window resets; beyond that 429 with
//! `Retry-After`. The customers endpoints have their own cap (500 per 10 minutes), modelled as
//! a second window without a leak. Pure: every method takes `now`.

use std::time::{Duration, Instant};

/// One budget: `limit` requests per `window`, then one per `leak_every` (if any).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateConfig {
    pub limit: u32,
    pub window: Duration,
    pub leak_every: Option<Duration>,
    /// `X-RateLimit-Reset` and `Retry-After` with millisecond fractions instead of Salla's
    /// whole seconds: with time scaled, a one-second window would otherwise round away.
    pub precise_headers: bool,
}

impl RateConfig {
    /// Salla's Plus plan in real time: 120 per minute, then 1 per second.
    pub const PLUS: RateConfig = RateConfig {
        limit: 120,
        window: Duration::from_secs(60),
        leak_every: Some(Duration::from_secs(1)),
        precise_headers: false,
    };
    /// Salla's customers cap in real time: 500 per 10 minutes.
    pub const CUSTOMERS: RateConfig = RateConfig {
        limit: 500,
        window: Duration::from_secs(600),
        leak_every: None,
        precise_headers: false,
    };
    /// The default for tests: Plus's budget with time running 60x faster (120 per second,
    /// leak every 1/60 s), so a test sees the same shape without waiting minutes.
    pub const PLUS_FAST: RateConfig = RateConfig {
        limit: 120,
        window: Duration::from_secs(1),
        leak_every: Some(Duration::from_micros(16_667)),
        precise_headers: true,
    };
    /// The customers cap 60x faster: 500 per 10 s.
    pub const CUSTOMERS_FAST: RateConfig = RateConfig {
        limit: 500,
        window: Duration::from_secs(10),
        leak_every: None,
        precise_headers: true,
    };
    /// Effectively no limit (load runs that measure something else).
    pub const OFF: RateConfig = RateConfig {
        limit: u32::MAX,
        window: Duration::from_secs(3600),
        leak_every: None,
        precise_headers: false,
    };
}

/// What one admission check decided, with the values the headers carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admission {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// When the current window ends.
    pub reset_at: Instant,
    /// Set when refused: how long until a request would be admitted.
    pub retry_after: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Bucket {
    window_start: Instant,
    used: u32,
    next_leak: Instant,
}

impl Bucket {
    pub fn new(now: Instant) -> Self {
        Bucket {
            window_start: now,
            used: 0,
            next_leak: now,
        }
    }

    /// Counts one request if the budget allows it.
    pub fn admit(&mut self, cfg: &RateConfig, now: Instant) -> Admission {
        let mut end = self.window_start + cfg.window;
        if now >= end {
            // A fresh window starts with the first request after the old one ended.
            self.window_start = now;
            self.used = 0;
            end = now + cfg.window;
        }
        let mut answer = Admission {
            allowed: true,
            limit: cfg.limit,
            remaining: 0,
            reset_at: end,
            retry_after: None,
        };
        if self.used < cfg.limit {
            self.used += 1;
            answer.remaining = cfg.limit - self.used;
            return answer;
        }
        if let Some(every) = cfg.leak_every {
            if now >= self.next_leak {
                self.next_leak = now + every;
                return answer;
            }
            answer.allowed = false;
            answer.retry_after = Some(self.next_leak.min(end) - now);
            return answer;
        }
        answer.allowed = false;
        answer.retry_after = Some(end - now);
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_then_leak_then_refusal_then_fresh_window() {
        let cfg = RateConfig {
            limit: 3,
            window: Duration::from_secs(60),
            leak_every: Some(Duration::from_secs(1)),
            precise_headers: false,
        };
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        let remaining: Vec<u32> = (0..3).map(|_| b.admit(&cfg, t0).remaining).collect();
        assert_eq!(remaining, [2, 1, 0]);
        assert!(b.admit(&cfg, t0).allowed, "the first leak slot is free");
        let refused = b.admit(&cfg, t0);
        assert!(!refused.allowed);
        assert_eq!(refused.retry_after, Some(Duration::from_secs(1)));
        assert!(b.admit(&cfg, t0 + Duration::from_secs(1)).allowed);
        let fresh = b.admit(&cfg, t0 + Duration::from_secs(61));
        assert!(fresh.allowed);
        assert_eq!(fresh.remaining, 2);
    }

    #[test]
    fn without_leak_the_refusal_lasts_until_the_window_ends() {
        let cfg = RateConfig {
            limit: 1,
            window: Duration::from_secs(10),
            leak_every: None,
            precise_headers: false,
        };
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        assert!(b.admit(&cfg, t0).allowed);
        let refused = b.admit(&cfg, t0 + Duration::from_secs(4));
        assert_eq!(refused.retry_after, Some(Duration::from_secs(6)));
    }
}
