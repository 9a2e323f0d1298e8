use super::*;
use crate::crm::{DEFAULT_MARGIN_BP, preset_a};

const STORE: &str = "1234509876";
const DAY: i64 = 86_400;
/// 2026-01-10T00:00:00Z.
const JAN10: i64 = 1_768_003_200;

fn profile() -> Profile {
    customer_profile(
        STORE,
        br#"{"id":77,"first_name":"Sara","mobile_code":"+966","mobile":"501234567","email":"s@example.com"}"#,
    )
    .unwrap()
}

fn rules() -> PointsRules {
    PointsRules {
        enabled: true,
        percent: 2,
        review_points: 10,
        multipliers: Vec::new(),
        award: Award::Delivered,
    }
}

fn order(id: &str, status: &str, sar: u64, date: i64) -> OrderFacts {
    OrderFacts {
        id: id.into(),
        status: status.into(),
        total_minor: sar * 100,
        currency: Some("SAR".into()),
        date: Some(date),
        delivered_at: None,
        changed_at: None,
    }
}

fn review(id: &str, product: &str, date: i64) -> ReviewFacts {
    ReviewFacts {
        id: id.into(),
        product_id: Some(product.into()),
        date: Some(date),
    }
}

fn eval(orders: &[OrderFacts], reviews: &[ReviewFacts], now: i64, trigger: Trigger) -> Evaluation {
    let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
    evaluate(
        STORE,
        &profile(),
        orders,
        reviews,
        &rules(),
        &ladder,
        now,
        &trigger,
    )
}

fn events(e: &Evaluation) -> Vec<(&str, &str, bool)> {
    e.requests
        .iter()
        .filter_map(|r| match r {
            KlaviyoRequest::CreateEvent(ev) => Some((
                ev.metric.as_str(),
                ev.unique_id.as_deref().unwrap(),
                ev.backfill,
            )),
            _ => None,
        })
        .collect()
}

fn balance_sent(e: &Evaluation) -> Option<u64> {
    e.requests.iter().find_map(|r| match r {
        KlaviyoRequest::ImportProfile(p) => p.profile.properties.get(BALANCE_PROPERTY)?.as_u64(),
        _ => None,
    })
}

#[test]
fn delivered_earns_once_with_the_orders_id() {
    let e = eval(
        &[order("1001", "delivered", 450, JAN10)],
        &[],
        JAN10 + DAY,
        Trigger::Order("1001".into()),
    );
    assert_eq!(e.balance, 9); // 2 % of 450
    assert_eq!(balance_sent(&e), Some(9));
    assert_eq!(
        events(&e),
        [(
            POINTS_EARNED,
            "salla:1234509876:order:1001:points_earned",
            false
        )]
    );
    let KlaviyoRequest::CreateEvent(ev) = &e.requests[0] else {
        panic!()
    };
    assert_eq!(
        ev.time.as_deref(),
        Some("2026-0110T00:00:00+00:00").map(|_| "2026-01-10T00:00:00+00:00")
    );
    assert_eq!(
        ev.properties.get("Points").and_then(|v| v.as_u64()),
        Some(9)
    );
    assert_eq!(
        ev.properties.get("Balance").and_then(|v| v.as_u64()),
        Some(9)
    );
    assert_eq!(
        ev.properties.get("ExpiresAt").and_then(|v| v.as_str()),
        Some("2027-01-10T00:00:00+00:00")
    );
    // Not delivered yet: nothing earned, nothing sent but the balance.
    for status in [
        "in_progress",
        "shipped",
        "completed",
        "canceled",
        "restoring",
    ] {
        let e = eval(
            &[order("1001", status, 450, JAN10)],
            &[],
            JAN10 + DAY,
            Trigger::Order("1001".into()),
        );
        assert_eq!((e.balance, events(&e).len()), (0, 0), "{status}");
        assert_eq!(balance_sent(&e), Some(0));
    }
}

#[test]
fn returned_and_refunded_reverse() {
    for status in ["restored", "refunded"] {
        let orders = [
            order("1", "delivered", 1_000, JAN10),
            order("2", status, 500, JAN10 + DAY),
        ];
        let e = eval(&orders, &[], JAN10 + 30 * DAY, Trigger::Order("2".into()));
        assert_eq!(e.balance, 20, "{status}");
        // The earning it reverses goes as a backfill (no flow fires; Klaviyo drops it when
        // the live one is recorded), the reversal live.
        assert_eq!(
            events(&e),
            [
                (
                    POINTS_EARNED,
                    "salla:1234509876:order:2:points_earned",
                    true
                ),
                (
                    POINTS_REVERSED,
                    "salla:1234509876:order:2:points_reversed",
                    false
                ),
            ],
            "{status}"
        );
    }
}

#[test]
fn expiry_boundary_is_twelve_calendar_months() {
    let orders = [order("1", "delivered", 1_000, JAN10)];
    let at = expires_at(JAN10).unwrap();
    assert_eq!(at, JAN10 + 365 * DAY);
    let before = eval(
        &orders,
        &[],
        at - 1,
        Trigger::Expiry {
            from: at - DAY,
            to: at,
        },
    );
    assert_eq!(before.balance, 20);
    assert!(events(&before).is_empty());
    let after = eval(
        &orders,
        &[],
        at,
        Trigger::Expiry {
            from: at,
            to: at + DAY,
        },
    );
    assert_eq!(after.balance, 0);
    assert_eq!(
        events(&after),
        [(
            POINTS_EXPIRED,
            "salla:1234509876:order:1:points_expired",
            false
        )]
    );
    // The next day's pass does not announce it again.
    let next = eval(
        &orders,
        &[],
        at + DAY,
        Trigger::Expiry {
            from: at + DAY,
            to: at + 2 * DAY,
        },
    );
    assert!(events(&next).is_empty());
    // Delivery time, when known, starts the 12 months; 29 February ends on 28 February.
    let mut late = order("1", "delivered", 1_000, JAN10);
    late.delivered_at = Some(JAN10 + 5 * DAY);
    assert_eq!(
        eval(&[late], &[], at + DAY, Trigger::Import(Backfill::No)).balance,
        20
    );
    let leap = 1_709_164_800; // 2024-02-29T00:00:00Z
    assert_eq!(expires_at(leap), Some(1_740_700_800)); // 2025-02-28T00:00:00Z
}

#[test]
fn a_review_earns_once_per_product() {
    let reviews = [
        review("r1", "p1", JAN10),
        review("r2", "p1", JAN10 + DAY),
        review("r3", "p2", JAN10 + 2 * DAY),
    ];
    let e = eval(&[], &reviews, JAN10 + 3 * DAY, Trigger::Review("r3".into()));
    assert_eq!(e.balance, 20);
    assert_eq!(
        events(&e),
        [(
            POINTS_EARNED,
            "salla:1234509876:review:r3:points_earned",
            false
        )]
    );
    let e = eval(&[], &reviews, JAN10 + 3 * DAY, Trigger::Review("r2".into()));
    assert!(events(&e).is_empty(), "a second review of p1 earns nothing");
    // Review points off.
    let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
    let off = PointsRules {
        review_points: 0,
        ..rules()
    };
    let e = evaluate(
        STORE,
        &profile(),
        &[],
        &reviews,
        &off,
        &ladder,
        JAN10,
        &Trigger::Review("r1".into()),
    );
    assert_eq!((e.balance, events(&e).len()), (0, 0));
}

#[test]
fn tier_multiplier_is_the_tier_when_the_order_was_placed() {
    let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
    let rules = PointsRules {
        multipliers: vec![
            TierMultiplier {
                tier: "Silver".into(),
                percent: 110,
            },
            TierMultiplier {
                tier: "Platinum".into(),
                percent: 200,
            },
        ],
        ..rules()
    };
    // Preset A Silver: spent ≥ 2,000 and ≥ 3 orders. The third order reaches it.
    let orders = [
        order("1", "delivered", 1_000, JAN10),
        order("2", "delivered", 500, JAN10 + DAY),
        order("3", "delivered", 500, JAN10 + 2 * DAY),
    ];
    let e = evaluate(
        STORE,
        &profile(),
        &orders,
        &[],
        &rules,
        &ladder,
        JAN10 + 3 * DAY,
        &Trigger::Import(Backfill::No),
    );
    let points: Vec<u64> = e
        .ledger
        .iter()
        .map(|ev| ev.properties.get("Points").unwrap().as_u64().unwrap())
        .collect();
    assert_eq!(points, [20, 10, 11]); // 2 % of 500 is 10, +10 % is 11
    assert_eq!(e.balance, 41);
    assert_eq!(e.tier, Some("Silver"));
    // Platinum ×2: spent ≥ 8,000 and ≥ 10 orders.
    let many: Vec<OrderFacts> = (0..10)
        .map(|i| order(&format!("{i}"), "delivered", 800, JAN10 + i * DAY))
        .collect();
    let e = evaluate(
        STORE,
        &profile(),
        &many,
        &[],
        &rules,
        &ladder,
        JAN10 + 20 * DAY,
        &Trigger::Import(Backfill::No),
    );
    let last = e.ledger.last().unwrap();
    assert_eq!(
        last.properties.get("Tier").and_then(|v| v.as_str()),
        Some("Platinum")
    );
    assert_eq!(
        last.properties.get("Points").and_then(|v| v.as_u64()),
        Some(32)
    );
}

#[test]
fn rounding_is_down_once() {
    assert_eq!(order_points(45_050, 3, 100), 13); // 13.515
    assert_eq!(order_points(99, 5, 100), 0); // 0.0495
    assert_eq!(order_points(10_000, 1, 110), 1); // 1.1
    assert_eq!(order_points(45_450, 3, 110), 14); // 14.9985, not 13 × 1.1 rounded twice
    // An order worth no points sends nothing.
    let e = eval(
        &[order("1", "delivered", 0, JAN10)],
        &[],
        JAN10,
        Trigger::Order("1".into()),
    );
    assert!(events(&e).is_empty());
}

#[test]
fn replay_gives_identical_requests() {
    let orders = [
        order("1", "delivered", 700, JAN10),
        order("2", "restored", 300, JAN10 + DAY),
    ];
    let reviews = [review("r1", "p1", JAN10)];
    for trigger in [
        Trigger::Order("1".into()),
        Trigger::Order("2".into()),
        Trigger::Review("r1".into()),
        Trigger::Import(Backfill::Yes),
    ] {
        let a = eval(&orders, &reviews, JAN10 + 2 * DAY, trigger.clone());
        // Same facts read in another order, and a later moment with nothing expired.
        let shuffled = [orders[1].clone(), orders[0].clone(), orders[0].clone()];
        let b = eval(&shuffled, &reviews, JAN10 + 9 * DAY, trigger);
        assert_eq!(a.requests, b.requests);
        assert_eq!(a.balance, 24);
    }
}

#[test]
fn history_import_sends_every_event_as_backfill_with_the_live_ids() {
    let at = expires_at(JAN10).unwrap();
    let orders = [
        order("1", "delivered", 1_000, JAN10),
        order("2", "restored", 500, JAN10 + DAY),
        order("3", "delivered", 100, at - DAY),
    ];
    let reviews = [review("r1", "p1", JAN10 + 3 * DAY)];
    let now = at + 10 * DAY;
    let e = eval(&orders, &reviews, now, Trigger::Import(Backfill::Yes));
    let got = events(&e);
    assert!(got.iter().all(|(_, _, backfill)| *backfill));
    let ids: Vec<&str> = got.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(
        ids,
        [
            "salla:1234509876:order:1:points_earned",
            "salla:1234509876:order:2:points_earned",
            // No time of the return in the listing: right after its earning.
            "salla:1234509876:order:2:points_reversed",
            "salla:1234509876:review:r1:points_earned",
            "salla:1234509876:order:3:points_earned",
            "salla:1234509876:order:1:points_expired",
            "salla:1234509876:review:r1:points_expired",
        ]
    );
    // Only order 3 (2 % of 100) is left: order 1 and the review expired, order 2 returned.
    assert_eq!(e.balance, 2);
    // The live events for the same facts carry the same ids.
    let live = eval(&orders, &reviews, now, Trigger::Order("3".into()));
    assert_eq!(
        events(&live),
        [(
            POINTS_EARNED,
            "salla:1234509876:order:3:points_earned",
            false
        )]
    );
    assert_eq!(live.balance, e.balance);
    let no = eval(&orders, &reviews, now, Trigger::Import(Backfill::No));
    assert!(events(&no).iter().all(|(_, _, b)| !b));
}

/// Two evaluations at different moments (a delivery, then a refund read a little later): each
/// derives from Salla's data as read, never from what an earlier one sent, so the later one
/// never carries a staler balance, whichever runs first.
#[test]
fn concurrent_evaluations_never_regress() {
    let first = [
        order("1", "delivered", 1_000, JAN10),
        order("2", "delivered", 500, JAN10 + DAY),
    ];
    let later = [
        order("1", "delivered", 1_000, JAN10),
        order("2", "refunded", 500, JAN10 + DAY),
    ];
    let a = eval(&first, &[], JAN10 + 2 * DAY, Trigger::Order("2".into()));
    let b = eval(&later, &[], JAN10 + 2 * DAY + 5, Trigger::Order("2".into()));
    assert_eq!((a.balance, b.balance), (30, 20));
    assert_eq!(balance_sent(&b), Some(20));
    // Order of evaluation does not matter: the later data's result is the same from scratch.
    let b_again = eval(&later, &[], JAN10 + 2 * DAY + 5, Trigger::Order("1".into()));
    assert_eq!(b_again.balance, b.balance);
}

#[test]
fn every_request_is_spec_valid() {
    let spec = spec_check::Spec::shared();
    let at = expires_at(JAN10).unwrap();
    let orders = [
        order("1", "delivered", 1_000, JAN10),
        order("2", "restored", 500, JAN10 + DAY),
    ];
    let reviews = [review("r1", "p1", JAN10)];
    let mut checked = 0;
    for trigger in [
        Trigger::Order("2".into()),
        Trigger::Review("r1".into()),
        Trigger::Expiry {
            from: at,
            to: at + DAY,
        },
        Trigger::Import(Backfill::Yes),
    ] {
        for r in eval(&orders, &reviews, at + 1, trigger).requests {
            spec.validate_request(r.method(), &r.path(), r.body().as_ref())
                .unwrap_or_else(|e| panic!("{}: {e:?}", r.label()));
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked}");
}

#[test]
fn the_profile_is_the_live_relays() {
    let p = profile();
    assert_eq!(
        p.external_id.as_deref(),
        Some("salla:1234509876:customer:77")
    );
    assert_eq!(p.phone_number.as_deref(), Some("+966501234567"));
    assert!(customer_profile(STORE, b"{}").is_err());
    assert!(customer_profile(STORE, b"[1]").is_err());
    assert!(customer_profile(STORE, b"nope").is_err());
}

#[test]
fn listings_are_read_leniently() {
    let page = br#"{"data":[
        {"id":11,"status":{"slug":"delivered"},"total":{"amount":"450.5","currency":"SAR"},"date":{"date":"2026-01-10 03:00:00.000000","timezone_type":3,"timezone":"Asia/Riyadh"}},
        {"id":"12","status":{"slug":"Restored"},"total":{"amount":100,"currency":"SAR"},"date":"2026-01-11 03:00:00","updated_at":"2026-01-20 03:00:00"},
        {"status":{"slug":"delivered"},"total":1},
        {"id":13,"total":5}
    ],"pagination":{"totalPages":1}}"#;
    let orders = orders_from_listing(page).unwrap();
    assert_eq!(orders.len(), 2);
    assert_eq!(
        orders[0],
        OrderFacts {
            id: "11".into(),
            status: "delivered".into(),
            total_minor: 45_050,
            currency: Some("SAR".into()),
            date: Some(JAN10),
            delivered_at: None,
            changed_at: None,
        }
    );
    assert_eq!(orders[1].status, "restored");
    assert_eq!(orders[1].changed_at, Some(JAN10 + 10 * DAY));
    assert!(orders_from_listing(b"{}").is_err());
    assert!(orders_from_listing(br#"{"data":{}}"#).is_err());

    let reviews = br#"{"data":[
        {"id":1,"type":"rating","customer":{"id":77},"product":{"id":5},"created_at":"2026-01-10 03:00:00"},
        {"id":2,"type":"rating","customer":{"id":78},"product":{"id":5}},
        {"id":3,"type":"testimonial","customer":{"id":77}},
        {"id":4,"product_id":6,"date":"2026-01-10 03:00:00"}
    ]}"#;
    let got = reviews_from_listing(reviews, "77", true).unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["1", "4"]);
    assert_eq!(got[0].product_id.as_deref(), Some("5"));
    assert_eq!(got[0].date, Some(JAN10));
    assert_eq!(reviews_from_listing(reviews, "77", false).unwrap().len(), 1);
}

/// The README's worked example ("Loyalty points"), step by step.
#[test]
fn readme_worked_example() {
    let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
    let rules = PointsRules {
        multipliers: vec![
            TierMultiplier {
                tier: "Silver".into(),
                percent: 110,
            },
            TierMultiplier {
                tier: "Gold".into(),
                percent: 150,
            },
        ],
        review_points: 0,
        ..rules()
    };
    // 2026: 10 Jan, 2 Mar, 20 Apr, 15 Jun, 1 Aug (day of year − 1).
    let days = [9, 60, 109, 165, 212];
    let totals = [450, 800, 900, 700, 1_300];
    let tiers = ["Bronze", "Bronze", "Silver", "Silver", "Gold"];
    let points = [9, 16, 19, 15, 39];
    let balances = [9, 25, 44, 59, 98];
    let start = JAN10 - 9 * DAY;
    let mut orders = Vec::new();
    for i in 0..5 {
        let at = start + days[i] * DAY;
        orders.push(order(&format!("{i}"), "delivered", totals[i], at));
        let e = evaluate(
            STORE,
            &profile(),
            &orders,
            &[],
            &rules,
            &ladder,
            at + 60,
            &Trigger::Order(format!("{i}")),
        );
        let KlaviyoRequest::CreateEvent(ev) = &e.requests[0] else {
            panic!()
        };
        assert_eq!(
            ev.properties.get("Tier").and_then(|v| v.as_str()),
            Some(tiers[i]),
            "{i}"
        );
        assert_eq!(
            ev.properties.get("Points").and_then(|v| v.as_u64()),
            Some(points[i]),
            "{i}"
        );
        assert_eq!(e.balance, balances[i], "{i}");
    }
    let next_jan10 = expires_at(JAN10).unwrap();
    let e = evaluate(
        STORE,
        &profile(),
        &orders,
        &[],
        &rules,
        &ladder,
        next_jan10,
        &Trigger::Import(Backfill::No),
    );
    assert_eq!(e.balance, 89);
    orders[4].status = "restored".into();
    let e = evaluate(
        STORE,
        &profile(),
        &orders,
        &[],
        &rules,
        &ladder,
        next_jan10,
        &Trigger::Order("4".into()),
    );
    assert_eq!(e.balance, 50);
}

proptest::proptest! {
    /// For any orders and reviews, at any moment: the ledger nets to the balance (earned −
    /// reversed − expired), reading the facts in another order changes no request, and no
    /// `unique_id` appears twice.
    #[test]
    fn the_ledger_nets_to_the_balance_whatever_the_order_of_reading(
        orders in proptest::collection::vec((0u8..6, 0u64..5_000, 0i64..800), 0..12),
        reviews in proptest::collection::vec((0u8..4, 0i64..800), 0..6),
        now_days in 0i64..900,
        percent in 1u8..=5,
    ) {
        const SLUGS: [&str; 6] = ["delivered", "restored", "refunded", "canceled", "shipped", "delivered"];
        let orders: Vec<OrderFacts> = orders
            .iter()
            .enumerate()
            .map(|(i, (s, sar, day))| order(&format!("{i}"), SLUGS[*s as usize], *sar, JAN10 + day * DAY))
            .collect();
        let reviews: Vec<ReviewFacts> = reviews
            .iter()
            .enumerate()
            .map(|(i, (p, day))| review(&format!("r{i}"), &format!("p{p}"), JAN10 + day * DAY))
            .collect();
        let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
        let rules = PointsRules {
            percent,
            multipliers: vec![TierMultiplier { tier: "Silver".into(), percent: 125 }],
            ..rules()
        };
        let now = JAN10 + now_days * DAY;
        let import = Trigger::Import(Backfill::Yes);
        let e = evaluate(STORE, &profile(), &orders, &reviews, &rules, &ladder, now, &import);
        let mut net: i64 = 0;
        let mut ids = std::collections::HashSet::new();
        for ev in &e.ledger {
            let points = ev.properties.get("Points").and_then(|v| v.as_i64()).unwrap();
            net += if ev.metric == POINTS_EARNED { points } else { -points };
            proptest::prop_assert!(ids.insert(ev.unique_id.clone().unwrap()));
        }
        proptest::prop_assert_eq!(net, e.balance as i64);
        let mut reversed_orders = orders.clone();
        reversed_orders.reverse();
        let mut reversed_reviews = reviews.clone();
        reversed_reviews.reverse();
        let again = evaluate(STORE, &profile(), &reversed_orders, &reversed_reviews, &rules, &ladder, now, &import);
        proptest::prop_assert_eq!(again.requests, e.requests);
    }
}

/// A merchant whose orders stop at `completed` chooses it; the shipping statuses after it
/// keep the points, with the same id.
#[test]
fn completed_earns_when_the_merchant_chose_it() {
    let ladder = preset_a(DEFAULT_MARGIN_BP).unwrap();
    let completed = PointsRules {
        award: Award::Completed,
        ..rules()
    };
    for status in ["completed", "shipped", "delivering", "delivered"] {
        let orders = [order("1", status, 450, JAN10)];
        let e = evaluate(
            STORE,
            &profile(),
            &orders,
            &[],
            &completed,
            &ladder,
            JAN10 + DAY,
            &Trigger::Order("1".into()),
        );
        assert_eq!(e.balance, 9, "{status}");
        assert_eq!(
            events(&e),
            [(
                POINTS_EARNED,
                "salla:1234509876:order:1:points_earned",
                false
            )]
        );
        let default = eval(&orders, &[], JAN10 + DAY, Trigger::Order("1".into()));
        assert_eq!(
            default.balance,
            u64::from(status == "delivered") * 9,
            "{status}"
        );
    }
}
