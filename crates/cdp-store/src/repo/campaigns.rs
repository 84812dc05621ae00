//! Campaigns with a holdout: the snapshot of members and their groups, the
//! assignment export and the goal events behind the results. Members keep
//! the profile id they had at the snapshot; reads follow it to its survivor.

use crate::error::StoreResult;
use crate::schema::{campaign_members, campaigns, profiles};
use crate::AnyConnection;
use cdp_app::store::{AssignmentFilter, CampaignRow as Campaign};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = campaigns)]
pub struct CampaignRow {
    pub id: String,
    pub name: String,
    pub segment_id: String,
    pub holdout_bp: i32,
    pub goal_event: String,
    pub window_days: i32,
    pub starts_at: i64,
    pub size: i64,
    pub control_size: i64,
    pub created_at: i64,
}

impl From<CampaignRow> for Campaign {
    fn from(r: CampaignRow) -> Self {
        Campaign {
            id: r.id,
            name: r.name,
            segment_id: r.segment_id,
            holdout_bp: r.holdout_bp,
            goal_event: r.goal_event,
            window_days: r.window_days,
            starts_at: r.starts_at,
            size: r.size,
            control_size: r.control_size,
            created_at: r.created_at,
        }
    }
}

impl From<&Campaign> for CampaignRow {
    fn from(r: &Campaign) -> Self {
        CampaignRow {
            id: r.id.clone(),
            name: r.name.clone(),
            segment_id: r.segment_id.clone(),
            holdout_bp: r.holdout_bp,
            goal_event: r.goal_event.clone(),
            window_days: r.window_days,
            starts_at: r.starts_at,
            size: r.size,
            control_size: r.control_size,
            created_at: r.created_at,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = campaign_members)]
struct MemberRow<'a> {
    campaign_id: &'a str,
    profile_id: &'a str,
    grp: &'a str,
}

pub fn add(conn: &mut AnyConnection, row: &Campaign) -> StoreResult<()> {
    crate::per_backend!(conn, |c| diesel::insert_into(campaigns::table).values(CampaignRow::from(row)).execute(c))?;
    Ok(())
}

pub fn add_members(conn: &mut AnyConnection, campaign: &str, members: &[(String, &'static str)]) -> StoreResult<()> {
    let rows: Vec<MemberRow> = members.iter().map(|(p, g)| MemberRow { campaign_id: campaign, profile_id: p, grp: g }).collect();
    // PostgreSQL: one statement over arrays per call (10,000 members), not 20 multi-row VALUES lists.
    crate::insert_unnest!(&mut *conn, "campaign_members", &rows, [
        "campaign_id": Text = |r| r.campaign_id,
        "profile_id": Text = |r| r.profile_id,
        "grp": Text = |r| r.grp,
    ])?;
    Ok(())
}

pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<Campaign> {
    let row: CampaignRow = campaigns::table.find(id).select(CampaignRow::as_select()).first(conn)?;
    Ok(row.into())
}

pub fn list(conn: &mut AnyConnection, before: Option<(i64, String)>, limit: i64) -> StoreResult<crate::repo::Page<Campaign>> {
    let mut q = campaigns::table.select(CampaignRow::as_select()).into_boxed();
    if let Some((at, id)) = before {
        q = q.filter(campaigns::created_at.lt(at).or(campaigns::created_at.eq(at).and(campaigns::id.lt(id))));
    }
    let mut rows: Vec<CampaignRow> = q.order((campaigns::created_at.desc(), campaigns::id.desc())).limit(limit + 1).load(conn)?;
    let next = crate::repo::page_end(&mut rows, limit, |r| (r.created_at, r.id.clone()));
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

#[derive(QueryableByName)]
struct Member {
    #[diesel(sql_type = Text)]
    profile_id: String,
    #[diesel(sql_type = Text)]
    live: String,
    #[diesel(sql_type = Text)]
    grp: String,
}

/// One statement text for every filter (an empty parameter switches a
/// filter off), so that it is prepared once; SQLite takes `$n` as numbered parameters.
const MEMBERS: &str = "SELECT m.profile_id, COALESCE(p.merged_into, p.id) AS live, m.grp \
    FROM campaign_members m JOIN profiles p ON p.id = m.profile_id \
    WHERE m.campaign_id = $1 AND m.profile_id > $2 AND ($3 = '' OR m.grp = $3) \
      AND ($4 = '' OR EXISTS (SELECT 1 FROM consent_state s WHERE s.profile_id = COALESCE(p.merged_into, p.id) \
           AND s.channel = $4 AND s.purpose = $5 AND s.status = 'granted')) \
      AND NOT EXISTS (SELECT 1 FROM erased_profiles x WHERE x.profile_id = COALESCE(p.merged_into, p.id)) \
    ORDER BY m.profile_id LIMIT $6";

pub fn members(
    conn: &mut AnyConnection,
    campaign: &str,
    f: &AssignmentFilter,
    limit: i64,
) -> StoreResult<crate::repo::Page<(String, String, String), String>> {
    let (channel, purpose) = f.consent.clone().unwrap_or_default();
    let mut rows: Vec<Member> = crate::per_backend!(&mut *conn, |c| diesel::sql_query(MEMBERS)
        .bind::<Text, _>(campaign)
        .bind::<Text, _>(f.after.as_deref().unwrap_or(""))
        .bind::<Text, _>(f.group.as_deref().unwrap_or(""))
        .bind::<Text, _>(&channel)
        .bind::<Text, _>(&purpose)
        .bind::<BigInt, _>(limit + 1)
        .load(c))?;
    let next = crate::repo::page_end(&mut rows, limit, |r| r.profile_id.clone());
    Ok((rows.into_iter().map(|m| (m.profile_id, m.live, m.grp)).collect(), next))
}

#[derive(QueryableByName)]
struct Goal {
    #[diesel(sql_type = Text)]
    profile_id: String,
    #[diesel(sql_type = Nullable<Text>)]
    merged_into: Option<String>,
    #[diesel(sql_type = Text)]
    grp: String,
    #[diesel(sql_type = Nullable<Text>)]
    revenue: Option<String>,
}

/// The goal events of each member's live profile in the window, with the
/// `revenue` property as text.
pub fn for_each_goal_event(
    conn: &mut AnyConnection,
    campaign: &str,
    event: &str,
    from: i64,
    to: i64,
    f: &mut cdp_app::store::GoalVisitor<'_>,
) -> StoreResult<()> {
    let revenue = match conn {
        AnyConnection::Postgresql(_) => "(e.properties::json ->> 'revenue')",
        AnyConnection::Sqlite(_) => "CAST(json_extract(e.properties, '$.revenue') AS TEXT)",
    };
    let sql = format!(
        "SELECT m.profile_id, p.merged_into, m.grp, {revenue} AS revenue \
         FROM campaign_members m JOIN profiles p ON p.id = m.profile_id \
         JOIN events e ON e.profile_id = COALESCE(p.merged_into, p.id) \
         WHERE m.campaign_id = $1 AND e.name = $2 AND e.occurred_at >= $3 AND e.occurred_at <= $4"
    );
    let rows: Vec<Goal> = crate::per_backend!(&mut *conn, |c| diesel::sql_query(&sql)
        .bind::<Text, _>(campaign)
        .bind::<Text, _>(event)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to)
        .load(c))?;
    for g in &rows {
        f(&g.profile_id, g.merged_into.as_deref().unwrap_or(&g.profile_id), &g.grp, g.revenue.as_deref());
    }
    Ok(())
}

/// The campaigns a live profile (or one merged into it) belongs to: (campaign id, name, group).
pub fn of_profile(conn: &mut AnyConnection, live: &str) -> StoreResult<Vec<(String, String, String)>> {
    Ok(campaign_members::table
        .inner_join(profiles::table.on(profiles::id.eq(campaign_members::profile_id)))
        .inner_join(campaigns::table.on(campaigns::id.eq(campaign_members::campaign_id)))
        .filter(profiles::id.eq(live).or(profiles::merged_into.eq(live)))
        .order(campaigns::created_at.asc())
        .select((campaigns::id, campaigns::name, campaign_members::grp))
        .load(conn)?)
}
