//! The request edge: read the token, check it, read the order, act on POST only.

use std::time::Duration;

use adapters::cod::link::{Link, LinkError};
use adapters::deadline::Deadline;
use adapters::keystore::StoreRecord;
use adapters::once::Claim;
use adapters::salla::order_status::OrderSummary;
use adapters::salla::refresh::TokenRefresh;
use adapters::{AdapterError, Secret, Service, web};
use hmac::{Hmac, KeyInit, Mac};
use lambda_http::http::{HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, Response};
use sha2::Sha256;

use crate::Deps;
use crate::decide::{Decision, decide};
use crate::view::{Lang, Page, render};

/// Stricter than the merchant pages: this page is never framed, by Salla or anyone.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";
/// The form has two short fields.
const MAX_FORM_BYTES: usize = 1024;
/// The whole answer, Salla and Klaviyo included, within this.
const BUDGET: Duration = Duration::from_secs(12);

pub async fn handle(deps: &Deps, req: Request) -> Response<Body> {
    let post = req.method() == Method::POST;
    if !post && req.method() != Method::GET && req.method() != Method::HEAD {
        return web::plain(StatusCode::METHOD_NOT_ALLOWED);
    }
    let query = web::query_pairs(&req);
    let form = if post {
        web::body_bytes(&req, MAX_FORM_BYTES)
            .map(web::parse_pairs)
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let lang = Lang::parse(web::param(&form, "lang").or(web::param(&query, "lang")));
    let segment = web::last_segment(req.uri().path());
    let in_url = Some(segment)
        .filter(|s| !s.is_empty() && *s != "cod")
        .or(web::param(&query, "t"));
    let in_form = web::param(&form, "t");
    // A POST acts only with the token of the page it came from: in the form, and the same
    // as the URL's when the URL has one.
    let token = match (post, in_url, in_form) {
        (false, Some(t), _) => Some(t),
        (true, None, Some(f)) => Some(f),
        (true, Some(t), Some(f)) if t == f => Some(t),
        _ => None,
    }
    .unwrap_or_default()
    .to_owned();

    let page = match deps.links.open(&token, (deps.now)()) {
        Err(LinkError::Invalid) => {
            tracing::info!(outcome = "invalid", post, "cod link");
            Page::Invalid
        }
        Err(LinkError::Expired(link)) => {
            log(deps, &link, "expired", post);
            Page::Expired
        }
        Ok(link) => answer(deps, &link, post).await,
    };
    let status = StatusCode::from_u16(page.status()).unwrap_or(StatusCode::OK);
    let mut resp = web::html(status, render(&page, lang, &token));
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    resp
}

async fn answer(deps: &Deps, link: &Link, post: bool) -> Page {
    let deadline = Deadline::after(BUDGET);
    let store_id = link.store_id.to_string();
    let record = match deadline
        .run(Service::DynamoDb, deps.keys.get(&store_id))
        .await
    {
        Ok(Some(record)) => record,
        // The app was uninstalled: the link no longer leads anywhere.
        Ok(None) => {
            log(deps, link, "store_unknown", post);
            return Page::Invalid;
        }
        Err(e) => return unavailable(deps, link, post, &e),
    };
    let Some(token) = access_token(deps, &record, deadline).await else {
        log(deps, link, "no_salla_token", post);
        return Page::Unavailable;
    };
    let order = match deadline
        .run(Service::Salla, deps.orders.get_order(&token, link.order_id))
        .await
    {
        Ok(Some(order)) => order,
        Ok(None) => {
            log(deps, link, "order_unknown", post);
            return Page::Invalid;
        }
        Err(e) => return unavailable(deps, link, post, &e),
    };
    let action = link.action;
    let settings = record.cod.clone().unwrap_or_default();
    match decide(action, &order, &settings) {
        Decision::CancelNotAllowed => {
            log(deps, link, "cancel_not_allowed", post);
            Page::CancelNotAllowed { order }
        }
        Decision::AlreadyDone => {
            log(deps, link, "already_done", post);
            Page::AlreadyDone { action, order }
        }
        Decision::Settled => {
            log(deps, link, "settled", post);
            Page::Settled { order }
        }
        Decision::Act { .. } if !post => {
            log(deps, link, "asked", post);
            Page::Ask { action, order }
        }
        Decision::Act { target } => {
            match deadline
                .run(Service::DynamoDb, claim_answer(deps, link))
                .await
            {
                Ok(Claim::First) => {}
                Ok(Claim::Spent) => {
                    log(deps, link, "answer_in_flight", post);
                    return Page::Busy;
                }
                Err(e) => return unavailable(deps, link, post, &e),
            }
            if let Err(e) = deadline
                .run(
                    Service::Salla,
                    deps.orders.set_status(&token, link.order_id, target),
                )
                .await
            {
                return unavailable(deps, link, post, &e);
            }
            log(deps, link, "updated", post);
            let order = OrderSummary {
                status: target.to_owned(),
                ..order
            };
            send_event(deps, link, &record, &order, deadline).await;
            Page::Done { action, order }
        }
    }
}

/// The shopper's answer as a Klaviyo event, best effort: the order has moved already, and a
/// missing event must not turn the page into an error.
async fn send_event(
    deps: &Deps,
    link: &Link,
    record: &StoreRecord,
    order: &OrderSummary,
    deadline: Deadline,
) {
    let Some(klaviyo) = record.klaviyo.as_ref().filter(|k| !k.needs_reconnect) else {
        log(deps, link, "event_skipped_no_key", true);
        return;
    };
    let Some(request) = crate::event::event(link.store_id, link.action, order) else {
        log(deps, link, "event_skipped_no_profile", true);
        return;
    };
    let body = request.body();
    let sent = deps
        .klaviyo
        .call(
            &klaviyo.private_key,
            request.method(),
            &request.path(),
            body.as_ref(),
            deadline.instant(),
        )
        .await
        .and_then(|d| d.into_result());
    match sent {
        Ok(d) => tracing::info!(
            store_id = link.store_id,
            order = %order_hash(deps, link.order_id),
            status = d.status,
            outcome = "event_sent",
            "cod link"
        ),
        Err(e) => {
            tracing::warn!(
                store_id = link.store_id,
                order = %order_hash(deps, link.order_id),
                error = %e,
                outcome = "event_failed",
                "cod link"
            );
            if matches!(e, AdapterError::Unauthorized { .. }) {
                flag_refused_key(deps, &record.store_id, &klaviyo.private_key, deadline).await;
            }
        }
    }
}

/// A key Klaviyo refused flags the store for reconnection, as on the webhook path: the
/// merchant's page asks for a new key and later answers stop sending this one. Only if `key`
/// is still the store's key: one connected meanwhile is not blamed. Best effort: the order's
/// status is already moved.
async fn flag_refused_key(deps: &Deps, store_id: &str, key: &Secret, deadline: Deadline) {
    let flagged = deadline
        .run(
            Service::DynamoDb,
            adapters::keystore::update(deps.keys.as_ref(), store_id, |record| {
                if let Some(k) = record.klaviyo.as_mut()
                    && k.private_key == *key
                {
                    k.needs_reconnect = true;
                }
            }),
        )
        .await;
    if let Err(e) = flagged {
        tracing::warn!(store_id, error = %e, outcome = "flag_unsaved", "cod link");
    }
}

/// How long one answer holds its order against another: far longer than an answer takes.
const ANSWER_WINDOW_SECS: i64 = 300;

/// Lets one POST per order and window move the order. Salla has no compare-and-set on an
/// order's status, so without this a confirm and a cancel pressed at the same moment (two
/// tabs, a double tap) could both pass [`decide`] and leave whichever Salla applied last.
/// The mark names the order only through a keyed hash and lives for the window; a new
/// window lets a shopper retry after an answer that failed half-way (Salla down). Two
/// answers straddling a window's edge are not held apart: a race within a second across a
/// five-minute boundary.
async fn claim_answer(deps: &Deps, link: &Link) -> Result<Claim, AdapterError> {
    // The marks expire by the real clock, whatever the page's clock says of links.
    let window = adapters::clock::now_unix().div_euclid(ANSWER_WINDOW_SECS);
    let id = format!(
        "cod{}",
        keyed_hash(deps, b"cod-answer", link.order_id, link.store_id, window)
    );
    deps.answers
        .claim(&id, (window + 1) * ANSWER_WINDOW_SECS)
        .await
}

/// A usable access token, refreshing it first when it is close to expiry.
async fn access_token(deps: &Deps, record: &StoreRecord, deadline: Deadline) -> Option<Secret> {
    TokenRefresh {
        store: deps.keys.as_ref(),
        refresher: deps.refresher.as_ref(),
        locks: &deps.refresh_locks,
    }
    .access_token(record, (deps.now)(), deadline)
    .await
}

fn unavailable(deps: &Deps, link: &Link, post: bool, e: &AdapterError) -> Page {
    tracing::warn!(
        store_id = link.store_id,
        order = %order_hash(deps, link.order_id),
        action = link.action.as_str(),
        post,
        error = %e,
        outcome = "unavailable",
        "cod link"
    );
    Page::Unavailable
}

fn log(deps: &Deps, link: &Link, outcome: &'static str, post: bool) {
    tracing::info!(
        store_id = link.store_id,
        order = %order_hash(deps, link.order_id),
        action = link.action.as_str(),
        post,
        outcome,
        "cod link"
    );
}

/// The order id keyed with the link secret: logs can follow one order without naming it, and
/// a small, sequential id space cannot be reversed without the secret.
fn order_hash(deps: &Deps, order_id: u64) -> String {
    keyed_hash(deps, b"cod-log-order", order_id, 0, 0)[..16].to_owned()
}

/// 32 hex characters of HMAC-SHA256 over `purpose` and the numbers, keyed with the current
/// link secret.
fn keyed_hash(deps: &Deps, purpose: &[u8], order_id: u64, store_id: u64, window: i64) -> String {
    let Ok(mut m) =
        <Hmac<Sha256> as KeyInit>::new_from_slice(deps.links.current.expose().as_bytes())
    else {
        return "0".repeat(32);
    };
    m.update(purpose);
    m.update(&order_id.to_be_bytes());
    if store_id != 0 || window != 0 {
        m.update(&store_id.to_be_bytes());
        m.update(&window.to_be_bytes());
    }
    hex::encode(&m.finalize().into_bytes()[..16])
}
