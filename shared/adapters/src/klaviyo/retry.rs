//! How long and how often we retry Klaviyo. Salla waits ~30 s for our answer and redelivers
//! three times ~5 minutes apart, so our own retries only need to ride out a bad second or
//! two; anything longer is better handed back to Salla with a 503.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Total time one webhook may spend on Klaviyo, retries included. Past it we answer 503.
    pub budget: Duration,
    /// Timeout of a single HTTP attempt.
    pub attempt_timeout: Duration,
    /// First backoff step for 5xx and network errors; doubles each attempt, with full jitter.
    pub base_backoff: Duration,
    /// Cap on one backoff step.
    pub max_backoff: Duration,
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    /// Longest `Retry-After` a 429 is waited out for. A burst-window refusal (Klaviyo says
    /// 1 s) is cheaper to wait out than to redeliver; a steady-window refusal (up to a minute)
    /// is not: sleeping holds a Lambda and its concurrency for the whole wait, and every
    /// sleeper retries at the same second. Past this cap the webhook is answered 503 at once
    /// and Salla's redelivery brings it back when the quota is free.
    pub max_rate_limit_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            budget: Duration::from_secs(20),
            attempt_timeout: Duration::from_secs(8),
            base_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(3),
            max_attempts: 5,
            max_rate_limit_wait: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// Backoff before attempt `attempt` (1-based count of failures so far), full jitter:
    /// uniformly random in [0, min(max, base·2^(n-1))], so many stores retrying after the
    /// same Klaviyo blip do not come back in lockstep.
    pub fn backoff(&self, failures: u32) -> Duration {
        let exp = self
            .base_backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
        let cap = exp.min(self.max_backoff);
        cap.mul_f64(rand::random::<f64>())
    }
}

impl RetryPolicy {
    /// How long to wait before retrying a 429, or `None` when the wait is past
    /// [`RetryPolicy::max_rate_limit_wait`] and the request should be handed back. Klaviyo's
    /// `Retry-After` is whole seconds to the window's reset, so every request refused in one
    /// second is told the same instant: up to half a second more (random) spreads them over the
    /// next window instead of overflowing it again.
    pub fn rate_limit_wait(
        &self,
        retry_after: Option<Duration>,
        failures: u32,
    ) -> Option<Duration> {
        let Some(after) = retry_after else {
            return Some(self.backoff(failures));
        };
        if after > self.max_rate_limit_wait {
            return None;
        }
        Some(after + Duration::from_millis(500).mul_f64(rand::random::<f64>()))
    }
}

/// Parses `Retry-After` as Klaviyo sends it (integer seconds). HTTP-date forms are not used by
/// Klaviyo; they fall back to our own backoff.
pub fn parse_retry_after(value: Option<&str>) -> Option<Duration> {
    let secs: f64 = value?.trim().parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(3600.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_bounded_by_cap() {
        let p = RetryPolicy::default();
        for n in 1..40 {
            assert!(p.backoff(n) <= p.max_backoff);
        }
        assert!(p.backoff(1) <= p.base_backoff);
    }

    #[test]
    fn a_429_is_waited_out_only_up_to_the_cap() {
        let p = RetryPolicy::default();
        let w = p.rate_limit_wait(Some(Duration::from_secs(1)), 1).unwrap();
        assert!(
            w >= Duration::from_secs(1) && w <= Duration::from_millis(1500),
            "{w:?}"
        );
        assert!(p.rate_limit_wait(Some(p.max_rate_limit_wait), 1).is_some());
        assert_eq!(p.rate_limit_wait(Some(Duration::from_secs(3)), 1), None);
        assert_eq!(p.rate_limit_wait(Some(Duration::from_secs(59)), 1), None);
        assert!(p.rate_limit_wait(None, 1).unwrap() <= p.base_backoff);
    }

    #[test]
    fn burst_window_retries_are_spread_over_half_a_second() {
        // Every request refused in one second is told the same Retry-After: were they all
        // to come back at that instant, they would overflow the next window together.
        let p = RetryPolicy::default();
        let waits: Vec<Duration> = (0..50)
            .map(|_| p.rate_limit_wait(Some(Duration::from_secs(1)), 1).unwrap())
            .collect();
        let earliest = *waits.iter().min().unwrap();
        let latest = *waits.iter().max().unwrap();
        assert!(earliest >= Duration::from_secs(1), "{earliest:?}");
        assert!(latest <= Duration::from_millis(1500), "{latest:?}");
        assert!(
            latest - earliest >= Duration::from_millis(100),
            "50 waits within {:?} of each other",
            latest - earliest
        );
    }

    #[test]
    fn retry_after_parses_seconds_only() {
        assert_eq!(parse_retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after(Some(" 1.5 ")),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")),
            None
        );
        assert_eq!(parse_retry_after(Some("-1")), None);
        assert_eq!(parse_retry_after(None), None);
    }
}
