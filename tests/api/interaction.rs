//! Interaction: a complaint on Facebook, the hotline call after it, the
//! agent's context, the case resolved, NPS moving exactly as by hand, and
//! "you spoke, we listened".

use super::auth::{bearer, operator_token};
use cdp_suite::*;
use serde_json::Value;

fn nps(app: &TestApp, key: &str, query: &str) -> Value {
    let r = app.get(&format!("/api/v1/analytics/nps?{query}"), key);
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[test]
fn a_facebook_complaint_then_a_hotline_call_then_nps() {
    let app = TestApp::spawn();
    let (_, facebook) = app.source("Fanpage", "social");
    let (_, hotline) = app.source("Tổng đài", "hotline");
    let (_, mobile) = app.source("App", "app");
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let today = chrono::Utc::now().date_naive().to_string();

    // Earlier NPS answers from other customers: 9, 8, 6, 3 → (1 − 2) / 4 = −25.
    for (i, score) in [9, 8, 6, 3].into_iter().enumerate() {
        let r = app.post(
            "/api/v1/feedback",
            &mobile,
            json!({"kind": "nps", "score": score, "channel": "app", "identities": {"email": format!("k{i}@example.vn")}}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let before = nps(&app, &analyst, "");
    assert_eq!((before["responses"].as_u64(), before["nps"].as_f64()), (Some(4), Some(-25.0)));

    // 1. The complaint arrives on the Facebook page: negative text feedback and a case.
    let fb = app.post(
        "/api/v1/feedback",
        &facebook,
        json!({"kind": "text", "text": "Sữa bị vón cục, tôi rất thất vọng", "channel": "social", "category": "product_quality",
               "identities": {"facebook_id": "fb-1029384756"}}),
    );
    assert_eq!(fb.status, 201, "{}", fb.body);
    assert_eq!(fb.body["sentiment"]["label"], "negative");
    let pid = fb.body["profile_id"].as_str().unwrap().to_string();
    let case = app.post(
        "/api/v1/cases",
        &app.admin_key,
        json!({"identities": {"facebook_id": "fb-1029384756"}, "category": "product_quality", "priority": "high",
               "channel": "social", "subject": "Sữa bị vón cục"}),
    );
    assert_eq!(case.status, 201, "{}", case.body);
    assert_eq!((case.body["profile_id"].as_str(), case.body["status"].as_str()), (Some(pid.as_str()), Some("open")));
    let case_id = case.body["id"].as_str().unwrap().to_string();
    let opened = chrono::DateTime::parse_from_rfc3339(case.body["created_at"].as_str().unwrap()).unwrap();
    let due = chrono::DateTime::parse_from_rfc3339(case.body["due_at"].as_str().unwrap()).unwrap();
    assert_eq!((due - opened).num_hours(), 24, "high priority: due in 24 h");

    // 2. The next day she calls the hotline; the agent's tool links her phone to the page.
    let call = app.event(
        &hotline,
        json!({"event": "Call Received", "identities": {"phone": "0912 345 678", "facebook_id": "fb-1029384756"},
                                 "traits": {"first_name": "Lan", "last_name": "Trần", "city": "Hà Nội"}}),
    );
    assert_eq!(call["profile_id"].as_str(), Some(pid.as_str()));

    // 3. The agent, logged in with the agent role, opens her context by phone.
    let token = operator_token(&app, "hoa.agent", "agent");
    let found = bearer(&app, "GET", "/api/v1/profiles/lookup?type=phone&value=%2B84912345678", &token, None);
    assert_eq!(found.body["id"].as_str(), Some(pid.as_str()));
    let ctx = bearer(&app, "GET", &format!("/api/v1/profiles/{pid}/context"), &token, None);
    assert_eq!(ctx.status, 200, "{}", ctx.body);
    let c = &ctx.body;
    assert_eq!(c["profile"]["traits"]["first_name"], "Lan");
    assert_eq!(c["open_cases"][0]["id"].as_str(), Some(case_id.as_str()), "the Facebook case first");
    assert_eq!(c["open_cases"][0]["channel"], "social");
    let names: Vec<&str> = c["recent_interactions"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap_or("")).collect();
    assert_eq!(names, ["Call Received", "Case Opened", "Feedback Submitted"], "newest first, every channel");
    assert_eq!(c["recent_interactions"][2]["properties"]["text"], "Sữa bị vón cục, tôi rất thất vọng");
    assert!(c["consents"]["items"].is_array() && c["preferences"]["preferences"].is_object() && c["value"]["orders_count"] == 0);

    // 4. The agent resolves it: who and when are recorded; closed cases never reopen.
    let done = bearer(
        &app,
        "PATCH",
        &format!("/api/v1/cases/{case_id}"),
        &token,
        Some(json!({"status": "resolved", "resolution": "Đổi hộp sữa mới", "note": "gọi lại cho khách"})),
    );
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body["resolved_by"].as_str().unwrap().starts_with("user:"));
    assert!(done.body["resolved_at"].is_string());
    let history = done.body["history"].as_array().unwrap();
    assert_eq!(history.iter().map(|h| h["status"].as_str().unwrap()).collect::<Vec<_>>(), ["open", "resolved"]);
    assert_eq!(history[1]["note"], "gọi lại cho khách");
    let ctx = app.get(&format!("/api/v1/profiles/{pid}/context"), &app.admin_key).body;
    assert_eq!(ctx["open_cases"], json!([]));
    assert_eq!(ctx["recent_interactions"][0]["event"], "Case Resolved");
    let close = |s: &str| app.send_json("PATCH", &format!("/api/v1/cases/{case_id}"), &app.admin_key, json!({"status": s}));
    assert_eq!(close("closed").status, 200);
    let r = close("open");
    assert_eq!((r.status, r.code()), (409, "invalid_transition"));

    // 5. Her NPS answer after the resolution: 10 → (2 − 2) / 5 = 0, by hand.
    let r = app.post(
        "/api/v1/feedback",
        &mobile,
        json!({"kind": "nps", "score": 10, "channel": "app", "case_id": case_id,
                                                         "text": "Cảm ơn, xử lý nhanh chóng", "identities": {"phone": "0912345678"}}),
    );
    assert_eq!((r.status, r.body["profile_id"].as_str()), (201, Some(pid.as_str())), "{}", r.body);
    assert_eq!(r.body["sentiment"]["label"], "positive");
    let after = nps(&app, &analyst, "");
    assert_eq!((after["responses"].as_u64(), after["promoters"].as_u64(), after["detractors"].as_u64()), (Some(5), Some(2), Some(2)));
    assert_eq!(after["nps"].as_f64(), Some(0.0));
    let by_city = nps(&app, &analyst, "city=H%C3%A0%20N%E1%BB%99i");
    assert_eq!((by_city["responses"].as_u64(), by_city["nps"].as_f64()), (Some(1), Some(100.0)));
    assert_eq!(after["by_month"][0]["key"].as_str().unwrap(), &today[..7]);
    // Empty periods and channels: counts of zero, ratios null, never a division by zero.
    let empty = nps(&app, &analyst, "from=2020-01-01&to=2020-01-31");
    assert_eq!((empty["responses"].as_u64(), empty["nps"].clone(), empty["csat_mean"].clone()), (Some(0), Value::Null, Value::Null));
    assert_eq!(nps(&app, &analyst, "channel=email")["nps"], Value::Null);

    // Cases analytics and the lists.
    let stats = app.get("/api/v1/analytics/cases", &analyst).body;
    assert_eq!((stats["opened"].as_u64(), stats["resolved"].as_u64(), stats["sla_breaches"].as_u64()), (Some(1), Some(1), Some(0)));
    assert_eq!(stats["top_categories"][0]["category"], "product_quality");
    assert!(stats["median_hours_to_resolve"].as_f64().unwrap() < 1.0);
    assert_eq!(app.get("/api/v1/cases?status=open,pending", &app.admin_key).body["items"], json!([]));
    assert_eq!(app.get(&format!("/api/v1/cases?profile_id={pid}"), &app.admin_key).body["items"].as_array().unwrap().len(), 1);
    let negative = app.get("/api/v1/feedback?sentiment=negative", &app.admin_key).body;
    assert_eq!(negative["items"].as_array().unwrap().len(), 1);

    // Agents work cases and read context, but do not export audiences.
    assert_eq!(bearer(&app, "GET", "/api/v1/segments", &token, None).status, 403);
    assert_eq!(bearer(&app, "GET", "/api/v1/analytics/nps", &token, None).status, 403);
}

#[test]
fn you_spoke_we_listened_reaches_complainers_who_consent() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let give = |email: &str, text: &str, category: &str| {
        let r = app.post(
            "/api/v1/feedback",
            &web,
            json!({"kind": "text", "text": text, "channel": "web", "category": category,
                                                          "identities": {"email": email}}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["profile_id"].as_str().unwrap().to_string()
    };
    let late = give("an@example.vn", "Giao hang cham tre, khong hai long", "delivery");
    let quiet = give("binh@example.vn", "Delivery was late again, very disappointed", "delivery");
    let happy = give("chi@example.vn", "Giao hàng nhanh, cảm ơn", "delivery");
    let other = give("dung@example.vn", "Sữa có mùi lạ", "product_quality");
    for (p, status) in [(&late, "granted"), (&quiet, "denied"), (&happy, "granted"), (&other, "granted")] {
        let r = app.send_json(
            "PUT",
            &format!("/api/v1/profiles/{p}/consents/zalo"),
            &app.admin_key,
            json!({"status": status, "source": "zalo-oa"}),
        );
        assert_eq!(r.status, 200);
    }
    let imp = app.post(
        "/api/v1/improvements",
        &app.admin_key,
        json!({"title": "Giao hàng 2 giờ", "description": "Ba kho mới ở Hà Nội", "categories": ["delivery"], "channel": "zalo"}),
    );
    assert_eq!(imp.status, 201, "{}", imp.body);
    let aud = app.get(&format!("/api/v1/improvements/{}/audience", imp.body["id"].as_str().unwrap()), &app.admin_key);
    assert_eq!(aud.status, 200, "{}", aud.body);
    let ids: Vec<&str> = aud.body["items"].as_array().unwrap().iter().map(|m| m["profile"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [late.as_str()], "negative, in the category, consenting on Zalo");
    assert_eq!(aud.body["items"][0]["complaints"], 1);

    let bad =
        app.post("/api/v1/feedback", &web, json!({"kind": "nps", "score": 11, "channel": "web", "identities": {"email": "x@example.vn"}}));
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("score")));
    let bad =
        app.post("/api/v1/feedback", &web, json!({"kind": "csat", "score": 0, "channel": "web", "identities": {"email": "x@example.vn"}}));
    assert_eq!(bad.status, 422);
    let bad = app.post(
        "/api/v1/cases",
        &app.admin_key,
        json!({"profile_id": late, "category": "delivery", "priority": "asap", "channel": "web", "subject": "x"}),
    );
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("priority")));
    // A retried answer (same message_id) is recorded once.
    let body = json!({"kind": "csat", "score": 5, "channel": "web", "identities": {"email": "an@example.vn"}, "message_id": "csat-1"});
    let first = app.post("/api/v1/feedback", &web, body.clone());
    let again = app.post("/api/v1/feedback", &web, body);
    assert_eq!((first.status, again.status), (201, 200));
    assert_eq!(first.body["id"], again.body["id"]);
}
