//! Segments: rules compiled to SQL for each backend and evaluated in the
//! database, membership kept as periods (entered_at, exited_at).
//!
//! A rule becomes one boolean expression over `profiles p`; every literal is
//! a bound parameter. Trait and property keys are inlined, which is safe
//! because the rule parser admits only `[A-Za-z0-9_.]` in them.

use crate::error::StoreResult;
use crate::schema::{segment_members, segment_versions, segments};
use crate::AnyConnection;
use cdp_domain::segment::Rule;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Double, Nullable, Text};
use diesel::sqlite::Sqlite;

mod sql;

pub use sql::{compile, Compiled, Dialect, EvalContext, Param};
use sql::{select, Writer};

macro_rules! bound {
    ($db:ty, $sql:expr, $params:expr) => {{
        let mut q = diesel::sql_query($sql).into_boxed::<$db>();
        for p in $params {
            q = match p {
                Param::Text(s) => q.bind::<Text, _>(s.clone()),
                Param::Int(i) => q.bind::<BigInt, _>(*i),
                Param::Float(f) => q.bind::<Double, _>(*f),
            };
        }
        q
    }};
}

/// Runs a statement with bound parameters.
fn execute(conn: &mut AnyConnection, sql: &str, params: &[Param]) -> QueryResult<usize> {
    match conn {
        AnyConnection::Sqlite(c) => bound!(Sqlite, sql, params).execute(c),
        AnyConnection::Postgresql(c) => bound!(Pg, sql, params).execute(c),
    }
}

fn load<T>(conn: &mut AnyConnection, sql: &str, params: &[Param]) -> QueryResult<Vec<T>>
where
    T: QueryableByName<Sqlite> + QueryableByName<Pg> + 'static,
{
    match conn {
        AnyConnection::Sqlite(c) => bound!(Sqlite, sql, params).load(c),
        AnyConnection::Postgresql(c) => bound!(Pg, sql, params).load(c),
    }
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(Debug, Clone, QueryableByName)]
pub struct MemberRow {
    #[diesel(sql_type = Text)]
    pub profile_id: String,
    #[diesel(sql_type = BigInt)]
    pub entered_at: i64,
    #[diesel(sql_type = Nullable<BigInt>)]
    pub exited_at: Option<i64>,
}

/// How many live profiles a rule matches now, without storing anything.
pub fn count(conn: &mut AnyConnection, rule: &Rule, ctx: EvalContext) -> StoreResult<i64> {
    let c = select(Dialect::of(conn), "COUNT(*) AS n", rule, ctx);
    Ok(load::<Count>(conn, &c.expr, &c.params)?.first().map_or(0, |c| c.n))
}

pub use cdp_app::store::RefreshOutcome;

/// Re-evaluates a segment in the database and records who entered and who
/// left. Call inside a write transaction holding the segment's row (`lock`):
/// a refresh is the only writer of its segment's membership periods, which
/// is what keeps one current period per member. `now` must exceed the
/// segment's previous refresh time (callers pass `max(now, previous + 1)`).
pub fn refresh(conn: &mut AnyConnection, segment: &str, rule: &Rule, ctx: EvalContext, now: i64) -> StoreResult<RefreshOutcome> {
    let d = Dialect::of(conn);
    let sel = select(d, "p.id AS profile_id", rule, ctx);
    let mut w = Writer::params_only(d);
    let (seg, at) = (w.bind(Param::Text(segment.to_string())), w.bind(Param::Int(now)));
    let (seg_at, seg_only) = (w.into_params(), [Param::Text(segment.to_string())]);
    let has_members = !load::<Count>(
        conn,
        &format!("SELECT CAST(1 AS BIGINT) AS n FROM segment_members WHERE segment_id = {seg} AND exited_at IS NULL LIMIT 1"),
        &seg_only,
    )?
    .is_empty();
    let size = match d {
        Dialect::Sqlite => {
            execute(conn, "CREATE TEMP TABLE IF NOT EXISTS seg_eval (profile_id TEXT PRIMARY KEY NOT NULL)", &[])?;
            execute(conn, "DELETE FROM seg_eval", &[])?;
            execute(conn, &format!("INSERT INTO seg_eval (profile_id) {}", sel.expr), &sel.params)? as i64
        }
        Dialect::Postgres => {
            // CREATE TABLE AS may run its query in parallel; INSERT … SELECT may not.
            // Workers hand the leader one narrow id per member; at the default
            // cost per tuple the planner keeps a 557k-member query serial
            // (2.0 s where two processes take 1.2 s).
            execute(conn, "SET LOCAL parallel_tuple_cost = 0.001", &[])?;
            let n = execute(conn, &format!("CREATE TEMP TABLE seg_eval ON COMMIT DROP AS {}", sel.expr), &sel.params)? as i64;
            if has_members {
                execute(conn, "CREATE UNIQUE INDEX ON seg_eval (profile_id)", &[])?;
                execute(conn, "ANALYZE seg_eval", &[])?;
            }
            n
        }
    };
    // Into an empty segment everyone enters: no one to compare with.
    let (exited, entered) = if has_members {
        let exited = execute(
            conn,
            &format!(
                "UPDATE segment_members SET exited_at = {at} WHERE segment_id = {seg} AND exited_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM seg_eval s WHERE s.profile_id = segment_members.profile_id)"
            ),
            &seg_at,
        )? as i64;
        let entered = execute(
            conn,
            &format!(
                "INSERT INTO segment_members (segment_id, profile_id, entered_at, exited_at) \
                 SELECT {seg}, s.profile_id, {at}, NULL FROM seg_eval s WHERE NOT EXISTS \
                 (SELECT 1 FROM segment_members m WHERE m.segment_id = {seg} AND m.profile_id = s.profile_id AND m.exited_at IS NULL) \
                 ORDER BY s.profile_id"
            ),
            &seg_at,
        )? as i64;
        (exited, entered)
    } else {
        let sql = format!(
            "INSERT INTO segment_members (segment_id, profile_id, entered_at, exited_at) \
             SELECT {seg}, s.profile_id, {at}, NULL FROM seg_eval s ORDER BY s.profile_id"
        );
        (0, execute(conn, &sql, &seg_at)? as i64)
    };
    if d == Dialect::Sqlite {
        execute(conn, "DELETE FROM seg_eval", &[])?;
    }
    diesel::update(segments::table.find(segment))
        .set((
            segments::size.eq(size),
            segments::entered.eq(entered),
            segments::exited.eq(exited),
            segments::refreshed_at.eq(now),
            segments::as_of.eq(ctx.as_of),
        ))
        .execute(conn)?;
    if entered + exited > 0 {
        crate::repo::outbox::segment_changes(conn, segment, now)?;
    }
    Ok(RefreshOutcome { size, entered, exited, at: now })
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = segments)]
pub struct SegmentRow {
    pub id: String,
    pub name: String,
    pub description: String,
    pub rule: String,
    pub version: i32,
    pub size: i64,
    pub entered: i64,
    pub exited: i64,
    pub refreshed_at: Option<i64>,
    pub as_of: Option<i64>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// Refreshed by the server every so many minutes (none: on request only).
    pub refresh_every_minutes: Option<i32>,
}

pub fn create(conn: &mut AnyConnection, row: &SegmentRow) -> StoreResult<()> {
    diesel::insert_into(segments::table).values(row).execute(conn)?;
    add_version(conn, &row.id, row.version, &row.rule, &row.created_by, row.created_at)
}

fn add_version(conn: &mut AnyConnection, id: &str, version: i32, rule: &str, actor: &str, at: i64) -> StoreResult<()> {
    diesel::insert_into(segment_versions::table)
        .values((
            segment_versions::segment_id.eq(id),
            segment_versions::version.eq(version),
            segment_versions::rule.eq(rule),
            segment_versions::created_by.eq(actor),
            segment_versions::created_at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<SegmentRow> {
    Ok(segments::table.find(id).select(SegmentRow::as_select()).first(conn)?)
}

/// The segment, locked against concurrent refreshes until the transaction ends.
pub fn lock(conn: &mut AnyConnection, id: &str) -> StoreResult<SegmentRow> {
    let n = diesel::update(segments::table.find(id)).set(segments::updated_at.eq(segments::updated_at)).execute(conn)?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    get(conn, id)
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<SegmentRow>> {
    Ok(segments::table.order((segments::created_at.asc(), segments::id.asc())).select(SegmentRow::as_select()).load(conn)?)
}

/// Replaces name, description and rule; a changed rule becomes a new version.
pub fn update(conn: &mut AnyConnection, id: &str, edit: &cdp_app::store::SegmentEdit, actor: &str, now: i64) -> StoreResult<SegmentRow> {
    let cdp_app::store::SegmentEdit { name, description, rule, refresh_every_minutes } = *edit;
    let cur = lock(conn, id)?;
    let version = if cur.rule == rule { cur.version } else { cur.version + 1 };
    if version != cur.version {
        add_version(conn, id, version, rule, actor, now)?;
    }
    diesel::update(segments::table.find(id))
        .set((
            segments::name.eq(name),
            segments::description.eq(description),
            segments::rule.eq(rule),
            segments::version.eq(version),
            segments::updated_at.eq(now),
            segments::refresh_every_minutes.eq(refresh_every_minutes),
        ))
        .execute(conn)?;
    get(conn, id)
}

pub fn delete(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    diesel::delete(segment_members::table.filter(segment_members::segment_id.eq(id))).execute(conn)?;
    diesel::delete(segment_versions::table.filter(segment_versions::segment_id.eq(id))).execute(conn)?;
    let n = diesel::delete(segments::table.find(id)).execute(conn)?;
    if n == 0 {
        return Err(crate::StoreError::NotFound);
    }
    Ok(())
}

/// Every version of the rule: (version, rule, created_by, created_at), oldest first.
pub fn versions(conn: &mut AnyConnection, id: &str) -> StoreResult<Vec<(i32, String, String, i64)>> {
    Ok(segment_versions::table
        .filter(segment_versions::segment_id.eq(id))
        .order(segment_versions::version.asc())
        .select((segment_versions::version, segment_versions::rule, segment_versions::created_by, segment_versions::created_at))
        .load(conn)?)
}

pub use cdp_app::store::MemberFilter;

/// A page of current members of a live profile, by profile id; the consent
/// filter is applied at read time, so a withdrawal counts at once.
pub fn members(conn: &mut AnyConnection, segment: &str, f: &MemberFilter, limit: i64) -> StoreResult<(Vec<MemberRow>, Option<String>)> {
    let mut w = Writer::params_only(Dialect::of(conn));
    let mut sql = format!(
        "SELECT m.profile_id, m.entered_at, m.exited_at FROM segment_members m JOIN profiles p ON p.id = m.profile_id \
         WHERE m.segment_id = {} AND m.exited_at IS NULL AND p.merged_into IS NULL AND NOT EXISTS (SELECT 1 FROM erased_profiles x WHERE x.profile_id = p.id)",
        w.bind(Param::Text(segment.to_string()))
    );
    if let Some(ch) = &f.consent {
        let purpose = f.purpose.clone().unwrap_or_else(|| cdp_domain::consent::DEFAULT_PURPOSE.to_string());
        sql += &format!(
            " AND EXISTS (SELECT 1 FROM consent_state cs WHERE cs.profile_id = m.profile_id AND cs.channel = {} AND cs.purpose = {} \
             AND cs.status = 'granted')",
            w.bind(Param::Text(ch.clone())),
            w.bind(Param::Text(purpose))
        );
    }
    if let Some(t) = f.entered_since {
        sql += &format!(" AND m.entered_at > {}", w.bind(Param::Int(t)));
    }
    if let Some(a) = &f.after {
        sql += &format!(" AND m.profile_id > {}", w.bind(Param::Text(a.clone())));
    }
    sql += &format!(" ORDER BY m.profile_id LIMIT {}", w.bind(Param::Int(limit + 1)));
    let mut rows: Vec<MemberRow> = load(conn, &sql, &w.into_params())?;
    let next = super::page_end(&mut rows, limit, |r| r.profile_id.clone());
    Ok((rows, next))
}

/// Membership periods that began or ended after `since`, by (profile
/// id, entered_at), after the cursor.
pub fn changes(
    conn: &mut AnyConnection,
    segment: &str,
    since: i64,
    after: Option<(String, i64)>,
    limit: i64,
) -> StoreResult<crate::repo::Page<MemberRow, (String, i64)>> {
    let mut q = segment_members::table
        .filter(segment_members::segment_id.eq(segment))
        .filter(segment_members::entered_at.gt(since).or(segment_members::exited_at.gt(since)))
        .into_boxed();
    if let Some((pid, at)) = after {
        q = q.filter(
            segment_members::profile_id.gt(pid.clone()).or(segment_members::profile_id.eq(pid).and(segment_members::entered_at.gt(at))),
        );
    }
    let mut rows: Vec<MemberRow> = q
        .order((segment_members::profile_id.asc(), segment_members::entered_at.asc()))
        .limit(limit + 1)
        .select((segment_members::profile_id, segment_members::entered_at, segment_members::exited_at))
        .load::<(String, i64, Option<i64>)>(conn)?
        .into_iter()
        .map(|(profile_id, entered_at, exited_at)| MemberRow { profile_id, entered_at, exited_at })
        .collect();
    let next = super::page_end(&mut rows, limit, |r| (r.profile_id.clone(), r.entered_at));
    Ok((rows, next))
}
