//! The Segment-compatible tracking API over HTTP.

use cdp_suite::*;
use std::io::Write;

fn basic(key: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{key}:")))
}

fn segment(app: &TestApp, path: &str, key: &str, body: serde_json::Value) -> Resp {
    send(ureq::post(&app.url(path)).set("Authorization", &basic(key)), Some(body))
}

#[test]
fn sdk_style_calls_build_profiles_and_retries_count_once() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Website backend", "web");
    let batch = json!({
        "sentAt": "2026-11-20T10:00:05Z",
        "context": {"library": {"name": "analytics-node", "version": "2.1.0"}, "ip": "203.0.113.9"},
        "batch": [
            {"type": "identify", "userId": "u-1", "anonymousId": "a-1", "messageId": "m1", "timestamp": "2026-11-20T10:00:00Z",
             "traits": {"email": "Lan.Tran@Example.vn", "name": "Trần Lan"}},
            {"type": "track", "userId": "u-1", "event": "Order Completed", "messageId": "m2", "timestamp": "2026-11-20T10:00:01Z",
             "properties": {"order_id": "W-1", "revenue": 259000}, "context": {"traits": {"phone": "0912 000 111"}}},
            {"type": "page", "anonymousId": "a-2", "name": "Sữa bột", "messageId": "m3", "timestamp": "2026-11-20T10:00:02Z"},
            {"type": "alias", "userId": "u-2", "previousId": "a-2", "messageId": "m4", "timestamp": "2026-11-20T10:00:03Z"},
            {"type": "group", "userId": "u-1", "groupId": "cty-42", "traits": {"name": "Công ty 42"}, "messageId": "m5"},
            {"type": "screen", "userId": "u-2", "name": "Giỏ hàng", "messageId": "m6", "context": {"externalIds": [{"id": "hs-2", "type": "hubspot_id"}]}}
        ]
    });
    let r = segment(&app, "/v1/batch", &web, batch.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["success"], true);
    assert_eq!(r.body["accepted"], 6);

    let u1 = app.lookup("user_id", "u-1").body;
    let ids: Vec<String> = u1["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| format!("{}={}", i["type"].as_str().unwrap(), i["value"].as_str().unwrap()))
        .collect();
    for want in ["user_id=u-1", "anonymous_id=a-1", "email=lan.tran@example.vn", "phone=+84912000111"] {
        assert!(ids.contains(&want.to_string()), "{want} in {ids:?}");
    }
    assert_eq!(u1["traits"]["name"], "Trần Lan");
    assert_eq!(u1["channels"], json!(["web"]), "the channel comes from the write key's source");
    assert_eq!(u1["accounts"], json!(["cty-42"]));
    assert_eq!(u1["event_count"], 3);
    // The alias joined the anonymous page view to u-2.
    let u2 = app.lookup("user_id", "u-2").body;
    assert_eq!(app.lookup("anonymous_id", "a-2").body["id"], u2["id"]);
    assert_eq!(app.lookup("hubspot_id", "hs-2").body["id"], u2["id"]);
    assert_eq!(u2["event_count"], 3);
    let t = app.get(&format!("/api/v1/profiles/{}/events", u1["id"].as_str().unwrap()), &app.admin_key).body;
    let order = t["items"].as_array().unwrap().iter().find(|e| e["event"] == "Order Completed").unwrap().clone();
    assert_eq!(order["context"]["ip"], "203.0.113.9", "batch context merged into each message");
    assert_eq!(order["message_id"], "m2");

    // A forced resend of the same messageIds changes nothing.
    let r = segment(&app, "/v1/batch", &web, batch);
    assert_eq!((r.status, r.body["accepted"].as_u64(), r.body["duplicates"].as_u64()), (200, Some(0), Some(6)));
    assert_eq!(app.lookup("user_id", "u-1").body["event_count"], 3);
    assert_eq!(app.count_live_profiles(), 2);
}

#[test]
fn single_endpoints_auth_variants_and_clock_skew() {
    let app = TestApp::spawn();
    let (_, app_key) = app.source("Mobile app", "app");
    // writeKey in the body instead of Basic auth.
    let r = app.post("/v1/identify", "", json!({"writeKey": app_key, "userId": "u-9", "traits": {"city": "Huế"}}));
    assert_eq!((r.status, r.body["success"].as_bool()), (200, Some(true)), "{}", r.body);
    // The client's clock runs 1 hour fast: what it stamped 11:00 happened at 10:00 by ours.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let r = segment(
        &app,
        "/v1/track",
        &app_key,
        json!({"userId": "u-9", "event": "Skewed", "messageId": "sk-1",
        "originalTimestamp": iso(now + 3600 - 600), "sentAt": iso(now + 3600)}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let pid = app.lookup("user_id", "u-9").body["id"].as_str().unwrap().to_string();
    let t = app.get(&format!("/api/v1/profiles/{pid}/events"), &app.admin_key).body;
    let at = t["items"].as_array().unwrap().iter().find(|e| e["event"] == "Skewed").map(|e| e["occurred_at"].as_str().unwrap().to_string());
    // Corrected to ~10 minutes ago (a few seconds of test latency aside).
    let got = at.expect("the skewed event is on the timeline");
    assert!(got[..15] == iso(now - 600)[..15] || got[..15] == iso(now - 590)[..15], "{got} vs {}", iso(now - 600));
    assert_eq!(t["items"][0]["channel"], "app");

    // Two user_ids are never merged by alias.
    segment(&app, "/v1/identify", &app_key, json!({"userId": "u-10"}));
    let r = segment(&app, "/v1/alias", &app_key, json!({"userId": "u-10", "previousId": "u-9"}));
    assert_eq!(r.status, 200);
    assert_eq!(app.count_live_profiles(), 2);
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    assert_eq!(log["items"][0]["kind"], "conflict");
    // Group with an unknown user makes the profile and the account.
    let r = segment(&app, "/v1/group", &app_key, json!({"anonymousId": "g-1", "groupId": 77, "traits": {"plan": "gold"}}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.lookup("anonymous_id", "g-1").body["accounts"], json!(["77"]));
}

#[test]
fn gzip_limits_and_errors() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let body = json!({"batch": [{"type": "track", "anonymousId": "z-1", "event": "Zipped", "messageId": "z1"}]}).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body.as_bytes()).unwrap();
    let r = send_raw(
        ureq::post(&app.url("/v1/batch"))
            .set("Authorization", &basic(&web))
            .set("Content-Encoding", "gzip")
            .set("Content-Type", "application/json"),
        &gz.finish().unwrap(),
    );
    assert_eq!((r.status, r.body["accepted"].as_u64()), (200, Some(1)), "{}", r.body);
    assert_eq!(app.lookup("anonymous_id", "z-1").status, 200);

    let r = send_raw(ureq::post(&app.url("/v1/track")).set("Authorization", &basic(&web)), b"{not json");
    assert_eq!((r.status, r.code()), (400, "invalid_json"));
    let r = segment(&app, "/v1/track", &web, json!({"userId": "u", "event": "x", "properties": {"blob": "x".repeat(33 * 1024)}}));
    assert_eq!((r.status, r.code()), (400, "payload_too_large"));
    let many: Vec<_> = (0..2501).map(|i| json!({"type": "track", "anonymousId": format!("a{i}"), "event": "x"})).collect();
    let r = segment(&app, "/v1/batch", &web, json!({ "batch": many }));
    assert_eq!(r.status, 400);
    let big: Vec<_> = (0..20)
        .map(|i| json!({"type": "track", "anonymousId": format!("b{i}"), "event": "x", "properties": {"blob": "y".repeat(30_000)}}))
        .collect();
    let r = segment(&app, "/v1/batch", &web, json!({ "batch": big }));
    assert_eq!((r.status, r.code()), (400, "payload_too_large"));
    let r = segment(&app, "/v1/track", &web, json!({"event": "no one"}));
    assert_eq!(r.status, 400);
    assert_eq!(r.body["error"]["details"]["rejected"][0]["error"]["details"]["fields"][0]["field"], "userId");
    let r = segment(&app, "/v1/track", "cdp_wrong", json!({"userId": "u", "event": "x"}));
    assert_eq!(r.status, 401);
    let r = app.post("/v1/track", "", json!({"userId": "u", "event": "x"}));
    assert_eq!(r.status, 401);
    // Valid items of a batch are kept, invalid ones listed.
    let r = segment(
        &app,
        "/v1/batch",
        &web,
        json!({"batch": [{"type": "track", "userId": "ok", "event": "x"}, {"type": "track", "event": "x"}]}),
    );
    assert_eq!((r.status, r.body["accepted"].as_u64(), r.body["rejected"][0]["index"].as_u64()), (200, Some(1), Some(1)));
    assert_eq!(app.count_live_profiles(), 2);
}

#[test]
fn analytics_js_loads_its_settings_here_and_browsers_may_call_from_any_site() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Website", "web");
    let r = send(ureq::get(&app.url(&format!("/v1/projects/{web}/settings"))).set("Origin", "https://shop.example.vn"), None);
    assert_eq!(r.status, 200, "{}", r.body);
    let s = &r.body["integrations"]["Segment.io"];
    let host = app.base.trim_start_matches("http://");
    assert_eq!(
        (s["apiKey"].as_str(), s["apiHost"].as_str(), s["protocol"].as_str()),
        (Some(web.as_str()), Some(format!("{host}/v1").as_str()), Some("http"))
    );
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.body["metrics"]["sampleRate"], 0.0, "nothing is reported to Segment's servers");
    // Unknown keys, and keys that may not send events, have no settings.
    assert_eq!(send(ureq::get(&app.url("/v1/projects/cdp_nope/settings")), None).status, 404);
    let reader = app.key(&[cdp_domain::auth::Scope::ProfilesRead], None);
    assert_eq!(send(ureq::get(&app.url(&format!("/v1/projects/{reader}/settings"))), None).status, 404);

    // The preflight a browser sends before posting with an Authorization header.
    let r = send(
        ureq::request("OPTIONS", &app.url("/v1/t"))
            .set("Origin", "https://shop.example.vn")
            .set("Access-Control-Request-Method", "POST")
            .set("Access-Control-Request-Headers", "authorization,content-type"),
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.header("access-control-allow-methods").is_some_and(|m| m.contains("POST")));
    assert!(r.header("access-control-allow-headers").is_some_and(|h| h.to_ascii_lowercase().contains("authorization")));

    // What analytics.js then sends: text/plain, the key as Basic user and in the body, to /v1/<initial>.
    let body = json!({"type": "track", "event": "Product Viewed", "anonymousId": "a-1", "writeKey": web, "properties": {"sku": "SUA-1L"},
                      "messageId": "ajs-next-1"});
    let r = send_raw(
        ureq::post(&app.url("/v1/t"))
            .set("Content-Type", "text/plain")
            .set("Origin", "https://shop.example.vn")
            .set("Authorization", &basic(&web)),
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(app.lookup("anonymous_id", "a-1").body["event_count"], 1);
    for (path, kind) in [("/v1/p", "page"), ("/v1/i", "identify")] {
        let body = json!({"type": kind, "anonymousId": "a-1", "userId": "u-1", "writeKey": web});
        assert_eq!(send_raw(ureq::post(&app.url(path)).set("Content-Type", "text/plain"), body.to_string().as_bytes()).status, 200);
    }
    assert_eq!(app.lookup("user_id", "u-1").body["event_count"], 3);
}
