//! The identity rules' document.

use crate::error::StoreResult;
use crate::schema::identity_rules;
use crate::AnyConnection;
use diesel::prelude::*;

/// The saved rules' document, if any (ingestion reads it with its lookups on PostgreSQL).
pub fn rules(conn: &mut AnyConnection) -> StoreResult<Option<String>> {
    Ok(identity_rules::table.find(1).select(identity_rules::body).first(conn).optional()?)
}

/// Replaces the rules' document.
pub fn save_rules(conn: &mut AnyConnection, body: &str, now: i64, actor: &str) -> StoreResult<()> {
    let n = diesel::update(identity_rules::table.find(1))
        .set((identity_rules::body.eq(body), identity_rules::updated_at.eq(now), identity_rules::updated_by.eq(actor)))
        .execute(conn)?;
    if n == 0 {
        diesel::insert_into(identity_rules::table)
            .values((
                identity_rules::id.eq(1),
                identity_rules::body.eq(body),
                identity_rules::updated_at.eq(now),
                identity_rules::updated_by.eq(actor),
            ))
            .execute(conn)?;
    }
    Ok(())
}
