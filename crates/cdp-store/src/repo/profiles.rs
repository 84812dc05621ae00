//! Profiles and what hangs off them: identities, events (timeline), merge log.

use crate::error::{StoreError, StoreResult};
use crate::schema::{account_members, erased_profiles, events, identities, loyalty_accounts, merges, profiles};
use crate::AnyConnection;
use cdp_domain::profile::Totals;
use diesel::prelude::*;

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable, AsChangeset)]
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
    /// Values held per identifier type, JSON (`{"email":2}`).
    pub identity_counts: String,
}

impl ProfileRow {
    /// The running totals the row holds.
    pub fn totals(&self) -> Totals {
        Totals {
            channels: self.channels,
            first_seen_at: self.first_seen_at,
            last_seen_at: self.last_seen_at,
            event_count: self.event_count,
            orders_count: self.orders_count,
            revenue_total: self.revenue_total,
            margin_total: self.margin_total,
            first_order_at: self.first_order_at,
            last_order_at: self.last_order_at,
        }
    }

    pub fn set_totals(&mut self, t: Totals) {
        self.channels = t.channels;
        self.first_seen_at = t.first_seen_at;
        self.last_seen_at = t.last_seen_at;
        self.event_count = t.event_count;
        self.orders_count = t.orders_count;
        self.revenue_total = t.revenue_total;
        self.margin_total = t.margin_total;
        self.first_order_at = t.first_order_at;
        self.last_order_at = t.last_order_at;
    }

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
            identity_counts: "{}".into(),
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
    /// Identities carried that never link (blocked, placeholders): JSON array.
    pub blocked_identities: Option<String>,
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
    /// Why a conflict linked nothing (`limit`…).
    pub reason: Option<String>,
    /// When the merge was undone.
    pub undone_at: Option<i64>,
    /// What the merge knew of both sides (their loyalty tiers), JSON.
    pub detail: Option<String>,
}

/// A live profile with its identities.
#[derive(Debug, Clone)]
pub struct ProfileView {
    pub profile: ProfileRow,
    pub identities: Vec<IdentityRow>,
    /// Accounts (Segment groups) the person belongs to.
    pub accounts: Vec<String>,
    /// The loyalty account, once the person earned.
    pub loyalty: Option<Loyalty>,
}

pub use cdp_app::store::Loyalty;

/// A profile row, whether the person was erased, and their loyalty account (one query).
fn row(conn: &mut AnyConnection, id: &str) -> StoreResult<(ProfileRow, bool, Option<Loyalty>)> {
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

/// The live profile view for an id (a merged-away id answers with its
/// survivor), in one statement but for a merge chain caught half-flattened
/// (then step by step, as `get_by_statements`).
pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<ProfileView> {
    match view(conn, Target::Id(id))? {
        Some(v) => Ok(v),
        None => get_by_statements(conn, id),
    }
}

/// `get` in one statement per step (the merge chain followed hop by hop):
/// for a chain that `view` did not see end in one hop.
fn get_by_statements(conn: &mut AnyConnection, id: &str) -> StoreResult<ProfileView> {
    let (profile, loyalty) = resolve_with_loyalty(conn, id)?;
    let identities = identities_of(conn, &profile.id)?;
    let accounts = crate::per_backend!(conn, |c| account_members::table
        .filter(account_members::profile_id.eq(&profile.id))
        .order(account_members::account_id.asc())
        .select(account_members::account_id)
        .load(c))?;
    Ok(ProfileView { profile, identities, accounts, loyalty })
}

/// Whose view `view` reads: a profile id, or the holder of an identity (type, value).
enum Target<'a> {
    Id(&'a str),
    Identity(&'a str, &'a str),
}

/// A profile view as one row: the profile, whether it was erased, its
/// loyalty account, and its identities and accounts as JSON arrays.
#[derive(QueryableByName)]
struct ViewRow {
    #[diesel(embed)]
    profile: ProfileRow,
    #[diesel(sql_type = diesel::sql_types::Bool)]
    erased: bool,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    balance: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    tier_code: Option<String>,
    /// `[[value, type, created_at], …]`
    #[diesel(sql_type = diesel::sql_types::Text)]
    identity_list: String,
    /// `[account_id, …]`
    #[diesel(sql_type = diesel::sql_types::Text)]
    account_list: String,
}

/// The statement of `view`: PostgreSQL or SQLite (their JSON aggregates
/// differ), by id or by identity.
fn view_sql(postgres: bool, by_identity: bool) -> String {
    let (list, pairs, text) = if postgres { ("json_agg", "json_build_array", "::text") } else { ("json_group_array", "json_array", "") };
    let target = if by_identity {
        "SELECT COALESCE(o.merged_into, o.id) FROM identities i JOIN profiles o ON o.id = i.profile_id \
         WHERE i.value = $1 AND i.identity_type = $2"
    } else {
        "SELECT COALESCE(o.merged_into, o.id) FROM profiles o WHERE o.id = $1"
    };
    format!(
        "SELECT p.id, p.merged_into, p.user_id, p.traits, p.trait_times, p.channels, p.first_seen_at, p.last_seen_at, \
         p.event_count, p.created_at, p.updated_at, p.orders_count, p.revenue_total, p.margin_total, p.first_order_at, \
         p.last_order_at, p.identity_counts, e.profile_id IS NOT NULL AS erased, l.balance, l.tier_code, \
         COALESCE((SELECT {list}({pairs}(i.value, i.identity_type, i.created_at)) FROM identities i \
         WHERE i.profile_id = p.id){text}, '[]') AS identity_list, \
         COALESCE((SELECT {list}(a.account_id) FROM account_members a WHERE a.profile_id = p.id){text}, '[]') AS account_list \
         FROM profiles p LEFT JOIN erased_profiles e ON e.profile_id = p.id \
         LEFT JOIN loyalty_accounts l ON l.profile_id = p.id WHERE p.id = ({target})"
    )
}

/// The live profile view for a target in one statement — one round trip on
/// PostgreSQL where the view took four, and on SQLite one snapshot without
/// a transaction around it. The merge pointer is followed one hop (it always
/// names the final survivor); `None` when the row found was itself merged
/// away (a chain that a concurrent merge has not flattened yet), for the
/// caller to follow step by step.
fn view(conn: &mut AnyConnection, target: Target<'_>) -> StoreResult<Option<ProfileView>> {
    use diesel::sql_types::Text;
    use std::sync::LazyLock;
    static SQL: LazyLock<[String; 4]> =
        LazyLock::new(|| [view_sql(true, false), view_sql(true, true), view_sql(false, false), view_sql(false, true)]);
    let postgres = matches!(conn, AnyConnection::Postgresql(_));
    let text = |by_identity: bool| SQL[usize::from(!postgres) * 2 + usize::from(by_identity)].as_str();
    let rows: Vec<ViewRow> = match target {
        Target::Id(id) => crate::per_backend!(conn, |c| crate::cached!(text(false)).bind::<Text, _>(id).load(c))?,
        Target::Identity(kind, value) => {
            crate::per_backend!(conn, |c| crate::cached!(text(true)).bind::<Text, _>(value).bind::<Text, _>(kind).load(c))?
        }
    };
    let Some(row) = rows.into_iter().next() else { return Err(StoreError::NotFound) };
    if row.profile.merged_into.is_some() {
        return Ok(None);
    }
    if row.erased {
        // An erased person is gone for every reader.
        return Err(StoreError::NotFound);
    }
    let mut identities: Vec<IdentityRow> = serde_json::from_str::<Vec<(String, String, i64)>>(&row.identity_list)?
        .into_iter()
        .map(|(value, identity_type, created_at)| IdentityRow { value, identity_type, profile_id: row.profile.id.clone(), created_at })
        .collect();
    identities.sort_by(|a, b| (a.created_at, &a.identity_type, &a.value).cmp(&(b.created_at, &b.identity_type, &b.value)));
    let mut accounts: Vec<String> = serde_json::from_str(&row.account_list)?;
    accounts.sort_unstable();
    Ok(Some(ProfileView { profile: row.profile, identities, accounts, loyalty: row.balance.zip(row.tier_code) }))
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
    if let Some(v) = view(conn, Target::Identity(kind, value))? {
        return Ok(v);
    }
    let owner: String = crate::per_backend!(conn, |c| identities::table
        .filter(identities::value.eq(value))
        .filter(identities::identity_type.eq(kind))
        .select(identities::profile_id)
        .first(c))?;
    get(conn, &owner)
}

pub use cdp_app::store::TimelineCursor;

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
/// later absorbed), every entry naming it as the other side (refusals, its
/// own merge into another and that merge's undo), oldest first.
pub fn merge_log(conn: &mut AnyConnection, profile_id: &str) -> StoreResult<Vec<MergeRow>> {
    let mut ids: Vec<String> = profiles::table.filter(profiles::merged_into.eq(profile_id)).select(profiles::id).load(conn)?;
    ids.push(profile_id.to_string());
    Ok(merges::table
        .filter(merges::survivor_id.eq_any(&ids).or(merges::merged_id.eq(profile_id)))
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

/// Who deliveries are about (see `OutboxStore::subjects`): merges followed a hop at a time for the whole
/// batch, then the identities of those found; three statements of one
/// text each (`in_list`), whatever the batch's size.
pub fn subjects(conn: &mut AnyConnection, ids: &[String]) -> StoreResult<std::collections::HashMap<String, cdp_app::store::Subject>> {
    use crate::in_list::in_list;
    use crate::schema::{erased_profiles, identities, profiles};
    let mut found: std::collections::HashMap<String, (Option<String>, String)> = std::collections::HashMap::new();
    let mut ask: Vec<String> = ids.to_vec();
    ask.sort_unstable();
    ask.dedup();
    // A chain of merges is as long as the merges made one into another: a few hops.
    for _ in 0..MAX_HOPS {
        if ask.is_empty() {
            break;
        }
        let rows: Vec<(String, Option<String>, String)> = profiles::table
            .filter(in_list(profiles::id, &ask))
            .select((profiles::id, profiles::merged_into, profiles::traits))
            .load(conn)?;
        ask.clear();
        for (id, into, traits) in rows {
            if let Some(next) = into.as_ref().filter(|n| !found.contains_key(*n)) {
                ask.push(next.clone());
            }
            found.insert(id, (into, traits));
        }
        ask.sort_unstable();
        ask.dedup();
    }
    let live_of = |id: &str| -> Option<String> {
        let mut at = id;
        for _ in 0..MAX_HOPS {
            match found.get(at)? {
                (Some(next), _) => at = next,
                (None, _) => return Some(at.to_string()),
            }
        }
        None
    };
    let asked: Vec<(String, String)> = ids.iter().filter_map(|id| live_of(id).map(|live| (id.clone(), live))).collect();
    let mut live: Vec<String> = asked.iter().map(|(_, l)| l.clone()).collect();
    live.sort_unstable();
    live.dedup();
    let erased: std::collections::HashSet<String> = erased_profiles::table
        .filter(in_list(erased_profiles::profile_id, &live))
        .select(erased_profiles::profile_id)
        .load::<String>(conn)?
        .into_iter()
        .collect();
    let mut idents: std::collections::HashMap<String, Vec<(String, String)>> = std::collections::HashMap::new();
    for (p, t, v) in identities::table
        .filter(in_list(identities::profile_id, &live))
        .order((identities::created_at.asc(), identities::identity_type.asc(), identities::value.asc()))
        .select((identities::profile_id, identities::identity_type, identities::value))
        .load::<(String, String, String)>(conn)?
    {
        idents.entry(p).or_default().push((t, v));
    }
    Ok(asked
        .into_iter()
        .filter(|(_, live)| !erased.contains(live))
        .map(|(id, live)| {
            let subject = cdp_app::store::Subject {
                traits: found.get(&live).map(|(_, t)| t.clone()).unwrap_or_default(),
                identities: idents.get(&live).cloned().unwrap_or_default(),
                profile_id: live,
            };
            (id, subject)
        })
        .collect())
}

/// The longest chain of merges `subjects` follows.
const MAX_HOPS: usize = 64;
