//! Countries as Klaviyo's geography understands them: Klaviyo's profile `location.country` is a
//! "Country name" (SPEC `ProfileLocation`, example "United States"), and its geographic
//! segments match English names, not Salla's Arabic display names ("السعودية"). One IANA zone
//! per country where the country has a single one, for `location.timezone`.

/// (ISO 3166-1 alpha-2, English name, single IANA zone, Arabic names Salla shows).
#[rustfmt::skip]
const COUNTRIES: &[(&str, &str, Option<&str>, &[&str])] = &[
    ("AE", "United Arab Emirates", Some("Asia/Dubai"), &["الإمارات", "الامارات", "الإمارات العربية المتحدة", "الامارات العربية المتحدة"]),
    ("BH", "Bahrain", Some("Asia/Bahrain"), &["البحرين"]),
    ("DZ", "Algeria", Some("Africa/Algiers"), &["الجزائر"]),
    ("EG", "Egypt", Some("Africa/Cairo"), &["مصر"]),
    ("GB", "United Kingdom", Some("Europe/London"), &["المملكة المتحدة", "بريطانيا"]),
    ("IQ", "Iraq", Some("Asia/Baghdad"), &["العراق"]),
    ("JO", "Jordan", Some("Asia/Amman"), &["الأردن", "الاردن"]),
    ("KW", "Kuwait", Some("Asia/Kuwait"), &["الكويت"]),
    ("LB", "Lebanon", Some("Asia/Beirut"), &["لبنان"]),
    ("LY", "Libya", Some("Africa/Tripoli"), &["ليبيا"]),
    ("MA", "Morocco", Some("Africa/Casablanca"), &["المغرب"]),
    ("OM", "Oman", Some("Asia/Muscat"), &["عمان", "عُمان", "سلطنة عمان"]),
    ("PS", "Palestine", None, &["فلسطين"]),
    ("QA", "Qatar", Some("Asia/Qatar"), &["قطر"]),
    ("SA", "Saudi Arabia", Some("Asia/Riyadh"), &["السعودية", "المملكة العربية السعودية"]),
    ("SD", "Sudan", Some("Africa/Khartoum"), &["السودان"]),
    ("SY", "Syria", Some("Asia/Damascus"), &["سوريا", "سورية"]),
    ("TN", "Tunisia", Some("Africa/Tunis"), &["تونس"]),
    ("TR", "Turkey", Some("Europe/Istanbul"), &["تركيا"]),
    ("US", "United States", None, &["الولايات المتحدة", "الولايات المتحدة الأمريكية"]),
    ("YE", "Yemen", Some("Asia/Aden"), &["اليمن"]),
];

/// A country read from a code and/or a display name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Country {
    pub code: &'static str,
    pub name: &'static str,
    pub timezone: Option<&'static str>,
}

/// The country of an ISO code ("SA", any case) or, failing that, of a display name in
/// Arabic or English; `None` when neither is known.
pub fn lookup(code: Option<&str>, name: Option<&str>) -> Option<Country> {
    let by_code = code.and_then(|c| {
        let c = c.trim();
        COUNTRIES.iter().find(|row| row.0.eq_ignore_ascii_case(c))
    });
    let by_name = || {
        let n = name?.trim();
        COUNTRIES
            .iter()
            .find(|row| row.1.eq_ignore_ascii_case(n) || row.3.contains(&n))
    };
    by_code.or_else(by_name).map(|row| Country {
        code: row.0,
        name: row.1,
        timezone: row.2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_arabic_names_give_english_names() {
        let sa = lookup(Some("sa"), None).unwrap();
        assert_eq!(
            (sa.name, sa.timezone),
            ("Saudi Arabia", Some("Asia/Riyadh"))
        );
        assert_eq!(lookup(None, Some("السعودية")), Some(sa));
        assert_eq!(lookup(Some("KW"), Some("السعودية")).unwrap().name, "Kuwait");
        assert_eq!(lookup(None, Some("الإمارات")).unwrap().code, "AE");
        assert_eq!(
            lookup(None, Some("Egypt")).unwrap().timezone,
            Some("Africa/Cairo")
        );
        assert_eq!(
            lookup(Some("US"), None).unwrap().timezone,
            None,
            "several zones"
        );
        assert_eq!(lookup(Some("ZZ"), Some("أرض")), None);
        assert_eq!(lookup(None, None), None);
    }
}
