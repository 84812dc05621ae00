//! Destinations and the outbox: deliveries written in the transaction of
//! their fact, leased by delivery workers (`FOR UPDATE SKIP LOCKED` on
//! PostgreSQL, so that processes sharing the database never wait on each
//! other's rows), and the runs of scheduled work.

use crate::error::StoreResult;
use crate::schema::{deliveries, destinations, job_runs, segment_members};
use crate::AnyConnection;
use cdp_app::store::Fact;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use std::cell::Cell;
use std::collections::HashSet;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = destinations, treat_none_as_null = true)]
pub struct DestinationRow {
    pub id: String,
    pub name: String,
    pub url: String,
    pub secret: String,
    pub events: String,
    pub segment_ids: String,
    pub consent_channel: Option<String>,
    pub consent_purpose: Option<String>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = deliveries, treat_none_as_default_value = false)]
pub struct DeliveryRow {
    pub id: String,
    pub destination_id: String,
    pub event_type: String,
    pub profile_id: String,
    pub data: String,
    pub occurred_at: i64,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub body: Option<String>,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = job_runs)]
pub struct JobRunRow {
    pub id: String,
    pub job: String,
    pub slot: i64,
    pub status: String,
    pub detail: Option<String>,
    pub started_at: i64,
    pub finished_at: Option<i64>,
}

thread_local! {
    /// Whether the transaction running on this thread wrote deliveries.
    static ENQUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the transaction that just ended on this thread wrote deliveries
/// (and forget it): `Db::write` wakes the delivery workers after such a commit.
pub fn take_enqueued() -> bool {
    ENQUEUED.with(|e| e.replace(false))
}

/// The segment a `segment.entered` / `segment.exited` fact is about.
fn segment_of(fact: &Fact) -> Option<String> {
    let data: serde_json::Value = serde_json::from_str(&fact.data).ok()?;
    data.get("segment_id")?.as_str().map(str::to_string)
}

/// The enabled destinations: (id, events, segment ids), JSON lists.
fn subscribers(conn: &mut AnyConnection) -> StoreResult<Vec<(String, String, String)>> {
    Ok(destinations::table
        .filter(destinations::enabled.eq(true))
        .select((destinations::id, destinations::events, destinations::segment_ids))
        .load(conn)?)
}

/// See `OutboxStore::enqueue`.
pub fn enqueue(conn: &mut AnyConnection, facts: &[Fact], now: i64) -> StoreResult<usize> {
    if facts.is_empty() {
        return Ok(0);
    }
    let rows = subscribers(conn)?;
    if rows.is_empty() {
        return Ok(0);
    }
    let mut subscribed = Vec::with_capacity(rows.len());
    for (id, events, segments) in rows {
        let events: Vec<String> = serde_json::from_str(&events)?;
        let segments: Vec<String> = serde_json::from_str(&segments)?;
        if facts.iter().any(|f| events.iter().any(|e| e == f.kind)) {
            subscribed.push((id, events, segments));
        }
    }
    // Destinations that name segments get facts about their current members
    // only (and segment facts about those segments only).
    let wanted: HashSet<&String> = subscribed.iter().flat_map(|(_, _, s)| s).collect();
    let mut members: HashSet<(String, String)> = HashSet::new();
    if !wanted.is_empty() {
        let mut profiles: Vec<&str> = facts.iter().filter(|f| !f.kind.starts_with("segment.")).map(|f| f.profile_id.as_str()).collect();
        profiles.sort_unstable();
        profiles.dedup();
        for chunk in profiles.chunks(500) {
            let found: Vec<(String, String)> = segment_members::table
                .filter(segment_members::profile_id.eq_any(chunk))
                .filter(segment_members::segment_id.eq_any(wanted.iter().map(|s| s.as_str()).collect::<Vec<_>>()))
                .filter(segment_members::exited_at.is_null())
                .select((segment_members::segment_id, segment_members::profile_id))
                .load(conn)?;
            members.extend(found);
        }
    }
    let mut out = Vec::new();
    for f in facts {
        let segment = if f.kind.starts_with("segment.") { segment_of(f) } else { None };
        for (dest, events, segments) in &subscribed {
            if !events.iter().any(|e| e == f.kind) {
                continue;
            }
            let in_scope = segments.is_empty()
                || match &segment {
                    Some(s) => segments.contains(s),
                    None => segments.iter().any(|s| members.contains(&(s.clone(), f.profile_id.clone()))),
                };
            if in_scope {
                out.push(DeliveryRow {
                    id: format!("msg_{}", crate::new_id().replace('-', "")),
                    destination_id: dest.clone(),
                    event_type: f.kind.to_string(),
                    profile_id: f.profile_id.clone(),
                    data: f.data.clone(),
                    occurred_at: f.occurred_at,
                    status: "pending".into(),
                    attempts: 0,
                    next_attempt_at: now,
                    lease_until: None,
                    last_status_code: None,
                    last_error: None,
                    body: None,
                    created_at: now,
                    delivered_at: None,
                });
            }
        }
    }
    // PostgreSQL: one statement text for any number of deliveries (a VALUES
    // list of another length each batch was parsed and planned every time).
    crate::insert_unnest!(&mut *conn, "deliveries", &out, [
        "id": Text = |r| r.id.as_str(),
        "destination_id": Text = |r| r.destination_id.as_str(),
        "event_type": Text = |r| r.event_type.as_str(),
        "profile_id": Text = |r| r.profile_id.as_str(),
        "data": Text = |r| r.data.as_str(),
        "occurred_at": BigInt = |r| r.occurred_at,
        "status": Text = |r| r.status.as_str(),
        "attempts": diesel::sql_types::Integer = |r| r.attempts,
        "next_attempt_at": BigInt = |r| r.next_attempt_at,
        "created_at": BigInt = |r| r.created_at,
    ])?;
    if !out.is_empty() {
        ENQUEUED.with(|e| e.set(true));
    }
    Ok(out.len())
}

/// The entries and exits a refresh of `segment` at `now` recorded, as
/// `segment.entered` / `segment.exited` facts, when a destination subscribes to them.
pub fn segment_changes(conn: &mut AnyConnection, segment: &str, now: i64) -> StoreResult<usize> {
    let wanted =
        subscribers(conn)?.iter().any(|(_, events, _)| events.contains("\"segment.entered\"") || events.contains("\"segment.exited\""));
    if !wanted {
        return Ok(0);
    }
    let name: String = crate::schema::segments::table.find(segment).select(crate::schema::segments::name).first(conn)?;
    let data = serde_json::json!({"segment_id": segment, "segment_name": name}).to_string();
    let entered: Vec<String> = segment_members::table
        .filter(segment_members::segment_id.eq(segment))
        .filter(segment_members::entered_at.eq(now))
        .select(segment_members::profile_id)
        .load(conn)?;
    let exited: Vec<String> = segment_members::table
        .filter(segment_members::segment_id.eq(segment))
        .filter(segment_members::exited_at.eq(now))
        .select(segment_members::profile_id)
        .load(conn)?;
    let fact = |kind: &'static str, p: String| Fact { kind, profile_id: p, data: data.clone(), occurred_at: now };
    let facts: Vec<Fact> =
        entered.into_iter().map(|p| fact("segment.entered", p)).chain(exited.into_iter().map(|p| fact("segment.exited", p))).collect();
    let mut n = 0;
    for chunk in facts.chunks(10_000) {
        n += enqueue(conn, chunk, now)?;
    }
    Ok(n)
}

pub fn add_destination(conn: &mut AnyConnection, row: &DestinationRow) -> StoreResult<()> {
    diesel::insert_into(destinations::table).values(row).execute(conn)?;
    Ok(())
}

pub fn destination(conn: &mut AnyConnection, id: &str) -> StoreResult<DestinationRow> {
    Ok(destinations::table.find(id).select(DestinationRow::as_select()).first(conn)?)
}

pub fn destinations(conn: &mut AnyConnection) -> StoreResult<Vec<DestinationRow>> {
    Ok(destinations::table
        .order((destinations::created_at.asc(), destinations::id.asc()))
        .select(DestinationRow::as_select())
        .load(conn)?)
}

pub fn save_destination(conn: &mut AnyConnection, row: &DestinationRow) -> StoreResult<()> {
    diesel::update(destinations::table.find(&row.id)).set(row).execute(conn)?;
    Ok(())
}

pub fn remove_destination(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    diesel::delete(deliveries::table.filter(deliveries::destination_id.eq(id))).execute(conn)?;
    diesel::delete(destinations::table.find(id)).execute(conn)?;
    Ok(())
}

/// See `OutboxStore::claim`. A leased delivery is not due before its lease
/// ends, so a worker that dies leaves it to be claimed again then.
pub fn claim(conn: &mut AnyConnection, destination: &str, now: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<DeliveryRow>> {
    const SQL: &str = "UPDATE deliveries SET next_attempt_at = $1, lease_until = $1 WHERE id IN (\
        SELECT id FROM deliveries WHERE destination_id = $2 AND status = 'pending' AND next_attempt_at <= $3 \
        ORDER BY next_attempt_at LIMIT $4";
    const RETURNING: &str = ") RETURNING id, destination_id, event_type, profile_id, data, occurred_at, status, attempts, \
        next_attempt_at, lease_until, last_status_code, last_error, body, created_at, delivered_at";
    let mut rows: Vec<DeliveryRow> = match conn {
        AnyConnection::Postgresql(c) => crate::cached!(const_format(SQL, " FOR UPDATE SKIP LOCKED", RETURNING))
            .bind::<BigInt, _>(lease_until)
            .bind::<Text, _>(destination)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(limit)
            .load(c)?,
        AnyConnection::Sqlite(c) => crate::cached!(const_format(SQL, "", RETURNING))
            .bind::<BigInt, _>(lease_until)
            .bind::<Text, _>(destination)
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(limit)
            .load(c)?,
    };
    rows.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    Ok(rows)
}

fn const_format(a: &str, b: &str, c: &str) -> String {
    format!("{a}{b}{c}")
}

/// See `OutboxStore::has_due`.
pub fn has_due(conn: &mut AnyConnection, destination: &str, now: i64) -> StoreResult<bool> {
    #[derive(QueryableByName)]
    struct One {
        #[diesel(sql_type = BigInt)]
        #[allow(dead_code)]
        n: i64,
    }
    let rows: Vec<One> = crate::per_backend!(conn, |c| crate::cached!(
        "SELECT CAST(1 AS BIGINT) AS n FROM deliveries WHERE destination_id = $1 AND status = 'pending' AND next_attempt_at <= $2 \
         ORDER BY next_attempt_at LIMIT 1"
    )
    .bind::<Text, _>(destination)
    .bind::<BigInt, _>(now)
    .load(c)?);
    Ok(!rows.is_empty())
}

/// See `OutboxStore::commit_lazily`: PostgreSQL's `synchronous_commit` off
/// for the transaction; SQLite (WAL, `synchronous = NORMAL`) never waits for
/// the disk at commit.
pub fn commit_lazily(conn: &mut AnyConnection) -> StoreResult<()> {
    match conn {
        AnyConnection::Postgresql(c) => Ok(diesel::connection::SimpleConnection::batch_execute(c, "SET LOCAL synchronous_commit = off")?),
        AnyConnection::Sqlite(_) => Ok(()),
    }
}

/// See `OutboxStore::record_attempts`: one cached statement per attempt
/// (diesel would prepare an `update` anew every time).
pub fn record_attempts(conn: &mut AnyConnection, attempts: &[cdp_app::store::Attempted]) -> StoreResult<usize> {
    use diesel::sql_types::{Integer, Nullable};
    let mut n = 0;
    for a in attempts {
        n += crate::per_backend!(conn, |c| crate::cached!(
            "UPDATE deliveries SET status = $1, attempts = $2, next_attempt_at = $3, lease_until = NULL, last_status_code = $4, \
             last_error = $5, body = $6, delivered_at = $7 WHERE id = $8 AND status = 'pending' AND lease_until = $9"
        )
        .bind::<Text, _>(a.status.as_str())
        .bind::<Integer, _>(a.attempts)
        .bind::<BigInt, _>(a.next_attempt_at)
        .bind::<Nullable<Integer>, _>(a.last_status_code)
        .bind::<Nullable<Text>, _>(a.last_error.as_deref())
        .bind::<Nullable<Text>, _>(a.body.as_deref())
        .bind::<Nullable<BigInt>, _>(a.delivered_at)
        .bind::<Text, _>(a.id.as_str())
        .bind::<BigInt, _>(a.lease_until)
        .execute(c)?);
    }
    Ok(n)
}

/// See `OutboxStore::release`.
pub fn release(conn: &mut AnyConnection, leases: &[(String, i64)], now: i64) -> StoreResult<usize> {
    let mut n = 0;
    for (id, lease_until) in leases {
        n += crate::per_backend!(conn, |c| crate::cached!(
            "UPDATE deliveries SET next_attempt_at = $1, lease_until = NULL WHERE id = $2 AND status = 'pending' AND lease_until = $3"
        )
        .bind::<BigInt, _>(now)
        .bind::<Text, _>(id.as_str())
        .bind::<BigInt, _>(*lease_until)
        .execute(c)?);
    }
    Ok(n)
}

/// See `OutboxStore::deliveries`.
pub fn list(
    conn: &mut AnyConnection,
    destination: &str,
    status: Option<&str>,
    before: Option<(i64, String)>,
    limit: i64,
) -> StoreResult<super::Page<DeliveryRow>> {
    let mut q = deliveries::table.filter(deliveries::destination_id.eq(destination)).into_boxed();
    if let Some(s) = status {
        q = q.filter(deliveries::status.eq(s.to_string()));
    }
    if let Some((at, id)) = before {
        q = q.filter(deliveries::created_at.lt(at).or(deliveries::created_at.eq(at).and(deliveries::id.lt(id))));
    }
    let mut rows: Vec<DeliveryRow> =
        q.order((deliveries::created_at.desc(), deliveries::id.desc())).limit(limit + 1).select(DeliveryRow::as_select()).load(conn)?;
    let next = if rows.len() as i64 > limit {
        rows.truncate(limit as usize);
        rows.last().map(|r| (r.created_at, r.id.clone()))
    } else {
        None
    };
    Ok((rows, next))
}

/// See `OutboxStore::requeue`.
pub fn requeue(conn: &mut AnyConnection, destination: &str, from: i64, to: i64, status: Option<&str>, now: i64) -> StoreResult<usize> {
    let base = deliveries::table
        .filter(deliveries::destination_id.eq(destination))
        .filter(deliveries::created_at.ge(from))
        .filter(deliveries::created_at.le(to));
    let set = (
        deliveries::status.eq("pending"),
        deliveries::attempts.eq(0),
        deliveries::next_attempt_at.eq(now),
        deliveries::lease_until.eq(None::<i64>),
        deliveries::last_error.eq(None::<String>),
        deliveries::last_status_code.eq(None::<i32>),
        deliveries::delivered_at.eq(None::<i64>),
    );
    let n = match status {
        Some(s) => diesel::update(base.filter(deliveries::status.eq(s.to_string()))).set(set).execute(conn)?,
        None => diesel::update(base.filter(deliveries::status.ne("pending"))).set(set).execute(conn)?,
    };
    if n > 0 {
        ENQUEUED.with(|e| e.set(true));
    }
    Ok(n)
}

pub fn run_for(conn: &mut AnyConnection, job: &str, slot: i64) -> StoreResult<Option<JobRunRow>> {
    Ok(job_runs::table
        .filter(job_runs::job.eq(job))
        .filter(job_runs::slot.eq(slot))
        .select(JobRunRow::as_select())
        .first(conn)
        .optional()?)
}

/// See `JobStore::start_run`: the (job, slot) key decides, whoever asks.
pub fn start_run(conn: &mut AnyConnection, row: &JobRunRow) -> StoreResult<bool> {
    use diesel::sql_types::Nullable;
    let n = crate::per_backend!(conn, |c| crate::cached!(
        "INSERT INTO job_runs (id, job, slot, status, detail, started_at, finished_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT DO NOTHING"
    )
    .bind::<Text, _>(row.id.as_str())
    .bind::<Text, _>(row.job.as_str())
    .bind::<BigInt, _>(row.slot)
    .bind::<Text, _>(row.status.as_str())
    .bind::<Nullable<Text>, _>(row.detail.as_deref())
    .bind::<BigInt, _>(row.started_at)
    .bind::<Nullable<BigInt>, _>(row.finished_at)
    .execute(c)?);
    Ok(n == 1)
}

pub fn finish_run(conn: &mut AnyConnection, row: &JobRunRow) -> StoreResult<()> {
    diesel::update(job_runs::table.find(&row.id))
        .set((job_runs::status.eq(&row.status), job_runs::detail.eq(&row.detail), job_runs::finished_at.eq(row.finished_at)))
        .execute(conn)?;
    Ok(())
}

pub fn runs(conn: &mut AnyConnection, job: Option<&str>, limit: i64) -> StoreResult<Vec<JobRunRow>> {
    let mut q = job_runs::table.into_boxed();
    if let Some(j) = job {
        q = q.filter(job_runs::job.eq(j.to_string()));
    }
    Ok(q.order((job_runs::started_at.desc(), job_runs::id.desc())).limit(limit).select(JobRunRow::as_select()).load(conn)?)
}
