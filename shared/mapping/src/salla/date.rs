//! Lenient date parsing into the RFC 3339 strings Klaviyo's `time` wants.
//!
//! Salla sends at least four shapes: PHP objects
//! `{"date":"2022-06-26 12:21:45.000000","timezone_type":3,"timezone":"Asia/Riyadh"}`,
//! JS Date strings `"Sun Jun 26 2022 12:21:48 GMT+0300"`, naive `"2022-12-31 12:31:25"` and ISO
//! 8601. No clock is read: a date that does not parse gives `None` and the caller omits `time`.
//! Naive times are Salla's local time, Riyadh (UTC+3), where the platform runs.
//!
//! Those shapes are taken apart by hand; checking the calendar, converting unix times, Cairo's
//! daylight-saving dates and writing the result are the `time` crate's.

use super::json::{Json, JsonContainerTrait, JsonType, JsonValueTrait};
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset, Weekday};

/// Offset assumed for naive date-times: Salla is a Saudi platform and stamps in Riyadh time.
const SALLA_OFFSET_MINUTES: i32 = 180;

/// Event times Klaviyo accepts start in 1990; 2100 bounds the far side.
const YEARS: std::ops::RangeInclusive<i32> = 1990..=2100;

/// A date and time as read from a payload, not yet checked against the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i32,
    month: u32,
    day: u32,
    hour: u32,
    minute: u32,
    second: u32,
}

impl Civil {
    /// The calendar date, if there is one (no 30 February, no month 13).
    fn date(&self) -> Option<Date> {
        let month = Month::try_from(u8::try_from(self.month).ok()?).ok()?;
        Date::from_calendar_date(self.year, month, u8::try_from(self.day).ok()?).ok()
    }

    /// The date and time at `offset_minutes` east of UTC, if both exist and the year is one
    /// Klaviyo accepts.
    fn at(&self, offset_minutes: i32) -> Option<OffsetDateTime> {
        if !YEARS.contains(&self.year) {
            return None;
        }
        let small = |v: u32| u8::try_from(v).ok();
        let time =
            Time::from_hms(small(self.hour)?, small(self.minute)?, small(self.second)?).ok()?;
        let offset = UtcOffset::from_whole_seconds(offset_minutes.checked_mul(60)?).ok()?;
        Some(PrimitiveDateTime::new(self.date()?, time).assume_offset(offset))
    }
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
    format(civil.at(offset)?)
}

/// [`timestamp`] for a bare string such as the envelope's `created_at`.
pub fn timestamp_str(s: &str) -> Option<String> {
    let (civil, offset) = string_date(s)?;
    format(civil.at(offset)?)
}

/// Unix seconds of a bare date string in any shape [`timestamp_str`] reads, or `None`. For
/// comparing lifecycle event times with each other and with the clock.
pub fn unix_str(s: &str) -> Option<i64> {
    let (civil, offset) = string_date(s)?;
    Some(civil.at(offset)?.unix_timestamp())
}

/// `YYYY-MM-DDTHH:MM:SS±HH:MM`: RFC 3339 with whole seconds and a numeric offset, UTC
/// included (`+00:00`, not `Z`). `time`'s built-in RFC 3339 writer is used rather than a
/// format description because it is several times cheaper, and this runs for nearly every
/// event on the webhook path.
fn format(at: OffsetDateTime) -> Option<String> {
    let mut text = at.format(&Rfc3339).ok()?;
    if text.ends_with('Z') {
        text.pop();
        text.push_str("+00:00");
    }
    Some(text)
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

/// Unix seconds, or milliseconds as JavaScript produces them, in UTC.
fn unix(mut secs: i64) -> Option<(Civil, i32)> {
    const MIN: i64 = 631_152_000; // 1990-01-01
    const MAX: i64 = 4_133_980_799; // 2100-12-31T23:59:59
    if (MIN * 1000..=MAX * 1000).contains(&secs) {
        secs /= 1000;
    }
    if !(MIN..=MAX).contains(&secs) {
        return None;
    }
    let at = OffsetDateTime::from_unix_timestamp(secs).ok()?;
    let civil = Civil {
        year: at.year(),
        month: u32::from(u8::from(at.month())),
        day: u32::from(at.day()),
        hour: u32::from(at.hour()),
        minute: u32::from(at.minute()),
        second: u32::from(at.second()),
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
    let summer = || -> Option<bool> {
        let today = c.date()?;
        let start = Date::from_calendar_date(c.year, Month::May, 1).ok()?;
        let end = Date::from_calendar_date(c.year, Month::November, 1).ok()?;
        Some(
            (start.prev_occurrence(Weekday::Friday)..=end.prev_occurrence(Weekday::Thursday))
                .contains(&today),
        )
    };
    if c.year >= 2023 && summer() == Some(true) {
        180
    } else {
        120
    }
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
        // Every offset a payload can carry: ±14:59 at most, sub-hour ones included.
        for offset in [0i32, 180, -300, 330, -59, 59, 14 * 60 + 59, -(14 * 60 + 59)] {
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
            assert_eq!(format(c.at(offset).unwrap()).unwrap(), expected);
        }
    }

    #[test]
    fn years_outside_klaviyos_range_are_refused() {
        assert_eq!(
            ts(json!("1990-01-01 00:00:00")).as_deref(),
            Some("1990-01-01T00:00:00+03:00")
        );
        assert_eq!(
            ts(json!("2100-12-31 23:59:59")).as_deref(),
            Some("2100-12-31T23:59:59+03:00")
        );
        assert_eq!(ts(json!("2101-01-01 00:00:00")), None);
        assert_eq!(ts(json!("0000-01-01")), None);
        assert_eq!(ts(json!("Mon Jan 01 99999 00:00:00 GMT")), None);
    }

    #[test]
    fn leap_days() {
        assert_eq!(
            ts(json!("2024-02-29 08:00:00")).as_deref(),
            Some("2024-02-29T08:00:00+03:00")
        );
        assert_eq!(
            ts(json!("2000-02-29")).as_deref(),
            Some("2000-02-29T00:00:00+03:00")
        );
        assert_eq!(ts(json!("2100-02-29")), None, "2100 is not a leap year");
        // 2024-02-29T12:00:00Z
        assert_eq!(
            ts(json!(1709208000)).as_deref(),
            Some("2024-02-29T12:00:00+00:00")
        );
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
    fn unix_and_iso_agree() {
        // 1990-01-01, 2000-02-29, 2022-01-08, 2098-09-06, each at 12:34:56 UTC.
        for days in [7_305i64, 11_016, 19_000, 47_000] {
            let secs = days * 86_400 + 45_296;
            let from_unix = ts(json!(secs)).unwrap();
            assert_eq!(
                ts(json!(from_unix.as_str())).as_deref(),
                Some(from_unix.as_str())
            );
            assert!(from_unix.ends_with("T12:34:56+00:00"), "{from_unix}");
        }
        assert_eq!(
            ts(json!(11_016i64 * 86_400)).as_deref(),
            Some("2000-02-29T00:00:00+00:00")
        );
    }

    #[test]
    fn cairo_daylight_saving_edges() {
        let at = |date: &str| ts(json!({"date": date, "timezone": "Africa/Cairo"}));
        // 2025: DST from Fri 25 April through Thu 30 October.
        assert_eq!(
            at("2025-04-24 23:59:59").as_deref(),
            Some("2025-04-24T23:59:59+02:00")
        );
        assert_eq!(
            at("2025-04-25 00:00:00").as_deref(),
            Some("2025-04-25T00:00:00+03:00")
        );
        assert_eq!(
            at("2025-10-30 12:00:00").as_deref(),
            Some("2025-10-30T12:00:00+03:00")
        );
        assert_eq!(
            at("2025-10-31 12:00:00").as_deref(),
            Some("2025-10-31T12:00:00+02:00")
        );
        // No daylight saving before 2023.
        assert_eq!(
            at("2022-07-10 10:00:00").as_deref(),
            Some("2022-07-10T10:00:00+02:00")
        );
        assert_eq!(at("2024-02-30 10:00:00"), None);
    }
}
