//! String formats the spec uses on request fields: `date-time` and `date` (RFC 3339), `uri`.
//! Hand-written so the crate needs nothing but serde_json.

/// RFC 3339 `date-time`: `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`. The offset is mandatory:
/// a local time without one is ambiguous, and Klaviyo would guess.
pub(crate) fn is_date_time(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 20 || !matches!(b[10], b'T' | b't') {
        return false;
    }
    if !is_full_date(&s[..10]) {
        return false;
    }
    let Some(rest) = is_partial_time(&b[11..]) else {
        return false;
    };
    is_offset(rest)
}

/// RFC 3339 `full-date`: `YYYY-MM-DD` with a real calendar day.
pub(crate) fn is_full_date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(year), Some(month), Some(day)) =
        (digits(&b[0..4]), digits(&b[5..7]), digits(&b[8..10]))
    else {
        return false;
    };
    (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// `uri`: an absolute URI, i.e. a scheme (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`) and ":".
pub(crate) fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

/// `HH:MM:SS[.frac]`; returns what follows.
fn is_partial_time(b: &[u8]) -> Option<&[u8]> {
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let (hour, minute, second) = (digits(&b[0..2])?, digits(&b[3..5])?, digits(&b[6..8])?);
    // 60 is a leap second, which RFC 3339 allows.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut rest = &b[8..];
    if let Some(frac) = rest.strip_prefix(b".") {
        let n = frac.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    Some(rest)
}

fn is_offset(b: &[u8]) -> bool {
    match b {
        [b'Z' | b'z'] => true,
        [b'+' | b'-', h1, h2, b':', m1, m2] => {
            matches!((digits(&[*h1, *h2]), digits(&[*m1, *m2])), (Some(h), Some(m)) if h <= 23 && m <= 59)
        }
        _ => false,
    }
}

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0, |acc, d| acc * 10 + u32::from(d - b'0')))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        2 => 28,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_date_times() {
        for ok in [
            "2026-11-20T10:15:00+03:00",
            "2026-11-20T10:15:00Z",
            "2026-11-20t10:15:00.123456z",
            "2024-02-29T23:59:60-05:30",
        ] {
            assert!(is_date_time(ok), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_date_times() {
        for bad in [
            "2026-11-20T10:15:00",      // no offset
            "2026-11-20 10:15:00Z",     // space separator
            "2026-13-20T10:15:00Z",     // month 13
            "2025-02-29T10:15:00Z",     // not a leap year
            "2026-11-20T24:00:00Z",     // hour 24
            "2026-11-20T10:15:00.Z",    // empty fraction
            "2026-11-20T10:15:00+0300", // offset without colon
            "1700000000",
            "",
            "2026-11-20",
        ] {
            assert!(!is_date_time(bad), "{bad}");
        }
    }

    #[test]
    fn checks_full_dates_and_uris() {
        assert!(is_full_date("2000-02-29"));
        assert!(!is_full_date("1900-02-29"));
        assert!(!is_full_date("2026-1-01"));
        assert!(is_uri("https://a.klaviyo.com/api/accounts/"));
        assert!(!is_uri("/api/accounts"));
        assert!(!is_uri("1http://x"));
        assert!(!is_uri("https://a b"));
    }
}
