//! The floor of ingestion's writes: every row a run left in the tables
//! ingestion writes (events, profiles, identities, orders, purchase days and
//! summaries, loyalty accounts and ledger, the merge log, consents, accounts),
//! written again into empty tables of the same shape — same keys, same
//! indexes — with nothing else to do: no HTTP, no JSON, no lookups, no
//! resolution. Its events/s is what the storage engine alone allows for the
//! rows ingestion writes per event; `COPY` of the events alone leaves out
//! every other row and index entry an event makes.
//!
//! - PostgreSQL: `INSERT … SELECT` of each table into a `LIKE … INCLUDING ALL`
//!   copy, one statement per table, as `COPY` is one (`INSERT … SELECT` of
//!   event rows costs what `COPY` of them does).
//! - SQLite: an empty database beside the run's, made by the same DDL and
//!   pragmas as the server's writer (WAL, `synchronous = NORMAL`, 64 MiB cache),
//!   written in the order the rows arrived (rowid; for a `WITHOUT ROWID`
//!   table, its `created_at` where it has one, else its key), one
//!   transaction per `per_commit` events' share of every table — the largest
//!   group the run's clients can make, so its commits are as few as
//!   ingestion's fewest. Foreign keys are not checked (the server checks
//!   them): each table's share of a transaction need not hold its parents, and
//!   leaving their probes out only makes the floor faster. Nor is the WAL
//!   checkpointed while the rows go in: the server checkpoints on a thread of
//!   its own, off the writer's path, and the floor is the writer's path.

use diesel::sql_types::{BigInt, Text};
use diesel::{sql_query, Connection, QueryableByName, RunQueryDsl};
use std::time::Instant;

/// The tables ingestion writes, parents first.
const TABLES: [&str; 12] = [
    "profiles",
    "identities",
    "events",
    "orders",
    "purchase_days",
    "purchase_summaries",
    "loyalty_accounts",
    "loyalty_ledger",
    "merges",
    "consents",
    "accounts",
    "account_members",
];

/// What writing the run's rows again took.
pub struct Floor {
    pub rows: i64,
    /// The run's events over the time the rows took.
    pub events_per_s: f64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    text: String,
}

#[derive(QueryableByName)]
struct Rowid {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

fn count(c: &mut diesel::SqliteConnection, from: &str) -> i64 {
    sql_query(format!("SELECT COUNT(*) AS n FROM {from}")).get_result::<Count>(c).expect("count rows").n
}

/// PostgreSQL: the floor of the run in the database at `url` (`events` events).
pub fn postgres(url: &str, events: usize) -> Floor {
    let mut c = diesel::PgConnection::establish(url).expect("connect for the floor");
    let run = |c: &mut diesel::PgConnection, sql: &str| {
        sql_query(sql).execute(c).unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    run(&mut c, "CREATE SCHEMA floor_bench");
    for t in TABLES {
        run(&mut c, &format!("CREATE TABLE floor_bench.{t} (LIKE public.{t} INCLUDING ALL)"));
    }
    let started = Instant::now();
    let mut rows = 0;
    for t in TABLES {
        rows += sql_query(format!("INSERT INTO floor_bench.{t} SELECT * FROM public.{t}")).execute(&mut c).expect("copy a table") as i64;
    }
    let took = started.elapsed().as_secs_f64();
    run(&mut c, "DROP SCHEMA floor_bench CASCADE");
    Floor { rows, events_per_s: events as f64 / took }
}

/// SQLite: the floor of the run in the database file `path` (`events` events).
pub fn sqlite(path: &str, events: usize, per_commit: usize) -> Floor {
    let dir = std::path::Path::new(path).parent().expect("the database's directory");
    let floor_path = dir.join("floor.sqlite3");
    let mut c = diesel::SqliteConnection::establish(&floor_path.to_string_lossy()).expect("open the floor database");
    let exec = |c: &mut diesel::SqliteConnection, sql: &str| {
        sql_query(sql).execute(c).unwrap_or_else(|e| panic!("{sql}: {e}"));
    };
    // The server writer's pragmas (crates/cdp-store/src/conn.rs), but for
    // foreign keys and checkpoints (see the module's comment).
    for p in ["journal_mode = WAL", "synchronous = NORMAL", "cache_size = -65536", "wal_autocheckpoint = 0", "foreign_keys = OFF"] {
        sql_query(format!("PRAGMA {p}")).load::<Line>(&mut c).ok();
    }
    exec(&mut c, &format!("ATTACH '{}' AS src", path.replace('\'', "''")));
    let chunks = events.div_ceil(per_commit.max(1)).max(1);
    let mut plan = Vec::new();
    let mut rows = 0;
    for t in TABLES {
        let ddl: Vec<Line> = sql_query(format!(
            "SELECT sql AS text FROM src.sqlite_master WHERE tbl_name = '{t}' AND sql IS NOT NULL ORDER BY type = 'index'"
        ))
        .load(&mut c)
        .expect("read the DDL");
        for d in &ddl {
            exec(&mut c, &d.text);
        }
        let n = count(&mut c, &format!("src.{t}"));
        if n == 0 {
            continue;
        }
        rows += n;
        // Rows in the order they were written: a rowid table's rowids; a
        // `WITHOUT ROWID` table keeps only its key's order, so it is first
        // copied aside (untimed) in the order of its `created_at` where it
        // has one (by key within a transaction), of its key otherwise.
        let from = match sql_query(format!("SELECT rowid AS id FROM src.{t} LIMIT 1")).load::<Rowid>(&mut c) {
            Ok(_) => format!("src.{t}"),
            Err(_) => {
                let key: Vec<Line> =
                    sql_query(format!("SELECT name AS text FROM pragma_table_info('{t}', 'src') WHERE pk > 0 ORDER BY pk"))
                        .load(&mut c)
                        .expect("the table's key");
                let mut order: Vec<String> = key.into_iter().map(|l| l.text).collect();
                if count(&mut c, &format!("pragma_table_info('{t}', 'src') WHERE name = 'created_at'")) > 0 {
                    order.insert(0, "created_at".into());
                }
                exec(&mut c, &format!("CREATE TEMP TABLE arrival_{t} AS SELECT * FROM src.{t} ORDER BY {}", order.join(", ")));
                format!("temp.arrival_{t}")
            }
        };
        let ids: Vec<Rowid> = sql_query(format!("SELECT rowid AS id FROM {from} ORDER BY rowid")).load(&mut c).expect("rowids");
        let cuts: Vec<i64> = ids.into_iter().map(|r| r.id).collect();
        plan.push((t, from, cuts));
    }
    let started = Instant::now();
    for i in 0..chunks {
        exec(&mut c, "BEGIN IMMEDIATE");
        for (t, from, ids) in &plan {
            let at = |v: usize, k: usize| (k * v) / chunks;
            let lo = ids[at(ids.len(), i)];
            let sql = match ids.get(at(ids.len(), i + 1)) {
                Some(hi) if i + 1 < chunks => format!("rowid >= {lo} AND rowid < {hi}"),
                _ => format!("rowid >= {lo}"),
            };
            exec(&mut c, &format!("INSERT INTO main.{t} SELECT * FROM {from} WHERE {sql}"));
        }
        exec(&mut c, "COMMIT");
    }
    let took = started.elapsed().as_secs_f64();
    let copied: i64 = plan.iter().map(|(t, _, _)| count(&mut c, &format!("main.{t}"))).sum();
    assert_eq!(copied, rows, "every row written once");
    drop(c);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", floor_path.display()));
    }
    Floor { rows, events_per_s: events as f64 / took }
}
