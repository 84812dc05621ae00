//! Undoing a merge and splitting a profile, end to end.

use cdp_domain::auth::Scope;
use cdp_suite::*;
use serde_json::Value;

/// What a profile shows of itself, for comparing before and after.
fn standing(app: &TestApp, pid: &str) -> Value {
    let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body;
    let v = app.get(&format!("/api/v1/profiles/{pid}/value"), &app.admin_key).body;
    let l = app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &app.admin_key).body;
    let c = app.get(&format!("/api/v1/profiles/{pid}/consents"), &app.admin_key).body;
    let mut ids: Vec<Value> = p["identities"].as_array().unwrap().clone();
    ids.sort_by_key(|i| i.to_string());
    json!({"id": p["id"], "traits": p["traits"], "identities": ids, "channels": p["channels"], "event_count": p["event_count"],
           "first_seen_at": p["first_seen_at"], "last_seen_at": p["last_seen_at"], "orders": v["orders_count"], "revenue": v["revenue_total"],
           "first_order_at": v["first_order_at"], "last_order_at": v["last_order_at"],
           "points": l["points_balance"], "tier": l["tier"]["code"], "consents": c["state"]})
}

#[test]
fn undoing_a_merge_gives_each_side_back_its_own_and_keeps_them_apart() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let (_, shop) = app.source("Shop", "store");
    let (_, hotline) = app.source("Hotline", "hotline");
    // Minh's Zalo account, known before anything else (it will absorb his profile later).
    let zalo = app.event(&web, json!({"type": "identify", "occurred_at": "2026-08-01T08:00:00Z", "identities": {"zalo_id": "zl-minh"}}));
    let lan = app.event(
        &web,
        json!({"type": "identify", "occurred_at": "2026-09-01T08:00:00Z", "identities": {"email": "lan@example.vn"},
        "traits": {"city": "Huế", "name": "Lan"}, "context": {"consent": {"email": "granted"}}}),
    );
    app.event(
        &web,
        json!({"event": "Order Completed", "occurred_at": "2026-09-02T08:00:00Z", "identities": {"email": "lan@example.vn"},
        "properties": {"order_id": "W-1", "revenue": 2500000}}),
    );
    let minh = app.event(
        &shop,
        json!({"event": "Order Completed", "occurred_at": "2026-09-05T08:00:00Z",
        "identities": {"phone": "0903 222 333", "loyalty_card": "VNM-9"}, "traits": {"city": "Đà Nẵng"},
        "properties": {"order_id": "S-1", "revenue": 800000}}),
    );
    app.event(
        &shop,
        json!({"event": "Order Refunded", "occurred_at": "2026-09-06T08:00:00Z", "identities": {"phone": "0903 222 333"},
        "properties": {"order_id": "S-1", "revenue": 300000}}),
    );
    let (a, b) = (lan["profile_id"].as_str().unwrap().to_string(), minh["profile_id"].as_str().unwrap().to_string());
    let (before_a, before_b) = (standing(&app, &a), standing(&app, &b));

    // A wrong merge: the hotline typed Lan's e-mail on Minh's call.
    let bridge = app.event(
        &hotline,
        json!({"event": "Call Received", "occurred_at": "2026-09-10T08:00:00Z",
        "identities": {"email": "lan@example.vn", "phone": "0903222333"}}),
    );
    assert_eq!(bridge["profile_id"], a.as_str());
    assert_eq!(app.count_live_profiles(), 2, "Lan and Minh are one, his Zalo profile another");
    // Minh keeps shopping meanwhile, under the merged profile.
    let later = app.event(
        &shop,
        json!({"event": "Order Completed", "occurred_at": "2026-09-12T08:00:00Z", "identities": {"loyalty_card": "VNM-9"},
        "properties": {"order_id": "S-2", "revenue": 400000}}),
    );
    assert_eq!(later["profile_id"], a.as_str());

    let log = app.get(&format!("/api/v1/profiles/{b}/merges"), &app.admin_key).body;
    let merge = log["items"].as_array().unwrap().iter().find(|m| m["kind"] == "merge").unwrap()["id"].as_str().unwrap().to_string();
    let writer = app.key(&[Scope::ProfilesWrite], None);
    let reader = app.key(&[Scope::ProfilesRead], None);
    assert_eq!(app.post(&format!("/api/v1/merges/{merge}/undo"), &reader, json!({})).status, 403);
    let r = app.post(&format!("/api/v1/merges/{merge}/undo"), &writer, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["restored_profile_id"].as_str(), r.body["survivor_id"].as_str()), (Some(b.as_str()), Some(a.as_str())));
    assert_eq!(r.body["moved"], json!({"identities": 2, "events": 3, "orders": 2}), "{}", r.body);
    assert_eq!(app.count_live_profiles(), 3);

    // Each side is what it would be had the merge never happened: Lan with the
    // call (her e-mail was its strongest identity), Minh with his later order.
    let mut want_a = before_a.clone();
    want_a["event_count"] = json!(before_a["event_count"].as_i64().unwrap() + 1);
    want_a["channels"] = json!(["web", "hotline"]);
    want_a["last_seen_at"] = json!("2026-09-10T08:00:00Z");
    assert_eq!(standing(&app, &a), want_a);
    let after_b = standing(&app, &b);
    assert_eq!(after_b["identities"], before_b["identities"]);
    assert_eq!(after_b["traits"], before_b["traits"]);
    assert_eq!(after_b["event_count"], before_b["event_count"].as_i64().unwrap() + 1);
    assert_eq!(after_b["orders"], before_b["orders"].as_i64().unwrap() + 1);
    assert_eq!(after_b["consents"], before_b["consents"]);
    assert!(after_b["points"].as_i64().unwrap() > before_b["points"].as_i64().unwrap(), "S-2's points follow it: {after_b}");
    assert_eq!(app.lookup("loyalty_card", "VNM-9").body["id"], b.as_str());
    assert_eq!(app.lookup("email", "lan@example.vn").body["id"], a.as_str());

    // Twice → 409; the log tells; a new bridge merges nothing.
    assert_eq!(app.post(&format!("/api/v1/merges/{merge}/undo"), &writer, json!({})).status, 409);
    let log = app.get(&format!("/api/v1/profiles/{b}/merges"), &app.admin_key).body;
    let kinds: Vec<&str> = log["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"undo") && kinds.contains(&"merge"), "{log}");
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "merge" && m["undone_at"].is_string()), "{log}");
    let again = app.event(&hotline, json!({"event": "Call Received", "identities": {"email": "lan@example.vn", "phone": "0903222333"}}));
    assert_eq!(again["profile_id"], a.as_str());
    assert_eq!(app.count_live_profiles(), 3, "kept apart");
    let log = app.get(&format!("/api/v1/profiles/{a}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["reason"] == "unmerged" && m["merged_id"] == b.as_str()), "{log}");
    assert_eq!(app.post("/api/v1/merges/no-such-merge/undo", &writer, json!({})).status, 404);

    // Kept apart follows a later merge: Minh's profile joins his (older) Zalo
    // profile, and that one is now kept apart from Lan too.
    let z = zalo["profile_id"].as_str().unwrap();
    let joined = app.event(&web, json!({"event": "Chat", "identities": {"zalo_id": "zl-minh", "loyalty_card": "VNM-9"}}));
    assert_eq!(joined["profile_id"], z);
    assert_eq!(app.count_live_profiles(), 2);
    let bridge = app.event(&hotline, json!({"event": "Call Received", "identities": {"email": "lan@example.vn", "zalo_id": "zl-minh"}}));
    assert_eq!(bridge["profile_id"], a.as_str());
    assert_eq!(app.count_live_profiles(), 2, "still apart");
}

#[test]
fn splitting_identities_off_makes_a_second_profile_kept_apart() {
    let app = TestApp::spawn();
    let (_, shop) = app.source("Shop", "store");
    let writer = app.key(&[Scope::ProfilesWrite], None);
    // A mother and a son share the family phone; the shop merged them.
    let mum = app.event(
        &shop,
        json!({"event": "Order Completed", "identities": {"email": "me@nha.vn", "phone": "0912 555 666"},
        "properties": {"order_id": "M-1", "revenue": 600000}}),
    );
    let son = app.event(
        &shop,
        json!({"event": "Order Completed", "identities": {"email": "con@nha.vn"},
        "properties": {"order_id": "C-1", "revenue": 200000}}),
    );
    app.event(
        &shop,
        json!({"event": "Order Completed", "identities": {"email": "con@nha.vn"}, "properties": {"order_id": "C-2", "revenue": 150000}}),
    );
    let both = app.event(&shop, json!({"event": "Visit", "identities": {"email": "con@nha.vn", "phone": "0912555666"}}));
    let pid = mum["profile_id"].as_str().unwrap().to_string();
    assert_eq!(both["profile_id"], pid.as_str());
    assert_eq!(app.count_live_profiles(), 1);
    let _ = son;

    let path = format!("/api/v1/profiles/{pid}/split");
    let bad = app.post(&path, &writer, json!({"identities": [{"type": "email", "value": "nobody@nha.vn"}]}));
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("identities[0]")), "{}", bad.body);
    let all = app.post(
        &path,
        &writer,
        json!({"identities": [{"type": "email", "value": "me@nha.vn"}, {"type": "email", "value": "con@nha.vn"},
        {"type": "phone", "value": "0912555666"}]}),
    );
    assert_eq!(all.status, 422, "{}", all.body);
    let r = app.post(&path, &writer, json!({"identities": [{"type": "email", "value": "Con@Nha.vn"}]}));
    assert_eq!(r.status, 201, "{}", r.body);
    let new = r.body["profile_id"].as_str().unwrap().to_string();
    // His two orders carried only his e-mail: they move; the visit carried the family phone too: it stays.
    assert_eq!(r.body["moved"], json!({"identities": 1, "events": 2, "orders": 2}), "{}", r.body);
    assert_eq!(app.lookup("email", "con@nha.vn").body["id"], new.as_str());
    assert_eq!(app.lookup("email", "me@nha.vn").body["id"], pid.as_str());
    let v = app.get(&format!("/api/v1/profiles/{new}/value"), &app.admin_key).body;
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(2), Some(350000.0)), "{v}");
    let v = app.get(&format!("/api/v1/profiles/{pid}/value"), &app.admin_key).body;
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(1), Some(600000.0)), "{v}");
    let points = app.get(&format!("/api/v1/profiles/{new}/loyalty"), &app.admin_key).body;
    assert!(points["points_balance"].as_i64().unwrap() > 0, "his points follow his orders: {points}");

    // Kept apart: the family phone with his e-mail links nothing now.
    let again = app.event(&shop, json!({"event": "Visit", "identities": {"email": "con@nha.vn", "phone": "0912555666"}}));
    assert_eq!(again["profile_id"], new.as_str());
    assert_eq!(app.count_live_profiles(), 2);
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "split" && m["merged_id"] == new.as_str()), "{log}");
    let log = app.get(&format!("/api/v1/profiles/{new}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "conflict" && m["reason"] == "unmerged"), "{log}");
}

#[test]
fn the_same_merge_undone_at_once_by_several_is_undone_once() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    app.event(&web, json!({"type": "identify", "identities": {"email": "an@example.vn"}}));
    app.event(&web, json!({"type": "identify", "identities": {"phone": "0904 111 222"}}));
    let bridged = app.event(&web, json!({"event": "x", "identities": {"email": "an@example.vn", "phone": "0904111222"}}));
    let pid = bridged["profile_id"].as_str().unwrap();
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    let merge = log["items"].as_array().unwrap().iter().find(|m| m["kind"] == "merge").unwrap()["id"].as_str().unwrap().to_string();
    let writer = app.key(&[Scope::ProfilesWrite], None);
    let mut statuses = in_parallel(8, |_| vec![app.post(&format!("/api/v1/merges/{merge}/undo"), &writer, json!({})).status]);
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
    assert_eq!(app.count_live_profiles(), 2);
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    assert_eq!(log["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "undo").count(), 1, "{log}");
}
