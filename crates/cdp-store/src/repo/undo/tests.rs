//! Merge then undo gives each person back exactly what they had: a property
//! over random histories of two people, against a database where the merge
//! never happened.

use super::undo_merge;
use crate::conn::{Db, DbOptions};
use crate::repo::ingest::{ingest_batch, Origin, Prepared};
use crate::schema::{
    consent_state, identities, loyalty_accounts, loyalty_ledger, merges, orders, profiles, purchase_days, purchase_summaries,
};
use cdp_domain::event::EventDefaults;
use cdp_domain::{NewEvent, RawEvent};
use diesel::prelude::*;
use proptest::prelude::*;
use serde_json::{json, Value};

#[derive(Debug, Clone)]
enum Op {
    Order(i64),
    /// Refund of the person's n-th order (mod their count), whole or a third.
    Refund(usize, bool),
    Consent(bool),
    City(usize),
    Redeem(i64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (50i64..3_000).prop_map(|k| Op::Order(k * 1_000)),
        1 => (0usize..8, any::<bool>()).prop_map(|(n, whole)| Op::Refund(n, whole)),
        1 => any::<bool>().prop_map(Op::Consent),
        1 => (0usize..4).prop_map(Op::City),
        1 => (1i64..40).prop_map(|p| Op::Redeem(p * 10)),
    ]
}

struct World {
    db: Db,
    now: i64,
    /// Orders per person, and those refunded already (one refund each).
    orders: [Vec<(String, i64, bool)>; 2],
}

const WHO: [(&str, &str); 2] = [("email", "lan@example.vn"), ("phone", "+84903222333")];
const CITIES: [&str; 4] = ["Hà Nội", "Huế", "Đà Nẵng", "Cần Thơ"];

impl World {
    fn new(name: &str) -> World {
        let path = std::env::temp_dir().join(format!("cdp-undo-{name}-{}-{}.sqlite3", std::process::id(), rand::random::<u32>()));
        let db = Db::open(path.to_str().unwrap(), &DbOptions { max_connections: 2, ..Default::default() }).unwrap();
        World { db, now: 1_790_000_000_000_000, orders: [Vec::new(), Vec::new()] }
    }

    fn ingest(&mut self, v: Value) {
        self.now += 60_000_000;
        let raw: RawEvent = serde_json::from_value(v).unwrap();
        let defaults = EventDefaults { channel: None, now: chrono::Utc::now(), normalize: Default::default() };
        let p = Prepared::new(NewEvent::parse(raw, &defaults).unwrap(), "VND").unwrap();
        let origin = Origin { source_key: "test".into(), source_id: None };
        let now = self.now;
        self.db.write(|c| ingest_batch(c, &origin, &[&p], "VND", now)).unwrap();
    }

    fn at(&self) -> String {
        crate::from_micros(self.now).to_rfc3339()
    }

    fn profile(&self, who: usize) -> String {
        let (kind, value) = WHO[who];
        self.db
            .read(|c| {
                identities::table.find((value, kind)).select(identities::profile_id).first::<String>(c).map_err(crate::StoreError::from)
            })
            .unwrap()
    }

    fn apply(&mut self, who: usize, op: &Op) {
        let (kind, value) = WHO[who];
        let at = self.at();
        match op {
            Op::Order(revenue) => {
                let id = format!("O{who}-{}", self.orders[who].len());
                self.orders[who].push((id.clone(), *revenue, false));
                self.ingest(json!({"event": "Order Completed", "occurred_at": at, "channel": if who == 0 { "web" } else { "store" },
                                   "identities": {kind: value}, "properties": {"order_id": id, "revenue": revenue}}));
            }
            Op::Refund(n, whole) => {
                let list = &mut self.orders[who];
                if list.is_empty() {
                    return;
                }
                let i = n % list.len();
                if list[i].2 {
                    return;
                }
                list[i].2 = true;
                let (id, revenue) = (list[i].0.clone(), list[i].1);
                let amount = if *whole { revenue } else { revenue / 3 };
                self.ingest(json!({"event": "Order Refunded", "occurred_at": at, "channel": "store", "identities": {kind: value},
                                   "properties": {"order_id": id, "revenue": amount}}));
            }
            Op::Consent(granted) => self
                .ingest(json!({"type": "identify", "occurred_at": at, "channel": "app", "identities": {kind: value},
                "context": {"consent": {"email": if *granted { "granted" } else { "denied" }}}})),
            Op::City(n) => self.ingest(json!({"type": "identify", "occurred_at": at, "channel": "hotline", "identities": {kind: value},
                                              "traits": {"city": CITIES[*n]}})),
            Op::Redeem(points) => {
                self.now += 60_000_000;
                let (pid, now, key) = (self.profile(who), self.now, format!("r-{}", self.now));
                self.db.write(|c| crate::repo::loyalty::redeem(c, &pid, *points, None, &key, now)).unwrap().ok();
            }
        }
    }

    /// Everything a person's profile holds, without ids and times of writing.
    fn snapshot(&self, who: usize) -> Value {
        let pid = self.profile(who);
        self.db
            .read(|c| {
                type Facts = ((Option<String>, String, String, String), (i64, i64, i64, i64), (i64, i64, i64, Option<i64>, Option<i64>));
                let p: Facts = profiles::table
                    .find(&pid)
                    .select((
                        (profiles::user_id, profiles::traits, profiles::trait_times, profiles::identity_counts),
                        (profiles::channels, profiles::first_seen_at, profiles::last_seen_at, profiles::event_count),
                        (
                            profiles::orders_count,
                            profiles::revenue_total,
                            profiles::margin_total,
                            profiles::first_order_at,
                            profiles::last_order_at,
                        ),
                    ))
                    .first(c)?;
                let ids: Vec<(String, String)> = identities::table
                    .filter(identities::profile_id.eq(&pid))
                    .order((identities::identity_type, identities::value))
                    .select((identities::identity_type, identities::value))
                    .load(c)?;
                let account: Option<(i64, String)> = loyalty_accounts::table
                    .find(&pid)
                    .select((loyalty_accounts::balance, loyalty_accounts::tier_code))
                    .first(c)
                    .optional()?;
                let mut ledger: Vec<(String, i64, Option<String>, i64)> = loyalty_ledger::table
                    .filter(loyalty_ledger::profile_id.eq(&pid))
                    .select((loyalty_ledger::kind, loyalty_ledger::points, loyalty_ledger::order_id, loyalty_ledger::remaining))
                    .load(c)?;
                ledger.sort();
                let ords: Vec<(String, i64, i64)> = orders::table
                    .filter(orders::profile_id.eq(&pid))
                    .order(orders::order_id)
                    .select((orders::order_id, orders::revenue, orders::refunded))
                    .load(c)?;
                let days: Vec<(i64, i64, i64)> = purchase_days::table
                    .filter(purchase_days::profile_id.eq(&pid))
                    .order(purchase_days::day)
                    .select((purchase_days::day, purchase_days::orders, purchase_days::revenue))
                    .load(c)?;
                let summary: Option<(i64, i64, i64, i64, i64)> = purchase_summaries::table
                    .find(&pid)
                    .select((
                        purchase_summaries::days,
                        purchase_summaries::first_day,
                        purchase_summaries::last_day,
                        purchase_summaries::revenue,
                        purchase_summaries::first_day_revenue,
                    ))
                    .first(c)
                    .optional()?;
                let consent: Vec<(String, String)> = consent_state::table
                    .filter(consent_state::profile_id.eq(&pid))
                    .order(consent_state::channel)
                    .select((consent_state::channel, consent_state::status))
                    .load(c)?;
                Ok::<_, crate::StoreError>(json!({
                    "profile": format!("{p:?}"), "identities": ids, "account": account, "ledger": format!("{ledger:?}"),
                    "orders": ords, "days": days, "summary": summary, "consent": consent,
                }))
            })
            .unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn merge_then_undo_gives_back_what_each_had(history in proptest::collection::vec((0usize..2, op()), 2..24)) {
        let (mut merged, mut apart) = (World::new("merged"), World::new("apart"));
        for w in [&mut merged, &mut apart] {
            w.ingest(json!({"type": "identify", "channel": "web", "occurred_at": "2026-09-01T00:00:00Z", "identities": {"email": WHO[0].1}}));
            w.ingest(json!({"type": "identify", "channel": "store", "occurred_at": "2026-09-01T00:00:00Z", "identities": {"phone": "0903 222 333"}}));
            for (who, op) in &history {
                w.apply(*who, op);
            }
        }
        let at = merged.at();
        // The wrong merge, and the same event where it never happened (her e-mail decides).
        merged.ingest(json!({"event": "Call", "channel": "hotline", "occurred_at": at, "identities": {"email": WHO[0].1, "phone": WHO[1].1}}));
        apart.ingest(json!({"event": "Call", "channel": "hotline", "occurred_at": at, "identities": {"email": WHO[0].1}}));
        prop_assert_eq!(merged.profile(0), merged.profile(1));
        let id: String = merged.db.read(|c| merges::table.filter(merges::kind.eq("merge")).select(merges::id).first(c).map_err(crate::StoreError::from)).unwrap();
        let now = merged.now + 1;
        let undone = merged.db.write(|c| undo_merge(c, &id, "VND", now)).unwrap();
        prop_assert!(undone.is_ok());
        prop_assert_ne!(merged.profile(0), merged.profile(1));
        for who in 0..2 {
            prop_assert_eq!(merged.snapshot(who), apart.snapshot(who), "person {}", who);
        }
    }
}
