//! `product.*` → Klaviyo catalog items, so product blocks, cross-sell recommendations and
//! back-in-stock content can use the store's products.
//!
//! A full product payload (`product.created`, `product.quantity.low`, …: name and URL present)
//! becomes a create with a PATCH on 409. The 2025 partial events (`product.price.updated`,
//! `product.status.updated`) carry only ids and the changed fields: they become a PATCH of
//! those fields, unless the intake enriched the product, which makes a full upsert possible.

use crate::MappingError;
use crate::klaviyo::props::PropsExt;
use crate::klaviyo::{
    CatalogCategoryUpsert, CatalogUpsert, CatalogVariantUpsert, KlaviyoRequest, Properties,
    catalog_item_id, limits, unique_id,
};
use crate::plan::{Action, Ctx};
use crate::salla::json::{Json, JsonContainerTrait, JsonValueTrait};
use crate::salla::lenient::{self, get};
use crate::salla::{items, urls};

/// Plain-text descriptions are capped well below Klaviyo's 100 KB string limit.
const MAX_DESCRIPTION_BYTES: usize = 10_000;

pub(crate) fn upsert(ctx: &Ctx) -> Result<Action, MappingError> {
    let d = ctx.env.data();
    let id = lenient::id(d.get("id")).ok_or(MappingError::MissingField("data.id"))?;
    let details = ctx.enrichment.products.get(&id);
    let name = lenient::text(d.get("name"));
    let url = urls::product_url(d);
    let full = name.is_some() && url.is_some();
    let status = lenient::text(d.get("status"));
    let external_id = unique_id::product_id(ctx.store(), &id);
    // Categories exist before the item that points at them; only a full payload states them.
    let categories: Vec<CatalogCategoryUpsert> = if full {
        categories(ctx.store(), d.get("categories"))
    } else {
        Vec::new()
    };
    let item = CatalogUpsert {
        external_id: external_id.clone(),
        title: name
            .map(str::to_owned)
            .or_else(|| details.and_then(|x| x.name.clone())),
        description: lenient::text(d.get("description")).and_then(plain_text),
        url: url
            .map(str::to_owned)
            .or_else(|| details.and_then(|x| x.url.clone())),
        price: current_price(d, ctx.event_time().as_deref())
            .or_else(|| details.and_then(|x| x.price)),
        image_full_url: urls::image_url(d).or_else(|| details.and_then(|x| x.image_url.clone())),
        // Hidden or deleted products stay in the catalog but are not recommended.
        published: status.map(|s| !matches!(s, "hidden" | "deleted")),
        custom_metadata: full.then(|| metadata(d, status)),
        categories: (!categories.is_empty())
            .then(|| categories.iter().map(|c| c.external_id.clone()).collect()),
    };
    let variants = if full {
        variants(ctx.store(), &id, d, &item)
    } else {
        Vec::new()
    };
    let mut requests = Vec::with_capacity(categories.len() + 1 + variants.len());
    requests.extend(
        categories
            .into_iter()
            .map(KlaviyoRequest::UpsertCatalogCategory),
    );
    requests.push(KlaviyoRequest::UpsertCatalogItem(item));
    requests.extend(
        variants
            .into_iter()
            .map(KlaviyoRequest::UpsertCatalogVariant),
    );
    Ok(Action::Send(requests))
}

/// Salla categories with an id and a name (`[{id, name, …}]`); name-only ones have no stable
/// id to point at and stay in `custom_metadata.categories` only.
fn categories(store: &str, v: Option<&Json>) -> Vec<CatalogCategoryUpsert> {
    let mut out: Vec<CatalogCategoryUpsert> = Vec::new();
    for c in v.and_then(|v| v.as_array()).into_iter().flatten() {
        let (Some(id), Some(name)) = (lenient::id(c.get("id")), lenient::text(c.get("name")))
        else {
            continue;
        };
        let external_id = unique_id::category(store, &id);
        if !out.iter().any(|x| x.external_id == external_id) {
            out.push(CatalogCategoryUpsert {
                external_id,
                name: name.to_owned(),
            });
        }
    }
    out
}

/// One variant per Salla SKU (`data.skus[]`, a combination of the product's options), for
/// back-in-stock and price/stock filters. A SKU's own price, stock, code and image win over
/// the product's; its title is the product's name and its option values ("عطر - 100 مل").
fn variants(
    store: &str,
    product_id: &str,
    d: &Json,
    item: &CatalogUpsert,
) -> Vec<CatalogVariantUpsert> {
    let (Some(title), Some(url)) = (item.title.as_deref(), item.url.as_deref()) else {
        return Vec::new();
    };
    let unlimited = lenient::flag(d.get("unlimited_quantity")) == Some(true);
    let mut out = Vec::new();
    for sku in d
        .get("skus")
        .and_then(|s| s.as_array())
        .into_iter()
        .flatten()
    {
        let Some(sku_id) = lenient::id(sku.get("id")) else {
            continue;
        };
        let Some(price) = lenient::number(sku.get("sale_price"))
            .filter(|s| *s > 0.0)
            .or_else(|| lenient::number(sku.get("price")))
            .or(item.price)
        else {
            continue;
        };
        let values = option_values(d, sku.get("related_option_values"));
        let variant_title = if values.is_empty() {
            title.to_owned()
        } else {
            [title, " - ", &values.join(" / ")].concat()
        };
        let external_id = unique_id::product_variant(store, product_id, &sku_id);
        let stock = lenient::int(sku.get("stock_quantity"))
            .or_else(|| lenient::int(sku.get("quantity")))
            .unwrap_or(0)
            .max(0);
        out.push(CatalogVariantUpsert {
            sku: lenient::text(sku.get("sku"))
                .map(str::to_owned)
                .unwrap_or_else(|| external_id.clone()),
            external_id,
            item_external_id: item.external_id.clone(),
            description: item.description.clone().unwrap_or_else(|| title.to_owned()),
            title: variant_title,
            inventory_quantity: stock,
            inventory_policy: if unlimited { 2 } else { 1 },
            price,
            url: url.to_owned(),
            image_full_url: urls::image_url(sku).or_else(|| item.image_full_url.clone()),
            published: item.published,
        });
    }
    out
}

/// Names of the option values a SKU combines, looked up in `data.options[].values[]`.
fn option_values(d: &Json, ids: Option<&Json>) -> Vec<String> {
    let wanted: Vec<String> = ids
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .filter_map(|i| lenient::id(Some(i)))
        .collect();
    let mut out = Vec::new();
    for id in &wanted {
        let name = d
            .get("options")
            .and_then(|o| o.as_array())
            .into_iter()
            .flatten()
            .flat_map(|o| {
                o.get("values")
                    .and_then(|v| v.as_array())
                    .into_iter()
                    .flatten()
            })
            .find(|v| lenient::id(v.get("id")).as_deref() == Some(id))
            .and_then(|v| lenient::text(v.get("name")));
        if let Some(name) = name {
            out.push(name.to_owned());
        }
    }
    out
}

pub(crate) fn delete(ctx: &Ctx) -> Result<Action, MappingError> {
    let id = lenient::id(ctx.env.data().get("id")).ok_or(MappingError::MissingField("data.id"))?;
    let item_id = catalog_item_id(&unique_id::product_id(ctx.store(), &id));
    Ok(Action::Send(vec![KlaviyoRequest::DeleteCatalogItem {
        item_id,
    }]))
}

/// The price a shopper pays now: a positive sale price below the regular one, unless its
/// `expired_at` / `sale_end` date is before the delivery's own date (no clock is read).
fn current_price(d: &Json, today: Option<&str>) -> Option<f64> {
    let regular =
        lenient::number(d.get("price")).or_else(|| lenient::number(d.get("regular_price")));
    let sale =
        lenient::number(d.get("sale_price")).filter(|s| *s > 0.0 && regular.is_none_or(|r| *s < r));
    let expiry = lenient::text(get(d, &["sale_price", "expired_at"]))
        .or_else(|| lenient::text(d.get("sale_end")));
    let expired = match (
        expiry.and_then(|e| e.get(..10)),
        today.and_then(|t| t.get(..10)),
    ) {
        (Some(end), Some(day)) => end < day,
        _ => false,
    };
    match sale {
        Some(s) if !expired => Some(s),
        _ => regular,
    }
}

/// Inventory and merchandising facts, flat, for catalog filters and back-in-stock logic.
fn metadata(d: &Json, status: Option<&str>) -> Properties {
    let mut m = Properties::new();
    m.put_str("sku", lenient::text(d.get("sku")));
    m.put_str("status", status);
    m.put_str("product_type", lenient::text(d.get("type")));
    if let Some(available) = lenient::flag(d.get("is_available")) {
        m.put("is_available", available);
    }
    let unlimited = lenient::flag(d.get("unlimited_quantity")) == Some(true);
    m.put("unlimited_quantity", unlimited);
    if !unlimited && let Some(q) = lenient::int(d.get("quantity")) {
        m.put("inventory_quantity", q);
    }
    m.put_num("regular_price", lenient::number(d.get("regular_price")));
    m.put_str(
        "currency",
        lenient::money(d.get("price"))
            .and_then(|p| p.currency)
            .or_else(|| lenient::currency_code(d.get("currency")))
            .as_deref(),
    );
    m.put_str("brand", items::name_of(d.get("brand")).as_deref());
    let categories = items::names(d.get("categories"));
    if !categories.is_empty() {
        m.put_str("categories", Some(&categories.join(", ")));
    }
    limits::clamp_properties(&mut m);
    m
}

/// Salla descriptions are HTML; Klaviyo shows `description` as text.
fn plain_text(html: &str) -> Option<String> {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                out.push(' ');
            }
            '>' if in_tag => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    let decoded = out
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    let mut text = decoded.split_whitespace().collect::<Vec<_>>().join(" ");
    limits::truncate_utf8(&mut text, MAX_DESCRIPTION_BYTES);
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sonic_rs::json;

    #[test]
    fn html_descriptions_become_text() {
        assert_eq!(
            plain_text("<p>عطر <b>فاخر</b>&nbsp;100 مل</p>").as_deref(),
            Some("عطر فاخر 100 مل")
        );
        assert_eq!(plain_text("<br/>  "), None);
        assert_eq!(
            plain_text("a &lt;b&gt; &amp; c").as_deref(),
            Some("a <b> & c")
        );
    }

    #[test]
    fn sale_price_applies_until_it_expires() {
        let d = json!({"price": 150, "sale_price": {"amount": 85, "expired_at": "2025-12-01"}});
        assert_eq!(
            current_price(&d, Some("2025-11-30T10:00:00+03:00")),
            Some(85.0)
        );
        assert_eq!(
            current_price(&d, Some("2025-12-01T10:00:00+03:00")),
            Some(85.0)
        );
        assert_eq!(
            current_price(&d, Some("2025-12-14T11:41:40+03:00")),
            Some(150.0)
        );
        assert_eq!(current_price(&d, None), Some(85.0));
        let zero_sale =
            json!({"price": {"amount": 299, "currency": "SAR"}, "sale_price": {"amount": 0}});
        assert_eq!(current_price(&zero_sale, None), Some(299.0));
        let higher_sale = json!({"price": 10, "sale_price": 12});
        assert_eq!(current_price(&higher_sale, None), Some(10.0));
        assert_eq!(current_price(&json!({}), None), None);
    }
}
