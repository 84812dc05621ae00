//! Customer programmes through the API: vouchers, referrals, customer self-service.

use cdp_domain::auth::Scope;
use cdp_suite::*;
use serde_json::Value;

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}

pub(crate) fn person(app: &TestApp, key: &str, phone: &str) -> String {
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

    // A campaign on the same segment: each assignment is a fact too.
    let r = app.send_json(
        "PATCH",
        &format!("/api/v1/destinations/{dest}"),
        &app.admin_key,
        json!({"events": ["voucher.issued", "campaign.assigned"]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let c = app.post(
        "/api/v1/campaigns",
        &app.admin_key,
        json!({"name": "Zalo push", "segment_id": s.body["id"], "holdout_percent": 50, "goal": {"event": "Order Completed", "window_days": 14}}),
    );
    assert_eq!((c.status, c.body["size"].as_i64()), (201, Some(2)), "{}", c.body);
    let consenting =
        app.get(&format!("/api/v1/campaigns/{}/assignments?consent=zalo", c.body["id"].as_str().unwrap()), &app.admin_key).body;
    let items = consenting["items"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["profile_id"].as_str()), (1, Some(a.as_str())), "{consenting}");

    // Every issue is a fact for destinations: 2 + 1 + 1 + 2 codes, and 2 assignments.
    let deliveries = app.get(&format!("/api/v1/destinations/{dest}/deliveries?limit=100"), &app.admin_key).body;
    let items = deliveries["items"].as_array().unwrap();
    assert_eq!(items.len(), 8, "{deliveries}");
    assert_eq!(items.iter().filter(|d| d["event_type"] == "voucher.issued").count(), 6);
    assert_eq!(items.iter().filter(|d| d["event_type"] == "campaign.assigned").count(), 2);

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
    assert_eq!(export.body["vouchers"][0]["code"].as_str(), Some(code.as_str()), "{}", export.body);
    let erased = bearer(&app, "DELETE", "/api/v1/me", &tb, None);
    assert_eq!((erased.status, erased.body["profile_id"].as_str()), (200, Some(survivor.as_str())), "{}", erased.body);
    for t in [&ta, &tb] {
        let r = bearer(&app, "GET", "/api/v1/me", t, None);
        assert_eq!((r.status, r.code()), (401, "unauthorized"), "{}", r.body);
    }
    // Their unused voucher died with them.
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let r = app.post(&format!("/api/v1/vouchers/{code}/redeem"), &writer, json!({"order_id": "after-erasure"}));
    assert_eq!((r.status, r.code()), (404, "not_found"), "{}", r.body);
    let audit = app.get(&format!("/api/v1/audit?profile_id={survivor}"), &app.admin_key).body;
    let actions: Vec<(&str, &str)> =
        audit["items"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert!(actions.contains(&("profile.erase", format!("customer:{b}").as_str())), "{actions:?}");
}

/// A refers B: B's first order gives A the reward once — not B's second
/// order, not a replay, not a merge of B into A — and B's revenue shows in
/// A's value. A person who becomes the referrer by a merge earns nothing.
#[test]
fn a_referral_is_rewarded_once_on_the_first_order() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let (_, web) = app.source("Web", "web");
    let writer = app.key(&[Scope::LoyaltyWrite], None);
    let reader = app.key(&[Scope::LoyaltyRead, Scope::AnalyticsRead], None);
    let a = person(&app, &pos, "0912 000 001");
    let code = app.post(&format!("/api/v1/profiles/{a}/referral-code"), &writer, json!({})).body["code"].as_str().unwrap().to_string();
    assert_eq!(app.post(&format!("/api/v1/profiles/{a}/referral-code"), &writer, json!({})).body["code"], code.as_str(), "stable");
    assert_eq!(code.len(), 9, "{code}");

    // B signs up on the web with A's code (as typed: any case, no dash).
    let b = app.event(&web, json!({"event": "Signed Up", "identities": {"email": "b@example.vn"}, "context": {"referral_code": code.to_lowercase().replace('-', "")}}))
        ["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Someone with a code nobody holds, and A sending their own code: no link.
    app.event(&web, json!({"event": "Signed Up", "identities": {"email": "x@example.vn"}, "context": {"referral_code": "ZZZZ-ZZZZ"}}));
    app.event(&pos, json!({"event": "Visited", "identities": {"phone": "0912 000 001"}, "context": {"referral_code": code}}));
    let refs = |id: &str| app.get(&format!("/api/v1/profiles/{id}/referrals"), &reader).body;
    let r = refs(&a);
    assert_eq!(r["items"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!((r["items"][0]["profile_id"].as_str(), r["items"][0]["outcome"].as_str()), (Some(b.as_str()), Some("pending")));
    let balance = |id: &str| app.get(&format!("/api/v1/profiles/{id}/loyalty"), &reader).body["points_balance"].as_i64().unwrap();
    assert_eq!(balance(&a), 0);

    let order = |id: &str, revenue: i64| {
        json!({"event": "Order Completed", "message_id": format!("m-{id}"), "identities": {"email": "b@example.vn"},
               "properties": {"order_id": id, "revenue": revenue}})
    };
    app.event(&web, order("B-1", 500_000));
    assert_eq!(balance(&a), 100, "the default referral_points");
    app.event(&web, order("B-2", 300_000));
    assert_eq!(app.post("/api/v1/events", &web, order("B-1", 500_000)).body["status"], "duplicate");
    assert_eq!(balance(&a), 100, "once");
    let r = refs(&a);
    assert_eq!((r["items"][0]["outcome"].as_str(), r["items"][0]["points"].as_i64()), (Some("rewarded"), Some(100)), "{r}");
    assert_eq!((r["items"][0]["revenue_total"].as_f64(), r["referral_revenue"].as_f64()), (Some(800_000.0), Some(800_000.0)), "{r}");
    let value = app.get(&format!("/api/v1/profiles/{a}/value"), &reader).body;
    assert_eq!((value["referrals"].as_i64(), value["referral_revenue"].as_f64()), (Some(1), Some(800_000.0)), "{value}");
    let ledger = app.get(&format!("/api/v1/profiles/{a}/loyalty/ledger"), &reader).body;
    assert_eq!(ledger["items"][0]["kind"], "adjust", "{ledger}");

    // B turns out to be A: their points join, the referral gives nothing more.
    let before = balance(&a) + balance(&b);
    app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": "0912 000 001", "email": "b@example.vn"}}));
    app.event(&web, order("B-3", 200_000));
    assert_eq!(balance(&a), before + 20, "B-3 earns its own 20 points, nothing for the referral");
    assert_eq!(refs(&a)["items"], json!([]), "someone merged into the referrer is not a referral");

    // C refers D, and D turns out to be C before ordering: nothing.
    let c = person(&app, &pos, "0912 000 003");
    let code_c = app.post(&format!("/api/v1/profiles/{c}/referral-code"), &writer, json!({})).body["code"].as_str().unwrap().to_string();
    let d = app.event(&web, json!({"event": "Signed Up", "identities": {"email": "d@example.vn"}, "context": {"referral_code": code_c}}))
        ["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(refs(&c)["items"][0]["profile_id"], d.as_str());
    app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": "0912 000 003", "email": "d@example.vn"}}));
    app.event(&web, json!({"event": "Order Completed", "identities": {"email": "d@example.vn"}, "properties": {"order_id": "D-1", "revenue": 1_000_000}}));
    assert_eq!(balance(&c), 100, "D-1's own 100 points and no referral reward");
    let ledger = app.get(&format!("/api/v1/profiles/{c}/loyalty/ledger"), &reader).body;
    assert!(ledger["items"].as_array().unwrap().iter().all(|e| e["kind"] != "adjust"), "{ledger}");

    // The customer's own view: their code, and what their referrals earned, nothing about the others.
    let backend = app.key(&[Scope::ProfilesWrite], None);
    let token = app.post("/api/v1/customer-tokens", &backend, json!({"profile_id": a})).body["access_token"].as_str().unwrap().to_string();
    let mine = bearer(&app, "POST", "/api/v1/me/referral-code", &token, Some(json!({})));
    assert_eq!((mine.status, mine.body["code"].as_str()), (200, Some(code.as_str())));
    let e = app.event(&web, json!({"event": "Signed Up", "identities": {"email": "e@example.vn"}, "context": {"referral_code": code}}));
    app.event(
        &web,
        json!({"event": "Order Completed", "identities": {"email": "e@example.vn"}, "properties": {"order_id": "E-1", "revenue": 100_000}}),
    );
    let list = bearer(&app, "GET", "/api/v1/me/referrals", &token, None).body;
    assert_eq!(
        list["items"],
        json!([{"linked_at": list["items"][0]["linked_at"], "outcome": "rewarded",
        "first_order_at": list["items"][0]["first_order_at"], "points": 100}]),
        "{list}"
    );
    assert!(!list.to_string().contains(e["profile_id"].as_str().unwrap()));

    // Signing up with the code and ordering in one batch: linked, then rewarded.
    let before = balance(&a);
    let r = app.post(
        "/api/v1/events/batch",
        &web,
        json!({"events": [
            {"event": "Signed Up", "identities": {"email": "f@example.vn"}, "context": {"referral_code": code}},
            {"event": "Order Completed", "identities": {"email": "f@example.vn"}, "properties": {"order_id": "F-1", "revenue": 100_000}},
            {"event": "Order Completed", "identities": {"email": "f@example.vn"}, "properties": {"order_id": "F-2", "revenue": 100_000}}]}),
    );
    assert_eq!(r.body["accepted"], 3, "{}", r.body);
    assert_eq!(balance(&a), before + 100);

    // F's first order refunded in part: the reward stays; in full: it is taken back, once.
    let refund = |amount: Option<i64>| {
        let mut p = json!({"order_id": "F-1"});
        if let Some(a) = amount {
            p["revenue"] = json!(a);
        }
        app.event(&web, json!({"event": "Order Refunded", "identities": {"email": "f@example.vn"}, "properties": p}));
    };
    refund(Some(40_000));
    assert_eq!(balance(&a), before + 100);
    refund(None);
    assert_eq!(balance(&a), before, "the reward is reversed");
    refund(None);
    assert_eq!(balance(&a), before, "once");
    let outcomes: Vec<String> = refs(&a)["items"].as_array().unwrap().iter().map(|i| i["outcome"].as_str().unwrap().to_string()).collect();
    assert!(outcomes.contains(&"reversed".to_string()) && outcomes.contains(&"rewarded".to_string()), "{outcomes:?}");
    let ledger = app.get(&format!("/api/v1/profiles/{a}/loyalty/ledger"), &reader).body;
    assert_eq!((ledger["items"][0]["kind"].as_str(), ledger["items"][0]["points"].as_i64()), (Some("reverse"), Some(-100)), "{ledger}");
}
