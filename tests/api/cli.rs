//! The operator CLI, run as `cdp ARGS…` runs it, against the suite's backend.

use cdp::cli::{command, Console};
use cdp::Settings;
use cdp_suite::*;

/// Runs `cdp ARGS…` against `database_url`; answers what it printed, or its error.
fn cdp(database_url: &str, args: &[&str], stdin: &str, password: Option<&str>) -> Result<String, String> {
    let settings = Settings { database_url: database_url.into(), db_pool_size: Some(2), ..Settings::default() };
    let (mut input, mut output) = (stdin.as_bytes(), Vec::new());
    let console = Console { input: &mut input, output: &mut output, password: password.map(str::to_string) };
    command(args.iter().copied(), &settings, console).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(output).unwrap())
}

fn bearer(app: &TestApp, path: &str, token: &str) -> Resp {
    send(ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}")), None)
}

fn login(app: &TestApp, username: &str, password: &str) -> Resp {
    app.post("/api/v1/auth/token", "", json!({"username": username, "password": password}))
}

#[test]
fn migrate_names_each_migration_it_applies_then_says_none_is_pending() {
    let (url, _dir) = fresh_database();
    let mut versions: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    versions.sort();
    let backend = match backend() {
        TestBackend::Sqlite => "sqlite",
        TestBackend::Postgres => "postgres",
    };
    let first = cdp(&url, &["migrate"], "", None).unwrap();
    let mut expected: Vec<String> = versions.iter().map(|v| format!("applied {v}")).collect();
    expected.push(format!("applied {} migrations: the {backend} database is up to date", versions.len()));
    assert_eq!(first.lines().collect::<Vec<_>>(), expected);
    let again = cdp(&url, &["migrate"], "", None).unwrap();
    assert_eq!(again, format!("no pending migrations: the {backend} database is up to date\n"));
}

#[test]
fn keys_are_created_listed_and_revoked() {
    // Keys looked up on every request: the CLI writes as another process would.
    let app = TestApp::spawn_with(|s| s.limits.key_cache_seconds = 0);
    let db = &app.database_url;
    let out = cdp(db, &["keys", "create", "--name", "pos", "--scope", "events:write", "--scope", "profiles:read"], "", None).unwrap();
    let (first, key) = (out.lines().next().unwrap(), out.lines().last().unwrap());
    assert!(first.starts_with("created key ") && first.ends_with("with scopes: events:write profiles:read"), "{out}");
    assert!(key.starts_with("cdp_") && key.len() > 40, "the key is the last line: {out}");
    let id = first.split(' ').nth(2).unwrap();
    assert_eq!(app.lookup_with(key, "email", "nobody@example.vn").status, 404, "the key works");

    let listed = cdp(db, &["keys", "list"], "", None).unwrap();
    let line = listed.lines().find(|l| l.starts_with(id)).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("\tactive\t") && line.ends_with("\tpos") && !line.contains(key), "{line}");

    assert_eq!(cdp(db, &["keys", "revoke", id], "", None).unwrap(), format!("revoked key {id} (pos)\n"));
    assert_eq!(app.lookup_with(key, "email", "nobody@example.vn").status, 401, "a revoked key stops");
    assert!(cdp(db, &["keys", "list"], "", None).unwrap().lines().any(|l| l.starts_with(id) && l.contains("\trevoked\t")));
    assert!(cdp(db, &["keys", "create", "--name", "x", "--scope", "everything"], "", None).is_err());
}

#[test]
fn users_are_created_listed_disabled_enabled_and_given_new_passwords() {
    let app = TestApp::spawn();
    let db = &app.database_url;
    let created = cdp(db, &["users", "create", "--username", "lan.tran", "--role", "analyst"], "", Some("a long passphrase")).unwrap();
    assert!(created.starts_with("created analyst user lan.tran ("), "{created}");
    for (args, password, why) in [
        (&["users", "create", "--username", "lan.tran", "--role", "analyst"][..], "a long passphrase", "taken"),
        (&["users", "create", "--username", "minh", "--role", "analyst"], "short", "at least 10 characters"),
        (&["users", "create", "--username", "minh", "--role", "owner"], "a long passphrase", "role"),
        (&["users", "disable", "nobody"], "", "no user named `nobody`"),
        (&["users", "reset-password", "nobody"], "a long passphrase", "no user named `nobody`"),
    ] {
        let err = cdp(db, args, "", Some(password)).unwrap_err();
        assert!(err.contains(why), "{args:?}: {err}");
    }

    let token = login(&app, "lan.tran", "a long passphrase");
    assert_eq!(token.status, 200, "{}", token.body);
    let token = token.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(bearer(&app, "/api/v1/segments", &token).status, 200);
    let listed = cdp(db, &["users", "list"], "", None).unwrap();
    let fields: Vec<&str> = listed.lines().next().unwrap().split('\t').collect();
    assert_eq!((fields[1], fields[2], fields[3]), ("lan.tran", "analyst", "active"), "{listed}");
    assert!(!listed.contains("argon2"), "no password hashes: {listed}");

    // Disabled: no new token, and the one already issued stops at once.
    assert!(cdp(db, &["users", "disable", "lan.tran"], "", None).unwrap().starts_with("disabled user lan.tran ("));
    assert_eq!(bearer(&app, "/api/v1/segments", &token).status, 401);
    assert_eq!(login(&app, "lan.tran", "a long passphrase").status, 401);
    assert!(cdp(db, &["users", "list"], "", None).unwrap().contains("\tanalyst\tdisabled\t"));
    assert!(cdp(db, &["users", "enable", "lan.tran"], "", None).unwrap().starts_with("enabled user lan.tran ("));
    assert_eq!(bearer(&app, "/api/v1/segments", &token).status, 200);

    // A new password from stdin: the old one no longer logs in.
    let reset = cdp(db, &["users", "reset-password", "lan.tran"], "another long passphrase\n", None).unwrap();
    assert_eq!(reset, "set a new password for user lan.tran\n");
    assert_eq!(login(&app, "lan.tran", "a long passphrase").status, 401);
    assert_eq!(login(&app, "lan.tran", "another long passphrase").status, 200);
}

#[test]
fn openapi_prints_the_served_document_and_serve_is_not_an_operator_command() {
    let (url, _dir) = fresh_database();
    let printed: serde_json::Value = serde_json::from_str(&cdp(&url, &["openapi"], "", None).unwrap()).unwrap();
    assert_eq!(printed, serde_json::to_value(cdp_api::openapi()).unwrap());
    assert!(cdp(&url, &["serve"], "", None).unwrap_err().contains("not an operator command"));
    assert!(cdp(&url, &["no-such-command"], "", None).is_err());
}
