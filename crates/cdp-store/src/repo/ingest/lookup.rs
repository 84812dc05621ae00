//! What a batch reads before it resolves, once its keys are locked: the
//! events its dedupe keys name (and where they live now), the identities it
//! carries, the tombstones of erased people among them, the orders it
//! touches and, on PostgreSQL, the loyalty programme, the identity rules and
//! the profiles that own the identities and orders found (locked).
//!
//! On PostgreSQL that is one statement — every statement is a round trip,
//! and a round trip costs more of the machine's CPU than these statements'
//! work (docs/benchmarks.md). On SQLite, in process, the same reads are
//! separate statements.

use crate::error::StoreResult;
use crate::in_list::in_list;
use crate::repo::orders::OrderRow;
use crate::repo::profiles::{IdentityRow, ProfileRow};
use crate::schema::{erased_identities, events, identities, orders, profiles};
use crate::AnyConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Integer, Nullable, Text};
use std::collections::HashMap;

/// The rows a batch starts from.
#[derive(Default)]
pub(super) struct Found {
    /// (message id, event id, profile id, the survivor it was merged into).
    pub seen: Vec<(String, String, String, Option<String>)>,
    pub identities: Vec<IdentityRow>,
    /// Identity hash → when it was erased.
    pub tombstones: HashMap<String, i64>,
    pub orders: Vec<OrderRow>,
    /// The loyalty programme's document, when read here (`Some(None)`: none saved).
    pub program: Option<Option<String>>,
    /// The identity rules' document, when read here (`Some(None)`: none saved).
    pub rules: Option<Option<String>>,
    /// Pairs of profiles kept apart that involve the owners found, when read here.
    pub apart: Option<Vec<(String, String)>>,
    /// On PostgreSQL, the profiles that own the identities and orders found,
    /// locked in id order (`load_profiles`, in the same statement).
    pub profiles: Option<Vec<ProfileRow>>,
    /// On PostgreSQL, the pending referrals whose referee is (or was merged
    /// into) one of those profiles: (referee, referrer, referee's survivor).
    pub pending_referrals: Option<Vec<(String, String, Option<String>)>>,
}

/// The keys a batch looks up.
pub(super) struct Keys<'a> {
    pub source_key: &'a str,
    pub message_ids: Vec<&'a str>,
    pub values: Vec<&'a str>,
    pub hashes: Vec<&'a str>,
    pub order_ids: &'a [String],
}

/// One row of the PostgreSQL statement: `k` says which kind, the other
/// columns are that kind's (see `UNION`).
#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Integer)]
    k: i32,
    #[diesel(sql_type = Nullable<Text>)]
    a: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    b: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    c: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    d: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    e: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    f: Option<String>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n1: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n2: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n3: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n4: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n5: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n6: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n7: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n8: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n9: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n10: Option<i64>,
    #[diesel(sql_type = Nullable<BigInt>)]
    n11: Option<i64>,
}

const SEEN: i32 = 0;
const IDENTITY: i32 = 1;
const TOMBSTONE: i32 = 2;
const PROGRAM: i32 = 3;
const ORDER: i32 = 4;
const PROFILE: i32 = 5;
const RULES: i32 = 6;
const APART: i32 = 7;
const REFERRAL: i32 = 8;

/// The reads as one statement; every branch is an index lookup over a bound
/// array. The owners of the identities and orders found are locked in id
/// order (`FOR UPDATE` with the latest version of each row, as
/// `load_profiles` would in a statement of its own: a round trip less).
/// The dedupe keys are probed one by one (`LATERAL … LIMIT 1`, which the
/// planner cannot flatten into a join of its choosing): the plain
/// `source_key = $1 AND message_id = ANY($2)`, planned generic (as
/// ingestion's transactions plan, see `conn::begin_locking`) on a table
/// without statistics, read the source's whole range of the dedupe index
/// and filtered it — 3.2–8.7 s of lookups in the first 100k events when the
/// statistics refresh was held back, against ~1 s with either form once
/// the tables have statistics. Now no statistics are needed for that plan.
const ALL: &str = "\
WITH i AS (SELECT value, identity_type, profile_id, created_at FROM identities WHERE value = ANY($3)), \
o AS (SELECT order_id, profile_id, event_id, channel, currency, products, revenue, refunded, margin, day, occurred_at, created_at, \
             updated_at FROM orders WHERE order_id = ANY($5)), \
owner AS (SELECT id, merged_into, user_id, traits, trait_times, channels, first_seen_at, last_seen_at, event_count, created_at, \
                 updated_at, orders_count, revenue_total, margin_total, first_order_at, last_order_at, identity_counts \
            FROM profiles WHERE id = ANY(ARRAY(SELECT profile_id FROM i UNION SELECT profile_id FROM o)) ORDER BY id FOR UPDATE) \
SELECT 0 AS k, e.message_id AS a, e.id AS b, e.profile_id AS c, p.merged_into AS d, NULL::text AS e, NULL::text AS f, \
       NULL::bigint AS n1, NULL::bigint AS n2, NULL::bigint AS n3, NULL::bigint AS n4, NULL::bigint AS n5, NULL::bigint AS n6, \
       NULL::bigint AS n7, NULL::bigint AS n8, NULL::bigint AS n9, NULL::bigint AS n10, NULL::bigint AS n11 \
  FROM unnest($2::text[]) AS m(id), \
       LATERAL (SELECT message_id, id, profile_id FROM events WHERE source_key = $1 AND message_id = m.id LIMIT 1) e \
       LEFT JOIN profiles p ON p.id = e.profile_id \
UNION ALL SELECT 1, value, identity_type, profile_id, NULL, NULL, NULL, created_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
  FROM i \
UNION ALL SELECT 2, hash, NULL, NULL, NULL, NULL, NULL, erased_at, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
  FROM erased_identities WHERE hash = ANY($4) \
UNION ALL SELECT 3, body, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
  FROM loyalty_program WHERE id = 1 \
UNION ALL SELECT 4, order_id, profile_id, event_id, channel, currency, products, revenue, refunded, margin, day, occurred_at, created_at, \
                 updated_at, NULL, NULL, NULL, NULL \
  FROM o \
UNION ALL SELECT 6, body, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
  FROM identity_rules WHERE id = 1 \
UNION ALL SELECT 7, a, b, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
  FROM kept_apart WHERE a IN (SELECT id FROM owner) OR b IN (SELECT id FROM owner) \
UNION ALL SELECT 8, r.referee_id, r.referrer_id, p.merged_into, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
  FROM referrals r JOIN profiles p ON p.id = r.referee_id \
  WHERE r.outcome = 'pending' AND (p.id IN (SELECT id FROM owner) OR p.merged_into IN (SELECT id FROM owner)) \
UNION ALL SELECT 5, id, merged_into, user_id, traits, trait_times, identity_counts, channels, first_seen_at, last_seen_at, event_count, created_at, \
                 updated_at, orders_count, revenue_total, margin_total, first_order_at, last_order_at \
  FROM owner";

pub(super) fn lookup(conn: &mut AnyConnection, keys: &Keys) -> StoreResult<Found> {
    let mut found = Found::default();
    match conn {
        AnyConnection::Postgresql(c) => {
            let rows: Vec<Row> = crate::cached!(ALL)
                .bind::<Text, _>(keys.source_key)
                .bind::<Array<Text>, _>(&keys.message_ids)
                .bind::<Array<Text>, _>(&keys.values)
                .bind::<Array<Text>, _>(&keys.hashes)
                .bind::<Array<Text>, _>(keys.order_ids)
                .load(c)?;
            found.program = Some(None);
            found.rules = Some(None);
            found.apart = Some(Vec::new());
            found.pending_referrals = Some(Vec::new());
            let mut owners = Vec::new();
            for r in rows {
                let text = |v: Option<String>| v.unwrap_or_default();
                let n = |v: Option<i64>| v.unwrap_or_default();
                match r.k {
                    SEEN => found.seen.push((text(r.a), text(r.b), text(r.c), r.d)),
                    IDENTITY => found.identities.push(IdentityRow {
                        value: text(r.a),
                        identity_type: text(r.b),
                        profile_id: text(r.c),
                        created_at: n(r.n1),
                    }),
                    TOMBSTONE => {
                        found.tombstones.insert(text(r.a), n(r.n1));
                    }
                    PROGRAM => found.program = Some(r.a),
                    RULES => found.rules = Some(r.a),
                    APART => found.apart.get_or_insert_with(Vec::new).push((text(r.a), text(r.b))),
                    REFERRAL => found.pending_referrals.get_or_insert_with(Vec::new).push((text(r.a), text(r.b), r.c)),
                    ORDER => found.orders.push(OrderRow {
                        order_id: text(r.a),
                        profile_id: text(r.b),
                        event_id: text(r.c),
                        channel: text(r.d),
                        currency: text(r.e),
                        products: text(r.f),
                        revenue: n(r.n1),
                        refunded: n(r.n2),
                        margin: r.n3,
                        day: n(r.n4),
                        occurred_at: n(r.n5),
                        created_at: n(r.n6),
                        updated_at: n(r.n7),
                    }),
                    PROFILE => owners.push(ProfileRow {
                        id: text(r.a),
                        merged_into: r.b,
                        user_id: r.c,
                        traits: text(r.d),
                        trait_times: text(r.e),
                        channels: n(r.n1),
                        first_seen_at: n(r.n2),
                        last_seen_at: n(r.n3),
                        event_count: n(r.n4),
                        created_at: n(r.n5),
                        updated_at: n(r.n6),
                        orders_count: n(r.n7),
                        revenue_total: n(r.n8),
                        margin_total: n(r.n9),
                        first_order_at: r.n10,
                        last_order_at: r.n11,
                        identity_counts: text(r.f),
                    }),
                    _ => {}
                }
            }
            found.profiles = Some(owners);
        }
        AnyConnection::Sqlite(c) => {
            if !keys.order_ids.is_empty() {
                found.orders = orders::table.filter(in_list(orders::order_id, keys.order_ids)).select(OrderRow::as_select()).load(c)?;
            }
            if !keys.message_ids.is_empty() {
                found.seen = events::table
                    .left_join(profiles::table.on(profiles::id.eq(events::profile_id)))
                    .filter(events::source_key.eq(keys.source_key))
                    .filter(in_list(events::message_id, &keys.message_ids))
                    .select((events::message_id.assume_not_null(), events::id, events::profile_id, profiles::merged_into.nullable()))
                    .load(c)?;
            }
            found.identities =
                identities::table.filter(in_list(identities::value, &keys.values)).select(IdentityRow::as_select()).load(c)?;
            // Most deployments have erased nobody: one probe then spares the
            // batch's hashes a JSON list and a lookup each (3% of the writer).
            let any_erased = erased_identities::table.select(erased_identities::hash).first::<String>(c).optional()?.is_some();
            if any_erased {
                found.tombstones = crate::repo::privacy::tombstones(conn, &keys.hashes)?;
            }
        }
    }
    Ok(found)
}
