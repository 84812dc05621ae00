use crate::error::{StoreError, StoreResult};
use crate::schema::users;
use crate::AnyConnection;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
}

pub fn insert(conn: &mut AnyConnection, row: &UserRow) -> StoreResult<()> {
    let taken: i64 = users::table.filter(users::username.eq(&row.username)).count().get_result(conn)?;
    if taken > 0 {
        return Err(StoreError::Conflict(format!("username `{}` is taken", row.username)));
    }
    diesel::insert_into(users::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find_active_by_username(conn: &mut AnyConnection, username: &str) -> StoreResult<Option<UserRow>> {
    Ok(users::table
        .filter(users::username.eq(username))
        .filter(users::disabled_at.is_null())
        .select(UserRow::as_select())
        .first(conn)
        .optional()?)
}

pub fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<UserRow> {
    Ok(users::table.find(id).select(UserRow::as_select()).first(conn)?)
}

/// Every operator, oldest first.
pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<UserRow>> {
    Ok(users::table.order((users::created_at, users::id)).select(UserRow::as_select()).load(conn)?)
}

/// Disables (`Some(time)`) or enables (`None`) an operator by username;
/// answers the row as it is now.
pub fn set_disabled(conn: &mut AnyConnection, username: &str, at: Option<i64>) -> StoreResult<UserRow> {
    let n = diesel::update(users::table.filter(users::username.eq(username))).set(users::disabled_at.eq(at)).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(users::table.filter(users::username.eq(username)).select(UserRow::as_select()).first(conn)?)
}

/// Replaces an operator's password hash by username.
pub fn set_password(conn: &mut AnyConnection, username: &str, password_hash: &str) -> StoreResult<()> {
    let n = diesel::update(users::table.filter(users::username.eq(username))).set(users::password_hash.eq(password_hash)).execute(conn)?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
