//! Privacy rights: everything held about a person, erasure with tombstones of
//! hashed identities, and the audit log.

use crate::error::StoreResult;
use crate::in_list::in_list;
use crate::schema::{
    account_members, audit_log, case_history, cases, consent_state, consents, erased_identities, erased_profiles, events, feedback,
    identities, loyalty_ledger, merges, orders, preferences, profiles, segment_members,
};
use crate::{new_id, AnyConnection};
use diesel::prelude::*;
use std::collections::HashMap;

pub use cdp_app::store::identity_hash;

/// Tombstones among some hashes: hash → when the person was erased.
pub fn tombstones<S: AsRef<str>>(conn: &mut AnyConnection, hashes: &[S]) -> StoreResult<HashMap<String, i64>> {
    if hashes.is_empty() {
        return Ok(HashMap::new());
    }
    let mut out = HashMap::new();
    for chunk in hashes.chunks(5000) {
        out.extend(
            erased_identities::table
                .filter(in_list(erased_identities::hash, chunk))
                .select((erased_identities::hash, erased_identities::erased_at))
                .load::<(String, i64)>(conn)?,
        );
    }
    Ok(out)
}

pub use cdp_app::store::Erased;

/// The ids that make up one person: the live profile and every profile merged into it.
pub fn person_ids(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<String>> {
    let mut ids: Vec<String> = profiles::table.filter(profiles::merged_into.eq(profile)).select(profiles::id).load(conn)?;
    ids.insert(0, profile.to_string());
    Ok(ids)
}

/// Erases a person's personal data from every table, keeps anonymous
/// aggregates (orders, points, scores) under the now anonymous profile id,
/// and records tombstones of the hashed identities. Run in a write transaction.
pub fn erase(conn: &mut AnyConnection, profile: &str, actor: &str, now: i64) -> StoreResult<Erased> {
    let ids = person_ids(conn, profile)?;
    let mut e = Erased { profiles: ids.len(), ..Erased::default() };
    let held: Vec<(String, String)> =
        identities::table.filter(identities::profile_id.eq_any(&ids)).select((identities::identity_type, identities::value)).load(conn)?;
    for (kind, value) in &held {
        let hash = identity_hash(kind, value);
        diesel::delete(erased_identities::table.find(&hash)).execute(conn)?;
        diesel::insert_into(erased_identities::table)
            .values((erased_identities::hash.eq(hash), erased_identities::erased_at.eq(now)))
            .execute(conn)?;
    }
    e.identities = diesel::delete(identities::table.filter(identities::profile_id.eq_any(&ids))).execute(conn)?;
    e.events = diesel::update(events::table.filter(events::profile_id.eq_any(&ids)))
        .set((
            events::identities.eq("[]"),
            events::traits.eq("{}"),
            events::properties.eq("{}"),
            events::context.eq("{}"),
            events::blocked_identities.eq(None::<String>),
        ))
        .execute(conn)?;
    diesel::update(profiles::table.filter(profiles::id.eq_any(&ids)))
        .set((
            profiles::traits.eq("{}"),
            profiles::trait_times.eq("{}"),
            profiles::user_id.eq(None::<String>),
            profiles::updated_at.eq(now),
        ))
        .execute(conn)?;
    e.consents = diesel::delete(consents::table.filter(consents::profile_id.eq_any(&ids))).execute(conn)?;
    diesel::delete(consent_state::table.filter(consent_state::profile_id.eq_any(&ids))).execute(conn)?;
    e.preferences = diesel::delete(preferences::table.filter(preferences::profile_id.eq_any(&ids))).execute(conn)?;
    e.feedback =
        diesel::update(feedback::table.filter(feedback::profile_id.eq_any(&ids))).set(feedback::body.eq(None::<String>)).execute(conn)?;
    let case_ids: Vec<String> = cases::table.filter(cases::profile_id.eq_any(&ids)).select(cases::id).load(conn)?;
    e.cases = diesel::update(cases::table.filter(cases::id.eq_any(&case_ids)))
        .set((cases::subject.eq("[erased]"), cases::description.eq(""), cases::resolution.eq(None::<String>)))
        .execute(conn)?;
    diesel::update(case_history::table.filter(case_history::case_id.eq_any(&case_ids)))
        .set(case_history::note.eq(None::<String>))
        .execute(conn)?;
    e.merge_log_entries = diesel::update(merges::table.filter(merges::survivor_id.eq_any(&ids).or(merges::merged_id.eq_any(&ids))))
        .set(merges::identity_value.eq("[erased]"))
        .execute(conn)?;
    e.segment_memberships = diesel::delete(segment_members::table.filter(segment_members::profile_id.eq_any(&ids))).execute(conn)?;
    e.account_memberships = diesel::delete(account_members::table.filter(account_members::profile_id.eq_any(&ids))).execute(conn)?;
    // Codes the person has not used die with them (a redeemed one stays, as an order's record);
    // their referral code links no one else to them.
    use crate::schema::{referral_codes, vouchers};
    diesel::delete(vouchers::table.filter(vouchers::profile_id.eq_any(&ids)).filter(vouchers::redeemed_at.is_null())).execute(conn)?;
    diesel::delete(referral_codes::table.filter(referral_codes::profile_id.eq_any(&ids))).execute(conn)?;
    // Deliveries keep their ids and outcomes (what left, when) but not what
    // they said; those still pending will never be sent.
    use crate::schema::deliveries;
    let theirs = || deliveries::table.filter(deliveries::profile_id.eq_any(&ids));
    diesel::update(theirs().filter(deliveries::status.eq("pending")))
        .set((
            deliveries::status.eq("suppressed"),
            deliveries::last_error.eq("the profile was erased"),
            deliveries::lease_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    diesel::update(theirs()).set((deliveries::data.eq("{}"), deliveries::body.eq(None::<String>))).execute(conn)?;
    for id in &ids {
        diesel::insert_into(erased_profiles::table)
            .values((erased_profiles::profile_id.eq(id), erased_profiles::erased_at.eq(now), erased_profiles::erased_by.eq(actor)))
            .execute(conn)?;
    }
    Ok(e)
}

pub use cdp_app::store::{LedgerEntry, StoredEvent, StoredOrder};

/// Every event of a person, oldest first.
pub fn events_of(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<Vec<StoredEvent>> {
    Ok(events::table
        .filter(events::profile_id.eq_any(ids))
        .order((events::occurred_at.asc(), events::id.asc()))
        .select((
            events::id,
            events::event_type,
            events::name,
            events::channel,
            events::occurred_at,
            events::identities,
            events::traits,
            events::properties,
            events::context,
            events::blocked_identities,
        ))
        .load(conn)?)
}

/// Every order of a person.
pub fn orders_of(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<StoredOrder>> {
    Ok(orders::table
        .filter(orders::profile_id.eq(profile))
        .order(orders::occurred_at.asc())
        .select((
            orders::order_id,
            orders::channel,
            orders::currency,
            orders::revenue,
            orders::refunded,
            orders::occurred_at,
            orders::products,
        ))
        .load(conn)?)
}

/// The whole loyalty ledger.
pub fn ledger_of(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<LedgerEntry>> {
    Ok(loyalty_ledger::table
        .filter(loyalty_ledger::profile_id.eq(profile))
        .order((loyalty_ledger::created_at.asc(), loyalty_ledger::id.asc()))
        .select((
            loyalty_ledger::kind,
            loyalty_ledger::points,
            loyalty_ledger::balance_after,
            loyalty_ledger::order_id,
            loyalty_ledger::created_at,
        ))
        .load(conn)?)
}

/// Segment membership periods: (segment_id, entered_at, exited_at).
pub fn memberships_of(conn: &mut AnyConnection, profile: &str) -> StoreResult<Vec<(String, i64, Option<i64>)>> {
    Ok(segment_members::table
        .filter(segment_members::profile_id.eq(profile))
        .select((segment_members::segment_id, segment_members::entered_at, segment_members::exited_at))
        .load(conn)?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = audit_log)]
pub struct AuditRow {
    pub id: String,
    pub actor: String,
    pub action: String,
    pub profile_id: Option<String>,
    pub detail: String,
    pub at: i64,
}

/// Records who did what to whom.
pub fn audit(
    conn: &mut AnyConnection,
    actor: &str,
    action: &str,
    profile: Option<&str>,
    detail: &serde_json::Value,
    at: i64,
) -> StoreResult<()> {
    diesel::insert_into(audit_log::table)
        .values((
            audit_log::id.eq(new_id()),
            audit_log::actor.eq(actor),
            audit_log::action.eq(action),
            audit_log::profile_id.eq(profile),
            audit_log::detail.eq(detail.to_string()),
            audit_log::at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub use cdp_app::store::AuditFilter;

/// A page of the audit log, newest first.
pub fn list_audit(conn: &mut AnyConnection, f: &AuditFilter, limit: i64) -> StoreResult<super::Page<AuditRow>> {
    let mut q = audit_log::table.into_boxed();
    if let Some(a) = &f.actor {
        q = q.filter(audit_log::actor.eq(a.clone()));
    }
    if let Some(a) = &f.action {
        q = q.filter(audit_log::action.eq(a.clone()));
    }
    if let Some(p) = &f.profile_id {
        q = q.filter(audit_log::profile_id.eq(p.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(audit_log::at.ge(t));
    }
    if let Some(t) = f.to {
        q = q.filter(audit_log::at.lt(t));
    }
    if let Some((t, id)) = &f.after {
        q = q.filter(audit_log::at.lt(*t).or(audit_log::at.eq(*t).and(audit_log::id.lt(id.clone()))));
    }
    let mut rows: Vec<AuditRow> =
        q.order((audit_log::at.desc(), audit_log::id.desc())).limit(limit + 1).select(AuditRow::as_select()).load(conn)?;
    let next = super::page_end(&mut rows, limit, |r| (r.at, r.id.clone()));
    Ok((rows, next))
}
