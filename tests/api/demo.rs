//! `cdp demo`: an empty database filled through ordinary ingestion, after
//! which every analytics endpoint answers with non-empty, plausible figures.

use cdp_suite::*;
use serde_json::Value;

const PEOPLE: usize = 300;

fn demo(app: &TestApp, seed: &str) -> Result<String, String> {
    let settings = cdp::Settings { database_url: app.database_url.clone(), ..cdp::Settings::default() };
    let (mut input, mut output) = (std::io::empty(), Vec::new());
    let console = cdp::cli::Console { input: &mut input, output: &mut output, password: None };
    cdp::cli::command(["demo", "--customers", &PEOPLE.to_string(), "--seed", seed], &settings, console).map_err(|e| e.to_string())?;
    Ok(String::from_utf8(output).unwrap())
}

fn ok(app: &TestApp, path: &str) -> Value {
    let r = app.get(path, &app.admin_key);
    assert_eq!(r.status, 200, "{path}: {}", r.body);
    r.body
}

fn between(v: &Value, lo: f64, hi: f64) -> bool {
    v.as_f64().is_some_and(|x| x > lo && x < hi)
}

#[test]
fn the_demo_fills_every_analytics_endpoint_with_plausible_figures() {
    let app = TestApp::spawn();
    let out = demo(&app, "7").expect("the demo loads");
    assert!(out.starts_with("demo data loaded in"), "{out}");

    // Everyone, whatever touchpoints and spellings they used, is one profile.
    assert_eq!(app.count_live_profiles(), PEOPLE as i64);

    let kpis = ok(&app, "/api/v1/analytics/kpis");
    let o = &kpis["overall"];
    let buyers = o["customers"].as_u64().unwrap();
    assert!(buyers as usize > PEOPLE * 8 / 10 && buyers as usize <= PEOPLE, "{o}");
    assert!(o["orders"].as_u64().unwrap() > buyers * 3, "most people buy again: {o}");
    assert!(between(&o["repeat_purchase_rate"], 0.5, 1.0) && between(&o["concentration"]["gini"], 0.2, 1.0), "{o}");
    assert!(between(&o["average_order_value"], 20_000.0, 5_000_000.0) && o["margin"].as_f64().unwrap() > 0.0, "{o}");
    for channel in ["store", "web", "app"] {
        assert!(kpis["by_channel"][channel]["orders"].as_u64().unwrap_or(0) > 0, "{channel}: {}", kpis["by_channel"]);
    }
    assert!(kpis["by_city"].as_object().unwrap().len() >= 4, "{}", kpis["by_city"]);
    assert!(o["customer_equity"].as_f64().unwrap() > 0.0 && o["churn_risk"].as_u64().is_some(), "{o}");

    let rfm = ok(&app, "/api/v1/analytics/rfm");
    let segments = rfm["segments"].as_array().unwrap();
    assert!(segments.len() >= 5, "{rfm}");
    assert_eq!(segments.iter().map(|s| s["customers"].as_u64().unwrap()).sum::<u64>(), rfm["customers"].as_u64().unwrap());
    assert_eq!(rfm["customers"].as_u64(), Some(buyers));

    let clv = ok(&app, "/api/v1/analytics/clv/model");
    assert_eq!(clv["customers"].as_u64(), Some(buyers));
    for p in ["r", "alpha", "a", "b"] {
        assert!(clv["bg_nbd"][p].as_f64().unwrap() > 0.0, "{clv}");
    }
    assert!(clv["gamma_gamma"]["p"].as_f64().unwrap() > 0.0, "{clv}");

    let nps = ok(&app, "/api/v1/analytics/nps?from=2020-01-01");
    assert!(nps["responses"].as_u64().unwrap() > 20 && between(&nps["nps"], -100.0, 100.0), "{nps}");
    assert!(nps["promoters"].as_u64().unwrap() > 0 && nps["detractors"].as_u64().unwrap() > 0, "{nps}");
    let cases = ok(&app, "/api/v1/analytics/cases");
    assert!(cases["opened"].as_u64().unwrap() > 0 && cases["resolved"].as_u64().unwrap() > 0, "{cases}");
    let feedback = ok(&app, "/api/v1/feedback?sentiment=negative&limit=5");
    assert!(!feedback["items"].as_array().unwrap().is_empty(), "negative comments are there to act on: {feedback}");

    let segs = ok(&app, "/api/v1/segments");
    let segs = segs.as_array().or_else(|| segs["items"].as_array()).unwrap().clone();
    assert_eq!(segs.len(), 5);
    assert!(segs.iter().filter(|s| s["size"].as_u64().unwrap_or(0) > 0).count() >= 4, "{segs:?}");

    // Tiers were reached through points earned by live ingestion.
    let higher = app.post(
        "/api/v1/segments/preview",
        &app.admin_key,
        json!({"rule": {"any": [{"tier": "bac"}, {"tier": "vang"}, {"tier": "kim_cuong"}]}}),
    );
    assert!(higher.body["size"].as_u64().unwrap_or(0) > 0, "{}", higher.body);

    // Again on the same database: refused, nothing added.
    let again = demo(&app, "7").unwrap_err();
    assert!(again.contains("already"), "{again}");
    assert_eq!(app.count_live_profiles(), PEOPLE as i64);

    // The same seed (the same day) gives the same figures on another database.
    let other = TestApp::spawn();
    demo(&other, "7").expect("the demo loads");
    let theirs = other.get("/api/v1/analytics/kpis", &other.admin_key).body;
    assert_eq!(theirs["overall"]["orders"], o["orders"]);
    assert_eq!(theirs["overall"]["revenue"], o["revenue"]);
    for (city, k) in kpis["by_city"].as_object().unwrap() {
        for f in ["customers", "orders", "revenue", "margin"] {
            assert_eq!(theirs["by_city"][city][f], k[f], "{city} {f}");
        }
    }
}
