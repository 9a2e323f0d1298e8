//! Klaviyo profiles from Salla customer objects.
//!
//! Identity: email when valid, phone in E.164 when valid, and always
//! `external_id = salla:{store}:customer:{id}` when the customer id is known, so one Klaviyo
//! account can serve several Salla stores without merging their shoppers by id. Phone-only
//! shoppers (common in Saudi Arabia) are first-class: the phone alone identifies them.

use super::json::{Json, JsonValueTrait};
use super::lenient::{self, Fields};
use super::{country, phone};
use crate::klaviyo::{Location, Profile, Properties, unique_id};
use serde_json::Value;

/// Profile property naming the Salla store, so merchants with several stores can segment.
pub const STORE_PROPERTY: &str = "salla_store_id";

/// Profile property with Salla's own country name ("السعودية") when `location.country` holds
/// the English one.
pub const COUNTRY_NAME_PROPERTY: &str = "salla_country_name";

fn display_country<'a>(customer: &Fields<'a>) -> Option<&'a str> {
    lenient::text(customer.get("country"))
        .or_else(|| lenient::text(customer.path(&["address", "country"])))
}

/// A profile from a Salla customer object (order, cart, review or customer events).
pub fn from_customer(store: &str, customer: &Json) -> Profile {
    let customer = Fields::of(customer);
    let country_code = lenient::text(customer.get("country_code"))
        .or_else(|| lenient::text(customer.path(&["address", "country_code"])));
    let mut profile = Profile {
        email: email(customer.get("email")),
        phone_number: phone::e164(
            customer.get("mobile_code"),
            customer.get("mobile"),
            country_code,
        ),
        external_id: lenient::id(customer.get("id")).map(|id| unique_id::customer(store, &id)),
        locale: locale(&customer),
        location: location(&customer, country_code),
        properties: store_properties(store),
        ..Profile::default()
    };
    if let Some(name) = display_country(&customer)
        && profile
            .location
            .as_ref()
            .is_none_or(|l| l.country.as_deref() != Some(name))
    {
        // Salla's display name (usually Arabic) stays available to templates and segments.
        profile
            .properties
            .insert(COUNTRY_NAME_PROPERTY, Value::String(name.to_owned()));
    }
    set_names(&mut profile, &customer);
    profile
}

/// A profile from a shipment contact (`ship_to` / `ship_from`): email and phone only, since
/// shipment payloads carry no customer id.
pub fn from_contact(store: &str, contact: &Json) -> Profile {
    let mut profile = Profile {
        email: email(contact.get("email")),
        phone_number: phone::e164(None, contact.get("phone"), None),
        properties: store_properties(store),
        ..Profile::default()
    };
    set_names(&mut profile, &Fields::of(contact));
    profile
}

fn store_properties(store: &str) -> Properties {
    Properties::from([(STORE_PROPERTY.into(), Value::String(store.to_owned()))])
}

/// `first_name`/`last_name` when given; otherwise `name` split at the first space (Salla's cart
/// and review customers only have `name`). Arabic names pass through untouched.
fn set_names(profile: &mut Profile, person: &Fields) {
    let first = lenient::text(person.get("first_name"));
    let last = lenient::text(person.get("last_name"));
    if first.is_some() || last.is_some() {
        profile.first_name = first.map(str::to_owned);
        profile.last_name = last.map(str::to_owned);
    } else if let Some(name) = lenient::text(person.get("name")) {
        match name.split_once(char::is_whitespace) {
            Some((f, l)) => {
                profile.first_name = Some(f.to_owned());
                let l = l.trim();
                profile.last_name = (!l.is_empty()).then(|| l.to_owned());
            }
            None => profile.first_name = Some(name.to_owned()),
        }
    }
}

/// A plausible address (one `@`, a dotted domain, no spaces); anything else is dropped rather
/// than sent, because Klaviyo rejects the whole request for one bad email.
pub fn email(value: Option<&Json>) -> Option<String> {
    let e = lenient::text(value)?;
    let (local, domain) = e.split_once('@')?;
    let ok = !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && e.len() <= 254
        && !e.chars().any(|c| c.is_whitespace() || c.is_control());
    ok.then(|| e.to_owned())
}

/// BCP 47 tag from `locale`/`language`/`lang` when present ("ar", "en-US"); Salla's documented
/// customer model has none today, so this is usually `None`.
fn locale(customer: &Fields) -> Option<String> {
    let tag = ["locale", "language", "lang"]
        .iter()
        .find_map(|k| lenient::text(customer.get(k)))?;
    let mut parts = tag.split(['-', '_']);
    let primary = parts.next()?;
    let primary_ok =
        (2..=3).contains(&primary.len()) && primary.bytes().all(|b| b.is_ascii_alphabetic());
    let rest_ok =
        parts.all(|p| (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()));
    (primary_ok && rest_ok && tag.len() <= 35).then(|| tag.replace('_', "-"))
}

fn location(customer: &Fields, country_code: Option<&str>) -> Option<Location> {
    let address = customer.get("address");
    let field = |key: &str| {
        lenient::text(customer.get(key))
            .or_else(|| address.and_then(|a| lenient::text(a.get(key))))
            .map(str::to_owned)
    };
    // English name and single zone from the code or the Arabic name; an unknown country
    // keeps its code (or is left out: an Arabic name matches no Klaviyo geography).
    let display = field("country");
    let known = country::lookup(country_code, display.as_deref());
    let loc = Location {
        city: field("city"),
        region: None,
        country: known
            .map(|c| c.name.to_owned())
            .or_else(|| country_code.map(str::to_ascii_uppercase))
            .or_else(|| display.filter(|d| d.is_ascii())),
        zip: field("postal_code"),
        timezone: known.and_then(|c| c.timezone).map(str::to_owned),
    };
    (!loc.is_empty()).then_some(loc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::json;

    #[test]
    fn order_customer_with_split_mobile() {
        let c = json!({"id": 225167971, "first_name": "Mohammed", "last_name": "Ali", "mobile": 501806978,
                       "mobile_code": "+966", "email": "usertest@gmail.com", "city": "جدة",
                       "country": "السعودية", "country_code": "SA"});
        let p = from_customer("1305146709", &c);
        assert_eq!(p.email.as_deref(), Some("usertest@gmail.com"));
        assert_eq!(p.phone_number.as_deref(), Some("+966501806978"));
        assert_eq!(
            p.external_id.as_deref(),
            Some("salla:1305146709:customer:225167971")
        );
        assert_eq!(p.first_name.as_deref(), Some("Mohammed"));
        let loc = p.location.unwrap();
        assert_eq!(loc.city.as_deref(), Some("جدة"));
        assert_eq!(loc.country.as_deref(), Some("Saudi Arabia"));
        assert_eq!(loc.timezone.as_deref(), Some("Asia/Riyadh"));
        assert_eq!(
            p.properties[COUNTRY_NAME_PROPERTY],
            serde_json::json!("السعودية")
        );
        assert_eq!(
            p.properties[STORE_PROPERTY],
            serde_json::json!("1305146709")
        );
    }

    #[test]
    fn phone_only_shopper_is_identified() {
        let c = json!({"name": "نبيل محمد", "mobile": "+966501806978"});
        let p = from_customer("1", &c);
        assert!(p.has_identifier());
        assert_eq!(p.email, None);
        assert_eq!(p.external_id, None);
        assert_eq!(p.phone_number.as_deref(), Some("+966501806978"));
        assert_eq!(p.first_name.as_deref(), Some("نبيل"));
        assert_eq!(p.last_name.as_deref(), Some("محمد"));
    }

    #[test]
    fn bad_contact_details_are_dropped_not_errors() {
        let c = json!({"email": "not an email", "mobile": "+28364687236547523745", "name": 5});
        let p = from_customer("1", &c);
        assert!(!p.has_identifier());
        assert_eq!(p.first_name, None);
    }

    #[test]
    fn emails() {
        for good in ["a@b.co", "Mohammed@Gmail.com", "Test.2022@salla.sa"] {
            assert_eq!(email(Some(&json!(good))).as_deref(), Some(good));
        }
        for bad in [
            "",
            "a",
            "a@b",
            "@b.com",
            "a b@c.com",
            "a@b.com.",
            "a@@b.com",
            "a@.b",
        ] {
            assert_eq!(email(Some(&json!(bad))), None, "{bad}");
        }
    }

    #[test]
    fn locales() {
        let locale = |v: Json| locale(&Fields::of(&v));
        assert_eq!(locale(json!({"lang": "ar"})).as_deref(), Some("ar"));
        assert_eq!(locale(json!({"locale": "en_US"})).as_deref(), Some("en-US"));
        assert_eq!(locale(json!({"language": "العربية"})), None);
        assert_eq!(locale(json!({})), None);
    }
}
