//! Tracking plans and the log of events that broke them.

use crate::error::StoreResult;
use crate::schema::{tracking_plans, tracking_violations};
use crate::AnyConnection;
use cdp_app::store::ViolationRow;
use diesel::prelude::*;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = tracking_violations, treat_none_as_default_value = false)]
struct Row {
    id: String,
    source_id: String,
    event_name: String,
    message_id: Option<String>,
    kind: String,
    path: String,
    message: String,
    blocked: bool,
    event_id: Option<String>,
    received_at: i64,
}

pub fn plan(conn: &mut AnyConnection, source: &str) -> StoreResult<Option<String>> {
    Ok(tracking_plans::table.find(source).select(tracking_plans::body).first(conn).optional()?)
}

pub fn save_plan(conn: &mut AnyConnection, source: &str, body: &str, now: i64, actor: &str) -> StoreResult<()> {
    diesel::delete(tracking_plans::table.find(source)).execute(conn)?;
    diesel::insert_into(tracking_plans::table)
        .values((
            tracking_plans::source_id.eq(source),
            tracking_plans::body.eq(body),
            tracking_plans::updated_at.eq(now),
            tracking_plans::updated_by.eq(actor),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn add_violations(conn: &mut AnyConnection, rows: &[ViolationRow]) -> StoreResult<()> {
    let rows: Vec<Row> = rows
        .iter()
        .map(|r| Row {
            id: r.id.clone(),
            source_id: r.source_id.clone(),
            event_name: r.event_name.clone(),
            message_id: r.message_id.clone(),
            kind: r.kind.clone(),
            path: r.path.clone(),
            message: r.message.clone(),
            blocked: r.blocked,
            event_id: r.event_id.clone(),
            received_at: r.received_at,
        })
        .collect();
    crate::insert_rows!(&mut *conn, tracking_violations::table, &rows)?;
    Ok(())
}

pub fn violations(
    conn: &mut AnyConnection,
    source: &str,
    before: Option<(i64, String)>,
    limit: i64,
) -> StoreResult<crate::repo::Page<ViolationRow>> {
    let mut q = tracking_violations::table.filter(tracking_violations::source_id.eq(source)).select(Row::as_select()).into_boxed();
    if let Some((at, id)) = before {
        q = q.filter(
            tracking_violations::received_at.lt(at).or(tracking_violations::received_at.eq(at).and(tracking_violations::id.lt(id))),
        );
    }
    let mut rows: Vec<Row> =
        q.order((tracking_violations::received_at.desc(), tracking_violations::id.desc())).limit(limit + 1).load(conn)?;
    let next = crate::repo::page_end(&mut rows, limit, |r| (r.received_at, r.id.clone()));
    let rows = rows
        .into_iter()
        .map(|r| ViolationRow {
            id: r.id,
            source_id: r.source_id,
            event_name: r.event_name,
            message_id: r.message_id,
            kind: r.kind,
            path: r.path,
            message: r.message,
            blocked: r.blocked,
            event_id: r.event_id,
            received_at: r.received_at,
        })
        .collect();
    Ok((rows, next))
}
