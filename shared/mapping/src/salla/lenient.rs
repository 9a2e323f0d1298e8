//! Lenient readers for Salla's loosely typed JSON.
//!
//! Salla's own examples disagree with each other: ids arrive as numbers or strings, amounts as
//! `{amount, currency}` objects, bare numbers or numeric strings (sometimes with Arabic-Indic
//! digits), booleans as `"true"`. Every reader here returns `None` for anything it cannot use
//! instead of failing, so a mapping decides for itself which fields are truly required.

use super::json::{Json, JsonContainerTrait, JsonType, JsonValueTrait};

/// Follows a path of object keys; `None` as soon as a step is missing or not an object.
pub fn get<'a>(value: &'a Json, path: &[&str]) -> Option<&'a Json> {
    path.iter().try_fold(value, |v, key| v.get(*key))
}

/// An object's entries as plain `(key, value)` pairs, for objects read many times (an order's
/// `data`, its customer, its lines). sonic-rs decodes each key's node on every lookup, which
/// adds up over an order's many fields; here a miss is a length compare per key. Like sonic-rs's own lookup, the first of duplicate keys wins.
pub struct Fields<'a>(Vec<(&'a str, &'a Json)>);

impl<'a> Fields<'a> {
    /// The entries of `value` (none when it is not an object).
    pub fn of(value: &'a Json) -> Self {
        let Some(object) = value.as_object() else {
            return Fields(Vec::new());
        };
        // Sized up front: sonic-rs's iterator gives no size hint, so `collect` reallocates.
        let mut fields = Vec::with_capacity(object.len());
        fields.extend(object.iter());
        Fields(fields)
    }

    pub fn get(&self, key: &str) -> Option<&'a Json> {
        self.0.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// [`get`] for a path whose first key is in these fields.
    pub fn path(&self, path: &[&str]) -> Option<&'a Json> {
        let (first, rest) = path.split_first()?;
        get(self.get(first)?, rest)
    }
}

/// A trimmed, non-empty string. Numbers are not stringified: use [`id`] for identifiers.
pub fn text(value: Option<&Json>) -> Option<&str> {
    let s = value?.as_str()?.trim();
    (!s.is_empty()).then_some(s)
}

/// An identifier given as an integer, an integral float or a non-empty string, as a string.
pub fn id(value: Option<&Json>) -> Option<String> {
    let value = value?;
    match value.get_type() {
        JsonType::Number => {
            if let Some(text) = integer_text(value) {
                Some(text)
            } else {
                // Integral floats such as 123.0 only; 2^53 bounds exact representation.
                let f = value.as_f64()?;
                (f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0)
                    .then(|| format!("{f:.0}"))
            }
        }
        JsonType::String => {
            let s = value.as_str()?.trim();
            (!s.is_empty()).then(|| s.to_owned())
        }
        _ => None,
    }
}

/// A JSON number as text: integers exactly, other numbers in Rust's shortest form.
pub fn number_text(value: &Json) -> Option<String> {
    integer_text(value).or_else(|| value.as_f64().map(|f| f.to_string()))
}

/// An integer JSON number (i64 or u64) as text. itoa, not `to_string`: ids are formatted
/// several times per event and the `fmt` machinery was a measurable share of `plan`.
fn integer_text(value: &Json) -> Option<String> {
    let mut buf = itoa::Buffer::new();
    if let Some(i) = value.as_i64() {
        Some(buf.format(i).to_owned())
    } else {
        value.as_u64().map(|u| buf.format(u).to_owned())
    }
}

/// A finite number from a JSON number, a numeric string, or an `{amount: …}` object.
pub fn number(value: Option<&Json>) -> Option<f64> {
    number_at_depth(value?, 0)
}

fn number_at_depth(value: &Json, depth: u8) -> Option<f64> {
    match value.get_type() {
        JsonType::Number => value.as_f64().filter(|f| f.is_finite()),
        JsonType::String => parse_decimal(value.as_str()?),
        // Salla nests money: `tax: {percent, amount: {amount, currency}}`.
        JsonType::Object if depth < 3 => number_at_depth(value.get("amount")?, depth + 1),
        _ => None,
    }
}

/// An integer from an integral JSON number or string ("2", "٢", 2.0).
pub fn int(value: Option<&Json>) -> Option<i64> {
    let f = number(value)?;
    (f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0).then_some(f as i64)
}

/// An amount of money and, when given, its ISO currency code.
#[derive(Debug, Clone, PartialEq)]
pub struct Money {
    pub amount: f64,
    pub currency: Option<String>,
}

/// Money from `{amount, currency}`, `{amount: {amount, currency}}`, a number or a string.
pub fn money(value: Option<&Json>) -> Option<Money> {
    let value = value?;
    let amount = number(Some(value))?;
    Some(Money {
        amount: round_money(amount),
        currency: currency_in(value, 0),
    })
}

fn currency_in(value: &Json, depth: u8) -> Option<String> {
    if !value.is_object() {
        return None;
    }
    if let Some(code) = currency_code(value.get("currency")) {
        return Some(code);
    }
    if depth < 3 {
        return currency_in(value.get("amount")?, depth + 1);
    }
    None
}

/// An ISO 4217-looking code (three ASCII letters), upper-cased.
pub fn currency_code(value: Option<&Json>) -> Option<String> {
    let s = text(value)?;
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

/// A boolean from `true`, `"true"`, `"1"`, `1`, `"yes"`, `"on"` (and their negatives).
pub fn flag(value: Option<&Json>) -> Option<bool> {
    let value = value?;
    match value.get_type() {
        JsonType::Boolean => value.as_bool(),
        JsonType::Number => match value.as_i64() {
            Some(1) => Some(true),
            Some(0) => Some(false),
            _ => None,
        },
        JsonType::String => match value.as_str()?.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Some(true),
            "false" | "0" | "no" | "off" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Removes float noise from sums of money (0.1 + 0.2) without assuming two decimals
/// (KWD, BHD and OMR use three).
pub fn round_money(x: f64) -> f64 {
    let scaled = (x * 1e6).round();
    if scaled.is_finite() { scaled / 1e6 } else { x }
}

/// Maps Arabic-Indic and Eastern Arabic-Indic digits to ASCII; other chars unchanged.
pub fn ascii_digit(c: char) -> char {
    match c {
        '\u{0660}'..='\u{0669}' => char::from(b'0' + (c as u32 - 0x0660) as u8),
        '\u{06F0}'..='\u{06F9}' => char::from(b'0' + (c as u32 - 0x06F0) as u8),
        _ => c,
    }
}

/// Parses "12", "-3.5", "1,234.50", "٣٥٫٥" strictly: no exponents, no "NaN"/"inf",
/// no ambiguous "1,5".
pub fn parse_decimal(s: &str) -> Option<f64> {
    let mut buf = String::with_capacity(s.len());
    let mut commas = false;
    for c in s.trim().chars() {
        match ascii_digit(c) {
            d @ ('0'..='9' | '.' | '-' | '+') => buf.push(d),
            '\u{066B}' => buf.push('.'), // Arabic decimal separator
            ',' | '\u{066C}' => {
                commas = true;
                buf.push(',');
            }
            ' ' | '\u{00A0}' => {}
            _ => return None,
        }
    }
    if commas {
        buf = strip_thousands(&buf)?;
    }
    let body = buf.strip_prefix(['-', '+']).unwrap_or(&buf);
    let valid = !body.is_empty()
        && body.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && body.bytes().filter(|&b| b == b'.').count() <= 1
        && body.bytes().any(|b| b.is_ascii_digit());
    if !valid {
        return None;
    }
    buf.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// "1,234,567.5" → "1234567.5"; refuses anything where commas are not 3-digit groups.
fn strip_thousands(s: &str) -> Option<String> {
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let unsigned = int_part.trim_start_matches(['-', '+']);
    let mut groups = unsigned.split(',');
    let first = groups.next()?;
    if first.is_empty() || first.len() > 3 || groups.clone().any(|g| g.len() != 3) {
        return None;
    }
    let mut out = int_part.replace(',', "");
    if let Some(f) = frac {
        if f.contains(',') {
            return None;
        }
        out.push('.');
        out.push_str(f);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::json;

    #[test]
    fn ids_from_numbers_and_strings() {
        assert_eq!(id(Some(&json!(2116149737))), Some("2116149737".into()));
        assert_eq!(id(Some(&json!(" 2107468057 "))), Some("2107468057".into()));
        assert_eq!(
            id(Some(&json!(18446744073709551615u64))),
            Some("18446744073709551615".into())
        );
        assert_eq!(id(Some(&json!(12.0))), Some("12".into()));
        assert_eq!(id(Some(&json!(12.5))), None);
        assert_eq!(id(Some(&json!(""))), None);
        assert_eq!(id(Some(&json!(null))), None);
        assert_eq!(id(Some(&json!([1]))), None);
        assert_eq!(id(None), None);
    }

    #[test]
    fn numbers_in_every_salla_shape() {
        assert_eq!(number(Some(&json!(196))), Some(196.0));
        assert_eq!(number(Some(&json!("5.00"))), Some(5.0));
        assert_eq!(
            number(Some(&json!({"amount": 25.5, "currency": "SAR"}))),
            Some(25.5)
        );
        assert_eq!(
            number(Some(&json!({"amount": "3732", "currency": "SAR"}))),
            Some(3732.0)
        );
        assert_eq!(
            number(Some(
                &json!({"percent": "0.00", "amount": {"amount": 7, "currency": "SAR"}})
            )),
            Some(7.0)
        );
        assert_eq!(number(Some(&json!("1,234.50"))), Some(1234.5));
        assert_eq!(number(Some(&json!("٣٥٫٥"))), Some(35.5));
        assert_eq!(number(Some(&json!("-2"))), Some(-2.0));
    }

    #[test]
    fn numbers_reject_garbage() {
        for bad in [
            "NaN",
            "inf",
            "-infinity",
            "1e3",
            "1,5",
            "12abc",
            "",
            ".",
            "-",
            "1.2.3",
            "1,23",
        ] {
            assert_eq!(number(Some(&json!(bad))), None, "{bad:?}");
        }
        assert_eq!(number(Some(&json!(true))), None);
        assert_eq!(number(Some(&json!({"currency": "SAR"}))), None);
        // Nesting is bounded, not recursive without end.
        assert_eq!(
            number(Some(
                &json!({"amount":{"amount":{"amount":{"amount":{"amount":1}}}}})
            )),
            None
        );
    }

    #[test]
    fn money_keeps_currency_and_rounds_noise() {
        let m = money(Some(&json!({"amount": 154, "currency": "sar"}))).unwrap();
        assert_eq!(
            m,
            Money {
                amount: 154.0,
                currency: Some("SAR".into())
            }
        );
        let nested = money(Some(
            &json!({"percent": "15", "amount": {"amount": 118.95, "currency": "SAR"}}),
        ));
        assert_eq!(nested.unwrap().currency.as_deref(), Some("SAR"));
        assert_eq!(money(Some(&json!(34.99))).unwrap().currency, None);
        assert_eq!(round_money(0.1 + 0.2), 0.3);
        assert_eq!(round_money(1.2345), 1.2345);
    }

    #[test]
    fn ints_and_flags() {
        assert_eq!(int(Some(&json!("1"))), Some(1));
        assert_eq!(int(Some(&json!(2.0))), Some(2));
        assert_eq!(int(Some(&json!(2.5))), None);
        assert_eq!(flag(Some(&json!("true"))), Some(true));
        assert_eq!(flag(Some(&json!(true))), Some(true));
        assert_eq!(flag(Some(&json!(0))), Some(false));
        assert_eq!(flag(Some(&json!("maybe"))), None);
    }

    #[test]
    fn text_trims_and_passes_arabic_through() {
        assert_eq!(text(Some(&json!("  تم التنفيذ "))), Some("تم التنفيذ"));
        assert_eq!(text(Some(&json!("   "))), None);
        assert_eq!(text(Some(&json!(5))), None);
    }

    #[test]
    fn get_walks_objects_only() {
        let v = json!({"a": {"b": [1]}});
        assert_eq!(get(&v, &["a", "b"]), Some(&json!([1])));
        assert_eq!(get(&v, &["a", "b", "c"]), None);
        assert_eq!(get(&v, &["x"]), None);
    }
}
