//! Undoing a merge: what came through the merged profile goes back to it,
//! both sides' aggregates are worked out again from their rows, and the two
//! are kept apart afterwards.
//!
//! What goes back: rows whose `origin_profile_id` names the merged profile or
//! a profile merged into it before (its side); events that arrived after the
//! merge and carry an identity of that side and none of the survivor's;
//! identities first seen after the merge whose every event goes back; orders
//! with their event, loyalty entries with their order (other entries, and
//! consents, preferences, feedback, cases and account memberships, by
//! origin). A redemption made by the survivor after the merge stays with it.

use crate::error::{StoreError, StoreResult};
use crate::repo::profiles::{MergeRow, ProfileRow};
use crate::schema::{
    account_members, cases, consents, erased_profiles, events, feedback, identities, kept_apart, loyalty_ledger, merges, orders,
    preferences, profile_rfm, profile_scores, profiles, purchase_days,
};
use crate::{new_id, AnyConnection};
use cdp_domain::event::Placeholder;
use cdp_domain::identity_rules::{counts_to_json, Counts};
use cdp_domain::profile::Totals;
use cdp_domain::traits::TraitState;
use cdp_domain::{Channel, Identity, IdentityType};
use diesel::prelude::*;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};

pub use cdp_app::store::{Split, SplitRefusal, UndoRefusal, Undone};

/// Moves the rows of `$table` that came through the merged side back to `$to`;
/// a row that came from `$to` itself no longer needs its origin.
macro_rules! move_back {
    ($conn:expr, $table:ident, $from:expr, $to:expr, $side:expr) => {{
        let n = diesel::update($table::table.filter($table::profile_id.eq($from)).filter($table::origin_profile_id.eq_any($side)))
            .set($table::profile_id.eq($to))
            .execute(&mut *$conn)?;
        diesel::update($table::table.filter($table::profile_id.eq($to)).filter($table::origin_profile_id.eq($to)))
            .set($table::origin_profile_id.eq(None::<String>))
            .execute(&mut *$conn)?;
        n
    }};
}

/// Undoes merge `merge_id` at `now`. Orders in `currency` count in aggregates.
pub fn undo_merge(conn: &mut AnyConnection, merge_id: &str, currency: &str, now: i64) -> StoreResult<Result<Undone, UndoRefusal>> {
    let m: MergeRow = merges::table.find(merge_id).select(MergeRow::as_select()).first(conn)?;
    if m.kind != "merge" {
        return Err(StoreError::NotFound);
    }
    if m.undone_at.is_some() {
        return Ok(Err(UndoRefusal::AlreadyUndone));
    }
    let x = m.merged_id.clone();
    let into: Option<Option<String>> = profiles::table.find(&x).select(profiles::merged_into).first(conn).optional()?;
    let Some(Some(survivor)) = into else { return Ok(Err(UndoRefusal::AlreadyUndone)) };
    let mut pair = vec![x.clone(), survivor.clone()];
    pair.sort();
    lock_identities(conn, &survivor)?;
    lock_profiles(conn, &pair)?;
    // What was read before the locks may have changed meanwhile (another undo of the same merge).
    let undone: Option<i64> = merges::table.find(&m.id).select(merges::undone_at).first(conn)?;
    let into: Option<String> = profiles::table.find(&x).select(profiles::merged_into).first(conn)?;
    if undone.is_some() {
        return Ok(Err(UndoRefusal::AlreadyUndone));
    }
    if into.as_deref() != Some(survivor.as_str()) {
        // The survivor merged on meanwhile: run again on what is there now.
        return Err(StoreError::Contention("the merge's survivor changed during its undo".into()));
    }
    let erased: i64 = erased_profiles::table.filter(erased_profiles::profile_id.eq_any(&pair)).count().get_result(conn)?;
    if erased > 0 {
        return Ok(Err(UndoRefusal::Erased));
    }
    let side = side_of(conn, &x)?;

    // Identities: the merged side's, the survivor's, and those first seen after the merge.
    let held: Vec<(String, String, Option<String>, i64)> = identities::table
        .filter(identities::profile_id.eq(&survivor))
        .select((identities::value, identities::identity_type, identities::origin_profile_id, identities::created_at))
        .load(conn)?;
    let key = |t: &str, v: &str| (t.to_string(), v.to_string());
    let (mut theirs, mut ours, mut later) = (HashSet::new(), HashSet::new(), HashSet::new());
    for (value, kind, origin, created_at) in &held {
        if origin.as_ref().is_some_and(|o| side.contains(o)) {
            theirs.insert(key(kind, value));
        } else if origin.is_none() && *created_at > m.created_at {
            later.insert(key(kind, value));
        } else {
            ours.insert(key(kind, value));
        }
    }

    // Events: by origin, and those after the merge by the identities they carry.
    let evs: Vec<(String, Option<String>, String, i64)> = events::table
        .filter(events::profile_id.eq(&survivor))
        .select((events::id, events::origin_profile_id, events::identities, events::received_at))
        .load(conn)?;
    let mut back_events: Vec<String> = Vec::new();
    let mut later_fate: HashMap<(String, String), (bool, bool)> = HashMap::new();
    for (id, origin, ids, received_at) in evs {
        if origin.as_ref().is_some_and(|o| side.contains(o)) {
            back_events.push(id);
            continue;
        }
        if origin.is_some() || received_at <= m.created_at || m.event_id.as_deref() == Some(id.as_str()) {
            continue;
        }
        let carried: Vec<Identity> = serde_json::from_str(&ids)?;
        let carried: Vec<(String, String)> = carried.iter().map(|i| key(i.kind.as_str(), &i.value)).collect();
        let goes = carried.iter().any(|k| theirs.contains(k)) && !carried.iter().any(|k| ours.contains(k));
        for k in carried.iter().filter(|k| later.contains(*k)) {
            let fate = later_fate.entry(k.clone()).or_insert((false, false));
            if goes {
                fate.0 = true;
            } else {
                fate.1 = true;
            }
        }
        if goes {
            back_events.push(id);
        }
    }
    theirs.extend(later_fate.into_iter().filter(|(_, (back, stay))| *back && !*stay).map(|(k, _)| k));

    let moved_orders = carry(conn, &survivor, &x, &theirs, &back_events, &side)?;
    let others: Vec<&String> = side.iter().filter(|p| **p != x).collect();
    diesel::update(profiles::table.filter(profiles::id.eq_any(&others))).set(profiles::merged_into.eq(Some(&x))).execute(conn)?;
    diesel::update(profiles::table.find(&x)).set(profiles::merged_into.eq(None::<String>)).execute(conn)?;
    rederive(conn, &pair, currency, now)?;
    let tiers: Option<Value> = m.detail.as_deref().map(serde_json::from_str).transpose()?;
    // The merged side had an account iff the merge recorded its tier; the
    // survivor's is known when the merge moved a ledger into it.
    let tier = |who: &str| tiers.as_ref().and_then(|t| t["tiers"][who].as_str().map(str::to_string));
    crate::repo::loyalty::rederive_account(conn, &x, tier("merged").as_deref(), Some(tiers.is_some()), now)?;
    let (ours_then, had) = match &tiers {
        Some(t) if m.survivor_id == survivor => (tier("survivor"), t["survivor_had_account"].as_bool()),
        _ => (None, None),
    };
    crate::repo::loyalty::rederive_account(conn, &survivor, ours_then.as_deref(), had, now)?;

    // The log, and the two kept apart.
    diesel::update(merges::table.find(&m.id)).set(merges::undone_at.eq(Some(now))).execute(conn)?;
    let undo = MergeRow {
        id: new_id(),
        kind: "undo".into(),
        survivor_id: survivor.clone(),
        merged_id: x.clone(),
        identity_type: m.identity_type.clone(),
        identity_value: m.identity_value.clone(),
        event_id: None,
        created_at: now,
        reason: None,
        undone_at: None,
        detail: Some(serde_json::json!({"merge_id": m.id}).to_string()),
    };
    diesel::insert_into(merges::table).values(&undo).execute(conn)?;
    keep_apart(conn, &x, &survivor, now)?;
    Ok(Ok(Undone {
        restored_profile_id: x,
        survivor_id: survivor,
        identities: theirs.len(),
        events: back_events.len(),
        orders: moved_orders,
    }))
}

/// Splits `ids` (type, normalised value) off live profile `profile` into a
/// new profile: those identities, and the events that carried one of them and
/// none of the identities that stay (with their orders, the points of those
/// orders and feedback on them); both are worked out again from their rows
/// and kept apart afterwards.
pub fn split_profile(
    conn: &mut AnyConnection,
    profile: &str,
    ids: &[(String, String)],
    currency: &str,
    now: i64,
) -> StoreResult<Result<Split, SplitRefusal>> {
    lock_identities(conn, profile)?;
    lock_profiles(conn, &[profile.to_string()])?;
    let erased: i64 = erased_profiles::table.filter(erased_profiles::profile_id.eq(profile)).count().get_result(conn)?;
    if erased > 0 {
        return Ok(Err(SplitRefusal::Erased));
    }
    let held: HashSet<(String, String)> = identities::table
        .filter(identities::profile_id.eq(profile))
        .select((identities::identity_type, identities::value))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let going: HashSet<(String, String)> = ids.iter().cloned().collect();
    if let Some(n) = ids.iter().position(|k| !held.contains(k)) {
        return Ok(Err(SplitRefusal::NotHeld(n)));
    }
    if held.iter().all(|k| going.contains(k)) {
        return Ok(Err(SplitRefusal::NothingStays));
    }
    let evs: Vec<(String, String)> =
        events::table.filter(events::profile_id.eq(profile)).select((events::id, events::identities)).load(conn)?;
    let mut moving = Vec::new();
    for (id, carried) in evs {
        let carried: Vec<Identity> = serde_json::from_str(&carried)?;
        let keys: Vec<(String, String)> = carried.iter().map(|i| (i.kind.as_str().to_string(), i.value.clone())).collect();
        if keys.iter().any(|k| going.contains(k)) && !keys.iter().any(|k| held.contains(k) && !going.contains(k)) {
            moving.push(id);
        }
    }
    let first_seen: i64 = profiles::table.find(profile).select(profiles::first_seen_at).first(conn)?;
    let new = ProfileRow::new(new_id(), first_seen, now);
    diesel::insert_into(profiles::table).values(&new).execute(conn)?;
    let moved_orders = carry(conn, profile, &new.id, &going, &moving, &[])?;
    let pair = vec![profile.to_string(), new.id.clone()];
    rederive(conn, &pair, currency, now)?;
    let tier: Option<String> =
        crate::schema::loyalty_accounts::table.find(profile).select(crate::schema::loyalty_accounts::tier_code).first(conn).optional()?;
    crate::repo::loyalty::rederive_account(conn, profile, tier.as_deref(), None, now)?;
    crate::repo::loyalty::rederive_account(conn, &new.id, None, Some(false), now)?;
    let (kind, value) = &ids[0];
    let log = MergeRow {
        id: new_id(),
        kind: "split".into(),
        survivor_id: profile.to_string(),
        merged_id: new.id.clone(),
        identity_type: kind.clone(),
        identity_value: value.clone(),
        event_id: None,
        created_at: now,
        reason: None,
        undone_at: None,
        detail: Some(
            serde_json::json!({"identities": ids.iter().map(|(t, v)| serde_json::json!({"type": t, "value": v})).collect::<Vec<_>>()})
                .to_string(),
        ),
    };
    diesel::insert_into(merges::table).values(&log).execute(conn)?;
    keep_apart(conn, profile, &new.id, now)?;
    Ok(Ok(Split { profile_id: new.id, identities: going.len(), events: moving.len(), orders: moved_orders }))
}

/// Moves from `from` to `to` the given identities and events, the orders of
/// those events and the loyalty entries of those orders, feedback on those
/// events, and whatever came through `side` (by origin); answers how many
/// orders moved. A row that came from `to` itself no longer needs its origin.
fn carry(
    conn: &mut AnyConnection,
    from: &str,
    to: &str,
    ids: &HashSet<(String, String)>,
    evs: &[String],
    side: &[String],
) -> StoreResult<usize> {
    for (kind, value) in ids {
        diesel::update(identities::table.find((value, kind))).set(identities::profile_id.eq(to)).execute(conn)?;
    }
    diesel::update(identities::table.filter(identities::profile_id.eq(to)).filter(identities::origin_profile_id.eq(to)))
        .set(identities::origin_profile_id.eq(None::<String>))
        .execute(conn)?;
    for chunk in evs.chunks(500) {
        diesel::update(events::table.filter(events::id.eq_any(chunk))).set(events::profile_id.eq(to)).execute(conn)?;
    }
    diesel::update(events::table.filter(events::profile_id.eq(to)).filter(events::origin_profile_id.eq(to)))
        .set(events::origin_profile_id.eq(None::<String>))
        .execute(conn)?;
    let moved_orders = diesel::update(
        orders::table
            .filter(orders::profile_id.eq(from))
            .filter(orders::event_id.eq_any(events::table.filter(events::profile_id.eq(to)).select(events::id))),
    )
    .set((orders::profile_id.eq(to), orders::origin_profile_id.eq(None::<String>)))
    .execute(conn)?;
    let their_orders: Vec<Option<String>> =
        orders::table.filter(orders::profile_id.eq(to)).select(orders::order_id.nullable()).load(conn)?;
    for chunk in their_orders.chunks(500) {
        diesel::update(loyalty_ledger::table.filter(loyalty_ledger::profile_id.eq(from)).filter(loyalty_ledger::order_id.eq_any(chunk)))
            .set((loyalty_ledger::profile_id.eq(to), loyalty_ledger::origin_profile_id.eq(None::<String>)))
            .execute(conn)?;
    }
    diesel::update(
        feedback::table
            .filter(feedback::profile_id.eq(from))
            .filter(feedback::event_id.eq_any(events::table.filter(events::profile_id.eq(to)).select(events::id))),
    )
    .set(feedback::profile_id.eq(to))
    .execute(conn)?;
    move_back!(conn, loyalty_ledger, from, to, side);
    move_back!(conn, consents, from, to, side);
    move_back!(conn, preferences, from, to, side);
    move_back!(conn, feedback, from, to, side);
    move_back!(conn, cases, from, to, side);
    move_back!(conn, account_members, from, to, side);
    Ok(moved_orders)
}

/// Both profiles' aggregates worked out again from their rows; their RFM and
/// CLV scores are stale until the next run.
fn rederive(conn: &mut AnyConnection, pair: &[String], currency: &str, now: i64) -> StoreResult<()> {
    for p in pair {
        rebuild_profile(conn, p, currency, now)?;
        for channel in cdp_domain::consent::CONSENT_CHANNELS {
            crate::repo::consent::refresh(conn, p, channel)?;
        }
    }
    rebuild_days(conn, pair, currency)?;
    diesel::delete(profile_rfm::table.filter(profile_rfm::profile_id.eq_any(pair))).execute(conn)?;
    diesel::delete(profile_scores::table.filter(profile_scores::profile_id.eq_any(pair))).execute(conn)?;
    Ok(())
}

/// Takes ingestion's advisory locks on every identity a profile holds
/// (PostgreSQL): an event carrying one waits for this transaction and then
/// resolves on what it leaves; one that got there first is seen by it.
fn lock_identities(conn: &mut AnyConnection, profile: &str) -> StoreResult<()> {
    if !matches!(conn, AnyConnection::Postgresql(_)) {
        return Ok(());
    }
    let held: Vec<(String, String)> =
        identities::table.filter(identities::profile_id.eq(profile)).select((identities::identity_type, identities::value)).load(conn)?;
    let mut keys: Vec<i64> = held.iter().map(|(k, v)| crate::advisory::identity_key(k, v)).collect();
    keys.sort_unstable();
    keys.dedup();
    crate::advisory::lock_keys(conn, &keys)
}

/// Locks profile rows in id order (PostgreSQL), as ingestion does.
fn lock_profiles(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<()> {
    if let AnyConnection::Postgresql(c) = conn {
        profiles::table.filter(profiles::id.eq_any(ids)).order(profiles::id.asc()).for_update().select(profiles::id).load::<String>(c)?;
    }
    Ok(())
}

/// The merged profile and every profile merged into it, transitively (merges not undone).
fn side_of(conn: &mut AnyConnection, x: &str) -> StoreResult<Vec<String>> {
    let mut side = vec![x.to_string()];
    let mut frontier = side.clone();
    while !frontier.is_empty() {
        let next: Vec<String> = merges::table
            .filter(merges::kind.eq("merge"))
            .filter(merges::undone_at.is_null())
            .filter(merges::survivor_id.eq_any(&frontier))
            .select(merges::merged_id)
            .load(conn)?;
        frontier = next.into_iter().filter(|p| !side.contains(p)).collect();
        side.extend(frontier.iter().cloned());
    }
    Ok(side)
}

/// Whether an event was ingested (counted as seen on its channel) rather than
/// written by the platform on a timeline (only counted).
fn ingested(identities: &str, blocked: &Option<String>) -> bool {
    identities != "[]" || blocked.is_some()
}

/// A profile's totals, traits, identity counts and user_id worked out again
/// from its events (in the order they arrived), orders and identities.
fn rebuild_profile(conn: &mut AnyConnection, id: &str, currency: &str, now: i64) -> StoreResult<()> {
    let mut row: ProfileRow = profiles::table.find(id).select(ProfileRow::as_select()).first(conn)?;
    type EventFacts = (String, i64, String, Option<String>, String);
    let evs: Vec<EventFacts> = events::table
        .filter(events::profile_id.eq(id))
        .order((events::received_at.asc(), events::id.asc()))
        .select((events::channel, events::occurred_at, events::identities, events::blocked_identities, events::traits))
        .load(conn)?;
    let mut totals = Totals { first_seen_at: i64::MAX, last_seen_at: i64::MIN, ..Totals::new(0) };
    let mut traits = TraitState::default();
    for (channel, at, ids, blocked, t) in &evs {
        if ingested(ids, blocked) {
            totals.record_event(channel.parse::<Channel>().unwrap_or(Channel::Other), *at);
            let blocked: Vec<Placeholder> = blocked.as_deref().map(serde_json::from_str).transpose()?.unwrap_or_default();
            let t: Map<String, Value> = serde_json::from_str(t)?;
            traits.apply(&Placeholder::strip_traits(&t, &blocked), *at);
        } else {
            totals.event_count += 1;
        }
    }
    if totals.first_seen_at > totals.last_seen_at {
        (totals.first_seen_at, totals.last_seen_at) = (row.first_seen_at, row.first_seen_at);
    }
    let ords: Vec<(i64, i64, Option<i64>, i64)> = orders::table
        .filter(orders::profile_id.eq(id))
        .filter(orders::currency.eq(currency))
        .select((orders::revenue, orders::refunded, orders::margin, orders::occurred_at))
        .load(conn)?;
    for (revenue, refunded, margin, at) in ords {
        totals.record_order(1, revenue, margin.unwrap_or(0), Some(at));
        if refunded > 0 {
            let closed = i64::from(refunded == revenue);
            let part = match (margin, revenue) {
                (Some(m), r) if r > 0 => (m as i128 * refunded as i128 / r as i128) as i64,
                _ => 0,
            };
            totals.record_order(-closed, -refunded, -part, None);
        }
    }
    let held: Vec<(String, String, i64)> = identities::table
        .filter(identities::profile_id.eq(id))
        .order(identities::created_at.asc())
        .select((identities::identity_type, identities::value, identities::created_at))
        .load(conn)?;
    let mut counts = Counts::new();
    for (kind, _, _) in &held {
        if let Ok(k) = IdentityType::parse(kind) {
            *counts.entry(k).or_default() += 1;
        }
    }
    row.user_id = held.iter().find(|(k, _, _)| k == IdentityType::UserId.as_str()).map(|(_, v, _)| v.clone());
    row.set_totals(totals);
    row.traits = serde_json::to_string(&traits.values)?;
    row.trait_times = serde_json::to_string(&traits.times)?;
    row.identity_counts = counts_to_json(&counts);
    row.updated_at = now;
    diesel::update(profiles::table.find(id)).set(&row).execute(conn)?;
    Ok(())
}

/// Purchase days of `profiles` worked out again from their orders in `currency`.
fn rebuild_days(conn: &mut AnyConnection, ids: &[String], currency: &str) -> StoreResult<()> {
    diesel::delete(purchase_days::table.filter(purchase_days::profile_id.eq_any(ids))).execute(conn)?;
    let ords: Vec<(String, i64, i64, i64)> = orders::table
        .filter(orders::profile_id.eq_any(ids))
        .filter(orders::currency.eq(currency))
        .select((orders::profile_id, orders::day, orders::revenue, orders::refunded))
        .load(conn)?;
    let mut days: BTreeMap<(String, i64), (i64, i64)> = BTreeMap::new();
    for (p, day, revenue, refunded) in ords {
        let d = days.entry((p, day)).or_default();
        d.0 += i64::from(!(refunded > 0 && refunded == revenue));
        d.1 += revenue - refunded;
    }
    let rows: Vec<_> = days.into_iter().filter(|(_, (n, _))| *n > 0).collect();
    crate::repo::orders::add_days(conn, &rows)?;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    crate::repo::value::summarise(conn, &refs, true)
}

/// Records that two profiles are never merged again.
fn keep_apart(conn: &mut AnyConnection, a: &str, b: &str, now: i64) -> StoreResult<()> {
    let (a, b) = if a < b { (a, b) } else { (b, a) };
    let row = (kept_apart::a.eq(a), kept_apart::b.eq(b), kept_apart::created_at.eq(now));
    crate::per_backend!(&mut *conn, |c| diesel::insert_into(kept_apart::table).values(row).on_conflict_do_nothing().execute(c))?;
    Ok(())
}

/// Kept-apart pairs follow a merge: what `merged` was kept apart from, its survivor is.
pub fn follow_merge(conn: &mut AnyConnection, merged: &str, into: &str, now: i64) -> StoreResult<()> {
    let pairs: Vec<(String, String)> = kept_apart::table
        .filter(kept_apart::a.eq(merged).or(kept_apart::b.eq(merged)))
        .select((kept_apart::a, kept_apart::b))
        .load(conn)?;
    if pairs.is_empty() {
        return Ok(());
    }
    diesel::delete(kept_apart::table.filter(kept_apart::a.eq(merged).or(kept_apart::b.eq(merged)))).execute(conn)?;
    for (a, b) in pairs {
        let other = if a == merged { b } else { a };
        if other != into {
            keep_apart(conn, &other, into, now)?;
        }
    }
    Ok(())
}

/// The pairs kept apart among `ids`' profiles and others: (a, b), a < b.
pub fn apart_from(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(kept_apart::table
        .filter(kept_apart::a.eq_any(ids).or(kept_apart::b.eq_any(ids)))
        .select((kept_apart::a, kept_apart::b))
        .load(conn)?)
}

#[cfg(test)]
mod tests;
