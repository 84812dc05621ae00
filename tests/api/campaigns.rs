//! Campaigns measured against a holdout, through the API.

use crate::programmes::{now_secs, person};
use cdp_suite::*;
use serde_json::Value;

/// 10,000 members at a 20% holdout: the control share is within a point of
/// 20%, every assignment is SHA-256 of (campaign, profile) and the same when
/// read again, and the results equal the contract's formulas computed here
/// from the assignments and the orders sent.
#[test]
fn a_holdout_is_assigned_by_hash_and_measured_as_the_contract_says() {
    use sha2::{Digest, Sha256};
    use statrs::distribution::{ContinuousCDF, Normal, StudentsT};
    use std::collections::HashMap;

    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let n = 10_000;
    let mut people = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let events: Vec<Value> =
            chunk.iter().map(|i| json!({"event": "Signed Up", "identities": {"email": format!("k{i}@example.vn")}})).collect();
        let r = app.post("/api/v1/events/batch", &web, json!({ "events": events }));
        assert_eq!(r.status, 200, "{}", r.body);
        people.extend(r.body["results"].as_array().unwrap().iter().map(|x| x["profile_id"].as_str().unwrap().to_string()));
    }
    let seg = app.post("/api/v1/segments", &app.admin_key, json!({"name": "web", "rule": {"channel": "web"}}));
    assert_eq!((seg.status, seg.body["size"].as_i64()), (201, Some(n as i64)), "{}", seg.body);
    let start = now_secs() - 10 * 86_400;
    let c = app.post(
        "/api/v1/campaigns",
        &app.admin_key,
        json!({"name": "Win-back", "segment_id": seg.body["id"], "holdout_percent": 20, "goal": {"event": "Order Completed", "window_days": 7},
               "starts_at": iso(start)}),
    );
    assert_eq!(c.status, 201, "{}", c.body);
    let id = c.body["id"].as_str().unwrap().to_string();
    assert_eq!(c.body["size"], n);

    let assignments = |query: &str| {
        let mut out = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = app.get(&format!("/api/v1/campaigns/{id}/assignments?limit=500&cursor={cursor}{query}"), &app.admin_key);
            assert_eq!(page.status, 200, "{}", page.body);
            out.extend(
                page.body["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| (a["profile_id"].as_str().unwrap().to_string(), a["group"].as_str().unwrap().to_string())),
            );
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => return out,
            }
        }
    };
    let groups = assignments("");
    assert_eq!(groups.len(), n);
    let control = groups.iter().filter(|g| g.1 == "control").count();
    assert!((control as f64 / n as f64 - 0.20).abs() <= 0.01, "control share {control}/{n}");
    assert_eq!(c.body["groups"]["control"], control);
    for (p, g) in &groups {
        let d = Sha256::digest(format!("{id}:{p}").as_bytes());
        let bucket = u64::from_be_bytes(d[..8].try_into().unwrap()) % 10_000;
        assert_eq!(g, if bucket < 2000 { "control" } else { "treatment" }, "{p}");
    }
    assert_eq!(assignments(""), groups, "the same when read again");
    assert_eq!(assignments("&group=control").len(), control);

    // Orders: treatment members convert more often. Some orders fall outside
    // the window and some events are not the goal: neither counts.
    let group_of: HashMap<&str, &str> = groups.iter().map(|(p, g)| (p.as_str(), g.as_str())).collect();
    let mut events = Vec::new();
    let mut revenue: HashMap<String, f64> = HashMap::new();
    for (i, p) in people.iter().enumerate() {
        let email = format!("k{i}@example.vn");
        let converts = if group_of[p.as_str()] == "control" { i % 8 == 0 } else { i % 5 == 0 };
        if converts {
            for k in 0..(1 + i % 2) {
                let amount = 100_000 + (i % 7) as i64 * 50_000 + k as i64 * 30_000;
                events.push(
                    json!({"event": "Order Completed", "occurred_at": iso(start + 86_400 + k as i64 * 3600), "identities": {"email": email},
                    "properties": {"order_id": format!("W-{i}-{k}"), "revenue": amount}}),
                );
                *revenue.entry(p.clone()).or_default() += amount as f64;
            }
        }
        if i % 11 == 0 {
            events.push(json!({"event": "Order Completed", "occurred_at": iso(start - 86_400), "identities": {"email": email},
                "properties": {"order_id": format!("OLD-{i}"), "revenue": 999_000}}));
            events.push(json!({"event": "Order Completed", "occurred_at": iso(start + 8 * 86_400), "identities": {"email": email},
                "properties": {"order_id": format!("LATE-{i}"), "revenue": 999_000}}));
            events.push(json!({"event": "Product Viewed", "occurred_at": iso(start + 86_400), "identities": {"email": email}}));
        }
    }
    for chunk in events.chunks(1000) {
        let r = app.post("/api/v1/events/batch", &web, json!({ "events": chunk }));
        assert_eq!((r.status, r.body["rejected"].as_i64()), (200, Some(0)), "{}", r.body);
    }

    // The contract's formulas, computed here.
    let (mut size, mut conv, mut sum, mut sq) = ([0f64; 2], [0f64; 2], [0f64; 2], [0f64; 2]);
    for (p, g) in &groups {
        let k = usize::from(g == "control");
        let r = revenue.get(p).copied().unwrap_or(0.0);
        size[k] += 1.0;
        conv[k] += f64::from(u8::from(r > 0.0));
        sum[k] += r;
        sq[k] += r * r;
    }
    let rate = [conv[0] / size[0], conv[1] / size[1]];
    let diff = rate[0] - rate[1];
    let normal = Normal::new(0.0, 1.0).unwrap();
    let z975 = normal.inverse_cdf(0.975);
    let wald = (rate[0] * (1.0 - rate[0]) / size[0] + rate[1] * (1.0 - rate[1]) / size[1]).sqrt();
    let pooled = (conv[0] + conv[1]) / (size[0] + size[1]);
    let z = diff / (pooled * (1.0 - pooled) * (1.0 / size[0] + 1.0 / size[1])).sqrt();
    let p_value = 2.0 * (1.0 - normal.cdf(z.abs()));
    let mean = [sum[0] / size[0], sum[1] / size[1]];
    let var = [(sq[0] - size[0] * mean[0] * mean[0]) / (size[0] - 1.0), (sq[1] - size[1] * mean[1] * mean[1]) / (size[1] - 1.0)];
    let (a, b) = (var[0] / size[0], var[1] / size[1]);
    let df = (a + b).powi(2) / (a * a / (size[0] - 1.0) + b * b / (size[1] - 1.0));
    let t = StudentsT::new(0.0, 1.0, df).unwrap().inverse_cdf(0.975);
    assert!(t > 1.96 && t < 1.963, "df {df}: t {t}");

    let r = app.get(&format!("/api/v1/campaigns/{id}/results"), &app.admin_key);
    assert_eq!(r.status, 200, "{}", r.body);
    let got = |v: &Value| v.as_f64().unwrap_or_else(|| panic!("a number: {}", r.body));
    let close = |x: f64, y: f64, what: &str| assert!((x - y).abs() <= 1e-9 * y.abs().max(1.0), "{what}: {x} vs {y}\n{}", r.body);
    let body = &r.body;
    for (k, g) in ["treatment", "control"].iter().enumerate() {
        close(got(&body["groups"][g]["size"]), size[k], "size");
        close(got(&body["groups"][g]["converters"]), conv[k], "converters");
        close(got(&body["groups"][g]["conversion_rate"]), rate[k], "conversion_rate");
        close(got(&body["groups"][g]["revenue_per_customer"]), mean[k], "revenue_per_customer");
    }
    close(got(&body["uplift"]["absolute"]), diff, "uplift");
    close(got(&body["uplift"]["ci95"][0]), diff - z975 * wald, "uplift ci95 lo");
    close(got(&body["uplift"]["ci95"][1]), diff + z975 * wald, "uplift ci95 hi");
    close(got(&body["uplift"]["relative"]), diff / rate[1], "relative");
    close(got(&body["uplift"]["p_value"]), p_value, "p_value");
    close(got(&body["revenue_uplift"]["absolute"]), mean[0] - mean[1], "revenue uplift");
    let half = t * (a + b).sqrt();
    close(got(&body["revenue_uplift"]["ci95"][0]), mean[0] - mean[1] - half, "revenue ci95 lo");
    close(got(&body["revenue_uplift"]["ci95"][1]), mean[0] - mean[1] + half, "revenue ci95 hi");
    assert!(got(&body["uplift"]["p_value"]) < 0.001, "a real effect is significant: {body}");
    assert_eq!(app.get(&format!("/api/v1/campaigns/{id}/results"), &app.admin_key).body, r.body, "reading twice changes nothing");
}

/// Two members who turn out to be one person after the snapshot count once.
#[test]
fn members_merged_after_the_snapshot_convert_once() {
    let app = TestApp::spawn();
    let (_, pos) = app.source("POS", "store");
    for phone in ["0912 100 001", "0912 100 002", "0912 100 003"] {
        person(&app, &pos, phone);
    }
    let seg = app.post("/api/v1/segments", &app.admin_key, json!({"name": "shop", "rule": {"channel": "store"}}));
    assert_eq!(seg.status, 201, "{}", seg.body);
    let c = app.post(
        "/api/v1/campaigns",
        &app.admin_key,
        json!({"name": "Tết", "segment_id": seg.body["id"], "holdout_percent": 0, "goal": {"event": "Order Completed", "window_days": 7}}),
    );
    assert_eq!((c.status, c.body["size"].as_i64()), (201, Some(3)), "{}", c.body);
    let id = c.body["id"].as_str().unwrap();
    // The first two are one person; that person buys twice.
    app.event(&pos, json!({"event": "Visited", "identities": {"phone": "0912 100 001", "email": "one@example.vn"}}));
    app.event(&pos, json!({"event": "Visited", "identities": {"phone": "0912 100 002", "email": "one@example.vn"}}));
    for (o, revenue) in [("T-1", 200_000), ("T-2", 100_000)] {
        app.event(&pos, json!({"event": "Order Completed", "identities": {"email": "one@example.vn"}, "properties": {"order_id": o, "revenue": revenue}}));
    }
    let r = app.get(&format!("/api/v1/campaigns/{id}/results"), &app.admin_key);
    assert_eq!(r.status, 200, "{}", r.body);
    let t = &r.body["groups"]["treatment"];
    assert_eq!((t["size"].as_i64(), t["converters"].as_i64()), (Some(3), Some(1)), "{}", r.body);
    assert_eq!(t["revenue_per_customer"].as_f64(), Some(100_000.0), "300,000 over 3 members, counted once: {}", r.body);
}
