use crate::error::StoreResult;
use crate::schema::sources;
use crate::AnyConnection;
use diesel::prelude::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = sources)]
pub struct SourceRow {
    pub id: String,
    pub name: String,
    pub channel: String,
    pub created_at: i64,
}

pub fn insert(conn: &mut AnyConnection, row: &SourceRow) -> StoreResult<()> {
    diesel::insert_into(sources::table).values(row).execute(conn)?;
    Ok(())
}

pub fn find(conn: &mut AnyConnection, id: &str) -> StoreResult<SourceRow> {
    Ok(sources::table.find(id).select(SourceRow::as_select()).first(conn)?)
}

pub fn list(conn: &mut AnyConnection) -> StoreResult<Vec<SourceRow>> {
    Ok(sources::table.order(sources::id.asc()).select(SourceRow::as_select()).load(conn)?)
}
