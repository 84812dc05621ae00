//! One connection type over SQLite and PostgreSQL, its pool, migrations and
//! write transactions.

use crate::error::{StoreError, StoreResult, TxError};
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::{Connection, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::time::Duration;

pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/sqlite");
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations/postgres");

#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Postgresql(PgConnection),
    Sqlite(SqliteConnection),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the data lives, parsed from `DATABASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    /// `postgres://…` or `postgresql://…`
    Postgres(String),
    /// `sqlite://PATH`, `sqlite:PATH` or a plain file path.
    Sqlite(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> DbUrl {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbUrl::Postgres(url.to_string())
        } else {
            let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:")).unwrap_or(url);
            DbUrl::Sqlite(path.to_string())
        }
    }
    pub fn backend(&self) -> Backend {
        match self {
            DbUrl::Postgres(_) => Backend::Postgres,
            DbUrl::Sqlite(_) => Backend::Sqlite,
        }
    }
    /// The URL with any password masked, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DbUrl::Sqlite(p) => format!("sqlite://{p}"),
            DbUrl::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if at > s => {
                    let creds = &u[s + 3..at];
                    let user = creds.split(':').next().unwrap_or("");
                    format!("{}{}:***{}", &u[..s + 3], user, &u[at..])
                }
                _ => u.clone(),
            },
        }
    }
}

/// Opens connections of the backend the URL names (never guessing another)
/// and sets SQLite's pragmas on each.
#[derive(Debug, Clone)]
pub struct Manager {
    url: DbUrl,
}

impl Manager {
    pub fn new(url: DbUrl) -> Self {
        Manager { url }
    }
}

/// Every SQLite connection's settings. The page cache is 8 MiB: a reader
/// drops its cache whenever another connection has committed since its last
/// read (under ingestion, every request), so a bigger one only holds memory —
/// 16 pooled readers at 64 MiB each could hold 1 GiB.
const SQLITE_PRAGMAS: &str = "PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
     PRAGMA synchronous = NORMAL; PRAGMA journal_mode = WAL; PRAGMA cache_size = -8192; PRAGMA wal_autocheckpoint = 20000;";

/// The writer's page cache, 64 MiB: it is the only connection that writes,
/// so its cache stays valid from one transaction to the next and holds the
/// index pages ingestion touches.
const SQLITE_WRITER_PRAGMAS: &str = "PRAGMA cache_size = -65536;";

/// Commits between two checkpoints of the SQLite checkpointer thread.
const CHECKPOINT_EVERY: u32 = 8;

/// WAL frames (pages) past which the checkpointer takes the writers' turn to
/// finish its checkpoint so that the WAL starts over: 32 MiB of 4 KiB pages,
/// a few commits of batch ingestion, tens of single-event groups. Taking the
/// turn after every few commits whatever their size stalled single-event
/// writers.
const RESTART_FRAMES: i32 = 8192;

/// A PASSIVE checkpoint; answers the frames in the WAL.
fn checkpoint(c: &mut AnyConnection) -> diesel::QueryResult<i32> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Checkpoint {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        log: i32,
    }
    match c {
        AnyConnection::Sqlite(c) => Ok(diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result::<Checkpoint>(c)?.log),
        AnyConnection::Postgresql(_) => Ok(0),
    }
}

/// SQLite copies committed pages from the WAL back into the database file (a
/// checkpoint, with an fsync of each file) when the WAL passes
/// `wal_autocheckpoint` pages, inside the COMMIT of whichever writer crossed
/// the line — the one writer everybody else queues behind. Here a thread with
/// its own connection does that work instead, after every few commits: a
/// PASSIVE checkpoint while writers go on (the bulk of the copying), then,
/// once the WAL has grown past `RESTART_FRAMES`, holding the writers' turn,
/// another one over the few commits that came in meanwhile. That one leaves
/// the WAL fully copied, so the next writer starts it over from the
/// beginning; without it the WAL would grow without end (writers always
/// commit during the first), and writers stalled for long checkpoints. The writers' own auto-checkpoint is kept far higher, as a backstop.
/// The thread ends when the last `Db` holding its sender is dropped.
fn spawn_checkpointer(manager: Manager, turn: WriterTurn) -> std::sync::mpsc::Sender<()> {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let run = move || {
        let mut conn: Option<AnyConnection> = None;
        let mut pending = 0;
        while rx.recv().is_ok() {
            pending += 1 + rx.try_iter().count() as u32;
            if pending < CHECKPOINT_EVERY {
                continue;
            }
            pending = 0;
            if conn.is_none() {
                conn = manager.connect().map_err(|e| log::warn!("checkpointer cannot connect: {e}")).ok();
            }
            let Some(c) = conn.as_mut() else { continue };
            let done = checkpoint(c).and_then(|frames| {
                if frames < RESTART_FRAMES {
                    return Ok(frames);
                }
                let _turn = turn.lock();
                checkpoint(c)
            });
            if let Err(e) = done {
                log::warn!("WAL checkpoint failed: {e}");
                conn = None;
            }
        }
    };
    if let Err(e) = std::thread::Builder::new().name("sqlite-checkpoint".into()).spawn(run) {
        log::warn!("no checkpointer thread ({e}); writers checkpoint the WAL themselves");
    }
    tx
}

/// SQLite's one writer at a time, with the connection it writes on. The turn
/// is handed over in the order it was asked for (a fair mutex): the group
/// writer gives it up and asks again at once after every commit, and with an
/// ordinary mutex it nearly always got it back — the checkpointer, queued for
/// the turn to finish its checkpoint, waited through many commits and then
/// held the turn while it copied them all back, stalling writers. Now it
/// gets the next turn and copies the one or two commits that came in during
/// its PASSIVE pass.
type WriterTurn = std::sync::Arc<parking_lot::FairMutex<Option<AnyConnection>>>;

impl ManageConnection for Manager {
    type Connection = AnyConnection;
    type Error = r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, r2d2::Error> {
        match &self.url {
            DbUrl::Postgres(u) => PgConnection::establish(u).map(AnyConnection::Postgresql).map_err(r2d2::Error::ConnectionError),
            DbUrl::Sqlite(p) => {
                let mut c = crate::sqlite_lib::establish(p).map_err(r2d2::Error::ConnectionError)?;
                c.batch_execute(SQLITE_PRAGMAS).map_err(r2d2::Error::QueryError)?;
                Ok(AnyConnection::Sqlite(c))
            }
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), r2d2::Error> {
        conn.batch_execute("SELECT 1").map_err(r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        match conn {
            AnyConnection::Postgresql(c) => c.is_broken(),
            AnyConnection::Sqlite(c) => c.is_broken(),
        }
    }
}

pub type Pool = r2d2::Pool<Manager>;
pub type PooledConn = r2d2::PooledConnection<Manager>;

/// The pool and the backend it speaks to. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pub pool: Pool,
    pub backend: Backend,
    /// SQLite admits one writer at a time; writers of this process queue
    /// here (FIFO-ish, woken at once) instead of in SQLite's busy handler,
    /// which polls with sleeps of up to 100 ms. The turn comes with the one
    /// connection every write of this process uses: SQLite's page cache is
    /// per connection and dropped whenever another connection changed the
    /// file, so writes rotating over the pool each began with a cold cache
    /// and re-read their index pages from the file.
    sqlite_writer: Option<WriterTurn>,
    manager: Manager,
    /// SQLite: tells the checkpointer thread of each commit (see `spawn_checkpointer`).
    checkpoints: Option<std::sync::mpsc::Sender<()>>,
    /// Write transactions committed by this process (PostgreSQL), to know
    /// when to look for tables whose planner statistics went stale.
    writes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Whether such a look is under way (one at a time, holding one connection).
    analyzing: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Commits that wrote deliveries (the delivery workers wait on it).
    pub outbox: std::sync::Arc<cdp_app::store::Signal>,
}

#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub connect_timeout: Duration,
}

impl Default for DbOptions {
    fn default() -> Self {
        DbOptions { max_connections: 16, connect_timeout: Duration::from_secs(10) }
    }
}

impl Db {
    /// Opens the pool and brings the schema up to date.
    pub fn open(url: &str, opts: &DbOptions) -> StoreResult<Db> {
        let db = Db::connect(url, opts)?;
        db.migrate()?;
        Ok(db)
    }

    /// Opens the pool without touching the schema (`migrate` does that).
    pub fn connect(url: &str, opts: &DbOptions) -> StoreResult<Db> {
        let url = DbUrl::parse(url);
        let backend = url.backend();
        if let DbUrl::Sqlite(path) = &url {
            if let Some(dir) = std::path::Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Unavailable(format!("cannot create {}: {e}", dir.display())))?;
            }
        }
        let pool = r2d2::Pool::builder()
            .max_size(opts.max_connections)
            // No `SELECT 1` round trip per checkout: a broken connection is
            // noticed by `has_broken` when returned, and a failed query is an error anyway.
            .test_on_check_out(false)
            .connection_timeout(opts.connect_timeout)
            .build(Manager::new(url.clone()))
            .map_err(|e| StoreError::Unavailable(format!("{}: {e}", url.redacted())))?;
        let sqlite_writer: Option<WriterTurn> = (backend == Backend::Sqlite).then(Default::default);
        let manager = Manager::new(url.clone());
        let checkpoints = sqlite_writer.as_ref().map(|turn| spawn_checkpointer(manager.clone(), turn.clone()));
        let db = Db {
            pool,
            backend,
            sqlite_writer,
            manager,
            checkpoints,
            writes: Default::default(),
            analyzing: Default::default(),
            outbox: Default::default(),
        };
        Ok(db)
    }

    pub fn conn(&self) -> StoreResult<PooledConn> {
        Ok(self.pool.get()?)
    }

    /// Applies pending migrations, oldest first; answers the names of those
    /// it applied (`2026-11-23-000001_foundation`…).
    pub fn migrate(&self) -> StoreResult<Vec<String>> {
        fn run<C: MigrationHarness<B>, B: diesel::backend::Backend>(
            c: &mut C,
            source: EmbeddedMigrations,
        ) -> diesel::migration::Result<Vec<String>> {
            let mut applied = Vec::new();
            for m in c.pending_migrations(source)? {
                c.run_migration(&*m)?;
                applied.push(m.name().to_string());
            }
            Ok(applied)
        }
        let mut conn = self.conn()?;
        let applied = match &mut *conn {
            AnyConnection::Postgresql(c) => run(c, POSTGRES_MIGRATIONS),
            AnyConnection::Sqlite(c) => run(c, SQLITE_MIGRATIONS),
        };
        applied.map_err(|e| StoreError::Unavailable(format!("migration failed: {e}")))
    }

    /// Whether the database answers.
    pub fn ping(&self) -> StoreResult<()> {
        let mut c = self.conn()?;
        c.batch_execute("SELECT 1").map_err(StoreError::from)
    }

    /// Runs `f` in a write transaction, again when a concurrent writer made it
    /// fail in a way that a fresh attempt resolves (unique race, deadlock,
    /// serialization failure, SQLite busy). Nothing of a failed attempt stays.
    ///
    /// `f` may fail with any error a store error converts into (`TxError`),
    /// so that a use case can refuse inside its transaction with its own
    /// error; only store errors are ever retried.
    pub fn write<T, E: TxError>(&self, f: impl FnMut(&mut AnyConnection) -> Result<T, E>) -> Result<T, E> {
        self.write_locked(&[], f)
    }

    /// As `write`, holding PostgreSQL's transaction-scoped advisory locks on
    /// `keys` (sorted, once each: their one global order) from the start —
    /// taken by the message that begins the transaction, a round trip less
    /// than a statement of their own. SQLite serialises writers: `keys` are
    /// not needed there.
    pub fn write_locked<T, E: TxError>(&self, keys: &[i64], mut f: impl FnMut(&mut AnyConnection) -> Result<T, E>) -> Result<T, E> {
        const ATTEMPTS: u32 = 30;
        let mut attempt = 0;
        loop {
            attempt += 1;
            crate::repo::outbox::take_enqueued();
            let result = match &self.sqlite_writer {
                // The turn first, then the connection: waiting writers hold none.
                Some(turn) => {
                    let mut slot = turn.lock();
                    if slot.as_mut().is_none_or(|c| self.manager.has_broken(c)) {
                        *slot = None;
                        *slot = Some(
                            self.manager
                                .connect()
                                .and_then(|mut c| c.batch_execute(SQLITE_WRITER_PRAGMAS).map(|()| c).map_err(r2d2::Error::QueryError))
                                .map_err(|e| E::from(StoreError::Unavailable(format!("the SQLite writer connection: {e}"))))?,
                        );
                    }
                    write_tx(slot.as_mut().expect("connected above"), &mut f)
                }
                None => write_tx_locked(&mut *self.conn()?, keys, &mut f),
            };
            match result {
                Ok(v) => {
                    if crate::repo::outbox::take_enqueued() {
                        self.outbox.notify();
                    }
                    self.after_commit();
                    return Ok(v);
                }
                Err(e) if e.retryable() && attempt < ATTEMPTS => {
                    log::debug!("retrying write transaction (attempt {attempt}): {}", e.describe());
                    // Back off a little, with jitter, so that colliding writers part ways.
                    let cap = 2u64.saturating_pow(attempt.min(7));
                    std::thread::sleep(Duration::from_micros(200 + rand::random::<u64>() % (cap * 250)));
                }
                Err(e) if e.retryable() => return Err(E::from(StoreError::GaveUp(format!("after {attempt} attempts: {}", e.describe())))),
                Err(e) => return Err(e),
            }
        }
    }

    /// Tables start empty and grow fast; until autovacuum's next round (a
    /// minute by default) PostgreSQL plans them without statistics, and its
    /// default selectivities turn `= ANY(…)` lookups of a few hundred keys into
    /// whole-table scans — plans that diesel's prepared statements then keep
    /// (an ANALYZE invalidates them). So after the 4th, 8th, 16th… and then every 1024th
    /// write, a short-lived thread analyzes the tables that have doubled or
    /// changed by more than a fifth since their last analysis. The answer
    /// never waits for it.
    fn after_commit(&self) {
        use std::sync::atomic::Ordering;
        if let Some(tx) = &self.checkpoints {
            // The thread may be gone (it could not start): writers checkpoint themselves.
            let _ = tx.send(());
        }
        if self.backend != Backend::Postgres {
            return;
        }
        let n = self.writes.fetch_add(1, Ordering::Relaxed) + 1;
        if n < 4 || !(n.is_power_of_two() || n.is_multiple_of(1024)) || self.analyzing.swap(true, Ordering::AcqRel) {
            return;
        }
        let db = self.clone();
        std::thread::spawn(move || {
            if let Err(e) = db.read(analyze_stale) {
                log::warn!("refreshing planner statistics failed: {e}");
            }
            db.analyzing.store(false, Ordering::Release);
        });
    }

    /// Runs `f` on a pooled connection: what it reads must not be written.
    /// PostgreSQL: without a transaction (BEGIN and COMMIT would be two more
    /// round trips). SQLite: inside one read transaction, so its statements
    /// see one snapshot and the connection looks at the WAL once: a SQLite
    /// connection drops its whole page cache when it starts a read transaction
    /// after any other connection committed, which under ingestion is every
    /// time — per statement when each statement was its own transaction
    /// (a profile view is 3–4 of them).
    pub fn read<T, E: TxError>(&self, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E> {
        let mut conn = self.conn()?;
        match &mut *conn {
            AnyConnection::Sqlite(c) => {
                AnsiTransactionManager::begin_transaction(c).map_err(StoreError::from)?;
                let result = f(&mut conn);
                let end = match result {
                    Ok(_) => <AnyConnection as Connection>::TransactionManager::commit_transaction(&mut conn),
                    Err(_) => <AnyConnection as Connection>::TransactionManager::rollback_transaction(&mut conn),
                };
                match (result, end) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(StoreError::from(e).into()),
                    (Err(e), _) => Err(e),
                }
            }
            AnyConnection::Postgresql(_) => f(&mut conn),
        }
    }

    /// Runs `f` on a pooled connection without a transaction on either
    /// backend: for a read of one statement (which sees one snapshot by
    /// itself), where `read`'s BEGIN and COMMIT on SQLite are two more
    /// statements than the work.
    pub fn read_statement<T, E: TxError>(&self, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E> {
        f(&mut *self.conn()?)
    }
}

/// ANALYZE of the tables (of this schema) that have grown to more than twice
/// their size at their last analysis (and 8 pages), or changed by more than a
/// fifth (and 500 rows) since; answers their names. The size is the file's,
/// read as it is now: the activity counters lag — a backend reports them at
/// most once a second — and a new table doubles many times in its first second.
pub fn analyze_stale(conn: &mut AnyConnection) -> StoreResult<Vec<String>> {
    #[derive(diesel::QueryableByName)]
    struct Stale {
        #[diesel(sql_type = diesel::sql_types::Text)]
        relname: String,
    }
    let AnyConnection::Postgresql(pg) = conn else { return Ok(Vec::new()) };
    let stale: Vec<Stale> = diesel::RunQueryDsl::load(
        diesel::sql_query(
            "SELECT s.relname::text AS relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
             WHERE s.schemaname = current_schema() \
             AND (pg_relation_size(c.oid) / current_setting('block_size')::bigint > 2 * GREATEST(c.relpages, 4) \
                  OR (s.n_mod_since_analyze > 500 \
                      AND s.n_mod_since_analyze > 0.2 * GREATEST(s.n_live_tup - s.n_mod_since_analyze, 0)))",
        ),
        pg,
    )?;
    let mut names = Vec::with_capacity(stale.len());
    for t in stale {
        // Names come from the catalogue; quoted all the same.
        pg.batch_execute(&format!("ANALYZE \"{}\"", t.relname.replace('"', "\"\"")))?;
        log::debug!("analyzed {}", t.relname);
        names.push(t.relname);
    }
    Ok(names)
}

/// One write transaction: `BEGIN IMMEDIATE` on SQLite (so that writers queue
/// on busy_timeout instead of failing on lock upgrade), `BEGIN` on PostgreSQL.
pub fn write_tx<T, E: TxError>(conn: &mut AnyConnection, f: impl FnOnce(&mut AnyConnection) -> Result<T, E>) -> Result<T, E> {
    write_tx_locked(conn, &[], f)
}

/// As `write_tx`; on PostgreSQL the transaction begins holding advisory locks
/// on `keys` (see `Db::write_locked`).
fn write_tx_locked<T, E: TxError>(
    conn: &mut AnyConnection,
    keys: &[i64],
    f: impl FnOnce(&mut AnyConnection) -> Result<T, E>,
) -> Result<T, E> {
    match conn {
        AnyConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE").map_err(StoreError::from)?,
        AnyConnection::Postgresql(c) if keys.is_empty() => AnsiTransactionManager::begin_transaction(c).map_err(StoreError::from)?,
        AnyConnection::Postgresql(c) => {
            if let Err(e) = AnsiTransactionManager::begin_transaction_sql(c, &begin_locking(keys)) {
                // BEGIN may have run and the locks failed (a deadlock, a
                // timeout): the session is then in an aborted transaction
                // that diesel does not know of.
                let _ = c.batch_execute("ROLLBACK");
                return Err(StoreError::from(e).into());
            }
        }
    }
    match f(conn) {
        Ok(v) => {
            <AnyConnection as Connection>::TransactionManager::commit_transaction(conn).map_err(StoreError::from)?;
            Ok(v)
        }
        Err(e) => {
            if let Err(rb) = <AnyConnection as Connection>::TransactionManager::rollback_transaction(conn) {
                log::warn!("rollback failed: {rb}");
            }
            Err(e)
        }
    }
}

/// `BEGIN`, the planner settings of ingestion, and the advisory locks on
/// `keys` in their order, as one message of four statements (simple
/// protocol; the keys are integers written out).
///
/// Ingestion's statements take arrays (`= ANY($1)`, `unnest($1, …)`), and
/// under the default `plan_cache_mode` PostgreSQL judged their generic plans
/// dearer than custom ones and planned them afresh at every execution.
/// So ingestion's transactions use generic plans (`SET LOCAL`: the
/// connection's other work keeps its custom plans), planned once per
/// connection and again when an ANALYZE invalidates them. A generic plan
/// made while a table was nearly empty scanned it whole, and kept doing so
/// after it grew until the next ANALYZE of that table; every statement of
/// ingestion looks rows up by key, so sequential scans are off for them
/// (`enable_seqscan` only penalises: a table with no usable index is still
/// scanned). That penalty makes a small table without a usable index (the
/// destinations) cost billions in the planner's eyes, past the threshold at
/// which PostgreSQL compiles a statement with JIT — tens of milliseconds per
/// execution for a read of a few rows — so JIT is off for them too.
fn begin_locking(keys: &[i64]) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(180 + keys.len() * 21);
    sql.push_str(
        "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; SET LOCAL jit = off; \
         SELECT pg_advisory_xact_lock(k) FROM unnest('{",
    );
    for (n, k) in keys.iter().enumerate() {
        if n > 0 {
            sql.push(',');
        }
        let _ = write!(sql, "{k}");
    }
    sql.push_str("}'::bigint[]) AS k ORDER BY k");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transaction_begins_with_its_locks_in_one_message() {
        assert_eq!(
            begin_locking(&[i64::MIN, -1, 7]),
            "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan; SET LOCAL enable_seqscan = off; SET LOCAL jit = off; \
             SELECT pg_advisory_xact_lock(k) FROM unnest('{-9223372036854775808,-1,7}'::bigint[]) AS k ORDER BY k"
        );
    }

    #[test]
    fn urls_pick_their_backend() {
        assert_eq!(DbUrl::parse("cdp.sqlite3"), DbUrl::Sqlite("cdp.sqlite3".into()));
        assert_eq!(DbUrl::parse("sqlite:///tmp/x.db"), DbUrl::Sqlite("/tmp/x.db".into()));
        assert_eq!(DbUrl::parse("sqlite://data/x.db").backend(), Backend::Sqlite);
        assert_eq!(DbUrl::parse("postgresql://u:p@h/db").backend(), Backend::Postgres);
        assert_eq!(DbUrl::parse("postgres://cdp:secret@localhost:5432/cdp").redacted(), "postgres://cdp:***@localhost:5432/cdp");
    }

    #[test]
    fn migration_versions_match_across_backends() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(format!("{}/../../migrations/{dir}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            v.sort();
            v
        };
        let (s, p) = (names("sqlite"), names("postgres"));
        assert!(!s.is_empty());
        assert_eq!(s, p, "migrations/sqlite and migrations/postgres must hold the same versions");
    }
}
