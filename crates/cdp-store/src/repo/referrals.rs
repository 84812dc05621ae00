//! Referral codes and referrals. Both ends of a referral keep the profile
//! ids they had when it was linked; who they are now is read through
//! `profiles.merged_into` (always the final survivor), so merges and their
//! undoing need no move here.

use crate::error::StoreResult;
use crate::in_list::in_list;
use crate::schema::{profiles, referral_codes, referrals};
use crate::AnyConnection;
use cdp_app::store::ReferralView;
use cdp_domain::referral::{self, Reward};
use diesel::prelude::*;
use std::collections::HashMap;

/// The live profile an id stands for, or none when it is not a profile.
fn live(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<String>> {
    let row: Option<(String, Option<String>)> =
        profiles::table.find(id).select((profiles::id, profiles::merged_into)).first(conn).optional()?;
    Ok(row.map(|(id, into)| into.unwrap_or(id)))
}

/// The first code made for a live profile or for one merged into it.
pub fn code_of(conn: &mut AnyConnection, live: &str) -> StoreResult<Option<String>> {
    Ok(referral_codes::table
        .inner_join(profiles::table.on(profiles::id.eq(referral_codes::profile_id)))
        .filter(profiles::id.eq(live).or(profiles::merged_into.eq(live)))
        .order((referral_codes::created_at.asc(), referral_codes::code.asc()))
        .select(referral_codes::code)
        .first(conn)
        .optional()?)
}

pub fn add_code(conn: &mut AnyConnection, code: &str, profile: &str, now: i64) -> StoreResult<()> {
    diesel::insert_into(referral_codes::table)
        .values((referral_codes::code.eq(code), referral_codes::profile_id.eq(profile), referral_codes::created_at.eq(now)))
        .execute(conn)?;
    Ok(())
}

/// What ingestion's batch brings to referrals, in its transaction: new
/// people who arrived with a code (`links`: referee, code as sent, when)
/// are linked to the code's owner unless that is themselves; the first new
/// order (`orders`: live profile, order id, when) of a pending referee
/// rewards the referrer once, or closes the referral when the two are one
/// person by now. `pending`: the pending referrals of the batch's profiles
/// (referee, referrer, referee's live profile) when the lookups read them
/// (PostgreSQL, saving a round trip per batch); otherwise read here.
pub fn on_batch(
    conn: &mut AnyConnection,
    links: &[(String, String, i64)],
    orders: &[(&str, &str, i64)],
    pending: Option<Vec<(String, String, String)>>,
    now: i64,
) -> StoreResult<()> {
    let mut linked = Vec::new();
    for (referee, sent, at) in links {
        let Some(code) = referral::normalise_code(sent) else { continue };
        let owner: Option<String> = referral_codes::table.find(&code).select(referral_codes::profile_id).first(conn).optional()?;
        let Some(referrer) = owner else { continue };
        if live(conn, &referrer)?.as_deref() == Some(referee.as_str()) {
            continue;
        }
        diesel::insert_into(referrals::table)
            .values((
                referrals::referee_id.eq(referee),
                referrals::referrer_id.eq(&referrer),
                referrals::code.eq(&code),
                referrals::linked_at.eq(at),
                referrals::outcome.eq("pending"),
            ))
            .execute(conn)?;
        linked.push((referee.clone(), referrer, referee.clone()));
    }
    if orders.is_empty() {
        return Ok(());
    }
    let mut pending = match pending {
        Some(mut read) => {
            read.extend(linked);
            read
        }
        None => {
            let mut buyers: Vec<&str> = orders.iter().map(|o| o.0).collect();
            buyers.sort_unstable();
            buyers.dedup();
            let mut found = Vec::new();
            for chunk in buyers.chunks(500) {
                let rows: Vec<(String, String, Option<String>)> = referrals::table
                    .inner_join(profiles::table.on(profiles::id.eq(referrals::referee_id)))
                    .filter(referrals::outcome.eq("pending"))
                    .filter(in_list(profiles::id, chunk).or(in_list(profiles::merged_into.assume_not_null(), chunk)))
                    .select((referrals::referee_id, referrals::referrer_id, profiles::merged_into))
                    .load(conn)?;
                found.extend(rows.into_iter().map(|(referee, referrer, into)| {
                    let live = into.unwrap_or_else(|| referee.clone());
                    (referee, referrer, live)
                }));
            }
            found
        }
    };
    if pending.is_empty() {
        return Ok(());
    }
    // The first of each buyer's new orders.
    let mut first: HashMap<&str, (&str, i64)> = HashMap::new();
    for (p, o, at) in orders {
        let e = first.entry(p).or_insert((o, *at));
        if (*at, *o) < (e.1, e.0) {
            *e = (o, *at);
        }
    }
    let points = crate::repo::loyalty::program(conn)?.referral_points;
    pending.sort();
    pending.dedup();
    for (referee, referrer, referee_live) in pending {
        let Some(&(order, at)) = first.get(referee_live.as_str()) else { continue };
        let referrer_live = live(conn, &referrer)?.unwrap_or(referrer);
        let (outcome, credited) = match referral::reward(&referrer_live, &referee_live, points) {
            Reward::SelfReferral => ("self_referral", None),
            Reward::Points(p) => ("rewarded", Some(p)),
        };
        let n = diesel::update(referrals::table.find(&referee).filter(referrals::outcome.eq("pending")))
            .set((
                referrals::outcome.eq(outcome),
                referrals::first_order_id.eq(order),
                referrals::first_order_at.eq(at),
                referrals::points.eq(credited),
            ))
            .execute(conn)?;
        if let (1, Some(p)) = (n, credited.filter(|p| *p > 0)) {
            let reason = format!("referral: first order {order} of {referee_live}");
            // Crediting never fails (only spending can be refused).
            if let Ok(row) = crate::repo::loyalty::adjust(conn, &referrer_live, p, &reason, now)? {
                diesel::update(referrals::table.find(&referee)).set(referrals::reward_entry_id.eq(row.id)).execute(conn)?;
            }
        }
    }
    Ok(())
}

/// Orders this batch refunded in full: a referral rewarded for one of them
/// is `reversed` and its points are taken back from the referrer (who may
/// go into debt, as with an order's points).
pub fn on_refunds(conn: &mut AnyConnection, orders: &[String], now: i64) -> StoreResult<()> {
    if orders.is_empty() {
        return Ok(());
    }
    // (referee, first order, points, the entry that credited them)
    type Rewarded = (String, Option<String>, Option<i64>, Option<String>);
    let rows: Vec<Rewarded> = referrals::table
        .filter(referrals::outcome.eq("rewarded"))
        .filter(referrals::first_order_id.assume_not_null().eq_any(orders))
        .select((referrals::referee_id, referrals::first_order_id, referrals::points, referrals::reward_entry_id))
        .load(conn)?;
    for (referee, order, points, entry) in rows {
        diesel::update(referrals::table.find(&referee).filter(referrals::outcome.eq("rewarded")))
            .set(referrals::outcome.eq("reversed"))
            .execute(conn)?;
        if let (Some(p), Some(lot)) = (points.filter(|p| *p > 0), entry) {
            let reason = format!("referral reversed: order {} refunded", order.unwrap_or_default());
            crate::repo::loyalty::take_back(conn, &lot, p, &reason, now)?;
        }
    }
    Ok(())
}

/// The people a live profile referred (codes of profiles merged into it
/// count), who they are now, and their revenue (minor units).
pub fn of_referrer(conn: &mut AnyConnection, live_id: &str) -> StoreResult<Vec<ReferralView>> {
    /// referee, code, linked_at, outcome, first_order_at, points
    type Row = (String, String, i64, String, Option<i64>, Option<i64>);
    let rows: Vec<Row> = referrals::table
        .inner_join(profiles::table.on(profiles::id.eq(referrals::referrer_id)))
        .filter(profiles::id.eq(live_id).or(profiles::merged_into.eq(live_id)))
        .order((referrals::linked_at.asc(), referrals::referee_id.asc()))
        .select((
            referrals::referee_id,
            referrals::code,
            referrals::linked_at,
            referrals::outcome,
            referrals::first_order_at,
            referrals::points,
        ))
        .load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (referee, code, linked_at, outcome, first_order_at, points) in rows {
        let row: Option<(String, Option<String>)> =
            profiles::table.find(&referee).select((profiles::id, profiles::merged_into)).first(conn).optional()?;
        let Some((id, into)) = row else { continue };
        let now_id = into.unwrap_or(id);
        let (revenue_total, orders_count): (i64, i64) =
            profiles::table.find(&now_id).select((profiles::revenue_total, profiles::orders_count)).first(conn)?;
        out.push(ReferralView { referee: now_id, code, linked_at, outcome, first_order_at, points, revenue_total, orders_count });
    }
    Ok(out)
}
