//! Customer programmes through the API: vouchers.

use cdp_domain::auth::Scope;
use cdp_suite::*;
use serde_json::Value;

fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

fn person(app: &TestApp, key: &str, phone: &str) -> String {
    let e = app.event(key, json!({"event": "Signed Up", "identities": {"phone": phone}}));
    e["profile_id"].as_str().unwrap().to_string()
}

fn campaign(app: &TestApp, key: &str, body: Value) -> String {
    let r = app.post("/api/v1/voucher-campaigns", key, body);
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

/// Codes issued to people, to a segment's consenting members, up to the
/// campaign's limit, each a `voucher.issued` fact; redeemed exactly once
/// under 16 concurrent tills; refused for another order, another person,
/// outside the dates; a points voucher credits its points; merges followed.
#[test]
fn vouchers_are_issued_and_redeemed_exactly_once() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let reader = app.key(&[Scope::LoyaltyRead], None);
    // Something listens for voucher.issued: its deliveries show the facts.
    let d = app.post(
        "/api/v1/destinations",
        &app.admin_key,
        json!({"name": "CRM", "url": "http://127.0.0.1:9/hooks", "events": ["voucher.issued"]}),
    );
    assert_eq!(d.status, 201, "{}", d.body);
    let dest = d.body["id"].as_str().unwrap().to_string();

    let a = person(&app, &pos, "0912 000 001");
    let b = person(&app, &pos, "0912 000 002");
    let (yesterday, tomorrow) = (iso(now_secs() - 86_400), iso(now_secs() + 86_400));
    let tet = campaign(
        &app,
        &writer,
        json!({"name": "Quà Tết", "kind": "amount", "value": 50000, "valid_from": yesterday, "valid_to": tomorrow}),
    );
    let c = app.get(&format!("/api/v1/voucher-campaigns/{tet}"), &reader).body;
    assert_eq!((c["currency"].as_str(), c["per_profile_limit"].as_i64()), (Some("VND"), Some(1)), "{c}");

    let issue = |campaign: &str, body: Value| {
        let r = app.post(&format!("/api/v1/voucher-campaigns/{campaign}/issue"), &writer, body);
        assert_eq!(r.status, 201, "{}", r.body);
        r.body
    };
    let issued = issue(&tet, json!({"profile_ids": [a, b, a]}));
    assert_eq!((issued["issued"].as_i64(), issued["skipped"].as_i64()), (Some(2), Some(0)), "{issued}");
    let code_of = |owner: &str| {
        issued["items"].as_array().unwrap().iter().find(|i| i["profile_id"] == owner).unwrap()["code"].as_str().unwrap().to_string()
    };
    let (code_a, code_b) = (code_of(&a), code_of(&b));
    assert_ne!(code_a, code_b);
    assert_eq!(code_a.len(), 19, "{code_a}");
    // The limit is one code per person: issuing again gives nothing more.
    let again = issue(&tet, json!({"profile_ids": [a, b]}));
    assert_eq!((again["issued"].as_i64(), again["skipped"].as_i64()), (Some(0), Some(2)), "{again}");
    let bad = app.post(&format!("/api/v1/voucher-campaigns/{tet}/issue"), &writer, json!({"profile_ids": [a, "nobody"]}));
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("profile_ids[1]")), "{}", bad.body);

    // 16 tills redeem A's code for 16 different orders at once: one wins.
    let results = in_parallel(16, |i| {
        let r = app.post(&format!("/api/v1/vouchers/{code_a}/redeem"), &writer, json!({"order_id": format!("POS-{i}")}));
        vec![(i, r.status, r.code().to_string(), r.body)]
    });
    let winners: Vec<_> = results.iter().filter(|r| r.1 == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.1 != 200).all(|r| (r.1, r.2.as_str()) == (409, "already_redeemed")), "{results:?}");
    let (won, _, _, answer) = winners[0];
    assert_eq!((answer["status"].as_str(), answer["profile_id"].as_str()), (Some("redeemed"), Some(a.as_str())), "{answer}");
    // The winning order again (in any spelling of the code): the same answer.
    let replay = app.post(
        &format!("/api/v1/vouchers/{}/redeem", code_a.to_lowercase().replace('-', "")),
        &writer,
        json!({"order_id": format!("POS-{won}")}),
    );
    assert_eq!((replay.status, &replay.body), (200, answer));

    // B's code at A's till: not theirs.
    let r = app.post(&format!("/api/v1/vouchers/{code_b}/redeem"), &writer, json!({"order_id": "POS-B", "profile_id": a}));
    assert_eq!((r.status, r.code()), (403, "not_owner"), "{}", r.body);
    assert_eq!(app.post("/api/v1/vouchers/AAAA-BBBB-CCCC-DDDD/redeem", &writer, json!({"order_id": "x"})).status, 404);

    // Outside its dates.
    let old = campaign(
        &app,
        &writer,
        json!({"name": "Trung thu", "kind": "percent", "value": 10, "valid_from": "2025-09-01", "valid_to": "2025-09-30"}),
    );
    let code = issue(&old, json!({"profile_ids": [b]}))["items"][0]["code"].as_str().unwrap().to_string();
    let r = app.post(&format!("/api/v1/vouchers/{code}/redeem"), &writer, json!({"order_id": "POS-OLD"}));
    assert_eq!((r.status, r.code()), (422, "voucher_expired"), "{}", r.body);

    // A points voucher credits its points to the holder, once.
    let points = campaign(
        &app,
        &writer,
        json!({"name": "Điểm thưởng", "kind": "points", "value": 300, "valid_from": yesterday, "valid_to": tomorrow}),
    );
    let code = issue(&points, json!({"profile_ids": [b]}))["items"][0]["code"].as_str().unwrap().to_string();
    for _ in 0..2 {
        let r = app.post(&format!("/api/v1/vouchers/{code}/redeem"), &writer, json!({"order_id": "POS-P", "profile_id": b}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    assert_eq!(app.get(&format!("/api/v1/profiles/{b}/loyalty"), &reader).body["points_balance"], 300);

    // Consent-aware: of a segment's two members only the one who granted Zalo gets a code.
    let put = |pid: &str, status: &str| {
        let r = app.send_json(
            "PUT",
            &format!("/api/v1/profiles/{pid}/consents/zalo"),
            &app.admin_key,
            json!({"status": status, "source": "app"}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
    };
    put(&a, "granted");
    put(&b, "denied");
    let s = app.post("/api/v1/segments", &app.admin_key, json!({"name": "everyone", "rule": {"channel": "store"}}));
    assert_eq!((s.status, s.body["size"].as_i64()), (201, Some(2)), "{}", s.body);
    let zalo = campaign(
        &app,
        &writer,
        json!({"name": "Zalo", "kind": "amount", "value": 20000, "valid_from": yesterday, "valid_to": tomorrow,
               "consent": {"channel": "zalo"}, "per_profile_limit": 2}),
    );
    let to_segment = json!({"segment_id": s.body["id"]});
    let r = issue(&zalo, to_segment.clone());
    assert_eq!(
        (r["issued"].as_i64(), r["skipped"].as_i64(), r["items"][0]["profile_id"].as_str()),
        (Some(1), Some(1), Some(a.as_str())),
        "{r}"
    );
    assert_eq!(issue(&zalo, to_segment.clone())["issued"], 1, "a limit of two");
    assert_eq!(issue(&zalo, to_segment)["issued"], 0);

    // Every issue is a fact for destinations: 2 + 1 + 1 + 2 codes.
    let deliveries = app.get(&format!("/api/v1/destinations/{dest}/deliveries?limit=100"), &app.admin_key).body;
    let items = deliveries["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{deliveries}");
    assert!(items.iter().all(|d| d["event_type"] == "voucher.issued"));

    // A merge: B's codes are A's now, and B's id reads A's list.
    app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": "0912 000 001", "email": "b@example.vn"}}));
    app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": "0912 000 002", "email": "b@example.vn"}}));
    let mine = app.get(&format!("/api/v1/profiles/{b}/vouchers?limit=2"), &reader).body;
    let survivor = mine["items"][0]["profile_id"].as_str().unwrap().to_string();
    let mut codes = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = app.get(&format!("/api/v1/profiles/{survivor}/vouchers?limit=2&cursor={cursor}"), &reader).body;
        codes.extend(page["items"].as_array().unwrap().iter().map(|v| (v["code"].as_str().unwrap().to_string(), v["profile_id"].clone())));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(codes.len(), 6, "{codes:?}");
    assert!(codes.iter().all(|(_, p)| *p == survivor));
    let statuses: Vec<String> = app.get(&format!("/api/v1/profiles/{survivor}/vouchers?limit=10"), &reader).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(statuses.iter().filter(|s| *s == "redeemed").count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| *s == "expired").count(), 1, "{statuses:?}");

    // Bad input names the field.
    let r = app.post(
        "/api/v1/voucher-campaigns",
        &writer,
        json!({"name": "x", "kind": "gift", "value": 1, "valid_from": "2027-01-01", "valid_to": "soon"}),
    );
    let fields: Vec<&str> = r.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|f| f["field"].as_str().unwrap()).collect();
    assert_eq!((r.status, fields), (422, vec!["kind", "valid_to"]), "{}", r.body);
}

fn bearer(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
    send(ureq::request(method, &app.url(path)).set("Authorization", &format!("Bearer {token}")), body)
}

/// A customer's token, issued to the app backend, reads and edits that
/// customer's own data, follows merges, reaches nothing else, and stops
/// working when the customer erases themselves.
#[test]
fn customers_see_and_edit_their_own_data_and_nothing_else() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let backend = app.key(&[Scope::ProfilesWrite], None);
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let b = person(&app, &pos, "0913 000 002");
    let a = app.event(
        &pos,
        json!({"event": "Order Completed", "identities": {"phone": "0912 000 001"}, "properties": {"order_id": "A-1", "revenue": 1_200_000}}),
    )["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    let (yesterday, tomorrow) = (iso(now_secs() - 86_400), iso(now_secs() + 86_400));
    let gift =
        campaign(&app, &writer, json!({"name": "Quà", "kind": "amount", "value": 30000, "valid_from": yesterday, "valid_to": tomorrow}));
    let r = app.post(&format!("/api/v1/voucher-campaigns/{gift}/issue"), &writer, json!({"profile_ids": [a]}));
    let code = r.body["items"][0]["code"].as_str().unwrap().to_string();

    let token_for = |body: Value| {
        let r = app.post("/api/v1/customer-tokens", &backend, body);
        assert_eq!((r.status, r.body["token_type"].as_str()), (200, Some("Bearer")), "{}", r.body);
        r.body["access_token"].as_str().unwrap().to_string()
    };
    // The app knows its customer by phone, in its own spelling.
    let ta = token_for(json!({"identity": {"type": "phone", "value": "+84 912 000 001"}}));
    let tb = token_for(json!({"profile_id": b}));
    assert_eq!(app.post("/api/v1/customer-tokens", &backend, json!({"profile_id": "nobody"})).status, 404);
    let r = app.post("/api/v1/customer-tokens", &backend, json!({"identity": {"type": "phone", "value": "12"}}));
    assert_eq!((r.status, r.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("identity.value")), "{}", r.body);
    assert_eq!(app.post("/api/v1/customer-tokens", &writer, json!({"profile_id": b})).status, 403, "profiles:write issues tokens");

    let me = bearer(&app, "GET", "/api/v1/me", &ta, None);
    assert_eq!((me.status, me.body["id"].as_str()), (200, Some(a.as_str())), "{}", me.body);
    let loyalty = bearer(&app, "GET", "/api/v1/me/loyalty", &ta, None).body;
    assert_eq!((loyalty["points_balance"].as_i64(), loyalty["tier"]["code"].as_str()), (Some(120), Some("dong")), "{loyalty}");
    let ledger = bearer(&app, "GET", "/api/v1/me/loyalty/ledger", &ta, None).body;
    assert_eq!(ledger["items"][0]["order_id"], "A-1", "{ledger}");
    let vouchers = bearer(&app, "GET", "/api/v1/me/vouchers", &ta, None).body;
    assert_eq!((vouchers["items"][0]["code"].as_str(), vouchers["items"][0]["status"].as_str()), (Some(code.as_str()), Some("active")));
    assert_eq!(bearer(&app, "GET", "/api/v1/me/vouchers", &tb, None).body["items"], json!([]));

    // Their own consents and preferences, recorded as theirs.
    let r = bearer(&app, "PUT", "/api/v1/me/consents/zalo", &ta, Some(json!({"status": "granted", "policy_version": "2026-10"})));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["items"][0]["status"].as_str(), r.body["items"][0]["purpose"].as_str()), (Some("granted"), Some("marketing")));
    let h = &r.body["history"][0];
    assert_eq!((h["source"].as_str(), h["actor"].as_str()), (Some("self-service"), Some(format!("customer:{a}").as_str())), "{h}");
    bearer(&app, "PUT", "/api/v1/me/consents/email", &ta, Some(json!({"status": "denied"})));
    let zalo = bearer(&app, "GET", "/api/v1/me/consents/zalo", &ta, None).body;
    assert!(zalo["items"].as_array().unwrap().iter().all(|i| i["channel"] == "zalo") && zalo["items"].as_array().unwrap().len() == 1);
    let all = app.get(&format!("/api/v1/profiles/{a}/consents"), &app.admin_key).body;
    assert_eq!(all["items"].as_array().unwrap().len(), 2, "the operator sees what the customer decided: {all}");
    let r = bearer(&app, "PUT", "/api/v1/me/consents/pigeon", &ta, Some(json!({"status": "granted"})));
    assert_eq!(r.status, 422);
    let prefs = json!({"preferred_channel": "zalo", "language": "vi", "favourite_categories": ["sua-chua"]});
    let r = bearer(&app, "PUT", "/api/v1/me/preferences", &ta, Some(prefs));
    assert_eq!(r.status, 200, "{}", r.body);
    let p = bearer(&app, "GET", "/api/v1/me/preferences", &ta, None).body;
    assert_eq!(p["preferences"]["preferred_channel"], "zalo", "{p}");
    let f = bearer(&app, "POST", "/api/v1/me/feedback", &ta, Some(json!({"kind": "csat", "score": 5, "text": "Sữa ngon, giao nhanh"})));
    assert_eq!((f.status, f.body["profile_id"].as_str(), f.body["channel"].as_str()), (201, Some(a.as_str()), Some("app")), "{}", f.body);

    // Nothing else: not their profile by id, not another's, not any list.
    for path in [
        format!("/api/v1/profiles/{a}"),
        format!("/api/v1/profiles/{b}"),
        format!("/api/v1/profiles/{b}/vouchers"),
        format!("/api/v1/profiles/{b}/loyalty"),
        "/api/v1/segments".to_string(),
    ] {
        let r = bearer(&app, "GET", &path, &ta, None);
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{path}");
    }
    let r = bearer(&app, "POST", &format!("/api/v1/vouchers/{code}/redeem"), &ta, Some(json!({"order_id": "self"})));
    assert_eq!(r.status, 403);
    // An operator's key is not a customer.
    assert_eq!(app.get("/api/v1/me", &app.admin_key).status, 403);

    // A merge: both tokens read the survivor, with both phones.
    app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": "0912 000 001", "email": "ab@example.vn"}}));
    app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": "0913 000 002", "email": "ab@example.vn"}}));
    let survivor = app.get(&format!("/api/v1/profiles/{a}"), &app.admin_key).body["id"].as_str().unwrap().to_string();
    for t in [&ta, &tb] {
        let me = bearer(&app, "GET", "/api/v1/me", t, None).body;
        assert_eq!(me["id"].as_str(), Some(survivor.as_str()), "{me}");
        let phones = me["identities"].as_array().unwrap().iter().filter(|i| i["type"] == "phone").count();
        assert_eq!(phones, 2, "{me}");
        assert_eq!(bearer(&app, "GET", "/api/v1/me/vouchers", t, None).body["items"][0]["code"].as_str(), Some(code.as_str()));
    }

    // Their export, then their erasure: the token stops working.
    let export = bearer(&app, "GET", "/api/v1/me/export", &tb, None);
    assert_eq!((export.status, export.body["profile"]["id"].as_str()), (200, Some(survivor.as_str())), "{}", export.body);
    let erased = bearer(&app, "DELETE", "/api/v1/me", &tb, None);
    assert_eq!((erased.status, erased.body["profile_id"].as_str()), (200, Some(survivor.as_str())), "{}", erased.body);
    for t in [&ta, &tb] {
        let r = bearer(&app, "GET", "/api/v1/me", t, None);
        assert_eq!((r.status, r.code()), (401, "unauthorized"), "{}", r.body);
    }
    let audit = app.get(&format!("/api/v1/audit?profile_id={survivor}"), &app.admin_key).body;
    let actions: Vec<(&str, &str)> =
        audit["items"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert!(actions.contains(&("profile.erase", format!("customer:{b}").as_str())), "{actions:?}");
}
