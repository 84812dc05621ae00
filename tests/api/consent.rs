//! Consent with history, and preferences.

use cdp_suite::*;

#[test]
fn consent_history_latest_decision_wins_and_merges_keep_it() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let a =
        app.event(&web, json!({"type": "identify", "identities": {"email": "lan@example.vn"}}))["profile_id"].as_str().unwrap().to_string();
    let put = |pid: &str, channel: &str, status: &str, at: &str| {
        send(
            ureq::put(&app.url(&format!("/api/v1/profiles/{pid}/consents/{channel}"))).set("X-Api-Key", &app.admin_key),
            Some(json!({"status": status, "source": "web-form", "recorded_at": at})),
        )
    };
    let r = put(&a, "email", "granted", "2026-11-20T10:00:00Z");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"][0]["status"], "granted");
    // An older denial arriving late changes nothing; a newer one does.
    let r = put(&a, "email", "denied", "2026-11-20T09:00:00Z");
    assert_eq!((r.body["items"][0]["status"].as_str(), r.body["history"].as_array().unwrap().len()), (Some("granted"), 2));
    let r = put(&a, "email", "denied", "2026-11-21T09:00:00Z");
    assert_eq!(r.body["items"][0]["status"], "denied");
    assert!(r.body["history"][2]["actor"].as_str().unwrap().starts_with("key:"));
    assert_eq!(put(&a, "fax", "granted", "2026-11-21T09:00:00Z").status, 422);
    assert_eq!(put(&a, "sms", "maybe", "2026-11-21T09:00:00Z").status, 422);

    // Consent carried by an event, on another profile that then merges in.
    let b = app.event(
        &web,
        json!({"event": "Zalo Followed", "occurred_at": "2026-11-22T08:00:00Z", "identities": {"zalo_id": "z-1"},
                                   "context": {"consent": {"zalo": "granted"}}}),
    )["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(a, b);
    let bad =
        app.post("/api/v1/events", &web, json!({"event": "x", "identities": {"zalo_id": "z-1"}, "context": {"consent": {"zalo": "yes"}}}));
    assert_eq!(bad.status, 422);
    app.event(&web, json!({"event": "Linked", "identities": {"email": "lan@example.vn", "zalo_id": "z-1"}}));
    let c = app.get(&format!("/api/v1/profiles/{b}/consents"), &app.admin_key).body;
    let now: Vec<(String, String)> = c["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["channel"].as_str().unwrap().to_string(), i["status"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(now, [("email".to_string(), "denied".to_string()), ("zalo".to_string(), "granted".to_string())]);
    assert_eq!(c["profile_id"], a.as_str());
    assert_eq!(c["history"].as_array().unwrap().len(), 4);
}

#[test]
fn preferences_are_validated_and_versioned() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let pid =
        app.event(&web, json!({"type": "identify", "identities": {"email": "an@example.vn"}}))["profile_id"].as_str().unwrap().to_string();
    let put = |body: serde_json::Value| {
        send(ureq::put(&app.url(&format!("/api/v1/profiles/{pid}/preferences"))).set("X-Api-Key", &app.admin_key), Some(body))
    };
    let r = put(
        json!({"preferred_channel": "zalo", "language": "vi", "favourite_categories": ["sua-bot", " sua-bot "], "contact_hours": {"from": "08:00", "to": "21:00"}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["preferences"]["favourite_categories"], json!(["sua-bot"]));
    let r = put(json!({"preferred_channel": "fax", "contact_hours": {"from": "8h", "to": "21:00"}}));
    assert_eq!(r.status, 422);
    let fields: Vec<&str> = r.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["preferred_channel", "contact_hours.from"]);
    put(json!({"language": "en"}));
    let g = app.get(&format!("/api/v1/profiles/{pid}/preferences"), &app.admin_key).body;
    assert_eq!(g["preferences"]["language"], "en");
    assert_eq!(g["history"].as_array().unwrap().len(), 2);
    assert_eq!(g["history"][1]["preferences"]["preferred_channel"], "zalo");
}
