//! Request reading and response building: query and form parsing, the session cookie, and
//! the security headers every answer carries.

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

/// The onboarding page's cookie.
pub const SESSION_COOKIE: &str = "kfs_session";

/// The page may only be framed by Salla's dashboard; it loads nothing from anywhere.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors https://s.salla.sa https://*.salla.sa https://salla.sa";

/// Query pairs from the URI (function URLs and the dev server keep the raw query there),
/// falling back to API Gateway's parameter map.
pub fn query_pairs(req: &Request) -> Vec<(String, String)> {
    if let Some(q) = req.uri().query() {
        return parse_pairs(q.as_bytes());
    }
    req.query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub fn parse_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .take(32)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

pub fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The last path segment: `/`, `/validate` (function URL) and `/onboarding`,
/// `/onboarding/validate` (dev server) all route the same way.
pub fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// Our session cookie's value, from any `Cookie` header.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The session cookie. SameSite=None because the page runs inside Salla's dashboard iframe
/// (a third-party context); that requires Secure. Partitioned keeps it working in browsers
/// that block unpartitioned third-party cookies (it is then keyed to Salla's top-level site).
pub fn set_session_cookie(token: &str, max_age: i64) -> String {
    format!(
        "{SESSION_COOKIE}={token}; Max-Age={max_age}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
    )
}

/// The body bytes, or `None` when larger than `cap`.
pub fn body_bytes(req: &Request, cap: usize) -> Option<&[u8]> {
    let bytes: &[u8] = req.body().as_ref();
    (bytes.len() <= cap).then_some(bytes)
}

pub fn html(status: StatusCode, html: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    secure_headers(h);
    resp
}

pub fn json(status: StatusCode, value: &serde_json::Value) -> Response<Body> {
    let mut resp = Response::new(Body::Text(value.to_string()));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    secure_headers(h);
    resp
}

/// 303 See Other to a same-origin path (after a POST, or to drop the handoff token from the
/// address bar), optionally setting the session cookie.
pub fn see_other(location: &str, set_cookie: Option<&str>) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = StatusCode::SEE_OTHER;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(header::SET_COOKIE, cookie);
    }
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    secure_headers(h);
    resp
}

/// Everything here shows or handles key metadata: never cache it, never sniff it, never leak
/// the URL (which may carry a handoff token) in a Referer.
fn secure_headers(h: &mut HeaderMap) {
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_route_both_deployments() {
        assert_eq!(last_segment("/"), "");
        assert_eq!(last_segment(""), "");
        assert_eq!(last_segment("/validate"), "validate");
        assert_eq!(last_segment("/onboarding"), "onboarding");
        assert_eq!(last_segment("/onboarding/"), "onboarding");
        assert_eq!(last_segment("/onboarding/validate"), "validate");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; kfs_session=tok.en ; b=2"),
        );
        assert_eq!(session_cookie(&h).as_deref(), Some("tok.en"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("xkfs_session=no"));
        assert_eq!(session_cookie(&h), None);
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<b a="x">'&"#),
            "&lt;b a=&quot;x&quot;&gt;&#39;&amp;"
        );
    }
}
