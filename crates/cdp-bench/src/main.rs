//! `cdp-bench`: realistic omnichannel load against a real `cdp` server.
//!
//! It starts the server in-process on a free port over a fresh database
//! (a temporary SQLite file, or a new database on the PostgreSQL server named
//! by `--postgres-url`), generates the traffic up front, then sends it from
//! several client threads over HTTP and reports events/s and latencies.
//!
//!     cargo run --release -p cdp-bench -- ingest --backend sqlite
//!     cargo run --release -p cdp-bench -- ingest --backend postgres --postgres-url postgres://postgres@127.0.0.1:5432/postgres

mod clv;
mod deliver;
mod floor;
mod http;
mod import;
mod load;
mod programmes;
mod receiver;
mod report;
mod scratch;
mod segments;
mod traffic;
mod value;

use cdp::{Application, Settings};
use cdp_domain::auth::{Grants, Scope};
use clap::{Parser, Subcommand, ValueEnum};
use scratch::{insert_profiles, scratch_database, settle};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "cdp-bench", about = "Benchmarks for the cdp API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Webhook deliveries: ingestion with two subscribed destinations against
    /// none, deliveries/s to a fast local receiver, and a healthy
    /// destination's latency alone and beside a dead and a hanging one.
    Deliver {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events per ingestion run.
        #[arg(long, default_value_t = 50_000)]
        events: usize,
        /// The latency phases' steady rate of orders (single events).
        #[arg(long, default_value_t = 200)]
        orders_per_s: u64,
        /// Seconds per side of the latency comparison (five rounds of two phases a side).
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Only the latency comparison.
        #[arg(long)]
        latency_only: bool,
        /// The dead and hanging destinations stay disabled on both sides: the
        /// spread of the p99 ratio when nothing differs.
        #[arg(long)]
        control: bool,
    },
    /// Batch ingestion: identities resolved and committed before each answer.
    Ingest {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        /// A PostgreSQL server where a scratch database may be created (and is dropped after).
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events to send in all.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Batches (POST /events/batch) or one event per request (POST /events).
        #[arg(long, value_enum, default_value = "batch")]
        mode: load::Mode,
        /// Events per request in batch mode.
        #[arg(long, default_value_t = 100)]
        batch: usize,
        /// Concurrent client connections.
        #[arg(long, default_value_t = 4)]
        clients: usize,
        /// Share of events from people seen before, who often come back on another channel.
        #[arg(long, default_value_t = 0.3)]
        returning: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Skip the floor (batch mode: the run's rows written again with nothing else to do).
        #[arg(long)]
        no_floor: bool,
        /// Identity rules off (no limits, nothing blocked) instead of the defaults.
        #[arg(long)]
        rules_off: bool,
    },
    /// Batch ingestion under the default identity rules and with the rules
    /// off, alternated, in one run: what limits and blocked values cost.
    Rules {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events per run.
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Pairs of runs.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Profile reads (by id and by e-mail) at a fixed rate while events are
    /// ingested at a fixed rate; latency counted from when each read was due.
    Read {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events loaded first; their people are the ones read.
        #[arg(long, default_value_t = 100_000)]
        preload: usize,
        /// Events/s ingested (in batches of 100) during the reads.
        #[arg(long, default_value_t = 5_000.0)]
        ingest_rate: f64,
        /// Reads/s offered.
        #[arg(long, default_value_t = 5_000.0)]
        read_rate: f64,
        /// Reader connections.
        #[arg(long, default_value_t = 32)]
        readers: usize,
        #[arg(long, default_value_t = 20.0)]
        seconds: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// RFM and CLV fit + scoring through the API over N customers with about
    /// M orders loaded straight into a scratch database.
    Value {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        /// Orders in all (every event an order: the heaviest case of N events).
        #[arg(long, default_value_t = 10_000_000)]
        orders: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// The performance table in one command: batch and single-event ingestion
    /// and reads under ingestion on SQLite and, with --postgres-url, PostgreSQL,
    /// printed as Markdown against the targets.
    Report {
        /// A PostgreSQL server where scratch databases may be created (and are dropped after).
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events of the batch-ingestion run (100 per request, 4 clients).
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        /// Events of the single-event run (64 clients).
        #[arg(long, default_value_t = 30_000)]
        single_events: usize,
        /// Seconds of the read run.
        #[arg(long, default_value_t = 20.0)]
        read_seconds: f64,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Runs the server for the other subcommands (they start it as a child process).
    #[command(hide = true)]
    Serve {
        #[arg(long)]
        database_url: String,
    },
    /// Segments: refresh of a 3-condition rule over N profiles loaded into a scratch database.
    Segments {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        profiles: usize,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// Undoing a merge of a profile with many events (and orders, points)
    /// into another: the time of POST /merges/{id}/undo, over HTTP.
    Undo {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events on the merged profile.
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// Merges made and undone (each a fresh pair).
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// The agent's context view: latency of GET /profiles/{id}/context on a
    /// profile with many events, cases, feedback and orders.
    Context {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events on the profile.
        #[arg(long, default_value_t = 10_000)]
        events: usize,
        /// Context requests to time.
        #[arg(long, default_value_t = 2_000)]
        requests: usize,
    },
    /// Vouchers: codes issued to every person of a hot campaign, redeemed by
    /// concurrent tills (redemptions/s), and one code fought over by every till.
    Vouchers {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value_t = 20_000)]
        people: usize,
        /// Concurrent tills.
        #[arg(long, default_value_t = 16)]
        clients: usize,
    },
    /// Tracking plans: batch ingestion through a source with a plan against
    /// one without, alternated in one server.
    Tracking {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Events per run.
        #[arg(long, default_value_t = 20_000)]
        events: usize,
        #[arg(long, default_value_t = 3)]
        rounds: usize,
    },
    /// Campaigns: creating one over a segment of N members (20% held out)
    /// and computing its results, with a goal event for one person in seven.
    Campaign {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        #[arg(long, default_value_t = 1_000_000)]
        people: usize,
        #[arg(long, default_value_t = 7)]
        seed: u64,
    },
    /// CSV import: `cdp import` of customers and orders files of each size
    /// into a fresh database; rows/s and the importing process's peak RSS.
    Import {
        #[arg(long, value_enum, default_value = "sqlite")]
        backend: Backend,
        #[arg(long, env = "CDP_BENCH_POSTGRES_URL")]
        postgres_url: Option<String>,
        /// Rows per file, comma-separated.
        #[arg(long, value_delimiter = ',', default_value = "100000,1000000")]
        rows: Vec<usize>,
    },
    /// (internal) One `cdp import` in this process, then its peak RSS.
    #[command(hide = true)]
    ImportRun {
        #[arg(long)]
        database_url: String,
        kind: String,
        file: String,
    },
    /// CLV: BG/NBD + Gamma-Gamma fit and scoring on CDNOW and on simulated customers,
    /// optionally against Python's lifetimes on the same data.
    Clv {
        /// Simulated customers.
        #[arg(long, default_value_t = 1_000_000)]
        customers: usize,
        /// A Python with `lifetimes` installed, to time the same work with it.
        #[arg(long)]
        lifetimes_python: Option<String>,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Ingest { backend, postgres_url, events, mode, batch, clients, returning, seed, no_floor, rules_off } => {
            let floor = !no_floor;
            load::ingest(load::IngestArgs { backend, postgres_url, events, mode, batch, clients, returning, seed, floor, rules_off });
        }
        Command::Rules { backend, postgres_url, events, rounds, seed } => rules(backend, postgres_url, events, rounds, seed),
        Command::Read { backend, postgres_url, preload, ingest_rate, read_rate, readers, seconds, seed } => {
            load::read(load::ReadArgs { backend, postgres_url, preload, ingest_rate, read_rate, readers, seconds, seed });
        }
        Command::Report { postgres_url, events, single_events, read_seconds, seed } => {
            report::run(report::ReportArgs { postgres_url, events, single_events, read_seconds, seed })
        }
        Command::Serve { database_url } => load::serve(&database_url),
        Command::Value { backend, postgres_url, customers, orders, seed } => value::run(backend, postgres_url, customers, orders, seed),
        Command::Context { backend, postgres_url, events, requests } => context(backend, postgres_url, events, requests),
        Command::Undo { backend, postgres_url, events, rounds } => undo(backend, postgres_url, events, rounds),
        Command::Segments { backend, postgres_url, profiles, seed } => segments::run(backend, postgres_url, profiles, seed),
        Command::Vouchers { backend, postgres_url, people, clients } => programmes::vouchers(backend, postgres_url, people, clients),
        Command::Tracking { backend, postgres_url, events, rounds } => programmes::tracking(backend, postgres_url, events, rounds),
        Command::Campaign { backend, postgres_url, people, seed } => programmes::campaign(backend, postgres_url, people, seed),
        Command::Import { backend, postgres_url, rows } => import::run(backend, postgres_url, &rows),
        Command::ImportRun { database_url, kind, file } => import::run_child(&database_url, &kind, &file),
        Command::Clv { customers, lifetimes_python, seed } => clv::run(customers, lifetimes_python.as_deref(), seed),
        Command::Deliver { backend, postgres_url, events, orders_per_s, seconds, seed, latency_only, control } => {
            deliver::run(deliver::Args { backend, postgres_url, events, orders_per_s, seconds, seed, latency_only, control })
        }
    }
}

/// Batch runs with the default identity rules and with the rules off, alternated.
fn rules(backend: Backend, postgres_url: Option<String>, events: usize, rounds: usize, seed: u64) {
    let run = |rules_off| {
        load::ingest(load::IngestArgs {
            backend,
            postgres_url: postgres_url.clone(),
            events,
            mode: load::Mode::Batch,
            batch: 100,
            clients: 4,
            returning: 0.3,
            seed,
            floor: false,
            rules_off,
        })
        .events_per_s
    };
    let (mut on, mut off) = (Vec::new(), Vec::new());
    // Which goes first alternates, so that neither gains from the machine warming up.
    for round in 0..rounds.max(1) {
        if round % 2 == 0 {
            on.push(run(false));
            off.push(run(true));
        } else {
            off.push(run(true));
            on.push(run(false));
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let show = |v: &[f64]| v.iter().map(|x| format!("{x:.0}")).collect::<Vec<_>>().join(",");
    println!(
        "backend={} rules=default events_per_s={} rules=off events_per_s={} default_vs_off={:.3}",
        backend.name(),
        show(&on),
        show(&off),
        mean(&on) / mean(&off)
    );
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Starts the real server in-process over a database; answers its port and the pool.
/// The per-key rate limit is off: the load comes from one key.
fn start_server(url: &str) -> (u16, cdp_store::Db) {
    let mut settings = Settings {
        database_url: url.to_string(),
        bind: "127.0.0.1:0".into(),
        jwt_secret: Some("bench-secret-bench-secret-bench-secret!".into()),
        ..Settings::default()
    };
    settings.limits.rate_per_key = 0.0;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let app = Application::build(&settings).expect("server starts");
            tx.send((app.port(), app.db.clone())).unwrap();
            let _ = app.run_until_stopped().await;
        })
    });
    rx.recv().unwrap()
}

/// Merges a profile of `events` events (a tenth of them orders, with points)
/// into an older one, undoes it over HTTP and reports the time, `rounds` times.
fn undo(backend: Backend, postgres_url: Option<String>, events: usize, rounds: usize) {
    let scratch = scratch_database(backend, postgres_url);
    let (port, db) = start_server(&scratch.url);
    let key = db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![Scope::Admin]), None)).unwrap().1;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(120)).build();
    let call = |method: &str, path: &str, body: serde_json::Value| {
        agent
            .request(method, &format!("{base}{path}"))
            .set("X-Api-Key", &key)
            .send_json(body)
            .expect("answered")
            .into_json::<serde_json::Value>()
            .unwrap()
    };
    let start = cdp_store::now_micros() / 1_000_000 - events as i64 * 600;
    let mut took = Vec::new();
    for round in 0..rounds.max(1) {
        let email = format!("older-{round}@example.vn");
        let older = call("POST", "/events", serde_json::json!({"type": "identify", "channel": "web", "identities": {"email": email}}));
        let card = format!("VNM-{round}");
        for chunk in (0..events).collect::<Vec<_>>().chunks(500) {
            let batch: Vec<serde_json::Value> = chunk
                .iter()
                .map(|&i| {
                    let at = chrono::DateTime::from_timestamp(start + i as i64 * 600, 0).unwrap().to_rfc3339();
                    let mut e = serde_json::json!({"event": "Product Viewed", "channel": "store", "occurred_at": at, "identities": {"loyalty_card": card}});
                    if i % 10 == 0 {
                        e["event"] = "Order Completed".into();
                        e["properties"] = serde_json::json!({"order_id": format!("u{round}-{i}"), "revenue": 250000});
                    }
                    e
                })
                .collect();
            call("POST", "/events/batch", serde_json::json!({ "events": batch }));
        }
        let merged = call(
            "POST",
            "/events",
            serde_json::json!({"event": "Call", "channel": "hotline", "identities": {"email": email, "loyalty_card": card}}),
        );
        let survivor = older["profile_id"].as_str().unwrap();
        assert_eq!(merged["profile_id"], survivor, "the older profile survives");
        let log = call("GET", &format!("/profiles/{survivor}/merges"), serde_json::Value::Null);
        let id = log["items"].as_array().unwrap().iter().find(|m| m["kind"] == "merge").unwrap()["id"].as_str().unwrap().to_string();
        let t = Instant::now();
        let out = call("POST", &format!("/merges/{id}/undo"), serde_json::json!({}));
        took.push(t.elapsed().as_secs_f64() * 1e3);
        assert!(out["moved"]["events"].as_u64().is_some_and(|n| n >= events as u64), "every event goes back (and its tier changes): {out}");
    }
    let show: Vec<String> = took.iter().map(|ms| format!("{ms:.0}")).collect();
    println!("backend={} events={events} undo_ms={}", backend.name(), show.join(","));
}

fn context(backend: Backend, postgres_url: Option<String>, events: usize, requests: usize) {
    let scratch = scratch_database(backend, postgres_url);
    let (port, db) = start_server(&scratch.url);
    let key = db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![Scope::Admin]), None)).unwrap().1;
    let base = format!("http://127.0.0.1:{port}/api/v1");
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    let post = |path: &str, body: serde_json::Value| {
        agent
            .post(&format!("{base}{path}"))
            .set("X-Api-Key", &key)
            .send_json(body)
            .expect("accepted")
            .into_json::<serde_json::Value>()
            .unwrap()
    };
    let channels = ["store", "web", "app", "hotline", "social", "email"];
    let start = cdp_store::now_micros() / 1_000_000 - events as i64 * 600;
    eprintln!("loading {events} events on one profile…");
    for chunk in (0..events).collect::<Vec<_>>().chunks(500) {
        let batch: Vec<serde_json::Value> = chunk
            .iter()
            .map(|&i| {
                let at = chrono::DateTime::from_timestamp(start + i as i64 * 600, 0).unwrap().to_rfc3339();
                if i % 10 == 0 {
                    serde_json::json!({"event": "Order Completed", "channel": "store", "occurred_at": at, "identities": {"phone": "0912345678"},
                        "properties": {"order_id": format!("o-{i}"), "revenue": 250000, "products": [{"product_id": "sua-1l", "category": "milk", "price": 250000, "quantity": 1}]}})
                } else {
                    serde_json::json!({"event": "Product Viewed", "channel": channels[i % 6], "occurred_at": at,
                        "identities": {"phone": "0912345678"}, "properties": {"product_id": format!("p-{}", i % 40)}})
                }
            })
            .collect();
        post("/events/batch", serde_json::json!({ "events": batch }));
    }
    let pid = post(
        "/events",
        serde_json::json!({"type": "identify", "channel": "hotline", "identities": {"phone": "0912345678"},
        "traits": {"first_name": "Lan", "city": "Hà Nội"}}),
    )["profile_id"]
        .as_str()
        .unwrap()
        .to_string();
    for i in 0..20 {
        post(
            "/cases",
            serde_json::json!({"profile_id": pid, "category": "delivery", "channel": channels[i % 6], "subject": format!("case {i}")}),
        );
        post(
            "/feedback",
            serde_json::json!({"profile_id": pid, "kind": "text", "channel": "social", "text": "Giao hàng chậm, không hài lòng"}),
        );
    }
    let url = format!("{base}/profiles/{pid}/context");
    for _ in 0..50 {
        agent.get(&url).set("X-Api-Key", &key).call().expect("context");
    }
    let mut lat = Vec::with_capacity(requests);
    let started = Instant::now();
    for _ in 0..requests {
        let t = Instant::now();
        let r = agent.get(&url).set("X-Api-Key", &key).call().expect("context");
        let _ = r.into_string().unwrap();
        lat.push(t.elapsed());
    }
    let took = started.elapsed();
    lat.sort();
    println!(
        "backend={} events_on_profile={} requests={requests} per_s={:.0} p50_ms={:.2} p99_ms={:.2} max_ms={:.2}",
        backend.name(),
        events + 41,
        requests as f64 / took.as_secs_f64(),
        percentile(&lat, 0.5).as_secs_f64() * 1e3,
        percentile(&lat, 0.99).as_secs_f64() * 1e3,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
    drop(db);
}
