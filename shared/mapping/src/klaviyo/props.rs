//! Small setters that keep absent values out of Klaviyo properties (no `null`s sent).

use super::properties::Properties;
use serde_json::Value;
use std::borrow::Cow;

pub trait PropsExt {
    /// Adds or replaces one property.
    fn insert_prop(&mut self, key: Cow<'static, str>, value: Value);

    fn put_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(v) = value {
            self.insert_prop(Cow::Borrowed(key), Value::String(v.to_owned()));
        }
    }

    fn put_num(&mut self, key: &'static str, value: Option<f64>) {
        if let Some(v) = value.and_then(number) {
            self.insert_prop(Cow::Borrowed(key), v);
        }
    }

    /// Empty lists are left out: an empty array says nothing a flow could filter on.
    fn put_list(&mut self, key: &'static str, values: &[String]) {
        if !values.is_empty() {
            self.insert_prop(Cow::Borrowed(key), values.to_vec().into());
        }
    }

    fn put(&mut self, key: &'static str, value: impl Into<Value>) {
        self.insert_prop(Cow::Borrowed(key), value.into());
    }
}

impl PropsExt for Properties {
    fn insert_prop(&mut self, key: Cow<'static, str>, value: Value) {
        self.insert(key, value);
    }
}

/// Collects an event's properties and sorts them once when built (see [`Properties`]); a key
/// given twice keeps its last value, as with `insert`.
/// Its `Debug` lists the keys only, as [`Properties`]' does.
#[derive(Default)]
pub struct PropsBuilder(Vec<(Cow<'static, str>, Value)>);

impl std::fmt::Debug for PropsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PropsBuilder")
            .field(&self.0.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .finish()
    }
}

impl PropsBuilder {
    pub fn with_capacity(n: usize) -> Self {
        PropsBuilder(Vec::with_capacity(n))
    }

    pub fn build(self) -> Properties {
        self.0.into_iter().collect()
    }
}

impl PropsExt for PropsBuilder {
    fn insert_prop(&mut self, key: Cow<'static, str>, value: Value) {
        self.0.push((key, value));
    }
}

/// A JSON number, integral values as integers (`186`, not `186.0`) so templates show what the
/// merchant typed; non-finite values are dropped.
pub fn number(v: f64) -> Option<Value> {
    if !v.is_finite() {
        return None;
    }
    if v.fract() == 0.0 && v.abs() < 9_007_199_254_740_992.0 {
        Some(Value::from(v as i64))
    } else {
        Some(Value::from(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_matches_inserting_one_by_one() {
        let mut built = PropsBuilder::default();
        let mut inserted = Properties::new();
        for (key, value) in [("b", 1), ("a", 2), ("c", 3), ("a", 4), ("B", 5)] {
            built.put(key, value);
            inserted.put(key, value);
        }
        let built = built.build();
        assert_eq!(built, inserted);
        assert_eq!(built["a"], 4, "a repeated key keeps its last value");
    }
}
