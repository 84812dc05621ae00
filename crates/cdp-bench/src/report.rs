//! `cdp-bench report`: the performance issue's table in one command — batch
//! and single-event ingestion and reads under ingestion, on SQLite and (given
//! `--postgres-url`) PostgreSQL, each measured once by the same code as the
//! `ingest` and `read` subcommands, then printed as a Markdown table against
//! the targets. Growth over 10M events and RFM + CLV over 1M customers take
//! tens of minutes and have their own commands (`ingest --events 10000000`,
//! `value`).

use crate::load::{self, IngestArgs, IngestReport, Mode, ReadArgs, ReadReport};
use crate::Backend;

pub struct ReportArgs {
    pub postgres_url: Option<String>,
    /// Events of the batch-ingestion run.
    pub events: usize,
    /// Events of the single-event run (one request each, 64 clients).
    pub single_events: usize,
    /// Seconds of the read run.
    pub read_seconds: f64,
    pub seed: u64,
}

/// One backend's measurements and targets.
struct Column {
    backend: Backend,
    batch: IngestReport,
    single: IngestReport,
    read: ReadReport,
    /// Reads/s offered while 5k events/s are offered.
    offered_reads: f64,
}

fn measure(backend: Backend, a: &ReportArgs) -> Column {
    let ingest = |mode, clients, events| {
        load::ingest(IngestArgs {
            backend,
            postgres_url: a.postgres_url.clone(),
            events,
            mode,
            batch: 100,
            clients,
            returning: 0.3,
            seed: a.seed,
            floor: true,
            rules_off: false,
        })
    };
    let batch = ingest(Mode::Batch, 4, a.events);
    let single = ingest(Mode::Single, 64, a.single_events);
    let offered_reads = match backend {
        Backend::Sqlite => 5_000.0,
        Backend::Postgres => 10_000.0,
    };
    let read = load::read(ReadArgs {
        backend,
        postgres_url: a.postgres_url.clone(),
        preload: 100_000,
        ingest_rate: 5_000.0,
        read_rate: offered_reads,
        readers: 32,
        seconds: a.read_seconds,
        seed: a.seed,
    });
    Column { backend, batch, single, read, offered_reads }
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISS"
    }
}

/// The table's rows for one backend: (measure, value, target, met).
fn rows(c: &Column) -> Vec<(&'static str, String, String, bool)> {
    let pg = c.backend == Backend::Postgres;
    let (batch_target, single_target, reads_target) = if pg { (45_000.0, 15_000.0, 10_000.0) } else { (40_000.0, 10_000.0, 5_000.0) };
    let mut batch_value = format!("{:.0} events/s", c.batch.events_per_s);
    let mut batch_met = c.batch.events_per_s >= batch_target;
    let mut batch_goal = format!("≥ {batch_target:.0}");
    if let Some((copy, ratio)) = c.batch.copy {
        batch_value += &format!(" = {ratio:.2} × COPY ({copy:.0} rows/s)");
        batch_met &= ratio >= 0.5;
        batch_goal += " and ≥ 0.5 × COPY";
    }
    if let Some((floor, ratio)) = c.batch.floor {
        batch_value += &format!("; {ratio:.2} × the floor ({floor:.0} events/s: the run's rows written again, nothing else)");
    }
    let peak = c.batch.peak_rss_mib.max(c.single.peak_rss_mib).max(c.read.peak_rss_mib);
    vec![
        ("batch ingest, 100 events/request, 4 clients", batch_value, batch_goal, batch_met),
        (
            "single events, 64 clients (durable answer)",
            format!("{:.0} events/s", c.single.events_per_s),
            format!("≥ {single_target:.0}"),
            c.single.events_per_s >= single_target,
        ),
        (
            "ingest answer latency p50 / p99",
            format!(
                "batches {:.1} / {:.1} ms; single events {:.1} / {:.1} ms",
                c.batch.p50_ms, c.batch.p99_ms, c.single.p50_ms, c.single.p99_ms
            ),
            "p99 ≤ 25 ms".into(),
            c.batch.p99_ms <= 25.0 && c.single.p99_ms <= 25.0,
        ),
        (
            "profile reads while ingesting 5k events/s",
            format!(
                "{:.0} reads/s (offered {:.0}), p50 {:.1} ms, p99 {:.1} ms; ingest {:.0} events/s",
                c.read.reads_per_s, c.offered_reads, c.read.read_p50_ms, c.read.read_p99_ms, c.read.ingest_events_per_s
            ),
            format!("p99 ≤ 5 ms at {reads_target:.0} reads/s"),
            c.read.read_p99_ms <= 5.0 && c.read.reads_per_s >= 0.95 * reads_target,
        ),
        ("server peak RSS through these runs", format!("{peak:.0} MiB"), "≤ 512 MiB".into(), peak <= 512.0),
        (
            "CPU per event, batches / single events: server (machine, with database and load generator)",
            format!(
                "{:.0} / {:.0} µs ({:.0} / {:.0} µs)",
                c.batch.server_cpu_us_per_event,
                c.single.server_cpu_us_per_event,
                c.batch.machine_cpu_us_per_event,
                c.single.machine_cpu_us_per_event
            ),
            "-".into(),
            true,
        ),
        (
            "CPU taken by the hypervisor (steal) during the batch / single / read runs",
            format!("{:.1} / {:.1} / {:.1} % of the machine", c.batch.steal_pct, c.single.steal_pct, c.read.steal_pct),
            "-".into(),
            true,
        ),
    ]
}

pub fn run(a: ReportArgs) {
    let mut columns = vec![measure(Backend::Sqlite, &a)];
    if a.postgres_url.is_some() {
        columns.push(measure(Backend::Postgres, &a));
    } else {
        eprintln!("no --postgres-url: PostgreSQL not measured");
    }
    println!();
    println!("| backend | measure | measured | target | |");
    println!("|---|---|---|---|---|");
    for c in &columns {
        for (measure, value, target, met) in rows(c) {
            let mark = if target == "-" { "" } else { verdict(met) };
            println!("| {} | {measure} | {value} | {target} | {mark} |", c.backend.name());
        }
    }
    println!();
    println!(
        "batch run: {} events; single-event run: {} events; read run: 100,000 events preloaded, {:.0} s; seed {}. \
         Growth over 10M events: `cdp-bench ingest --events 10000000`; RFM + CLV over 1M customers: `cdp-bench value`.",
        a.events, a.single_events, a.read_seconds, a.seed
    );
}
