//! Hand-written SQL that diesel prepares once per connection and caches.
//!
//! diesel never caches a `sql_query` statement: it cannot know that the text
//! is the same every time. Ingestion's own SQL is (`INSERT … SELECT * FROM
//! unnest($1, …)`, `UPDATE … FROM unnest(…)`, the advisory locks, the purchase
//! summaries over a list of profiles): the lists are bound values, never
//! spliced into the text. As `sql_query`, each of those statements was
//! parsed, analysed and planned again in every transaction, a dozen per batch.
//!
//! [`cached`] takes the text with numbered placeholders (`$1`, `$2`, … — a
//! number may appear more than once) and the values bound in that numbering;
//! each backend gets its own placeholders (`$n` on PostgreSQL, `?` on
//! SQLite, the value bound again where a number repeats). Use it only for a
//! text fixed in the code (or one of a few): the cache is keyed by the text
//! and the bind types and lives as long as the connection.
//!
//! To look a statement up by its text, diesel writes the whole text out again
//! and hashes and compares it on every execution — for the one-statement
//! profile view (1.2 kB of SQL) a large share of the threads serving reads.
//! [`cached!`] gives the statement of a call site a key of its own type instead, which diesel looks
//! up by its `TypeId`: for a text that is the same at that site on every call
//! (per backend: a connection has one).

use diesel::backend::Backend;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::serialize::ToSql;
use diesel::sql_types::{HasSqlType, Untyped};
use diesel::{QueryResult, RunQueryDsl};
use std::borrow::Cow;
use std::marker::PhantomData;

/// A statement diesel prepares once per connection; see the module's
/// documentation. `K`: how diesel finds it in its cache — [`Dynamic`] (by
/// its text) or [`Static`] (by a type; [`cached!`]).
pub struct Cached<B, K = Dynamic> {
    text: Cow<'static, str>,
    binds: B,
    key: PhantomData<fn() -> K>,
}

/// Looked up in diesel's statement cache by its text and bind types.
pub struct Dynamic;

/// Looked up in diesel's statement cache by the type `S` (one per call site,
/// made by [`cached!`]) and its bind types.
pub struct Static<S>(PhantomData<fn() -> S>);

/// A cached statement whose text is the same every time this call site runs
/// (on a given backend), found in diesel's cache by a type made for the site
/// rather than by writing out, hashing and comparing its text on every
/// execution. Bind values as with [`cached`].
#[macro_export]
macro_rules! cached {
    ($text:expr $(,)?) => {{
        struct Site;
        $crate::cached::Cached::<(), $crate::cached::Static<Site>>::with_text($text)
    }};
}

/// One bound value of SQL type `ST`, after the values bound before it (`Prev`).
#[derive(Debug, Clone)]
pub struct Bound<Prev, ST, V> {
    prev: Prev,
    value: V,
    ty: PhantomData<ST>,
}

/// A statement's text with numbered placeholders `$1`, `$2`, …; bind their values in order with `bind`.
pub fn cached(text: impl Into<Cow<'static, str>>) -> Cached<()> {
    Cached::with_text(text)
}

impl<K> Cached<(), K> {
    /// The statement, nothing bound yet; `cached` and `cached!` call this.
    pub fn with_text(text: impl Into<Cow<'static, str>>) -> Self {
        Cached { text: text.into(), binds: (), key: PhantomData }
    }
}

impl<B: Count, K> Cached<B, K> {
    /// Binds the value of the next placeholder number.
    pub fn bind<ST, V>(self, value: V) -> Cached<Bound<B, ST, V>, K> {
        Cached { text: self.text, binds: Bound { prev: self.binds, value, ty: PhantomData }, key: PhantomData }
    }
}

/// The SQL types bound, as one type (part of a [`Static`] statement's key).
pub trait BindTypes {
    type Types: 'static;
}

impl BindTypes for () {
    type Types = ();
}

impl<Prev: BindTypes, ST: 'static, V> BindTypes for Bound<Prev, ST, V> {
    type Types = (Prev::Types, ST);
}

/// How many values are bound.
pub trait Count {
    const COUNT: usize;
}

impl Count for () {
    const COUNT: usize = 0;
}

impl<Prev: Count, ST, V> Count for Bound<Prev, ST, V> {
    const COUNT: usize = Prev::COUNT + 1;
}

/// Pushes the value of placeholder `n` (1-based) as the next bind parameter.
pub trait Binds<DB: Backend>: Count {
    fn push<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;
}

impl<DB: Backend> Binds<DB> for () {
    fn push<'b>(&'b self, n: usize, _out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Err(diesel::result::Error::QueryBuilderError(format!("placeholder ${n} has no bound value").into()))
    }
}

impl<DB, Prev, ST, V> Binds<DB> for Bound<Prev, ST, V>
where
    DB: Backend + HasSqlType<ST>,
    Prev: Binds<DB>,
    V: ToSql<ST, DB>,
{
    fn push<'b>(&'b self, n: usize, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        if n == Self::COUNT {
            out.push_bind_param::<ST, V>(&self.value)
        } else {
            self.prev.push(n, out)
        }
    }
}

/// The text's pieces: SQL, and the placeholder numbers between them.
enum Piece<'a> {
    Sql(&'a str),
    Placeholder(usize),
}

fn pieces(text: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let bytes = rest.as_bytes();
        let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
        if bytes[0] == b'$' && digits(1) > 0 {
            let len = 1 + digits(1);
            let n = rest[1..len].parse().unwrap_or(usize::MAX);
            rest = &rest[len..];
            return Some(Piece::Placeholder(n));
        }
        // `str::find` of one byte runs as memchr; most `$` are placeholders.
        let mut end = rest.chars().next().map_or(bytes.len(), char::len_utf8);
        let end = loop {
            match rest[end..].find('$') {
                Some(at) if digits(end + at + 1) > 0 => break end + at,
                Some(at) => end += at + 1,
                None => break bytes.len(),
            }
        };
        let (sql, tail) = rest.split_at(end);
        rest = tail;
        Some(Piece::Sql(sql))
    })
}

impl<DB: Backend, B: Binds<DB>, K> QueryFragment<DB> for Cached<B, K> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        for piece in pieces(&self.text) {
            match piece {
                Piece::Sql(sql) => out.push_sql(sql),
                Piece::Placeholder(n) => self.binds.push(n, &mut out)?,
            }
        }
        Ok(())
    }
}

/// No identity known at compile time: diesel keys its cache by the SQL text
/// and the bind types (and `walk_ast` never calls the statement unsafe to cache).
impl<B> QueryId for Cached<B, Dynamic> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

/// Known at compile time: the call site's type and the bind types.
impl<B: BindTypes, S: 'static> QueryId for Cached<B, Static<S>> {
    type QueryId = (S, B::Types);
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// Rows come back by name, as from `sql_query` (`QueryableByName`).
impl<B, K> Query for Cached<B, K> {
    type SqlType = Untyped;
}

impl<B, K, C> RunQueryDsl<C> for Cached<B, K> {}

/// An INSERT of one row whose `VALUES` list is the values bound, in the
/// order they were bound — its text is the statement up to `VALUES (` — found
/// in diesel's cache by the type `S` (one per call site): for statements run
/// once per row, such as the bulk inserts of `insert_unnest!` on SQLite. No
/// pass over it (diesel makes several per execution) parses a text for
/// numbered placeholders as [`Cached`] must.
pub struct InOrder<B, S> {
    text: &'static str,
    binds: B,
    key: PhantomData<fn() -> S>,
}

impl<S> InOrder<(), S> {
    /// The statement up to `VALUES (`, nothing bound yet.
    pub fn new(text: &'static str) -> Self {
        InOrder { text, binds: (), key: PhantomData }
    }
}

impl<B, S> InOrder<B, S> {
    /// Binds the next value of the list.
    pub fn bind<ST, V>(self, value: V) -> InOrder<Bound<B, ST, V>, S> {
        InOrder { text: self.text, binds: Bound { prev: self.binds, value, ty: PhantomData }, key: PhantomData }
    }
}

/// Pushes every bound value, first bound first, comma-separated.
pub trait InOrderBinds<DB: Backend>: Count {
    fn push_all<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()>;
}

impl<DB: Backend> InOrderBinds<DB> for () {
    fn push_all<'b>(&'b self, _out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        Ok(())
    }
}

impl<DB, Prev, ST, V> InOrderBinds<DB> for Bound<Prev, ST, V>
where
    DB: Backend + HasSqlType<ST>,
    Prev: InOrderBinds<DB>,
    V: ToSql<ST, DB>,
{
    fn push_all<'b>(&'b self, out: &mut AstPass<'_, 'b, DB>) -> QueryResult<()> {
        self.prev.push_all(out)?;
        if Prev::COUNT > 0 {
            out.push_sql(", ");
        }
        out.push_bind_param::<ST, V>(&self.value)
    }
}

impl<B: InOrderBinds<diesel::sqlite::Sqlite>, S> QueryFragment<diesel::sqlite::Sqlite> for InOrder<B, S> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, diesel::sqlite::Sqlite>) -> QueryResult<()> {
        out.push_sql(self.text);
        self.binds.push_all(&mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

impl<B: BindTypes, S: 'static> QueryId for InOrder<B, S> {
    type QueryId = (S, B::Types);
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<B, S> Query for InOrder<B, S> {
    type SqlType = Untyped;
}

impl<B, S, C> RunQueryDsl<C> for InOrder<B, S> {}

/// An [`InOrder`] insert keyed by its call site: the text up to `VALUES (`.
#[macro_export]
macro_rules! in_order {
    ($text:expr $(,)?) => {{
        struct Site;
        $crate::cached::InOrder::<(), Site>::new($text)
    }};
}

#[cfg(test)]
mod tests {
    use super::{cached, pieces, Piece};
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::{BigInt, Text};
    use diesel::{QueryableByName, RunQueryDsl, SqliteConnection};

    #[derive(QueryableByName, Debug, PartialEq)]
    struct Row {
        #[diesel(sql_type = Text)]
        name: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
    }

    #[test]
    fn placeholders_are_split_out_of_the_text() {
        let got: Vec<String> = pieces("SELECT $1, '$.a', $$ $12 = $1")
            .map(|p| match p {
                Piece::Sql(s) => format!("[{s}]"),
                Piece::Placeholder(n) => format!("#{n}"),
            })
            .collect();
        assert_eq!(got, ["[SELECT ]", "#1", "[, '$.a', $$ ]", "#12", "[ = ]", "#1"]);
        let got: Vec<String> = pieces("ễ$1$ễ$$2")
            .map(|p| match p {
                Piece::Sql(s) => format!("[{s}]"),
                Piece::Placeholder(n) => format!("#{n}"),
            })
            .collect();
        assert_eq!(got, ["[ễ]", "#1", "[$ễ$]", "#2"]);
    }

    #[test]
    fn a_cached_statement_runs_again_with_new_binds_and_sees_new_rows() {
        let mut c = crate::sqlite_lib::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE t (name TEXT NOT NULL, n BIGINT NOT NULL)").unwrap();
        // Numbered out of order: values bind by number, not position.
        let insert = |c: &mut SqliteConnection, name: &str, n: i64| {
            cached("INSERT INTO t (n, name) VALUES ($2, $1)").bind::<Text, _>(name.to_string()).bind::<BigInt, _>(n).execute(c).unwrap()
        };
        assert_eq!(insert(&mut c, "a", 1), 1);
        assert_eq!(insert(&mut c, "b", 2), 1);
        // A number used twice binds its value twice.
        let select = |c: &mut SqliteConnection, min: i64| -> Vec<Row> {
            cached("SELECT name, n FROM t WHERE n >= $1 AND $1 = $1 ORDER BY n").bind::<BigInt, _>(min).load(c).unwrap()
        };
        assert_eq!(select(&mut c, 2), vec![Row { name: "b".into(), n: 2 }]);
        insert(&mut c, "c", 3);
        assert_eq!(select(&mut c, 2).len(), 2);
        assert_eq!(select(&mut c, 0).len(), 3);
        let unbound = cached("SELECT $2 AS n").bind::<BigInt, _>(1).execute(&mut c);
        assert!(unbound.is_err());
    }

    #[test]
    fn an_in_order_insert_binds_its_values_list_in_order_and_runs_again() {
        let mut c = crate::sqlite_lib::establish(":memory:").unwrap();
        c.batch_execute("CREATE TABLE t (name TEXT NOT NULL, n BIGINT NOT NULL)").unwrap();
        for (name, n) in [("a", 1), ("b", 2)] {
            let q = crate::in_order!("INSERT INTO t (n, name) VALUES (").bind::<BigInt, _>(n).bind::<Text, _>(name);
            assert_eq!(q.execute(&mut c).unwrap(), 1);
        }
        let rows: Vec<Row> = cached("SELECT name, n FROM t ORDER BY n").load(&mut c).unwrap();
        assert_eq!(rows, vec![Row { name: "a".into(), n: 1 }, Row { name: "b".into(), n: 2 }]);
    }

    #[test]
    fn statements_keyed_by_their_call_site_stay_apart() {
        let mut c = crate::sqlite_lib::establish(":memory:").unwrap();
        let one = |c: &mut SqliteConnection, n: i64| -> Vec<Row> {
            crate::cached!("SELECT 'one' AS name, $1 AS n").bind::<BigInt, _>(n).load(c).unwrap()
        };
        let two = |c: &mut SqliteConnection, n: i64| -> Vec<Row> {
            crate::cached!("SELECT 'two' AS name, $1 + 1 AS n").bind::<BigInt, _>(n).load(c).unwrap()
        };
        for n in [1, 5] {
            assert_eq!(one(&mut c, n), vec![Row { name: "one".into(), n }]);
            assert_eq!(two(&mut c, n), vec![Row { name: "two".into(), n: n + 1 }]);
        }
    }
}
