//! Statement macros the repositories share: the same code on each backend's
//! own connection, and bulk inserts written the way each backend takes them
//! fastest. Exported at the crate root (`crate::insert_unnest!`, …).

/// Runs the same code on the backend's own connection, for statements the
/// common `MultiBackend` cannot express (multi-row INSERT, row locks).
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::AnyConnection::Postgresql($c) => $body,
            $crate::AnyConnection::Sqlite($c) => $body,
        }
    };
}

/// Inserts rows the way each backend takes them fastest: on PostgreSQL as
/// multi-row statements (one round trip per 500 rows); on SQLite, which runs
/// in-process, one row at a time through a statement prepared once and cached
/// (diesel cannot cache a multi-row INSERT, and preparing one of 500 rows
/// costs more than running 500 cached ones). Evaluates to a `QueryResult<()>`.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {{
        let rows = $rows;
        (|| -> diesel::QueryResult<()> {
            match $conn {
                $crate::AnyConnection::Postgresql(c) => {
                    for chunk in rows.chunks(500) {
                        diesel::RunQueryDsl::execute(diesel::insert_into($table).values(chunk), c)?;
                    }
                }
                $crate::AnyConnection::Sqlite(c) => {
                    for row in rows.iter() {
                        diesel::RunQueryDsl::execute(diesel::insert_into($table).values(row), c)?;
                    }
                }
            }
            Ok(())
        })()
    }};
}

/// Inserts rows. On PostgreSQL as one `INSERT … SELECT * FROM unnest(…)` over
/// an array per column: the statement's text is the same for any number of
/// rows, so it is parsed and planned in microseconds, where a 100-event
/// `VALUES` list (1,400 parameters) cost PostgreSQL more to parse and plan
/// than to execute, and every row count was another statement to prepare.
/// On SQLite (in-process), one row at a time through a single-row INSERT of
/// the same columns, prepared once per connection and found in diesel's
/// cache by its call site's type (`in_order!`): diesel's own `insert_into`
/// writes out, hashes and compares the text of every row's statement.
/// Columns: `"name": SqlType = |row| value`, in any order; `"name"` is the
/// table's.
///
/// Several tables in one go — `insert_unnest!(conn, [("name", rows,
/// [columns]), …])`, parents first — are one statement on PostgreSQL (the
/// first inserts as data-modifying `WITH` clauses: one round trip instead of
/// one per table; foreign keys are checked at the end of the statement, so a
/// child may name a parent inserted beside it), and on SQLite the tables'
/// inserts in order. Nothing runs when every list is empty.
#[macro_export]
macro_rules! insert_unnest {
    ($conn:expr, [$( ($name:literal, $rows:expr, [$($col:literal : $ty:ty = |$r:ident| $get:expr),+ $(,)?]) ),+ $(,)?]) => {{
        match $conn {
            $crate::AnyConnection::Postgresql(c) => {
                let empty = true $( && $rows.is_empty() )+;
                if empty {
                    Ok(())
                } else {
                    // The text depends only on this call site: written once per process.
                    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                    let sql = SQL.get_or_init(|| {
                        let mut inserts: Vec<String> = Vec::new();
                        let mut next = 1;
                        $(
                            let cols: &[&str] = &[$($col),+];
                            let marks: Vec<String> = (next..next + cols.len()).map(|i| format!("${i}")).collect();
                            next += cols.len();
                            inserts.push(format!("INSERT INTO {} ({}) SELECT * FROM unnest({})", $name, cols.join(", "), marks.join(", ")));
                        )+
                        let _ = next;
                        let last = inserts.pop().unwrap_or_default();
                        if inserts.is_empty() {
                            last
                        } else {
                            let ctes: Vec<String> = inserts.iter().enumerate().map(|(n, i)| format!("t{n} AS ({i})")).collect();
                            format!("WITH {} {last}", ctes.join(", "))
                        }
                    });
                    let q = $crate::cached!(sql.as_str());
                    $(
                        let rows = $rows;
                        $( let q = q.bind::<diesel::sql_types::Array<$ty>, _>(rows.iter().map(|$r| $get).collect::<Vec<_>>()); )+
                    )+
                    diesel::RunQueryDsl::execute(q, c).map(|_| ())
                }
            }
            $crate::AnyConnection::Sqlite(c) => (|| -> diesel::QueryResult<()> {
                $({
                    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
                    let sql = SQL.get_or_init(|| {
                        let cols: &[&str] = &[$($col),+];
                        format!("INSERT INTO {} ({}) VALUES (", $name, cols.join(", "))
                    });
                    for row in $rows.iter() {
                        let q = $crate::in_order!(sql.as_str());
                        $( let q = q.bind::<$ty, _>({ let $r = row; $get }); )+
                        diesel::RunQueryDsl::execute(q, &mut *c)?;
                    }
                })+
                Ok(())
            })(),
        }
    }};
    // One table (after the form above: its `[` must be tried first).
    ($conn:expr, $name:literal, $rows:expr, [$($col:literal : $ty:ty = |$r:ident| $get:expr),+ $(,)?]) => {
        $crate::insert_unnest!($conn, [($name, $rows, [$($col : $ty = |$r| $get),+])])
    };
}
