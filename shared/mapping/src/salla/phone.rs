//! Phone numbers to E.164 with `rlibphonenumber`, a port of Google's libphonenumber that is
//! differentially fuzzed against the C++ original and keeps its metadata current.
//!
//! Salla gives either `mobile_code` ("+966") plus a numeric `mobile` (501806978), or one string
//! "+966501806978", sometimes without the plus ("966501806978") or with a national trunk zero
//! ("0501806978"). Anything that libphonenumber does not call valid is dropped: Klaviyo rejects
//! non-E.164 numbers, and a wrong number is worse than none. Never an error.

use super::json::{Json, JsonType, JsonValueTrait};
use super::lenient;
use rlibphonenumber::{PhoneNumber, PhoneNumberFormat, enums::Region};

/// Longest E.164 number is 15 digits; anything much longer is garbage, and short-circuiting it
/// keeps hostile input away from the parser.
const MAX_DIGITS: usize = 17;

/// E.164 from Salla's `mobile_code` + `mobile` (either may be a number or a string), using
/// `country_code` (ISO 3166 alpha-2, e.g. "SA") as a last-resort hint for national numbers.
pub fn e164(
    mobile_code: Option<&Json>,
    mobile: Option<&Json>,
    country_code: Option<&str>,
) -> Option<String> {
    // Shorter than any real subscriber number: not worth asking the parser.
    let number = digits_of(mobile?).filter(|n| n.digits.len() >= 4)?;
    if number.international {
        return valid_e164(&format!("+{}", number.digits), None);
    }
    if let Some(code) = mobile_code
        .and_then(digits_of)
        .filter(|c| c.digits.len() <= 4)
    {
        // "+966" + "0501806978": the trunk zero is not dialled after a country code.
        let national = number.digits.trim_start_matches('0');
        let found = split_e164(&code.digits, national)
            .or_else(|| valid_e164(&format!("+{}{}", code.digits, national), None));
        if found.is_some() {
            return found;
        }
    }
    let region = country_code.and_then(|c| c.trim().to_ascii_uppercase().parse::<Region>().ok());
    if let Some(region) = region
        && let Some(found) = valid_e164(&number.digits, Some(region))
    {
        return Some(found);
    }
    // "966501806978": a full international number written without the plus.
    valid_e164(&format!("+{}", number.digits), None)
}

struct Digits {
    digits: String,
    international: bool,
}

/// Keeps digits (Arabic-Indic ones mapped to ASCII) and drops common separators; refuses
/// letters and anything else, so only plain numbers reach the parser.
fn digits_of(value: &Json) -> Option<Digits> {
    let raw = match value.get_type() {
        JsonType::String => value.as_str()?.trim().to_owned(),
        JsonType::Number => lenient::id(Some(value))?,
        _ => return None,
    };
    let (international, rest) = if let Some(r) = raw.strip_prefix('+') {
        (true, r)
    } else if let Some(r) = raw.strip_prefix("00") {
        (true, r)
    } else {
        (false, raw.as_str())
    };
    let mut digits = String::with_capacity(rest.len());
    for c in rest.chars() {
        match lenient::ascii_digit(c) {
            d @ '0'..='9' => digits.push(d),
            ' ' | '-' | '(' | ')' | '.' | '\u{00A0}' => {}
            _ => return None,
        }
        if digits.len() > MAX_DIGITS {
            return None;
        }
    }
    (!digits.is_empty()).then_some(Digits {
        digits,
        international,
    })
}

/// Salla's usual shape gives the country code and the national number apart, so the number
/// can be built and validated without libphonenumber's parser, whose regexes (most of this
/// module's cost) would only find the split we already have. Only a number the validator
/// accepts as it stands is taken here; anything else (say, a national prefix to strip) still
/// goes through [`valid_e164`]. A test checks both paths agree.
fn split_e164(code: &str, national: &str) -> Option<String> {
    let number = PhoneNumber {
        country_code: code.parse().ok()?,
        national_number: national.parse().ok()?,
        ..PhoneNumber::default()
    };
    number
        .is_valid()
        .then(|| number.format_as(PhoneNumberFormat::E164).into_owned())
}

fn valid_e164(number: &str, region: Option<Region>) -> Option<String> {
    let parsed = PhoneNumber::parse(number, region).ok()?;
    parsed
        .is_valid()
        .then(|| parsed.format_as(PhoneNumberFormat::E164).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::json;

    fn split(code: Json, mobile: Json) -> Option<String> {
        e164(Some(&code), Some(&mobile), None)
    }

    fn whole(mobile: &str) -> Option<String> {
        e164(None, Some(&json!(mobile)), None)
    }

    /// One valid mobile per Gulf / Arab market the product targets, in both Salla shapes.
    const TABLE: &[(&str, &str, &str)] = &[
        // (mobile_code, national mobile, expected E.164)
        ("+966", "501806978", "+966501806978"), // Saudi Arabia
        ("+971", "501234567", "+971501234567"), // United Arab Emirates
        ("+965", "50012345", "+96550012345"),   // Kuwait
        ("+974", "33123456", "+97433123456"),   // Qatar
        ("+973", "36001234", "+97336001234"),   // Bahrain
        ("+968", "92123456", "+96892123456"),   // Oman
        ("+20", "1001234567", "+201001234567"), // Egypt
        ("+962", "790123456", "+962790123456"), // Jordan
    ];

    /// The split fast path never accepts a number the parser would read differently: 60,000
    /// pseudo-random national numbers of 6–11 digits across 35 country codes, of which
    /// thousands are valid (asserted, so the comparison cannot pass vacuously).
    #[test]
    fn split_path_agrees_with_the_parser() {
        const CODES: &[&str] = &[
            "966", "971", "965", "974", "973", "968", "20", "962", "964", "961", "212", "216",
            "213", "218", "249", "967", "970", "963", "1", "7", "44", "39", "49", "52", "54", "55",
            "61", "81", "86", "91", "92", "234", "251", "0", "999",
        ];
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut accepted = 0;
        for i in 0..60_000 {
            // xorshift64: deterministic, so a failure reproduces.
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let code = CODES[i % CODES.len()];
            let digits = 6 + (seed % 6) as u32;
            let national = (10u64.pow(digits - 1) + seed % (9 * 10u64.pow(digits - 1))).to_string();
            if let Some(fast) = split_e164(code, &national) {
                accepted += 1;
                let parsed = valid_e164(&format!("+{code}{national}"), None);
                assert_eq!(Some(fast), parsed, "+{code} {national}");
            }
        }
        assert!(accepted > 2_000, "only {accepted} valid numbers generated");
    }

    #[test]
    fn split_path_takes_the_gulf_numbers() {
        for (code, national, expected) in TABLE {
            let code = code.trim_start_matches('+');
            assert_eq!(split_e164(code, national).as_deref(), Some(*expected));
        }
        assert_eq!(split_e164("966", "52318526"), None); // 8-digit Saudi "mobile"
        assert_eq!(split_e164("966", ""), None);
        assert_eq!(split_e164("x", "501806978"), None);
    }

    #[test]
    fn leading_zero_national_numbers_keep_their_zero() {
        // Italian fixed lines keep the trunk zero inside the international number.
        assert_eq!(whole("+390612345678").as_deref(), Some("+390612345678"));
        assert_eq!(whole("+12015550123").as_deref(), Some("+12015550123"));
    }

    #[test]
    fn mobile_code_plus_mobile() {
        for (code, national, expected) in TABLE {
            assert_eq!(
                split(json!(code), json!(national)).as_deref(),
                Some(*expected),
                "{code} {national}"
            );
            let numeric: u64 = national.parse().unwrap();
            assert_eq!(
                split(json!(code), json!(numeric)).as_deref(),
                Some(*expected),
                "numeric {national}"
            );
            let bare_code = code.trim_start_matches('+');
            assert_eq!(
                split(json!(bare_code), json!(national)).as_deref(),
                Some(*expected)
            );
        }
    }

    #[test]
    fn international_strings() {
        for (_, _, expected) in TABLE {
            assert_eq!(whole(expected).as_deref(), Some(*expected));
            let spaced = format!("{} {}", &expected[..4], &expected[4..]);
            assert_eq!(whole(&spaced).as_deref(), Some(*expected), "{spaced}");
            let double_zero = format!("00{}", &expected[1..]);
            assert_eq!(whole(&double_zero).as_deref(), Some(*expected));
            let no_plus = &expected[1..];
            assert_eq!(whole(no_plus).as_deref(), Some(*expected), "{no_plus}");
        }
    }

    #[test]
    fn trunk_zero_and_arabic_digits() {
        assert_eq!(
            split(json!("+966"), json!("0501806978")).as_deref(),
            Some("+966501806978")
        );
        assert_eq!(
            split(json!("+966"), json!("٠٥٠١٨٠٦٩٧٨")).as_deref(),
            Some("+966501806978")
        );
        assert_eq!(
            e164(None, Some(&json!("0501806978")), Some("SA")).as_deref(),
            Some("+966501806978")
        );
    }

    #[test]
    fn salla_sample_numbers() {
        assert_eq!(
            split(json!("+966"), json!(555555555)).as_deref(),
            Some("+966555555555")
        );
        assert_eq!(whole("+251944130250").as_deref(), Some("+251944130250")); // Ethiopia
        assert_eq!(whole("+96652318526"), None); // 8-digit Saudi "mobile": invalid
        assert_eq!(whole("+28364687236547523745"), None);
    }

    #[test]
    fn garbage_is_no_phone() {
        for bad in [
            "",
            "+",
            "abc",
            "+966abc501806978",
            "12",
            "tel:+966501806978",
            "+966 50 180 6978 ext 5",
            "🙂",
            ";phone-context=",
            "+999123456789",
            "0000000000",
            "+9665018069780000000000",
        ] {
            assert_eq!(whole(bad), None, "{bad:?}");
        }
        assert_eq!(e164(None, Some(&json!(null)), None), None);
        assert_eq!(e164(None, Some(&json!(true)), None), None);
        assert_eq!(e164(Some(&json!("+966")), None, None), None);
        assert_eq!(split(json!("+966"), json!("12")), None);
    }
}
