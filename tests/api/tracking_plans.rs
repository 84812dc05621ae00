//! Tracking plans through every ingestion endpoint: blocked and allowed
//! violations, each named by the path of the offending property.

use base64::Engine;
use cdp_suite::*;
use serde_json::Value;

fn segment(app: &TestApp, path: &str, key: &str, body: Value) -> Resp {
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")));
    send(ureq::post(&app.url(path)).set("Authorization", &basic), Some(body))
}

fn order(id: &str, revenue: Value) -> Value {
    json!({"event": "Order Completed", "message_id": format!("m-{id}"), "identities": {"phone": "0912 345 678"},
           "properties": {"order_id": id, "revenue": revenue, "products": [{"product_id": "sua-1l", "price": 32000}]}})
}

#[test]
fn plans_block_or_record_violations_on_every_endpoint() {
    let app = TestApp::spawn();
    let (source, pos) = app.source("POS", "store");
    let plan_path = format!("/api/v1/sources/{source}/tracking-plan");
    assert_eq!(app.get(&plan_path, &app.admin_key).status, 404, "no plan yet");
    let schema = json!({"type": "object", "required": ["order_id", "revenue"],
        "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number", "minimum": 0},
                       "products": {"type": "array", "items": {"type": "object", "properties": {"price": {"type": "number"}}}}}});
    let r = app.send_json("PUT", &plan_path, &app.admin_key, json!({"events": {"Order Completed": schema}, "violations": "block"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["unplanned"].as_str(), r.body["violations"].as_str()), (Some("allow"), Some("block")));
    assert_eq!(app.get(&plan_path, &app.admin_key).body, r.body);

    // /api/v1/events: a good order passes; "350k" is refused, named by its path.
    assert_eq!(app.post("/api/v1/events", &pos, order("A-1", json!(350_000))).status, 202);
    let r = app.post("/api/v1/events", &pos, order("A-2", json!("350k")));
    assert_eq!(
        (r.status, r.code(), r.body["error"]["details"]["path"].as_str()),
        (422, "tracking_plan_violation", Some("properties.revenue")),
        "{}",
        r.body
    );
    // Unplanned events are allowed (and recorded); identify is not planned at all.
    assert_eq!(app.post("/api/v1/events", &pos, json!({"event": "Coupon Applied", "identities": {"phone": "0912345678"}})).status, 202);
    assert_eq!(
        app.post("/api/v1/events", &pos, json!({"type": "identify", "identities": {"phone": "0912345678"}, "traits": {"x": 1}})).status,
        202
    );

    // The batch endpoint: the bad one is rejected with its path, the others stored.
    let mut bad = order("B-2", json!(100));
    bad["properties"]["products"][0]["price"] = json!("x");
    let r = app.post(
        "/api/v1/events/batch",
        &pos,
        json!({"events": [order("B-1", json!(1)), bad, {"event": "Coupon Applied", "identities": {"phone": "0912345678"}}]}),
    );
    assert_eq!((r.body["accepted"].as_i64(), r.body["rejected"].as_i64()), (Some(2), Some(1)), "{}", r.body);
    let e = &r.body["results"][1]["error"];
    assert_eq!(
        (e["code"].as_str(), e["details"]["path"].as_str()),
        (Some("tracking_plan_violation"), Some("properties.products[0].price")),
        "{e}"
    );

    // The Segment-compatible API: /v1/track refused with 400 and the path; /v1/batch keeps the good ones.
    let r = segment(&app, "/v1/track", &pos, json!({"userId": "u1", "event": "Order Completed", "properties": {"revenue": 5}}));
    assert_eq!((r.status, r.code()), (400, "tracking_plan_violation"), "{}", r.body);
    assert_eq!(r.body["error"]["details"]["rejected"][0]["error"]["details"]["path"], "properties.order_id", "{}", r.body);
    let r = segment(
        &app,
        "/v1/batch",
        &pos,
        json!({"batch": [{"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"order_id": "S-1", "revenue": -1}},
                         {"type": "track", "userId": "u1", "event": "Order Completed", "properties": {"order_id": "S-2", "revenue": 10}}]}),
    );
    assert_eq!((r.status, r.body["accepted"].as_i64()), (200, Some(1)), "{}", r.body);
    assert_eq!(r.body["rejected"][0]["error"]["details"]["path"], "properties.revenue");

    // The log: newest first, blocked ones and allowed ones (with the event stored).
    let log = app.get(&format!("/api/v1/sources/{source}/violations?limit=100"), &app.admin_key).body;
    let items = log["items"].as_array().unwrap();
    let seen: Vec<(bool, &str, &str)> =
        items.iter().rev().map(|v| (v["blocked"].as_bool().unwrap(), v["kind"].as_str().unwrap(), v["path"].as_str().unwrap())).collect();
    assert_eq!(
        seen,
        [
            (true, "invalid", "properties.revenue"),
            (false, "unplanned", "event"),
            (true, "invalid", "properties.products[0].price"),
            (false, "unplanned", "event"),
            (true, "invalid", "properties.order_id"),
            (true, "invalid", "properties.revenue"),
        ],
        "{log}"
    );
    assert!(items.iter().filter(|v| v["blocked"] == false).all(|v| v["event_id"].is_string()), "{log}");
    assert_eq!(items.last().unwrap()["message_id"], "m-A-2");

    // The other way round: unplanned blocked, violations allowed and stored.
    let r = app.send_json(
        "PUT",
        &plan_path,
        &app.admin_key,
        json!({"events": {"Order Completed": schema}, "unplanned": "block", "violations": "allow"}),
    );
    assert_eq!(r.status, 200);
    let r = app.post("/api/v1/events", &pos, json!({"event": "Coupon Applied", "identities": {"phone": "0912345678"}}));
    assert_eq!((r.status, r.body["error"]["details"]["path"].as_str()), (422, Some("event")), "{}", r.body);
    let r = app.post("/api/v1/events", &pos, order("C-1", json!("350k")));
    assert_eq!(r.status, 202, "{}", r.body);
    let newest = &app.get(&format!("/api/v1/sources/{source}/violations?limit=1"), &app.admin_key).body["items"][0];
    assert_eq!((newest["blocked"].as_bool(), newest["event_id"].as_str()), (Some(false), r.body["id"].as_str()), "{newest}");

    // Keys bound to no source, and other sources, have no plan.
    let (_, web) = app.source("Web", "web");
    assert_eq!(app.post("/api/v1/events", &web, json!({"event": "Coupon Applied", "identities": {"phone": "0912345678"}})).status, 202);

    // Bad plans are refused by path; unknown sources are 404.
    let r = app.send_json("PUT", &plan_path, &app.admin_key, json!({"events": {"X": {"type": 12}}, "unplanned": "sometimes"}));
    let fields: Vec<&str> = r.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((r.status, fields), (422, vec!["unplanned", "events.X"]), "{}", r.body);
    assert_eq!(app.send_json("PUT", "/api/v1/sources/nope/tracking-plan", &app.admin_key, json!({"events": {}})).status, 404);
}
