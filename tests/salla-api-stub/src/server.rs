//! The hyper plumbing and the routes.
//!
//! Confirmed (KIT salla-api-core, docs 421123/421124/421125): the `{status, success, data}`
//! envelope, the error envelope `{status, success: false, error{code, message, fields?}}`, the
//! pagination object, `per_page` default 15 and max 60, the rate-limit headers on every
//! answer and `Retry-After` on 429, the 401 messages for an invalid token and a missing scope.
//! Assumed: that `per_page` above 60 is refused with 422 (not clamped), that an unknown
//! `sort_by` is refused too, `error.code` values other than the documented 422 `error`,
//! `totalPages` of an empty list being 1 (Laravel's paginator, which Salla's shape follows),
//! the `links` keys, and that an unknown token gets no rate-limit headers (it names no store).
//!
//! The order status update (docs.salla.dev "Update Order Status", scope `orders.read_write`):
//! confirmed are `POST /orders/{order_id}/status` with a JSON body of `slug` (an original
//! status) or `status_id` (a custom one), 201 with `{status, success, data{message, code}}`,
//! 404 for an unknown order and 422 naming `slug`/`status_id` when both are missing. Assumed:
//! that an unknown slug is a 422 on `slug`, and that the update never checks the transition.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use crate::data::{self, Store};
use crate::limits::Admission;
use crate::{Call, Shared, State, StatusUpdate};

const DEFAULT_PER_PAGE: u64 = 15;
const MAX_PER_PAGE: u64 = 60;

pub(crate) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(serve(req, &shared).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// One answer before it becomes an HTTP response.
struct Answer {
    status: u16,
    body: Value,
    rate: Option<Admission>,
    retry_after: Option<Duration>,
    precise: bool,
}

impl Answer {
    fn error(status: u16, code: &str, message: &str) -> Answer {
        Answer {
            status,
            body: json!({
                "status": status,
                "success": false,
                "error": {"code": code, "message": message},
            }),
            rate: None,
            retry_after: None,
            precise: false,
        }
    }

    fn invalid(field: &str, message: &str) -> Answer {
        Answer {
            status: 422,
            body: json!({
                "status": 422,
                "success": false,
                "error": {
                    "code": "error",
                    "message": "alert.invalid_fields",
                    "fields": {field: [message]},
                },
            }),
            rate: None,
            retry_after: None,
            precise: false,
        }
    }

    fn ok(body: Value) -> Answer {
        Answer {
            status: 200,
            body,
            rate: None,
            retry_after: None,
            precise: false,
        }
    }
}

/// Largest request body read; a status update is a few dozen bytes.
const MAX_BODY: usize = 16 * 1024;

async fn serve(req: Request<Incoming>, shared: &Shared) -> Response<Full<Bytes>> {
    use http_body_util::BodyExt;
    let method = req.method().as_str().to_ascii_uppercase();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let body = if method == "GET" {
        Bytes::new()
    } else {
        match http_body_util::Limited::new(req.into_body(), MAX_BODY)
            .collect()
            .await
        {
            Ok(b) => b.to_bytes(),
            Err(_) => Bytes::new(),
        }
    };
    let (answer, latency) = {
        let mut state = shared.lock();
        let (store_id, answer) = answer(&mut state, &method, &path, &query, token, &body);
        let call = Call {
            store_id: store_id.clone(),
            method,
            path,
            query,
            status: answer.status,
        };
        record(&mut state, call);
        (answer, state.latency)
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    respond(shared, answer)
}

fn record(state: &mut State, call: Call) {
    let stats = &mut state.stats;
    stats.requests += 1;
    *stats.by_status.entry(call.status).or_default() += 1;
    if call.status == 429 {
        stats.throttled += 1;
    }
    if let Some(store) = &call.store_id {
        *stats.by_store.entry(store.clone()).or_default() += 1;
    }
    if state.record {
        state.calls.push(call);
    }
}

fn answer(
    state: &mut State,
    method: &str,
    path: &str,
    query: &str,
    token: Option<String>,
    body: &[u8],
) -> (Option<String>, Answer) {
    let invalid_token = || Answer::error(401, "Unauthorized", "The access token is invalid");
    let Some(store_id) = token.and_then(|t| state.tokens.get(&t).cloned()) else {
        return (None, invalid_token());
    };
    let rate = state.rate;
    let customers_rate = state.customers_rate;
    let now = Instant::now();
    let Some(st) = state.stores.get_mut(&store_id) else {
        return (None, invalid_token());
    };
    if let Some(left) = st.expires_after {
        if left == 0 {
            st.expired = true;
        } else {
            st.expires_after = Some(left - 1);
        }
    }
    if st.expired {
        return (Some(store_id), invalid_token());
    }
    let admission = st.bucket.admit(&rate, now);
    let mut refusal = admission.retry_after;
    // Assumed: a call the customers cap refuses still counted against the general budget.
    if refusal.is_none() && path.starts_with("/customers") {
        refusal = st.customers_bucket.admit(&customers_rate, now).retry_after;
    }
    let with_rate = |mut a: Answer| {
        a.rate = Some(admission);
        a.precise = rate.precise_headers;
        a
    };
    if let Some(after) = refusal {
        let mut a = with_rate(Answer::error(429, "too_many_requests", "Too Many Requests"));
        a.retry_after = Some(after);
        return (Some(store_id), a);
    }
    let scope = match path.split('/').nth(1) {
        Some("orders") if method != "GET" => "orders.read_write",
        Some("orders") => "orders.read",
        Some("customers") => "customers.read",
        Some("products") => "products.read",
        _ => "",
    };
    if st.missing_scopes.contains(scope) {
        let message =
            format!("The access token should have access to one of those scopes: {scope}");
        return (
            Some(store_id),
            with_rate(Answer::error(401, "Unauthorized", &message)),
        );
    }
    if let Some(fault) = state.faults.first_mut() {
        let status = fault.0;
        fault.1 -= 1;
        if fault.1 == 0 {
            state.faults.remove(0);
        }
        let slug = if status == 503 {
            "service_unavailable"
        } else {
            "server_error"
        };
        return (
            Some(store_id),
            with_rate(Answer::error(status, slug, "Injected failure")),
        );
    }
    if let Some(id) = path
        .strip_prefix("/orders/")
        .and_then(|p| p.strip_suffix("/status"))
        .filter(|_| method == "POST")
    {
        let answer = update_status(state, &store_id, id, body);
        return (Some(store_id), with_rate(answer));
    }
    let Some(st) = state.stores.get(&store_id) else {
        return (None, invalid_token());
    };
    if method != "GET" {
        return (
            Some(store_id),
            with_rate(Answer::error(
                405,
                "method_not_allowed",
                "Method Not Allowed",
            )),
        );
    }
    if let Some(found) = crate::points::route(&state.points, &store_id, path, query) {
        let answer = found.map_or_else(
            |()| Answer::error(404, "not_found", "Not Found"),
            Answer::ok,
        );
        return (Some(store_id), with_rate(answer));
    }
    let params = Params::parse(query);
    let answer = match path.trim_end_matches('/') {
        "/orders" => list_orders(&st.store, &st.statuses, &params, path),
        "/customers" => list(&params, path, st.store.data.customers, |i| {
            st.store.customer(i)
        }),
        "/products" => list(&params, path, st.store.data.products, |i| {
            st.store.product(i)
        }),
        p if p.starts_with("/products/") => {
            let id = p.strip_prefix("/products/").and_then(|id| id.parse().ok());
            match id.and_then(|id| st.store.product_index(id)) {
                Some(i) => Answer::ok(json!({
                    "status": 200,
                    "success": true,
                    "data": st.store.product(i),
                })),
                None => Answer::error(404, "not_found", "The product is not found"),
            }
        }
        p => match p.strip_prefix("/orders/").map(str::parse::<u64>) {
            Some(Ok(id)) => match st.store.order_index(id) {
                Some(i) => Answer::ok(json!({
                    "status": 200,
                    "success": true,
                    "data": with_status(st.store.order_detail(i), st.statuses.get(&id)),
                })),
                None => Answer::error(404, "not_found", "The order is not found"),
            },
            _ => Answer::error(404, "not_found", "Not Found"),
        },
    };
    (Some(store_id), with_rate(answer))
}

/// `POST /orders/{id}/status`: sets the slug and records the update.
fn update_status(state: &mut State, store_id: &str, id: &str, body: &[u8]) -> Answer {
    let Some(st) = state.stores.get_mut(store_id) else {
        return Answer::error(401, "Unauthorized", "The access token is invalid");
    };
    let Some(order_id) = id
        .parse::<u64>()
        .ok()
        .filter(|id| st.store.order_index(*id).is_some())
    else {
        return Answer::error(404, "error", "المحتوى الذي تحاول الوصول اليه غير متوفر");
    };
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let slug = json.get("slug").and_then(Value::as_str);
    let status_id = json.get("status_id").and_then(Value::as_u64);
    let slug = match (slug, status_id) {
        (Some(slug), _) if data::status_named(slug).is_some() => slug.to_owned(),
        (Some(_), _) => return Answer::invalid("slug", "The selected slug is invalid."),
        (None, Some(id)) => match data::status_with_id(id) {
            Some(s) => s.slug.to_owned(),
            None => return Answer::invalid("status_id", "The selected status id is invalid."),
        },
        (None, None) => {
            return Answer::invalid("status_id", "حقل الحالة مطلوب إذا لم يتوفّر رمز الحالة.");
        }
    };
    st.statuses.insert(order_id, slug.clone());
    state.status_updates.push(StatusUpdate {
        store_id: store_id.to_owned(),
        order_id,
        slug,
    });
    Answer {
        status: 201,
        body: json!({
            "status": 201,
            "success": true,
            "data": {"message": "The entity has been updated successfully", "code": 201},
        }),
        rate: None,
        retry_after: None,
        precise: false,
    }
}

/// An order (its detail or its list entry) with its status replaced by `slug`, when one was
/// set: the list shows an order's current status, as the detail does.
pub(crate) fn with_status(mut detail: Value, slug: Option<&String>) -> Value {
    let Some(status) = slug.and_then(|s| data::status_named(s)) else {
        return detail;
    };
    if let Some(o) = detail.as_object_mut() {
        o.insert(
            "status".into(),
            json!({
                "id": status.id,
                "name": status.name,
                "slug": status.slug,
                "customized": {"id": status.id, "name": status.name},
            }),
        );
        o.insert(
            "is_pending_payment".into(),
            json!(status.slug == "payment_pending"),
        );
        o.insert(
            "can_cancel".into(),
            json!(matches!(status.slug, "under_review" | "payment_pending")),
        );
    }
    detail
}

struct Params(Vec<(String, String)>);

impl Params {
    fn parse(query: &str) -> Params {
        Params(
            query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (k.to_owned(), v.replace('+', " ").replace("%2D", "-"))
                })
                .collect(),
        )
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `page` and `per_page`, validated as Salla does (see the module note on 422).
    fn paging(&self) -> Result<(u64, u64), Answer> {
        let number =
            |key: &str, default: u64| match self.get(key) {
                None | Some("") => Ok(default),
                Some(v) => v.parse::<u64>().ok().filter(|n| *n >= 1).ok_or_else(|| {
                    Answer::invalid(key, &format!("{key} must be a positive integer"))
                }),
            };
        let page = number("page", 1)?;
        let per_page = number("per_page", DEFAULT_PER_PAGE)?;
        if per_page > MAX_PER_PAGE {
            return Err(Answer::invalid(
                "per_page",
                "The per page may not be greater than 60.",
            ));
        }
        Ok((page, per_page))
    }

    /// This query with `page` replaced, for the pagination links.
    fn with_page(&self, page: u64) -> String {
        let mut parts: Vec<String> = self
            .0
            .iter()
            .filter(|(k, _)| k != "page")
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        parts.push(format!("page={page}"));
        parts.join("&")
    }
}

fn pagination(
    params: &Params,
    path: &str,
    count: usize,
    total: u64,
    page: u64,
    per_page: u64,
) -> Value {
    let total_pages = total.div_ceil(per_page).max(1);
    let mut links = serde_json::Map::new();
    if page < total_pages {
        links.insert(
            "next".into(),
            json!(format!("{path}?{}", params.with_page(page + 1))),
        );
    }
    if page > 1 {
        links.insert(
            "previous".into(),
            json!(format!("{path}?{}", params.with_page(page - 1))),
        );
    }
    json!({
        "count": count,
        "total": total,
        "perPage": per_page,
        "currentPage": page,
        "totalPages": total_pages,
        "links": links,
    })
}

fn list(params: &Params, path: &str, total: usize, item: impl Fn(usize) -> Value) -> Answer {
    let (page, per_page) = match params.paging() {
        Ok(p) => p,
        Err(a) => return a,
    };
    let start = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let end = start.saturating_add(per_page as usize).min(total);
    let items: Vec<Value> = (start.min(end)..end).map(item).collect();
    Answer::ok(json!({
        "status": 200,
        "success": true,
        "pagination": pagination(params, path, items.len(), total as u64, page, per_page),
        "data": items,
    }))
}

fn list_orders(
    store: &Store,
    statuses: &HashMap<u64, String>,
    params: &Params,
    path: &str,
) -> Answer {
    let (page, per_page) = match params.paging() {
        Ok(p) => p,
        Err(a) => return a,
    };
    let day = |key: &str| match params.get(key) {
        None | Some("") => Ok(None),
        Some(v) => data::parse_day(v)
            .map(Some)
            .ok_or_else(|| Answer::invalid(key, &format!("{key} must be a date as yyyy-mm-dd"))),
    };
    let from = match day("from_date") {
        Ok(d) => d,
        Err(a) => return a,
    };
    let to = match day("to_date") {
        Ok(d) => d,
        Err(a) => return a,
    };
    // Salla's list defaults to the newest first.
    let ascending = match params.get("sort_by") {
        None | Some("") | Some("id-desc") => false,
        Some("id-asc") => true,
        Some(_) => return Answer::invalid("sort_by", "The selected sort by is invalid."),
    };
    let lo = from.map_or(0, |d| store.first_on_or_after(d));
    let hi = to
        .map_or(store.order_count(), |d| store.first_after(d))
        .max(lo);
    let total = hi - lo;
    let skip = usize::try_from((page - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
    let take = (per_page as usize).min(total.saturating_sub(skip));
    let items: Vec<Value> = (0..take)
        .map(|n| {
            let i = if ascending {
                lo + skip + n
            } else {
                hi - 1 - skip - n
            };
            let summary = store.order_summary(i);
            with_status(summary, statuses.get(&store.order_id(i)))
        })
        .collect();
    Answer::ok(json!({
        "status": 200,
        "success": true,
        "pagination": pagination(params, path, items.len(), total as u64, page, per_page),
        "data": items,
    }))
}

fn respond(shared: &Shared, answer: Answer) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Full::new(Bytes::from(answer.body.to_string())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // Salla's whole seconds, rounded up (a client waiting that long is admitted), or
    // milliseconds in the time-scaled mode.
    let seconds = |d: Duration| -> HeaderValue {
        if answer.precise {
            let text = format!("{:.3}", d.as_secs_f64());
            HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static("0"))
        } else {
            HeaderValue::from(d.as_secs() + u64::from(d.subsec_nanos() > 0))
        }
    };
    if let Some(rate) = answer.rate {
        let reset_wall =
            shared.started_wall + rate.reset_at.saturating_duration_since(shared.started);
        let reset = reset_wall
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        headers.insert("x-ratelimit-limit", HeaderValue::from(rate.limit));
        headers.insert("x-ratelimit-remaining", HeaderValue::from(rate.remaining));
        headers.insert("x-ratelimit-reset", seconds(reset));
    }
    if let Some(after) = answer.retry_after {
        let after = if answer.precise {
            after
        } else {
            after.max(Duration::from_secs(1))
        };
        headers.insert(header::RETRY_AFTER, seconds(after));
    }
    response
}
