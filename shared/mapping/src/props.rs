//! Small setters that keep absent values out of Klaviyo properties (no `null`s sent).

use crate::klaviyo::Properties;
use serde_json::Value;
use std::borrow::Cow;

pub trait PropsExt {
    fn put_str(&mut self, key: &'static str, value: Option<&str>);
    fn put_num(&mut self, key: &'static str, value: Option<f64>);
    fn put_list(&mut self, key: &'static str, values: &[String]);
    fn put(&mut self, key: &'static str, value: impl Into<Value>);
}

impl PropsExt for Properties {
    fn put_str(&mut self, key: &'static str, value: Option<&str>) {
        if let Some(v) = value {
            self.insert(Cow::Borrowed(key), Value::String(v.to_owned()));
        }
    }

    fn put_num(&mut self, key: &'static str, value: Option<f64>) {
        if let Some(v) = value.and_then(number) {
            self.insert(Cow::Borrowed(key), v);
        }
    }

    /// Empty lists are left out: an empty array says nothing a flow could filter on.
    fn put_list(&mut self, key: &'static str, values: &[String]) {
        if !values.is_empty() {
            self.insert(Cow::Borrowed(key), values.to_vec().into());
        }
    }

    fn put(&mut self, key: &'static str, value: impl Into<Value>) {
        self.insert(Cow::Borrowed(key), value.into());
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
