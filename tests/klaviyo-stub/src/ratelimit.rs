//! Klaviyo's per-account rate limits, as its docs describe them: two fixed windows per
//! endpoint, burst (1 s) and steady (1 min); exceeding either answers 429 with `Retry-After`
//! in whole seconds. The numbers come from the spec's `x-klaviyo-ratelimit` on each operation
//! (`POST /api/events`: 350/s, 3500/m; `POST /api/profile-import`: 75/s, 750/m; …).
//!
//! Counted per account (a private key opens one account; Klaviyo shares the quota between
//! every private key of an account) and per endpoint. A throttled request does not use up the
//! window: the docs say nothing either way, and counting it would let a client that retries
//! too early lock itself out for good, which Klaviyo's SDKs (sleep `Retry-After`, retry) do
//! not report.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;

const BURST_WINDOW_MS: u64 = 1_000;
const STEADY_WINDOW_MS: u64 = 60_000;

/// Whether the stub enforces Klaviyo's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RateLimitMode {
    /// Every request is served (the default: tests and load runs measure the relay, not the quota).
    #[default]
    Off,
    /// Klaviyo's per-account, per-endpoint burst and steady limits from the spec.
    Klaviyo,
}

impl RateLimitMode {
    /// `off` or `klaviyo` (the CLI flag and `KLAVIYO_STUB_RATE_LIMITS`).
    pub fn parse(text: &str) -> Option<RateLimitMode> {
        match text.trim().to_ascii_lowercase().as_str() {
            "off" | "none" | "" => Some(RateLimitMode::Off),
            "klaviyo" => Some(RateLimitMode::Klaviyo),
            _ => None,
        }
    }
}

/// One endpoint's tier: requests per burst window and per steady window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tier {
    pub burst: u32,
    pub steady: u32,
}

impl Tier {
    /// Reads `{"burst": "350/s", "steady": "3500/m"}`.
    pub fn from_spec(limit: &Value) -> Option<Tier> {
        Some(Tier {
            burst: per(limit.get("burst")?.as_str()?, "s")?,
            steady: per(limit.get("steady")?.as_str()?, "m")?,
        })
    }
}

fn per(text: &str, unit: &str) -> Option<u32> {
    let (n, u) = text.trim().split_once('/')?;
    (u.trim() == unit).then_some(())?;
    n.trim().parse().ok()
}

/// Which window refused a request, and when to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttled {
    pub window: Window,
    /// Whole seconds until the refusing window resets, at least 1 (Klaviyo sends integers).
    pub retry_after_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Burst,
    Steady,
}

#[derive(Debug, Default, Clone, Copy)]
struct Counter {
    burst_window: u64,
    burst_used: u32,
    steady_window: u64,
    steady_used: u32,
}

/// Counters per (account, endpoint). Windows are aligned to the stub's start, so `now` is the
/// time since then.
#[derive(Debug, Default)]
pub struct Limiter {
    counters: HashMap<(String, String), Counter>,
}

impl Limiter {
    /// Admits one request of `endpoint` for `account` at `now`, or says which window is full.
    pub fn admit(
        &mut self,
        account: &str,
        endpoint: &str,
        tier: Tier,
        now: Duration,
    ) -> Result<(), Throttled> {
        let ms = u64::try_from(now.as_millis()).unwrap_or(u64::MAX);
        let (burst_window, steady_window) = (ms / BURST_WINDOW_MS, ms / STEADY_WINDOW_MS);
        let c = self
            .counters
            .entry((account.to_owned(), endpoint.to_owned()))
            .or_default();
        if c.burst_window != burst_window {
            c.burst_window = burst_window;
            c.burst_used = 0;
        }
        if c.steady_window != steady_window {
            c.steady_window = steady_window;
            c.steady_used = 0;
        }
        let wait = |window_len: u64, index: u64| {
            let end = (index + 1).saturating_mul(window_len);
            end.saturating_sub(ms).div_ceil(1_000).max(1)
        };
        if c.steady_used >= tier.steady {
            return Err(Throttled {
                window: Window::Steady,
                retry_after_secs: wait(STEADY_WINDOW_MS, steady_window),
            });
        }
        if c.burst_used >= tier.burst {
            return Err(Throttled {
                window: Window::Burst,
                retry_after_secs: wait(BURST_WINDOW_MS, burst_window),
            });
        }
        c.burst_used += 1;
        c.steady_used += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const EVENTS: Tier = Tier {
        burst: 350,
        steady: 3500,
    };

    fn at(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn tiers_are_read_from_the_spec_notation() {
        assert_eq!(
            Tier::from_spec(&json!({"burst": "350/s", "steady": "3500/m"})),
            Some(EVENTS)
        );
        assert_eq!(
            Tier::from_spec(&json!({"burst": "1/s", "steady": "15/m"})),
            Some(Tier {
                burst: 1,
                steady: 15
            })
        );
        assert_eq!(
            Tier::from_spec(&json!({"burst": "350/m", "steady": "3500/m"})),
            None
        );
        assert_eq!(
            Tier::from_spec(&json!({"burst": "x/s", "steady": "3500/m"})),
            None
        );
        assert_eq!(Tier::from_spec(&json!({})), None);
    }

    #[test]
    fn burst_window_refuses_the_351st_request_in_a_second_then_recovers() {
        let mut l = Limiter::default();
        for _ in 0..350 {
            assert_eq!(l.admit("acct", "POST /api/events", EVENTS, at(200)), Ok(()));
        }
        assert_eq!(
            l.admit("acct", "POST /api/events", EVENTS, at(999)),
            Err(Throttled {
                window: Window::Burst,
                retry_after_secs: 1
            })
        );
        assert_eq!(
            l.admit("acct", "POST /api/events", EVENTS, at(1_000)),
            Ok(())
        );
    }

    #[test]
    fn steady_window_refuses_past_3500_a_minute_until_the_minute_ends() {
        let mut l = Limiter::default();
        // 350 a second for ten seconds fills the minute.
        for s in 0..10u64 {
            for _ in 0..350 {
                assert_eq!(l.admit("acct", "ev", EVENTS, at(s * 1_000)), Ok(()));
            }
        }
        let refused = l.admit("acct", "ev", EVENTS, at(10_500));
        assert_eq!(
            refused,
            Err(Throttled {
                window: Window::Steady,
                retry_after_secs: 50
            })
        );
        assert!(l.admit("acct", "ev", EVENTS, at(59_999)).is_err());
        assert_eq!(l.admit("acct", "ev", EVENTS, at(60_000)), Ok(()));
    }

    #[test]
    fn accounts_and_endpoints_have_their_own_counters() {
        let tiny = Tier {
            burst: 1,
            steady: 15,
        };
        let mut l = Limiter::default();
        assert_eq!(l.admit("a", "GET /api/accounts", tiny, at(0)), Ok(()));
        assert!(l.admit("a", "GET /api/accounts", tiny, at(10)).is_err());
        assert_eq!(l.admit("b", "GET /api/accounts", tiny, at(10)), Ok(()));
        assert_eq!(l.admit("a", "POST /api/events", tiny, at(10)), Ok(()));
    }

    #[test]
    fn refused_requests_do_not_use_up_the_window() {
        let tiny = Tier {
            burst: 2,
            steady: 100,
        };
        let mut l = Limiter::default();
        assert!(l.admit("a", "e", tiny, at(0)).is_ok());
        assert!(l.admit("a", "e", tiny, at(0)).is_ok());
        for _ in 0..50 {
            assert!(l.admit("a", "e", tiny, at(500)).is_err());
        }
        // Only the two admitted requests count towards the minute.
        for s in 1..50u64 {
            assert!(l.admit("a", "e", tiny, at(s * 1_000)).is_ok(), "second {s}");
            assert!(l.admit("a", "e", tiny, at(s * 1_000)).is_ok(), "second {s}");
        }
        assert!(l.admit("a", "e", tiny, at(50_000)).is_err());
    }

    #[test]
    fn modes_parse() {
        assert_eq!(
            RateLimitMode::parse("klaviyo"),
            Some(RateLimitMode::Klaviyo)
        );
        assert_eq!(
            RateLimitMode::parse(" Klaviyo "),
            Some(RateLimitMode::Klaviyo)
        );
        assert_eq!(RateLimitMode::parse("off"), Some(RateLimitMode::Off));
        assert_eq!(RateLimitMode::parse("fast"), None);
    }
}
