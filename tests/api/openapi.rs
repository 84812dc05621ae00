use cdp_suite::*;

/// The served document must equal the committed `openapi/openapi.json`.
/// Regenerate with `cargo run -- openapi > openapi/openapi.json` (or run this
/// test with UPDATE_OPENAPI=1).
#[test]
fn served_spec_matches_the_committed_snapshot() {
    let app = TestApp::spawn();
    let served = app.get("/openapi.json", "").body;
    assert_eq!(served, serde_json::to_value(cdp_api::openapi()).unwrap());
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(path, serde_json::to_string_pretty(&served).unwrap() + "\n").unwrap();
    }
    let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).expect("openapi/openapi.json exists")).unwrap();
    assert!(served == committed, "the served OpenAPI differs from openapi/openapi.json; regenerate it with `cargo run -- openapi > openapi/openapi.json` and review the diff");
}

#[test]
fn every_operation_is_documented() {
    let spec = serde_json::to_value(cdp_api::openapi()).unwrap();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let what = format!("{method} {path}");
            assert!(op["operationId"].is_string(), "{what}: operationId");
            assert!(op["tags"].is_array(), "{what}: tags");
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{what}: responses");
            if path.starts_with("/api/v1/") && path != "/api/v1/auth/token" {
                assert!(op["security"].is_array(), "{what}: security");
                assert!(op["responses"]["401"].is_object() && op["responses"]["403"].is_object(), "{what}: 401/403 documented");
            }
        }
    }
    for name in ["EventIn", "ProfileOut", "ErrorBody", "BatchOut", "MergeOut"] {
        assert!(spec["components"]["schemas"][name].is_object(), "{name} schema");
        let _ = name;
    }
}
