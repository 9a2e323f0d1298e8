//! Where each request goes: its HTTP method and path, and the request that replaces it on a
//! given error status.

use super::request::KlaviyoRequest;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

impl KlaviyoRequest {
    /// HTTP method of the primary request.
    pub fn method(&self) -> &'static str {
        match self {
            KlaviyoRequest::CreateEvent(_)
            | KlaviyoRequest::ImportProfile(_)
            | KlaviyoRequest::Subscribe(_)
            | KlaviyoRequest::BulkCreateEvents(_)
            | KlaviyoRequest::BulkImportProfiles(_)
            | KlaviyoRequest::UpsertCatalogVariant(_)
            | KlaviyoRequest::UpsertCatalogCategory(_) => "POST",
            KlaviyoRequest::UpsertCatalogItem(item) if item.can_create() => "POST",
            KlaviyoRequest::UpsertCatalogItem(_) => "PATCH",
            KlaviyoRequest::DeleteCatalogItem { .. } => "DELETE",
        }
    }

    /// Path of the primary request (item ids percent-encoded).
    pub fn path(&self) -> String {
        match self {
            KlaviyoRequest::CreateEvent(_) => "/api/events".to_owned(),
            KlaviyoRequest::ImportProfile(_) => "/api/profile-import".to_owned(),
            KlaviyoRequest::Subscribe(_) => "/api/profile-subscription-bulk-create-jobs".to_owned(),
            KlaviyoRequest::BulkCreateEvents(_) => "/api/event-bulk-create-jobs".to_owned(),
            KlaviyoRequest::BulkImportProfiles(_) => "/api/profile-bulk-import-jobs".to_owned(),
            KlaviyoRequest::UpsertCatalogItem(item) if item.can_create() => {
                "/api/catalog-items".to_owned()
            }
            KlaviyoRequest::UpsertCatalogItem(item) => item_path(&item.item_id()),
            KlaviyoRequest::DeleteCatalogItem { item_id } => item_path(item_id),
            KlaviyoRequest::UpsertCatalogVariant(_) => "/api/catalog-variants".to_owned(),
            KlaviyoRequest::UpsertCatalogCategory(_) => "/api/catalog-categories".to_owned(),
        }
    }

    /// The request to send instead when the primary gets `status`: a catalog create that
    /// answers 409 (item, variant or category exists) becomes a PATCH of the same resource.
    pub fn fallback(&self, status: u16) -> Option<(&'static str, String, Value)> {
        match self {
            KlaviyoRequest::UpsertCatalogItem(item) if status == 409 && item.can_create() => {
                Some(("PATCH", item_path(&item.item_id()), item.update_body()))
            }
            KlaviyoRequest::UpsertCatalogVariant(variant) if status == 409 => Some((
                "PATCH",
                format!(
                    "/api/catalog-variants/{}",
                    percent_encode_segment(&variant.variant_id())
                ),
                variant.update_body(),
            )),
            KlaviyoRequest::UpsertCatalogCategory(category) if status == 409 => Some((
                "PATCH",
                format!(
                    "/api/catalog-categories/{}",
                    percent_encode_segment(&category.category_id())
                ),
                category.update_body(),
            )),
            _ => None,
        }
    }
}

fn item_path(item_id: &str) -> String {
    format!("/api/catalog-items/{}", percent_encode_segment(item_id))
}

/// Bytes escaped in a path segment: everything but RFC 3986's unreserved characters and the
/// `$` and `:` of catalog item ids. Those two are legal in a segment (RFC 3986 pchar) and are
/// how Klaviyo writes catalog item ids in its own docs.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'$')
    .remove(b':');

/// Percent-encodes a path segment (upper-case hex, UTF-8 bytes of non-ASCII characters).
pub fn percent_encode_segment(segment: &str) -> String {
    utf8_percent_encode(segment, SEGMENT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::klaviyo::CatalogUpsert;
    use serde_json::json;

    #[test]
    fn catalog_create_then_patch_on_conflict() {
        let item = CatalogUpsert {
            external_id: "salla:1:product:9".into(),
            title: Some("T".into()),
            description: None,
            url: Some("https://x/p9".into()),
            price: Some(5.0),
            image_full_url: None,
            published: Some(true),
            custom_metadata: None,
            categories: None,
        };
        let req = KlaviyoRequest::UpsertCatalogItem(item);
        assert_eq!(
            (req.method(), req.path().as_str()),
            ("POST", "/api/catalog-items")
        );
        assert_eq!(
            req.body().unwrap()["data"]["attributes"]["description"],
            "T"
        );
        assert_eq!(req.fallback(404), None);
        let (method, path, body) = req.fallback(409).unwrap();
        assert_eq!(method, "PATCH");
        assert_eq!(
            path,
            "/api/catalog-items/$custom:::$default:::salla:1:product:9"
        );
        assert_eq!(body["data"]["id"], "$custom:::$default:::salla:1:product:9");
        assert!(body["data"]["attributes"].get("external_id").is_none());
    }

    #[test]
    fn partial_catalog_update_is_a_patch() {
        let item = CatalogUpsert {
            external_id: "salla:1:product:9".into(),
            title: None,
            description: None,
            url: None,
            price: Some(5.0),
            image_full_url: None,
            published: None,
            custom_metadata: None,
            categories: None,
        };
        let req = KlaviyoRequest::UpsertCatalogItem(item);
        assert_eq!(req.method(), "PATCH");
        assert_eq!(
            req.body().unwrap()["data"]["attributes"],
            json!({"price": 5.0})
        );
        assert_eq!(req.fallback(409), None);
    }

    #[test]
    fn item_ids_are_percent_encoded() {
        assert_eq!(
            percent_encode_segment("$custom:::$default:::a b/c?é"),
            "$custom:::$default:::a%20b%2Fc%3F%C3%A9"
        );
        let req = KlaviyoRequest::DeleteCatalogItem {
            item_id: "$custom:::$default:::x/y".into(),
        };
        assert_eq!(req.path(), "/api/catalog-items/$custom:::$default:::x%2Fy");
        assert_eq!(req.body(), None);
        assert_eq!(req.method(), "DELETE");
    }
}
