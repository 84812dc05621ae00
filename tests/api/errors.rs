use cdp_suite::*;

fn fields(r: &Resp) -> Vec<String> {
    r.body["error"]["details"]["fields"]
        .as_array()
        .map(|a| a.iter().map(|f| f["field"].as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn bad_input_gets_a_clear_4xx_naming_the_field_and_writes_nothing() {
    let app = TestApp::spawn();
    let (_, key) = app.source("Store", "store");
    let post =
        |body: &[u8]| send_raw(ureq::post(&app.url("/api/v1/events")).set("X-Api-Key", &key).set("Content-Type", "application/json"), body);

    let r = post(b"{\"event\": ");
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let r = post(b"[1, 2]");
    assert_eq!(r.status, 422, "{}", r.body);

    let cases = [
        (json!({"event": "x", "channel": "fax", "identities": {"phone": "0912345678"}}), "channel"),
        (json!({"event": "x"}), "identities"),
        (json!({"event": "x", "identities": {}}), "identities"),
        (json!({"event": "x", "identities": {"email": "not-an-email"}}), "identities.email"),
        (json!({"event": "x", "identities": {"phone": "12"}}), "identities.phone"),
        (json!({"event": "x", "identities": {"phone": ["0912345678"]}}), "identities.phone"),
        (json!({"event": "x", "identities": {"Bad-Type": "v"}}), "identities.Bad-Type"),
        (json!({"identities": {"phone": "0912345678"}}), "event"),
        (json!({"event": 5, "identities": {"phone": "0912345678"}}), "event"),
        (json!({"event": "x", "type": "click", "identities": {"phone": "0912345678"}}), "type"),
        (json!({"event": "x", "occurred_at": "yesterday", "identities": {"phone": "0912345678"}}), "occurred_at"),
        (json!({"event": "x", "traits": "tall", "identities": {"phone": "0912345678"}}), "traits"),
        (json!({"event": "x", "traits": {"email": "nope"}, "identities": {"phone": "0912345678"}}), "traits.email"),
        (json!({"event": "x", "message_id": "m".repeat(101), "identities": {"phone": "0912345678"}}), "message_id"),
    ];
    for (body, field) in cases {
        let r = app.post("/api/v1/events", &key, body.clone());
        assert_eq!(r.status, 422, "{body} → {}", r.body);
        assert_eq!(r.code(), "validation_failed");
        assert!(fields(&r).contains(&field.to_string()), "{body}: expected {field} in {:?}", fields(&r));
        assert!(!r.body["error"]["message"].as_str().unwrap().contains("0912345678"), "no personal data echoed");
    }
    assert_eq!(app.count_live_profiles(), 0, "nothing half-written");

    // Oversized bodies.
    let big =
        format!("{{\"event\":\"x\",\"identities\":{{\"phone\":\"0912345678\"}},\"properties\":{{\"blob\":\"{}\"}}}}", "x".repeat(70_000));
    let r = post(big.as_bytes());
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    let huge = format!(
        "{{\"events\":[{{\"event\":\"x\",\"identities\":{{\"phone\":\"0912345678\"}},\"properties\":{{\"blob\":\"{}\"}}}}]}}",
        "x".repeat(1_100_000)
    );
    let r = send_raw(ureq::post(&app.url("/api/v1/events/batch")).set("X-Api-Key", &key), huge.as_bytes());
    assert_eq!((r.status, r.code()), (413, "payload_too_large"));
    assert_eq!(app.count_live_profiles(), 0);
}

#[test]
fn batches_keep_valid_events_and_reject_the_rest_one_by_one() {
    let app = TestApp::spawn();
    let (_, key) = app.source("Store", "store");
    let r = app.post(
        "/api/v1/events/batch",
        &key,
        json!({"events": [
            {"event": "Order Completed", "identities": {"phone": "0912345678"}},
            {"event": "Order Completed", "identities": {"phone": "12"}},
            "not an event",
            {"event": "Order Completed", "identities": {"email": "an@example.vn"}}
        ]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["accepted"].as_u64(), r.body["rejected"].as_u64(), r.body["duplicates"].as_u64()), (Some(2), Some(2), Some(0)));
    let res = r.body["results"].as_array().unwrap();
    assert_eq!(res.iter().map(|x| x["index"].as_u64().unwrap()).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(res[1]["status"], "rejected");
    assert_eq!(res[1]["error"]["details"]["fields"][0]["field"], "identities.phone");
    assert_eq!(res[2]["status"], "rejected");
    assert_eq!(res[3]["status"], "accepted");
    assert_eq!(app.count_live_profiles(), 2);

    let too_many: Vec<_> = (0..1001).map(|i| json!({"event": "x", "identities": {"anonymous_id": format!("a{i}")}})).collect();
    let r = app.post("/api/v1/events/batch", &key, json!({ "events": too_many }));
    assert_eq!((r.status, fields(&r)), (422, vec!["events".to_string()]));
    for body in [json!({}), json!({"events": {}}), json!({"events": []})] {
        let r = app.post("/api/v1/events/batch", &key, body.clone());
        assert_eq!((r.status, fields(&r)), (422, vec!["events".to_string()]), "{body}");
    }
    assert_eq!(app.count_live_profiles(), 2);
}

#[test]
fn other_endpoints_answer_json_errors() {
    let app = TestApp::spawn();
    let r = app.get("/api/v1/nothing-here", &app.admin_key);
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = app.get("/api/v1/profiles/01936f3e-0000-7000-8000-000000000000", &app.admin_key);
    assert_eq!((r.status, r.code()), (404, "not_found"));
    let r = app.post("/api/v1/sources", &app.admin_key, json!({"name": "x", "channel": "fax"}));
    assert_eq!(r.status, 422, "{}", r.body);
    let r = send_raw(
        ureq::post(&app.url("/api/v1/sources")).set("X-Api-Key", &app.admin_key).set("Content-Type", "application/json"),
        b"{oops",
    );
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let r = app.get("/api/v1/profiles/lookup?type=email&value=not-an-email", &app.admin_key);
    assert_eq!((r.status, fields(&r)), (422, vec!["value".to_string()]));
    let r = app.get("/api/v1/profiles/lookup?type=Email&value=x", &app.admin_key);
    assert_eq!((r.status, fields(&r)), (422, vec!["type".to_string()]));
    let r = app.get("/api/v1/profiles/lookup", &app.admin_key);
    assert_eq!(r.status, 422);
}

#[test]
fn keys_over_their_rate_get_429_with_retry_after() {
    let app = TestApp::spawn_with(|s| {
        s.limits.rate_per_key = 0.5;
        s.limits.rate_burst = 2.0;
    });
    let (_, key) = app.source("Web", "web");
    let ev = json!({"event": "x", "identities": {"email": "rate@example.vn"}});
    assert_eq!(app.post("/api/v1/events", &key, ev.clone()).status, 202);
    assert_eq!(app.post("/api/v1/events", &key, ev.clone()).status, 202);
    let r = app.post("/api/v1/events", &key, ev.clone());
    assert_eq!((r.status, r.code()), (429, "rate_limited"), "{}", r.body);
    assert!(r.header("Retry-After").unwrap().parse::<u64>().unwrap() >= 1);
    // Another key is not held back by the first one's traffic.
    let other = app.key(&[cdp_domain::auth::Scope::EventsWrite], None);
    let r = app.post("/api/v1/events", &other, json!({"event": "x", "channel": "web", "identities": {"email": "rate@example.vn"}}));
    assert_eq!(r.status, 202, "{}", r.body);
}

#[test]
fn deep_wide_or_long_json_is_refused_with_its_code() {
    let app = TestApp::spawn();
    let (_, key) = app.source("Web", "web");
    let mut deep = json!("x");
    for _ in 0..12 {
        deep = json!({ "a": deep });
    }
    let wide: serde_json::Map<String, serde_json::Value> = (0..2500).map(|i| (format!("k{i}"), json!(i))).collect();
    let cases = [
        (json!({"event": "x", "identities": {"email": "a@b.vn"}, "properties": deep}), "properties", "too_deep"),
        (json!({"event": "x", "identities": {"email": "a@b.vn"}, "properties": wide}), "properties", "too_many"),
        (json!({"event": "x", "identities": {"email": "a@b.vn"}, "context": {"note": "x".repeat(10_001)}}), "context", "too_long"),
    ];
    for (body, field, code) in cases {
        let r = app.post("/api/v1/events", &key, body);
        assert_eq!(r.status, 422, "{}", r.body);
        let f = &r.body["error"]["details"]["fields"][0];
        assert_eq!((f["field"].as_str(), f["code"].as_str()), (Some(field), Some(code)));
    }
}

/// The codes an error body may carry, as the OpenAPI document lists them and
/// the guide documents them. A new code fails here until it is listed in
/// both.
#[test]
fn every_error_code_is_in_the_spec_and_documented() {
    const CODES: [&str; 22] = [
        "invalid_json",
        "unauthorized",
        "forbidden",
        "not_found",
        "conflict",
        "identity_erased",
        "insufficient_points",
        "invalid_transition",
        "out_of_stock",
        "reward_inactive",
        "already_redeemed",
        "voucher_expired",
        "not_owner",
        "tracking_plan_violation",
        "payload_too_large",
        "unsupported_media_type",
        "validation_failed",
        "too_many",
        "rate_limited",
        "contention",
        "service_unavailable",
        "internal_error",
    ];
    let spec = serde_json::to_value(cdp_api::openapi()).unwrap();
    let listed: Vec<&str> =
        spec["components"]["schemas"]["ErrorCode"]["enum"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    assert_eq!(listed, CODES, "the spec's ErrorCode enum");
    let served: Vec<&str> = cdp_api::error::ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(served, CODES, "ErrorCode::ALL");
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/guide.md")).unwrap();
    for code in CODES {
        assert!(guide.contains(&format!("| `{code}` |")), "docs/guide.md documents `{code}`");
    }
}
