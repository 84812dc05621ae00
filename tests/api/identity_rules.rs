//! Identity rules: placeholders and blocked values link nothing, limits hold.

use super::identity::identities_of;
use cdp_domain::auth::Scope;
use cdp_suite::*;
use serde_json::Value;
use std::collections::HashSet;

/// `n` walk-in purchases at one shop, each with its own loyalty card and the
/// phone as `phone(i)`, sent in batches; answers their profile ids.
fn walk_ins(app: &TestApp, key: &str, prefix: &str, n: usize, phone: impl Fn(usize) -> String) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"event": "Order Completed", "identities": {"loyalty_card": format!("{prefix}-{i:05}"), "phone": phone(*i)},
                       "traits": {"phone": phone(*i)}, "properties": {"order_id": format!("{prefix}-O{i:05}"), "revenue": 45000}})
            })
            .collect();
        let r = app.post("/api/v1/events/batch", key, json!({ "events": events }));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["accepted"], chunk.len(), "{}", r.body);
        ids.extend(r.body["results"].as_array().unwrap().iter().map(|x| x["profile_id"].as_str().unwrap().to_string()));
    }
    ids
}

#[test]
fn walk_ins_with_placeholder_or_blocked_phones_stay_apart() {
    let app = TestApp::spawn();
    let (_, shop) = app.source("Cửa hàng Cần Thơ", "store");
    const PLACEHOLDERS: [&str; 3] = ["0000000000", "0123456789", "000 000 0000"];
    let ids = walk_ins(&app, &shop, "CT", 1000, |i| PLACEHOLDERS[i % 3].to_string());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1000, "1,000 walk-ins are 1,000 people");
    assert_eq!(app.count_live_profiles(), 1000);
    for pid in [&ids[0], &ids[1], &ids[2], &ids[999]] {
        let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body;
        assert_eq!(identities_of(&p).into_iter().map(|(t, _)| t).collect::<Vec<_>>(), ["loyalty_card"], "{p}");
        assert!(p["traits"].get("phone").is_none(), "a placeholder is no trait: {p}");
    }
    // The event keeps the placeholder as data: the export shows it.
    let export = app.get(&format!("/api/v1/profiles/{}/export", ids[0]), &app.admin_key).body;
    assert_eq!(export["events"][0]["blocked_identities"], json!([{"type": "phone", "value": "0000000000"}]), "{export}");
    assert_eq!(export["events"][0]["identities"], json!([{"type": "loyalty_card", "value": "CT-00000"}]));
    // A placeholder alone is set aside, not refused.
    let alone = app.post("/api/v1/events", &shop, json!({"event": "Visit", "identities": {"phone": "0000000000"}}));
    assert_eq!(alone.status, 202, "{}", alone.body);

    // The shop's own number, typed for everyone: blocked by the operator.
    let before = app.lookup("phone", "0909 000 000");
    assert_eq!(before.status, 404);
    let r = app.send_json("PUT", "/api/v1/identity/rules", &app.admin_key, {
        let mut doc = app.get("/api/v1/identity/rules", &app.admin_key).body;
        doc["blocked"] = json!([{"type": "phone", "value": "0909 000 000"}]);
        doc
    });
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["blocked"], json!([{"type": "phone", "value": "+84909000000"}]), "stored normalised");
    let shop_ids = walk_ins(&app, &shop, "CT2", 1000, |_| "0909 000 000".to_string());
    assert_eq!(shop_ids.iter().collect::<HashSet<_>>().len(), 1000);
    assert_eq!(app.count_live_profiles(), 2001);
    assert_eq!(app.lookup("phone", "+84909000000").status, 404, "nobody holds the shop's number");
    let p = app.get(&format!("/api/v1/profiles/{}", shop_ids[7]), &app.admin_key).body;
    assert!(p["traits"].get("phone").is_none(), "{p}");
    assert_eq!(identities_of(&p).len(), 1, "{p}");
}

#[test]
fn identity_rules_are_checked_stored_and_audited() {
    let app = TestApp::spawn();
    let defaults = app.get("/api/v1/identity/rules", &app.admin_key);
    assert_eq!(defaults.status, 200);
    assert_eq!(defaults.body["types"]["user_id"], json!({"limit": 1, "priority": 1}));
    assert_eq!(defaults.body["types"]["email"], json!({"limit": 5, "priority": 3}));
    assert_eq!(defaults.body["placeholders"], true);

    let bad = app.send_json(
        "PUT",
        "/api/v1/identity/rules",
        &app.admin_key,
        json!({"types": {"Bad Type": {"limit": 1, "priority": 1}, "email": {"limit": 0, "priority": 2}},
               "blocked": [{"type": "email", "pattern": "(unclosed"}, {"type": "phone", "value": "not a phone"}]}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<&str> =
        bad.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["types.Bad Type", "types.email.limit", "blocked[0].pattern", "blocked[1].value"]);
    assert_eq!(app.get("/api/v1/identity/rules", &app.admin_key).body, defaults.body, "nothing of a refused document is kept");

    let reader = app.key(&[Scope::ProfilesRead], None);
    assert_eq!(app.get("/api/v1/identity/rules", &reader).status, 403);

    let doc = json!({"types": {"user_id": {"limit": 1, "priority": 1}, "email": {"limit": 2, "priority": 2}},
                     "blocked": [{"type": "email", "pattern": "^shop\\d+@"}], "placeholders": false});
    let r = app.send_json("PUT", "/api/v1/identity/rules", &app.admin_key, doc.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get("/api/v1/identity/rules", &app.admin_key).body, doc);
    let audit = app.get("/api/v1/audit?action=identity_rules.update", &app.admin_key);
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.body);

    // Placeholders unblocked: a valid placeholder number is an identity again.
    let (_, web) = app.source("Web", "web");
    let a = app.event(&web, json!({"event": "x", "identities": {"phone": "0987654321", "loyalty_card": "C-1"}}));
    let b = app.event(&web, json!({"event": "y", "identities": {"phone": "+84 987 654 321", "loyalty_card": "C-2"}}));
    assert_eq!(a["profile_id"], b["profile_id"]);
    // A blocked pattern links nothing.
    let c = app.event(&web, json!({"event": "x", "identities": {"email": "shop12@dairy.vn", "loyalty_card": "C-3"}}));
    let d = app.event(&web, json!({"event": "x", "identities": {"email": "shop12@dairy.vn", "loyalty_card": "C-4"}}));
    assert_ne!(c["profile_id"], d["profile_id"]);
}

#[test]
fn limits_hold_and_the_merge_log_says_why() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    // Two accounts of one household, bridged again and again by a shared phone and e-mail.
    let a = app.event(&web, json!({"type": "identify", "identities": {"user_id": "KH-1", "email": "me@nha.vn"}}));
    let b = app.event(&web, json!({"type": "identify", "identities": {"user_id": "KH-2", "phone": "0912 000 111"}}));
    for n in 0..3 {
        let e = app.event(&web, json!({"event": format!("bridge {n}"), "identities": {"email": "me@nha.vn", "phone": "0912 000 111"}}));
        assert_eq!(e["profile_id"], a["profile_id"], "the stronger identity (e-mail) keeps the event");
    }
    assert_ne!(a["profile_id"], b["profile_id"]);
    assert_eq!(app.count_live_profiles(), 2, "two user_ids stay two profiles");
    let log = app.get(&format!("/api/v1/profiles/{}/merges", a["profile_id"].as_str().unwrap()), &app.admin_key).body;
    let conflicts: Vec<&Value> = log["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "conflict").collect();
    assert_eq!(conflicts.len(), 3, "{log}");
    assert!(conflicts.iter().all(|c| c["reason"] == "limit" && c["merged_id"] == b["profile_id"]), "{log}");

    // Five e-mails at most: a sixth is not linked, and said so.
    let pid = a["profile_id"].as_str().unwrap();
    for n in 2..=6 {
        app.event(&web, json!({"event": "x", "identities": {"user_id": "KH-1", "email": format!("me{n}@nha.vn")}}));
    }
    let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body;
    let emails = identities_of(&p).into_iter().filter(|(t, _)| t == "email").count();
    assert_eq!(emails, 5, "{p}");
    assert_eq!(app.lookup("email", "me6@nha.vn").status, 404);
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "conflict" && m["identity"]["value"] == "me6@nha.vn"), "{log}");

    // Two new e-mails on one event (an identity and a trait) where a profile may hold one:
    // the stronger is the person's, the other is refused and names that same profile.
    let mut rules = app.get("/api/v1/identity/rules", &app.admin_key).body;
    rules["types"]["email"]["limit"] = json!(1);
    assert_eq!(app.send_json("PUT", "/api/v1/identity/rules", &app.admin_key, rules).status, 200);
    let e = app.event(&web, json!({"event": "x", "identities": {"email": "p@x.vn", "loyalty_card": "Z-1"}, "traits": {"email": "q@x.vn"}}));
    let log = app.get(&format!("/api/v1/profiles/{}/merges", e["profile_id"].as_str().unwrap()), &app.admin_key).body;
    let refused: Vec<&Value> = log["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "conflict").collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert_eq!((refused[0]["identity"]["value"].as_str(), refused[0]["merged_id"].as_str()), (Some("q@x.vn"), e["profile_id"].as_str()));
}
