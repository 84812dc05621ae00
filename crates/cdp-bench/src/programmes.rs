//! Programmes and plans over HTTP: a hot voucher campaign (codes issued to
//! every person, redeemed by concurrent tills, one code fought over by every
//! till at once), a campaign's results over a big segment, and ingestion
//! through a source with a tracking plan against one without.

use crate::{percentile, scratch_database, start_server as start, Backend};
use cdp_domain::auth::{Grants, Scope};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn vouchers(backend: Backend, postgres_url: Option<String>, people: usize, clients: usize) {
    let scratch = scratch_database(backend, postgres_url);
    let (port, db) = start(&scratch.url);
    let key = db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![Scope::Admin]), None)).unwrap().1;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(300)).build();
    let post = |path: &str, body: Value| -> Value {
        match agent.post(&format!("{base}{path}")).set("X-Api-Key", &key).send_json(body) {
            Ok(r) => r.into_json().unwrap(),
            Err(ureq::Error::Status(s, r)) => panic!("{path}: {s} {}", r.into_string().unwrap_or_default()),
            Err(e) => panic!("{path}: {e}"),
        }
    };
    eprintln!("loading {people} people…");
    let mut ids = Vec::with_capacity(people);
    for chunk in (0..people).collect::<Vec<_>>().chunks(1000) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| json!({"event": "Signed Up", "channel": "store", "identities": {"loyalty_card": format!("LC{i:08}")}}))
            .collect();
        let r = post("/events/batch", json!({ "events": events }));
        ids.extend(
            r["results"].as_array().expect("results").iter().map(|x| x["profile_id"].as_str().unwrap_or_else(|| panic!("{x}")).to_string()),
        );
    }
    let now = chrono::Utc::now();
    let campaign = post(
        "/voucher-campaigns",
        json!({"name": "Hot", "kind": "amount", "value": 20000, "valid_from": (now - chrono::Duration::days(1)).to_rfc3339(),
               "valid_to": (now + chrono::Duration::days(30)).to_rfc3339()}),
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = Instant::now();
    let mut codes = Vec::with_capacity(people);
    for chunk in ids.chunks(1000) {
        let r = post(&format!("/voucher-campaigns/{campaign}/issue"), json!({ "profile_ids": chunk }));
        codes.extend(r["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap().to_string()));
    }
    let issue_s = t.elapsed().as_secs_f64();
    assert_eq!(codes.len(), people);

    // Every till redeems its share of the codes, each for its own order.
    let redeem = |code: &str, order: &str| -> (u16, Duration) {
        let t = Instant::now();
        let status =
            match agent.post(&format!("{base}/vouchers/{code}/redeem")).set("X-Api-Key", &key).send_json(json!({"order_id": order})) {
                Ok(r) => {
                    let _ = r.into_string();
                    200
                }
                Err(ureq::Error::Status(s, r)) => {
                    let _ = r.into_string();
                    s
                }
                Err(e) => panic!("redeem: {e}"),
            };
        (status, t.elapsed())
    };
    let t = Instant::now();
    let results: Vec<(u16, Duration)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..clients)
            .map(|w| {
                let codes = &codes;
                let redeem = &redeem;
                s.spawn(move || (w..codes.len()).step_by(clients).map(|i| redeem(&codes[i], &format!("O-{i}"))).collect::<Vec<_>>())
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let took = t.elapsed().as_secs_f64();
    assert!(results.iter().all(|r| r.0 == 200), "every code redeems once");
    let mut lat: Vec<Duration> = results.iter().map(|r| r.1).collect();
    lat.sort();

    // Every till at once on the same code, a round per code: one wins each.
    let rounds = 200.min(people);
    let fresh: Vec<String> = {
        let r = post(
            "/voucher-campaigns",
            json!({"name": "Contended", "kind": "amount", "value": 20000, "valid_from": (now - chrono::Duration::days(1)).to_rfc3339(),
                   "valid_to": (now + chrono::Duration::days(30)).to_rfc3339()}),
        );
        let c = r["id"].as_str().unwrap().to_string();
        let r = post(&format!("/voucher-campaigns/{c}/issue"), json!({ "profile_ids": ids[..rounds] }));
        r["items"].as_array().unwrap().iter().map(|i| i["code"].as_str().unwrap().to_string()).collect()
    };
    let t = Instant::now();
    let mut wins = 0;
    let mut fought = Vec::new();
    for code in &fresh {
        let r: Vec<(u16, Duration)> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients).map(|w| s.spawn(move || redeem(code, &format!("C-{code}-{w}")))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        wins += r.iter().filter(|x| x.0 == 200).count();
        assert!(r.iter().all(|x| x.0 == 200 || x.0 == 409), "{r:?}");
        fought.extend(r.into_iter().map(|x| x.1));
    }
    let fought_s = t.elapsed().as_secs_f64();
    assert_eq!(wins, rounds, "exactly one till wins each code");
    fought.sort();
    println!(
        "backend={} people={people} clients={clients} issue_codes_per_s={:.0} redemptions_per_s={:.0} p50_ms={:.2} p99_ms={:.2} \
         contended_rounds={rounds} contended_requests_per_s={:.0} contended_p99_ms={:.2} winners_per_round=1",
        backend.name(),
        people as f64 / issue_s,
        people as f64 / took,
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        (rounds * clients) as f64 / fought_s,
        percentile(&fought, 0.99).as_secs_f64() * 1e3,
    );
    drop(db);
}

/// A campaign over a segment of `people` members (20% held out) and a goal
/// event for one person in seven: the time to create it and to compute its
/// results, over HTTP.
pub fn campaign(backend: Backend, postgres_url: Option<String>, people: usize, seed: u64) {
    let scratch = scratch_database(backend, postgres_url);
    let (port, db) = start(&scratch.url);
    let key = db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![Scope::Admin]), None)).unwrap().1;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(1800)).build();
    let call = |method: &str, path: &str, body: Option<Value>| -> (Value, f64) {
        let t = Instant::now();
        let req = agent.request(method, &format!("{base}{path}")).set("X-Api-Key", &key);
        let r = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        match r {
            Ok(r) => (r.into_json().unwrap(), t.elapsed().as_secs_f64() * 1e3),
            Err(ureq::Error::Status(s, r)) => panic!("{path}: {s} {}", r.into_string().unwrap_or_default()),
            Err(e) => panic!("{path}: {e}"),
        }
    };
    eprintln!("loading {people} profiles…");
    crate::segments::load(&db, people, seed);
    crate::settle(&scratch.url);
    let (segment, segment_ms) =
        call("POST", "/segments", Some(json!({"name": "everyone", "rule": {"metric": "orders_count", "op": "gte", "value": 0}})));
    assert_eq!(segment["size"].as_u64(), Some(people as u64), "{segment}");
    let start = chrono::Utc::now() - chrono::Duration::days(3);
    let (c, create_ms) = call(
        "POST",
        "/campaigns",
        Some(json!({"name": "bench", "segment_id": segment["id"], "holdout_percent": 20,
                    "goal": {"event": "Order Completed", "window_days": 30}, "starts_at": start.to_rfc3339()})),
    );
    let id = c["id"].as_str().unwrap().to_string();
    eprintln!("created in {create_ms:.0} ms; writing goal events…");
    let at = (start + chrono::Duration::days(1)).timestamp_micros();
    let goals: Vec<usize> = (0..people).filter(|i| i % 7 == 0).collect();
    for chunk in goals.chunks(2000) {
        let rows: Vec<String> = chunk
            .iter()
            .map(|&i| {
                format!(
                    "('{}', '{}', 'bench', NULL, NULL, 'track', 'Order Completed', 'web', {at}, {at}, '{{}}', '{{}}', \
                     '{{\"order_id\":\"G-{i}\",\"revenue\":{}}}', '{{}}', NULL, NULL)",
                    cdp_store::new_id(),
                    crate::segments::id(i),
                    100_000 + (i % 13) * 25_000
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO events (id, profile_id, source_key, source_id, message_id, event_type, name, channel, occurred_at, received_at, \
             identities, traits, properties, context, blocked_identities, origin_profile_id) VALUES {}",
            rows.join(",")
        );
        db.write(|conn| {
            cdp_store::per_backend!(&mut *conn, |x| diesel::RunQueryDsl::execute(diesel::sql_query(&sql), x))?;
            Ok::<_, cdp_store::StoreError>(())
        })
        .expect("goal events");
    }
    crate::settle(&scratch.url);
    let mut runs = Vec::new();
    let mut last = Value::Null;
    for _ in 0..3 {
        let (r, ms) = call("GET", &format!("/campaigns/{id}/results"), None);
        runs.push(ms);
        last = r;
    }
    let converters =
        last["groups"]["treatment"]["converters"].as_u64().unwrap() + last["groups"]["control"]["converters"].as_u64().unwrap();
    assert_eq!(converters, goals.len() as u64, "every goal event counted once");
    println!(
        "backend={} members={people} control={} segment_create_ms={segment_ms:.0} campaign_create_ms={create_ms:.0} goal_events={} \
         results_ms={:.0}/{:.0}/{:.0} p_value={}",
        backend.name(),
        c["groups"]["control"],
        goals.len(),
        runs[0],
        runs[1],
        runs[2],
        last["uplift"]["p_value"],
    );
    drop(db);
}

/// Ingestion through a source with a tracking plan against one without, in
/// the same server, alternated: batches of 100 orders (valid, so every event
/// is checked against its schema and stored), 4 clients.
pub fn tracking(backend: Backend, postgres_url: Option<String>, events: usize, rounds: usize) {
    let scratch = scratch_database(backend, postgres_url);
    let (port, db) = start(&scratch.url);
    let key = db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![Scope::Admin]), None)).unwrap().1;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(300)).build();
    let source = |name: &str| -> (String, String) {
        let r: Value = agent
            .post(&format!("{base}/sources"))
            .set("X-Api-Key", &key)
            .send_json(json!({"name": name, "channel": "store"}))
            .unwrap()
            .into_json()
            .unwrap();
        (r["id"].as_str().unwrap().to_string(), r["write_key"].as_str().unwrap().to_string())
    };
    let (planned, planned_key) = source("planned");
    let (_, plain_key) = source("plain");
    let schema = json!({"type": "object", "required": ["order_id", "revenue"], "properties": {
        "order_id": {"type": "string"}, "revenue": {"type": "number", "minimum": 0}, "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "products": {"type": "array", "items": {"type": "object", "required": ["product_id", "price"],
            "properties": {"product_id": {"type": "string"}, "price": {"type": "number"}, "quantity": {"type": "integer", "minimum": 1}}}}}});
    agent
        .put(&format!("{base}/sources/{planned}/tracking-plan"))
        .set("X-Api-Key", &key)
        .send_json(json!({"events": {"Order Completed": schema}, "violations": "block"}))
        .unwrap();
    let run = |write_key: &str, tag: &str| -> f64 {
        let bodies: Vec<String> = (0..events / 100)
            .map(|b| {
                let batch: Vec<Value> = (0..100)
                    .map(|i| {
                        let n = b * 100 + i;
                        json!({"event": "Order Completed", "identities": {"loyalty_card": format!("{tag}{:06}", n % 5000)},
                               "properties": {"order_id": format!("{tag}-{n}"), "revenue": 250_000, "currency": "VND",
                                              "products": [{"product_id": "sua-1l", "price": 125_000, "quantity": 2}]}})
                    })
                    .collect();
                json!({ "events": batch }).to_string()
            })
            .collect();
        let t = Instant::now();
        std::thread::scope(|s| {
            for w in 0..4 {
                let (bodies, agent, base) = (&bodies, &agent, &base);
                s.spawn(move || {
                    for body in bodies.iter().skip(w).step_by(4) {
                        let r = agent
                            .post(&format!("{base}/events/batch"))
                            .set("X-Api-Key", write_key)
                            .set("Content-Type", "application/json")
                            .send_string(body)
                            .expect("batch");
                        let v: Value = r.into_json().unwrap();
                        assert_eq!(v["accepted"].as_u64(), Some(100), "{v}");
                    }
                });
            }
        });
        events as f64 / t.elapsed().as_secs_f64()
    };
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        without.push(run(&plain_key, &format!("P{r}")));
        with.push(run(&planned_key, &format!("T{r}")));
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let fmt = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(",");
    println!(
        "backend={} events_per_run={events} without_plan_events_per_s={} with_plan_events_per_s={} ratio={:.3}",
        backend.name(),
        fmt(&without),
        fmt(&with),
        mean(&with) / mean(&without)
    );
    drop(db);
}
