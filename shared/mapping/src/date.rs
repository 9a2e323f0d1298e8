//! Lenient date parsing into the RFC 3339 strings Klaviyo's `time` wants.
//!
//! Salla sends at least four shapes (see `salla.md` §1.1): PHP objects
//! `{"date":"2022-06-26 12:21:45.000000","timezone_type":3,"timezone":"Asia/Riyadh"}`,
//! JS Date strings `"Sun Jun 26 2022 12:21:48 GMT+0300"`, naive `"2022-12-31 12:31:25"` and ISO
//! 8601. No clock is read: a date that does not parse gives `None` and the caller omits `time`.
//! Naive times are Salla's local time, Riyadh (UTC+3), where the platform runs.

use crate::json::{Json, JsonContainerTrait, JsonType, JsonValueTrait};

/// Offset assumed for naive date-times: Salla is a Saudi platform and stamps in Riyadh time.
const SALLA_OFFSET_MINUTES: i32 = 180;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

/// RFC 3339 (`2022-06-26T12:21:45+03:00`) from any supported shape, or `None`.
/// Years outside 1990..=2100 are refused (Klaviyo rejects event times before 1990).
pub fn timestamp(value: Option<&Json>) -> Option<String> {
    let value = value?;
    let (civil, offset) = match value.get_type() {
        JsonType::Object => php_date(value)?,
        JsonType::String => string_date(value.as_str()?)?,
        JsonType::Number => unix(value.as_i64()?)?,
        // Salla's review example wraps a date in a one-element array.
        JsonType::Array => {
            let items = value.as_array()?;
            return if items.len() == 1 {
                timestamp(items.first())
            } else {
                None
            };
        }
        _ => return None,
    };
    valid(&civil).then(|| format(&civil, offset))
}

/// [`timestamp`] for a bare string such as the envelope's `created_at`.
pub fn timestamp_str(s: &str) -> Option<String> {
    let (civil, offset) = string_date(s)?;
    valid(&civil).then(|| format(&civil, offset))
}

/// `YYYY-MM-DDTHH:MM:SS±HH:MM`, written digit by digit: `format!` with widths was a visible
/// share of `plan`'s time.
fn format(c: &Civil, offset: i32) -> String {
    let abs = offset.unsigned_abs();
    let mut s = String::with_capacity(25);
    push_padded(&mut s, c.year.unsigned_abs(), 4);
    s.push('-');
    push_padded(&mut s, c.month, 2);
    s.push('-');
    push_padded(&mut s, c.day, 2);
    s.push('T');
    push_padded(&mut s, c.hour, 2);
    s.push(':');
    push_padded(&mut s, c.minute, 2);
    s.push(':');
    push_padded(&mut s, c.second, 2);
    s.push(if offset < 0 { '-' } else { '+' });
    push_padded(&mut s, abs / 60, 2);
    s.push(':');
    push_padded(&mut s, abs % 60, 2);
    s
}

/// `{:0width$}` for a non-negative number.
fn push_padded(s: &mut String, value: u32, width: usize) {
    let mut buf = itoa::Buffer::new();
    let digits = buf.format(value);
    for _ in digits.len()..width {
        s.push('0');
    }
    s.push_str(digits);
}

fn valid(c: &Civil) -> bool {
    (1990..=2100).contains(&c.year)
        && (1..=12).contains(&c.month)
        && c.day >= 1
        && c.day <= days_in_month(c.year, c.month)
        && c.hour < 24
        && c.minute < 60
        && c.second < 60
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// PHP `DateTime` as JSON: `timezone_type` 1 = offset, 2 = abbreviation, 3 = IANA name.
fn php_date(map: &Json) -> Option<(Civil, i32)> {
    let (civil, rest) = naive(map.get("date")?.as_str()?.trim())?;
    if !rest.trim().is_empty() {
        return None;
    }
    let offset = match map.get("timezone").and_then(|z| z.as_str()).map(str::trim) {
        None | Some("") => SALLA_OFFSET_MINUTES,
        Some(zone) => zone_offset(zone, &civil)?,
    };
    Some((civil, offset))
}

fn string_date(s: &str) -> Option<(Civil, i32)> {
    let s = s.trim();
    if !s.is_empty() && s.len() <= 13 && s.bytes().all(|b| b.is_ascii_digit()) {
        return unix(s.parse().ok()?);
    }
    if s.as_bytes().first().is_some_and(u8::is_ascii_digit) {
        let (civil, rest) = naive(s)?;
        let offset = match rest.trim() {
            "" => SALLA_OFFSET_MINUTES,
            r => numeric_offset(r)?,
        };
        Some((civil, offset))
    } else {
        js_date(s)
    }
}

/// `YYYY-MM-DD[( |T)HH:MM[:SS][.fraction]]`, returning what follows (an offset, maybe).
fn naive(s: &str) -> Option<(Civil, &str)> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let mut c = Civil {
        year: digits(s.get(0..4)?)? as i32,
        month: digits(s.get(5..7)?)?,
        day: digits(s.get(8..10)?)?,
        hour: 0,
        minute: 0,
        second: 0,
    };
    let mut rest = &s[10..];
    if let Some(time) = rest.strip_prefix(['T', ' ']) {
        let t = time.as_bytes();
        if t.len() < 5 || t[2] != b':' {
            return None;
        }
        c.hour = digits(time.get(0..2)?)?;
        c.minute = digits(time.get(3..5)?)?;
        rest = time.get(5..)?;
        if rest.as_bytes().first() == Some(&b':') {
            c.second = digits(rest.get(1..3)?)?;
            rest = &rest[3..];
        }
        if let Some(frac) = rest.strip_prefix('.') {
            let n = frac.bytes().take_while(u8::is_ascii_digit).count();
            if n == 0 {
                return None;
            }
            // Klaviyo truncates `time` to the second, so the fraction is dropped.
            rest = &frac[n..];
        }
    }
    Some((c, rest))
}

fn digits(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `Z`, `+03:00`, `+0300`, `+03`, `-05:30`.
fn numeric_offset(s: &str) -> Option<i32> {
    if s == "Z" || s == "z" {
        return Some(0);
    }
    let (sign, body) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match body.len() {
        2 => (digits(body)?, 0),
        4 => (digits(body.get(..2)?)?, digits(body.get(2..)?)?),
        5 if body.as_bytes()[2] == b':' => (digits(body.get(..2)?)?, digits(body.get(3..)?)?),
        _ => return None,
    };
    (h <= 14 && m < 60).then(|| sign * (h as i32 * 60 + m as i32))
}

/// `Sun Jun 26 2022 12:21:48 GMT+0300 (Arabian Standard Time)`; the weekday is optional.
fn js_date(s: &str) -> Option<(Civil, i32)> {
    let mut parts = s.split_whitespace().peekable();
    if parts.peek().is_some_and(|w| weekday(w)) {
        parts.next();
    }
    let month = month_number(parts.next()?)?;
    let day = digits(parts.next()?)?;
    let year = digits(parts.next()?)? as i32;
    let iso = format!("{year:04}-{month:02}-{day:02} {}", parts.next()?);
    let (civil, rest) = naive(&iso)?;
    if !rest.is_empty() {
        return None;
    }
    let offset = match parts.next() {
        None => SALLA_OFFSET_MINUTES,
        Some(zone) => {
            let zone = zone
                .strip_prefix("GMT")
                .or_else(|| zone.strip_prefix("UTC"))?;
            if zone.is_empty() {
                0
            } else {
                numeric_offset(zone)?
            }
        }
    };
    Some((civil, offset))
}

fn weekday(s: &str) -> bool {
    ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        .iter()
        .any(|d| s.get(..3).is_some_and(|head| head.eq_ignore_ascii_case(d)))
}

fn month_number(s: &str) -> Option<u32> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let head = s.get(..3)?;
    MONTHS
        .iter()
        .position(|m| head.eq_ignore_ascii_case(m))
        .map(|i| i as u32 + 1)
}

fn unix(mut secs: i64) -> Option<(Civil, i32)> {
    const MIN: i64 = 631_152_000; // 1990-01-01
    const MAX: i64 = 4_133_980_799; // 2100-12-31T23:59:59
    if (MIN * 1000..=MAX * 1000).contains(&secs) {
        secs /= 1000; // milliseconds, as JavaScript produces
    }
    if !(MIN..=MAX).contains(&secs) {
        return None;
    }
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    let (year, month, day) = civil_from_days(days);
    let civil = Civil {
        year,
        month,
        day,
        hour: rem / 3600,
        minute: rem % 3600 / 60,
        second: rem % 60,
    };
    Some((civil, 0))
}

/// Fixed UTC offsets of the zones Salla stores use. Zones with daylight saving are left out
/// (their time would be guessed) except Cairo, whose rule is simple; an unknown zone → `None`.
fn zone_offset(zone: &str, civil: &Civil) -> Option<i32> {
    if zone.starts_with(['+', '-']) {
        return numeric_offset(zone);
    }
    let offset = match zone {
        "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT" | "Africa/Abidjan" => 0,
        "Africa/Algiers" | "Africa/Tunis" | "Africa/Lagos" => 60,
        "Africa/Tripoli" | "Africa/Khartoum" | "Africa/Johannesburg" => 120,
        "Africa/Cairo" => cairo_offset(civil),
        "Asia/Riyadh" | "Asia/Kuwait" | "Asia/Qatar" | "Asia/Bahrain" | "Asia/Aden"
        | "Asia/Baghdad" | "Asia/Amman" | "Asia/Damascus" | "Europe/Istanbul"
        | "Africa/Nairobi" | "Africa/Mogadishu" | "Africa/Djibouti" | "Africa/Addis_Ababa" => 180,
        "Asia/Tehran" => 210,
        "Asia/Dubai" | "Asia/Muscat" => 240,
        "Asia/Karachi" => 300,
        "Asia/Kolkata" => 330,
        _ => return None,
    };
    Some(offset)
}

/// Egypt: UTC+2, and UTC+3 from the last Friday of April through the last Thursday of
/// October since 2023 (no DST 2015–2022).
fn cairo_offset(c: &Civil) -> i32 {
    if c.year < 2023 {
        return 120;
    }
    let today = days_from_civil(c.year, c.month, c.day);
    let start = last_weekday(c.year, 4, 30, 5);
    let end = last_weekday(c.year, 10, 31, 4);
    if (start..=end).contains(&today) {
        180
    } else {
        120
    }
}

/// Day number of the last `weekday` (0 = Sunday) on or before `year-month-day`.
fn last_weekday(year: i32, month: u32, day: u32, weekday: i64) -> i64 {
    let d = days_from_civil(year, month, day);
    let current = (d + 4).rem_euclid(7); // 1970-01-01 was a Thursday
    d - (current - weekday).rem_euclid(7)
}

// Howard Hinnant's civil-date algorithms (public domain).
fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = i64::from(year) - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::json;

    fn ts(v: Json) -> Option<String> {
        timestamp(Some(&v))
    }

    #[test]
    fn format_matches_padded_format_macro() {
        let c = Civil {
            year: 2022,
            month: 6,
            day: 6,
            hour: 0,
            minute: 5,
            second: 9,
        };
        for offset in [0i32, 180, -300, 330, -59, 24 * 60 * 5] {
            let sign = if offset < 0 { '-' } else { '+' };
            let abs = offset.unsigned_abs();
            let expected = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}{}{:02}:{:02}",
                c.year,
                c.month,
                c.day,
                c.hour,
                c.minute,
                c.second,
                sign,
                abs / 60,
                abs % 60
            );
            assert_eq!(format(&c, offset), expected);
        }
    }

    #[test]
    fn php_date_objects() {
        let v = json!({"date": "2022-06-26 12:21:45.000000", "timezone_type": 3, "timezone": "Asia/Riyadh"});
        assert_eq!(ts(v).as_deref(), Some("2022-06-26T12:21:45+03:00"));
        let dubai = json!({"date": "2024-02-29 23:59:59.5", "timezone": "Asia/Dubai"});
        assert_eq!(ts(dubai).as_deref(), Some("2024-02-29T23:59:59+04:00"));
        let offset =
            json!({"date": "2024-01-01 00:00:00.000000", "timezone_type": 1, "timezone": "+05:30"});
        assert_eq!(ts(offset).as_deref(), Some("2024-01-01T00:00:00+05:30"));
        let unknown = json!({"date": "2024-01-01 00:00:00", "timezone": "America/New_York"});
        assert_eq!(ts(unknown), None);
    }

    #[test]
    fn cairo_daylight_saving() {
        let winter = json!({"date": "2024-01-10 10:00:00", "timezone": "Africa/Cairo"});
        let summer = json!({"date": "2024-07-10 10:00:00", "timezone": "Africa/Cairo"});
        // 2024: DST from Fri 26 April through Thu 31 October.
        let first_day = json!({"date": "2024-04-26 10:00:00", "timezone": "Africa/Cairo"});
        let before = json!({"date": "2024-04-25 10:00:00", "timezone": "Africa/Cairo"});
        assert_eq!(ts(winter).as_deref(), Some("2024-01-10T10:00:00+02:00"));
        assert_eq!(ts(summer).as_deref(), Some("2024-07-10T10:00:00+03:00"));
        assert_eq!(ts(first_day).as_deref(), Some("2024-04-26T10:00:00+03:00"));
        assert_eq!(ts(before).as_deref(), Some("2024-04-25T10:00:00+02:00"));
    }

    #[test]
    fn js_date_strings() {
        assert_eq!(
            ts(json!("Sun Jun 26 2022 12:21:48 GMT+0300")).as_deref(),
            Some("2022-06-26T12:21:48+03:00")
        );
        assert_eq!(
            ts(json!("Wed Jul 7 2021 14:50:48 GMT+0300")).as_deref(),
            Some("2021-07-07T14:50:48+03:00")
        );
        assert_eq!(
            ts(json!(
                "Tue Jan 21 2025 18:00:32 GMT+0300 (Arabian Standard Time)"
            ))
            .as_deref(),
            Some("2025-01-21T18:00:32+03:00")
        );
        assert_eq!(
            ts(json!("Mon Jan 01 2024 00:00:00 GMT")).as_deref(),
            Some("2024-01-01T00:00:00+00:00")
        );
        assert_eq!(ts(json!("Sun Foo 26 2022 12:21:48 GMT+0300")), None);
    }

    #[test]
    fn naive_and_iso_strings() {
        assert_eq!(
            ts(json!("2022-12-31 12:31:25")).as_deref(),
            Some("2022-12-31T12:31:25+03:00")
        );
        assert_eq!(
            ts(json!("2021-10-09T21:00:00.000000Z")).as_deref(),
            Some("2021-10-09T21:00:00+00:00")
        );
        assert_eq!(
            ts(json!("2026-11-20T10:15:00-05:00")).as_deref(),
            Some("2026-11-20T10:15:00-05:00")
        );
        assert_eq!(
            ts(json!("2023-07-27")).as_deref(),
            Some("2023-07-27T00:00:00+03:00")
        );
        assert_eq!(
            ts(json!(["2022-12-31"])).as_deref(),
            Some("2022-12-31T00:00:00+03:00")
        );
    }

    #[test]
    fn unix_seconds_and_millis() {
        assert_eq!(
            ts(json!(1634819484)).as_deref(),
            Some("2021-10-21T12:31:24+00:00")
        );
        assert_eq!(
            ts(json!(1634819484000i64)).as_deref(),
            Some("2021-10-21T12:31:24+00:00")
        );
        assert_eq!(ts(json!(12)), None);
        assert_eq!(
            ts(json!("1634819484")).as_deref(),
            Some("2021-10-21T12:31:24+00:00")
        );
    }

    #[test]
    fn impossible_dates_are_refused() {
        for bad in [
            "2023-02-29 10:00:00",
            "2022-13-01",
            "2022-00-10",
            "2022-06-31",
            "2022-06-26 24:00:00",
            "2022-06-26 12:60:00",
            "1989-12-31 23:59:59",
            "2022-06-26T12:21:45+99:00",
            "2022-06-26 12:21:45 garbage",
            "٢٠٢٢-٠٦-٢٦",
            "",
            "Sun",
        ] {
            assert_eq!(ts(json!(bad)), None, "{bad:?}");
        }
        assert_eq!(ts(json!(null)), None);
        assert_eq!(ts(json!({"date": 5})), None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-1000, 0, 11_016, 19_000, 47_000] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }
}
