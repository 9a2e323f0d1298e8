//! Properties of an event or a profile: a map kept sorted by key, so the JSON is stable and a
//! retry serializes byte-identically.
//!
//! A sorted `Vec` rather than a `BTreeMap`: an order's ~25 properties are collected first and
//! sorted once ([`FromIterator`]), where a tree would search itself on every insert and again
//! on every drop, a large share of `plan` after reading the payload. Keys are
//! compared inline ([`key_order`]): `str`'s `Ord` calls libc's memcmp per comparison. Keys are
//! almost always our own literals ("OrderId"), so they are borrowed rather than allocated.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;
use std::borrow::Cow;
use std::cmp::Ordering;

type Key = Cow<'static, str>;

/// Its `Debug` lists the keys only: values can be a shopper's name or address.
#[derive(Clone, Default, PartialEq)]
pub struct Properties(Vec<(Key, Value)>);

impl std::fmt::Debug for Properties {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Properties")
            .field(&self.0.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl Properties {
    pub fn new() -> Self {
        Properties(Vec::new())
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.0.binary_search_by(|(k, _)| key_order(k, key))
    }

    /// Adds or replaces `key`, returning the value it replaced.
    pub fn insert(&mut self, key: impl Into<Key>, value: Value) -> Option<Value> {
        let key = key.into();
        match self.position(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, value)),
            Err(i) => {
                self.0.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).ok().map(|i| &self.0[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.position(key).ok().map(|i| self.0.remove(i).1)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Removes the entry with the greatest key.
    pub fn pop_last(&mut self) -> Option<(Key, Value)> {
        self.0.pop()
    }

    /// Entries in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.0.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.0.iter_mut().map(|(_, v)| v)
    }
}

/// Sorts once; a key given twice keeps its last value, as with [`Properties::insert`].
impl FromIterator<(Key, Value)> for Properties {
    fn from_iter<I: IntoIterator<Item = (Key, Value)>>(entries: I) -> Self {
        let mut entries: Vec<(Key, Value)> = entries.into_iter().collect();
        // Stable, so equal keys stay in the order given and the last one is kept below.
        entries.sort_by(|(a, _), (b, _)| key_order(a, b));
        let mut sorted: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
        for entry in entries {
            match sorted.last_mut() {
                Some(last) if key_order(&last.0, &entry.0) == Ordering::Equal => *last = entry,
                _ => sorted.push(entry),
            }
        }
        Properties(sorted)
    }
}

impl<const N: usize> From<[(Key, Value); N]> for Properties {
    fn from(entries: [(Key, Value); N]) -> Self {
        entries.into_iter().collect()
    }
}

/// Like `BTreeMap`'s: panics when `key` is absent (tests read properties this way).
impl std::ops::Index<&str> for Properties {
    type Output = Value;

    fn index(&self, key: &str) -> &Value {
        self.get(key)
            .unwrap_or_else(|| panic!("no property {key:?}"))
    }
}

impl Serialize for Properties {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            map.serialize_entry(k.as_ref(), v)?;
        }
        map.end()
    }
}

/// `str`'s order, compared inline: property keys differ within their first few bytes.
pub(crate) fn key_order(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    #[test]
    fn key_order_is_strs_order() {
        let keys = [
            "",
            "a",
            "B",
            "Item",
            "ItemCount",
            "Items",
            "ب",
            "ا",
            "a\u{0}",
            "ab",
        ];
        for a in keys {
            for b in keys {
                assert_eq!(key_order(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    /// Every operation agrees with a `BTreeMap` fed the same steps, JSON included.
    #[test]
    fn behaves_like_a_btreemap() {
        let keys = ["b", "a", "c", "a", "B", "Items", "Item", "ب", "", "c"];
        let mut ours = Properties::new();
        let mut tree: BTreeMap<String, Value> = BTreeMap::new();
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                ours.insert(*key, json!(i)),
                tree.insert(key.to_string(), json!(i))
            );
        }
        let collected: Properties = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (Key::Borrowed(*k), json!(i)))
            .collect();
        assert_eq!(
            collected, ours,
            "collecting keeps the last of a repeated key"
        );
        assert_eq!(ours.len(), tree.len());
        for key in keys.iter().chain(&["zz", "A"]) {
            assert_eq!(ours.get(key), tree.get(*key), "{key:?}");
            assert_eq!(ours.contains_key(key), tree.contains_key(*key));
        }
        assert_eq!(
            serde_json::to_string(&ours).unwrap(),
            serde_json::to_string(&tree).unwrap()
        );
        assert_eq!(ours.remove("a"), tree.remove("a"));
        assert_eq!(ours.remove("a"), None);
        let last = ours.pop_last().map(|(k, v)| (k.into_owned(), v));
        assert_eq!(last, tree.pop_last());
        assert!(
            ours.iter()
                .map(|(k, _)| k)
                .eq(tree.keys().map(String::as_str))
        );
        assert_eq!(ours["Items"], json!(5));
    }
}
