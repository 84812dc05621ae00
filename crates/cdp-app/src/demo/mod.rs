//! `cdp demo`: a Vietnamese dairy retailer's year, made up from a seed and
//! sent through the same ingestion as live traffic — shops in five cities,
//! web, app, hotline, Facebook and Zalo; people who move between them with
//! their identifiers spelled differently at each; orders with Tết in them,
//! refunds, points and tiers; NPS, CSAT and cases; segments, RFM and CLV.
//! Dates are relative to the day it runs: the same seed that day gives the
//! same data.

mod people;

use crate::caller::Caller;
use crate::interaction::{CaseChange, CaseInput, FeedbackInput, SurveyInput};
use crate::segments::SegmentInput;
use crate::store::{Origin, Outcome, Prepared, StoreError};
use crate::value::FitSettings;
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::auth::{Grants, Role, Scope};
use cdp_domain::event::{EventDefaults, NewEvent, RawEvent};
use cdp_domain::Channel;
use chrono::{DateTime, Duration, Utc};
use people::{Kind, Person};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::mpsc;

/// The sources of the demo: (name, channel, city of a shop).
const SOURCES: [(&str, &str); 10] = [
    ("Cửa hàng Hoàn Kiếm (Hà Nội)", "store"),
    ("Cửa hàng Quận 1 (TP.HCM)", "store"),
    ("Cửa hàng Hải Châu (Đà Nẵng)", "store"),
    ("Cửa hàng Ninh Kiều (Cần Thơ)", "store"),
    ("Cửa hàng Lê Chân (Hải Phòng)", "store"),
    ("Website", "web"),
    ("Ứng dụng di động", "app"),
    ("Tổng đài 1900", "hotline"),
    ("Facebook Fanpage", "social"),
    ("Zalo OA", "social"),
];

/// Days before Tết Nguyên Đán of the years the demo may cover.
const TET: [(i32, u32, u32); 4] = [(2025, 1, 29), (2026, 2, 17), (2027, 2, 6), (2028, 1, 26)];

const GOOD: [&str; 6] = [
    "Sữa tươi rất ngon, giao hàng nhanh",
    "Nhân viên cửa hàng nhiệt tình, tôi rất hài lòng",
    "Con tôi thích sữa chua, sẽ mua tiếp",
    "Ứng dụng dễ dùng, tích điểm tiện",
    "Chất lượng ổn định, giá hợp lý",
    "Hộp quà Tết đẹp, đóng gói cẩn thận",
];
const BAD: [&str; 5] = [
    "Giao hàng chậm, hộp sữa bị móp",
    "Sữa bị hỏng trước hạn sử dụng, rất thất vọng",
    "Gọi tổng đài mãi không ai nghe máy",
    "Nhân viên thái độ không tốt",
    "Điểm thưởng không được cộng sau khi mua",
];

/// How much demo data.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    pub customers: usize,
    pub seed: u64,
}

/// What the demo put in.
#[derive(Debug, Clone, Default)]
pub struct DemoSummary {
    pub customers: usize,
    pub events: usize,
    pub orders: usize,
    pub refunds: usize,
    pub feedback: usize,
    pub cases: usize,
    pub segments: usize,
    pub profiles: usize,
}

/// One generated event: when, through which source, and the event.
struct Planned {
    at: DateTime<Utc>,
    source: usize,
    raw: Value,
}

fn operator() -> Principal {
    Principal { caller: Caller::Operator { user_id: "demo".into(), role: Role::Admin }, grants: Grants::new(vec![Scope::Admin]) }
}

/// How much more people buy around `day`: Tết (the three weeks before it
/// and the week after), and the end of the year.
fn season(day: DateTime<Utc>) -> f64 {
    let d = day.date_naive();
    for (y, m, dd) in TET {
        let Some(tet) = chrono::NaiveDate::from_ymd_opt(y, m, dd) else { continue };
        let until = (tet - d).num_days();
        if (1..=21).contains(&until) {
            return 2.6;
        }
        if (-7..=0).contains(&until) {
            return 0.5;
        }
    }
    if chrono::Datelike::month(&d) == 12 {
        1.3
    } else {
        1.0
    }
}

impl App {
    /// Fills an empty database with the demo retailer; `progress` hears each step.
    pub fn load_demo(&self, opts: &DemoOptions, progress: &mut dyn FnMut(&str)) -> AppResult<DemoSummary> {
        if opts.customers == 0 || opts.customers > 1_000_000 {
            return Err(AppError::field("customers", "out_of_range", "must be from 1 to 1000000"));
        }
        if self.list_sources()?.iter().any(|s| s.name == SOURCES[0].0) {
            return Err(AppError::refused(crate::error::Refusal::Conflict, "the demo data is already in this database"));
        }
        let who = operator();
        let mut sources = Vec::new();
        for (name, channel) in SOURCES {
            let channel: Channel = channel.parse().map_err(|_| AppError::field("channel", "invalid", channel))?;
            sources.push(self.create_source(name, channel)?.0.id);
        }
        let mut rng = StdRng::seed_from_u64(opts.seed);
        let today = Utc::now().date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()).unwrap_or_else(Utc::now);
        let start = today - Duration::days(365);
        let people: Vec<Person> = (0..opts.customers).map(|n| Person::draw(&mut rng, n)).collect();
        let mut s = DemoSummary { customers: people.len(), ..DemoSummary::default() };
        let (mut plan, mut refunded) = (Vec::new(), Vec::new());
        for p in &people {
            self.plan_person(&mut rng, p, start, &mut plan, &mut s, &mut refunded);
        }
        plan.sort_by_key(|e| e.at);
        s.events = plan.len();
        progress(&format!("{} people, {} events over a year ({} orders, {} refunds)", s.customers, s.events, s.orders, s.refunds));
        self.demo_ingest(&sources, plan)?;
        progress("events ingested");

        let nps = self.create_survey(
            &who,
            SurveyInput {
                name: "NPS sau mua hàng".into(),
                kind: "nps".into(),
                question: "Bạn có sẵn lòng giới thiệu chúng tôi với bạn bè không?".into(),
                channels: vec!["store".into(), "web".into(), "app".into()],
            },
        )?;
        let csat = self.create_survey(
            &who,
            SurveyInput {
                name: "CSAT tổng đài".into(),
                kind: "csat".into(),
                question: "Bạn hài lòng với cuộc gọi hôm nay chứ?".into(),
                channels: vec!["hotline".into()],
            },
        )?;
        for p in &people {
            if p.first_day >= 360 || !rng.gen_bool(0.3) {
                continue;
            }
            let unhappy = refunded.contains(&p.n) || rng.gen_bool(0.12);
            let score = if unhappy { rng.gen_range(0..7) } else { rng.gen_range(7..11) };
            let text = if unhappy { BAD[rng.gen_range(0..BAD.len())] } else { GOOD[rng.gen_range(0..GOOD.len())] };
            let day = rng.gen_range(p.first_day..p.last_day.max(p.first_day + 1).min(365));
            let at = start + Duration::days(day) + Duration::hours(rng.gen_range(2..14));
            let channel = p.channel(&mut rng);
            let (kind, survey, score) = if channel == "hotline" { ("csat", &csat.id, score / 2) } else { ("nps", &nps.id, score) };
            self.create_feedback(
                &who,
                FeedbackInput {
                    kind: kind.into(),
                    score: Some(json!(score.max(if kind == "csat" { 1 } else { 0 }))),
                    text: rng.gen_bool(0.7).then(|| text.to_string()),
                    channel: channel.into(),
                    identities: Some(json!({"phone": p.phone_as(&mut rng)})),
                    survey_id: Some(survey.clone()),
                    occurred_at: Some(at.to_rfc3339()),
                    message_id: Some(format!("demo-feedback-{}", p.n)),
                    ..FeedbackInput::default()
                },
            )?;
            s.feedback += 1;
        }
        progress(&format!("{} survey answers", s.feedback));

        let complaints = [("delivery", "Giao hàng trễ"), ("product_quality", "Sữa bị hỏng"), ("loyalty", "Chưa được cộng điểm")];
        for (i, n) in refunded.iter().take(120).enumerate() {
            let p = &people[*n];
            let (category, subject) = complaints[i % complaints.len()];
            let case = self.create_case(
                &who,
                CaseInput {
                    identities: Some(json!({"phone": p.phone_as(&mut rng)})),
                    category: category.into(),
                    priority: Some(["normal", "high", "urgent", "low"][i % 4].into()),
                    channel: ["hotline", "social", "store"][i % 3].into(),
                    subject: subject.into(),
                    description: Some(BAD[i % BAD.len()].into()),
                    assignee: Some(format!("nv-{:02}", i % 7)),
                    profile_id: None,
                },
            )?;
            if i % 10 < 7 {
                self.update_case(
                    &who,
                    &case.case.id,
                    CaseChange {
                        status: Some("resolved".into()),
                        resolution: Some("Đã đổi sản phẩm và xin lỗi khách hàng".into()),
                        ..CaseChange::default()
                    },
                )?;
            }
            s.cases += 1;
        }
        progress(&format!("{} cases", s.cases));

        let segments = [
            ("Khách hàng thân thiết", json!({"metric": "orders_count", "op": "gte", "value": 8})),
            (
                "Có nguy cơ rời bỏ",
                json!({"all": [{"metric": "orders_count", "op": "gte", "value": 2},
                               {"not": {"event": "Order Completed", "within_days": 90}}]}),
            ),
            (
                "Gia đình có con nhỏ",
                json!({"event": "Order Completed", "within_days": 180,
                       "where": [{"property": "products.category", "op": "eq", "value": "sua-bot"}]}),
            ),
            (
                "Mua quà Tết",
                json!({"event": "Order Completed", "where": [{"property": "products.category", "op": "eq", "value": "qua-tet"}]}),
            ),
            ("Nhận tin qua Zalo", json!({"consent": "zalo"})),
        ];
        for (name, rule) in segments {
            let seg = self.create_segment(
                &who,
                SegmentInput { name: name.into(), description: None, rule, as_of: None, refresh_every_minutes: Some(60) },
            )?;
            self.refresh_segment(&seg.id, None)?;
            s.segments += 1;
        }
        self.rfm(None, true)?;
        self.fit_clv(FitSettings { as_of: None, time_unit: None, horizon: None, clv_months: None, monthly_discount_rate: None })?;
        progress("segments refreshed, RFM scored, CLV fitted");
        s.profiles = self.kpis(None, None, None).map(|k| k.overall.customers).unwrap_or(0);
        Ok(s)
    }

    /// One person's year as events, in the spelling of each touchpoint.
    fn plan_person(
        &self,
        rng: &mut StdRng,
        p: &Person,
        start: DateTime<Utc>,
        plan: &mut Vec<Planned>,
        s: &mut DemoSummary,
        refunded: &mut Vec<usize>,
    ) {
        let source_of = |channel: &str, rng: &mut StdRng| match channel {
            "store" => p.shop,
            "web" => 5,
            "app" => 6,
            "hotline" => 7,
            _ => 8 + usize::from(p.zalo.is_some() && (p.facebook.is_none() || rng.gen_bool(0.5))),
        };
        let at = |day: i64, rng: &mut StdRng| start + Duration::days(day) + Duration::minutes(rng.gen_range(60..900));
        let first = p.channel(rng);
        let mut ids = p.identities(rng, first);
        ids.insert("phone".into(), json!(p.phone_as(rng)));
        if let Some(e) = &p.email {
            ids.insert("email".into(), json!(e));
        }
        let consent = json!({"email": if p.email_ok { "granted" } else { "denied" }, "zalo": if p.zalo_ok { "granted" } else { "denied" }});
        plan.push(Planned {
            at: at(p.first_day, rng),
            source: source_of(first, rng),
            raw: json!({"type": "identify", "message_id": format!("demo-{}-signup", p.n), "identities": ids,
                "traits": {"first_name": p.first_name, "last_name": p.last_name, "city": p.city, "birthday": p.birthday,
                           "gender": if p.female { "nữ" } else { "nam" }},
                "context": {"consent": consent}}),
        });
        if p.facebook.is_some() || p.zalo.is_some() {
            let day = rng.gen_range(p.first_day..365);
            plan.push(Planned {
                at: at(day, rng),
                source: source_of("social", rng),
                raw: json!({"event": "Message Received", "message_id": format!("demo-{}-msg", p.n),
                    "identities": p.identities(rng, "social"), "properties": {"text": "Shop ơi còn sữa chua không?"}}),
            });
        }
        let mut k = 0;
        for day in p.first_day..p.last_day {
            let when = start + Duration::days(day);
            if !rng.gen_bool((p.rate * season(when)).min(0.9)) {
                continue;
            }
            k += 1;
            let channel = p.channel(rng);
            let t = at(day, rng);
            let lines = p.basket(rng, season(when) > 2.0);
            let revenue: i64 = lines.iter().map(|l| l["price"].as_i64().unwrap_or(0) * l["quantity"].as_i64().unwrap_or(1)).sum();
            let order_id = format!("DH-{:06}-{k:03}", p.n);
            if channel == "web" || channel == "app" {
                let anonymous = format!("anon-{}-{k}", p.n);
                plan.push(Planned {
                    at: t - Duration::minutes(12),
                    source: source_of(channel, rng),
                    raw: json!({"type": "page", "event": "Sản phẩm", "message_id": format!("demo-{order_id}-view"),
                        "identities": {"anonymous_id": anonymous}, "properties": {"path": "/san-pham/sua-tuoi"}}),
                });
                let mut ids = p.identities(rng, channel);
                ids.insert("anonymous_id".into(), json!(anonymous));
                plan.push(Planned {
                    at: t,
                    source: source_of(channel, rng),
                    raw: json!({"event": "Order Completed", "message_id": format!("demo-{order_id}"), "identities": ids,
                        "properties": {"order_id": order_id, "revenue": revenue, "currency": "VND", "margin": revenue * 22 / 100, "products": lines}}),
                });
            } else {
                let store_id = if channel == "store" { json!(format!("CH-{:02}", p.shop + 1)) } else { Value::Null };
                plan.push(Planned {
                    at: t,
                    source: source_of(channel, rng),
                    raw: json!({"event": "Order Completed", "message_id": format!("demo-{order_id}"), "identities": p.identities(rng, channel),
                        "properties": {"order_id": order_id, "revenue": revenue, "currency": "VND", "margin": revenue * 22 / 100, "products": lines},
                        "context": {"store_id": store_id, "agent_id": format!("nv-{:02}", rng.gen_range(1..20))}}),
                });
            }
            s.orders += 1;
            if rng.gen_bool(0.03) && day + 10 < 365 {
                let partial = rng.gen_bool(0.3).then_some(revenue / 2);
                plan.push(Planned {
                    at: at(day + rng.gen_range(1..10), rng),
                    source: source_of("hotline", rng),
                    raw: json!({"event": "Order Refunded", "message_id": format!("demo-{order_id}-refund"),
                        "identities": p.identities(rng, "hotline"), "properties": {"order_id": order_id, "revenue": partial}}),
                });
                s.refunds += 1;
                refunded.push(p.n);
            }
        }
        if p.kind == Kind::Family || rng.gen_bool(0.08) {
            let day = rng.gen_range(p.first_day..365);
            plan.push(Planned {
                at: at(day, rng),
                source: 7,
                raw: json!({"event": "Call Received", "message_id": format!("demo-{}-call", p.n),
                    "identities": p.identities(rng, "hotline"), "properties": {"topic": "tư vấn sữa bột", "duration_s": rng.gen_range(60..600)}}),
            });
        }
    }

    /// Sends the events day by day, each day's events grouped by source,
    /// every group of a day in flight at once.
    fn demo_ingest(&self, sources: &[String], plan: Vec<Planned>) -> AppResult<()> {
        let mut days: BTreeMap<i64, BTreeMap<usize, Vec<Planned>>> = BTreeMap::new();
        for e in plan {
            days.entry(e.at.timestamp() / 86_400).or_default().entry(e.source).or_default().push(e);
        }
        let now = Utc::now();
        for (_, by_source) in days {
            let mut waits = Vec::new();
            for (source, events) in by_source {
                let defaults = EventDefaults { channel: None, now, normalize: self.config.normalize };
                let mut prepared = Vec::with_capacity(events.len());
                for e in events {
                    let mut raw = e.raw;
                    raw["occurred_at"] = json!(e.at.to_rfc3339());
                    if raw.get("channel").is_none() {
                        raw["channel"] = json!(SOURCES[source].1);
                    }
                    let raw: RawEvent = serde_json::from_value(raw).map_err(|e| AppError::Io(format!("a demo event: {e}")))?;
                    let event = NewEvent::parse(raw, &defaults)?;
                    prepared.push(Prepared::new(event, &self.config.currency)?);
                }
                let origin = Origin { source_key: sources[source].clone(), source_id: Some(sources[source].clone()) };
                let (tx, rx) = mpsc::channel();
                self.db.ingest(
                    &origin,
                    prepared,
                    &self.config.currency,
                    crate::now_micros(),
                    Box::new(move |r| {
                        let _ = tx.send(r);
                    }),
                );
                waits.push(rx);
            }
            for rx in waits {
                let outcomes = rx.recv().unwrap_or_else(|_| Err(StoreError::Unavailable("the group writer stopped".into())))?;
                if let Some(Outcome::Erased { identity_type }) = outcomes.iter().find(|o| matches!(o, Outcome::Erased { .. })) {
                    return Err(AppError::identity_erased(&format!("the {identity_type}")));
                }
            }
        }
        Ok(())
    }
}
