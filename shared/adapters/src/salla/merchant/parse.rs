//! Lenient reading of list and detail bodies: nothing here panics, and an entry we cannot use
//! is skipped and counted rather than failing its page.

use serde_json::Value;

use super::Page;

/// A JSON object exactly as the mapping crate will parse it (the `data` of an order detail, a
/// customer, a product). Not converted to our own model here.
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    pub fn into_string(self) -> String {
        self.0
    }

    fn of(value: &Value) -> Option<RawJson> {
        value
            .is_object()
            .then(|| serde_json::to_string(value).ok())
            .flatten()
            .map(RawJson)
    }
}

/// Customer and order bodies hold personal data: the debug form names only the size.
impl std::fmt::Debug for RawJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RawJson({} bytes)", self.0.len())
    }
}

/// A customer or product from a list: its id and the whole record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub id: u64,
    pub body: RawJson,
}

/// One entry of the order list (the short form): what the import needs to fetch the detail
/// and to reason about windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRef {
    pub id: u64,
    pub reference_id: Option<u64>,
    /// The order's local (store) time, when the list gave a readable one.
    pub date: Option<time::PrimitiveDateTime>,
    pub status_slug: Option<String>,
}

/// A positive id sent as a number or a numeric string.
pub(crate) fn id_of(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
}

/// `{date: "yyyy-mm-dd hh:mm:ss[.ffffff]", …}` or the bare string.
pub(crate) fn date_of(value: Option<&Value>) -> Option<time::PrimitiveDateTime> {
    let text = match value? {
        Value::String(s) => s.as_str(),
        Value::Object(o) => o.get("date")?.as_str()?,
        _ => return None,
    };
    let head = text.get(..19)?;
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::PrimitiveDateTime::parse(head, &format)
        .or_else(|_| {
            let iso =
                time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
            time::PrimitiveDateTime::parse(head, &iso)
        })
        .ok()
}

fn order_ref(entry: &Value) -> Option<OrderRef> {
    Some(OrderRef {
        id: id_of(entry.get("id"))?,
        reference_id: id_of(entry.get("reference_id")),
        date: date_of(entry.get("date")),
        status_slug: entry
            .pointer("/status/slug")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

fn record(entry: &Value) -> Option<Record> {
    Some(Record {
        id: id_of(entry.get("id"))?,
        body: RawJson::of(entry)?,
    })
}

/// A number sent as a number or a numeric string.
fn count(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list body; `None` when it has no `data` array.
fn page<T>(body: &Value, item: impl Fn(&Value) -> Option<T>) -> Option<Page<T>> {
    let data = body.get("data")?.as_array()?;
    let items: Vec<T> = data.iter().filter_map(item).collect();
    let p = body.get("pagination");
    let field = |k: &str| count(p.and_then(|p| p.get(k)));
    let current_page = field("currentPage").unwrap_or(1);
    Some(Page {
        skipped: data.len() - items.len(),
        current_page,
        total_pages: field("totalPages").unwrap_or(current_page),
        total: field("total").unwrap_or(items.len() as u64),
        items,
    })
}

pub(crate) fn order_page(body: &Value) -> Option<Page<OrderRef>> {
    page(body, order_ref)
}

pub(crate) fn record_page(body: &Value) -> Option<Page<Record>> {
    page(body, record)
}

/// The detail's `data` object.
pub(crate) fn detail(body: &Value) -> Option<RawJson> {
    RawJson::of(body.get("data")?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_numbers_or_numeric_strings() {
        assert_eq!(id_of(Some(&json!(12))), Some(12));
        assert_eq!(id_of(Some(&json!(" 34 "))), Some(34));
        for bad in [
            json!(-1),
            json!(0),
            json!(1.5),
            json!("x"),
            json!(null),
            json!({}),
        ] {
            assert_eq!(id_of(Some(&bad)), None, "{bad}");
        }
        assert_eq!(id_of(None), None);
    }

    #[test]
    fn dates_in_salla_s_forms() {
        let want = time::macros::datetime!(2022-06-26 12:21:45);
        let object = json!({"date": "2022-06-26 12:21:45.000000", "timezone": "Asia/Riyadh"});
        assert_eq!(date_of(Some(&object)), Some(want));
        assert_eq!(date_of(Some(&json!("2022-06-26 12:21:45"))), Some(want));
        assert_eq!(date_of(Some(&json!("2022-06-26T12:21:45Z"))), Some(want));
        for bad in [
            json!("2022-06-26"),
            json!("نص"),
            json!(5),
            json!({"date": 1}),
        ] {
            assert_eq!(date_of(Some(&bad)), None, "{bad}");
        }
    }

    #[test]
    fn order_pages_skip_unusable_entries_and_default_missing_pagination() {
        let body = json!({"data": [
            {"id": 1, "reference_id": "77", "date": {"date": "2026-01-02 03:04:05.000000"},
             "status": {"slug": "completed"}},
            {"id": "2"},
            {"reference_id": 9},
            "not an object",
        ], "pagination": {"currentPage": 2, "totalPages": "5", "total": 270}});
        let page = order_page(&body).unwrap();
        assert_eq!(page.items.iter().map(|o| o.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(page.items[0].reference_id, Some(77));
        assert_eq!(page.items[0].status_slug.as_deref(), Some("completed"));
        assert!(page.items[1].date.is_none());
        assert_eq!(
            (
                page.skipped,
                page.current_page,
                page.total_pages,
                page.total
            ),
            (2, 2, 5, 270)
        );
        assert!(page.has_next());

        let bare = order_page(&json!({"data": []})).unwrap();
        assert_eq!((bare.current_page, bare.total_pages, bare.total), (1, 1, 0));
        assert!(!bare.has_next());
        assert!(order_page(&json!({"data": {}})).is_none());
        assert!(order_page(&json!([])).is_none());
    }

    #[test]
    fn records_keep_the_whole_object_and_details_need_an_object() {
        let body =
            json!({"data": [{"id": 5, "email": "a@b.c"}, {"id": 6, "name": "x"}, {"id": null}]});
        let page = record_page(&body).unwrap();
        assert_eq!(page.items.len(), 2);
        assert_eq!(page.skipped, 1);
        let back: Value = serde_json::from_str(page.items[0].body.as_str()).unwrap();
        assert_eq!(back, json!({"id": 5, "email": "a@b.c"}));
        assert!(
            !format!("{:?}", page.items[0]).contains("a@b.c"),
            "debug hides the body"
        );
        assert!(detail(&json!({"data": {"id": 1}})).is_some());
        assert!(detail(&json!({"data": []})).is_none());
        assert!(detail(&json!({})).is_none());
    }
}
