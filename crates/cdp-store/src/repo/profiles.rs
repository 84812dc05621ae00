//! Profiles and what hangs off them: identities, events (timeline), merge log.

use crate::error::{StoreError, StoreResult};
use crate::schema::{account_members, erased_profiles, events, identities, loyalty_accounts, merges, profiles};
use crate::AnyConnection;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = profiles, treat_none_as_null = true, treat_none_as_default_value = false)]
pub struct ProfileRow {
    pub id: String,
    pub merged_into: Option<String>,
    pub user_id: Option<String>,
    pub traits: String,
    pub trait_times: String,
    pub channels: i64,
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub event_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Orders not fully refunded.
    pub orders_count: i64,
    /// Net revenue, minor units of the default currency.
    pub revenue_total: i64,
    pub margin_total: i64,
    pub first_order_at: Option<i64>,
    pub last_order_at: Option<i64>,
}

impl ProfileRow {
    /// A fresh profile first seen at `at`, created at `now`.
    pub fn new(id: String, at: i64, now: i64) -> ProfileRow {
        ProfileRow {
            id,
            merged_into: None,
            user_id: None,
            traits: "{}".into(),
            trait_times: "{}".into(),
            channels: 0,
            first_seen_at: at,
            last_seen_at: at,
            event_count: 0,
            created_at: now,
            updated_at: now,
            orders_count: 0,
            revenue_total: 0,
            margin_total: 0,
            first_order_at: None,
            last_order_at: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = identities, treat_none_as_default_value = false)]
pub struct IdentityRow {
    pub value: String,
    pub identity_type: String,
    pub profile_id: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = events, treat_none_as_default_value = false)]
pub struct EventRow {
    pub id: String,
    pub profile_id: String,
    pub source_key: String,
    pub source_id: Option<String>,
    pub message_id: Option<String>,
    pub event_type: String,
    pub name: Option<String>,
    pub channel: String,
    pub occurred_at: i64,
    pub received_at: i64,
    pub identities: String,
    pub traits: String,
    pub properties: String,
    pub context: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = merges, treat_none_as_default_value = false)]
pub struct MergeRow {
    pub id: String,
    pub kind: String,
    pub survivor_id: String,
    pub merged_id: String,
    pub identity_type: String,
    pub identity_value: String,
    pub event_id: Option<String>,
    pub created_at: i64,
}

/// A live profile with its identities.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub profile: ProfileRow,
    pub identities: Vec<IdentityRow>,
    /// Accounts (Segment groups) the person belongs to.
    pub accounts: Vec<String>,
    /// The loyalty account: (points balance, tier code), once the person earned.
    pub loyalty: Option<(i64, String)>,
}

/// A profile row, whether the person was erased, and their loyalty account (one query).
fn row(conn: &mut AnyConnection, id: &str) -> StoreResult<(ProfileRow, bool, Option<(i64, String)>)> {
    let (p, erased, balance, tier): (ProfileRow, Option<String>, Option<i64>, Option<String>) = crate::per_backend!(conn, |c| {
        profiles::table
            .left_join(erased_profiles::table)
            .left_join(loyalty_accounts::table)
            .filter(profiles::id.eq(id))
            .select((
                ProfileRow::as_select(),
                erased_profiles::profile_id.nullable(),
                loyalty_accounts::balance.nullable(),
                loyalty_accounts::tier_code.nullable(),
            ))
            .first(c)
    })?;
    Ok((p, erased.is_some(), balance.zip(tier)))
}

/// The live profile for an id: a merged-away id answers with its survivor.
pub fn resolve(conn: &mut AnyConnection, id: &str) -> StoreResult<ProfileRow> {
    Ok(resolve_with_loyalty(conn, id)?.0)
}

/// `resolve`, and the survivor's loyalty account, in the same query.
fn resolve_with_loyalty(conn: &mut AnyConnection, id: &str) -> StoreResult<(ProfileRow, Option<(i64, String)>)> {
    let (mut p, mut erased, mut loyalty) = row(conn, id)?;
    // merged_into always names the final survivor (chains are flattened on
    // merge), so one hop suffices; the bound only guards corrupt data.
    for _ in 0..8 {
        match p.merged_into.clone() {
            // An erased person is gone for every reader.
            None if erased => return Err(StoreError::NotFound),
            None => return Ok((p, loyalty)),
            Some(next) => (p, erased, loyalty) = row(conn, &next)?,
        }
    }
    Err(StoreError::Corrupt(format!("merge chain from {id} does not end")))
}

pub fn identities_of(conn: &mut AnyConnection, profile_id: &str) -> StoreResult<Vec<IdentityRow>> {
    Ok(crate::per_backend!(conn, |c| identities::table
        .filter(identities::profile_id.eq(profile_id))
        .order((identities::created_at.asc(), identities::identity_type.asc(), identities::value.asc()))
        .select(IdentityRow::as_select())
        .load(c))?)
}

pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<ProfileView> {
    let (profile, loyalty) = resolve_with_loyalty(conn, id)?;
    let identities = identities_of(conn, &profile.id)?;
    let accounts = crate::per_backend!(conn, |c| account_members::table
        .filter(account_members::profile_id.eq(&profile.id))
        .order(account_members::account_id.asc())
        .select(account_members::account_id)
        .load(c))?;
    Ok(ProfileView { profile, identities, accounts, loyalty })
}

/// Live profiles by id, in the order asked, in four queries whatever their
/// number (ids that are not live profiles are left out).
pub fn get_many(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<Vec<ProfileView>> {
    use std::collections::HashMap;
    let rows: Vec<ProfileRow> = profiles::table
        .filter(profiles::id.eq_any(ids))
        .filter(profiles::merged_into.is_null())
        .filter(diesel::dsl::not(profiles::id.eq_any(erased_profiles::table.select(erased_profiles::profile_id))))
        .select(ProfileRow::as_select())
        .load(conn)?;
    let mut idents: HashMap<String, Vec<IdentityRow>> = HashMap::new();
    for i in identities::table
        .filter(identities::profile_id.eq_any(ids))
        .order((identities::created_at.asc(), identities::identity_type.asc(), identities::value.asc()))
        .select(IdentityRow::as_select())
        .load::<IdentityRow>(conn)?
    {
        idents.entry(i.profile_id.clone()).or_default().push(i);
    }
    let mut accounts: HashMap<String, Vec<String>> = HashMap::new();
    for (a, p) in account_members::table
        .filter(account_members::profile_id.eq_any(ids))
        .order(account_members::account_id.asc())
        .select((account_members::account_id, account_members::profile_id))
        .load::<(String, String)>(conn)?
    {
        accounts.entry(p).or_default().push(a);
    }
    let mut loyalty: HashMap<String, (i64, String)> = crate::repo::loyalty::accounts_of(conn, ids)?;
    let mut by_id: HashMap<String, ProfileRow> = rows.into_iter().map(|r| (r.id.clone(), r)).collect();
    Ok(ids
        .iter()
        .filter_map(|id| {
            let profile = by_id.remove(id)?;
            Some(ProfileView {
                identities: idents.remove(id).unwrap_or_default(),
                accounts: accounts.remove(id).unwrap_or_default(),
                loyalty: loyalty.remove(id),
                profile,
            })
        })
        .collect())
}

/// The profile holding a (normalised) identity.
pub fn lookup(conn: &mut AnyConnection, kind: &str, value: &str) -> StoreResult<ProfileView> {
    let owner: String = crate::per_backend!(conn, |c| identities::table
        .filter(identities::value.eq(value))
        .filter(identities::identity_type.eq(kind))
        .select(identities::profile_id)
        .first(c))?;
    get(conn, &owner)
}

/// A position in a timeline: events strictly older than it come next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimelineCursor {
    pub occurred_at: i64,
    pub id: String,
}

/// A page of a profile's events, newest first, and the cursor to the next.
pub fn timeline(
    conn: &mut AnyConnection,
    profile_id: &str,
    channel: Option<&str>,
    after: Option<&TimelineCursor>,
    limit: i64,
) -> StoreResult<(Vec<EventRow>, Option<TimelineCursor>)> {
    let mut q = events::table.filter(events::profile_id.eq(profile_id)).into_boxed();
    if let Some(ch) = channel {
        q = q.filter(events::channel.eq(ch.to_string()));
    }
    if let Some(c) = after {
        q = q.filter(events::occurred_at.lt(c.occurred_at).or(events::occurred_at.eq(c.occurred_at).and(events::id.lt(c.id.clone()))));
    }
    let mut rows: Vec<EventRow> =
        q.order((events::occurred_at.desc(), events::id.desc())).limit(limit + 1).select(EventRow::as_select()).load(conn)?;
    let next = super::page_end(&mut rows, limit, |e| TimelineCursor { occurred_at: e.occurred_at, id: e.id.clone() });
    Ok((rows, next))
}

/// Every merge that built this profile (including merges into profiles it
/// later absorbed) and every refused merge that involved it, oldest first.
pub fn merge_log(conn: &mut AnyConnection, profile_id: &str) -> StoreResult<Vec<MergeRow>> {
    let mut ids: Vec<String> = profiles::table.filter(profiles::merged_into.eq(profile_id)).select(profiles::id).load(conn)?;
    ids.push(profile_id.to_string());
    Ok(merges::table
        .filter(merges::survivor_id.eq_any(&ids).or(merges::kind.eq("conflict").and(merges::merged_id.eq(profile_id))))
        .order((merges::created_at.asc(), merges::id.asc()))
        .select(MergeRow::as_select())
        .load(conn)?)
}

/// How many live profiles there are (merged-away ones excluded).
pub fn count_live(conn: &mut AnyConnection) -> StoreResult<i64> {
    Ok(profiles::table
        .filter(profiles::merged_into.is_null())
        .filter(diesel::dsl::not(profiles::id.eq_any(erased_profiles::table.select(erased_profiles::profile_id))))
        .count()
        .get_result(conn)?)
}
