//! Matching concrete request paths (`/api/catalog-items/%24custom...?x=1`) to the spec's path
//! templates (`/api/catalog-items/{id}`).

use serde_json::Value;

/// The operation a request maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationMatch {
    /// The spec's path template, e.g. `/api/catalog-items/{id}`.
    pub template: String,
    /// Lower-case HTTP method as used in the spec (`post`).
    pub method: String,
    /// `operationId`, e.g. `create_event`.
    pub operation_id: Option<String>,
    /// Template parameters with their percent-decoded values, in path order.
    pub params: Vec<(String, String)>,
}

impl OperationMatch {
    /// The decoded value of template parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

enum Segment {
    Literal(String),
    Param(String),
}

struct Template {
    text: String,
    segments: Vec<Segment>,
    literals: usize,
}

pub(crate) struct PathTable {
    templates: Vec<Template>,
}

impl PathTable {
    pub(crate) fn build(doc: &Value) -> Result<PathTable, String> {
        let paths = doc
            .get("paths")
            .and_then(Value::as_object)
            .ok_or("the document has no `paths` object (not an OpenAPI spec?)")?;
        let templates = paths
            .keys()
            .map(|text| {
                let segments: Vec<Segment> = split(text)
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(name) => Segment::Param(name.to_owned()),
                            None => Segment::Literal(s.to_owned()),
                        },
                    )
                    .collect();
                let literals = segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                Template {
                    text: text.clone(),
                    segments,
                    literals,
                }
            })
            .collect();
        Ok(PathTable { templates })
    }

    pub(crate) fn len(&self) -> usize {
        self.templates.len()
    }

    /// The best template for `path` among those `accept` agrees to (the method must exist there).
    pub(crate) fn find(
        &self,
        path: &str,
        accept: impl Fn(&str) -> bool,
    ) -> Option<(String, Vec<(String, String)>)> {
        let wanted: Vec<&str> = split(strip_to_path(path)).collect();
        self.templates
            .iter()
            .filter(|t| t.segments.len() == wanted.len())
            .filter(|t| {
                t.segments.iter().zip(&wanted).all(|(seg, got)| match seg {
                    Segment::Literal(lit) => lit == got,
                    Segment::Param(_) => !got.is_empty(),
                })
            })
            .filter(|t| accept(&t.text))
            // Literal segments beat parameters: /api/profiles/{id} must not swallow a literal route.
            .max_by_key(|t| t.literals)
            .map(|t| {
                let params = t
                    .segments
                    .iter()
                    .zip(&wanted)
                    .filter_map(|(seg, got)| match seg {
                        Segment::Param(name) => Some((name.clone(), percent_decode(got))),
                        Segment::Literal(_) => None,
                    })
                    .collect();
                (t.text.clone(), params)
            })
    }
}

/// Drops scheme + authority (if a full URL was given), the query string and the fragment.
pub(crate) fn strip_to_path(path: &str) -> &str {
    let path = match path.find("://") {
        Some(i) => {
            let after = &path[i + 3..];
            after.find('/').map_or("/", |j| &after[j..])
        }
        None => path,
    };
    let end = path.find(['?', '#']).unwrap_or(path.len());
    &path[..end]
}

/// Segments of a path; a trailing slash is tolerated (Klaviyo serves both forms).
fn split(path: &str) -> impl Iterator<Item = &str> {
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
    trimmed.split('/')
}

/// Minimal `%XX` decoding; malformed escapes are kept verbatim rather than rejected.
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(b) = hex {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_url_query_and_fragment() {
        assert_eq!(strip_to_path("/api/events?x=1"), "/api/events");
        assert_eq!(
            strip_to_path("http://127.0.0.1:9/api/events/#f"),
            "/api/events/"
        );
        assert_eq!(strip_to_path("https://a.klaviyo.com"), "/");
    }

    #[test]
    fn decodes_percent_escapes() {
        assert_eq!(
            percent_decode("%24custom%3A%3A%3A%24default%3A%3A%3A1"),
            "$custom:::$default:::1"
        );
        assert_eq!(percent_decode("50%"), "50%");
        assert_eq!(percent_decode("a%zzb"), "a%zzb");
        assert_eq!(percent_decode("%41"), "A");
    }
}
