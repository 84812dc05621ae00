use cdp_domain::auth::Scope;
use cdp_suite::*;
use serde_json::Value;
use std::collections::HashSet;

/// `origin_profile_id` of the row of `table` whose `column` is `key` (None also when there is no such row).
fn origin_of(app: &TestApp, table: &str, column: &str, key: &str) -> Option<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
        origin_profile_id: Option<String>,
    }
    let sql = format!("SELECT origin_profile_id FROM {table} WHERE {column} = '{key}'");
    let rows: Vec<Row> = app
        .db
        .read(|c| Ok::<_, cdp_store::StoreError>(cdp_store::per_backend!(c, |x| diesel::RunQueryDsl::load(diesel::sql_query(&sql), x))?))
        .unwrap();
    rows.into_iter().next().and_then(|r| r.origin_profile_id)
}

fn identities_of(profile: &serde_json::Value) -> HashSet<(String, String)> {
    profile["identities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["type"].as_str().unwrap().to_string(), i["value"].as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn one_person_four_channels_is_one_profile() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Website", "web");
    let (_, store) = app.source("Cửa hàng Quận 1", "store");
    let (_, hotline) = app.source("Tổng đài 1900", "hotline");
    let (_, zalo) = app.source("Zalo OA", "social");

    let a = app.event(
        &web,
        json!({"type": "page", "event": "Sữa tươi", "occurred_at": "2026-11-01T08:00:00Z",
        "identities": {"anonymous_id": "anon-7f3a", "email": "An.Nguyen@Example.vn"}}),
    );
    let b = app.event(
        &store,
        json!({"event": "Order Completed", "occurred_at": "2026-11-02T10:15:00+07:00",
        "identities": {"phone": "0912 345 678", "loyalty_card": "VNM-0042"},
        "traits": {"email": "an.nguyen@example.vn", "first_name": "An", "city": "Hà Nội"},
        "properties": {"order_id": "Q1-000123", "revenue": 350000, "currency": "VND"}}),
    );
    let c = app.event(
        &hotline,
        json!({"event": "Call Received", "occurred_at": "2026-11-03T09:00:00Z",
        "identities": {"phone": "+84 912 345 678", "user_id": "KH-1001"}, "context": {"agent_id": "nv-07"}}),
    );
    let d = app.event(
        &zalo,
        json!({"event": "Message Received", "occurred_at": "2026-11-04T20:30:00Z",
        "identities": {"zalo_id": "zl-99812", "phone": "84912345678"}, "traits": {"city": "Hà Nội"}}),
    );
    // Someone else, on the same channels, stays apart.
    let other = app.event(
        &store,
        json!({"event": "Order Completed", "identities": {"phone": "0987 654 322"},
        "properties": {"order_id": "Q1-000124", "revenue": 120000}}),
    );

    let pid = a["profile_id"].as_str().unwrap();
    for e in [&b, &c, &d] {
        assert_eq!(e["profile_id"], pid, "every touchpoint resolves to the first profile");
    }
    assert_ne!(other["profile_id"], pid);
    assert_eq!(app.count_live_profiles(), 2);

    let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key);
    assert_eq!(p.status, 200);
    let want: HashSet<(String, String)> = [
        ("anonymous_id", "anon-7f3a"),
        ("email", "an.nguyen@example.vn"),
        ("phone", "+84912345678"),
        ("loyalty_card", "VNM-0042"),
        ("user_id", "KH-1001"),
        ("zalo_id", "zl-99812"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(identities_of(&p.body), want);
    assert_eq!(p.body["channels"], json!(["store", "web", "hotline", "social"]));
    assert_eq!(p.body["event_count"], 4);
    assert_eq!(p.body["first_seen_at"], "2026-11-01T08:00:00Z");
    assert_eq!(p.body["last_seen_at"], "2026-11-04T20:30:00Z");
    assert_eq!(p.body["traits"]["first_name"], "An");

    let t = app.get(&format!("/api/v1/profiles/{pid}/events"), &app.admin_key);
    let names: Vec<&str> = t.body["items"].as_array().unwrap().iter().map(|e| e["channel"].as_str().unwrap()).collect();
    assert_eq!(names, ["social", "hotline", "store", "web"], "newest first");
    assert_eq!(t.body["next_cursor"], serde_json::Value::Null);

    // Every spelling of an identity finds the profile.
    for (kind, value) in [("phone", "0912.345.678"), ("email", " AN.NGUYEN@example.VN"), ("zalo_id", "zl-99812")] {
        let r = app.lookup(kind, value);
        assert_eq!(r.status, 200, "{kind} {value}");
        assert_eq!(r.body["id"], pid);
    }
    assert_eq!(app.lookup("email", "nobody@example.vn").status, 404);
}

#[test]
fn a_bridging_event_merges_and_the_log_explains_it() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Website", "web");
    let (_, store) = app.source("Store", "store");
    let (_, hotline) = app.source("Hotline", "hotline");

    let first = app.event(
        &web,
        json!({"type": "identify", "occurred_at": "2026-10-01T00:00:00Z",
        "identities": {"email": "binh@example.vn"}, "traits": {"city": "Huế", "name": "Bình"}}),
    );
    let second = app.event(
        &store,
        json!({"event": "Order Completed", "occurred_at": "2026-10-05T00:00:00Z",
        "identities": {"phone": "0903 111 222"}, "traits": {"city": "Đà Nẵng"}, "properties": {"order_id": "B-1", "revenue": 100000}}),
    );
    let (p1, p2) = (first["profile_id"].as_str().unwrap().to_string(), second["profile_id"].as_str().unwrap().to_string());
    assert_ne!(p1, p2);

    let bridge = app.event(
        &hotline,
        json!({"event": "Call Received", "occurred_at": "2026-10-03T00:00:00Z",
        "identities": {"email": "binh@example.vn", "phone": "+84903111222"}}),
    );
    assert_eq!(bridge["profile_id"], p1.as_str(), "the oldest profile survives");
    assert_eq!(app.count_live_profiles(), 1);

    // The merged-away id still answers, with the survivor.
    let old = app.get(&format!("/api/v1/profiles/{p2}"), &app.admin_key);
    assert_eq!(old.status, 200);
    assert_eq!(old.body["id"], p1.as_str());
    assert_eq!(old.body["event_count"], 3);
    assert_eq!(old.body["traits"]["city"], "Đà Nẵng", "the most recent value wins");
    assert_eq!(old.body["traits"]["name"], "Bình");
    assert_eq!(old.body["channels"], json!(["store", "web", "hotline"]));

    let log = app.get(&format!("/api/v1/profiles/{p2}/merges"), &app.admin_key);
    assert_eq!(log.status, 200);
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "merge");
    assert_eq!(items[0]["survivor_id"], p1.as_str());
    assert_eq!(items[0]["merged_id"], p2.as_str());
    assert_eq!(items[0]["identity"], json!({"type": "phone", "value": "+84903111222"}));
    assert_eq!(items[0]["event_id"], bridge["id"]);
    // What moved remembers where it came from (what undoing the merge gives back).
    assert_eq!(origin_of(&app, "events", "id", second["id"].as_str().unwrap()).as_deref(), Some(p2.as_str()));
    assert_eq!(origin_of(&app, "identities", "value", "+84903111222").as_deref(), Some(p2.as_str()));
    assert_eq!(origin_of(&app, "orders", "order_id", "B-1").as_deref(), Some(p2.as_str()));
    assert_eq!(origin_of(&app, "loyalty_ledger", "order_id", "B-1").as_deref(), Some(p2.as_str()));
    assert_eq!(origin_of(&app, "events", "id", first["id"].as_str().unwrap()), None, "never moved");

    // Every event is reachable from the survivor, the merged profile's included.
    let t = app.get(&format!("/api/v1/profiles/{p1}/events"), &app.admin_key);
    let ids: HashSet<&str> = t.body["items"].as_array().unwrap().iter().map(|e| e["id"].as_str().unwrap()).collect();
    for e in [&first, &second, &bridge] {
        assert!(ids.contains(e["id"].as_str().unwrap()));
    }
    // A chain of merges still answers in one hop: merge the survivor's group with a third profile.
    let third = app.event(&web, json!({"identities": {"anonymous_id": "c-3"}, "event": "Viewed", "occurred_at": "2026-09-01T00:00:00Z"}));
    let p3 = third["profile_id"].as_str().unwrap().to_string();
    let join = app.event(&web, json!({"identities": {"anonymous_id": "c-3", "email": "binh@example.vn"}, "event": "Viewed"}));
    assert_eq!(join["profile_id"], p1.as_str(), "the older profile by creation survives, not by first_seen");
    for id in [&p1, &p2, &p3] {
        assert_eq!(app.get(&format!("/api/v1/profiles/{id}"), &app.admin_key).body["id"], p1.as_str());
    }
    let log = app.get(&format!("/api/v1/profiles/{p1}/merges"), &app.admin_key);
    assert_eq!(log.body["items"].as_array().unwrap().len(), 2);
}

#[test]
fn two_user_ids_never_merge() {
    let app = TestApp::spawn();
    let (_, app_src) = app.source("Mobile app", "app");
    let a = app.event(&app_src, json!({"type": "identify", "identities": {"user_id": "u-1", "email": "chi@example.vn"}}));
    let b = app.event(&app_src, json!({"type": "identify", "identities": {"user_id": "u-2", "phone": "0911 000 111"}}));
    let bridge = app.event(&app_src, json!({"event": "Shared Account", "identities": {"email": "chi@example.vn", "phone": "0911000111"}}));
    assert_eq!(app.count_live_profiles(), 2, "no merge across user_ids");
    assert_eq!(bridge["profile_id"], a["profile_id"], "the highest-priority identity (email) decides");
    let log = app.get(&format!("/api/v1/profiles/{}/merges", a["profile_id"].as_str().unwrap()), &app.admin_key);
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "conflict");
    assert_eq!(items[0]["merged_id"], b["profile_id"]);
    assert_eq!(items[0]["identity"]["type"], "phone");
    // The phone stays with its owner.
    assert_eq!(app.lookup("phone", "0911000111").body["id"], b["profile_id"]);
    // A new user_id with another user's email gets a profile of its own.
    let c = app
        .event(&app_src, json!({"type": "identify", "identities": {"user_id": "u-3", "email": "chi@example.vn", "anonymous_id": "dev-3"}}));
    assert_ne!(c["profile_id"], a["profile_id"]);
    assert_ne!(c["profile_id"], b["profile_id"]);
    assert_eq!(app.count_live_profiles(), 3);
    assert_eq!(app.lookup("anonymous_id", "dev-3").body["id"], c["profile_id"]);
}

#[test]
fn the_same_message_id_is_stored_once() {
    let app = TestApp::spawn();
    let (_, store) = app.source("Store", "store");
    let (_, other_store) = app.source("Store 2", "store");
    let ev = json!({"message_id": "pos-q1-000123", "event": "Order Completed", "identities": {"phone": "0912345678"}});
    let first = app.event(&store, ev.clone());
    assert_eq!(first["status"], "accepted");
    let again = app.event(&store, ev.clone());
    assert_eq!(again["status"], "duplicate");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["profile_id"], first["profile_id"]);
    let pid = first["profile_id"].as_str().unwrap();
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body["event_count"], 1);

    // Inside one batch, and across batches.
    let r = app.post(
        "/api/v1/events/batch",
        &store,
        json!({"events": [ev.clone(),
        {"message_id": "pos-q1-000124", "event": "Order Completed", "identities": {"phone": "0912345678"}},
        {"message_id": "pos-q1-000124", "event": "Order Completed", "identities": {"phone": "0912345678"}}]}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["accepted"].as_u64(), r.body["duplicates"].as_u64()), (Some(1), Some(2)));
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body["event_count"], 2);

    // The dedupe key is per source.
    assert_eq!(app.event(&other_store, ev)["status"], "accepted");
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body["event_count"], 3);
}

/// 16 writers send overlapping identities of 200 people at once: every
/// person ends as exactly one profile and every acknowledged event is stored once.
#[test]
fn concurrent_writers_make_one_profile_per_person() {
    const PEOPLE: usize = 200;
    const WRITERS: usize = 16;
    let app = TestApp::spawn_with(|s| s.db_pool_size = Some(16));
    let (_, key) = app.source("Load", "web");
    let ids =
        |k: usize| [("email", format!("person{k}@example.vn")), ("phone", format!("0912{k:06}")), ("anonymous_id", format!("anon-{k}"))];
    let acked: usize = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (app, key) = (&app, &key);
                s.spawn(move || {
                    // Each writer walks everyone in its own order, carrying one
                    // pair of each person's identities: the pairs overlap.
                    let mut order: Vec<usize> = (0..PEOPLE).collect();
                    let mut x = w as u64 * 2_654_435_761 + 1;
                    for i in (1..order.len()).rev() {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        order.swap(i, (x % (i as u64 + 1)) as usize);
                    }
                    let mut acked = 0;
                    for chunk in order.chunks(25) {
                        let events: Vec<_> = chunk
                            .iter()
                            .map(|&k| {
                                let all = ids(k);
                                let (a, b) = (&all[w % 3], &all[(w + 1) % 3]);
                                json!({"message_id": format!("w{w}-p{k}"), "event": "Visited",
                                       "identities": {a.0: a.1, b.0: b.1}, "traits": {"writer": w}})
                            })
                            .collect();
                        let r = app.post("/api/v1/events/batch", key, json!({ "events": events }));
                        assert_eq!(r.status, 200, "{}", r.body);
                        acked += r.body["accepted"].as_u64().unwrap() as usize;
                    }
                    acked
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(acked, PEOPLE * WRITERS);
    assert_eq!(app.count_live_profiles(), PEOPLE as i64);
    let mut total = 0;
    for k in [0, 1, 57, 199] {
        let all = ids(k);
        let p = app.lookup(all[0].0, &all[0].1);
        assert_eq!(p.status, 200);
        for (kind, v) in &all[1..] {
            assert_eq!(app.lookup(kind, v).body["id"], p.body["id"], "person {k}");
        }
        assert_eq!(p.body["event_count"], WRITERS);
        total += 1;
    }
    assert_eq!(total, 4);
    let stored: i64 = app
        .db
        .read(|c| {
            use diesel::prelude::*;
            Ok::<_, cdp_store::StoreError>(cdp_store::schema::events::table.count().get_result::<i64>(c)?)
        })
        .unwrap();
    assert_eq!(stored as usize, PEOPLE * WRITERS, "every acknowledged event stored exactly once");
    assert_rows_belong_to_live_profiles(&app);
}

/// Single-event requests arriving together are stored in shared
/// transactions (group commit): 48 concurrent writers, each message sent twice
/// on different connections, people reached by different identifiers.
/// Every event is stored once, every resend answers "duplicate" with the
/// stored event's id, and each person is one profile.
#[test]
fn concurrent_single_events_share_commits_and_stay_exact() {
    const WRITERS: usize = 48;
    const PEOPLE: usize = 12;
    let app = TestApp::spawn_with(|s| s.db_pool_size = Some(16));
    let (_, key) = app.source("App", "app");
    let key = &key;
    let answers: Vec<(String, String, String, String)> = in_parallel(WRITERS, |w| {
        let mut out = Vec::new();
        for n in 0..10 {
            // Writers w and w^1 send the same messages.
            let mid = format!("m{}-{n}", w / 2);
            let p = (w / 2 + n) % PEOPLE;
            let ids = if w % 2 == 0 {
                json!({"email": format!("p{p}@example.vn"), "user_id": format!("u{p}")})
            } else {
                json!({"user_id": format!("u{p}"), "phone": format!("0913{p:06}")})
            };
            let r = app.post("/api/v1/events", key, json!({"message_id": mid, "event": "Opened", "identities": ids}));
            assert_eq!(r.status, 202, "{}", r.body);
            let field = |f: &str| r.body[f].as_str().unwrap().to_string();
            out.push((mid, field("status"), field("id"), field("profile_id")));
        }
        out
    });
    let mut by_message: std::collections::HashMap<String, Vec<(String, String)>> = Default::default();
    for (mid, status, id, _) in &answers {
        by_message.entry(mid.clone()).or_default().push((status.clone(), id.clone()));
    }
    assert_eq!(by_message.len(), WRITERS / 2 * 10);
    for (mid, answers) in &by_message {
        let mut statuses: Vec<&str> = answers.iter().map(|a| a.0.as_str()).collect();
        statuses.sort();
        assert_eq!(statuses, ["accepted", "duplicate"], "{mid}");
        assert_eq!(answers[0].1, answers[1].1, "both answers of {mid} name the stored event");
    }
    assert_eq!(app.count_live_profiles(), PEOPLE as i64);
    for p in 0..PEOPLE {
        let a = app.lookup("email", &format!("p{p}@example.vn"));
        let b = app.lookup("phone", &format!("0913{p:06}"));
        assert_eq!(a.body["id"], b.body["id"], "person {p}");
        assert_eq!(a.body["event_count"], WRITERS / 2 * 10 / PEOPLE, "person {p}");
    }
}

/// Batches, single events and Segment batches arriving together share
/// transactions (group commit): every request gets the answers of its own
/// events, in its order — each event names the profile of its own person —
/// and a resent batch answers "duplicate" for each of its events.
#[test]
fn concurrent_batches_share_commits_and_answer_their_own_events() {
    const WRITERS: usize = 12;
    let app = TestApp::spawn_with(|s| s.db_pool_size = Some(16));
    let (_, key) = app.source("Web", "web");
    let key = &key;
    let answers: Vec<(String, String, String)> = in_parallel(WRITERS, |w| {
        let mut out = Vec::new();
        for n in 0..8 {
            let size = 1 + (w * 7 + n * 5) % 23;
            let email = |i: usize| format!("w{w}-n{n}-i{i}@example.vn");
            let events: Vec<_> = (0..size)
                .map(|i| json!({"message_id": format!("w{w}-n{n}-i{i}"), "event": "Viewed", "identities": {"email": email(i)}}))
                .collect();
            match (w + n) % 3 {
                0 => {
                    let r = app.event(key, events[0].clone());
                    out.push((email(0), r["status"].as_str().unwrap().to_string(), r["profile_id"].to_string()));
                }
                1 => {
                    let body = json!({ "batch": (0..size).map(|i| json!({"type": "track", "event": "Viewed",
                            "messageId": format!("w{w}-n{n}-i{i}"), "userId": format!("w{w}-n{n}-i{i}"),
                            "context": {"traits": {"email": email(i)}}})).collect::<Vec<_>>() });
                    let r = app.post("/v1/batch", key, body);
                    assert_eq!(r.status, 200, "{}", r.body);
                    assert_eq!(r.body["accepted"].as_u64(), Some(size as u64), "{}", r.body);
                    out.extend((0..size).map(|i| (email(i), "accepted".to_string(), String::new())));
                }
                _ => {
                    for attempt in ["accepted", "duplicate"] {
                        let r = app.post("/api/v1/events/batch", key, json!({ "events": events }));
                        assert_eq!(r.status, 200, "{}", r.body);
                        let results = r.body["results"].as_array().unwrap();
                        assert_eq!(results.len(), size);
                        for (i, res) in results.iter().enumerate() {
                            assert_eq!(res["index"], i);
                            assert_eq!(res["status"], attempt, "{res}");
                            out.push((email(i), attempt.to_string(), res["profile_id"].to_string()));
                        }
                    }
                }
            }
        }
        out
    });
    assert!(answers.len() > 100);
    for (email, status, profile) in &answers {
        let p = app.lookup("email", email);
        assert_eq!(p.status, 200, "{email}");
        if !profile.is_empty() {
            assert_eq!(p.body["id"].to_string(), *profile, "{email} ({status}) was answered with another person's profile");
        }
        assert_eq!(p.body["event_count"], 1, "{email}");
    }
    assert_rows_belong_to_live_profiles(&app);
}

/// Inside one batch each event sees the ones before it: profiles created,
/// merged and merged again within the batch, an old profile absorbed too.
#[test]
fn merges_inside_one_batch() {
    let app = TestApp::spawn();
    let (_, key) = app.source("POS", "store");
    let before = app.event(&key, json!({"identities": {"loyalty_card": "VNM-7"}, "event": "Card Issued", "traits": {"tier": "dong"}}));
    let r = app.post("/api/v1/events/batch", &key, json!({"events": [
        {"message_id": "b1", "event": "A", "identities": {"email": "giang@example.vn"}, "traits": {"city": "Huế"}},
        {"message_id": "b2", "event": "B", "identities": {"phone": "0977 000 111"}},
        {"message_id": "b3", "event": "C", "identities": {"email": "giang@example.vn", "phone": "0977000111"}},
        {"message_id": "b1", "event": "A", "identities": {"email": "giang@example.vn"}},
        {"message_id": "b4", "event": "D", "identities": {"phone": "+84977000111", "loyalty_card": "VNM-7"}, "traits": {"city": "Cần Thơ"}}
    ]}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["accepted"].as_u64(), r.body["duplicates"].as_u64()), (Some(4), Some(1)));
    let survivor = before["profile_id"].as_str().unwrap();
    for res in r.body["results"].as_array().unwrap() {
        assert_eq!(res["profile_id"], survivor, "answers name the final survivor: {res}");
    }
    assert_eq!(app.count_live_profiles(), 1);
    let p = app.get(&format!("/api/v1/profiles/{survivor}"), &app.admin_key).body;
    assert_eq!(p["event_count"], 5);
    assert_eq!(p["traits"], json!({"tier": "dong", "city": "Cần Thơ"}));
    assert_eq!(p["identities"].as_array().unwrap().len(), 3);
    let log = app.get(&format!("/api/v1/profiles/{survivor}/merges"), &app.admin_key).body;
    let merged: Vec<&str> = log["items"].as_array().unwrap().iter().map(|m| m["merged_id"].as_str().unwrap()).collect();
    assert_eq!(merged.len(), 2, "{log}");
    for id in merged {
        assert_eq!(app.get(&format!("/api/v1/profiles/{id}"), &app.admin_key).body["id"], survivor);
    }
    let t = app.get(&format!("/api/v1/profiles/{survivor}/events"), &app.admin_key).body;
    assert_eq!(t["items"].as_array().unwrap().len(), 5);
    // Rows of profiles made and merged away within the batch remember them too.
    let results = r.body["results"].as_array().unwrap();
    let first = origin_of(&app, "events", "id", results[0]["id"].as_str().unwrap());
    assert!(first.as_deref().is_some_and(|o| o != survivor), "event A came through a profile merged away: {first:?}");
    assert_eq!(origin_of(&app, "identities", "value", "giang@example.vn"), first);
    assert_eq!(origin_of(&app, "events", "id", before["id"].as_str().unwrap()), None, "the survivor's own event never moved");
}

/// `n` walk-in purchases at one shop, each with its own loyalty card and the
/// phone as `phone(i)`, sent in batches; answers their profile ids.
fn walk_ins(app: &TestApp, key: &str, prefix: &str, n: usize, phone: impl Fn(usize) -> String) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
        let events: Vec<Value> = chunk
            .iter()
            .map(|i| {
                json!({"event": "Order Completed", "identities": {"loyalty_card": format!("{prefix}-{i:05}"), "phone": phone(*i)},
                       "traits": {"phone": phone(*i)}, "properties": {"order_id": format!("{prefix}-O{i:05}"), "revenue": 45000}})
            })
            .collect();
        let r = app.post("/api/v1/events/batch", key, json!({ "events": events }));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["accepted"], chunk.len(), "{}", r.body);
        ids.extend(r.body["results"].as_array().unwrap().iter().map(|x| x["profile_id"].as_str().unwrap().to_string()));
    }
    ids
}

#[test]
fn walk_ins_with_placeholder_or_blocked_phones_stay_apart() {
    let app = TestApp::spawn();
    let (_, shop) = app.source("Cửa hàng Cần Thơ", "store");
    const PLACEHOLDERS: [&str; 3] = ["0000000000", "0123456789", "000 000 0000"];
    let ids = walk_ins(&app, &shop, "CT", 1000, |i| PLACEHOLDERS[i % 3].to_string());
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1000, "1,000 walk-ins are 1,000 people");
    assert_eq!(app.count_live_profiles(), 1000);
    for pid in [&ids[0], &ids[1], &ids[2], &ids[999]] {
        let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body;
        assert_eq!(identities_of(&p).into_iter().map(|(t, _)| t).collect::<Vec<_>>(), ["loyalty_card"], "{p}");
        assert!(p["traits"].get("phone").is_none(), "a placeholder is no trait: {p}");
    }
    // The event keeps the placeholder as data: the export shows it.
    let export = app.get(&format!("/api/v1/profiles/{}/export", ids[0]), &app.admin_key).body;
    assert_eq!(export["events"][0]["blocked_identities"], json!([{"type": "phone", "value": "0000000000"}]), "{export}");
    assert_eq!(export["events"][0]["identities"], json!([{"type": "loyalty_card", "value": "CT-00000"}]));
    // A placeholder alone is set aside, not refused.
    let alone = app.post("/api/v1/events", &shop, json!({"event": "Visit", "identities": {"phone": "0000000000"}}));
    assert_eq!(alone.status, 202, "{}", alone.body);

    // The shop's own number, typed for everyone: blocked by the operator.
    let before = app.lookup("phone", "0909 000 000");
    assert_eq!(before.status, 404);
    let r = app.send_json("PUT", "/api/v1/identity/rules", &app.admin_key, {
        let mut doc = app.get("/api/v1/identity/rules", &app.admin_key).body;
        doc["blocked"] = json!([{"type": "phone", "value": "0909 000 000"}]);
        doc
    });
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["blocked"], json!([{"type": "phone", "value": "+84909000000"}]), "stored normalised");
    let shop_ids = walk_ins(&app, &shop, "CT2", 1000, |_| "0909 000 000".to_string());
    assert_eq!(shop_ids.iter().collect::<HashSet<_>>().len(), 1000);
    assert_eq!(app.count_live_profiles(), 2001);
    assert_eq!(app.lookup("phone", "+84909000000").status, 404, "nobody holds the shop's number");
    let p = app.get(&format!("/api/v1/profiles/{}", shop_ids[7]), &app.admin_key).body;
    assert!(p["traits"].get("phone").is_none(), "{p}");
    assert_eq!(identities_of(&p).len(), 1, "{p}");
}

#[test]
fn identity_rules_are_checked_stored_and_audited() {
    let app = TestApp::spawn();
    let defaults = app.get("/api/v1/identity/rules", &app.admin_key);
    assert_eq!(defaults.status, 200);
    assert_eq!(defaults.body["types"]["user_id"], json!({"limit": 1, "priority": 1}));
    assert_eq!(defaults.body["types"]["email"], json!({"limit": 5, "priority": 3}));
    assert_eq!(defaults.body["placeholders"], true);

    let bad = app.send_json(
        "PUT",
        "/api/v1/identity/rules",
        &app.admin_key,
        json!({"types": {"Bad Type": {"limit": 1, "priority": 1}, "email": {"limit": 0, "priority": 2}},
               "blocked": [{"type": "email", "pattern": "(unclosed"}, {"type": "phone", "value": "not a phone"}]}),
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    let fields: Vec<&str> =
        bad.body["error"]["details"]["fields"].as_array().unwrap().iter().map(|d| d["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["types.Bad Type", "types.email.limit", "blocked[0].pattern", "blocked[1].value"]);
    assert_eq!(app.get("/api/v1/identity/rules", &app.admin_key).body, defaults.body, "nothing of a refused document is kept");

    let reader = app.key(&[Scope::ProfilesRead], None);
    assert_eq!(app.get("/api/v1/identity/rules", &reader).status, 403);

    let doc = json!({"types": {"user_id": {"limit": 1, "priority": 1}, "email": {"limit": 2, "priority": 2}},
                     "blocked": [{"type": "email", "pattern": "^shop\\d+@"}], "placeholders": false});
    let r = app.send_json("PUT", "/api/v1/identity/rules", &app.admin_key, doc.clone());
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(app.get("/api/v1/identity/rules", &app.admin_key).body, doc);
    let audit = app.get("/api/v1/audit?action=identity_rules.update", &app.admin_key);
    assert_eq!(audit.status, 200, "{}", audit.body);
    assert_eq!(audit.body["items"].as_array().unwrap().len(), 1, "{}", audit.body);

    // Placeholders unblocked: a valid placeholder number is an identity again.
    let (_, web) = app.source("Web", "web");
    let a = app.event(&web, json!({"event": "x", "identities": {"phone": "0987654321", "loyalty_card": "C-1"}}));
    let b = app.event(&web, json!({"event": "y", "identities": {"phone": "+84 987 654 321", "loyalty_card": "C-2"}}));
    assert_eq!(a["profile_id"], b["profile_id"]);
    // A blocked pattern links nothing.
    let c = app.event(&web, json!({"event": "x", "identities": {"email": "shop12@dairy.vn", "loyalty_card": "C-3"}}));
    let d = app.event(&web, json!({"event": "x", "identities": {"email": "shop12@dairy.vn", "loyalty_card": "C-4"}}));
    assert_ne!(c["profile_id"], d["profile_id"]);
}

#[test]
fn limits_hold_and_the_merge_log_says_why() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    // Two accounts of one household, bridged again and again by a shared phone and e-mail.
    let a = app.event(&web, json!({"type": "identify", "identities": {"user_id": "KH-1", "email": "me@nha.vn"}}));
    let b = app.event(&web, json!({"type": "identify", "identities": {"user_id": "KH-2", "phone": "0912 000 111"}}));
    for n in 0..3 {
        let e = app.event(&web, json!({"event": format!("bridge {n}"), "identities": {"email": "me@nha.vn", "phone": "0912 000 111"}}));
        assert_eq!(e["profile_id"], a["profile_id"], "the stronger identity (e-mail) keeps the event");
    }
    assert_ne!(a["profile_id"], b["profile_id"]);
    assert_eq!(app.count_live_profiles(), 2, "two user_ids stay two profiles");
    let log = app.get(&format!("/api/v1/profiles/{}/merges", a["profile_id"].as_str().unwrap()), &app.admin_key).body;
    let conflicts: Vec<&Value> = log["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "conflict").collect();
    assert_eq!(conflicts.len(), 3, "{log}");
    assert!(conflicts.iter().all(|c| c["reason"] == "limit" && c["merged_id"] == b["profile_id"]), "{log}");

    // Five e-mails at most: a sixth is not linked, and said so.
    let pid = a["profile_id"].as_str().unwrap();
    for n in 2..=6 {
        app.event(&web, json!({"event": "x", "identities": {"user_id": "KH-1", "email": format!("me{n}@nha.vn")}}));
    }
    let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body;
    let emails = identities_of(&p).into_iter().filter(|(t, _)| t == "email").count();
    assert_eq!(emails, 5, "{p}");
    assert_eq!(app.lookup("email", "me6@nha.vn").status, 404);
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "conflict" && m["identity"]["value"] == "me6@nha.vn"), "{log}");

    // Two new e-mails on one event (an identity and a trait) where a profile may hold one:
    // the stronger is the person's, the other is refused and names that same profile.
    let mut rules = app.get("/api/v1/identity/rules", &app.admin_key).body;
    rules["types"]["email"]["limit"] = json!(1);
    assert_eq!(app.send_json("PUT", "/api/v1/identity/rules", &app.admin_key, rules).status, 200);
    let e = app.event(&web, json!({"event": "x", "identities": {"email": "p@x.vn", "loyalty_card": "Z-1"}, "traits": {"email": "q@x.vn"}}));
    let log = app.get(&format!("/api/v1/profiles/{}/merges", e["profile_id"].as_str().unwrap()), &app.admin_key).body;
    let refused: Vec<&Value> = log["items"].as_array().unwrap().iter().filter(|m| m["kind"] == "conflict").collect();
    assert_eq!(refused.len(), 1, "{log}");
    assert_eq!((refused[0]["identity"]["value"].as_str(), refused[0]["merged_id"].as_str()), (Some("q@x.vn"), e["profile_id"].as_str()));
}

/// What a profile shows of itself, for comparing before and after.
fn standing(app: &TestApp, pid: &str) -> Value {
    let p = app.get(&format!("/api/v1/profiles/{pid}"), &app.admin_key).body;
    let v = app.get(&format!("/api/v1/profiles/{pid}/value"), &app.admin_key).body;
    let l = app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &app.admin_key).body;
    let c = app.get(&format!("/api/v1/profiles/{pid}/consents"), &app.admin_key).body;
    let mut ids: Vec<Value> = p["identities"].as_array().unwrap().clone();
    ids.sort_by_key(|i| i.to_string());
    json!({"id": p["id"], "traits": p["traits"], "identities": ids, "channels": p["channels"], "event_count": p["event_count"],
           "first_seen_at": p["first_seen_at"], "last_seen_at": p["last_seen_at"], "orders": v["orders_count"], "revenue": v["revenue_total"],
           "first_order_at": v["first_order_at"], "last_order_at": v["last_order_at"],
           "points": l["points_balance"], "tier": l["tier"]["code"], "consents": c["state"]})
}

#[test]
fn undoing_a_merge_gives_each_side_back_its_own_and_keeps_them_apart() {
    let app = TestApp::spawn();
    let (_, web) = app.source("Web", "web");
    let (_, shop) = app.source("Shop", "store");
    let (_, hotline) = app.source("Hotline", "hotline");
    let lan = app.event(
        &web,
        json!({"type": "identify", "occurred_at": "2026-09-01T08:00:00Z", "identities": {"email": "lan@example.vn"},
        "traits": {"city": "Huế", "name": "Lan"}, "context": {"consent": {"email": "granted"}}}),
    );
    app.event(
        &web,
        json!({"event": "Order Completed", "occurred_at": "2026-09-02T08:00:00Z", "identities": {"email": "lan@example.vn"},
        "properties": {"order_id": "W-1", "revenue": 2500000}}),
    );
    let minh = app.event(
        &shop,
        json!({"event": "Order Completed", "occurred_at": "2026-09-05T08:00:00Z",
        "identities": {"phone": "0903 222 333", "loyalty_card": "VNM-9"}, "traits": {"city": "Đà Nẵng"},
        "properties": {"order_id": "S-1", "revenue": 800000}}),
    );
    app.event(
        &shop,
        json!({"event": "Order Refunded", "occurred_at": "2026-09-06T08:00:00Z", "identities": {"phone": "0903 222 333"},
        "properties": {"order_id": "S-1", "revenue": 300000}}),
    );
    let (a, b) = (lan["profile_id"].as_str().unwrap().to_string(), minh["profile_id"].as_str().unwrap().to_string());
    let (before_a, before_b) = (standing(&app, &a), standing(&app, &b));

    // A wrong merge: the hotline typed Lan's e-mail on Minh's call.
    let bridge = app.event(
        &hotline,
        json!({"event": "Call Received", "occurred_at": "2026-09-10T08:00:00Z",
        "identities": {"email": "lan@example.vn", "phone": "0903222333"}}),
    );
    assert_eq!(bridge["profile_id"], a.as_str());
    assert_eq!(app.count_live_profiles(), 1);
    // Minh keeps shopping meanwhile, under the merged profile.
    let later = app.event(
        &shop,
        json!({"event": "Order Completed", "occurred_at": "2026-09-12T08:00:00Z", "identities": {"loyalty_card": "VNM-9"},
        "properties": {"order_id": "S-2", "revenue": 400000}}),
    );
    assert_eq!(later["profile_id"], a.as_str());

    let log = app.get(&format!("/api/v1/profiles/{b}/merges"), &app.admin_key).body;
    let merge = log["items"].as_array().unwrap().iter().find(|m| m["kind"] == "merge").unwrap()["id"].as_str().unwrap().to_string();
    let writer = app.key(&[Scope::ProfilesWrite], None);
    let reader = app.key(&[Scope::ProfilesRead], None);
    assert_eq!(app.post(&format!("/api/v1/merges/{merge}/undo"), &reader, json!({})).status, 403);
    let r = app.post(&format!("/api/v1/merges/{merge}/undo"), &writer, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((r.body["restored_profile_id"].as_str(), r.body["survivor_id"].as_str()), (Some(b.as_str()), Some(a.as_str())));
    assert_eq!(r.body["moved"], json!({"identities": 2, "events": 3, "orders": 2}), "{}", r.body);
    assert_eq!(app.count_live_profiles(), 2);

    // Each side is what it would be had the merge never happened: Lan with the
    // call (her e-mail was its strongest identity), Minh with his later order.
    let mut want_a = before_a.clone();
    want_a["event_count"] = json!(before_a["event_count"].as_i64().unwrap() + 1);
    want_a["channels"] = json!(["web", "hotline"]);
    want_a["last_seen_at"] = json!("2026-09-10T08:00:00Z");
    assert_eq!(standing(&app, &a), want_a);
    let after_b = standing(&app, &b);
    assert_eq!(after_b["identities"], before_b["identities"]);
    assert_eq!(after_b["traits"], before_b["traits"]);
    assert_eq!(after_b["event_count"], before_b["event_count"].as_i64().unwrap() + 1);
    assert_eq!(after_b["orders"], before_b["orders"].as_i64().unwrap() + 1);
    assert_eq!(after_b["consents"], before_b["consents"]);
    assert!(after_b["points"].as_i64().unwrap() > before_b["points"].as_i64().unwrap(), "S-2's points follow it: {after_b}");
    assert_eq!(app.lookup("loyalty_card", "VNM-9").body["id"], b.as_str());
    assert_eq!(app.lookup("email", "lan@example.vn").body["id"], a.as_str());

    // Twice → 409; the log tells; a new bridge merges nothing.
    assert_eq!(app.post(&format!("/api/v1/merges/{merge}/undo"), &writer, json!({})).status, 409);
    let log = app.get(&format!("/api/v1/profiles/{b}/merges"), &app.admin_key).body;
    let kinds: Vec<&str> = log["items"].as_array().unwrap().iter().map(|m| m["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"undo") && kinds.contains(&"merge"), "{log}");
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "merge" && m["undone_at"].is_string()), "{log}");
    let again = app.event(&hotline, json!({"event": "Call Received", "identities": {"email": "lan@example.vn", "phone": "0903222333"}}));
    assert_eq!(again["profile_id"], a.as_str());
    assert_eq!(app.count_live_profiles(), 2, "kept apart");
    let log = app.get(&format!("/api/v1/profiles/{a}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["reason"] == "unmerged" && m["merged_id"] == b.as_str()), "{log}");
    assert_eq!(app.post("/api/v1/merges/no-such-merge/undo", &writer, json!({})).status, 404);
}

#[test]
fn splitting_identities_off_makes_a_second_profile_kept_apart() {
    let app = TestApp::spawn();
    let (_, shop) = app.source("Shop", "store");
    let writer = app.key(&[Scope::ProfilesWrite], None);
    // A mother and a son share the family phone; the shop merged them.
    let mum = app.event(
        &shop,
        json!({"event": "Order Completed", "identities": {"email": "me@nha.vn", "phone": "0912 555 666"},
        "properties": {"order_id": "M-1", "revenue": 600000}}),
    );
    let son = app.event(
        &shop,
        json!({"event": "Order Completed", "identities": {"email": "con@nha.vn"},
        "properties": {"order_id": "C-1", "revenue": 200000}}),
    );
    app.event(
        &shop,
        json!({"event": "Order Completed", "identities": {"email": "con@nha.vn"}, "properties": {"order_id": "C-2", "revenue": 150000}}),
    );
    let both = app.event(&shop, json!({"event": "Visit", "identities": {"email": "con@nha.vn", "phone": "0912555666"}}));
    let pid = mum["profile_id"].as_str().unwrap().to_string();
    assert_eq!(both["profile_id"], pid.as_str());
    assert_eq!(app.count_live_profiles(), 1);
    let _ = son;

    let path = format!("/api/v1/profiles/{pid}/split");
    let bad = app.post(&path, &writer, json!({"identities": [{"type": "email", "value": "nobody@nha.vn"}]}));
    assert_eq!((bad.status, bad.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("identities[0]")), "{}", bad.body);
    let all = app.post(
        &path,
        &writer,
        json!({"identities": [{"type": "email", "value": "me@nha.vn"}, {"type": "email", "value": "con@nha.vn"},
        {"type": "phone", "value": "0912555666"}]}),
    );
    assert_eq!(all.status, 422, "{}", all.body);
    let r = app.post(&path, &writer, json!({"identities": [{"type": "email", "value": "Con@Nha.vn"}]}));
    assert_eq!(r.status, 201, "{}", r.body);
    let new = r.body["profile_id"].as_str().unwrap().to_string();
    // His two orders carried only his e-mail: they move; the visit carried the family phone too: it stays.
    assert_eq!(r.body["moved"], json!({"identities": 1, "events": 2, "orders": 2}), "{}", r.body);
    assert_eq!(app.lookup("email", "con@nha.vn").body["id"], new.as_str());
    assert_eq!(app.lookup("email", "me@nha.vn").body["id"], pid.as_str());
    let v = app.get(&format!("/api/v1/profiles/{new}/value"), &app.admin_key).body;
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(2), Some(350000.0)), "{v}");
    let v = app.get(&format!("/api/v1/profiles/{pid}/value"), &app.admin_key).body;
    assert_eq!((v["orders_count"].as_i64(), v["revenue_total"].as_f64()), (Some(1), Some(600000.0)), "{v}");
    let points = app.get(&format!("/api/v1/profiles/{new}/loyalty"), &app.admin_key).body;
    assert!(points["points_balance"].as_i64().unwrap() > 0, "his points follow his orders: {points}");

    // Kept apart: the family phone with his e-mail links nothing now.
    let again = app.event(&shop, json!({"event": "Visit", "identities": {"email": "con@nha.vn", "phone": "0912555666"}}));
    assert_eq!(again["profile_id"], new.as_str());
    assert_eq!(app.count_live_profiles(), 2);
    let log = app.get(&format!("/api/v1/profiles/{pid}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "split" && m["merged_id"] == new.as_str()), "{log}");
    let log = app.get(&format!("/api/v1/profiles/{new}/merges"), &app.admin_key).body;
    assert!(log["items"].as_array().unwrap().iter().any(|m| m["kind"] == "conflict" && m["reason"] == "unmerged"), "{log}");
}
