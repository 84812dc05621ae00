//! The loyalty programme through the API.

use cdp_domain::auth::Scope;
use cdp_suite::*;

fn order(id: &str, at: &str, revenue: i64) -> serde_json::Value {
    json!({"event": "Order Completed", "occurred_at": at, "identities": {"phone": "0912 345 678"},
           "properties": {"order_id": id, "revenue": revenue, "currency": "VND"}})
}

/// A year of purchases crossing Bạc then Vàng; points, tiers and ledger as
/// computed by hand; a partial refund; a redemption; expiry and a downgrade.
#[test]
fn a_year_of_purchases() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    // (date, revenue) → tier held before, points earned:
    let year = [
        ("2026-01-10T03:00:00Z", 3_000_000), // Đồng ×1.0: 300 (spend 3.0M)
        ("2026-03-10T03:00:00Z", 2_500_000), // Đồng ×1.0: 250 (5.5M → Bạc)
        ("2026-06-10T03:00:00Z", 4_000_000), // Bạc ×1.2: 480 (9.5M)
        ("2026-09-10T03:00:00Z", 6_000_000), // Bạc ×1.2: 720 (15.5M → Vàng)
        ("2026-11-10T03:00:00Z", 1_000_000), // Vàng ×1.5: 150
    ];
    let mut pid = String::new();
    for (n, (at, revenue)) in year.iter().enumerate() {
        pid = app.event(&pos, order(&format!("L-{n}"), at, *revenue))["profile_id"].as_str().unwrap().to_string();
    }
    let reader = app.key(&[Scope::LoyaltyRead], None);
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let loyalty = |app: &TestApp| app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body;
    let l = loyalty(&app);
    assert_eq!(l["points_balance"], 1900, "{l}");
    assert_eq!(l["tier"], json!({"code": "vang", "name": "Vàng"}));
    assert_eq!(l["next_tier"]["code"], "kim_cuong");
    let ledger = app.get(&format!("/api/v1/profiles/{pid}/loyalty/ledger"), &reader).body;
    let earned: Vec<i64> = ledger["items"].as_array().unwrap().iter().rev().map(|e| e["points"].as_i64().unwrap()).collect();
    assert_eq!(earned, [300, 250, 480, 720, 150]);
    assert_eq!(ledger["items"][4]["expires_at"], "2027-01-10T03:00:00Z");
    let changes: Vec<(String, String)> = app.get(&format!("/api/v1/profiles/{pid}/events?limit=100"), &app.admin_key).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .filter(|e| e["event"] == "Tier Changed")
        .map(|e| (e["properties"]["from"].as_str().unwrap().to_string(), e["properties"]["to"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(changes, [("dong".to_string(), "bac".to_string()), ("bac".to_string(), "vang".to_string())]);

    // Half of the September order is refunded: 720 × ½ = 360 points back.
    app.event(
        &pos,
        json!({"event": "Order Refunded", "identities": {"phone": "0912345678"}, "properties": {"order_id": "L-3", "revenue": 3_000_000}}),
    );
    assert_eq!(loyalty(&app)["points_balance"], 1540);

    // Redeem 500: the January lot (300) first, then 200 of March's.
    let redeem = |key: &str, points: i64| {
        app.post(&format!("/api/v1/profiles/{pid}/loyalty/redemptions"), &writer, json!({"points": points, "idempotency_key": key}))
    };
    let r = redeem("r-1", 500);
    assert_eq!((r.status, r.body["points"].as_i64(), r.body["balance_after"].as_i64()), (201, Some(-500), Some(1040)), "{}", r.body);
    let again = redeem("r-1", 500);
    assert_eq!((again.status, again.body["id"].clone()), (201, r.body["id"].clone()), "the same key answers the first redemption");
    assert_eq!(loyalty(&app)["points_balance"], 1040);
    let r = redeem("r-2", 5000);
    assert_eq!((r.status, r.code()), (409, "insufficient_points"));

    // On 2027-01-10 January's lot lapses with nothing left in it, and January's
    // 3M leave the window: 2.5 + 4 + (6 − 3) + 1 = 10.5M → down to Bạc.
    // On 2027-03-10 March's 50 points left lapse.
    let run = |as_of: &str| app.post(&format!("/api/v1/loyalty/expire?as_of={as_of}"), &app.admin_key, json!({})).body;
    let e = run("2027-01-10");
    assert_eq!((e["expired_points"].as_i64(), e["tier_changes"].as_i64()), (Some(0), Some(1)), "{e}");
    let e = run("2027-03-10");
    assert_eq!((e["expired_points"].as_i64(), e["tier_changes"].as_i64()), (Some(50), Some(0)), "{e}");
    let l = loyalty(&app);
    assert_eq!((l["points_balance"].as_i64(), l["tier"]["code"].as_str()), (Some(990), Some("bac")));
    let items = app.get(&format!("/api/v1/profiles/{pid}/loyalty/ledger?limit=500"), &reader).body["items"].as_array().unwrap().clone();
    let sum: i64 = items.iter().map(|e| e["points"].as_i64().unwrap()).sum();
    assert_eq!(sum, 990, "the ledger sums to the balance");
    let kinds: Vec<&str> = items.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds[..3], ["expire", "redeem", "reverse"]);
    let last_change = app.get(&format!("/api/v1/profiles/{pid}/events?limit=1"), &app.admin_key).body["items"][0].clone();
    assert_eq!(
        (last_change["event"].as_str(), last_change["properties"]["to"].as_str()),
        (Some("Tier Changed"), Some("bac")),
        "{last_change}"
    );
}

#[test]
fn the_same_order_earns_once() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let (_, web) = app.source("Web", "web");
    let mut e = order("Q-1", "2026-05-01T03:00:00Z", 350_000);
    e["message_id"] = json!("m-1");
    let pid = app.event(&pos, e.clone())["profile_id"].as_str().unwrap().to_string();
    app.event(&pos, e.clone()); // same message_id
    e["message_id"] = json!("m-2");
    app.event(&pos, e.clone()); // same order_id, another message
    app.event(&web, e); // from another source
    let reader = app.key(&[Scope::LoyaltyRead], None);
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body["points_balance"], 35);
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body["loyalty"], json!({"points_balance": 35, "tier": "dong"}));
}

/// 16 concurrent redemptions against a balance that covers only 5.
#[test]
fn concurrent_redemptions_never_overspend() {
    let app = TestApp::spawn_with(|s| s.db_pool_size = Some(16));
    let (_, pos) = app.source("POS", "store");
    let pid = app.event(&pos, order("C-1", "2026-05-01T03:00:00Z", 5_000_000))["profile_id"].as_str().unwrap().to_string();
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let reader = app.key(&[Scope::LoyaltyRead], None);
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body["points_balance"], 500);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..16)
            .map(|i| {
                let (app, writer, pid) = (&app, &writer, &pid);
                s.spawn(move || {
                    app.post(
                        &format!("/api/v1/profiles/{pid}/loyalty/redemptions"),
                        writer,
                        json!({"points": 100, "idempotency_key": format!("k-{i}")}),
                    )
                    .status
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 5, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 11, "{statuses:?}");
    let l = app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body;
    assert_eq!(l["points_balance"], 0);
    let sum: i64 = app.get(&format!("/api/v1/profiles/{pid}/loyalty/ledger?limit=500"), &reader).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["points"].as_i64().unwrap())
        .sum();
    assert_eq!(sum, 0);
}

#[test]
fn programme_and_rewards() {
    let app = TestApp::spawn();
    let reader = app.key(&[Scope::LoyaltyRead], None);
    let p = app.get("/api/v1/loyalty/program", &reader).body;
    assert_eq!(p["tiers"][3]["name"], "Kim Cương");
    let mut bad = p.clone();
    bad["tiers"][2]["min_spend"] = json!(1000);
    bad["tiers"][1]["multiplier"] = json!(0);
    let r = send(ureq::put(&app.url("/api/v1/loyalty/program")).set("X-Api-Key", &app.admin_key), Some(bad));
    assert_eq!(r.status, 422, "{}", r.body);
    let fields: Vec<&str> = r.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert!(fields.contains(&"tiers[2].min_spend") && fields.contains(&"tiers[1].multiplier"), "{fields:?}");
    let mut good = p.clone();
    good["spend_per_point"] = json!(5000);
    let r = send(ureq::put(&app.url("/api/v1/loyalty/program")).set("X-Api-Key", &app.admin_key), Some(good));
    assert_eq!(r.status, 200);
    assert_eq!(app.get("/api/v1/loyalty/program", &reader).body["spend_per_point"], 5000.0);

    let reward = app.post("/api/v1/loyalty/rewards", &app.admin_key, json!({"name": "Bình giữ nhiệt", "points_cost": 50, "stock": 1}));
    assert_eq!(reward.status, 201, "{}", reward.body);
    let rid = reward.body["id"].as_str().unwrap().to_string();
    assert_eq!(app.get("/api/v1/loyalty/rewards", &reader).body["items"].as_array().unwrap().len(), 1);
    let (_, pos) = app.source("POS", "store");
    let pid = app.event(&pos, order("R-1", "2026-05-01T03:00:00Z", 1_000_000))["profile_id"].as_str().unwrap().to_string();
    // Earned under the saved programme (a point per 5,000), not the default (per 10,000).
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body["points_balance"], 200);
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let take = |key: &str| {
        app.post(&format!("/api/v1/profiles/{pid}/loyalty/redemptions"), &writer, json!({"reward_id": rid, "idempotency_key": key}))
    };
    let r = take("a");
    assert_eq!((r.status, r.body["points"].as_i64()), (201, Some(-50)), "{}", r.body);
    let r = take("b");
    assert_eq!((r.status, r.code()), (409, "out_of_stock"));
}

/// The documented policy for a refund after redemption: the reversal may take
/// the balance below zero, redemptions are refused while it is, and later
/// earnings repay the debt first.
#[test]
fn refund_after_redemption_leaves_a_debt_that_later_earnings_repay() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let pid = app.event(&pos, order("D-1", "2026-05-01T03:00:00Z", 1_000_000))["profile_id"].as_str().unwrap().to_string();
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let reader = app.key(&[Scope::LoyaltyRead], None);
    let balance = || app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body["points_balance"].as_i64().unwrap();
    let redeem = |key: &str, points: i64| {
        app.post(&format!("/api/v1/profiles/{pid}/loyalty/redemptions"), &writer, json!({"points": points, "idempotency_key": key}))
    };
    assert_eq!(redeem("all", 100).status, 201);
    app.event(&pos, json!({"event": "Order Refunded", "identities": {"phone": "0912345678"}, "properties": {"order_id": "D-1"}}));
    assert_eq!(balance(), -100, "the reversal takes back what the order earned");
    assert_eq!(redeem("more", 1).code(), "insufficient_points");
    app.event(&pos, order("D-2", "2026-05-02T03:00:00Z", 1_500_000));
    assert_eq!(balance(), 50, "150 earned, 100 of them repay the debt");
    // Admin adjustments, with a reason; a removal cannot overdraw.
    let adjust = |points: i64| {
        app.post(&format!("/api/v1/profiles/{pid}/loyalty/adjustments"), &app.admin_key, json!({"points": points, "reason": "goodwill"}))
    };
    assert_eq!(adjust(25).status, 201);
    assert_eq!(balance(), 75);
    assert_eq!(adjust(-100).code(), "insufficient_points");
    assert_eq!(adjust(-75).status, 201);
    assert_eq!(balance(), 0);
    assert_eq!(app.post(&format!("/api/v1/profiles/{pid}/loyalty/adjustments"), &writer, json!({"points": 5, "reason": "x"})).status, 403);
}

#[test]
fn lapsed_points_never_count_even_before_the_expiry_run() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    // Earned in 2024: lapsed a year later, long before today.
    let pid = app.event(&pos, order("X-1", "2024-06-01T03:00:00Z", 1_000_000))["profile_id"].as_str().unwrap().to_string();
    let reader = app.key(&[Scope::LoyaltyRead], None);
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body["points_balance"], 0);
    let r = app.post(&format!("/api/v1/profiles/{pid}/loyalty/redemptions"), &writer, json!({"points": 1, "idempotency_key": "k"}));
    assert_eq!(r.code(), "insufficient_points");
    let e = app.post("/api/v1/loyalty/expire", &app.admin_key, json!({})).body;
    assert_eq!(e["expired_points"], 100);
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body["points_balance"], 0);
}

#[test]
fn adjustments_at_the_edge_of_i64_are_refused_not_crashed() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let pid = app.event(&pos, json!({"event": "x", "identities": {"phone": "0912000777"}}))["profile_id"].as_str().unwrap().to_string();
    for points in [i64::MIN, i64::MAX, 1_000_000_001] {
        let r =
            app.post(&format!("/api/v1/profiles/{pid}/loyalty/adjustments"), &app.admin_key, json!({"points": points, "reason": "edge"}));
        assert_eq!((r.status, r.code()), (422, "validation_failed"), "{points}: {}", r.body);
    }
}

/// The ledger written for a batch is the ledger written for the same events
/// sent one at a time: orders of two members crossing tiers, partial and full
/// refunds of orders of the same batch; a refund later in the batch does not
/// lower the tier an earlier order earned at.
#[test]
fn a_batch_earns_and_reverses_exactly_as_single_events_do() {
    let events = |phone: &str, other: &str| {
        let o = |id: &str, at: &str, revenue: i64, ids: serde_json::Value| {
            json!({"message_id": id, "event": "Order Completed", "occurred_at": at, "identities": ids,
                   "properties": {"order_id": id, "revenue": revenue, "currency": "VND"}})
        };
        let refund = |id: &str, revenue: Option<i64>| {
            let mut props = json!({"order_id": id});
            if let Some(r) = revenue {
                props["revenue"] = json!(r);
            }
            json!({"message_id": format!("r-{id}-{}", revenue.unwrap_or(0)), "event": "Order Refunded", "identities": {"phone": phone}, "properties": props})
        };
        vec![
            o("E-1", "2026-02-01T03:00:00Z", 4_000_000, json!({"phone": phone})),
            o("E-2", "2026-02-02T03:00:00Z", 2_000_000, json!({"phone": phone})),
            o("F-1", "2026-02-03T03:00:00Z", 7_000_000, json!({"email": other})),
            refund("E-2", Some(500_000)),
            o("E-3", "2026-02-04T03:00:00Z", 9_000_000, json!({"phone": phone})),
            refund("E-1", None),
            o("E-4", "2026-02-05T03:00:00Z", 1_000_000, json!({"phone": phone})),
            refund("F-1", Some(7_000_000)),
            o("E-5", "2026-02-06T03:00:00Z", 3_000_000, json!({"email": other})),
        ]
    };
    let ledger_of = |app: &TestApp, key: &str| {
        let p = app.lookup("phone", "0912 345 678");
        let pid = p.body["id"].as_str().unwrap().to_string();
        let reader = app.key(&[Scope::LoyaltyRead], None);
        let l = app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &reader).body;
        let items = app.get(&format!("/api/v1/profiles/{pid}/loyalty/ledger?limit=100"), &reader).body["items"].clone();
        let rows: Vec<(String, i64, i64)> = items
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["kind"].as_str().unwrap().to_string(), e["points"].as_i64().unwrap(), e["balance_after"].as_i64().unwrap()))
            .collect();
        let _ = key;
        (l["points_balance"].clone(), l["tier"]["code"].clone(), rows)
    };
    let batched = TestApp::spawn();
    let (_, key) = batched.source("POS", "store");
    let r = batched.post("/api/v1/events/batch", &key, json!({"events": events("0912 345 678", "mai@example.vn")}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["accepted"], 9, "{}", r.body);
    let single = TestApp::spawn();
    let (_, key1) = single.source("POS", "store");
    for e in events("0912 345 678", "mai@example.vn") {
        single.event(&key1, e);
    }
    let (a, b) = (ledger_of(&batched, &key), ledger_of(&single, &key1));
    assert_eq!(a, b);
    assert!(a.2.iter().filter(|r| r.0 == "reverse").count() >= 2, "{a:?}");
    assert_eq!(a.2.iter().filter(|r| r.0 == "earn").count(), 4, "{a:?}");
}
