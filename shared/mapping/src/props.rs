//! Small setters that keep absent values out of Klaviyo properties (no `null`s sent).

use crate::klaviyo::Properties;
use serde_json::Value;

pub trait PropsExt {
    fn put_str(&mut self, key: &str, value: Option<&str>);
    fn put_num(&mut self, key: &str, value: Option<f64>);
    fn put_list(&mut self, key: &str, values: &[String]);
    fn put(&mut self, key: &str, value: impl Into<Value>);
}

impl PropsExt for Properties {
    fn put_str(&mut self, key: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.insert(key.to_owned(), Value::String(v.to_owned()));
        }
    }

    fn put_num(&mut self, key: &str, value: Option<f64>) {
        if let Some(v) = value.filter(|f| f.is_finite()) {
            self.insert(key.to_owned(), v.into());
        }
    }

    /// Empty lists are left out: an empty array says nothing a flow could filter on.
    fn put_list(&mut self, key: &str, values: &[String]) {
        if !values.is_empty() {
            self.insert(key.to_owned(), values.to_vec().into());
        }
    }

    fn put(&mut self, key: &str, value: impl Into<Value>) {
        self.insert(key.to_owned(), value.into());
    }
}
