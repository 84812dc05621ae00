//! Test support: a real `cdp` server on a free port over a fresh database of
//! the backend the environment selects, and a small blocking HTTP client.
//!
//! `CDP_TEST_DATABASE=sqlite` (default) or `postgres`; with postgres,
//! `CDP_TEST_POSTGRES_URL` names a server where databases may be created
//! (each test gets its own).

use cdp::{Application, Settings};
use cdp_domain::auth::{Grants, Scope};
use diesel::{Connection, RunQueryDsl};
use serde_json::Value;
use std::sync::mpsc;
use std::time::Duration;

pub use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    Postgres,
}

pub fn backend() -> TestBackend {
    match std::env::var("CDP_TEST_DATABASE").as_deref() {
        Ok("postgres") => TestBackend::Postgres,
        Ok("sqlite") | Err(_) => TestBackend::Sqlite,
        Ok(other) => panic!("CDP_TEST_DATABASE must be sqlite or postgres, not {other}"),
    }
}

/// A fresh, empty database URL for one test.
pub fn fresh_database() -> (String, Option<tempfile_dir::TempDir>) {
    match backend() {
        TestBackend::Sqlite => {
            let dir = tempfile_dir::TempDir::new();
            let url = format!("sqlite://{}/cdp.sqlite3", dir.path());
            (url, Some(dir))
        }
        TestBackend::Postgres => {
            let admin = std::env::var("CDP_TEST_POSTGRES_URL").expect("CDP_TEST_POSTGRES_URL must be set when CDP_TEST_DATABASE=postgres");
            let name = format!("cdp_test_{}", uuid::Uuid::now_v7().simple());
            let mut conn = diesel::PgConnection::establish(&admin).expect("connect to the PostgreSQL test server");
            diesel::sql_query(format!("CREATE DATABASE {name}")).execute(&mut conn).expect("create test database");
            let (base, _) = admin.rsplit_once('/').expect("CDP_TEST_POSTGRES_URL ends with /dbname");
            (format!("{base}/{name}"), None)
        }
    }
}

/// A temporary directory removed on drop (std only).
pub mod tempfile_dir {
    pub struct TempDir(std::path::PathBuf);
    impl TempDir {
        pub fn new() -> TempDir {
            let p = std::env::temp_dir().join(format!("cdp-test-{}", uuid::Uuid::now_v7().simple()));
            std::fs::create_dir_all(&p).expect("create temp dir");
            TempDir(p)
        }
        pub fn path(&self) -> String {
            self.0.display().to_string()
        }
    }
    impl Default for TempDir {
        fn default() -> Self {
            Self::new()
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub admin_key: String,
    pub db: cdp_store::Db,
    pub database_url: String,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile_dir::TempDir>,
}

pub const TEST_JWT_SECRET: &str = "test-secret-that-is-long-enough-0123456789";

impl TestApp {
    pub fn spawn() -> TestApp {
        Self::spawn_with(|_| {})
    }

    pub fn spawn_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
        env_logger_init();
        let (url, dir) = fresh_database();
        let mut settings = Settings {
            database_url: url.clone(),
            bind: "127.0.0.1:0".into(),
            jwt_secret: Some(TEST_JWT_SECRET.into()),
            db_pool_size: Some(8),
            workers: Some(2),
            ..Settings::default()
        };
        tweak(&mut settings);
        let (tx, rx) = mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                match Application::build(&settings) {
                    Ok(app) => {
                        tx.send(Ok((app.port(), app.handle(), app.db.clone()))).unwrap();
                        let _ = app.run_until_stopped().await;
                    }
                    Err(e) => tx.send(Err(e.to_string())).unwrap(),
                }
            })
        });
        let (port, handle, db) = rx.recv_timeout(Duration::from_secs(60)).expect("server thread answers").expect("server starts");
        let admin_key = db.write(|c| cdp_app::keys::issue(c, "test admin", &Grants::new(vec![Scope::Admin]), None)).expect("admin key").1;
        TestApp { base: format!("http://127.0.0.1:{port}"), admin_key, db, database_url: url, handle, thread: Some(thread), _dir: dir }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// A key with the given scopes (and source).
    pub fn key(&self, scopes: &[Scope], source: Option<&str>) -> String {
        self.db.write(|c| cdp_app::keys::issue(c, "test key", &Grants::new(scopes.to_vec()), source)).expect("key").1
    }

    /// Creates a source through the API; returns (source id, write key).
    pub fn source(&self, name: &str, channel: &str) -> (String, String) {
        let r = self.post("/api/v1/sources", &self.admin_key, json!({"name": name, "channel": channel}));
        assert_eq!(r.status, 201, "{}", r.body);
        (r.body["id"].as_str().unwrap().to_string(), r.body["write_key"].as_str().unwrap().to_string())
    }

    pub fn get(&self, path: &str, key: &str) -> Resp {
        send(ureq::get(&self.url(path)).set("X-Api-Key", key), None)
    }

    pub fn post(&self, path: &str, key: &str, body: Value) -> Resp {
        send(ureq::post(&self.url(path)).set("X-Api-Key", key), Some(body))
    }

    /// Any method with a JSON body (PUT, PATCH…).
    pub fn send_json(&self, method: &str, path: &str, key: &str, body: Value) -> Resp {
        send(ureq::request(method, &self.url(path)).set("X-Api-Key", key), Some(body))
    }

    /// Sends one event with a key; asserts it was accepted or a duplicate.
    pub fn event(&self, key: &str, body: Value) -> Value {
        let r = self.post("/api/v1/events", key, body);
        assert_eq!(r.status, 202, "{}", r.body);
        r.body
    }

    /// The live profile holding an identity, asked with `key`.
    pub fn lookup_with(&self, key: &str, kind: &str, value: &str) -> Resp {
        self.get(&format!("/api/v1/profiles/lookup?type={kind}&value={}", enc(value)), key)
    }

    /// The live profile holding an identity.
    pub fn lookup(&self, kind: &str, value: &str) -> Resp {
        self.lookup_with(&self.admin_key, kind, value)
    }

    pub fn count_live_profiles(&self) -> i64 {
        self.db.read(cdp_store::repo::profiles::count_live).unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // PostgreSQL: the test's database goes too (runs left thousands behind).
        if let (TestBackend::Postgres, Ok(admin)) = (backend(), std::env::var("CDP_TEST_POSTGRES_URL")) {
            if let (Some((_, name)), Ok(mut conn)) = (self.database_url.rsplit_once('/'), diesel::PgConnection::establish(&admin)) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut conn);
            }
        }
    }
}

/// Runs `f(0)`, …, `f(n - 1)` on `n` threads at once; their results, in thread order.
pub fn in_parallel<T: Send>(n: usize, f: impl Fn(usize) -> Vec<T> + Sync) -> Vec<T> {
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|w| {
                let f = &f;
                s.spawn(move || f(w))
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    })
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: Vec<(String, String)>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// The error code of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

pub fn send(req: ureq::Request, body: Option<Value>) -> Resp {
    let res = match body {
        Some(b) => req.send_json(b),
        None => req.call(),
    };
    into_resp(res)
}

pub fn send_raw(req: ureq::Request, body: &[u8]) -> Resp {
    into_resp(req.send_bytes(body))
}

fn into_resp(res: Result<ureq::Response, ureq::Error>) -> Resp {
    let r = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("transport error: {e}"),
    };
    let status = r.status();
    let headers = r.headers_names().into_iter().filter_map(|n| r.header(&n).map(|v| (n.clone(), v.to_string()))).collect();
    let text = r.into_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Resp { status, body, headers }
}

fn env_logger_init() {
    // Tests log only when asked (RUST_LOG=…).
    let _ = env_logger::builder().is_test(true).try_init();
}

/// (year, month, day) of a day count since 1970-01-01 (proleptic Gregorian).
pub fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// RFC 3339 (`Z`) of seconds since the epoch.
pub fn iso(secs: i64) -> String {
    let (y, m, d) = civil(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", s / 3600, s % 3600 / 60, s % 60)
}

/// Every row of the tables ingestion writes names a live profile (one not
/// merged away): merges move them, and PostgreSQL no longer checks them by
/// foreign key (migration 14).
pub fn assert_rows_belong_to_live_profiles(app: &TestApp) {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    for table in
        ["events", "identities", "orders", "purchase_days", "purchase_summaries", "loyalty_ledger", "loyalty_accounts", "consent_state"]
    {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM {table} t WHERE NOT EXISTS \
             (SELECT 1 FROM profiles p WHERE p.id = t.profile_id AND p.merged_into IS NULL)"
        );
        let n = app
            .db
            .read(|c| {
                Ok::<_, cdp_store::StoreError>(
                    cdp_store::per_backend!(c, |x| diesel::sql_query(&sql).load::<N>(x))?.first().map_or(0, |r| r.n),
                )
            })
            .unwrap();
        assert_eq!(n, 0, "{table}: rows of missing or merged-away profiles");
    }
}

/// The webhook receiver of tests/receiver/receiver.py, in a process of its
/// own: verifies signatures with the `standardwebhooks` package and answers
/// 500s, hangs or 200s as configured. Killed when dropped.
pub struct Receiver {
    child: std::process::Child,
    pub port: u16,
}

impl Receiver {
    pub fn start() -> Receiver {
        use std::io::BufRead;
        let root = env!("CARGO_MANIFEST_DIR");
        let env = std::process::Command::new(format!("{root}/scripts/receiver-env")).output().expect("scripts/receiver-env runs");
        assert!(env.status.success(), "installing standardwebhooks failed: {}", String::from_utf8_lossy(&env.stderr));
        let python = String::from_utf8(env.stdout).unwrap().trim().to_string();
        let mut child = std::process::Command::new(python)
            .arg(format!("{root}/tests/receiver/receiver.py"))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("the receiver starts");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the receiver says its port");
        let port = line.trim().strip_prefix("listening on ").and_then(|p| p.parse().ok()).expect("listening on PORT");
        Receiver { child, port }
    }

    /// Where deliveries go.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// The secret to verify with, and how often to answer 500 and to hang.
    pub fn configure(&self, secret: &str, fail: f64, hang: f64, hang_seconds: f64) {
        let body = serde_json::json!({"secret": secret, "fail": fail, "hang": hang, "hang_seconds": hang_seconds});
        let r = send(ureq::put(&format!("http://127.0.0.1:{}/config", self.port)), Some(body));
        assert_eq!(r.status, 200);
    }

    pub fn stats(&self) -> Value {
        send(ureq::get(&format!("http://127.0.0.1:{}/stats", self.port)), None).body
    }

    /// The stats once `count` distinct deliveries were answered 200 (or the timeout passed).
    pub fn wait_for(&self, count: usize, timeout_seconds: u64) -> Value {
        let url = format!("http://127.0.0.1:{}/wait?count={count}&timeout={timeout_seconds}", self.port);
        send(ureq::get(&url).timeout(Duration::from_secs(timeout_seconds + 10)), None).body
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Checks `f` until it answers `Some` (every 20 ms, at most `seconds`): for
/// state that settles after an answer was already seen elsewhere.
pub fn eventually<T>(seconds: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + Duration::from_secs(seconds);
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "the condition did not hold within {seconds} s");
        std::thread::sleep(Duration::from_millis(20));
    }
}
