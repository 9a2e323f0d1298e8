//! When a Salla access token expires and when to refresh it: the one rule every path uses
//! (the OAuth callback, the `app.store.authorize` event, cart enrichment).

use super::SallaTokens;
use crate::Secret;

/// `expires` values at or above this are absolute unix timestamps (the `app.store.authorize`
/// event sends those); below it (2001) they are lifetimes in seconds (the token endpoint sends
/// 1209599, i.e. 14 days).
const ABSOLUTE_EXPIRY_THRESHOLD: i64 = 1_000_000_000;

impl SallaTokens {
    /// The documented access-token lifetime, assumed when Salla omits the expiry.
    pub const DEFAULT_LIFETIME_SECS: i64 = 14 * 24 * 3600;

    /// Refresh when less than this is left: a store quiet for days still finds a live token.
    pub const REFRESH_MARGIN_SECS: i64 = 3 * 24 * 3600;

    /// `expires` as Salla sends it (absolute, or a lifetime; see the threshold above) as
    /// absolute unix seconds. A lifetime of zero or less means already expired.
    pub fn expiry_from(expires: Option<i64>, now: i64) -> i64 {
        match expires {
            Some(v) if v >= ABSOLUTE_EXPIRY_THRESHOLD => v,
            Some(v) => now.saturating_add(v.max(0)),
            None => now.saturating_add(Self::DEFAULT_LIFETIME_SECS),
        }
    }

    /// Whether the access token is close enough to expiry (or past it) to refresh now.
    pub fn needs_refresh(&self, now: i64) -> bool {
        self.expires_at.saturating_sub(now) <= Self::REFRESH_MARGIN_SECS
    }

    /// The access token, if it has not expired yet.
    pub fn live_access_token(&self, now: i64) -> Option<&Secret> {
        (self.expires_at > now).then_some(&self.access_token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn tokens(expires_at: i64) -> SallaTokens {
        SallaTokens {
            access_token: Secret::new("at"),
            refresh_token: Secret::new("rt"),
            expires_at,
            scope: None,
            refresh_lease_until: None,
            refresh_blocked_at: None,
        }
    }

    #[test]
    fn expires_is_absolute_or_lifetime() {
        assert_eq!(
            SallaTokens::expiry_from(Some(1_700_000_000), NOW),
            1_700_000_000
        );
        assert_eq!(
            SallaTokens::expiry_from(Some(ABSOLUTE_EXPIRY_THRESHOLD), NOW),
            ABSOLUTE_EXPIRY_THRESHOLD
        );
        assert_eq!(
            SallaTokens::expiry_from(Some(1_209_599), NOW),
            NOW + 1_209_599
        );
        assert_eq!(SallaTokens::expiry_from(Some(-5), 100), 100);
        assert_eq!(SallaTokens::expiry_from(Some(0), 100), 100);
        assert_eq!(
            SallaTokens::expiry_from(None, NOW),
            NOW + SallaTokens::DEFAULT_LIFETIME_SECS
        );
        assert_eq!(
            SallaTokens::expiry_from(Some(999_999_999), i64::MAX),
            i64::MAX
        );
    }

    #[test]
    fn refresh_starts_inside_the_margin() {
        let margin = SallaTokens::REFRESH_MARGIN_SECS;
        assert!(!tokens(NOW + margin + 1).needs_refresh(NOW));
        assert!(tokens(NOW + margin).needs_refresh(NOW));
        assert!(tokens(NOW + 60).needs_refresh(NOW));
        assert!(tokens(NOW - 60).needs_refresh(NOW));
        assert!(tokens(i64::MIN).needs_refresh(NOW));
        assert!(!tokens(i64::MAX).needs_refresh(-1));
    }

    #[test]
    fn an_expired_token_is_not_live() {
        assert_eq!(
            tokens(NOW + 1).live_access_token(NOW).map(Secret::expose),
            Some("at")
        );
        assert!(tokens(NOW).live_access_token(NOW).is_none());
        assert!(tokens(NOW - 1).live_access_token(NOW).is_none());
    }
}
