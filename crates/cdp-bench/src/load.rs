//! Ingestion and read load against a `cdp` server in its own process, so that
//! its memory (RSS) is measured apart from the load generator's.
//!
//! The server is this binary re-run as `cdp-bench serve` (the same
//! `cdp::Application` the `cdp` binary runs); the load comes from client
//! threads with keep-alive connections; latencies go into HDR histograms.

use crate::{scratch_database, Backend};
use cdp::{Application, Settings};
use cdp_domain::auth::{Grants, Scope};
use hdrhistogram::Histogram;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The server side: runs the API on a free port over `url` and prints `port=N`.
pub fn serve(url: &str) {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).format_timestamp_millis().init();
    let mut settings = Settings {
        database_url: url.to_string(),
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("bench-secret-bench-secret-bench-secret!".into()),
        // As `cdp` reads it: HTTP worker threads (default: one per core).
        workers: std::env::var("CDP_WORKERS").ok().and_then(|w| w.parse().ok()),
        ..Settings::default()
    };
    if let Ok(n) = std::env::var("CDP_DELIVERY_CONCURRENCY") {
        settings.delivery.concurrency = n.parse().expect("CDP_DELIVERY_CONCURRENCY");
    }
    // The load comes from one key: the per-key limit would measure itself.
    settings.limits.rate_per_key = 0.0;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(&settings).expect("server starts");
        println!("port={}", app.port());
        let _ = app.run_until_stopped().await;
    })
}

/// A `cdp` server process; killed when dropped.
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(url: &str) -> Server {
        let exe = std::env::current_exe().expect("own path");
        let mut child = Command::new(exe)
            .args(["serve", "--database-url", url])
            .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server process");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).expect("the server's port");
        let port: u16 = line.trim().strip_prefix("port=").and_then(|p| p.parse().ok()).expect("port=N from the server");
        Server { child, base: format!("http://127.0.0.1:{port}") }
    }

    /// (current, peak) resident memory of the server process, in MiB.
    pub fn rss_mib(&self) -> (f64, f64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
                .map(|kb| kb / 1024.0)
                .unwrap_or(f64::NAN)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// CPU seconds (user + system, all threads) the server process used so
    /// far: less at the mercy of a shared machine's speed than wall time.
    /// Clock ticks of 1/100 s (`CLK_TCK` on Linux).
    pub fn cpu_seconds(&self) -> f64 {
        process_cpu_seconds(self.child.id())
    }
}

/// CPU seconds (user + system, all threads) process `pid` used so far.
pub fn process_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(f64::NAN)).collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after ')'.
    (f.get(11).copied().unwrap_or(f64::NAN) + f.get(12).copied().unwrap_or(f64::NAN)) / 100.0
}

/// The machine's CPU ticks so far (the first line of `/proc/stat`): user
/// nice system idle iowait irq softirq steal …
fn machine_ticks() -> Vec<f64> {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines().next().unwrap_or("").split_whitespace().skip(1).map(|x| x.parse().unwrap_or(0.0)).collect()
}

/// CPU seconds the whole machine spent busy so far (user, system, interrupts;
/// not idle, I/O wait or steal), from `/proc/stat`: with PostgreSQL it counts
/// the database's work too (and the load generator's), so per event it
/// compares two builds even when the machine's speed drifts between runs.
pub fn machine_busy_seconds() -> f64 {
    let ticks = machine_ticks();
    [0, 1, 2, 5, 6].iter().map(|&i| ticks.get(i).copied().unwrap_or(0.0)).sum::<f64>() / 100.0
}

/// CPU seconds the hypervisor gave to others while this virtual machine
/// wanted them (steal), so far: a run with more steal ran on a slower machine.
pub fn machine_steal_seconds() -> f64 {
    machine_ticks().get(7).copied().unwrap_or(0.0) / 100.0
}

/// Steal as a percentage of the machine's CPU time over `wall` seconds since `before`.
pub fn steal_pct(before: f64, wall: f64) -> f64 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    100.0 * (machine_steal_seconds() - before) / (wall * cpus)
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Latencies in microseconds, 1 µs to 10 min at 3 significant digits.
pub struct Hist(Histogram<u64>);

impl Hist {
    pub fn new() -> Hist {
        Hist(Histogram::new_with_bounds(1, 600_000_000, 3).unwrap())
    }

    /// Adds `other`'s samples.
    pub fn merge(&mut self, other: &Hist) {
        self.0.add(&other.0).expect("histograms of the same bounds");
    }
    pub fn record(&mut self, d: Duration) {
        self.0.saturating_record(d.as_micros() as u64);
    }
    pub fn add(&mut self, other: &Hist) {
        self.0.add(&other.0).unwrap();
    }
    pub fn count(&self) -> u64 {
        self.0.len()
    }
    /// The latency at quantile `q`, in ms.
    pub fn ms(&self, q: f64) -> f64 {
        self.0.value_at_quantile(q) as f64 / 1e3
    }
    /// p50, p90, p99, p99.9 and max, in ms.
    pub fn summary(&self) -> String {
        self.summary_as("")
    }
    pub fn summary_as(&self, prefix: &str) -> String {
        let q = |p: f64| self.ms(p);
        format!(
            "{prefix}p50_ms={:.2} {prefix}p90_ms={:.2} {prefix}p99_ms={:.2} {prefix}p999_ms={:.2} {prefix}max_ms={:.2}",
            q(0.5),
            q(0.9),
            q(0.99),
            q(0.999),
            self.0.max() as f64 / 1e3
        )
    }
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// POST /api/v1/events/batch with `--batch` events per request.
    Batch,
    /// POST /api/v1/events, one event per request.
    Single,
}

pub struct IngestArgs {
    pub backend: Backend,
    pub postgres_url: Option<String>,
    pub events: usize,
    pub mode: Mode,
    pub batch: usize,
    pub clients: usize,
    pub returning: f64,
    pub seed: u64,
    /// Batch mode: also measure the floor (`crate::floor`).
    pub floor: bool,
    /// Identity rules off: no limits, no blocked values or placeholders.
    pub rules_off: bool,
}

pub(crate) fn issue(db: &cdp_store::Db, scope: Scope) -> String {
    db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![scope]), None)).unwrap().1
}

pub(crate) fn bench_db(url: &str) -> cdp_store::Db {
    cdp_store::Db::open(url, &cdp_store::DbOptions { max_connections: 2, ..Default::default() }).expect("open the scratch database")
}

/// What a run of requests measured.
struct Run {
    took: Duration,
    hist: Hist,
    /// Events per second in each tenth of the run (by request order).
    deciles: Vec<f64>,
    accepted: usize,
}

/// What `send_all` reads of an answer: a batch's count (a single event's answer has none).
#[derive(serde::Deserialize)]
struct Answer {
    accepted: Option<usize>,
}

/// Sends `bodies` to `path` on `base` from `clients` threads, each taking the next body
/// in order; `events_in` says how many events a body holds.
fn send_all(base: &str, path: &str, key: &str, bodies: &[String], events_in: impl Fn(usize) -> usize + Sync, clients: usize) -> Run {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<(usize, Instant)>> = Mutex::new(Vec::with_capacity(bodies.len()));
    let started = Instant::now();
    let results: Vec<(Hist, usize)> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..clients)
            .map(|_| {
                let (next, done) = (&next, &done);
                s.spawn(move || {
                    let mut conn = crate::http::Conn::new(base, Duration::from_secs(120));
                    let (mut hist, mut accepted, mut finished) = (Hist::new(), 0usize, Vec::new());
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(body) = bodies.get(i) else { break };
                        let t = Instant::now();
                        let status = conn.send("POST", path, key, Some(body.as_bytes())).unwrap_or_else(|e| panic!("request failed: {e}"));
                        if !(200..300).contains(&status) {
                            panic!("request refused: {status} {}", String::from_utf8_lossy(&conn.body));
                        }
                        let answer: Answer = serde_json::from_slice(&conn.body).expect("a JSON answer");
                        accepted += match answer.accepted {
                            Some(n) => n,
                            None if status == 202 => 1,
                            None => 0,
                        };
                        hist.record(t.elapsed());
                        finished.push((i, Instant::now()));
                    }
                    done.lock().unwrap().extend(finished);
                    (hist, accepted)
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let took = started.elapsed();
    let mut hist = Hist::new();
    let mut accepted = 0;
    for (h, a) in &results {
        hist.add(h);
        accepted += a;
    }
    let mut done = done.into_inner().unwrap();
    done.sort_by_key(|d| d.0);
    let tenth = (done.len() / 10).max(1);
    let mut deciles = Vec::new();
    let mut prev = started;
    for chunk in done.chunks(tenth) {
        let end = chunk.iter().map(|d| d.1).max().unwrap();
        let events: usize = chunk.iter().map(|d| events_in(d.0)).sum();
        deciles.push(events as f64 / end.saturating_duration_since(prev).as_secs_f64().max(1e-9));
        prev = end;
    }
    Run { took, hist, deciles, accepted }
}

/// What `ingest` measured, for `report`.
pub struct IngestReport {
    pub events_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub server_cpu_us_per_event: f64,
    /// The whole machine's busy CPU per event (server, database, load generator).
    pub machine_cpu_us_per_event: f64,
    pub peak_rss_mib: f64,
    /// CPU steal during the run, % of the machine.
    pub steal_pct: f64,
    /// PostgreSQL: COPY rows/s of the same events, and events/s over it.
    pub copy: Option<(f64, f64)>,
    /// Batch mode: the floor's events/s (every row the run wrote, written
    /// again with nothing else to do) and events/s over it.
    pub floor: Option<(f64, f64)>,
}

pub fn ingest(a: IngestArgs) -> IngestReport {
    ingest_with_destinations(a, 0, &[]).3
}

/// As `ingest`, with `destinations` destinations subscribed to `events`,
/// all posting to one fast local receiver: answers the
/// events/s, the deliveries written, and deliveries/s from the first event
/// sent to the last delivery received.
pub fn ingest_with_destinations(a: IngestArgs, destinations: usize, events: &[&str]) -> (f64, usize, f64, IngestReport) {
    let scratch = scratch_database(a.backend, a.postgres_url.clone());
    let server = Server::start(&scratch.url);
    let db = bench_db(&scratch.url);
    let key = issue(&db, Scope::EventsWrite);
    let rx = crate::receiver::Receiver::start();
    if destinations > 0 {
        let admin = issue(&db, Scope::Admin);
        for n in 0..destinations {
            let body = serde_json::json!({"name": format!("d{n}"), "url": rx.url(), "events": events}).to_string();
            let mut c = crate::http::Conn::new(&server.base, Duration::from_secs(30));
            assert_eq!(c.send("POST", "/api/v1/destinations", &admin, Some(body.as_bytes())).unwrap(), 201);
        }
        // The supervisor starts the destinations' workers within its poll interval.
        std::thread::sleep(Duration::from_millis(1500));
    }
    let started = Instant::now();
    if a.rules_off {
        db.write(|c| cdp_store::repo::identity::save_rules(c, r#"{"types":{},"blocked":[],"placeholders":false}"#, 0, "bench")).unwrap();
    }

    eprintln!("generating {} events…", a.events);
    let (path, per) = match a.mode {
        Mode::Batch => ("/api/v1/events/batch", a.batch.max(1)),
        Mode::Single => ("/api/v1/events", 1),
    };
    let (bodies, people) = crate::traffic::bodies(a.events, (a.mode == Mode::Batch).then_some(per), a.returning, a.seed);
    let total = a.events;
    eprintln!("{} requests, {people} distinct people, {} clients", bodies.len(), a.clients);
    let (cpu_before, machine_before, steal_before) = (server.cpu_seconds(), machine_busy_seconds(), machine_steal_seconds());
    let run = send_all(&server.base, path, &key, &bodies, |i| per.min(total - i * per), a.clients);
    let cpu_us = (server.cpu_seconds() - cpu_before) * 1e6 / a.events as f64;
    let written: i64 = db
        .read(|c| {
            use diesel::{QueryDsl, RunQueryDsl};
            Ok::<_, cdp_store::StoreError>(cdp_store::schema::deliveries::table.count().get_result(c)?)
        })
        .unwrap();
    let drained = crate::receiver::drained(&rx, written as usize, started);
    let deliveries_per_s = written as f64 / drained.as_secs_f64();
    let machine_us = (machine_busy_seconds() - machine_before) * 1e6 / a.events as f64;
    let steal = steal_pct(steal_before, run.took.as_secs_f64());
    let (_, peak) = server.rss_mib();
    let profiles = db.read(cdp_store::repo::profiles::count_live).unwrap();
    let rate = run.accepted as f64 / run.took.as_secs_f64();
    let growth = run.deciles.last().unwrap_or(&0.0) / run.deciles.first().unwrap_or(&1.0);
    let mode = if a.mode == Mode::Batch { format!("batch={}", a.batch) } else { "single".into() };
    println!(
        "backend={} {mode} clients={} events={} seconds={:.2} events_per_s={rate:.0} {} server_peak_rss_mib={peak:.0} \
         server_cpu_us_per_event={cpu_us:.0} machine_cpu_us_per_event={machine_us:.0} machine_steal_pct={steal:.1} \
         profiles={profiles} last_tenth_vs_first={growth:.2}",
        a.backend.name(),
        a.clients,
        run.accepted,
        run.took.as_secs_f64(),
        run.hist.summary(),
    );
    println!("events_per_s_by_tenth={}", run.deciles.iter().map(|d| format!("{d:.0}")).collect::<Vec<_>>().join(","));
    assert_eq!(run.accepted, a.events, "every event accepted");
    let copy = (a.backend == Backend::Postgres).then(|| {
        let copy = copy_rate(&scratch.url);
        println!("postgres_copy_rows_per_s={copy:.0} ingest_vs_copy={:.2}", rate / copy);
        (copy, rate / copy)
    });
    drop(server);
    let floor = (a.floor && a.mode == Mode::Batch).then(|| {
        let f = match a.backend {
            Backend::Postgres => crate::floor::postgres(&scratch.url, a.events),
            Backend::Sqlite => {
                let path = scratch.url.strip_prefix("sqlite://").unwrap_or(&scratch.url);
                crate::floor::sqlite(path, a.events, a.clients * per)
            }
        };
        println!("floor_rows={} floor_events_per_s={:.0} ingest_vs_floor={:.2}", f.rows, f.events_per_s, rate / f.events_per_s);
        (f.events_per_s, rate / f.events_per_s)
    });
    let report = IngestReport {
        events_per_s: rate,
        p50_ms: run.hist.ms(0.5),
        p99_ms: run.hist.ms(0.99),
        server_cpu_us_per_event: cpu_us,
        machine_cpu_us_per_event: machine_us,
        peak_rss_mib: peak,
        steal_pct: steal,
        copy,
        floor,
    };
    (rate, written as usize, deliveries_per_s, report)
}

/// Rows/s of `COPY` of the events just ingested into a bare table of the
/// same shape (primary key, dedupe key and the (profile_id, time) index).
fn copy_rate(url: &str) -> f64 {
    use diesel::{Connection, ExecuteCopyFromDsl, RunQueryDsl};
    use std::io::Read;
    let mut rows = Vec::new();
    {
        // Its own connection: diesel leaves a COPY TO's connection busy.
        let mut out = diesel::PgConnection::establish(url).expect("connect for COPY TO");
        diesel::copy_to(cdp_store::schema::events::table).load_raw(&mut out).unwrap().read_to_end(&mut rows).unwrap();
    }
    let mut c = diesel::PgConnection::establish(url).expect("connect for COPY");
    let n = rows.iter().filter(|b| **b == b'\n').count();
    // A bare `events` of the same shape in a schema of its own: the connection
    // finds it first, so diesel's `events` table names it.
    diesel::sql_query("CREATE SCHEMA copy_bench").execute(&mut c).unwrap();
    diesel::sql_query("CREATE TABLE copy_bench.events (LIKE public.events INCLUDING ALL)").execute(&mut c).unwrap();
    diesel::sql_query("SET search_path = copy_bench").execute(&mut c).unwrap();
    let t = Instant::now();
    diesel::copy_from(cdp_store::schema::events::table)
        .from_raw_data(cdp_store::schema::events::table, |w| {
            // In pieces: libpq will not buffer one write of gigabytes (a 10M-event run).
            rows.chunks(1 << 20)
                .try_for_each(|piece| w.write_all(piece))
                .map_err(|e| diesel::result::Error::SerializationError(Box::new(e)))
        })
        .execute(&mut c)
        .expect("COPY into the bare table");
    let took = t.elapsed();
    diesel::sql_query("DROP SCHEMA copy_bench CASCADE").execute(&mut c).unwrap();
    n as f64 / took.as_secs_f64()
}

pub struct ReadArgs {
    pub backend: Backend,
    pub postgres_url: Option<String>,
    /// Events loaded before the measurement (people to read).
    pub preload: usize,
    /// Events/s sent in batches of 100 while reading.
    pub ingest_rate: f64,
    /// Reads/s offered (open loop: each reader keeps its schedule).
    pub read_rate: f64,
    pub readers: usize,
    pub seconds: f64,
    pub seed: u64,
}

/// What `read` measured, for `report`.
pub struct ReadReport {
    pub reads_per_s: f64,
    pub read_p50_ms: f64,
    pub read_p99_ms: f64,
    pub ingest_events_per_s: f64,
    pub peak_rss_mib: f64,
    pub steal_pct: f64,
}

/// Profile reads by id and by identity while ingestion runs at a fixed rate.
pub fn read(a: ReadArgs) -> ReadReport {
    let scratch = scratch_database(a.backend, a.postgres_url.clone());
    let server = Server::start(&scratch.url);
    let db = bench_db(&scratch.url);
    let (write_key, read_key) = (issue(&db, Scope::EventsWrite), issue(&db, Scope::ProfilesRead));
    let ingest_events = (a.ingest_rate * a.seconds).ceil() as usize;
    eprintln!("generating {} + {ingest_events} events…", a.preload);
    let (events, _) = crate::traffic::events(a.preload + ingest_events, 0.3, a.seed);
    let (pre, during) = events.split_at(a.preload);
    let pre_bodies = crate::traffic::batch_bodies(pre, 100);
    eprintln!("preloading {} events…", a.preload);
    send_all(&server.base, "/api/v1/events/batch", &write_key, &pre_bodies, |_| 100, 4);
    // Whom to read: live profile ids, and emails as the identity.
    let ids: Vec<String> = {
        use cdp_store::schema::profiles;
        use diesel::prelude::*;
        db.read(|c| {
            Ok::<_, cdp_store::StoreError>(
                profiles::table.filter(profiles::merged_into.is_null()).select(profiles::id).limit(50_000).load::<String>(c)?,
            )
        })
        .unwrap()
    };
    let emails: Vec<String> = pre.iter().filter_map(|e| e["identities"]["email"].as_str().map(|s| s.to_lowercase())).take(50_000).collect();
    eprintln!(
        "reading {} profiles by id and {} by e-mail at {} reads/s while ingesting {} events/s…",
        ids.len(),
        emails.len(),
        a.read_rate,
        a.ingest_rate
    );

    let during_bodies = crate::traffic::batch_bodies(during, 100);
    let interval = Duration::from_secs_f64(100.0 / a.ingest_rate);
    let per_reader = Duration::from_secs_f64(a.readers as f64 / a.read_rate);
    let reads = (a.read_rate * a.seconds) as usize / a.readers;
    let cpu_before = (server.cpu_seconds(), process_cpu_seconds(std::process::id()), machine_busy_seconds());
    let steal_before = machine_steal_seconds();
    let started = Instant::now();
    let (ingest_hist, read_hist, late) = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            let mut conn = crate::http::Conn::new(&server.base, Duration::from_secs(120));
            let mut hist = Hist::new();
            for (n, body) in during_bodies.iter().enumerate() {
                pace(started + interval * n as u32);
                let t = Instant::now();
                let status = conn.send("POST", "/api/v1/events/batch", &write_key, Some(body.as_bytes())).expect("batch sent");
                assert_eq!(status, 200, "batch accepted: {}", String::from_utf8_lossy(&conn.body));
                hist.record(t.elapsed());
            }
            hist
        });
        let readers: Vec<_> = (0..a.readers)
            .map(|r| {
                let (ids, emails, server, read_key) = (&ids, &emails, &server, &read_key);
                s.spawn(move || {
                    let mut conn = crate::http::Conn::new(&server.base, Duration::from_secs(60));
                    let (mut hist, mut late) = (Hist::new(), 0usize);
                    let offset = per_reader.mul_f64(r as f64 / a.readers as f64);
                    for n in 0..reads {
                        // Open loop: latency counts from when the read was due, so a
                        // stalled server cannot hide its queue (no coordinated omission).
                        let due = started + offset + per_reader * n as u32;
                        if !pace(due) {
                            late += 1;
                        }
                        let k = (n * a.readers + r) * 7919;
                        let path = if n % 2 == 0 {
                            format!("/api/v1/profiles/{}", ids[k % ids.len()])
                        } else {
                            format!("/api/v1/profiles/lookup?type=email&value={}", emails[k % emails.len()].replace('@', "%40"))
                        };
                        match conn.send("GET", &path, read_key, None) {
                            Ok(200 | 404) => {}
                            Ok(status) => panic!("read refused: {status} {}", String::from_utf8_lossy(&conn.body)),
                            Err(e) => panic!("read failed: {e}"),
                        }
                        hist.record(due.elapsed());
                    }
                    (hist, late)
                })
            })
            .collect();
        let mut read_hist = Hist::new();
        let mut late = 0;
        for h in readers {
            let (h, l) = h.join().unwrap();
            read_hist.add(&h);
            late += l;
        }
        (writer.join().unwrap(), read_hist, late)
    });
    let took = started.elapsed().as_secs_f64();
    let steal = steal_pct(steal_before, took);
    let (_, peak) = server.rss_mib();
    // CPU per read, the ingestion's share included: server, load generator, machine.
    let per_read = |now: f64, before: f64| (now - before) * 1e6 / read_hist.count().max(1) as f64;
    let cpu = (
        per_read(server.cpu_seconds(), cpu_before.0),
        per_read(process_cpu_seconds(std::process::id()), cpu_before.1),
        per_read(machine_busy_seconds(), cpu_before.2),
    );
    println!(
        "backend={} reads={} reads_per_s={:.0} {} late_starts={late} | ingest events_per_s={:.0} {} | server_peak_rss_mib={peak:.0} \
         cpu_us_per_read: server={:.0} generator={:.0} machine={:.0} machine_steal_pct={:.1}",
        a.backend.name(),
        read_hist.count(),
        read_hist.count() as f64 / took,
        read_hist.summary_as("read_"),
        ingest_events as f64 / took,
        ingest_hist.summary_as("ingest_"),
        cpu.0,
        cpu.1,
        cpu.2,
        steal,
    );
    drop(server);
    ReadReport {
        reads_per_s: read_hist.count() as f64 / took,
        read_p50_ms: read_hist.ms(0.5),
        read_p99_ms: read_hist.ms(0.99),
        ingest_events_per_s: ingest_events as f64 / took,
        peak_rss_mib: peak,
        steal_pct: steal,
    }
}

/// Waits until `due`; false if it had already passed.
fn pace(due: Instant) -> bool {
    let now = Instant::now();
    if due > now {
        std::thread::sleep(due - now);
        true
    } else {
        false
    }
}
