//! The web edge the merchant-facing functions share: reading queries, forms, headers and
//! cookies from a `lambda_http` request, and building answers that carry the security headers
//! every page and redirect needs.

use lambda_http::http::{HeaderMap, HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};

/// The pages may only be framed by Salla's merchant dashboard (`s.salla.sa`), not by any other
/// Salla host: storefronts live under `salla.sa` and its subdomains, and a page there could
/// frame ours to trick a merchant into clicks. They load nothing from anywhere.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                       form-action 'self'; frame-ancestors https://s.salla.sa";

/// The origin [`CSP`] lets frame the pages.
pub const SALLA_DASHBOARD_ORIGIN: &str = "https://s.salla.sa";

/// Whether `origin` may stand in for Salla's dashboard as the pages' only frame ancestor: an
/// `https` origin, or `http` on loopback (a local test dashboard); scheme and host only, no
/// path, query or wildcard.
pub fn is_dashboard_origin(origin: &str) -> bool {
    let Ok(url) = url::Url::parse(origin) else {
        return false;
    };
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost"));
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    scheme_ok
        && url.host_str().is_some_and(|h| !h.contains('*'))
        && url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
        && matches!(url.path(), "" | "/")
        && url.origin().ascii_serialization() == origin.trim_end_matches('/')
}

/// Lets `origin` (checked with [`is_dashboard_origin`]) frame this page instead of Salla's
/// dashboard: the rest of the policy is unchanged.
pub fn framed_by(resp: &mut Response<Body>, origin: &str) {
    if origin == SALLA_DASHBOARD_ORIGIN || !is_dashboard_origin(origin) {
        return;
    }
    if resp.headers().contains_key(header::CONTENT_SECURITY_POLICY) {
        let policy = CSP.replace(
            &format!("frame-ancestors {SALLA_DASHBOARD_ORIGIN}"),
            &format!("frame-ancestors {origin}"),
        );
        if let Ok(v) = HeaderValue::from_str(&policy) {
            resp.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
}

/// Most query or form pairs read from one request; our forms have five fields.
const MAX_PAIRS: usize = 32;

/// Query pairs from the URI (function URLs and the dev server keep the raw query there),
/// falling back to API Gateway's parameter map.
pub fn query_pairs(req: &Request) -> Vec<(String, String)> {
    if let Some(q) = req.uri().query() {
        return parse_pairs(q.as_bytes());
    }
    req.query_string_parameters()
        .iter()
        .take(MAX_PAIRS)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `application/x-www-form-urlencoded` pairs (a query string or a form body).
pub fn parse_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes)
        .take(MAX_PAIRS)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name`.
pub fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A header's value when it is visible ASCII.
pub fn header(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The last path segment: a function URL (`/`, `/validate`) and the dev server's prefixes
/// (`/onboarding`, `/onboarding/validate`, `/oauth/callback`) route the same way.
pub fn last_segment(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

/// The value of cookie `name` from any `Cookie` header; an empty value counts as absent.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A session cookie for a page inside Salla's dashboard iframe (a third-party context):
/// SameSite=None, which requires Secure; Partitioned keeps it working in browsers that block
/// unpartitioned third-party cookies (it is then keyed to Salla's top-level site).
pub fn session_cookie(name: &str, value: &str, max_age: i64) -> String {
    format!(
        "{name}={value}; Max-Age={max_age}; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
    )
}

/// The body bytes, or `None` when larger than `cap`.
pub fn body_bytes(req: &Request, cap: usize) -> Option<&[u8]> {
    let bytes: &[u8] = req.body().as_ref();
    (bytes.len() <= cap).then_some(bytes)
}

/// An HTML page with the page headers.
pub fn html(status: StatusCode, html: String) -> Response<Body> {
    let mut resp = Response::new(Body::Text(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    page_headers(h);
    resp
}

/// A JSON answer: never cached, never sniffed.
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

/// A redirect (`302`, or `303` after a POST) with the page headers, optionally setting a
/// cookie. The location may carry a token, hence no-store and no referrer.
pub fn redirect(status: StatusCode, location: &str, set_cookie: Option<&str>) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(location) {
        h.insert(header::LOCATION, v);
    }
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(c).ok()) {
        h.insert(header::SET_COOKIE, cookie);
    }
    page_headers(h);
    resp
}

/// Adds a `Set-Cookie` to an answer (a value that is not a valid header is left out).
pub fn set_cookie(resp: &mut Response<Body>, cookie: &str) {
    if let Ok(v) = HeaderValue::from_str(cookie) {
        resp.headers_mut().insert(header::SET_COOKIE, v);
    }
}

/// A bodiless answer with only a status (unknown path, wrong method).
pub fn plain(status: StatusCode) -> Response<Body> {
    let mut resp = Response::new(Body::Empty);
    *resp.status_mut() = status;
    resp
}

fn page_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    secure_headers(h);
}

/// Everything the pages show or handle is store metadata: never cache it, never sniff it,
/// never leak the URL (which may carry a handoff token) in a Referer.
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
        assert_eq!(last_segment("/oauth/callback"), "callback");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; kfs_session=tok.en ; b=2"),
        );
        assert_eq!(cookie(&h, "kfs_session").as_deref(), Some("tok.en"));
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("xkfs_session=no"));
        assert_eq!(cookie(&h, "kfs_session"), None);
        h.append(header::COOKIE, HeaderValue::from_static("kfs_session="));
        assert_eq!(cookie(&h, "kfs_session"), None);
    }

    #[test]
    fn query_is_read_from_the_uri_and_capped() {
        let many: Vec<String> = (0..40).map(|i| format!("k{i}=v")).collect();
        let req = lambda_http::http::Request::builder()
            .uri(format!("/?a=%3Cb%3E&a=2&{}", many.join("&")))
            .body(Body::Empty)
            .unwrap();
        let pairs = query_pairs(&req);
        assert_eq!(param(&pairs, "a"), Some("<b>"));
        assert_eq!(pairs.len(), MAX_PAIRS);
        assert_eq!(param(&pairs, "missing"), None);
    }

    #[test]
    fn pages_and_redirects_carry_the_security_headers() {
        let page = html(StatusCode::OK, "<p>x</p>".into());
        let moved = redirect(StatusCode::SEE_OTHER, "/?lang=en", Some("c=1"));
        for resp in [&page, &moved] {
            let h = resp.headers();
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(h[header::CACHE_CONTROL], "no-store");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        }
        assert_eq!(moved.headers()[header::LOCATION], "/?lang=en");
        assert_eq!(moved.headers()[header::SET_COOKIE], "c=1");
        let answer = json(StatusCode::OK, &serde_json::json!({"ok": true}));
        assert_eq!(answer.headers()[header::CONTENT_TYPE], "application/json");
        assert!(
            answer
                .headers()
                .get(header::CONTENT_SECURITY_POLICY)
                .is_none()
        );
    }

    /// Only Salla's dashboard may frame the pages: any other Salla subdomain (a merchant's
    /// storefront theme, a partner page) could overlay them for clickjacking.
    #[test]
    fn only_the_salla_dashboard_may_frame_the_pages() {
        let ancestors = CSP
            .split(';')
            .map(str::trim)
            .find_map(|d| d.strip_prefix("frame-ancestors "))
            .unwrap();
        assert_eq!(ancestors, "https://s.salla.sa");
    }

    #[test]
    fn another_dashboard_origin_replaces_only_the_frame_ancestor() {
        for ok in [
            "https://s.salla.sa",
            "https://dash.example:8443",
            "http://localhost:4000",
            "http://127.0.0.1:9",
        ] {
            assert!(is_dashboard_origin(ok), "{ok}");
        }
        for bad in [
            "http://dash.example",
            "https://*.salla.sa",
            "https://s.salla.sa/path",
            "https://s.salla.sa?x",
            "https://u@s.salla.sa",
            "s.salla.sa",
            "",
            "https://a b",
            "https://s.salla.sa 'unsafe-inline'",
        ] {
            assert!(!is_dashboard_origin(bad), "{bad}");
        }
        let mut page = html(StatusCode::OK, String::new());
        framed_by(&mut page, "http://localhost:4000");
        let csp = page.headers()[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            csp.ends_with("; frame-ancestors http://localhost:4000"),
            "{csp}"
        );
        assert!(csp.starts_with("default-src 'none';"), "{csp}");
        let mut page = html(StatusCode::OK, String::new());
        framed_by(&mut page, "https://*.salla.sa");
        assert_eq!(page.headers()[header::CONTENT_SECURITY_POLICY], CSP);
    }

    #[test]
    fn session_cookie_works_inside_the_dashboard_frame() {
        assert_eq!(
            session_cookie("s", "t", 60),
            "s=t; Max-Age=60; Path=/; HttpOnly; Secure; SameSite=None; Partitioned"
        );
    }
}
