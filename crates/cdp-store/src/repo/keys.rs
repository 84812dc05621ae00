use crate::error::{StoreError, StoreResult};
use crate::schema::{api_keys, sources};
use crate::AnyConnection;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct KeyRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub key_hash: String,
    pub scopes: String,
    pub source_id: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A live key with the channel of the source it is bound to.
#[derive(Debug, Clone)]
pub struct ActiveKey {
    pub key: KeyRow,
    pub source_channel: Option<String>,
}

pub fn insert(conn: &mut AnyConnection, row: &KeyRow) -> StoreResult<()> {
    diesel::insert_into(api_keys::table).values(row).execute(conn)?;
    Ok(())
}

/// The unrevoked key with this hash.
pub fn find_active_by_hash(conn: &mut AnyConnection, hash: &str) -> StoreResult<Option<ActiveKey>> {
    let row: Option<(KeyRow, Option<String>)> = api_keys::table
        .left_join(sources::table)
        .filter(api_keys::key_hash.eq(hash))
        .filter(api_keys::revoked_at.is_null())
        .select((KeyRow::as_select(), sources::channel.nullable()))
        .first(conn)
        .optional()?;
    Ok(row.map(|(key, source_channel)| ActiveKey { key, source_channel }))
}

/// Records use, at most once a minute per key so that reads stay reads.
pub fn touch(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<()> {
    let stale = now - 60_000_000;
    diesel::update(api_keys::table.find(id))
        .filter(api_keys::last_used_at.is_null().or(api_keys::last_used_at.lt(stale)))
        .set(api_keys::last_used_at.eq(now))
        .execute(conn)?;
    Ok(())
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<KeyRow>> {
    Ok(api_keys::table.order(api_keys::id.asc()).select(KeyRow::as_select()).load(conn)?)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<KeyRow> {
    Ok(api_keys::table.find(id).select(KeyRow::as_select()).first(conn)?)
}

/// Revokes a key; revoking a revoked key keeps its first revocation time.
pub fn revoke(conn: &mut AnyConnection, id: &str, now: i64) -> StoreResult<KeyRow> {
    let key = find(conn, id)?;
    if key.revoked_at.is_none() {
        diesel::update(api_keys::table.find(id)).set(api_keys::revoked_at.eq(now)).execute(conn)?;
    }
    find(conn, id).map_err(|e| match e {
        StoreError::NotFound => StoreError::Corrupt("key vanished during revoke".into()),
        e => e,
    })
}
