use cdp_suite::*;

#[test]
fn health_ready_metrics_and_request_ids() {
    let app = TestApp::spawn();
    let h = app.get("/health", "");
    assert_eq!((h.status, h.body.clone()), (200, json!({"status": "ok"})));
    assert!(h.header("x-request-id").is_some_and(|v| !v.is_empty()));
    let echoed = send(ureq::get(&app.url("/health")).set("X-Request-Id", "abc-123"), None);
    assert_eq!(echoed.header("x-request-id"), Some("abc-123"));
    let r = app.get("/ready", "");
    assert_eq!(r.status, 200);
    assert!(["sqlite", "postgres"].contains(&r.body["database"].as_str().unwrap()));

    let (_, key) = app.source("Web", "web");
    app.event(&key, json!({"event": "x", "identities": {"anonymous_id": "a"}}));
    let m = send(ureq::get(&app.url("/metrics")), None);
    assert_eq!(m.status, 200);
    let text = m.body.as_str().unwrap();
    assert!(text.contains("cdp_events_ingested_total{status=\"accepted\"} 1"), "{text}");
    assert!(text.contains("cdp_http_requests_total{method=\"POST\",route=\"/api/v1/events\",status=\"202\"} 1"), "{text}");
    assert!(text.contains("cdp_http_request_duration_seconds_bucket{method=\"POST\",route=\"/api/v1/events\",le=\"+Inf\"} 1"));
    let docs = send(ureq::get(&app.url("/docs/")), None);
    assert_eq!(docs.status, 200);
}

#[test]
fn planner_statistics_are_refreshed_once_a_table_has_doubled() {
    use diesel::RunQueryDsl;
    let app = TestApp::spawn();
    if backend() != TestBackend::Postgres {
        // SQLite plans without collected statistics: nothing to refresh.
        assert_eq!(app.db.read(cdp_store::conn::analyze_stale).unwrap(), Vec::<String>::new());
        return;
    }
    // 3,000 identities (~30 pages) in one write — the server's second, before
    // its own first check (after the 4th) — so nothing else analyses them.
    app.db
        .write(|c| {
            diesel::sql_query(
                "INSERT INTO identities (value, identity_type, profile_id, created_at) \
                 SELECT 'kh' || n || '@example.vn', 'email', 'p' || n, 0 FROM generate_series(1, 3000) AS n",
            )
            .execute(c)?;
            Ok::<_, cdp_store::StoreError>(())
        })
        .unwrap();
    // The activity counters may not show the rows yet; the table's size does.
    let analysed = app.db.read(cdp_store::conn::analyze_stale).unwrap();
    assert!(analysed.contains(&"identities".to_string()), "{analysed:?}");
    #[derive(diesel::QueryableByName)]
    struct Pages {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        relpages: i32,
    }
    let pages: Pages = app
        .db
        .read(|c| {
            Ok::<_, cdp_store::StoreError>(
                diesel::sql_query("SELECT relpages FROM pg_class WHERE oid = 'identities'::regclass").get_result(c)?,
            )
        })
        .unwrap();
    assert!(pages.relpages > 8, "{}", pages.relpages);
}
