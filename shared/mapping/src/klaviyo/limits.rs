//! Klaviyo's ingestion limits (SPEC `EventCreateQueryV2ResourceObject` and the docs' table):
//! at most 400 properties, strings up to 100 KB, arrays up to 4000 items, 10 nesting levels.
//! Salla text is merchant-controlled, so limits are enforced here rather than trusted.

use super::properties::Properties;
use serde_json::Value;

pub const MAX_PROPERTIES: usize = 400;
pub const MAX_STRING_BYTES: usize = 100 * 1024;
pub const MAX_ARRAY_ITEMS: usize = 4000;
/// Nesting levels below the properties object itself.
pub const MAX_DEPTH: usize = 10;

/// Applies every limit to an event's properties in place.
pub fn clamp_properties(properties: &mut Properties) {
    while properties.len() > MAX_PROPERTIES {
        properties.pop_last();
    }
    for value in properties.values_mut() {
        clamp_value(value, 1);
    }
}

fn clamp_value(value: &mut Value, depth: usize) {
    match value {
        Value::String(s) => truncate_utf8(s, MAX_STRING_BYTES),
        Value::Array(items) => {
            if depth >= MAX_DEPTH {
                *value = Value::Null;
                return;
            }
            items.truncate(MAX_ARRAY_ITEMS);
            items.iter_mut().for_each(|v| clamp_value(v, depth + 1));
        }
        Value::Object(map) => {
            if depth >= MAX_DEPTH {
                *value = Value::Null;
                return;
            }
            map.values_mut().for_each(|v| clamp_value(v, depth + 1));
        }
        _ => {}
    }
}

/// Cuts a string to at most `max` bytes on a char boundary, so Arabic text stays valid UTF-8.
pub fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn long_arabic_string_is_cut_on_a_char_boundary() {
        let mut s = "ب".repeat(MAX_STRING_BYTES); // 2 bytes each
        s.push('x');
        let mut props = Properties::from([("Note".into(), Value::String(s))]);
        clamp_properties(&mut props);
        let cut = props["Note"].as_str().unwrap();
        assert!(cut.len() <= MAX_STRING_BYTES);
        assert!(cut.chars().all(|c| c == 'ب'));
    }

    #[test]
    fn arrays_properties_and_depth_are_bounded() {
        let mut props: Properties = (0..450)
            .map(|i| (format!("k{i:03}").into(), json!(i)))
            .collect();
        props.insert("Items", Value::Array(vec![json!(1); 5000]));
        clamp_properties(&mut props);
        assert_eq!(props.len(), MAX_PROPERTIES);
        assert_eq!(props["Items"].as_array().unwrap().len(), MAX_ARRAY_ITEMS);

        let mut deep = json!("leaf");
        for _ in 0..15 {
            deep = json!({ "n": deep });
        }
        let mut props = Properties::from([("Deep".into(), deep)]);
        clamp_properties(&mut props);
        let mut depth = 1;
        let mut cursor = &props["Deep"];
        while let Some(next) = cursor.get("n") {
            depth += 1;
            cursor = next;
        }
        assert!(depth <= MAX_DEPTH, "depth {depth}");
    }
}
