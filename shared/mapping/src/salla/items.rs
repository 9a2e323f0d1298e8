//! Order and cart lines in Klaviyo's item vocabulary
//! (ProductID, SKU, ProductName, Quantity, ItemPrice, RowTotal, ProductURL, ImageURL,
//! Categories, Brand), with product details from the payload first and enrichment second.

use super::enrichment::{Enrichment, ProductDetails};
use super::json::{Json, JsonContainerTrait, JsonValueTrait};
use super::lenient::{self, Fields};
use super::urls::image_url;
use serde_json::{Map, Value};

/// One line of an order or cart.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Line {
    pub item_id: Option<String>,
    /// Salla's product id (enrichment is keyed by it).
    pub product_id: Option<String>,
    /// The `ProductID` Klaviyo sees: [`crate::klaviyo::unique_id::product_id`], the catalog
    /// item's `external_id`.
    pub catalog_id: Option<String>,
    pub name: Option<String>,
    pub sku: Option<String>,
    pub quantity: Option<i64>,
    pub price: Option<f64>,
    pub row_total: Option<f64>,
    pub url: Option<String>,
    pub image_url: Option<String>,
    pub categories: Vec<String>,
    pub brand: Option<String>,
    /// "SIZE: BIG", "الاضافات: بصل، فلفل".
    pub options: Vec<String>,
}

/// Lines of `data.items` (orders) or `data.items` of a cart; non-objects are skipped.
pub fn lines(items: Option<&Json>, store: &str, enrichment: &Enrichment) -> Vec<Line> {
    let Some(items) = items.and_then(|i| i.as_array()) else {
        return Vec::new();
    };
    items
        .iter()
        .filter(|i| i.is_object())
        .map(|i| line(i, store, enrichment))
        .collect()
}

fn line(item_value: &Json, store: &str, enrichment: &Enrichment) -> Line {
    let item = Fields::of(item_value);
    let product_value = item.get("product").filter(|p| p.is_object());
    let product_fields = product_value.map(Fields::of);
    let product = product_fields.as_ref();
    let from_product = |key: &str| {
        product
            .and_then(|p| lenient::text(p.get(key)))
            .map(str::to_owned)
    };
    let product_id = lenient::id(item.get("product_id"))
        .or_else(|| product.and_then(|p| lenient::id(p.get("id"))));
    let quantity = lenient::int(item.get("quantity"));
    let price = lenient::number(item.path(&["amounts", "price_without_tax"]))
        .or_else(|| lenient::number(item.get("price")))
        .or_else(|| product.and_then(|p| lenient::number(p.get("price"))));
    let mut line = Line {
        item_id: lenient::id(item.get("id")),
        name: lenient::text(item.get("name"))
            .map(str::to_owned)
            .or_else(|| from_product("name")),
        sku: lenient::text(item.get("sku"))
            .map(str::to_owned)
            .or_else(|| from_product("sku")),
        quantity,
        price,
        row_total: lenient::number(item.path(&["amounts", "total"])),
        url: from_product("url"),
        image_url: product_value
            .and_then(image_url)
            .or_else(|| image_url(item_value)),
        categories: product
            .map(|p| names(p.get("categories")))
            .unwrap_or_default(),
        brand: product.and_then(|p| name_of(p.get("brand"))),
        options: options(item.get("options")),
        catalog_id: product_id
            .as_deref()
            .map(|id| crate::klaviyo::unique_id::product_id(store, id)),
        product_id,
    };
    if let Some(details) = line
        .product_id
        .as_ref()
        .and_then(|id| enrichment.products.get(id))
    {
        fill_from(&mut line, details);
    }
    if line.row_total.is_none()
        && let (Some(p), Some(q)) = (line.price, line.quantity)
    {
        line.row_total = Some(lenient::round_money(p * q as f64)).filter(|t| t.is_finite());
    }
    line
}

/// Payload values win; enrichment only fills gaps.
fn fill_from(line: &mut Line, d: &ProductDetails) {
    fn fill<T: Clone>(slot: &mut Option<T>, from: &Option<T>) {
        if slot.is_none() {
            slot.clone_from(from);
        }
    }
    fill(&mut line.name, &d.name);
    fill(&mut line.sku, &d.sku);
    fill(&mut line.price, &d.price);
    fill(&mut line.url, &d.url);
    fill(&mut line.image_url, &d.image_url);
    fill(&mut line.brand, &d.brand);
    if line.categories.is_empty() {
        line.categories.clone_from(&d.categories);
    }
}

/// Names from `[{"name": …}]`, `["…"]` or a single `{"name": …}`.
pub fn names(v: Option<&Json>) -> Vec<String> {
    match v {
        Some(v) if v.is_array() => v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| name_of(Some(i)))
            .collect(),
        Some(v) if v.is_object() => name_of(Some(v)).into_iter().collect(),
        _ => Vec::new(),
    }
}

/// A name from a string or an object's `name`.
pub fn name_of(v: Option<&Json>) -> Option<String> {
    name_text(v).map(str::to_owned)
}

fn name_text(v: Option<&Json>) -> Option<&str> {
    let v = v?;
    lenient::text(Some(v)).or_else(|| lenient::text(v.get("name")))
}

fn options(v: Option<&Json>) -> Vec<String> {
    let Some(options) = v.and_then(|o| o.as_array()) else {
        return Vec::new();
    };
    options
        .iter()
        .filter_map(|o| {
            let name = lenient::text(o.get("name"))?;
            // "SIZE: BIG", written in place: the values are only ever joined.
            let mut text = name.to_owned();
            let mut separator = ": ";
            let mut push = |value: Option<&Json>| {
                if let Some(value) = name_text(value) {
                    text.push_str(separator);
                    text.push_str(value);
                    separator = ", ";
                }
            };
            match o.get("value") {
                Some(values) if values.is_array() => {
                    values
                        .as_array()
                        .into_iter()
                        .flatten()
                        .for_each(|v| push(Some(v)));
                }
                value => push(value),
            }
            Some(text)
        })
        .collect()
}

impl Line {
    /// The `Items[]` entry.
    pub fn to_item(&self) -> Value {
        // serde_json's `Map` is a BTreeMap: collecting sorts once and builds it bottom-up.
        Value::Object(
            self.fields()
                .into_iter()
                .map(|(key, value)| (key.to_owned(), value))
                .collect(),
        )
    }

    /// The line's properties in Klaviyo's item vocabulary, absent values left out. One list
    /// for both shapes: an `Items[]` entry and an Ordered Product event's properties.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let text = |v: &Option<String>| v.as_ref().map(|s| Value::String(s.clone()));
        let number = |v: Option<f64>| v.and_then(crate::klaviyo::props::number);
        let list = |v: &Vec<String>| (!v.is_empty()).then(|| Value::from(v.clone()));
        let entries = [
            ("ProductID", text(&self.catalog_id)),
            ("SallaProductID", text(&self.product_id)),
            ("SKU", text(&self.sku)),
            ("ProductName", text(&self.name)),
            ("Quantity", self.quantity.map(Value::from)),
            ("ItemPrice", number(self.price)),
            ("RowTotal", number(self.row_total)),
            ("ProductURL", text(&self.url)),
            ("ImageURL", text(&self.image_url)),
            ("Categories", list(&self.categories)),
            ("Brand", text(&self.brand)),
            ("Options", list(&self.options)),
        ];
        // Sized up front: `filter_map` gives no exact size, so `collect` would grow twice.
        let mut fields = Vec::with_capacity(entries.len());
        fields.extend(
            entries
                .into_iter()
                .filter_map(|(key, value)| Some((key, value?))),
        );
        fields
    }
}

/// Order- or cart-level lists derived from the lines.
pub struct Summary {
    pub items: Vec<Value>,
    pub item_names: Vec<String>,
    pub categories: Vec<String>,
    pub brands: Vec<String>,
    pub item_count: i64,
}

pub fn summarize(lines: &[Line]) -> Summary {
    let mut s = Summary {
        items: lines.iter().map(Line::to_item).collect(),
        item_names: lines.iter().filter_map(|l| l.name.clone()).collect(),
        categories: Vec::new(),
        brands: Vec::new(),
        item_count: lines.iter().fold(0i64, |n, l| {
            n.saturating_add(l.quantity.unwrap_or(1).max(0))
        }),
    };
    for line in lines {
        for c in &line.categories {
            if !s.categories.contains(c) {
                s.categories.push(c.clone());
            }
        }
        if let Some(b) = &line.brand
            && !s.brands.contains(b)
        {
            s.brands.push(b.clone());
        }
    }
    s
}

pub fn put_str(m: &mut Map<String, Value>, key: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(key.into(), Value::String(v.clone()));
    }
}
