//! Destinations: every fact delivered at least once, signed to the Standard
//! Webhooks specification (verified by the `standardwebhooks` package in a
//! receiver process), retried, isolated per destination, and held back for
//! people without the consent a destination requires.

use cdp_suite::*;
use serde_json::Value;
use std::collections::HashSet;
use std::time::Duration;

/// A server whose deliveries time out and retry fast enough for a test.
fn spawn() -> TestApp {
    TestApp::spawn_with(|s| {
        s.delivery.timeout = Duration::from_millis(400);
        s.delivery.retry.base_ms = 20;
        s.delivery.retry.max_attempts = 15;
        s.delivery.poll = Duration::from_millis(50);
    })
}

fn destination(app: &TestApp, body: Value) -> (String, String) {
    let r = app.post("/api/v1/destinations", &app.admin_key, body);
    assert_eq!(r.status, 201, "{}", r.body);
    (r.body["id"].as_str().unwrap().to_string(), r.body["secret"].as_str().unwrap().to_string())
}

fn order(n: usize, phone: &str) -> Value {
    json!({"event": "Order Completed", "message_id": format!("order-{n}"), "identities": {"phone": phone},
           "properties": {"order_id": format!("HD-{n:04}"), "revenue": 150000 + n as i64, "currency": "VND"}})
}

/// Every delivery of a destination with `status` (empty: any), through the paged log.
fn deliveries(app: &TestApp, id: &str, status: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = app.get(&format!("/api/v1/destinations/{id}/deliveries?status={status}&limit=500&cursor={cursor}"), &app.admin_key);
        assert_eq!(r.status, 200, "{}", r.body);
        out.extend(r.body["items"].as_array().unwrap().iter().cloned());
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return out,
        }
    }
}

#[test]
fn three_hundred_orders_reach_a_flaky_receiver_once_each_signed() {
    let app = spawn();
    let rx = Receiver::start();
    let (id, secret) = destination(&app, json!({"name": "CRM", "url": rx.url(), "events": ["order.completed"]}));
    // ~30% of attempts answered 500, ~10% never answered within the timeout.
    rx.configure(&secret, 0.3, 0.1, 2.0);
    let (_, pos) = app.source("POS", "store");
    let orders: Vec<Value> = (0..300).map(|n| order(n, &format!("0912{:06}", n % 100))).collect();
    for chunk in orders.chunks(50) {
        let r = app.post("/api/v1/events/batch", &pos, json!({ "events": chunk }));
        assert_eq!((r.status, r.body["accepted"].as_u64()), (200, Some(50)), "{}", r.body);
    }
    let stats = rx.wait_for(300, 120);
    assert_eq!(stats["distinct_delivered"], 300, "{stats}");
    assert_eq!(stats["bad_signatures"], 0);
    assert_eq!(stats["verified"], stats["attempts"]);
    assert!(stats["answered_500"].as_u64().unwrap() > 30 && stats["hung"].as_u64().unwrap() > 5, "the receiver misbehaved: {stats}");
    let ids: HashSet<&str> = stats["delivered_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(ids.len(), 300);
    // The body: the fact and who it is about.
    let body = stats["bodies"].as_object().unwrap().values().find(|b| b["data"]["order_id"] == "HD-0007").unwrap();
    assert_eq!(body["type"], "order.completed");
    assert_eq!(body["data"]["revenue"], 150007.0);
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    let pid = body["data"]["profile_id"].as_str().unwrap();
    assert_eq!(app.lookup("phone", "0912000007").body["id"], pid);
    assert_eq!(body["data"]["profile"]["identities"][0], json!({"type": "phone", "value": "+84912000007"}));
    // The log agrees once the last outcomes are recorded: nothing failed, nothing pending.
    eventually(20, || (deliveries(&app, &id, "delivered").len() == 300).then_some(()));
    assert!(deliveries(&app, &id, "failed").is_empty());
    assert!(deliveries(&app, &id, "pending").is_empty());
    let retried = deliveries(&app, &id, "delivered").into_iter().filter(|d| d["attempts"].as_i64().unwrap() > 1).count();
    assert!(retried > 50, "only {retried} deliveries needed a retry");
    let logged: HashSet<String> = deliveries(&app, &id, "delivered").iter().map(|d| d["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(logged, ids.iter().map(|s| s.to_string()).collect());
}

#[test]
fn a_dead_and_a_hanging_destination_do_not_hold_up_a_healthy_one() {
    let app = spawn();
    let (good, hanging) = (Receiver::start(), Receiver::start());
    let dead_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (ok_id, ok_secret) = destination(&app, json!({"name": "ok", "url": good.url(), "events": ["order.completed"]}));
    let (dead_id, _) =
        destination(&app, json!({"name": "dead", "url": format!("http://127.0.0.1:{dead_port}/hook"), "events": ["order.completed"]}));
    let (hang_id, hang_secret) = destination(&app, json!({"name": "hangs", "url": hanging.url(), "events": ["order.completed"]}));
    good.configure(&ok_secret, 0.0, 0.0, 0.0);
    hanging.configure(&hang_secret, 0.0, 1.0, 30.0);
    let (_, pos) = app.source("POS", "store");
    let orders: Vec<Value> = (0..100).map(|n| order(n, &format!("0913{:06}", n))).collect();
    assert_eq!(app.post("/api/v1/events/batch", &pos, json!({ "events": orders })).status, 200);
    let stats = good.wait_for(100, 30);
    assert_eq!(stats["distinct_delivered"], 100, "{stats}");
    eventually(20, || (deliveries(&app, &ok_id, "delivered").len() == 100).then_some(()));
    // The others are still being retried, with the reason logged.
    let dead = eventually(20, || {
        let d = deliveries(&app, &dead_id, "pending");
        d.iter().any(|x| x["attempts"].as_i64() > Some(0)).then_some(d)
    });
    assert_eq!(dead.len(), 100);
    let tried = dead.iter().find(|x| x["attempts"].as_i64() > Some(0)).unwrap();
    assert!(tried["last_error"].as_str().unwrap().to_lowercase().contains("connect"), "{tried}");
    assert_eq!(tried["last_status_code"], Value::Null);
    assert!(deliveries(&app, &hang_id, "delivered").is_empty());
    // The dead one rests between rounds of attempts (a circuit breaker):
    // retried one by one every 20, 40, 80… ms, its 100 deliveries would have
    // made hundreds of attempts by now.
    let attempts: i64 = deliveries(&app, &dead_id, "").iter().map(|d| d["attempts"].as_i64().unwrap()).sum();
    assert!(attempts < 100, "{attempts} attempts on a dead destination");

    // Disabled, the hanging destination makes none of the requests it had
    // queued and gives their leases back: nothing unattempted waits for a
    // lease to end (`lease` is 8.6 s here).
    let soon = (chrono::Utc::now() + chrono::Duration::seconds(2)).to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = app.send_json("PATCH", &format!("/api/v1/destinations/{hang_id}"), &app.admin_key, json!({"enabled": false}));
    assert_eq!(r.status, 200, "{}", r.body);
    eventually(20, || {
        let pending = deliveries(&app, &hang_id, "pending");
        let unattempted: Vec<&Value> = pending.iter().filter(|d| d["attempts"] == 0).collect();
        (pending.len() == 100 && unattempted.iter().all(|d| d["next_attempt_at"].as_str().unwrap() <= soon.as_str())).then_some(())
    });
    // Pointed at a receiver that answers and enabled again, all 100 arrive.
    let fixed = Receiver::start();
    fixed.configure(&hang_secret, 0.0, 0.0, 0.0);
    let r =
        app.send_json("PATCH", &format!("/api/v1/destinations/{hang_id}"), &app.admin_key, json!({"url": fixed.url(), "enabled": true}));
    assert_eq!(r.status, 200, "{}", r.body);
    let stats = fixed.wait_for(100, 30);
    assert_eq!((stats["distinct_delivered"].as_u64(), stats["bad_signatures"].as_u64()), (Some(100), Some(0)), "{stats}");
}

#[test]
fn only_people_who_granted_the_destinations_consent_get_deliveries_and_withdrawal_stops_pending_ones() {
    let app = spawn();
    let rx = Receiver::start();
    let (id, secret) = destination(
        &app,
        json!({"name": "Email tool", "url": rx.url(), "events": ["order.completed"], "consent": {"channel": "email", "purpose": "marketing"}}),
    );
    rx.configure(&secret, 0.0, 0.0, 0.0);
    let (_, web) = app.source("Web", "web");
    let person = |email: &str| {
        app.event(&web, json!({"type": "identify", "identities": {"email": email}}))["profile_id"].as_str().unwrap().to_string()
    };
    let (lan, minh, hoa) = (person("lan@example.vn"), person("minh@example.vn"), person("hoa@example.vn"));
    let consent = |pid: &str, body: Value| {
        let r = send(ureq::put(&app.url(&format!("/api/v1/profiles/{pid}/consents/email"))).set("X-Api-Key", &app.admin_key), Some(body));
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    };
    let c = consent(
        &lan,
        json!({"status": "granted", "source": "web-form", "purpose": "marketing", "collected_by": "website",
                           "policy_version": "2026-10", "evidence": "form 88213"}),
    );
    assert_eq!(c["history"][0]["evidence"], "form 88213");
    assert_eq!(c["items"][0]["purpose"], "marketing");
    // Minh granted e-mail for order confirmations only; Hoa nothing.
    consent(&minh, json!({"status": "granted", "source": "checkout", "purpose": "transactional"}));
    assert_eq!(
        app.send_json(
            "PUT",
            &format!("/api/v1/profiles/{hoa}/consents/email"),
            &app.admin_key,
            json!({"status": "granted", "source": "x", "purpose": "spam"})
        )
        .status,
        422
    );
    let buy = |n: usize, email: &str| {
        let e = json!({"event": "Order Completed", "message_id": format!("o{n}"), "identities": {"email": email},
                       "properties": {"order_id": format!("W-{n}"), "revenue": 99000}});
        assert_eq!(app.post("/api/v1/events", &web, e).status, 202);
    };
    buy(1, "lan@example.vn");
    buy(2, "minh@example.vn");
    buy(3, "hoa@example.vn");
    let stats = rx.wait_for(1, 20);
    assert_eq!(stats["distinct_delivered"], 1);
    let suppressed = eventually(20, || Some(deliveries(&app, &id, "suppressed")).filter(|s| s.len() == 2));
    let who: HashSet<&str> = suppressed.iter().map(|d| d["profile_id"].as_str().unwrap()).collect();
    assert_eq!(who, HashSet::from([minh.as_str(), hoa.as_str()]));
    assert_eq!(deliveries(&app, &id, "delivered")[0]["profile_id"], lan.as_str());

    // Lan withdraws between two orders: the second is not sent.
    consent(&lan, json!({"status": "denied", "source": "unsubscribe-link"}));
    buy(4, "lan@example.vn");
    eventually(20, || (deliveries(&app, &id, "suppressed").len() == 3).then_some(()));
    // A delivery still pending (the receiver is failing) stops when consent is withdrawn.
    consent(&lan, json!({"status": "granted", "source": "web-form"}));
    rx.configure(&secret, 1.0, 0.0, 0.0);
    buy(5, "lan@example.vn");
    eventually(20, || deliveries(&app, &id, "pending").iter().any(|d| d["attempts"].as_i64() > Some(0)).then_some(()));
    consent(&lan, json!({"status": "denied", "source": "hotline"}));
    rx.configure(&secret, 0.0, 0.0, 0.0);
    eventually(20, || (deliveries(&app, &id, "suppressed").len() == 4).then_some(()));
    assert_eq!(rx.stats()["distinct_delivered"], 1);
    // Segment members filtered by purpose.
    let seg =
        app.post("/api/v1/segments", &app.admin_key, json!({"name": "all", "rule": {"consent": "email", "purpose": "transactional"}}));
    assert_eq!(seg.status, 201, "{}", seg.body);
    assert_eq!(seg.body["size"], 1);
    let sid = seg.body["id"].as_str().unwrap();
    let members = app.get(&format!("/api/v1/segments/{sid}/members?consent=email&purpose=transactional"), &app.admin_key).body;
    assert_eq!(members["items"][0]["id"], minh.as_str());
}

#[test]
fn destinations_are_validated_their_secret_shown_once_and_deliveries_replayed() {
    let app = spawn();
    let rx = Receiver::start();
    let bad = app.post(
        "/api/v1/destinations",
        &app.admin_key,
        json!({"name": "x", "url": "ftp://x", "events": ["order.completed", "order.shipped"], "consent": {"channel": "fax"}}),
    );
    assert_eq!(bad.status, 422);
    let fields: Vec<&str> =
        bad.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["url", "events[1]", "consent.channel"], "{}", bad.body);
    let missing = app.post(
        "/api/v1/destinations",
        &app.admin_key,
        json!({"name": "x", "url": rx.url(), "events": ["segment.entered"], "segment_ids": ["nope"]}),
    );
    assert_eq!((missing.status, missing.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("segment_ids[0]")));

    let (id, secret) = destination(
        &app,
        json!({"name": "All facts", "url": rx.url(),
        "events": ["profile.created", "profile.merged", "order.completed", "order.refunded", "loyalty.tier_changed",
                   "feedback.negative", "case.opened", "case.resolved"]}),
    );
    let key = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, secret.strip_prefix("whsec_").unwrap()).unwrap();
    assert!(key.len() >= 24);
    let got = app.get(&format!("/api/v1/destinations/{id}"), &app.admin_key).body;
    assert!(got.get("secret").is_none(), "{got}");
    assert_eq!(app.get("/api/v1/destinations", &app.admin_key).body["items"].as_array().unwrap().len(), 1);
    rx.configure(&secret, 0.0, 0.0, 0.0);

    // Facts of ingestion: a new profile, an order, a merge, a refund.
    let (_, pos) = app.source("POS", "store");
    app.event(&pos, json!({"type": "identify", "identities": {"phone": "0914000001"}}));
    app.event(
        &pos,
        json!({"event": "Order Completed", "identities": {"email": "an@example.vn"}, "properties": {"order_id": "R-1", "revenue": 500000}}),
    );
    app.event(&pos, json!({"type": "identify", "identities": {"phone": "0914000001", "email": "an@example.vn"}}));
    app.event(
        &pos,
        json!({"event": "Order Refunded", "identities": {"email": "an@example.vn"}, "properties": {"order_id": "R-1", "revenue": 200000}}),
    );
    // Facts of the interaction: a detractor's answer (a promoter's is no fact), a case opened and resolved.
    for score in [3, 9] {
        let f = app.post(
            "/api/v1/feedback",
            &pos,
            json!({"kind": "nps", "score": score, "channel": "store", "identities": {"email": "an@example.vn"}}),
        );
        assert_eq!(f.status, 201, "{}", f.body);
    }
    let case = app.post(
        "/api/v1/cases",
        &app.admin_key,
        json!({"identities": {"email": "an@example.vn"}, "category": "delivery",
        "priority": "high", "channel": "hotline", "subject": "Sữa giao trễ"}),
    );
    assert_eq!(case.status, 201, "{}", case.body);
    let cid = case.body["id"].as_str().unwrap();
    let r =
        app.send_json("PATCH", &format!("/api/v1/cases/{cid}"), &app.admin_key, json!({"status": "resolved", "resolution": "refunded"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let stats = rx.wait_for(8, 30);
    let types: Vec<&str> = stats["bodies"].as_object().unwrap().values().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(types.iter().filter(|t| **t == "feedback.negative").count(), 1, "{types:?}");
    for t in ["profile.created", "order.completed", "profile.merged", "order.refunded", "feedback.negative", "case.opened", "case.resolved"]
    {
        assert!(types.contains(&t), "{t} not delivered: {types:?}");
    }
    let refund = stats["bodies"].as_object().unwrap().values().find(|b| b["type"] == "order.refunded").unwrap();
    assert_eq!((refund["data"]["order_id"].as_str(), refund["data"]["amount"].as_f64()), (Some("R-1"), Some(200000.0)));
    let merged = stats["bodies"].as_object().unwrap().values().find(|b| b["type"] == "profile.merged").unwrap();
    let ids: Vec<&str> = merged["data"]["profile"]["identities"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert!(ids.contains(&"phone") && ids.contains(&"email"), "{merged}");

    // Replay what was delivered: the same ids again.
    let before = eventually(20, || {
        Some(deliveries(&app, &id, "delivered")).filter(|d| d.len() == stats["distinct_delivered"].as_u64().unwrap() as usize)
    });
    let r = app.post(
        &format!("/api/v1/destinations/{id}/replay"),
        &app.admin_key,
        json!({"from": "2000-01-01T00:00:00Z", "to": "2100-01-01T00:00:00Z", "status": "delivered"}),
    );
    assert_eq!((r.status, r.body["requeued"].as_u64()), (202, Some(before.len() as u64)), "{}", r.body);
    eventually(20, || (rx.stats()["duplicates_after_200"].as_u64() == Some(before.len() as u64)).then_some(()));
    assert_eq!(
        app.post(&format!("/api/v1/destinations/{id}/replay"), &app.admin_key, json!({"from": "x", "to": "2100-01-01T00:00:00Z"})).status,
        422
    );

    // Disabled: facts are no longer written for it; deleted: gone with its log.
    let p = app.send_json("PATCH", &format!("/api/v1/destinations/{id}"), &app.admin_key, json!({"enabled": false, "consent": null}));
    assert_eq!((p.status, p.body["enabled"].as_bool()), (200, Some(false)), "{}", p.body);
    let n = deliveries(&app, &id, "").len();
    app.event(&pos, json!({"type": "identify", "identities": {"phone": "0914000002"}}));
    assert_eq!(deliveries(&app, &id, "").len(), n);
    let d = send(ureq::delete(&app.url(&format!("/api/v1/destinations/{id}"))).set("X-Api-Key", &app.admin_key), None);
    assert_eq!(d.status, 204);
    assert_eq!(app.get(&format!("/api/v1/destinations/{id}"), &app.admin_key).status, 404);
    assert_eq!(app.get(&format!("/api/v1/destinations/{id}/deliveries"), &app.admin_key).status, 404);
}

#[test]
fn scheduled_work_runs_once_per_slot_across_processes_and_segment_changes_become_facts() {
    let fast = |s: &mut cdp::Settings| {
        s.delivery.timeout = Duration::from_millis(400);
        s.delivery.retry.base_ms = 20;
        s.delivery.poll = Duration::from_millis(50);
        s.scheduler_tick = Duration::from_millis(100);
    };
    let app = TestApp::spawn_with(fast);
    // A second server on the same database, as a second process would be.
    let url = app.database_url.clone();
    let other = TestApp::spawn_with(move |s| {
        fast(s);
        s.database_url = url;
    });
    let rx = Receiver::start();
    let (_, secret) = destination(&app, json!({"name": "Zalo", "url": rx.url(), "events": ["segment.entered", "segment.exited"]}));
    rx.configure(&secret, 0.0, 0.0, 0.0);
    let (_, web) = app.source("Web", "web");
    let person = |email: &str, city: &str| {
        app.event(&web, json!({"type": "identify", "identities": {"email": email}, "traits": {"city": city}}))["profile_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (lan, _minh) = (person("lan@example.vn", "Hà Nội"), person("minh@example.vn", "Hà Nội"));
    let bad = app.post(
        "/api/v1/segments",
        &app.admin_key,
        json!({"name": "x", "rule": {"trait": "city", "op": "eq", "value": "Hà Nội"}, "refresh_every_minutes": 0}),
    );
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("refresh_every_minutes")));
    let seg = app.post(
        "/api/v1/segments",
        &app.admin_key,
        json!({"name": "Hà Nội", "rule": {"trait": "city", "op": "eq", "value": "Hà Nội"}, "refresh_every_minutes": 60}),
    );
    assert_eq!((seg.status, seg.body["refresh_every_minutes"].as_i64()), (201, Some(60)), "{}", seg.body);
    let sid = seg.body["id"].as_str().unwrap().to_string();
    // The two who entered at creation are facts.
    let stats = rx.wait_for(2, 20);
    assert_eq!(stats["distinct_delivered"], 2, "{stats}");
    let body = stats["bodies"].as_object().unwrap().values().next().unwrap();
    assert_eq!((body["type"].as_str(), body["data"]["segment_id"].as_str()), (Some("segment.entered"), Some(sid.as_str())));

    // Both servers see the refresh due (its slot: this hour); it runs once.
    let job = format!("segment.refresh:{sid}");
    let runs = eventually(20, || {
        let r = app.get(&format!("/api/v1/jobs?job={}", enc(&job)), &app.admin_key).body;
        let items = r["items"].as_array().unwrap().clone();
        items.iter().any(|i| i["status"] == "succeeded").then_some(items)
    });
    assert_eq!(runs.len(), 1, "{runs:?}");
    assert!(runs[0]["slot"].as_str().unwrap().ends_with(":00:00Z"), "{}", runs[0]);

    // Loyalty expiry daily at a time already passed today: once.
    let now = chrono::Utc::now() - chrono::Duration::minutes(1);
    let program = app.get("/api/v1/loyalty/program", &app.admin_key).body;
    let mut program = program.as_object().unwrap().clone();
    program.insert("expire_daily_at".into(), json!(now.format("%H:%M").to_string()));
    let r = app.send_json("PUT", "/api/v1/loyalty/program", &app.admin_key, Value::Object(program.clone()));
    assert_eq!((r.status, r.body["expire_daily_at"].as_str()), (200, Some(now.format("%H:%M").to_string().as_str())), "{}", r.body);
    program.insert("expire_daily_at".into(), json!("25:00"));
    assert_eq!(app.send_json("PUT", "/api/v1/loyalty/program", &app.admin_key, Value::Object(program)).status, 422);
    let expiry = eventually(20, || {
        let r = other.get("/api/v1/jobs?job=loyalty.expire", &other.admin_key).body;
        let items = r["items"].as_array().unwrap().clone();
        items.iter().any(|i| i["status"] == "succeeded").then_some(items)
    });
    assert_eq!(expiry.len(), 1, "{expiry:?}");
    // Every run listed is the only one of its job and slot, all succeeded.
    let all = app.get("/api/v1/jobs?limit=500", &app.admin_key).body;
    let items = all["items"].as_array().unwrap();
    let mut slots: Vec<(&str, &str)> = items.iter().map(|i| (i["job"].as_str().unwrap(), i["slot"].as_str().unwrap())).collect();
    slots.sort();
    slots.dedup();
    assert_eq!(slots.len(), items.len(), "{all}");
    assert!(items.iter().all(|i| i["status"] == "succeeded"), "{all}");

    // Refreshing records who left and who entered, as facts.
    app.event(&web, json!({"type": "identify", "identities": {"email": "lan@example.vn"}, "traits": {"city": "Đà Nẵng"}}));
    let hoa = person("hoa@example.vn", "Hà Nội");
    assert_eq!(app.post(&format!("/api/v1/segments/{sid}/refresh"), &app.admin_key, json!({})).status, 200);
    let stats = rx.wait_for(4, 20);
    let facts: Vec<(String, String)> = stats["bodies"]
        .as_object()
        .unwrap()
        .values()
        .map(|b| (b["type"].as_str().unwrap().to_string(), b["data"]["profile_id"].as_str().unwrap().to_string()))
        .collect();
    assert!(facts.contains(&("segment.exited".to_string(), lan.clone())), "{facts:?}");
    assert!(facts.contains(&("segment.entered".to_string(), hoa.clone())), "{facts:?}");
}

#[test]
fn deliveries_follow_merges_and_an_erased_persons_pending_ones_are_suppressed() {
    let app = spawn();
    let rx = Receiver::start();
    let (id, secret) = destination(&app, json!({"name": "CRM", "url": rx.url(), "events": ["order.completed"]}));
    let (_, pos) = app.source("POS", "store");
    // Erased while its delivery is still being retried: suppressed at the next attempt.
    rx.configure(&secret, 1.0, 0.0, 0.0);
    let gone = app.event(
        &pos,
        json!({"event": "Order Completed", "identities": {"phone": "0915000009"}, "properties": {"order_id": "E-1", "revenue": 90000}}),
    )["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(20, || deliveries(&app, &id, "pending").iter().any(|d| d["attempts"].as_i64() > Some(0)).then_some(()));
    let erased = send(ureq::delete(&app.url(&format!("/api/v1/profiles/{gone}"))).set("X-Api-Key", &app.admin_key), None);
    assert!(erased.status < 300, "{}", erased.body);
    rx.configure(&secret, 0.0, 0.0, 0.0);
    let suppressed = eventually(20, || deliveries(&app, &id, "suppressed").into_iter().next());
    assert!(suppressed["last_error"].as_str().unwrap().contains("erased"), "{suppressed}");

    // An order by a phone-only newcomer and, in the same request, the event
    // that merges them into the e-mail's older profile: the delivery names
    // the survivor, with both identities.
    let older = app.event(&pos, json!({"type": "identify", "identities": {"email": "binh@example.vn"}}))["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    let batch = json!({"events": [
        {"event": "Order Completed", "identities": {"phone": "0915000010"}, "properties": {"order_id": "M-1", "revenue": 120000}},
        {"type": "identify", "identities": {"phone": "0915000010", "email": "binh@example.vn"}}]});
    assert_eq!(app.post("/api/v1/events/batch", &pos, batch).status, 200);
    let stats = rx.wait_for(1, 30);
    let body = stats["bodies"].as_object().unwrap().values().find(|b| b["data"]["order_id"] == "M-1").unwrap().clone();
    assert_eq!(body["data"]["profile_id"].as_str(), Some(older.as_str()), "{body}");
    let kinds: Vec<&str> = body["data"]["profile"]["identities"].as_array().unwrap().iter().map(|i| i["type"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"phone") && kinds.contains(&"email"), "{body}");
}
