//! Orders, refunds and the CLV model through the public API.

use cdp_suite::*;

/// The purchase summaries ingestion kept (through orders, refunds and merges)
/// are exactly the ones rebuilt from the purchase days.
fn assert_summaries_kept(app: &TestApp) {
    use cdp_store::schema::purchase_summaries::dsl::*;
    use diesel::prelude::*;
    type Row = (String, i64, i64, i64, i64, i64);
    let read = || app.db.read(|c| Ok::<_, cdp_store::StoreError>(purchase_summaries.order(profile_id).load::<Row>(c)?)).unwrap();
    let kept = read();
    app.db.write(cdp_store::repo::value::rebuild_summaries).unwrap();
    assert_eq!(kept, read());
    assert!(!kept.is_empty());
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/fixtures/cdnow/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// CDNOW's transaction log sent through the batch API as `Order Completed`
/// events in USD, then fitted with as_of 1997-09-30 in weeks: the published
/// BG/NBD and Gamma-Gamma estimates, and Hardie's worked example.
#[test]
fn cdnow_through_the_api_gives_the_published_fit() {
    let app = TestApp::spawn_with(|s| s.default_currency = "USD".into());
    let (_, key) = app.source("CDNOW", "web");
    let events: Vec<serde_json::Value> = fixture("CDNOW_sample.txt")
        .lines()
        .enumerate()
        .map(|(n, l)| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let d = f[2];
            json!({"message_id": format!("cdnow-{n}"), "event": "Order Completed",
                   "occurred_at": format!("{}-{}-{}T12:00:00Z", &d[..4], &d[4..6], &d[6..]),
                   "identities": {"user_id": format!("cdnow-{}", f[1].parse::<u32>().unwrap())},
                   "properties": {"order_id": format!("cdnow-{n}"), "revenue": f[4].parse::<f64>().unwrap(), "currency": "USD",
                                  "products": [{"product_id": "cd", "quantity": f[3].parse::<i64>().unwrap()}]}})
        })
        .collect();
    assert_eq!(events.len(), 6919);
    for chunk in events.chunks(1000) {
        let r = app.post("/api/v1/events/batch", &key, json!({ "events": chunk }));
        assert_eq!((r.status, r.body["accepted"].as_u64()), (200, Some(chunk.len() as u64)), "{}", r.body);
    }
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let fit = app.post("/api/v1/analytics/clv/fit", &analyst, json!({"as_of": "1997-09-30", "time_unit": "week", "horizon": 39}));
    assert_eq!(fit.status, 200, "{}", fit.body);
    let f = &fit.body;
    let near = |v: &serde_json::Value, want: f64, tol: f64| (v.as_f64().unwrap() - want).abs() <= tol;
    assert_eq!((f["customers"].as_u64(), f["repeat_customers"].as_u64()), (Some(2357), Some(946)));
    assert!(near(&f["bg_nbd"]["r"], 0.243, 5e-4), "{f}");
    assert!(near(&f["bg_nbd"]["alpha"], 4.414, 5e-3), "{f}");
    assert!(near(&f["bg_nbd"]["a"], 0.793, 5e-3), "{f}");
    assert!(near(&f["bg_nbd"]["b"], 2.426, 5e-3), "{f}");
    assert!(near(&f["bg_nbd"]["log_likelihood"], -9582.4, 0.05), "{f}");
    assert!(near(&f["gamma_gamma"]["p"], 6.25, 5e-3), "{f}");
    assert!(near(&f["gamma_gamma"]["q"], 3.74, 5e-3), "{f}");
    assert!(near(&f["gamma_gamma"]["gamma"], 15.44, 5e-3), "{f}");
    assert_eq!(app.get("/api/v1/analytics/clv/model", &analyst).body, fit.body);
    // Most of these customers bought after 1997-09-30 too: their summaries were cut at as_of.
    assert_summaries_kept(&app);

    // Customer 1: x = 2, t_x = 30.43, T = 38.86 → E[Y(39)] = 1.226.
    let p = app.lookup("user_id", "cdnow-1").body;
    let v = app.get(&format!("/api/v1/profiles/{}/value", p["id"].as_str().unwrap()), &analyst);
    assert_eq!(v.status, 200, "{}", v.body);
    let clv = &v.body["clv"];
    assert!(near(&clv["expected_purchases"], 1.226, 1e-3), "{}", v.body);
    assert!(clv["p_alive"].as_f64().unwrap() > 0.0 && clv["p_alive"].as_f64().unwrap() <= 1.0);
    assert!(clv["clv"].as_f64().unwrap() > 0.0);
    assert_eq!(v.body["currency"], "USD");
    let mine: Vec<f64> = fixture("CDNOW_sample.txt")
        .lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("0001"))
        .map(|l| l.split_whitespace().nth(4).unwrap().parse().unwrap())
        .collect();
    assert_eq!(v.body["orders_count"], mine.len());
    assert!(near(&v.body["revenue_total"], mine.iter().sum(), 1e-6), "{}", v.body);
}

#[test]
fn orders_once_refunds_partial_and_full_and_merges_move_them() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let order = |id: &str, phone: &str, revenue: i64, at: &str| {
        json!({"event": "Order Completed", "occurred_at": at, "identities": {"phone": phone},
               "properties": {"order_id": id, "revenue": revenue, "margin": revenue / 5}})
    };
    let a = app.event(&pos, order("Q1-1", "0912000001", 500000, "2026-10-01T03:00:00Z"));
    app.event(&pos, order("Q1-1", "0912000001", 500000, "2026-10-01T03:00:00Z")); // the same order again
    app.event(&pos, order("Q1-2", "0912000001", 200000, "2026-10-01T09:00:00Z")); // same day
    app.event(&pos, order("Q1-3", "0912000001", 300000, "2026-10-15T03:00:00Z"));
    let pid = a["profile_id"].as_str().unwrap().to_string();
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let value = |id: &str| app.get(&format!("/api/v1/profiles/{id}/value"), &analyst).body;
    let v = value(&pid);
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(3), Some(1_000_000.0)));
    assert_eq!(v["first_order_at"], "2026-10-01T03:00:00Z");
    assert_eq!(v["last_order_at"], "2026-10-15T03:00:00Z");
    assert_eq!(v["clv"], serde_json::Value::Null, "no model fitted yet");

    // A partial refund, then the rest of it: the order stops counting.
    let refund = |id: &str, revenue: Option<i64>| {
        let mut props = json!({"order_id": id});
        if let Some(r) = revenue {
            props["revenue"] = json!(r);
        }
        json!({"event": "Order Refunded", "identities": {"phone": "0912000001"}, "properties": props})
    };
    app.event(&pos, refund("Q1-3", Some(100000)));
    let v = value(&pid);
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(3), Some(900_000.0)));
    app.event(&pos, refund("Q1-3", None));
    let v = value(&pid);
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(2), Some(700_000.0)));
    app.event(&pos, refund("Q1-3", None)); // nothing left to refund
    app.event(&pos, refund("NO-SUCH", Some(5))); // unknown order: stored as an event, changes nothing
    assert_eq!(value(&pid)["revenue_total"], 700_000.0);
    assert_summaries_kept(&app);

    // Another profile with an order on the same day merges in: one occasion that day.
    let b = app.event(&pos, order("Q1-9", "0912000002", 50000, "2026-10-01T05:00:00Z"));
    assert_ne!(b["profile_id"], a["profile_id"]);
    app.event(&pos, json!({"event": "Linked", "identities": {"phone": "0912000001", "email": "x@example.vn"}}));
    app.event(&pos, json!({"event": "Linked", "identities": {"phone": "0912000002", "email": "x@example.vn"}}));
    let v = value(b["profile_id"].as_str().unwrap());
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(3), Some(750_000.0)));
    assert_summaries_kept(&app);
    assert_rows_belong_to_live_profiles(&app);
    // A fit over these two purchase days works and scores the survivor.
    let fit = app.post("/api/v1/analytics/clv/fit", &analyst, json!({"as_of": "2026-11-01"}));
    assert_eq!(fit.status, 422, "one customer is too few: {}", fit.body);
    app.event(&pos, order("Q2-1", "0912000003", 80000, "2026-10-20T05:00:00Z"));
    let fit = app.post("/api/v1/analytics/clv/fit", &analyst, json!({"as_of": "2026-11-01", "time_unit": "day", "horizon": 30}));
    assert_eq!(fit.status, 200, "{}", fit.body);
    assert_eq!(fit.body["customers"], 2);
    let v = value(&pid);
    assert!(v["clv"]["p_alive"].as_f64().is_some(), "{v}");
    for bad in [json!({"as_of": "yesterday"}), json!({"time_unit": "month"}), json!({"horizon": -1}), json!({"clv_months": 0})] {
        assert_eq!(app.post("/api/v1/analytics/clv/fit", &analyst, bad.clone()).status, 422, "{bad}");
    }
}

/// 25 customers, one in each cell of the R×F grid, sent as orders through the
/// API: the distribution names each segment with its known count.
#[test]
fn rfm_segments_on_a_hand_made_grid() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    let day = |n: i64| {
        let secs = 1_767_225_600 + n * 86_400; // 2026-01-01 + n days
        let (y, m, d) = civil(secs / 86_400);
        format!("{y:04}-{m:02}-{d:02}T08:00:00Z")
    };
    let mut events = Vec::new();
    for r in 1..=5i64 {
        for f in 1..=5i64 {
            let last = r * 10;
            for k in 0..f {
                events
                    .push(json!({"event": "Order Completed", "occurred_at": day(last - k), "identities": {"user_id": format!("c{r}{f}")},
                                   "properties": {"order_id": format!("o{r}{f}{k}"), "revenue": 1000 * (r * 5 + f)}}));
            }
        }
    }
    let res = app.post("/api/v1/events/batch", &pos, json!({ "events": events }));
    assert_eq!(res.status, 200, "{}", res.body);
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let r = app.get("/api/v1/analytics/rfm?as_of=2026-03-01", &analyst);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["customers"], 25);
    // A GET stores nothing: no profile has scores until a run.
    let c55 = app.lookup("user_id", "c55").body["id"].as_str().unwrap().to_string();
    assert_eq!(app.get(&format!("/api/v1/profiles/{c55}/value"), &analyst).body["rfm"], serde_json::Value::Null);
    let run = app.post("/api/v1/analytics/rfm/runs", &analyst, json!({"as_of": "2026-03-01"}));
    assert_eq!(run.status, 201, "{}", run.body);
    assert_eq!(run.body, r.body, "a run answers what the GET computed");
    let count =
        |name: &str| r.body["segments"].as_array().unwrap().iter().find(|s| s["segment"] == name).unwrap()["customers"].as_u64().unwrap();
    for (name, n) in [
        ("champions", 2),
        ("loyal_customers", 4),
        ("potential_loyalists", 4),
        ("new_customers", 1),
        ("promising", 1),
        ("need_attention", 1),
        ("about_to_sleep", 2),
        ("at_risk", 4),
        ("cant_lose_them", 2),
        ("hibernating", 4),
    ] {
        assert_eq!(count(name), n, "{name}: {}", r.body);
    }
    for (user, seg, rr, ff) in
        [("c55", "champions", 5, 5), ("c51", "new_customers", 5, 1), ("c15", "cant_lose_them", 1, 5), ("c33", "need_attention", 3, 3)]
    {
        let p = app.lookup("user_id", user).body;
        let v = app.get(&format!("/api/v1/profiles/{}/value", p["id"].as_str().unwrap()), &analyst).body;
        assert_eq!(
            (v["rfm"]["segment"].as_str(), v["rfm"]["r"].as_i64(), v["rfm"]["f"].as_i64()),
            (Some(seg), Some(rr), Some(ff)),
            "{user}: {v}"
        );
        assert_eq!(v["rfm"]["as_of"], "2026-03-01");
    }
    // As of a date before anyone bought: no customers; the stored scores stay until a run replaces them.
    let r = app.get("/api/v1/analytics/rfm?as_of=2025-01-01", &analyst);
    assert_eq!(r.body["customers"], 0);
    assert_eq!(app.get(&format!("/api/v1/profiles/{c55}/value"), &analyst).body["rfm"]["segment"], "champions");
    assert_eq!(app.get("/api/v1/analytics/rfm?as_of=soon", &analyst).status, 422);
    let bad = app.post("/api/v1/analytics/rfm/runs", &analyst, json!({"as_of": "soon"}));
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("as_of")), "{}", bad.body);
}

#[test]
fn kpis_overall_by_channel_and_city() {
    let app = TestApp::spawn();
    let (_, store) = app.source("Store", "store");
    let (_, web) = app.source("Web", "web");
    let order = |who: &str, id: &str, at: &str, revenue: i64, margin: Option<i64>, cats: &[&str], city: &str| {
        let products: Vec<_> = cats.iter().map(|c| json!({"product_id": c, "category": c, "price": 1, "quantity": 1})).collect();
        let mut props = json!({"order_id": id, "revenue": revenue, "products": products});
        if let Some(m) = margin {
            props["margin"] = json!(m);
        }
        json!({"event": "Order Completed", "occurred_at": at, "identities": {"user_id": who}, "traits": {"city": city}, "properties": props})
    };
    app.event(&store, order("an", "o1", "2026-03-01T03:00:00Z", 800_000, Some(200_000), &["sua-tuoi"], "Hà Nội"));
    app.event(&store, order("an", "o2", "2026-04-01T03:00:00Z", 100_000, None, &["sua-chua", "sua-tuoi"], "Hà Nội"));
    app.event(&web, order("binh", "o3", "2026-05-01T03:00:00Z", 100_000, Some(10_000), &["pho-mai"], "Huế"));
    app.event(&web, order("chi", "o4", "2026-05-02T03:00:00Z", 50_000, None, &[], "Huế"));
    app.event(&web, json!({"event": "Order Refunded", "identities": {"user_id": "chi"}, "properties": {"order_id": "o4"}}));
    app.event(&store, order("dung", "o5", "2025-06-01T03:00:00Z", 70_000, None, &[], "Hà Nội")); // before the period
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let r = app.get("/api/v1/analytics/kpis?from=2026-01-01&to=2026-11-01", &analyst);
    assert_eq!(r.status, 200, "{}", r.body);
    let o = &r.body["overall"];
    assert_eq!(o["customers"], 3, "an, binh, dung bought by `to` (chi's only order was refunded): {o}");
    assert_eq!((o["active_customers"].as_u64(), o["orders"].as_u64()), (Some(2), Some(3)));
    assert_eq!(o["revenue"], 1_000_000.0);
    assert!((o["average_order_value"].as_f64().unwrap() - 1_000_000.0 / 3.0).abs() < 1e-6);
    assert!((o["repeat_purchase_rate"].as_f64().unwrap() - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(o["margin"], 210_000.0);
    assert_eq!(o["concentration"]["top_1"], 0.9);
    assert_eq!(o["concentration"]["top_20"], 0.9);
    assert!((o["concentration"]["gini"].as_f64().unwrap() - 0.4).abs() < 1e-12, "two buyers, 900k and 100k: {o}");
    assert!((o["cross_sell_index"].as_f64().unwrap() - 1.5).abs() < 1e-12, "an: 2 categories, binh: 1");
    assert_eq!(r.body["by_channel"]["store"]["revenue"], 900_000.0);
    assert_eq!(r.body["by_channel"]["web"]["active_customers"], 1);
    assert_eq!(r.body["by_city"]["Hà Nội"]["customers"], 2);
    assert_eq!(r.body["by_city"]["Huế"]["revenue"], 100_000.0);
    assert_eq!(app.get("/api/v1/analytics/kpis?from=2026-12-01&to=2026-01-01", &analyst).status, 422);
}

/// Replacing every score (PostgreSQL builds a new table and swaps it in)
/// leaves the score tables with the same columns, keys and indexes, twice
/// over, and with exactly the new rows.
#[test]
fn score_tables_keep_their_shape_when_replaced() {
    use cdp_store::repo::value::{save_fit, save_rfm, RfmRow, ScoreRow};
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Shape {
        #[diesel(sql_type = diesel::sql_types::Text)]
        d: String,
    }
    let app = TestApp::spawn();
    let shape = || {
        app.db
            .read(|c| {
                let rows: Vec<Shape> = cdp_store::per_backend!(c, |x| diesel::sql_query(match backend() {
                    TestBackend::Sqlite => "SELECT COALESCE(group_concat(sql, ';'), '') AS d FROM \
                        (SELECT sql FROM sqlite_master WHERE tbl_name IN ('profile_scores', 'profile_rfm') ORDER BY name)",
                    TestBackend::Postgres => "SELECT (SELECT string_agg(indexname || ' ' || indexdef, ';' ORDER BY indexname) FROM pg_indexes \
                          WHERE tablename IN ('profile_scores', 'profile_rfm')) || '|' || \
                        (SELECT string_agg(conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid), ';' ORDER BY conname) \
                          FROM pg_constraint WHERE conrelid IN ('profile_scores'::regclass, 'profile_rfm'::regclass)) || '|' || \
                        (SELECT string_agg(table_name || '.' || column_name || ' ' || data_type || ' ' || is_nullable || ' ' || ordinal_position, ';' \
                          ORDER BY table_name, ordinal_position) FROM information_schema.columns \
                          WHERE table_name IN ('profile_scores', 'profile_rfm')) AS d",
                })
                .load(x))?;
                Ok::<_, cdp_store::StoreError>(rows.into_iter().next().unwrap().d)
            })
            .unwrap()
    };
    let before = shape();
    assert!(before.contains("profile_rfm_segment"), "{before}");
    let score = |p: &str, clv: f64| ScoreRow {
        profile_id: p.into(),
        model_id: "m".into(),
        p_alive: 0.5,
        expected_purchases: 1.0,
        expected_order_value: 2.0,
        clv,
    };
    let rfm = |p: &str, r: i32| RfmRow { profile_id: p.into(), r, f: 1, m: 1, segment: "new".into(), as_of_day: 20_000 };
    for round in 0..2 {
        let scores = vec![score(&format!("p{round}a"), 1.0), score(&format!("p{round}b"), 2.0)];
        app.db.write(|c| save_fit(c, &format!("m{round}"), "{}", round, &scores)).unwrap();
        let rows = vec![rfm(&format!("p{round}a"), 5)];
        app.db.write(|c| save_rfm(c, &rows)).unwrap();
        assert_eq!(shape(), before, "round {round}");
    }
    let ids: Vec<String> = app
        .db
        .read(|c| {
            Ok::<_, cdp_store::StoreError>(
                cdp_store::schema::profile_scores::table
                    .select(cdp_store::schema::profile_scores::profile_id)
                    .order_by(cdp_store::schema::profile_scores::profile_id)
                    .load(c)?,
            )
        })
        .unwrap();
    assert_eq!(ids, ["p1a", "p1b"]);
    let rfm_ids: Vec<String> = app
        .db
        .read(|c| {
            Ok::<_, cdp_store::StoreError>(
                cdp_store::schema::profile_rfm::table.select(cdp_store::schema::profile_rfm::profile_id).load(c)?,
            )
        })
        .unwrap();
    assert_eq!(rfm_ids, ["p1a"]);
}
