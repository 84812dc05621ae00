//! Scratch databases for the benchmarks (a temporary SQLite file, or a new
//! database on the PostgreSQL server given, dropped afterwards), and bulk
//! loading into them.

use crate::Backend;
use diesel::{Connection, RunQueryDsl};

pub struct Scratch {
    pub url: String,
    drop_with: Option<(String, String)>,
    _dir: Option<std::path::PathBuf>,
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("CDP_BENCH_KEEP").is_some() {
            eprintln!("kept the scratch database {} (CDP_BENCH_KEEP)", self.url);
            return;
        }
        if let Some((admin, name)) = &self.drop_with {
            if let Ok(mut c) = diesel::PgConnection::establish(admin) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut c);
            }
        }
        if let Some(d) = &self._dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

pub fn scratch_database(backend: Backend, postgres_url: Option<String>) -> Scratch {
    let tag = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    match backend {
        Backend::Sqlite => {
            let dir = std::env::temp_dir().join(format!("cdp-bench-{tag}"));
            std::fs::create_dir_all(&dir).unwrap();
            Scratch { url: format!("sqlite://{}/bench.sqlite3", dir.display()), drop_with: None, _dir: Some(dir) }
        }
        Backend::Postgres => {
            let admin = postgres_url.expect("--postgres-url (or CDP_BENCH_POSTGRES_URL) is required for --backend postgres");
            let name = format!("cdp_bench_{tag}");
            let mut c = diesel::PgConnection::establish(&admin).expect("connect to PostgreSQL");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut c).expect("create the scratch database");
            let (base, _) = admin.rsplit_once('/').expect("the URL ends with /dbname");
            Scratch { url: format!("{base}/{name}"), drop_with: Some((admin.clone(), name)), _dir: None }
        }
    }
}

/// After a bulk load: planner statistics and, on PostgreSQL, the hint bits and
/// visibility map a database in steady state has (VACUUM) — otherwise
/// autovacuum, woken by the million new rows, works through the tables in
/// the middle of the timed part.
pub fn settle(url: &str) {
    if url.starts_with("postgres") {
        let mut c = diesel::PgConnection::establish(url).expect("connect");
        diesel::sql_query("VACUUM ANALYZE").execute(&mut c).expect("VACUUM ANALYZE");
    } else {
        let path = url.trim_start_matches("sqlite://");
        let mut c = diesel::SqliteConnection::establish(path).expect("open");
        diesel::sql_query("ANALYZE").execute(&mut c).expect("ANALYZE");
    }
}

/// Inserts profile rows (SQL value tuples of all 16 columns, drained) and then
/// `also` (another statement, if any) in one write transaction: the bulk
/// loaders of the segment and value benchmarks.
pub fn insert_profiles(db: &cdp_store::Db, profiles: &mut Vec<String>, also: Option<String>) {
    let p = format!(
        "INSERT INTO profiles (id, merged_into, user_id, traits, trait_times, channels, first_seen_at, last_seen_at, event_count, \
         created_at, updated_at, orders_count, revenue_total, margin_total, first_order_at, last_order_at) VALUES {}",
        profiles.join(",")
    );
    db.write(|conn| {
        cdp_store::per_backend!(&mut *conn, |x| diesel::sql_query(&p).execute(x))?;
        if let Some(a) = &also {
            cdp_store::per_backend!(&mut *conn, |x| diesel::sql_query(a).execute(x))?;
        }
        Ok::<_, cdp_store::StoreError>(())
    })
    .expect("load");
    profiles.clear();
}
