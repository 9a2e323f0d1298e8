//! The stored item: one per store, partition key `store_id` (S). [`Item`] is the whole
//! layout: its field names are the attribute names and its field types fix the attribute
//! types, which existing tables depend on.
//!
//! Secrets are Binary KMS ciphertexts (see [`super::kms`]); everything else is plain,
//! non-secret metadata. An absent optional value is an absent attribute (never NULL), and a
//! NULL attribute reads as absent.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::history::HistoryProgress;
use crate::keystore::{KlaviyoConnection, Lifecycle, SallaTokens, StoreRecord};
use crate::{AdapterError, Secret, Service};

/// The partition key attribute.
pub(crate) const KEY: &str = "store_id";
/// The optimistic-concurrency counter every put is conditional on.
pub(crate) const VERSION: &str = "version";
/// Expiry of a deletion marker, unix seconds; the table's TTL attribute.
pub(crate) const TTL: &str = "ttl";
/// The secret attributes; each name is also the `secret` of its encryption context.
pub(crate) const K_PRIVATE_KEY: &str = "klaviyo_private_key";
pub(crate) const S_ACCESS_TOKEN: &str = "salla_access_token";
pub(crate) const S_REFRESH_TOKEN: &str = "salla_refresh_token";

/// One store's item as DynamoDB holds it.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Item {
    /// `S`, the partition key.
    pub store_id: String,
    /// `N`, incremented by every put.
    pub version: u64,
    /// `N`, unix seconds of the last put. Written for operators, never read back.
    #[serde(skip_deserializing)]
    pub updated_at: i64,

    /// `B`, KMS ciphertext of the Klaviyo private key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klaviyo_private_key: Option<Ciphertext>,
    /// `S`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klaviyo_account_name: Option<String>,
    /// `S`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klaviyo_account_id: Option<String>,
    /// `N`, unix seconds; present whenever the key is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klaviyo_validated_at: Option<i64>,
    /// `BOOL`; present whenever the key is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub klaviyo_needs_reconnect: Option<bool>,

    /// `B`, KMS ciphertext of the Salla access token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salla_access_token: Option<Ciphertext>,
    /// `B`, KMS ciphertext of the Salla refresh token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salla_refresh_token: Option<Ciphertext>,
    /// `N`, unix seconds; present whenever the tokens are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salla_expires_at: Option<i64>,
    /// `S`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salla_scope: Option<String>,
    /// `N`, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salla_refresh_lease_until: Option<i64>,
    /// `N`, unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salla_refresh_blocked_at: Option<i64>,

    /// `N`, unix seconds: `created_at` of the newest lifecycle event of each kind applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorized_at: Option<i64>,
    /// `N`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_at: Option<i64>,
    /// `N`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uninstalled_at: Option<i64>,
    /// `N`, unix seconds: a deletion marker's expiry, the table's TTL attribute.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    /// `M` of plain `S`/`N` attributes: the history import's progress and cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryProgress>,
    /// `M` of plain `BOOL`/`S`/`N` attributes: the merchant's COD confirmation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cod: Option<mapping::CodSettings>,
    /// `M` of plain `S`/`N` attributes (and an `L` of tier thresholds): the CRM tier choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crm: Option<mapping::crm::CrmSettings>,
    /// `M` of plain `BOOL`/`N`/`L` attributes: the merchant's loyalty points rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loyalty: Option<mapping::points::PointsRules>,
}

/// A secret attribute as read: ciphertext, or something else that cannot be trusted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Ciphertext {
    Binary(Vec<u8>),
    /// Stored with another type than `B`; reading it is a decrypt failure, not a bad item.
    NotBinary,
}

/// The three secrets of a record, in whatever form (plaintext or ciphertext).
#[derive(Debug, PartialEq)]
pub(crate) struct Secrets<T> {
    pub klaviyo_private_key: Option<T>,
    pub salla_access_token: Option<T>,
    pub salla_refresh_token: Option<T>,
}

impl<T> Default for Secrets<T> {
    fn default() -> Self {
        Self {
            klaviyo_private_key: None,
            salla_access_token: None,
            salla_refresh_token: None,
        }
    }
}

impl Item {
    /// Reads an item; a plain attribute of the wrong type or a missing `version` is a
    /// malformed item.
    pub fn decode(attributes: HashMap<String, AttributeValue>) -> Result<Item, AdapterError> {
        serde_dynamo::from_item(attributes).map_err(|e| {
            // serde's "missing field `x`" names only the attribute; other messages may quote
            // the stored value, so they are not passed on.
            let message = e.to_string();
            let detail = if message.starts_with("missing field") {
                format!("stored item is malformed: {message}")
            } else {
                "stored item has a malformed attribute".to_string()
            };
            AdapterError::BadResponse {
                service: Service::DynamoDb,
                detail,
            }
        })
    }

    pub fn encode(&self) -> Result<HashMap<String, AttributeValue>, AdapterError> {
        serde_dynamo::to_item(self).map_err(|_| AdapterError::BadResponse {
            service: Service::DynamoDb,
            detail: "record could not be written as an item".to_string(),
        })
    }

    /// The item for `record` at `version`, with its secrets already encrypted.
    pub fn from_record(
        record: &StoreRecord,
        version: u64,
        updated_at: i64,
        ciphertexts: Secrets<Vec<u8>>,
    ) -> Item {
        let klaviyo = record.klaviyo.as_ref();
        let salla = record.salla.as_ref();
        Item {
            store_id: record.store_id.clone(),
            version,
            updated_at,
            klaviyo_private_key: ciphertexts.klaviyo_private_key.map(Ciphertext::Binary),
            klaviyo_account_name: klaviyo.and_then(|k| k.account_name.clone()),
            klaviyo_account_id: klaviyo.and_then(|k| k.account_id.clone()),
            klaviyo_validated_at: klaviyo.map(|k| k.validated_at),
            klaviyo_needs_reconnect: klaviyo.map(|k| k.needs_reconnect),
            salla_access_token: ciphertexts.salla_access_token.map(Ciphertext::Binary),
            salla_refresh_token: ciphertexts.salla_refresh_token.map(Ciphertext::Binary),
            salla_expires_at: salla.map(|s| s.expires_at),
            salla_scope: salla.and_then(|s| s.scope.clone()),
            salla_refresh_lease_until: salla.and_then(|s| s.refresh_lease_until),
            salla_refresh_blocked_at: salla.and_then(|s| s.refresh_blocked_at),
            authorized_at: record.lifecycle.authorized_at,
            settings_at: record.lifecycle.settings_at,
            uninstalled_at: record.lifecycle.uninstalled_at,
            ttl: record.ttl,
            history: record.history.clone(),
            cod: record.cod.clone(),
            crm: record.crm.clone(),
            loyalty: record.loyalty.clone(),
        }
    }

    /// Takes the ciphertexts out for decryption. A secret stored as anything but Binary is
    /// a [`AdapterError::Decrypt`]: it cannot have come from us.
    pub fn take_ciphertexts(&mut self) -> Result<Secrets<Vec<u8>>, AdapterError> {
        let store_id = self.store_id.as_str();
        let take = |c: &mut Option<Ciphertext>| match c.take() {
            None => Ok(None),
            Some(Ciphertext::Binary(b)) => Ok(Some(b)),
            Some(Ciphertext::NotBinary) => Err(AdapterError::Decrypt {
                store_id: store_id.to_string(),
            }),
        };
        Ok(Secrets {
            klaviyo_private_key: take(&mut self.klaviyo_private_key)?,
            salla_access_token: take(&mut self.salla_access_token)?,
            salla_refresh_token: take(&mut self.salla_refresh_token)?,
        })
    }

    /// The record, given the decrypted secrets. Salla's two tokens are stored together or
    /// not at all; one without the other is a malformed item.
    pub fn into_record(self, secrets: Secrets<Secret>) -> Result<StoreRecord, AdapterError> {
        let klaviyo = secrets
            .klaviyo_private_key
            .map(|private_key| KlaviyoConnection {
                private_key,
                account_name: self.klaviyo_account_name,
                account_id: self.klaviyo_account_id,
                validated_at: self.klaviyo_validated_at.unwrap_or(0),
                needs_reconnect: self.klaviyo_needs_reconnect.unwrap_or(false),
            });
        let salla = match (secrets.salla_access_token, secrets.salla_refresh_token) {
            (Some(access_token), Some(refresh_token)) => Some(SallaTokens {
                access_token,
                refresh_token,
                expires_at: self.salla_expires_at.unwrap_or(0),
                scope: self.salla_scope,
                refresh_lease_until: self.salla_refresh_lease_until,
                refresh_blocked_at: self.salla_refresh_blocked_at,
            }),
            (None, None) => None,
            _ => {
                return Err(AdapterError::BadResponse {
                    service: Service::DynamoDb,
                    detail: format!("stored item has a missing or malformed `{S_REFRESH_TOKEN}`"),
                });
            }
        };
        Ok(StoreRecord {
            store_id: self.store_id,
            klaviyo,
            salla,
            version: self.version,
            lifecycle: Lifecycle {
                authorized_at: self.authorized_at,
                settings_at: self.settings_at,
                uninstalled_at: self.uninstalled_at,
            },
            ttl: self.ttl,
            history: self.history,
            cod: self.cod,
            crm: self.crm,
            loyalty: self.loyalty,
        })
    }

    /// Whether this is a deletion marker past its expiry: it reads as absent, since
    /// DynamoDB's TTL sweep removes it only some time later.
    pub fn expired(&self, now: i64) -> bool {
        self.ttl.is_some_and(|ttl| ttl <= now)
    }
}

impl Serialize for Ciphertext {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            // `serialize_bytes` is what serde_dynamo writes as `B`.
            Ciphertext::Binary(b) => serializer.serialize_bytes(b),
            Ciphertext::NotBinary => Err(serde::ser::Error::custom("not a ciphertext")),
        }
    }
}

impl<'de> Deserialize<'de> for Ciphertext {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CiphertextVisitor)
    }
}

/// Accepts any attribute type: bytes are ciphertext, anything else is [`Ciphertext::NotBinary`].
struct CiphertextVisitor;

impl<'de> serde::de::Visitor<'de> for CiphertextVisitor {
    type Value = Ciphertext;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a binary attribute")
    }

    fn visit_bytes<E>(self, v: &[u8]) -> Result<Ciphertext, E> {
        Ok(Ciphertext::Binary(v.to_vec()))
    }
    fn visit_byte_buf<E>(self, v: Vec<u8>) -> Result<Ciphertext, E> {
        Ok(Ciphertext::Binary(v))
    }
    fn visit_str<E>(self, _: &str) -> Result<Ciphertext, E> {
        Ok(Ciphertext::NotBinary)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Ciphertext, E> {
        Ok(Ciphertext::NotBinary)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Ciphertext, E> {
        Ok(Ciphertext::NotBinary)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Ciphertext, E> {
        Ok(Ciphertext::NotBinary)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Ciphertext, E> {
        Ok(Ciphertext::NotBinary)
    }
    fn visit_unit<E>(self) -> Result<Ciphertext, E> {
        Ok(Ciphertext::NotBinary)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Ciphertext, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Ciphertext::NotBinary)
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ciphertext, A::Error> {
        while map
            .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
            .is_some()
        {}
        Ok(Ciphertext::NotBinary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::primitives::Blob;

    fn s(v: &str) -> AttributeValue {
        AttributeValue::S(v.to_string())
    }
    fn n(v: i64) -> AttributeValue {
        AttributeValue::N(v.to_string())
    }
    fn b(v: &[u8]) -> AttributeValue {
        AttributeValue::B(Blob::new(v))
    }

    /// A full item in the stored layout, built attribute by attribute.
    fn stored_item() -> HashMap<String, AttributeValue> {
        HashMap::from([
            ("store_id".to_string(), s("1803665367")),
            ("version".to_string(), n(3)),
            ("updated_at".to_string(), n(1_760_000_100)),
            ("klaviyo_private_key".to_string(), b(b"ct-key")),
            ("klaviyo_account_name".to_string(), s("Acme Store")),
            ("klaviyo_account_id".to_string(), s("XyZ123")),
            ("klaviyo_validated_at".to_string(), n(1_760_000_000)),
            (
                "klaviyo_needs_reconnect".to_string(),
                AttributeValue::Bool(false),
            ),
            ("salla_access_token".to_string(), b(b"ct-access")),
            ("salla_refresh_token".to_string(), b(b"ct-refresh")),
            ("salla_expires_at".to_string(), n(1_760_086_400)),
            ("salla_scope".to_string(), s("offline_access orders.read")),
            ("salla_refresh_lease_until".to_string(), n(1_760_000_030)),
        ])
    }

    fn plain(k: &str, a: &str, r: &str) -> Secrets<Secret> {
        Secrets {
            klaviyo_private_key: Some(Secret::new(k)),
            salla_access_token: Some(Secret::new(a)),
            salla_refresh_token: Some(Secret::new(r)),
        }
    }

    fn expected_record() -> StoreRecord {
        StoreRecord {
            store_id: "1803665367".into(),
            klaviyo: Some(KlaviyoConnection {
                private_key: Secret::new("pk_live_x"),
                account_name: Some("Acme Store".into()),
                account_id: Some("XyZ123".into()),
                validated_at: 1_760_000_000,
                needs_reconnect: false,
            }),
            salla: Some(SallaTokens {
                access_token: Secret::new("ory_at_x"),
                refresh_token: Secret::new("ory_rt_x"),
                expires_at: 1_760_086_400,
                scope: Some("offline_access orders.read".into()),
                refresh_lease_until: Some(1_760_000_030),
                refresh_blocked_at: None,
            }),
            version: 3,
            ..StoreRecord::default()
        }
    }

    #[test]
    fn decodes_an_item_in_the_stored_layout() {
        let mut item = Item::decode(stored_item()).unwrap();
        let ciphertexts = item.take_ciphertexts().unwrap();
        assert_eq!(
            ciphertexts,
            Secrets {
                klaviyo_private_key: Some(b"ct-key".to_vec()),
                salla_access_token: Some(b"ct-access".to_vec()),
                salla_refresh_token: Some(b"ct-refresh".to_vec()),
            }
        );
        let record = item
            .into_record(plain("pk_live_x", "ory_at_x", "ory_rt_x"))
            .unwrap();
        assert_eq!(record, expected_record());
    }

    #[test]
    fn encodes_the_same_attributes_with_the_same_types() {
        let record = expected_record();
        let item = Item::from_record(
            &record,
            3,
            1_760_000_100,
            Secrets {
                klaviyo_private_key: Some(b"ct-key".to_vec()),
                salla_access_token: Some(b"ct-access".to_vec()),
                salla_refresh_token: Some(b"ct-refresh".to_vec()),
            },
        );
        assert_eq!(item.encode().unwrap(), stored_item());
        assert_eq!(item.store_id, record.store_id);
    }

    #[test]
    fn secret_attribute_names_are_the_item_fields() {
        let keys = stored_item();
        for name in [KEY, VERSION, K_PRIVATE_KEY, S_ACCESS_TOKEN, S_REFRESH_TOKEN] {
            assert!(keys.contains_key(name), "{name}");
        }
    }

    #[test]
    fn absent_values_are_absent_attributes() {
        let record = StoreRecord {
            salla: None,
            ..expected_record()
        };
        let mut klaviyo_only = record.clone();
        klaviyo_only.klaviyo.as_mut().unwrap().account_name = None;
        let item = Item::from_record(
            &klaviyo_only,
            1,
            5,
            Secrets {
                klaviyo_private_key: Some(b"ct".to_vec()),
                ..Secrets::default()
            },
        )
        .encode()
        .unwrap();
        let mut names: Vec<&str> = item.keys().map(String::as_str).collect();
        names.sort_unstable();
        assert_eq!(
            names,
            [
                "klaviyo_account_id",
                "klaviyo_needs_reconnect",
                "klaviyo_private_key",
                "klaviyo_validated_at",
                "store_id",
                "updated_at",
                "version"
            ]
        );
        let bare = Item::from_record(&StoreRecord::new("9"), 1, 5, Secrets::default())
            .encode()
            .unwrap();
        assert_eq!(bare.len(), 3);
    }

    #[test]
    fn minimal_and_null_attributes_read_as_absent() {
        let item = HashMap::from([
            ("store_id".to_string(), s("9")),
            ("version".to_string(), n(1)),
            ("klaviyo_private_key".to_string(), b(b"ct")),
            (
                "klaviyo_account_name".to_string(),
                AttributeValue::Null(true),
            ),
            ("salla_access_token".to_string(), AttributeValue::Null(true)),
        ]);
        let mut item = Item::decode(item).unwrap();
        let ciphertexts = item.take_ciphertexts().unwrap();
        assert_eq!(ciphertexts.salla_access_token, None);
        let record = item
            .into_record(Secrets {
                klaviyo_private_key: Some(Secret::new("pk")),
                ..Secrets::default()
            })
            .unwrap();
        let k = record.klaviyo.unwrap();
        assert_eq!(
            (k.account_name, k.validated_at, k.needs_reconnect),
            (None, 0, false)
        );
        assert_eq!(record.salla, None);
        assert_eq!(record.version, 1);
    }

    #[test]
    fn a_secret_that_is_not_binary_is_a_decrypt_error() {
        for value in [
            s("pk_live_plaintext"),
            n(5),
            AttributeValue::L(vec![n(1)]),
            AttributeValue::M(HashMap::from([("a".to_string(), n(1))])),
        ] {
            let mut attrs = stored_item();
            attrs.insert("salla_refresh_token".into(), value);
            let mut item = Item::decode(attrs).unwrap();
            assert!(matches!(
                item.take_ciphertexts(),
                Err(AdapterError::Decrypt { store_id }) if store_id == "1803665367"
            ));
        }
    }

    #[test]
    fn malformed_plain_attributes_are_bad_items_without_their_value() {
        let mut attrs = stored_item();
        attrs.insert("klaviyo_account_name".into(), n(42_424_242));
        let err = Item::decode(attrs).unwrap_err();
        assert!(
            matches!(
                &err,
                AdapterError::BadResponse {
                    service: Service::DynamoDb,
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains("42424242"), "{err}");

        let mut attrs = stored_item();
        attrs.insert("version".into(), s("three"));
        assert!(Item::decode(attrs).is_err());

        let mut attrs = stored_item();
        attrs.remove("version");
        let err = Item::decode(attrs).unwrap_err();
        assert!(err.to_string().contains("`version`"), "{err}");
    }

    #[test]
    fn one_salla_token_without_the_other_is_malformed() {
        let mut item = Item::decode(stored_item()).unwrap();
        item.take_ciphertexts().unwrap();
        let err = item
            .into_record(Secrets {
                salla_access_token: Some(Secret::new("a")),
                ..Secrets::default()
            })
            .unwrap_err();
        assert!(err.to_string().contains(S_REFRESH_TOKEN), "{err}");
    }

    #[test]
    fn lifecycle_times_and_ttl_are_plain_numbers() {
        let record = StoreRecord {
            lifecycle: Lifecycle {
                authorized_at: Some(10),
                settings_at: Some(20),
                uninstalled_at: Some(30),
            },
            ttl: Some(40),
            ..StoreRecord::new("9")
        };
        let attrs = Item::from_record(&record, 2, 5, Secrets::default())
            .encode()
            .unwrap();
        for (name, value) in [
            ("authorized_at", 10),
            ("settings_at", 20),
            ("uninstalled_at", 30),
            (TTL, 40),
        ] {
            assert_eq!(attrs.get(name), Some(&n(value)), "{name}");
        }
        let mut item = Item::decode(attrs).unwrap();
        assert!(item.expired(40) && !item.expired(39));
        item.take_ciphertexts().unwrap();
        let read = item.into_record(Secrets::default()).unwrap();
        assert_eq!((read.lifecycle, read.ttl), (record.lifecycle, record.ttl));
    }

    #[test]
    fn history_progress_is_a_map_of_plain_values() {
        use crate::history::{Cursor, HistoryProgress, Phase};
        let mut progress = HistoryProgress::started(100);
        progress.phase = Phase::OrdersOlder;
        progress.orders_done = 60;
        progress.last_error = Some("missing_scope:orders.read".into());
        progress.cursor = Some(Cursor::phase_start(
            Phase::OrdersOlder,
            Some((
                time::macros::date!(2015 - 01 - 01),
                time::macros::date!(2026 - 09 - 02),
            )),
        ));
        let record = StoreRecord {
            history: Some(progress.clone()),
            ..StoreRecord::new("9")
        };
        let attrs = Item::from_record(&record, 2, 5, Secrets::default())
            .encode()
            .unwrap();
        let Some(AttributeValue::M(map)) = attrs.get("history") else {
            panic!("history is not a map: {attrs:?}");
        };
        assert_eq!(map.get("orders_done"), Some(&n(60)));
        assert_eq!(map.get("phase"), Some(&s("orders_older")));
        assert_eq!(map.get("last_error"), Some(&s("missing_scope:orders.read")));
        let Some(AttributeValue::M(cursor)) = map.get("cursor") else {
            panic!("cursor is not a map");
        };
        assert_eq!(cursor.get("from"), Some(&s("2015-01-01")));
        let mut item = Item::decode(attrs).unwrap();
        item.take_ciphertexts().unwrap();
        let read = item.into_record(Secrets::default()).unwrap();
        assert_eq!(read.history, Some(progress));
    }

    #[test]
    fn cod_settings_are_a_map_of_plain_values() {
        let cod = mapping::CodSettings {
            enabled: false,
            confirmed_status: "completed".into(),
            cancel_allowed: false,
            link_hours: 24,
        };
        let record = StoreRecord {
            cod: Some(cod.clone()),
            ..StoreRecord::new("9")
        };
        let attrs = Item::from_record(&record, 2, 5, Secrets::default())
            .encode()
            .unwrap();
        let Some(AttributeValue::M(map)) = attrs.get("cod") else {
            panic!("cod is not a map: {attrs:?}");
        };
        assert_eq!(map.get("enabled"), Some(&AttributeValue::Bool(false)));
        assert_eq!(map.get("confirmed_status"), Some(&s("completed")));
        assert_eq!(map.get("link_hours"), Some(&n(24)));
        let mut item = Item::decode(attrs).unwrap();
        item.take_ciphertexts().unwrap();
        let read = item.into_record(Secrets::default()).unwrap();
        assert_eq!(read.cod, Some(cod));
        // A record without settings writes no attribute.
        let bare = Item::from_record(&StoreRecord::new("9"), 1, 5, Secrets::default())
            .encode()
            .unwrap();
        assert!(!bare.contains_key("cod"));
    }

    #[test]
    fn crm_settings_are_a_tagged_map_of_plain_values() {
        use mapping::crm::{CrmSettings, OrderWindow, TierThreshold};
        let crm = CrmSettings::Custom {
            window: OrderWindow::Last365Days,
            tiers: vec![
                TierThreshold {
                    min_spent_minor: Some(50_000),
                    min_orders: 2,
                },
                TierThreshold {
                    min_spent_minor: Some(200_000),
                    min_orders: 6,
                },
            ],
        };
        let record = StoreRecord {
            crm: Some(crm.clone()),
            ..StoreRecord::new("9")
        };
        let attrs = Item::from_record(&record, 2, 5, Secrets::default())
            .encode()
            .unwrap();
        let Some(AttributeValue::M(map)) = attrs.get("crm") else {
            panic!("crm is not a map: {attrs:?}");
        };
        assert_eq!(map.get("preset"), Some(&s("custom")));
        assert_eq!(map.get("window"), Some(&s("last_365_days")));
        let Some(AttributeValue::L(tiers)) = map.get("tiers") else {
            panic!("tiers is not a list: {map:?}");
        };
        let Some(AttributeValue::M(first)) = tiers.first() else {
            panic!("a tier is not a map: {tiers:?}");
        };
        assert_eq!(first.get("min_spent_minor"), Some(&n(50_000)));
        assert_eq!(first.get("min_orders"), Some(&n(2)));
        let mut item = Item::decode(attrs).unwrap();
        item.take_ciphertexts().unwrap();
        let read = item.into_record(Secrets::default()).unwrap();
        assert_eq!(read.crm, Some(crm));
        // The presets, through the same encoding.
        for crm in [CrmSettings::B, CrmSettings::A { margin_bp: 3_000 }] {
            let record = StoreRecord {
                crm: Some(crm.clone()),
                ..StoreRecord::new("9")
            };
            let attrs = Item::from_record(&record, 2, 5, Secrets::default())
                .encode()
                .unwrap();
            let mut item = Item::decode(attrs).unwrap();
            item.take_ciphertexts().unwrap();
            let read = item.into_record(Secrets::default()).unwrap();
            assert_eq!(read.crm, Some(crm));
        }
        let bare = Item::from_record(&StoreRecord::new("9"), 1, 5, Secrets::default())
            .encode()
            .unwrap();
        assert!(!bare.contains_key("crm"));
    }

    #[test]
    fn points_rules_are_a_map_of_plain_values() {
        let loyalty = mapping::points::PointsRules {
            enabled: true,
            percent: 3,
            review_points: 10,
            multipliers: vec![mapping::points::TierMultiplier {
                tier: "Silver".into(),
                percent: 110,
            }],
            award: mapping::points::Award::Completed,
        };
        let record = StoreRecord {
            loyalty: Some(loyalty.clone()),
            ..StoreRecord::new("9")
        };
        let attrs = Item::from_record(&record, 2, 5, Secrets::default())
            .encode()
            .unwrap();
        let Some(AttributeValue::M(map)) = attrs.get("loyalty") else {
            panic!("loyalty is not a map: {attrs:?}");
        };
        assert_eq!(map.get("enabled"), Some(&AttributeValue::Bool(true)));
        assert_eq!(map.get("percent"), Some(&n(3)));
        let mut item = Item::decode(attrs).unwrap();
        item.take_ciphertexts().unwrap();
        let read = item.into_record(Secrets::default()).unwrap();
        assert_eq!(read.loyalty, Some(loyalty));
        let bare = Item::from_record(&StoreRecord::new("9"), 1, 5, Secrets::default())
            .encode()
            .unwrap();
        assert!(!bare.contains_key("loyalty"));
    }
}
