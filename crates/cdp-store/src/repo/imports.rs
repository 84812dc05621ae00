//! CSV import jobs: the uploaded file in pieces, progress, refused rows.

use crate::error::StoreResult;
use crate::schema::{import_chunks, import_errors, imports};
use crate::AnyConnection;
use cdp_app::store::{ImportErrorRow, ImportProgress, ImportRow};
use diesel::prelude::*;

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = imports, treat_none_as_default_value = false)]
struct Row {
    id: String,
    kind: String,
    status: String,
    options: String,
    chunks: i32,
    bytes: i64,
    rows_read: i64,
    imported: i64,
    duplicates: i64,
    rejected: i64,
    error_count: i64,
    message: Option<String>,
    created_by: String,
    created_at: i64,
    updated_at: i64,
    finished_at: Option<i64>,
    lease_until: Option<i64>,
}

impl From<Row> for ImportRow {
    fn from(r: Row) -> ImportRow {
        ImportRow {
            id: r.id,
            kind: r.kind,
            status: r.status,
            options: r.options,
            chunks: r.chunks,
            bytes: r.bytes,
            rows_read: r.rows_read,
            imported: r.imported,
            duplicates: r.duplicates,
            rejected: r.rejected,
            error_count: r.error_count,
            message: r.message,
            created_by: r.created_by,
            created_at: r.created_at,
            updated_at: r.updated_at,
            finished_at: r.finished_at,
            lease_until: r.lease_until,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = import_errors)]
struct ErrorRow<'a> {
    import_id: &'a str,
    seq: i64,
    row_number: i64,
    field: &'a str,
    code: &'a str,
    message: &'a str,
}

pub fn add_chunk(conn: &mut AnyConnection, id: &str, seq: i32, data: &[u8]) -> StoreResult<()> {
    diesel::insert_into(import_chunks::table)
        .values((import_chunks::import_id.eq(id), import_chunks::seq.eq(seq), import_chunks::data.eq(data)))
        .execute(conn)?;
    Ok(())
}

pub fn drop_chunks(conn: &mut AnyConnection, id: &str) -> StoreResult<()> {
    diesel::delete(import_chunks::table.filter(import_chunks::import_id.eq(id))).execute(conn)?;
    Ok(())
}

pub fn chunk(conn: &mut AnyConnection, id: &str, seq: i32) -> StoreResult<Option<Vec<u8>>> {
    Ok(import_chunks::table.find((id, seq)).select(import_chunks::data).first(conn).optional()?)
}

pub fn add(conn: &mut AnyConnection, r: &ImportRow) -> StoreResult<()> {
    let row = Row {
        id: r.id.clone(),
        kind: r.kind.clone(),
        status: r.status.clone(),
        options: r.options.clone(),
        chunks: r.chunks,
        bytes: r.bytes,
        rows_read: r.rows_read,
        imported: r.imported,
        duplicates: r.duplicates,
        rejected: r.rejected,
        error_count: r.error_count,
        message: r.message.clone(),
        created_by: r.created_by.clone(),
        created_at: r.created_at,
        updated_at: r.updated_at,
        finished_at: r.finished_at,
        lease_until: r.lease_until,
    };
    diesel::insert_into(imports::table).values(&row).execute(conn)?;
    Ok(())
}

pub fn get(conn: &mut AnyConnection, id: &str) -> StoreResult<Option<ImportRow>> {
    Ok(imports::table.find(id).select(Row::as_select()).first(conn).optional()?.map(Into::into))
}

/// Jobs, newest first, from the `before` (created_at, id) key on.
pub fn list(conn: &mut AnyConnection, before: Option<(i64, String)>, limit: i64) -> StoreResult<crate::repo::Page<ImportRow>> {
    let mut q = imports::table.select(Row::as_select()).into_boxed();
    if let Some((at, id)) = before {
        q = q.filter(imports::created_at.lt(at).or(imports::created_at.eq(at).and(imports::id.lt(id))));
    }
    let mut rows: Vec<Row> = q.order((imports::created_at.desc(), imports::id.desc())).limit(limit + 1).load(conn)?;
    let next = crate::repo::page_end(&mut rows, limit, |r| (r.created_at, r.id.clone()));
    Ok((rows.into_iter().map(Into::into).collect(), next))
}

pub fn errors(conn: &mut AnyConnection, id: &str, after: Option<i64>, limit: i64) -> StoreResult<Vec<ImportErrorRow>> {
    let rows: Vec<(i64, i64, String, String, String)> = import_errors::table
        .filter(import_errors::import_id.eq(id))
        .filter(import_errors::seq.gt(after.unwrap_or(0)))
        .order(import_errors::seq)
        .limit(limit)
        .select((import_errors::seq, import_errors::row_number, import_errors::field, import_errors::code, import_errors::message))
        .load(conn)?;
    Ok(rows.into_iter().map(|(seq, row, field, code, message)| ImportErrorRow { seq, row, field, code, message }).collect())
}

/// A conditional UPDATE: of several processes, one takes a lapsed job.
pub fn claim(conn: &mut AnyConnection, id: Option<&str>, now: i64, lease_until: i64) -> StoreResult<Option<ImportRow>> {
    let candidates: Vec<String> = match id {
        Some(id) => vec![id.to_string()],
        None => imports::table
            .filter(imports::status.eq_any(["queued", "running"]))
            .filter(imports::lease_until.is_null().or(imports::lease_until.lt(now)))
            .order(imports::created_at)
            .limit(5)
            .select(imports::id)
            .load(conn)?,
    };
    for id in candidates {
        let taken = diesel::update(
            imports::table
                .find(&id)
                .filter(imports::status.eq_any(["queued", "running"]))
                .filter(imports::lease_until.is_null().or(imports::lease_until.lt(now))),
        )
        .set((imports::status.eq("running"), imports::lease_until.eq(lease_until), imports::updated_at.eq(now)))
        .execute(conn)?;
        if taken == 1 {
            return get(conn, &id);
        }
    }
    Ok(None)
}

pub fn progress(conn: &mut AnyConnection, id: &str, p: &ImportProgress, now: i64, lease_until: i64) -> StoreResult<()> {
    let rows: Vec<ErrorRow> = p
        .errors
        .iter()
        .map(|e| ErrorRow { import_id: id, seq: e.seq, row_number: e.row, field: &e.field, code: &e.code, message: &e.message })
        .collect();
    crate::insert_rows!(&mut *conn, import_errors::table, &rows)?;
    diesel::update(imports::table.find(id))
        .set((
            imports::rows_read.eq(p.rows_read),
            imports::imported.eq(p.imported),
            imports::duplicates.eq(p.duplicates),
            imports::rejected.eq(p.rejected),
            imports::error_count.eq(imports::error_count + p.errors.len() as i64),
            imports::updated_at.eq(now),
            imports::lease_until.eq(lease_until),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn finish(conn: &mut AnyConnection, id: &str, status: &str, message: Option<&str>, now: i64) -> StoreResult<()> {
    diesel::update(imports::table.find(id))
        .set((
            imports::status.eq(status),
            imports::message.eq(message),
            imports::finished_at.eq(now),
            imports::updated_at.eq(now),
            imports::lease_until.eq(None::<i64>),
        ))
        .execute(conn)?;
    drop_chunks(conn, id)
}
