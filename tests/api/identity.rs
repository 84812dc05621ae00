use cdp_suite::*;
use std::collections::HashSet;

/// `origin_profile_id` of the row of `table` whose `column` is `key` (None also when there is no such row).
pub(crate) fn origin_of(app: &TestApp, table: &str, column: &str, key: &str) -> Option<String> {
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

pub(crate) fn identities_of(profile: &serde_json::Value) -> HashSet<(String, String)> {
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
