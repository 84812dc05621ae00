use cdp_suite::*;

#[test]
fn timeline_pages_by_cursor_newest_first_with_channel_filter() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let (_, hotline) = app.source("Hotline", "hotline");
    let mut pid = String::new();
    for day in 1..=7 {
        let key = if day % 3 == 0 { &hotline } else { &web };
        // Two events share a timestamp: the id breaks the tie.
        let at = if day == 7 { "2026-11-06T12:00:00Z".to_string() } else { format!("2026-11-{day:02}T12:00:00Z") };
        let e = app.event(key, json!({"event": format!("E{day}"), "occurred_at": at, "identities": {"email": "dung@example.vn"}}));
        pid = e["profile_id"].as_str().unwrap().to_string();
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/profiles/{pid}/events?limit=3&cursor={c}"),
            None => format!("/api/v1/profiles/{pid}/events?limit=3"),
        };
        let r = app.get(&q, &app.admin_key);
        assert_eq!(r.status, 200, "{}", r.body);
        pages += 1;
        for e in r.body["items"].as_array().unwrap() {
            seen.push((e["occurred_at"].as_str().unwrap().to_string(), e["event"].as_str().unwrap().to_string()));
        }
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 7, "no event twice, none missing: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0));
    assert_eq!(seen.iter().map(|s| &s.0).collect::<Vec<_>>(), sorted.iter().map(|s| &s.0).collect::<Vec<_>>());
    assert_eq!(seen[0].1, "E7", "same time: the later id first");
    assert_eq!(seen[1].1, "E6");

    let r = app.get(&format!("/api/v1/profiles/{pid}/events?channel=hotline"), &app.admin_key);
    let names: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(names, ["E6", "E3"]);

    for bad in ["limit=0", "limit=501", "channel=fax", "cursor=zzz"] {
        let r = app.get(&format!("/api/v1/profiles/{pid}/events?{bad}"), &app.admin_key);
        assert_eq!(r.status, 422, "{bad}");
    }
    let r = app.get(&format!("/api/v1/profiles/{pid}/identities"), &app.admin_key);
    assert_eq!(r.body["items"][0]["type"], "email");
}
