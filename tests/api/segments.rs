//! Segments over a data set of 300 profiles whose traits, orders, events and
//! consents are known: every documented rule form returns exactly the
//! profiles computed here by hand, on whichever backend the suite runs.

use cdp_suite::*;
use serde_json::Value;
use std::collections::BTreeSet;

const N: usize = 300;
const CITIES: [&str; 4] = ["Hà Nội", "Huế", "Đà Nẵng", "TP HCM"];
const CHANNELS: [&str; 5] = ["store", "web", "app", "hotline", "social"];
/// 2026-06-30, the reference date of the data set.
const DAY0: i64 = 20_634;
const NOON: i64 = DAY0 * 86_400 + 43_200;

/// What the generator gave person `i`.
struct Person {
    city: Option<&'static str>,
    age: i64,
    mother: bool,
    vip: bool,
    name: String,
    channel: &'static str,
    /// (days before DAY0, revenue VND, category)
    orders: Vec<(i64, i64, &'static str)>,
    zalo: Option<&'static str>,
    email_ok: bool,
}

fn person(i: usize) -> Person {
    let mut orders: Vec<(i64, i64, &'static str)> = (0..i % 6)
        .map(|j| (10 + 35 * j as i64, (i as i64 % 5 + 1) * 100_000, if (i + j).is_multiple_of(2) { "infant_formula" } else { "yogurt" }))
        .collect();
    if i.is_multiple_of(50) {
        orders.push((5, 6_000_000, "gift"));
    }
    Person {
        city: (i % 10 != 9).then_some(CITIES[i % 4]),
        age: 20 + (i % 40) as i64,
        mother: i.is_multiple_of(3),
        vip: i.is_multiple_of(7),
        name: format!("Khách {i}"),
        channel: CHANNELS[i % 5],
        orders,
        zalo: match (i / 5) % 3 {
            0 => Some("granted"),
            1 => Some("denied"),
            _ => None,
        },
        email_ok: i.is_multiple_of(2),
    }
}

impl Person {
    fn revenue(&self) -> i64 {
        self.orders.iter().map(|o| o.1).sum()
    }
    /// The identify, the orders and a `Tier Changed` when spend reached Bạc.
    fn events(&self) -> usize {
        1 + self.orders.len() + usize::from(self.revenue() >= 5_000_000)
    }
    fn formula_orders_within(&self, days: i64) -> usize {
        self.orders.iter().filter(|o| o.0 < days && o.2 == "infant_formula").count()
    }
}

struct DataSet {
    app: TestApp,
    ids: Vec<String>,
    people: Vec<Person>,
}

fn load() -> DataSet {
    assert_eq!(civil(DAY0), (2026, 6, 30));
    let app = TestApp::spawn();
    let (_, key) = app.source("Omnichannel", "web");
    let people: Vec<Person> = (0..N).map(person).collect();
    let mut ids = Vec::new();
    for (i, p) in people.iter().enumerate() {
        let mut traits = json!({"name": p.name, "age": p.age, "is_mother": p.mother, "tags": [if p.vip { "vip" } else { "regular" }]});
        if let Some(c) = p.city {
            traits["city"] = json!(c);
        }
        let mut consent = json!({});
        if let Some(z) = p.zalo {
            consent["zalo"] = json!(z);
        }
        if p.email_ok {
            consent["email"] = json!("granted");
        }
        let r = app.event(
            &key,
            json!({"type": "identify", "channel": p.channel, "occurred_at": iso(NOON - 200 * 86_400),
                   "identities": {"email": format!("c{i}@example.vn")}, "traits": traits, "context": {"consent": consent}}),
        );
        ids.push(r["profile_id"].as_str().unwrap().to_string());
    }
    let orders: Vec<Value> = people
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.orders.iter().enumerate().map(move |(j, (ago, revenue, category))| {
                json!({"event": "Order Completed", "channel": "store", "occurred_at": iso(NOON - ago * 86_400),
                       "identities": {"email": format!("c{i}@example.vn")},
                       "properties": {"order_id": format!("o-{i}-{j}"), "revenue": revenue,
                                      "products": [{"product_id": "p1", "category": category, "price": revenue, "quantity": 1}]}})
            })
        })
        .collect();
    for chunk in orders.chunks(500) {
        let r = app.post("/api/v1/events/batch", &key, json!({ "events": chunk }));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    DataSet { app, ids, people }
}

impl DataSet {
    fn expect(&self, f: impl Fn(&Person) -> bool) -> BTreeSet<String> {
        self.people.iter().zip(&self.ids).filter(|(p, _)| f(p)).map(|(_, id)| id.clone()).collect()
    }

    /// Every member, through the paged export.
    fn members(&self, seg: &str, query: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut cursor = String::new();
        loop {
            let r = self.app.get(&format!("/api/v1/segments/{seg}/members?limit=37&cursor={cursor}{query}"), &self.app.admin_key);
            assert_eq!(r.status, 200, "{}", r.body);
            for m in r.body["items"].as_array().unwrap() {
                assert!(m["entered_at"].is_string() && m["identities"].is_array());
                assert!(out.insert(m["id"].as_str().unwrap().to_string()), "a member twice");
            }
            match r.body["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => return out,
            }
        }
    }

    fn create(&self, name: &str, rule: Value) -> Value {
        let r = self.app.post("/api/v1/segments", &self.app.admin_key, json!({"name": name, "rule": rule, "as_of": "2026-06-30"}));
        assert_eq!(r.status, 201, "{name}: {}", r.body);
        r.body
    }

    fn check(&self, name: &str, rule: Value, want: BTreeSet<String>) {
        let seg = self.create(name, rule.clone());
        let got = self.members(seg["id"].as_str().unwrap(), "");
        assert_eq!(seg["size"].as_u64(), Some(want.len() as u64), "{name}: size");
        assert_eq!(got.len(), want.len(), "{name}: {rule}");
        assert_eq!(got, want, "{name}: {rule}");
        let preview = self.app.post("/api/v1/segments/preview", &self.app.admin_key, json!({"rule": rule, "as_of": "2026-06-30"}));
        assert_eq!(preview.body["size"].as_u64(), Some(want.len() as u64), "{name}: preview");
    }
}

#[test]
fn every_rule_form_returns_exactly_the_expected_profiles() {
    let ds = load();
    ds.check("city eq", json!({"trait": "city", "op": "eq", "value": "Hà Nội"}), ds.expect(|p| p.city == Some("Hà Nội")));
    ds.check("city ne", json!({"trait": "city", "op": "ne", "value": "Hà Nội"}), ds.expect(|p| p.city != Some("Hà Nội")));
    ds.check(
        "city in",
        json!({"trait": "city", "op": "in", "value": ["Huế", "Đà Nẵng"]}),
        ds.expect(|p| matches!(p.city, Some("Huế" | "Đà Nẵng"))),
    );
    ds.check("age gt", json!({"trait": "age", "op": "gt", "value": 50}), ds.expect(|p| p.age > 50));
    ds.check("age lte", json!({"trait": "age", "op": "lte", "value": 25.5}), ds.expect(|p| p.age as f64 <= 25.5));
    ds.check("name lt", json!({"trait": "name", "op": "lt", "value": "Khách 2"}), ds.expect(|p| p.name.as_str() < "Khách 2"));
    ds.check("no city", json!({"trait": "city", "op": "exists", "value": false}), ds.expect(|p| p.city.is_none()));
    ds.check("has city", json!({"trait": "city", "op": "exists"}), ds.expect(|p| p.city.is_some()));
    ds.check("tags contain", json!({"trait": "tags", "op": "contains", "value": "vip"}), ds.expect(|p| p.vip));
    ds.check("name contains", json!({"trait": "name", "op": "contains", "value": "Khách 1"}), ds.expect(|p| p.name.contains("Khách 1")));
    ds.check("mothers", json!({"trait": "is_mother", "op": "eq", "value": true}), ds.expect(|p| p.mother));
    ds.check("orders gte 3", json!({"metric": "orders_count", "op": "gte", "value": 3}), ds.expect(|p| p.orders.len() >= 3));
    ds.check(
        "revenue gte 1M",
        json!({"metric": "revenue_total", "op": "gte", "value": 1_000_000}),
        ds.expect(|p| p.revenue() >= 1_000_000),
    );
    ds.check(
        "aov gt 300k",
        json!({"metric": "average_order_value", "op": "gt", "value": 300_000}),
        ds.expect(|p| !p.orders.is_empty() && p.revenue() as f64 / p.orders.len() as f64 > 300_000.0),
    );
    ds.check("points", json!({"metric": "points", "op": "gt", "value": 0}), ds.expect(|p| !p.orders.is_empty()));
    ds.check("events lte 2", json!({"metric": "event_count", "op": "lte", "value": 2}), ds.expect(|p| p.events() <= 2));
    ds.check("orders in", json!({"metric": "orders_count", "op": "in", "value": [1, 4]}), ds.expect(|p| matches!(p.orders.len(), 1 | 4)));
    ds.check(
        "formula twice in 90 days",
        json!({"event": "Order Completed", "within_days": 90, "count": {"op": "gte", "value": 2},
               "where": [{"property": "products.category", "op": "eq", "value": "infant_formula"}]}),
        ds.expect(|p| p.formula_orders_within(90) >= 2),
    );
    ds.check(
        "no formula in 30 days",
        json!({"event": "Order Completed", "within_days": 30, "count": {"op": "eq", "value": 0},
               "where": [{"property": "products.category", "op": "eq", "value": "infant_formula"}]}),
        ds.expect(|p| p.formula_orders_within(30) == 0),
    );
    ds.check("never ordered", json!({"event": "Order Completed", "count": {"op": "lt", "value": 1}}), ds.expect(|p| p.orders.is_empty()));
    ds.check("seen on hotline", json!({"channel": "hotline"}), ds.expect(|p| p.channel == "hotline"));
    ds.check("seen in store", json!({"channel": "store"}), ds.expect(|p| p.channel == "store" || !p.orders.is_empty()));
    ds.check("tier bac", json!({"tier": "bac"}), ds.expect(|p| p.revenue() >= 5_000_000));
    ds.check("zalo consent", json!({"consent": "zalo"}), ds.expect(|p| p.zalo == Some("granted")));
    ds.check(
        "mothers in Hà Nội buying formula, Zalo OK",
        json!({"all": [{"trait": "city", "op": "eq", "value": "Hà Nội"},
                       {"event": "Order Completed", "within_days": 90, "count": {"op": "gte", "value": 2},
                        "where": [{"property": "products.category", "op": "eq", "value": "infant_formula"}]},
                       {"consent": "zalo"}]}),
        ds.expect(|p| p.city == Some("Hà Nội") && p.formula_orders_within(90) >= 2 && p.zalo == Some("granted")),
    );
    ds.check(
        "any / not",
        json!({"any": [{"trait": "is_mother", "op": "eq", "value": true}, {"not": {"any": [{"channel": "web"}, {"channel": "app"}]}}]}),
        ds.expect(|p| p.mother || !matches!(p.channel, "web" | "app")),
    );

    // RFM and CLV: the expected members are what each profile's value says.
    let analyst = ds.app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    assert_eq!(ds.app.post("/api/v1/analytics/rfm/runs", &analyst, json!({"as_of": "2026-06-30"})).status, 201);
    let fit = ds.app.post("/api/v1/analytics/clv/fit", &analyst, json!({"as_of": "2026-06-30", "time_unit": "week", "horizon": 26}));
    assert_eq!(fit.status, 200, "{}", fit.body);
    let values: Vec<Value> = ds.ids.iter().map(|id| ds.app.get(&format!("/api/v1/profiles/{id}/value"), &analyst).body).collect();
    let by = |f: &dyn Fn(&Value) -> bool| -> BTreeSet<String> {
        ds.ids.iter().zip(&values).filter(|(_, v)| f(v)).map(|(id, _)| id.clone()).collect()
    };
    let segments: BTreeSet<String> = values.iter().filter_map(|v| v["rfm"]["segment"].as_str().map(str::to_string)).collect();
    assert!(segments.len() >= 3, "{segments:?}");
    for s in &segments {
        ds.check(&format!("rfm {s}"), json!({"rfm_segment": s}), by(&|v| v["rfm"]["segment"] == s.as_str()));
    }
    ds.check(
        "p_alive lt 0.9",
        json!({"metric": "p_alive", "op": "lt", "value": 0.9}),
        by(&|v| v["clv"]["p_alive"].as_f64().is_some_and(|x| x < 0.9)),
    );
    let mut clvs: Vec<f64> = values.iter().filter_map(|v| v["clv"]["clv"].as_f64()).collect();
    clvs.sort_by(f64::total_cmp);
    let median = clvs[clvs.len() / 2];
    ds.check(
        "clv gte median",
        json!({"metric": "clv", "op": "gte", "value": median}),
        by(&|v| v["clv"]["clv"].as_f64().is_some_and(|x| x >= median)),
    );
}

#[test]
fn exports_honour_consent_at_once_and_refreshes_record_entries_and_exits() {
    let ds = load();
    let rule = json!({"all": [{"trait": "city", "op": "eq", "value": "Hà Nội"}, {"metric": "orders_count", "op": "gte", "value": 1}]});
    let seg = ds.create("Hà Nội buyers", rule);
    let id = seg["id"].as_str().unwrap().to_string();
    let all = ds.expect(|p| p.city == Some("Hà Nội") && !p.orders.is_empty());
    assert_eq!(ds.members(&id, ""), all);
    let zalo = ds.expect(|p| p.city == Some("Hà Nội") && !p.orders.is_empty() && p.zalo == Some("granted"));
    assert!(zalo.len() >= 5 && zalo.len() < all.len());
    assert_eq!(ds.members(&id, "&consent=zalo"), zalo);
    let email = ds.expect(|p| p.city == Some("Hà Nội") && !p.orders.is_empty() && p.email_ok);
    assert_eq!(ds.members(&id, "&consent=email"), email);

    // A withdrawal after the refresh removes the person from the export at once.
    let gone = zalo.iter().next().unwrap().clone();
    let r = send(
        ureq::put(&ds.app.url(&format!("/api/v1/profiles/{gone}/consents/zalo"))).set("X-Api-Key", &ds.app.admin_key),
        Some(json!({"status": "denied", "source": "hotline"})),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let mut left = zalo.clone();
    left.remove(&gone);
    assert_eq!(ds.members(&id, "&consent=zalo"), left);
    assert!(ds.members(&id, "").contains(&gone), "still a member until it stops matching the rule");

    // Someone new matches, someone stops matching: a refresh records both.
    let before = ds.app.get(&format!("/api/v1/segments/{id}"), &ds.app.admin_key).body["refreshed_at"].as_str().unwrap().to_string();
    let (_, key) = ds.app.source("POS", "store");
    let newcomer = ds.ids[12].clone(); // Hà Nội, no orders
    assert!(!all.contains(&newcomer));
    ds.app.event(&key, json!({"type": "identify", "identities": {"email": "c12@example.vn"}}));
    ds.app.event(&key, json!({"event": "Order Completed", "identities": {"email": "c12@example.vn"}, "properties": {"order_id": "late-1", "revenue": 100000}}));
    let leaver = all.iter().next().unwrap().clone();
    let li = ds.ids.iter().position(|x| *x == leaver).unwrap();
    ds.app.event(&key, json!({"type": "identify", "identities": {"email": format!("c{li}@example.vn")}, "traits": {"city": "Huế"}}));
    let r = ds.app.post(&format!("/api/v1/segments/{id}/refresh"), &ds.app.admin_key, json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (r.body["entered"].as_i64(), r.body["exited"].as_i64(), r.body["size"].as_u64()),
        (Some(1), Some(1), Some(all.len() as u64))
    );
    let changes = ds.app.get(&format!("/api/v1/segments/{id}/changes?since={}", enc(&before)), &ds.app.admin_key);
    assert_eq!(changes.status, 200, "{}", changes.body);
    let items = changes.body["items"].as_array().unwrap();
    let entered: Vec<&str> = items.iter().filter(|c| c["exited_at"].is_null()).map(|c| c["profile_id"].as_str().unwrap()).collect();
    let exited: Vec<&str> = items.iter().filter(|c| c["exited_at"].is_string()).map(|c| c["profile_id"].as_str().unwrap()).collect();
    assert_eq!((entered, exited), (vec![newcomer.as_str()], vec![leaver.as_str()]));
    let since = ds.app.get(&format!("/api/v1/segments/{id}/members?entered_since={}", enc(&before)), &ds.app.admin_key);
    assert_eq!(since.body["items"].as_array().unwrap().len(), 1);

    // The leaver comes back: a second period, the first one kept closed.
    let back = ds.app.get(&format!("/api/v1/segments/{id}"), &ds.app.admin_key).body["refreshed_at"].as_str().unwrap().to_string();
    ds.app.event(&key, json!({"type": "identify", "identities": {"email": format!("c{li}@example.vn")}, "traits": {"city": "Hà Nội"}}));
    let r = ds.app.post(&format!("/api/v1/segments/{id}/refresh"), &ds.app.admin_key, json!({}));
    assert_eq!((r.body["entered"].as_i64(), r.body["exited"].as_i64()), (Some(1), Some(0)), "{}", r.body);
    assert!(ds.members(&id, "").contains(&leaver));
    let periods: Vec<Value> = ds.app.get(&format!("/api/v1/segments/{id}/changes?since={}", enc(&before)), &ds.app.admin_key).body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["profile_id"] == leaver.as_str())
        .cloned()
        .collect();
    assert_eq!(periods.len(), 2, "{periods:?}");
    assert!(periods[0]["exited_at"].is_string() && periods[1]["exited_at"].is_null());
    assert!(periods[1]["entered_at"].as_str().unwrap() > back.as_str());

    // A new rule is a new version; as_of moves event windows.
    let r = send(
        ureq::put(&ds.app.url(&format!("/api/v1/segments/{id}"))).set("X-Api-Key", &ds.app.admin_key),
        Some(json!({"name": "Formula in 20 days", "as_of": "2026-06-30",
                    "rule": {"event": "Order Completed", "within_days": 20, "where": [{"property": "products.category", "op": "eq", "value": "infant_formula"}]}})),
    );
    assert_eq!((r.status, r.body["version"].as_i64()), (200, Some(2)), "{}", r.body);
    let recent = ds.expect(|p| p.formula_orders_within(20) >= 1);
    assert_eq!(r.body["size"].as_u64(), Some(recent.len() as u64));
    let r = ds.app.post(&format!("/api/v1/segments/{id}/refresh"), &ds.app.admin_key, json!({"as_of": "2026-07-25"}));
    assert_eq!(r.body["size"].as_u64(), Some(0), "no order in the 20 days before 2026-07-25: {}", r.body);
    let versions = ds.app.get(&format!("/api/v1/segments/{id}/versions"), &ds.app.admin_key).body;
    assert_eq!(versions["items"].as_array().unwrap().len(), 2);
    assert_eq!(ds.app.get("/api/v1/segments", &ds.app.admin_key).body["items"].as_array().unwrap().len(), 1);
    let del = send(ureq::delete(&ds.app.url(&format!("/api/v1/segments/{id}"))).set("X-Api-Key", &ds.app.admin_key), None);
    assert_eq!(del.status, 204);
    assert_eq!(ds.app.get(&format!("/api/v1/segments/{id}"), &ds.app.admin_key).status, 404);
}

#[test]
fn invalid_rules_are_refused_with_the_path() {
    let app = TestApp::spawn();
    let bad = |rule: Value| {
        let r = app.post("/api/v1/segments", &app.admin_key, json!({"name": "x", "rule": rule}));
        assert_eq!((r.status, r.code()), (422, "validation_failed"), "{}", r.body);
        r.body["error"]["details"]["fields"][0]["field"].as_str().unwrap().to_string()
    };
    assert_eq!(bad(json!({"all": [{"trait": "city", "op": "like", "value": "Huế"}]})), "rule.all[0].op");
    assert_eq!(bad(json!({"any": [{"channel": "web"}, {"metric": "revenue_total", "op": "gte", "value": "lots"}]})), "rule.any[1].value");
    assert_eq!(bad(json!({"not": {"metric": "happiness", "op": "gt", "value": 1}})), "rule.not.metric");
    assert_eq!(bad(json!({"all": []})), "rule.all");
    assert_eq!(bad(json!({"all": [{"tier": "bach_kim"}]})), "rule.all[0].tier");
    let r = app.post("/api/v1/segments", &app.admin_key, json!({"name": " ", "rule": {"channel": "web"}}));
    assert_eq!(r.status, 422);
    assert_eq!(app.get("/api/v1/segments", &app.admin_key).body["items"], json!([]), "nothing half-written");
    let r = app.get("/api/v1/segments/nope/members?consent=fax", &app.admin_key);
    assert_eq!(r.status, 422);
}
