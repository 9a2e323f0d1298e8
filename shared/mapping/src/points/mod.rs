//! Loyalty points, derived from what Salla already holds: no ledger of ours.
//!
//! A customer's balance is a pure function of their orders and product reviews at Salla, the
//! merchant's [`PointsRules`], the tier ladder and the time. At each points event (an order
//! delivered, returned or refunded; a review added) and in the daily expiry pass the caller
//! reads that customer's orders and reviews and calls [`evaluate`]; the result is the balance,
//! the events to send ("Points Earned" / "Points Reversed" / "Points Expired", each with a
//! `unique_id` derived from the order or review, so replays, the history import and the
//! expiry pass never double-count) and the profile import carrying the balance.
//!
//! Rules, exactly:
//! - an order whose status slug is `delivered` (or, when the merchant chose [`Award::Completed`],
//!   `completed` or a shipping status after it) earns `floor(total × percent / 100 ×
//!   multiplier / 100)` points, `total` in the store's currency (Salla's order total, minor
//!   units dropped by the rounding down) and `multiplier` that of the customer's tier *when the
//!   order was placed* (the ladder applied to their counted orders up to and including it),
//!   so a later upgrade never changes points already announced;
//! - an order whose status is `restored` (Salla's "returned") or `refunded` earns nothing: its
//!   points are reversed;
//! - points are earned at the order's delivery time when known, else at its order date (the
//!   order listing carries no delivery time), and expire 12 calendar months later: from that
//!   instant on they are out of the balance;
//! - each product reviewed earns `review_points` once (the first review of that product by
//!   that customer), expiring 12 months after the review;
//! - other statuses (pending, in progress, shipped, cancelled, …) earn nothing yet.

mod cue;
mod read;
mod rules;

pub use cue::{Cue, Subject, SubjectKind, cue, rules_in};
pub use read::{orders_from_listing, reviews_from_listing};
pub use rules::{
    Award, DEFAULT_PERCENT, MULTIPLIER_PERCENT, PERCENT, POINTS_AWARD_SETTING,
    POINTS_ENABLED_SETTING, POINTS_MULTIPLIER_PREFIX, POINTS_PERCENT_SETTING,
    POINTS_REVIEW_SETTING, PointsRules, REVIEW_POINTS, TierMultiplier,
};

use std::sync::Arc;

use serde_json::Value;
use time::OffsetDateTime;

use crate::MappingError;
use crate::crm::{Ladder, OrderWindow};
use crate::history::Backfill;
use crate::klaviyo::props::PropsExt;
use crate::klaviyo::{EventRequest, KlaviyoRequest, Profile, ProfileImport, Properties, unique_id};
use crate::salla::json::{self, JsonValueTrait};
use crate::salla::profile;

/// Metric names (stable forever: merchants' flows are built on them).
pub const POINTS_EARNED: &str = "Points Earned";
pub const POINTS_REVERSED: &str = "Points Reversed";
pub const POINTS_EXPIRED: &str = "Points Expired";
/// The profile property carrying the balance.
pub const BALANCE_PROPERTY: &str = "Salla Points";

/// Status slugs that award an order's points by default (see [`Award`]).
pub const EARNING_STATUSES: &[&str] = &["delivered"];
/// Status slugs that reverse them.
pub const REVERSING_STATUSES: &[&str] = &["restored", "refunded"];
/// Status slugs whose orders do not count towards a tier (as the tier segments net Cancelled
/// and Refunded Order out of Placed Order).
const UNCOUNTED_STATUSES: &[&str] = &["canceled", "cancelled", "restored", "refunded"];

/// One order as read from Salla (the order listing's short form has all of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderFacts {
    pub id: String,
    pub status: String,
    /// Salla's order total in hundredths of the currency.
    pub total_minor: u64,
    pub currency: Option<String>,
    /// Unix seconds.
    pub date: Option<i64>,
    /// Unix seconds, when Salla gives it.
    pub delivered_at: Option<i64>,
    /// When the current status was reached (`updated_at`), unix seconds, when known.
    pub changed_at: Option<i64>,
}

/// One product review by the customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewFacts {
    pub id: String,
    pub product_id: Option<String>,
    /// Unix seconds.
    pub date: Option<i64>,
}

/// Why the evaluation runs: decides which events are sent and which trigger flows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trigger {
    /// A live status change of this order: its event is sent live; a reversal also sends
    /// the earning it reverses as a backfill (dropped by Klaviyo if it is already recorded,
    /// never firing a "points earned" flow for a returned order).
    Order(String),
    /// A live review: its earning is sent live.
    Review(String),
    /// The daily pass: the expiries falling in `[from, to)` (unix seconds) are sent live.
    Expiry { from: i64, to: i64 },
    /// The history import: every event of the customer's history, with `backfill` as given.
    Import(Backfill),
}

/// What one evaluation found.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub balance: u64,
    /// The customer's tier now, by the ladder (`None`: no counted order).
    pub tier: Option<&'static str>,
    /// Every event the customer's history implies, in time order (for tests and the import).
    pub ledger: Vec<EventRequest>,
    /// What to send for this trigger, events first, the balance's profile import last.
    pub requests: Vec<KlaviyoRequest>,
}

/// The profile points are written to, built from a Salla customer object exactly as the live
/// relay builds it (same identifiers, so the same Klaviyo profile).
pub fn customer_profile(store: &str, customer: &[u8]) -> Result<Profile, MappingError> {
    let customer = json::parse(customer)?;
    if !customer.is_object() {
        return Err(MappingError::NotObject);
    }
    let profile = profile::from_customer(store, &customer);
    if profile.has_identifier() {
        Ok(profile)
    } else {
        Err(MappingError::MissingField("customer"))
    }
}

/// When points earned at `at` expire: 12 calendar months later (29 February → 28 February).
pub fn expires_at(at: i64) -> Option<i64> {
    let t = OffsetDateTime::from_unix_timestamp(at).ok()?;
    let year = t.year() + 1;
    let next = t
        .replace_year(year)
        .or_else(|_| t.replace_day(28).and_then(|t| t.replace_year(year)))
        .ok()?;
    Some(next.unix_timestamp())
}

/// Whole points for an order of `total_minor` hundredths at `percent` and `multiplier` (in
/// percent), rounded down once at the end.
pub fn order_points(total_minor: u64, percent: u8, multiplier: u16) -> u64 {
    let n = u128::from(total_minor) * u128::from(percent) * u128::from(multiplier);
    u64::try_from(n / 1_000_000).unwrap_or(u64::MAX)
}

struct Entry {
    metric: &'static str,
    unique_id: String,
    at: Option<i64>,
    /// Where it sorts: a reversal of unknown time comes right after its earning.
    sort_at: i64,
    /// What the event is about, for the trigger's choice.
    order: Option<String>,
    review: Option<String>,
    properties: Properties,
}

/// The balance, tier, ledger and the requests for `trigger`, from the customer's `orders` and
/// `reviews` at Salla. `now` is unix seconds. Deterministic: the same inputs give the same
/// ids, properties and balance.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    store: &str,
    profile: &Profile,
    orders: &[OrderFacts],
    reviews: &[ReviewFacts],
    rules: &PointsRules,
    ladder: &Ladder,
    now: i64,
    trigger: &Trigger,
) -> Evaluation {
    let mut orders: Vec<&OrderFacts> = orders.iter().collect();
    // Oldest first, ids breaking ties, so tiers at each order are well defined.
    orders.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
    orders.dedup_by(|a, b| a.id == b.id);

    let mut entries: Vec<Entry> = Vec::new();
    let mut balance: u64 = 0;
    for (i, order) in orders.iter().enumerate() {
        let status = order.status.as_str();
        let earning = rules.award.earning_statuses().contains(&status);
        let reversing = REVERSING_STATUSES.contains(&status);
        if !earning && !reversing {
            continue;
        }
        let Some(earned_at) = order.delivered_at.or(order.date) else {
            continue;
        };
        let tier = tier_at(ladder, &orders[..=i], order.date);
        let multiplier = rules.multiplier(tier);
        let points = order_points(order.total_minor, rules.percent, multiplier);
        if points == 0 {
            continue;
        }
        let expiry = expires_at(earned_at);
        let mut p = Properties::new();
        p.put("Points", points);
        p.put_str("OrderId", Some(&order.id));
        p.put_num("OrderTotal", Some(order.total_minor as f64 / 100.0));
        p.put_str("Currency", order.currency.as_deref());
        p.put("Percent", rules.percent);
        p.put("TierMultiplier", multiplier);
        p.put_str("Tier", tier);
        if let Some(e) = expiry.and_then(rfc3339) {
            p.put("ExpiresAt", e);
        }
        let earned = Entry {
            metric: POINTS_EARNED,
            unique_id: unique_id::order_milestone(store, &order.id, "points_earned"),
            at: Some(earned_at),
            sort_at: earned_at,
            order: Some(order.id.clone()),
            review: None,
            properties: p.clone(),
        };
        entries.push(earned);
        if reversing {
            entries.push(Entry {
                metric: POINTS_REVERSED,
                unique_id: unique_id::order_milestone(store, &order.id, "points_reversed"),
                at: order.changed_at,
                sort_at: order.changed_at.unwrap_or(earned_at).max(earned_at),
                order: Some(order.id.clone()),
                review: None,
                properties: p,
            });
            continue;
        }
        match expiry {
            Some(e) if now >= e => entries.push(Entry {
                metric: POINTS_EXPIRED,
                unique_id: unique_id::order_milestone(store, &order.id, "points_expired"),
                at: Some(e),
                sort_at: e,
                order: Some(order.id.clone()),
                review: None,
                properties: p,
            }),
            _ => balance = balance.saturating_add(points),
        }
    }

    if rules.review_points > 0 {
        let mut reviews: Vec<&ReviewFacts> = reviews
            .iter()
            .filter(|r| r.product_id.is_some() && r.date.is_some())
            .collect();
        reviews.sort_by(|a, b| (a.date, &a.id).cmp(&(b.date, &b.id)));
        let mut seen: Vec<&str> = Vec::new();
        for review in reviews {
            let product = review.product_id.as_deref().unwrap_or_default();
            if seen.contains(&product) {
                continue;
            }
            seen.push(product);
            let (Some(at), points) = (review.date, u64::from(rules.review_points)) else {
                continue;
            };
            let expiry = expires_at(at);
            let mut p = Properties::new();
            p.put("Points", points);
            p.put_str("ReviewId", Some(&review.id));
            p.put_str("ProductID", Some(&unique_id::product_id(store, product)));
            p.put_str("SallaProductID", Some(product));
            if let Some(e) = expiry.and_then(rfc3339) {
                p.put("ExpiresAt", e);
            }
            entries.push(Entry {
                metric: POINTS_EARNED,
                unique_id: unique_id::review(store, &[&review.id, "points_earned"]),
                at: Some(at),
                sort_at: at,
                order: None,
                review: Some(review.id.clone()),
                properties: p.clone(),
            });
            match expiry {
                Some(e) if now >= e => entries.push(Entry {
                    metric: POINTS_EXPIRED,
                    unique_id: unique_id::review(store, &[&review.id, "points_expired"]),
                    at: Some(e),
                    sort_at: e,
                    order: None,
                    review: Some(review.id.clone()),
                    properties: p,
                }),
                _ => balance = balance.saturating_add(points),
            }
        }
    }
    entries.sort_by(|a, b| (a.sort_at, &a.unique_id).cmp(&(b.sort_at, &b.unique_id)));

    let tier = tier_at(ladder, &orders, Some(now));
    let shared = Arc::new(profile.clone());
    let event = |e: &Entry, backfill: bool| {
        let mut properties = e.properties.clone();
        properties.put("Balance", balance);
        let mut event = EventRequest::new(e.metric, Arc::clone(&shared), properties);
        event.unique_id = Some(e.unique_id.clone());
        event.time = e.at.and_then(rfc3339);
        event.backfill = backfill;
        event
    };
    let ledger: Vec<EventRequest> = entries.iter().map(|e| event(e, false)).collect();

    let mut requests: Vec<KlaviyoRequest> = Vec::new();
    match trigger {
        Trigger::Order(id) => {
            let reversed = entries
                .iter()
                .any(|e| e.metric == POINTS_REVERSED && e.order.as_deref() == Some(id));
            for e in entries
                .iter()
                .filter(|e| e.order.as_deref() == Some(id.as_str()))
            {
                let live = match e.metric {
                    POINTS_EARNED => !reversed,
                    POINTS_REVERSED => true,
                    // An expiry is the daily pass's to announce; here it is only recorded.
                    _ => false,
                };
                requests.push(KlaviyoRequest::CreateEvent(event(e, !live)));
            }
        }
        Trigger::Review(id) => {
            for e in entries
                .iter()
                .filter(|e| e.review.as_deref() == Some(id.as_str()))
            {
                let live = e.metric == POINTS_EARNED;
                requests.push(KlaviyoRequest::CreateEvent(event(e, !live)));
            }
        }
        Trigger::Expiry { from, to } => {
            for e in entries.iter().filter(|e| {
                e.metric == POINTS_EXPIRED && e.at.is_some_and(|at| *from <= at && at < *to)
            }) {
                requests.push(KlaviyoRequest::CreateEvent(event(e, false)));
            }
        }
        Trigger::Import(backfill) => {
            let backfill = *backfill == Backfill::Yes;
            requests.extend(
                entries
                    .iter()
                    .map(|e| KlaviyoRequest::CreateEvent(event(e, backfill))),
            );
        }
    }
    let mut with_balance = profile.clone();
    with_balance
        .properties
        .insert(BALANCE_PROPERTY, Value::from(balance));
    requests.push(KlaviyoRequest::ImportProfile(ProfileImport {
        profile: with_balance,
    }));
    Evaluation {
        balance,
        tier,
        ledger,
        requests,
    }
}

/// The tier by `ladder` over the counted orders among `orders` placed by `at` (in the
/// ladder's window before `at`).
fn tier_at(ladder: &Ladder, orders: &[&OrderFacts], at: Option<i64>) -> Option<&'static str> {
    let since = match (ladder.window, at) {
        (OrderWindow::Last365Days, Some(at)) => Some(at - 365 * 86_400),
        _ => None,
    };
    let counted = orders.iter().filter(|o| {
        !UNCOUNTED_STATUSES.contains(&o.status.as_str())
            && match (o.date, at) {
                (Some(d), Some(at)) => d <= at && since.is_none_or(|s| d > s),
                _ => since.is_none(),
            }
    });
    let (spent, count) = counted.fold((0u64, 0u32), |(s, c), o| {
        (s.saturating_add(o.total_minor), c.saturating_add(1))
    });
    ladder.tier_of(spent, count)
}

/// `YYYY-MM-DDTHH:MM:SS+00:00`, as every other event time the mapping writes.
fn rfc3339(at: i64) -> Option<String> {
    let t = OffsetDateTime::from_unix_timestamp(at).ok()?;
    let mut text = t
        .format(&time::format_description::well_known::Rfc3339)
        .ok()?;
    if text.ends_with('Z') {
        text.pop();
        text.push_str("+00:00");
    }
    Some(text)
}

#[cfg(test)]
mod tests;
