//! The deterministic store generator. Nothing is held per record: an order, customer or
//! product is computed from `(seed, index)` when asked for, so a 10,000-order store costs a
//! few bytes (plus 8 bytes per order added while an import runs).
//!
//! Shapes. Confirmed: the order detail (`GET /orders/{id}` `data`) mirrors the webhook order
//! model (DOCS-ORD), so it is built from the saved `order.created` sample's `data`, varying ids,
//! dates, customer, lines, amounts and status. The list is the short form listed in salla.md
//! §7.3 (`id, reference_id, total, exchange_rate, date, status{id,name,slug,customized},
//! payment_method, is_pending_payment, can_cancel, features, items[{name,quantity,thumbnail}]`,
//! also seen in public client code). Customer fields per §7.3, product fields per §4.
//! Assumed: status ids other than the three official samples', the `features` keys, and that
//! `date` in the list has the same `{date, timezone_type, timezone}` form as the detail.

use std::sync::OnceLock;

use serde_json::{Value, json};

const ORDER_SAMPLE: &str = include_str!("../../fixtures/salla-samples/order.created.json");

/// Salla dates are the store's local time (Asia/Riyadh, UTC+3, no DST).
pub const RIYADH_OFFSET_SECS: i64 = 3 * 3600;
const DAY: i64 = 86_400;

const ORDER_ID_BASE: u64 = 1_000_000_000;
const ORDER_ID_STEP: u64 = 1_000;
const REFERENCE_BASE: u64 = 40_000_000;
const CUSTOMER_ID_BASE: u64 = 200_000_000;
const PRODUCT_ID_BASE: u64 = 700_000_000;
const ID_STEP: u64 = 100;

/// What a generated store holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dataset {
    pub seed: u64,
    pub orders: usize,
    pub customers: usize,
    pub products: usize,
    /// The newest generated order's time (UTC epoch seconds); the others spread over the
    /// `span_days` before it.
    pub end_epoch: i64,
    pub span_days: i64,
}

impl Dataset {
    /// `orders` orders over the two years up to 2026-11-30, with `customers` and `products`
    /// (at least one of each: every order has a customer and lines).
    pub fn new(seed: u64, orders: usize, customers: usize, products: usize) -> Self {
        Dataset {
            seed,
            orders,
            customers: customers.max(1),
            products: products.max(1),
            end_epoch: 1_796_083_200, // 2026-12-01T00:00:00Z
            span_days: 730,
        }
    }
}

/// A dataset plus the orders added while the stub runs.
#[derive(Debug, Clone)]
pub struct Store {
    pub data: Dataset,
    /// UTC epoch seconds of each added order, non-decreasing, after every generated one.
    pub added: Vec<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    pub id: u64,
    pub slug: &'static str,
    pub name: &'static str,
}

/// The statuses the generator mixes, with their weights (out of 100).
const STATUSES: [(Status, u64); 7] = [
    (
        Status {
            id: 1_298_199_463,
            slug: "completed",
            name: "تم التنفيذ",
        },
        35,
    ),
    (
        Status {
            id: 1_723_506_348,
            slug: "delivered",
            name: "تم التوصيل",
        },
        20,
    ),
    (
        Status {
            id: 349_994_915,
            slug: "shipped",
            name: "تم الشحن",
        },
        10,
    ),
    (
        Status {
            id: 525_144_736,
            slug: "canceled",
            name: "ملغي",
        },
        10,
    ),
    (
        Status {
            id: 1_956_875_584,
            slug: "restored",
            name: "مسترجع",
        },
        5,
    ),
    (
        Status {
            id: 566_146_469,
            slug: "under_review",
            name: "بإنتظار المراجعة",
        },
        10,
    ),
    (
        Status {
            id: 1_473_353_380,
            slug: "payment_pending",
            name: "بإنتظار الدفع",
        },
        10,
    ),
];

/// Original statuses the generator never picks but a status update may set. Assumed ids.
const OTHER_STATUSES: [Status; 2] = [
    Status {
        id: 1_939_592_358,
        slug: "in_progress",
        name: "قيد التنفيذ",
    },
    Status {
        id: 814_202_285,
        slug: "delivering",
        name: "جاري التوصيل",
    },
];

/// The original status with this slug.
pub fn status_named(slug: &str) -> Option<Status> {
    STATUSES
        .iter()
        .map(|(s, _)| *s)
        .chain(OTHER_STATUSES)
        .find(|s| s.slug == slug)
}

/// The status with this id.
pub fn status_with_id(id: u64) -> Option<Status> {
    STATUSES
        .iter()
        .map(|(s, _)| *s)
        .chain(OTHER_STATUSES)
        .find(|s| s.id == id)
}

const PAYMENT_METHODS: [&str; 4] = ["cod", "bank", "mada", "credit_card"];
const FIRST_NAMES: [&str; 8] = [
    "Mohammed", "Sara", "Fahad", "Noura", "Abdullah", "Reem", "Khalid", "Lama",
];
const LAST_NAMES: [&str; 6] = [
    "Ali",
    "Alharbi",
    "Alqahtani",
    "Alotaibi",
    "Alshehri",
    "Salem",
];
const CITIES: [&str; 4] = ["جدة", "الرياض", "مكة", "الدمام"];
const PRODUCT_NAMES: [&str; 6] = ["بيتزا", "عطر", "قهوة", "تمر", "Abaya", "Oud"];

/// SplitMix64: a stable, well-mixed hash of `(seed, kind, index)`.
fn mix(seed: u64, kind: u64, index: u64) -> u64 {
    let mut z =
        seed ^ kind.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ index.wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn pick<T: Copy>(items: &[T], h: u64) -> T {
    items[(h % items.len() as u64) as usize]
}

fn sample() -> &'static Value {
    static SAMPLE: OnceLock<Value> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        serde_json::from_str::<Value>(ORDER_SAMPLE)
            .ok()
            .and_then(|v| v.get("data").cloned())
            .unwrap_or_else(|| json!({}))
    })
}

/// `{date, timezone_type, timezone}` in the store's local time, as Salla sends dates.
pub fn salla_date(epoch: i64) -> Value {
    json!({
        "date": format!("{}.000000", local_text(epoch)),
        "timezone_type": 3,
        "timezone": "Asia/Riyadh",
    })
}

/// `yyyy-mm-dd hh:mm:ss` in Riyadh time.
pub fn local_text(epoch: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(epoch + RIYADH_OFFSET_SECS)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// The local (Riyadh) day number of an epoch time, for `from_date`/`to_date` filters.
pub fn local_day(epoch: i64) -> i64 {
    (epoch + RIYADH_OFFSET_SECS).div_euclid(DAY)
}

/// Parses `yyyy-mm-dd` into a day number comparable with [`local_day`].
pub fn parse_day(text: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(text, &format).ok()?;
    Some(
        i64::from(date.to_julian_day())
            - i64::from(
                time::Date::from_calendar_date(1970, time::Month::January, 1)
                    .ok()?
                    .to_julian_day(),
            ),
    )
}

/// One line of an order.
struct Line {
    product: usize,
    quantity: u64,
    with_options: bool,
}

impl Store {
    pub fn new(data: Dataset) -> Self {
        Store {
            data,
            added: Vec::new(),
        }
    }

    pub fn order_count(&self) -> usize {
        self.data.orders + self.added.len()
    }

    /// Adds `n` orders dated one minute apart after the newest one.
    pub fn add_orders(&mut self, n: usize) {
        let mut last = self.added.last().copied().unwrap_or(self.data.end_epoch);
        for _ in 0..n {
            last += 60;
            self.added.push(last);
        }
    }

    /// Orders are dated in index order (ids grow with time, as Salla's do).
    pub fn order_epoch(&self, index: usize) -> i64 {
        let d = &self.data;
        if index >= d.orders {
            return self
                .added
                .get(index - d.orders)
                .copied()
                .unwrap_or(d.end_epoch);
        }
        let span = d.span_days * DAY;
        let start = d.end_epoch - span;
        let slot = span / d.orders.max(1) as i64;
        let jitter = if slot > 1 {
            (mix(d.seed, 1, index as u64) % slot as u64) as i64
        } else {
            0
        };
        start + slot * index as i64 + jitter
    }

    pub fn order_id(&self, index: usize) -> u64 {
        ORDER_ID_BASE
            + index as u64 * ORDER_ID_STEP
            + mix(self.data.seed, 2, index as u64) % ORDER_ID_STEP
    }

    /// The index of the order with `id`, if there is one.
    pub fn order_index(&self, id: u64) -> Option<usize> {
        let index = usize::try_from(id.checked_sub(ORDER_ID_BASE)? / ORDER_ID_STEP).ok()?;
        (index < self.order_count() && self.order_id(index) == id).then_some(index)
    }

    /// The first index whose local day is ≥ `day` (dates are monotone in the index).
    pub fn first_on_or_after(&self, day: i64) -> usize {
        partition(self.order_count(), |i| local_day(self.order_epoch(i)) < day)
    }

    /// The first index whose local day is > `day`.
    pub fn first_after(&self, day: i64) -> usize {
        partition(self.order_count(), |i| {
            local_day(self.order_epoch(i)) <= day
        })
    }

    pub fn status(&self, index: usize) -> Status {
        let mut roll = mix(self.data.seed, 3, index as u64) % 100;
        for (status, weight) in STATUSES {
            if roll < weight {
                return status;
            }
            roll -= weight;
        }
        STATUSES[0].0
    }

    pub fn payment_method(&self, index: usize) -> &'static str {
        pick(&PAYMENT_METHODS, mix(self.data.seed, 4, index as u64))
    }

    fn order_customer(&self, index: usize) -> usize {
        (mix(self.data.seed, 5, index as u64) % self.data.customers as u64) as usize
    }

    fn lines(&self, index: usize) -> Vec<Line> {
        let h = mix(self.data.seed, 6, index as u64);
        let count = 1 + (h % 4) as usize;
        (0..count)
            .map(|n| {
                let hl = mix(self.data.seed, 7, (index as u64) << 3 | n as u64);
                Line {
                    product: (hl % self.data.products as u64) as usize,
                    quantity: 1 + (hl >> 8) % 3,
                    with_options: (hl >> 16).is_multiple_of(3),
                }
            })
            .collect()
    }

    pub fn product_price(&self, product: usize) -> u64 {
        20 + mix(self.data.seed, 8, product as u64) % 480
    }

    fn amounts(&self, index: usize) -> (u64, u64, u64, u64) {
        let sub_total: u64 = self
            .lines(index)
            .iter()
            .map(|l| self.product_price(l.product) * l.quantity)
            .sum();
        let shipping = if sub_total >= 300 { 0 } else { 15 };
        let cod = if self.payment_method(index) == "cod" {
            10
        } else {
            0
        };
        (sub_total, shipping, cod, sub_total + shipping + cod)
    }

    /// The list's short form of order `index`.
    pub fn order_summary(&self, index: usize) -> Value {
        let status = self.status(index);
        let (_, _, _, total) = self.amounts(index);
        let items: Vec<Value> = self
            .lines(index)
            .iter()
            .map(|l| {
                json!({
                    "name": self.product_name(l.product),
                    "quantity": l.quantity,
                    "thumbnail": self.product_image(l.product),
                })
            })
            .collect();
        json!({
            "id": self.order_id(index),
            "reference_id": REFERENCE_BASE + index as u64,
            "total": {"amount": total, "currency": "SAR"},
            "exchange_rate": null,
            "date": salla_date(self.order_epoch(index)),
            "status": {
                "id": status.id,
                "name": status.name,
                "slug": status.slug,
                "customized": {"id": status.id, "name": status.name},
            },
            "payment_method": self.payment_method(index),
            "is_pending_payment": status.slug == "payment_pending",
            "can_cancel": matches!(status.slug, "under_review" | "payment_pending"),
            "features": {"shippable": true, "digitalable": false},
            "items": items,
        })
    }

    /// The detail (`GET /orders/{id}` `data`) of order `index`: the sample order with this
    /// order's values.
    pub fn order_detail(&self, index: usize) -> Value {
        let mut order = sample().clone();
        let id = self.order_id(index);
        let status = self.status(index);
        let method = self.payment_method(index);
        let (sub_total, shipping, cod, total) = self.amounts(index);
        let customer = self.customer(self.order_customer(index));
        let sample_item = sample()
            .pointer("/items/0")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let items: Vec<Value> = self
            .lines(index)
            .iter()
            .enumerate()
            .map(|(n, l)| self.order_item(&sample_item, index, n, l))
            .collect();
        let Some(o) = order.as_object_mut() else {
            return order;
        };
        let put = |o: &mut serde_json::Map<String, Value>, k: &str, v: Value| {
            o.insert(k.to_owned(), v);
        };
        put(o, "id", json!(id));
        put(o, "reference_id", json!(REFERENCE_BASE + index as u64));
        put(
            o,
            "urls",
            json!({
                "customer": format!("https://salla.sa/stub-store/order/{id}"),
                "admin": format!("https://s.salla.sa/orders/order/{id}"),
            }),
        );
        put(o, "date", salla_date(self.order_epoch(index)));
        put(
            o,
            "status",
            json!({
                "id": status.id,
                "name": status.name,
                "slug": status.slug,
                "customized": {"id": status.id, "name": status.name},
            }),
        );
        put(o, "payment_method", json!(method));
        put(
            o,
            "is_pending_payment",
            json!(status.slug == "payment_pending"),
        );
        put(
            o,
            "can_cancel",
            json!(matches!(status.slug, "under_review" | "payment_pending")),
        );
        if method != "bank" {
            put(o, "bank", Value::Null);
            put(o, "receipt_image", Value::Null);
        }
        put(
            o,
            "amounts",
            json!({
                "sub_total": {"amount": sub_total, "currency": "SAR"},
                "shipping_cost": {"amount": shipping, "currency": "SAR"},
                "cash_on_delivery": {"amount": cod, "currency": "SAR"},
                "tax": {"percent": "0.00", "amount": {"amount": 0, "currency": "SAR"}},
                "discounts": [],
                "total": {"amount": total, "currency": "SAR"},
            }),
        );
        if let Some(receiver) = o
            .get_mut("shipping")
            .and_then(|s| s.get_mut("receiver"))
            .and_then(Value::as_object_mut)
        {
            let name = format!(
                "{} {}",
                customer["first_name"].as_str().unwrap_or_default(),
                customer["last_name"].as_str().unwrap_or_default()
            );
            receiver.insert("name".into(), json!(name));
            receiver.insert("email".into(), customer["email"].clone());
            receiver.insert(
                "phone".into(),
                json!(format!(
                    "966{}",
                    customer["mobile"].as_u64().unwrap_or_default()
                )),
            );
        }
        put(o, "customer", customer);
        put(o, "items", json!(items));
        order
    }

    fn order_item(&self, sample_item: &Value, index: usize, n: usize, l: &Line) -> Value {
        let mut item = sample_item.clone();
        let price = self.product_price(l.product);
        let line_total = price * l.quantity;
        let product_id = self.product_id(l.product);
        if let Some(o) = item.as_object_mut() {
            o.insert(
                "id".into(),
                json!(70_000_000 + (index as u64) * 8 + n as u64),
            );
            o.insert("name".into(), json!(self.product_name(l.product)));
            o.insert("sku".into(), json!(self.product_sku(l.product)));
            o.insert("quantity".into(), json!(l.quantity));
            o.insert(
                "amounts".into(),
                json!({
                    "price_without_tax": {"amount": price, "currency": "SAR"},
                    "total_discount": {"amount": 0, "currency": "SAR"},
                    "tax": {"percent": "0.00", "amount": {"amount": 0, "currency": "SAR"}},
                    "total": {"amount": line_total, "currency": "SAR"},
                }),
            );
            if !l.with_options {
                o.insert("options".into(), json!([]));
            }
            if let Some(p) = o.get_mut("product").and_then(Value::as_object_mut) {
                p.insert("id".into(), json!(product_id));
                p.insert("name".into(), json!(self.product_name(l.product)));
                p.insert("sku".into(), json!(self.product_sku(l.product)));
                p.insert("price".into(), json!({"amount": price, "currency": "SAR"}));
                p.insert("sale_price".into(), json!({"amount": 0, "currency": "SAR"}));
                p.insert(
                    "regular_price".into(),
                    json!({"amount": price, "currency": "SAR"}),
                );
                p.insert("url".into(), json!(self.product_url(l.product)));
                p.insert("thumbnail".into(), json!(self.product_image(l.product)));
            }
        }
        item
    }

    pub fn customer_id(&self, index: usize) -> u64 {
        CUSTOMER_ID_BASE + index as u64 * ID_STEP + mix(self.data.seed, 9, index as u64) % ID_STEP
    }

    /// Customer `index`: the fields of the list (salla.md §7.3) plus the sample's others.
    pub fn customer(&self, index: usize) -> Value {
        let h = mix(self.data.seed, 10, index as u64);
        let id = self.customer_id(index);
        let updated = self.data.end_epoch - (h % (self.data.span_days as u64 * DAY as u64)) as i64;
        json!({
            "id": id,
            "first_name": pick(&FIRST_NAMES, h),
            "last_name": pick(&LAST_NAMES, h >> 8),
            "mobile": 500_000_000 + (id % 100_000_000),
            "mobile_code": "+966",
            "email": format!("shopper{id}@example.com"),
            "urls": {
                "customer": "https://salla.sa/stub-store/profile",
                "admin": format!("https://s.salla.sa/customers/{id}"),
            },
            "avatar": "https://cdn.salla.sa/customer_profiles/default.jpg",
            "gender": if h >> 16 & 1 == 0 { "male" } else { "female" },
            "birthday": null,
            "city": pick(&CITIES, h >> 24),
            "country": "السعودية",
            "country_code": "SA",
            "currency": "SAR",
            "location": "",
            "updated_at": salla_date(updated),
        })
    }

    pub fn product_id(&self, index: usize) -> u64 {
        PRODUCT_ID_BASE + index as u64 * ID_STEP + mix(self.data.seed, 11, index as u64) % ID_STEP
    }

    fn product_name(&self, index: usize) -> String {
        format!(
            "{} {}",
            pick(&PRODUCT_NAMES, mix(self.data.seed, 12, index as u64)),
            index + 1
        )
    }

    fn product_sku(&self, index: usize) -> String {
        format!("SKU-{}", self.product_id(index))
    }

    fn product_url(&self, index: usize) -> String {
        format!("https://salla.sa/stub-store/p{}", self.product_id(index))
    }

    fn product_image(&self, index: usize) -> String {
        format!("https://cdn.salla.sa/stub/{}.jpg", self.product_id(index))
    }

    /// Product `index` with the fields of salla.md §4.
    pub fn product(&self, index: usize) -> Value {
        let price = self.product_price(index);
        let h = mix(self.data.seed, 13, index as u64);
        let on_sale = h.is_multiple_of(4);
        json!({
            "id": self.product_id(index),
            "sku": self.product_sku(index),
            "type": "product",
            "name": self.product_name(index),
            "price": {"amount": price, "currency": "SAR"},
            "sale_price": {"amount": if on_sale { price * 9 / 10 } else { 0 }, "currency": "SAR"},
            "regular_price": {"amount": price, "currency": "SAR"},
            "url": self.product_url(index),
            "urls": {
                "customer": self.product_url(index),
                "admin": format!("https://s.salla.sa/products/{}", self.product_id(index)),
            },
            "main_image": self.product_image(index),
            "images": [{"url": self.product_image(index), "main": true}],
            "status": if h >> 8 & 7 == 0 { "hidden" } else { "sale" },
            "quantity": h >> 12 & 63,
            "categories": self.product_categories(index),
            "brand": self.product_brand(index),
        })
    }

    /// The index of the product with this id.
    pub fn product_index(&self, id: u64) -> Option<usize> {
        let index = usize::try_from(id.checked_sub(PRODUCT_ID_BASE)? / ID_STEP).ok()?;
        (index < self.data.products && self.product_id(index) == id).then_some(index)
    }

    /// One or two of the store's categories, as `{id, name}` (Salla's product shape).
    fn product_categories(&self, index: usize) -> Value {
        let h = mix(self.data.seed, 14, index as u64);
        let n = 1 + (h & 1) as usize;
        let picked: Vec<Value> = (0..n)
            .map(|k| {
                let c = ((h >> 4) as usize + k) % CATEGORY_NAMES.len();
                json!({"id": 31_000 + c as u64, "name": CATEGORY_NAMES[c]})
            })
            .collect();
        Value::Array(picked)
    }

    /// A brand `{id, name}`, or `null` for about a quarter of the products.
    fn product_brand(&self, index: usize) -> Value {
        let h = mix(self.data.seed, 15, index as u64);
        if h.is_multiple_of(4) {
            return Value::Null;
        }
        let b = (h >> 3) as usize % BRAND_NAMES.len();
        json!({"id": 41_000 + b as u64, "name": BRAND_NAMES[b]})
    }
}

const CATEGORY_NAMES: [&str; 4] = ["عطور", "عناية بالبشرة", "هدايا", "ملابس"];
const BRAND_NAMES: [&str; 3] = ["عود الشرق", "Nahla", "Dar Al Misk"];

/// The first index in `0..len` where `before` turns false (`before` is monotone).
fn partition(len: usize, before: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_grow_with_the_index_and_ids_round_trip() {
        let s = Store::new(Dataset::new(7, 1000, 50, 20));
        for i in 1..1000 {
            assert!(s.order_epoch(i) >= s.order_epoch(i - 1));
            assert!(s.order_id(i) > s.order_id(i - 1));
            assert_eq!(s.order_index(s.order_id(i)), Some(i));
        }
        assert_eq!(s.order_index(s.order_id(5) + 1), None);
        assert_eq!(s.order_index(1), None);
    }

    #[test]
    fn days_parse_and_match_local_days() {
        assert_eq!(parse_day("1970-01-02"), Some(1));
        assert_eq!(parse_day("2026-13-01"), None);
        // 21:30 UTC is the next day in Riyadh.
        assert_eq!(local_day(DAY - 2 * 3600 - 1800), 1);
        assert_eq!(local_text(0), "1970-01-01 03:00:00");
    }
}
