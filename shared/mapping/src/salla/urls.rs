//! Links in Salla payloads. Only absolute http(s) URLs are sent on as links: Salla sometimes
//! puts a tracking number or "0" where a link belongs.

use super::json::{Json, JsonContainerTrait, JsonValueTrait};
use super::lenient::{self, get};

/// The product's storefront URL (`urls.customer`, else the deprecated `url`).
pub fn product_url(data: &Json) -> Option<&str> {
    lenient::text(get(data, &["urls", "customer"]))
        .or_else(|| lenient::text(data.get("url")))
        .filter(|u| is_http_url(u))
}

/// First usable image: `thumbnail`, `main_image`, `image` (string or `{url}`), `images[0]`.
pub fn image_url(v: &Json) -> Option<String> {
    for key in ["thumbnail", "main_image", "image"] {
        if let Some(url) = url_in(v.get(key)) {
            return Some(url);
        }
    }
    v.get("images")
        .and_then(|i| i.as_array())?
        .iter()
        .find_map(|i| url_in(Some(i)))
}

fn url_in(v: Option<&Json>) -> Option<String> {
    let v = v?;
    let s = lenient::text(Some(v))
        .or_else(|| lenient::text(v.get("url")))
        .or_else(|| lenient::text(get(v, &["image", "original"])))?;
    is_http_url(s).then(|| s.to_owned())
}

/// An absolute http(s) URL with something after the scheme.
pub fn is_http_url(s: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && s.len() > 8
}
