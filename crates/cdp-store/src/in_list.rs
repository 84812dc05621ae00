//! `column IN (a list of strings)` whose SQL text does not depend on the
//! list's length, so that diesel prepares it once per connection and caches it.
//!
//! diesel's `eq_any` spells a list as `IN (?, ?, …)` on SQLite: a statement of
//! another length for every batch, which diesel never caches, so SQLite parsed
//! and planned a dozen statements of 100–300 parameters for every ingested
//! batch (a tenth of the writer's time). Here the list is one bound value:
//! `= ANY($1)` over a text array on PostgreSQL (what `eq_any` already does
//! there), `IN (SELECT value FROM json_each(?))` over a JSON array on SQLite.

use crate::conn::MultiBackend;
use diesel::expression::{is_aggregate, AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Bool, Text};
use diesel::sqlite::Sqlite;
use diesel::QueryResult;

/// See the module's documentation; build it with [`in_list`].
#[derive(Debug, Clone)]
pub struct InList<C> {
    column: C,
    values: Vec<String>,
    json: String,
}

/// `column IN values`, one statement text for any number of values.
pub fn in_list<C: Expression, S: AsRef<str>>(column: C, values: &[S]) -> InList<C> {
    let values: Vec<String> = values.iter().map(|v| v.as_ref().to_string()).collect();
    let json = serde_json::to_string(&values).unwrap_or_else(|_| "[]".into());
    InList { column, values, json }
}

impl<C> Expression for InList<C> {
    type SqlType = Bool;
}

impl<C> ValidGrouping<()> for InList<C> {
    type IsAggregate = is_aggregate::Never;
}

impl<C: AppearsOnTable<QS>, QS> AppearsOnTable<QS> for InList<C> {}

impl<C: SelectableExpression<QS>, QS> SelectableExpression<QS> for InList<C> {}

/// The statement's identity is its column's: the values are a bound parameter.
pub struct InListId<T>(std::marker::PhantomData<T>);

impl<C: QueryId> QueryId for InList<C> {
    type QueryId = InListId<C::QueryId>;
    const HAS_STATIC_QUERY_ID: bool = C::HAS_STATIC_QUERY_ID;
}

impl<C: QueryFragment<Pg>> QueryFragment<Pg> for InList<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" = ANY(");
        out.push_bind_param::<Array<Text>, _>(&self.values)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<C: QueryFragment<Sqlite>> QueryFragment<Sqlite> for InList<C> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Sqlite>) -> QueryResult<()> {
        self.column.walk_ast(out.reborrow())?;
        out.push_sql(" IN (SELECT value FROM json_each(");
        out.push_bind_param::<Text, _>(&self.json)?;
        out.push_sql("))");
        Ok(())
    }
}

impl<C: QueryFragment<Pg> + QueryFragment<Sqlite>> QueryFragment<MultiBackend> for InList<C> {
    fn walk_ast<'b>(&'b self, pass: AstPass<'_, 'b, MultiBackend>) -> QueryResult<()> {
        MultiBackend::walk_variant_ast(self, pass)
    }
}

#[cfg(test)]
mod tests {
    use super::in_list;
    use crate::schema::identities;
    use crate::AnyConnection;
    use diesel::prelude::*;

    #[test]
    fn matches_exactly_the_listed_values_whatever_they_hold() {
        let mut conn = AnyConnection::Sqlite(crate::sqlite_lib::establish(":memory:").unwrap());
        diesel::sql_query(
            "CREATE TABLE identities (value TEXT NOT NULL, identity_type TEXT NOT NULL, profile_id TEXT NOT NULL, \
             created_at BIGINT NOT NULL, PRIMARY KEY (value, identity_type))",
        )
        .execute(&mut conn)
        .unwrap();
        let stored = ["+84912345678", "an@example.vn", "quote\"and\\slash", "Nguyễn Văn A", "[1]"];
        for v in stored {
            diesel::insert_into(identities::table)
                .values((
                    identities::value.eq(v),
                    identities::identity_type.eq("t"),
                    identities::profile_id.eq("p"),
                    identities::created_at.eq(0),
                ))
                .execute(&mut conn)
                .unwrap();
        }
        let find = |conn: &mut AnyConnection, wanted: &[&str]| {
            let mut got: Vec<String> =
                identities::table.filter(in_list(identities::value, wanted)).select(identities::value).load(conn).unwrap();
            got.sort();
            got
        };
        assert!(find(&mut conn, &[]).is_empty());
        assert_eq!(find(&mut conn, &["quote\"and\\slash", "missing"]), vec!["quote\"and\\slash"]);
        let mut all = stored.map(String::from).to_vec();
        all.sort();
        assert_eq!(find(&mut conn, &stored), all);
        // Lists of other lengths run the same cached statement.
        assert_eq!(find(&mut conn, &["Nguyễn Văn A"]), vec!["Nguyễn Văn A"]);
    }
}
