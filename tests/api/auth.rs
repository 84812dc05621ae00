use cdp_domain::auth::Scope;
use cdp_suite::*;
use serde_json::Value;

/// Every operation of the served spec that declares a scope, with that scope.
fn secured_operations(app: &TestApp) -> Vec<(String, String, String)> {
    let spec = app.get("/openapi.json", "").body;
    let mut ops = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let Some(sec) = op.get("security").and_then(Value::as_array) else { continue };
            let scope = match sec[0].get("customer_token") {
                Some(_) => "customer".to_string(),
                None => sec[0]["api_key"][0].as_str().expect("secured operations name their scope").to_string(),
            };
            ops.push((method.to_uppercase(), path.clone(), scope));
        }
    }
    ops
}

fn call(app: &TestApp, method: &str, path: &str, key: Option<&str>) -> Resp {
    let url = app.url(&path.replace("{id}", "01936f3e-8a40-7000-8000-000000000000"));
    let mut req = ureq::request(method, &url);
    match key.map(|k| (k, k.strip_prefix("Bearer "))) {
        Some((_, Some(_))) => req = req.set("Authorization", key.unwrap()),
        Some((k, None)) => req = req.set("X-Api-Key", k),
        None => {}
    }
    let path_has_query = path.contains("lookup");
    if path_has_query {
        req = req.query("type", "email").query("value", "x@example.vn");
    }
    match method {
        "POST" | "PUT" | "PATCH" => send(req.set("Content-Type", "application/json"), Some(json!({}))),
        _ => send(req, None),
    }
}

fn rand_digits() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(10_000_000);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn every_endpoint_times_no_key_wrong_key_lacking_scope_right_scope() {
    let app = TestApp::spawn();
    let ops = secured_operations(&app);
    assert!(ops.len() >= 12, "the spec lists the secured operations: {ops:?}");
    let (_, pos) = app.source("POS", "store");
    // A customer's token: for a person of their own each time (`DELETE /me` erases them).
    let customer = || {
        let phone = format!("09{:08}", rand_digits());
        app.event(&pos, json!({"event": "Signed Up", "identities": {"phone": phone}}));
        let r = app.post("/api/v1/customer-tokens", &app.admin_key, json!({"identity": {"type": "phone", "value": phone}}));
        assert_eq!(r.status, 200, "{}", r.body);
        format!("Bearer {}", r.body["access_token"].as_str().unwrap())
    };
    let one_customer = customer();
    for (method, path, scope) in &ops {
        if scope == "customer" {
            let r = call(&app, method, path, None);
            assert_eq!((r.status, r.code()), (401, "unauthorized"), "{method} {path} without a token");
            let r = call(&app, method, path, Some("Bearer not-a-token"));
            assert_eq!((r.status, r.code()), (401, "unauthorized"), "{method} {path} with a wrong token");
            let r = call(&app, method, path, Some(&app.admin_key));
            assert_eq!((r.status, r.code()), (403, "forbidden"), "{method} {path} with an admin key");
            let r = call(&app, method, path, Some(&customer()));
            assert!(![401, 403].contains(&r.status), "{method} {path} with a customer token: {} {}", r.status, r.body);
            assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
            continue;
        }
        // A customer's token reaches nothing but `/me`.
        let r = call(&app, method, path, Some(&one_customer));
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{method} {path} with a customer token");
        let needed: Scope = scope.parse().unwrap();
        let others: Vec<Scope> = Scope::ALL.into_iter().filter(|s| *s != needed && *s != Scope::Admin).collect();
        let lacking = app.key(&others, None);
        let right = app.key(&[needed], None);

        let r = call(&app, method, path, None);
        assert_eq!((r.status, r.code()), (401, "unauthorized"), "{method} {path} without a key");
        let r = call(&app, method, path, Some("cdp_not-a-real-key"));
        assert_eq!((r.status, r.code()), (401, "unauthorized"), "{method} {path} with a wrong key");
        let r = call(&app, method, path, Some(&lacking));
        assert_eq!((r.status, r.code()), (403, "forbidden"), "{method} {path} lacking {scope}");
        let r = call(&app, method, path, Some(&right));
        assert!(![401, 403].contains(&r.status), "{method} {path} with {scope}: {} {}", r.status, r.body);
        assert!(r.status < 500, "{method} {path}: {} {}", r.status, r.body);
    }
}

#[test]
fn revoked_keys_stop_working_and_keys_are_listed_without_secrets() {
    let app = TestApp::spawn();
    let created = app.post("/api/v1/keys", &app.admin_key, json!({"name": "website", "scopes": ["events:write", "profiles:read"]}));
    assert_eq!(created.status, 201, "{}", created.body);
    let key = created.body["key"].as_str().unwrap().to_string();
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["scopes"], json!(["events:write", "profiles:read"]));
    assert_eq!(app.get("/api/v1/profiles/lookup?type=email&value=a%40b.vn", &key).status, 404);

    let list = app.get("/api/v1/keys", &app.admin_key);
    let text = list.body.to_string();
    assert!(!text.contains(&key), "secrets never listed");
    let row = list.body["items"].as_array().unwrap().iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
    assert!(row["last_used_at"].is_string(), "last use is recorded");
    assert!(key.starts_with(row["prefix"].as_str().unwrap()));

    let revoke = send(ureq::delete(&app.url(&format!("/api/v1/keys/{id}"))).set("X-Api-Key", &app.admin_key), None);
    assert_eq!(revoke.status, 200);
    assert!(revoke.body["revoked_at"].is_string());
    assert_eq!(app.get("/api/v1/profiles/lookup?type=email&value=a%40b.vn", &key).status, 401);

    let bad = app.post("/api/v1/keys", &app.admin_key, json!({"name": "x", "scopes": ["events:write", "root"]}));
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("scopes")));
    let no_source = app.post("/api/v1/keys", &app.admin_key, json!({"name": "x", "scopes": ["events:write"], "source_id": "nope"}));
    assert_eq!(no_source.status, 404);
}

#[test]
fn write_keys_are_bound_to_their_source_and_channel() {
    let app = TestApp::spawn();
    let (source_id, key) = app.source("Tổng đài", "hotline");
    let e = app.event(&key, json!({"event": "Call Received", "identities": {"phone": "0912345678"}}));
    let t = app.get(&format!("/api/v1/profiles/{}/events", e["profile_id"].as_str().unwrap()), &app.admin_key);
    assert_eq!(t.body["items"][0]["channel"], "hotline");
    assert_eq!(t.body["items"][0]["source_id"], source_id.as_str());
    // A write key reads nothing.
    assert_eq!(app.get(&format!("/api/v1/profiles/{}", e["profile_id"].as_str().unwrap()), &key).status, 403);
    // A key bound to no source must name the channel.
    let unbound = app.key(&[Scope::EventsWrite], None);
    let r = app.post("/api/v1/events", &unbound, json!({"event": "x", "identities": {"phone": "0912345678"}}));
    assert_eq!((r.status, r.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("channel")));
}

pub(crate) fn create_user(app: &TestApp, username: &str, role: &str, password: &str) {
    let row = cdp_store::repo::users::UserRow {
        id: cdp_store::new_id(),
        username: username.into(),
        password_hash: cdp_app::secrets::hash_password(password).unwrap(),
        role: role.into(),
        created_at: cdp_store::now_micros(),
        disabled_at: None,
    };
    app.db.write(|c| cdp_store::repo::users::insert(c, &row)).unwrap();
}

/// A logged-in operator with a role: their access token.
pub(crate) fn operator_token(app: &TestApp, username: &str, role: &str) -> String {
    create_user(app, username, role, "correct horse battery");
    let r = app.post("/api/v1/auth/token", "", json!({"username": username, "password": "correct horse battery"}));
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["access_token"].as_str().unwrap().to_string()
}

pub(crate) fn bearer(app: &TestApp, method: &str, path: &str, token: &str, body: Option<Value>) -> Resp {
    send(ureq::request(method, &app.url(path)).set("Authorization", &format!("Bearer {token}")), body)
}

#[test]
fn operators_log_in_and_roles_map_to_scopes() {
    let app = TestApp::spawn();
    create_user(&app, "lan.admin", "admin", "correct horse battery");
    create_user(&app, "minh.analyst", "analyst", "correct horse battery");
    create_user(&app, "hoa.agent", "agent", "correct horse battery");
    let login = |u: &str, p: &str| app.post("/api/v1/auth/token", "", json!({"username": u, "password": p}));

    assert_eq!(login("lan.admin", "wrong password").status, 401);
    assert_eq!(login("nobody", "correct horse battery").status, 401);
    let tokens: Vec<String> = ["lan.admin", "minh.analyst", "hoa.agent"]
        .iter()
        .map(|u| {
            let r = login(u, "correct horse battery");
            assert_eq!(r.status, 200, "{}", r.body);
            assert_eq!(r.body["token_type"], "Bearer");
            assert_eq!(r.body["expires_in"], 900);
            r.body["access_token"].as_str().unwrap().to_string()
        })
        .collect();
    let (admin, analyst, agent) = (&tokens[0], &tokens[1], &tokens[2]);
    let src = json!({"name": "Web", "channel": "web"});
    assert_eq!(bearer(&app, "POST", "/api/v1/sources", admin, Some(src.clone())).status, 201);
    assert_eq!(bearer(&app, "POST", "/api/v1/sources", analyst, Some(src.clone())).status, 403);
    assert_eq!(bearer(&app, "GET", "/api/v1/profiles/lookup?type=email&value=a%40b.vn", analyst, None).status, 404);
    let ev = json!({"event": "Call Received", "channel": "hotline", "identities": {"phone": "0912345678"}});
    assert_eq!(bearer(&app, "POST", "/api/v1/events", agent, Some(ev.clone())).status, 202);
    assert_eq!(bearer(&app, "POST", "/api/v1/events", analyst, Some(ev)).status, 403);
    assert_eq!(bearer(&app, "GET", "/api/v1/keys", agent, None).status, 403);

    // Expired, forged and customer tokens.
    let jwt = |ttl: i64, secret: &str| cdp_api::jwt::JwtConfig {
        secret: secret.as_bytes().to_vec(),
        ttl_seconds: ttl,
        customer_ttl_seconds: ttl,
    };
    let now = chrono_now();
    let expired = jwt(-120, TEST_JWT_SECRET).issue("u", "operator", Some("admin"), now).unwrap();
    assert_eq!(bearer(&app, "GET", "/api/v1/keys", &expired, None).status, 401);
    let forged = jwt(600, "another-secret-another-secret-another").issue("u", "operator", Some("admin"), now).unwrap();
    assert_eq!(bearer(&app, "GET", "/api/v1/keys", &forged, None).status, 401);
    let customer = jwt(600, TEST_JWT_SECRET).issue("some-profile", "customer", None, now).unwrap();
    assert_eq!(bearer(&app, "GET", "/api/v1/profiles/some-profile", &customer, None).status, 403);
    assert_eq!(bearer(&app, "GET", "/api/v1/keys", "not.a.jwt", None).status, 401);
}

fn chrono_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
}
