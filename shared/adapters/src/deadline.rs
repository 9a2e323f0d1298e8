//! One deadline per invocation. Every wait an invocation makes (key store reads, a Salla token
//! refresh, cart lookups, Klaviyo retries) is bounded by the same instant, so the sum of the
//! parts can never exceed the whole: Salla waits ~30 s for the intake, and Lambda cuts a
//! function off at its timeout.
//!
//! Built on `tokio::time::Instant`, which is the wall clock in production and a controllable
//! clock in tests that pause tokio's time.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use crate::{AdapterError, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline(Instant);

impl Deadline {
    pub fn at(instant: Instant) -> Self {
        Self(instant)
    }

    /// `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self(Instant::now() + budget)
    }

    /// From the Lambda context's deadline (unix milliseconds): `margin` before it, so the
    /// answer is written before Lambda stops the process, and no later than `cap` from now.
    /// A context without a deadline (0, as outside Lambda) gives `cap`.
    pub fn from_lambda(deadline_ms: u64, margin: Duration, cap: Duration) -> Self {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        Self::after(budget_left(deadline_ms, now_ms, margin, cap))
    }

    pub fn instant(self) -> Instant {
        self.0
    }

    /// Time left, zero once passed.
    pub fn remaining(self) -> Duration {
        self.0.saturating_duration_since(Instant::now())
    }

    pub fn has_passed(self) -> bool {
        self.remaining().is_zero()
    }

    /// Whether at least `needed` is left.
    pub fn allows(self, needed: Duration) -> bool {
        self.remaining() >= needed
    }

    /// This deadline moved `reserve` earlier (a phase that must leave time for the next).
    pub fn reserving(self, reserve: Duration) -> Self {
        Self(self.0.checked_sub(reserve).unwrap_or_else(Instant::now))
    }

    /// The earlier of this deadline and `budget` from now.
    pub fn within(self, budget: Duration) -> Self {
        self.min(Self::after(budget))
    }

    /// Runs `work` until the deadline; past it, the work is dropped and `service` is reported
    /// unavailable (transient: on the webhook path Salla redelivers).
    pub async fn run<T, F>(self, service: Service, work: F) -> Result<T, AdapterError>
    where
        F: Future<Output = Result<T, AdapterError>>,
    {
        match tokio::time::timeout_at(self.0, work).await {
            Ok(result) => result,
            Err(_) => Err(AdapterError::Unavailable {
                service,
                detail: "invocation deadline reached".into(),
            }),
        }
    }
}

/// What is left of a Lambda invocation at `now_ms`, less `margin`, at most `cap`.
pub fn budget_left(deadline_ms: u64, now_ms: u64, margin: Duration, cap: Duration) -> Duration {
    if deadline_ms == 0 {
        return cap;
    }
    Duration::from_millis(deadline_ms.saturating_sub(now_ms))
        .saturating_sub(margin)
        .min(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[test]
    fn the_lambda_deadline_less_the_margin_capped() {
        let now = 1_800_000_000_000;
        // 25 s left, 1 s margin, cap 20 s: the cap.
        assert_eq!(budget_left(now + 25_000, now, S(1), S(20)), S(20));
        // 5 s left: 4 s.
        assert_eq!(budget_left(now + 5_000, now, S(1), S(20)), S(4));
        // Already inside the margin, or past: nothing.
        assert_eq!(budget_left(now + 500, now, S(1), S(20)), Duration::ZERO);
        assert_eq!(budget_left(now - 500, now, S(1), S(20)), Duration::ZERO);
        // No deadline known: the cap.
        assert_eq!(budget_left(0, now, S(1), S(20)), S(20));
    }

    #[tokio::test(start_paused = true)]
    async fn work_past_the_deadline_is_cut_off() {
        let deadline = Deadline::after(S(2));
        assert!(deadline.allows(S(2)));
        assert!(!deadline.allows(S(3)));
        assert_eq!(deadline.reserving(S(5)).remaining(), Duration::ZERO);
        assert_eq!(deadline.within(S(1)).remaining(), S(1));
        let slow = deadline.run(Service::DynamoDb, async {
            tokio::time::sleep(S(10)).await;
            Ok(())
        });
        let err = slow.await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(deadline.has_passed());
        let quick = Deadline::after(S(2)).run(Service::Kms, async { Ok(7) });
        assert_eq!(quick.await.unwrap(), 7);
    }
}
