//! Privacy rights: export, erasure (no table keeps the person's email, phone
//! or name; replays are refused), and the audit log.

use super::auth::{bearer, operator_token};
use cdp_store::AnyConnection;
use cdp_suite::*;
use diesel::sql_types::Text;
use diesel::RunQueryDsl;

#[derive(diesel::QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every row of every table, as text.
fn dump(conn: &mut AnyConnection) -> String {
    let mut out = String::new();
    match conn {
        AnyConnection::Sqlite(c) => {
            let tables: Vec<Line> = diesel::sql_query(
                "SELECT name AS line FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            for t in tables {
                let cols: Vec<Line> =
                    diesel::sql_query(format!("SELECT name AS line FROM pragma_table_info('{}')", t.line)).load(c).unwrap();
                let expr =
                    cols.iter().map(|c| format!("COALESCE(CAST(\"{}\" AS TEXT), '')", c.line)).collect::<Vec<_>>().join(" || '|' || ");
                for l in diesel::sql_query(format!("SELECT {expr} AS line FROM \"{}\"", t.line)).load::<Line>(c).unwrap() {
                    out += &format!("{}: {}\n", t.line, l.line);
                }
            }
        }
        AnyConnection::Postgresql(c) => {
            let tables: Vec<Line> = diesel::sql_query(
                "SELECT table_name::text AS line FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
            )
            .load(c)
            .unwrap();
            for t in tables {
                for l in diesel::sql_query(format!("SELECT t::text AS line FROM \"{}\" t", t.line)).load::<Line>(c).unwrap() {
                    out += &format!("{}: {}\n", t.line, l.line);
                }
            }
        }
    }
    out
}

#[test]
fn export_then_erase_leaves_nothing_personal_and_refuses_replays() {
    let app = TestApp::spawn();
    // A destination for every fact, whose endpoint refuses connections: its
    // deliveries (and the bodies of their attempts) stay in the outbox.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let d = app.post(
        "/api/v1/destinations",
        &app.admin_key,
        json!({"name": "CRM", "url": format!("http://127.0.0.1:{dead}/hook"),
               "events": ["profile.created", "profile.merged", "order.completed", "order.refunded", "feedback.negative", "case.opened"]}),
    );
    assert_eq!(d.status, 201, "{}", d.body);
    let (_, pos) = app.source("POS", "store");
    let (_, web) = app.source("Web", "web");
    let old = "2026-10-01T03:00:00Z";
    let a = app.event(
        &pos,
        json!({"event": "Order Completed", "occurred_at": old, "identities": {"phone": "0912 345 678"},
               "traits": {"first_name": "Quỳnh", "last_name": "Trần", "city": "Huế"},
               "properties": {"order_id": "Q1-9", "revenue": 500000, "products": [{"product_id": "sua-1l", "category": "milk", "price": 500000, "quantity": 1}]}}),
    );
    let pid = a["profile_id"].as_str().unwrap().to_string();
    // A second profile that merges in through the e-mail.
    app.event(&web, json!({"type": "identify", "occurred_at": "2026-10-02T03:00:00Z", "identities": {"email": "quynh.tran@example.vn"}, "context": {"consent": {"email": "granted"}}}));
    app.event(&web, json!({"event": "Linked", "occurred_at": "2026-10-03T03:00:00Z", "identities": {"email": "quynh.tran@example.vn", "phone": "+84912345678"}}));
    let r = app.send_json(
        "PUT",
        &format!("/api/v1/profiles/{pid}/preferences"),
        &app.admin_key,
        json!({"language": "vi", "preferred_channel": "zalo"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.post("/api/v1/feedback", &web, json!({"kind": "text", "text": "Quỳnh đây, sữa bị vón cục", "channel": "web", "category": "product_quality",
                                                       "identities": {"email": "quynh.tran@example.vn"}, "occurred_at": "2026-10-04T03:00:00Z"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.post(
        "/api/v1/cases",
        &app.admin_key,
        json!({"profile_id": pid, "category": "product_quality", "channel": "web",
                                                              "subject": "Chị Quỳnh Trần: sữa vón cục", "description": "gọi 0912345678"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let seg = app.post("/api/v1/segments", &app.admin_key, json!({"name": "Huế", "rule": {"trait": "city", "op": "eq", "value": "Huế"}}));
    assert_eq!(seg.body["size"], 1);

    // An operator reads the profile: audited. Agents may not export or erase.
    let token = operator_token(&app, "hoa.agent", "agent");
    assert_eq!(bearer(&app, "GET", &format!("/api/v1/profiles/{pid}"), &token, None).status, 200);
    assert_eq!(bearer(&app, "GET", &format!("/api/v1/profiles/{pid}/export"), &token, None).status, 403);
    assert_eq!(bearer(&app, "DELETE", &format!("/api/v1/profiles/{pid}"), &token, None).status, 403);

    let export = app.get(&format!("/api/v1/profiles/{pid}/export"), &app.admin_key);
    assert_eq!(export.status, 200, "{}", export.body);
    let x = &export.body;
    assert_eq!(x["profile"]["traits"]["first_name"], "Quỳnh");
    assert_eq!(x["merged_profiles"].as_array().unwrap().len(), 1);
    assert_eq!(x["orders"][0]["order_id"], "Q1-9");
    assert!(x["events"].as_array().unwrap().len() >= 5);
    assert_eq!(x["consents"]["items"][0]["channel"], "email");
    assert_eq!(x["preferences"]["preferences"]["language"], "vi");
    assert_eq!(x["feedback"][0]["text"], "Quỳnh đây, sữa bị vón cục");
    assert_eq!(x["cases"].as_array().unwrap().len(), 1);
    assert_eq!(x["merge_log"].as_array().unwrap().len(), 1);
    assert_eq!(x["segment_memberships"].as_array().unwrap().len(), 1);
    assert!(!x["loyalty_ledger"].as_array().unwrap().is_empty());

    let before = app.db.read(|c| Ok::<_, cdp_store::StoreError>(dump(c))).unwrap();
    for needle in ["quynh.tran@example.vn", "+84912345678", "Quỳnh"] {
        assert!(before.contains(needle), "the dump sees {needle} before the erasure");
    }
    let erased = send(ureq::delete(&app.url(&format!("/api/v1/profiles/{pid}"))).set("X-Api-Key", &app.admin_key), None);
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.body["erased"]["profiles"], 2);
    assert_eq!(erased.body["erased"]["identities"], 2);
    let after = app.db.read(|c| Ok::<_, cdp_store::StoreError>(dump(c))).unwrap();
    for needle in ["quynh.tran@example.vn", "912345678", "Quỳnh", "Trần", "quynh", "vón cục"] {
        let hits: Vec<&str> = after.lines().filter(|l| l.contains(needle)).collect();
        assert!(hits.is_empty(), "{needle} is still held: {hits:#?}");
    }
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).status, 404);
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/export"), &app.admin_key).status, 404);
    assert_eq!(app.lookup("email", "quynh.tran@example.vn").status, 404);
    let r = app.post(&format!("/api/v1/segments/{}/refresh", seg.body["id"].as_str().unwrap()), &app.admin_key, json!({}));
    assert_eq!(r.body["size"], 0);

    // A replay of an old event is refused, as documented; in a batch it is rejected alone.
    let replay =
        app.post("/api/v1/events", &pos, json!({"event": "Store Visit", "occurred_at": old, "identities": {"phone": "0912345678"}}));
    assert_eq!((replay.status, replay.code()), (409, "identity_erased"), "{}", replay.body);
    let batch = app.post(
        "/api/v1/events/batch",
        &pos,
        json!({"events": [
        {"event": "Store Visit", "occurred_at": old, "identities": {"email": "Quynh.Tran@example.vn"}},
        {"event": "Store Visit", "occurred_at": old, "identities": {"email": "someone.else@example.vn"}}]}),
    );
    assert_eq!((batch.body["accepted"].as_u64(), batch.body["rejected"].as_u64()), (Some(1), Some(1)), "{}", batch.body);
    assert_eq!(batch.body["results"][0]["error"]["code"], "identity_erased");
    // Through Segment's batch: refused ones answer with their index in the request.
    let basic = {
        use base64::Engine;
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{pos}:")))
    };
    let segment = send(
        ureq::post(&app.url("/v1/batch")).set("Authorization", &basic),
        Some(json!({"batch": [
            "not a message",
            {"type": "track", "event": "Store Visit", "timestamp": old, "userId": "someone-new"},
            {"type": "track", "event": "Store Visit", "timestamp": old, "anonymousId": "a-1",
             "context": {"traits": {"email": "Quynh.Tran@example.vn"}}}]})),
    );
    assert_eq!(segment.status, 200, "{}", segment.body);
    let refused: Vec<(u64, &str)> = segment.body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["error"]["code"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, [(0, "validation_failed"), (2, "identity_erased")], "{}", segment.body);
    let late = app.post(
        "/api/v1/feedback",
        &web,
        json!({"kind": "nps", "score": 2, "channel": "web", "occurred_at": old,
                                                          "identities": {"email": "quynh.tran@example.vn"}}),
    );
    assert_eq!((late.status, late.code()), (409, "identity_erased"), "late feedback is refused like a replayed event: {}", late.body);
    // Someone who comes back after the erasure starts afresh.
    let back = app.event(&web, json!({"type": "identify", "identities": {"email": "quynh.tran@example.vn"}}));
    assert_ne!(back["profile_id"].as_str(), Some(pid.as_str()));

    let audit = app.get(&format!("/api/v1/audit?profile_id={pid}"), &app.admin_key);
    assert_eq!(audit.status, 200, "{}", audit.body);
    let actions: Vec<&str> = audit.body["items"].as_array().unwrap().iter().map(|a| a["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["profile.erase", "profile.export", "profile.read"], "newest first");
    assert!(audit.body["items"][2]["actor"].as_str().unwrap().starts_with("user:"));
    assert!(audit.body["items"][0]["actor"].as_str().unwrap().starts_with("key:"));
}
