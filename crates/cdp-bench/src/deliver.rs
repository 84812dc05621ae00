//! Webhook deliveries: what subscribed destinations cost ingestion, how many
//! deliveries a second reach a fast local receiver, and whether a dead and a
//! hanging destination change a healthy one's latency (fact committed →
//! receiver got it), all in one run.

use crate::load::{self, Hist};
use crate::receiver::Receiver;
use crate::Backend;
use std::collections::HashMap;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// A destination that never answers: accepts connections and holds them.
fn hanging() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in listener.incoming().flatten() {
            held.push(s);
        }
    });
    port
}

/// A port where nothing listens.
fn dead() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Creates a destination; answers its id.
fn create(base: &str, key: &str, name: &str, url: &str, events: &[&str]) -> String {
    let body = serde_json::json!({"name": name, "url": url, "events": events}).to_string();
    let mut c = crate::http::Conn::new(base, Duration::from_secs(30));
    let status = c.send("POST", "/api/v1/destinations", key, Some(body.as_bytes())).expect("create a destination");
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&c.body));
    let created: serde_json::Value = serde_json::from_slice(&c.body).expect("a destination");
    created["id"].as_str().expect("the destination's id").to_string()
}

fn enable(base: &str, key: &str, id: &str, enabled: bool) {
    let body = serde_json::json!({"enabled": enabled}).to_string();
    let mut c = crate::http::Conn::new(base, Duration::from_secs(30));
    let status = c.send("PATCH", &format!("/api/v1/destinations/{id}"), key, Some(body.as_bytes())).expect("update a destination");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&c.body));
}

pub struct Args {
    pub backend: Backend,
    pub postgres_url: Option<String>,
    pub events: usize,
    pub orders_per_s: u64,
    pub seconds: u64,
    pub seed: u64,
    pub latency_only: bool,
    pub control: bool,
}

pub fn run(a: Args) {
    if !a.latency_only {
        ingest_and_deliver(&a);
    }
    // 2. Latency of a healthy destination, alone and beside a dead and a hanging one.
    let (p_alone, p_beside) = latency(&a);
    let beside = if a.control { "control_alone_again" } else { "beside_dead_and_hanging" };
    println!(
        "backend={} healthy_destination_latency alone: {} {beside}: {} p99_ratio={:.2}",
        a.backend.name(),
        p_alone.summary_as(""),
        p_beside.summary_as(""),
        p_beside.ms(0.99) / p_alone.ms(0.99)
    );
}

fn ingest_and_deliver(a: &Args) {
    // 1. Ingestion with two destinations subscribed to orders, and to every
    // new profile, merge and order, against none; alternated, in one run.
    let ingest = |destinations, events: &[&str]| {
        load::ingest_with_destinations(
            load::IngestArgs {
                backend: a.backend,
                postgres_url: a.postgres_url.clone(),
                events: a.events,
                mode: load::Mode::Batch,
                batch: 100,
                clients: 4,
                returning: 0.3,
                seed: a.seed,
                floor: false,
                rules_off: false,
            },
            destinations,
            events,
        )
    };
    const ORDERS: &[&str] = &["order.completed"];
    const EVERY: &[&str] = &["profile.created", "profile.merged", "order.completed"];
    let none = ingest(0, ORDERS);
    let orders = ingest(2, ORDERS);
    let every = ingest(2, EVERY);
    let none_b = ingest(0, ORDERS);
    let (every_b, orders_b) = (ingest(2, EVERY), ingest(2, ORDERS));
    let mean = |x: f64, y: f64| (x + y) / 2.0;
    let base = mean(none.0, none_b.0);
    println!(
        "backend={} ingest_events_per_s none: {:.0},{:.0} two_on_orders: {:.0},{:.0} ({:.3}x) two_on_every_fact: {:.0},{:.0} ({:.3}x)",
        a.backend.name(),
        none.0,
        none_b.0,
        orders.0,
        orders_b.0,
        mean(orders.0, orders_b.0) / base,
        every.0,
        every_b.0,
        mean(every.0, every_b.0) / base
    );
    println!(
        "backend={} deliveries_per_s (first event sent to last delivery received) two_on_orders: {} deliveries {:.0},{:.0} \
         two_on_every_fact: {} deliveries {:.0},{:.0}",
        a.backend.name(),
        orders.1,
        orders.2,
        orders_b.2,
        every.1,
        every.2,
        every_b.2
    );
}

/// Rounds of the latency comparison: each is two phases a side.
const ROUNDS: u64 = 5;

/// Orders at a steady rate as single events; the time from each answer to
/// its delivery, alone and beside the other two.
fn latency(a: &Args) -> (Hist, Hist) {
    let scratch = crate::scratch_database(a.backend, a.postgres_url.clone());
    let server = load::Server::start(&scratch.url);
    let db = load::bench_db(&scratch.url);
    let admin = load::issue(&db, cdp_domain::auth::Scope::Admin);
    let writer = load::issue(&db, cdp_domain::auth::Scope::EventsWrite);
    let rx = Receiver::start();
    create(&server.base, &admin, "healthy", &rx.url(), &["order.completed"]);
    let phase = |tag: &str| -> Hist {
        let mut acked = HashMap::new();
        let mut c = crate::http::Conn::new(&server.base, Duration::from_secs(30));
        let gap = Duration::from_micros(1_000_000 / a.orders_per_s.max(1));
        let start = Instant::now();
        let n = (a.orders_per_s * a.seconds / (2 * ROUNDS)) as usize;
        for i in 0..n {
            let due = start + gap * i as u32;
            if let Some(w) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(w);
            }
            let order = format!("{tag}-{i}");
            let body =
                serde_json::json!({"event": "Order Completed", "channel": "store", "identities": {"phone": format!("09{:08}", i % 5000)},
                "properties": {"order_id": order, "revenue": 100000}})
                .to_string();
            let status = c.send("POST", "/api/v1/events", &writer, Some(body.as_bytes())).expect("send an order");
            assert_eq!(status, 202, "{}", String::from_utf8_lossy(&c.body));
            acked.insert(order, Instant::now());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let got = rx.arrivals.lock().unwrap().keys().filter(|k| k.starts_with(tag)).count();
            if got >= n || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let arrivals = rx.arrivals.lock().unwrap();
        let mut h = Hist::new();
        for (order, at) in &acked {
            if let Some(got) = arrivals.get(order) {
                h.record(got.saturating_duration_since(*at));
            }
        }
        assert_eq!(h.count() as usize, n, "every order delivered to the healthy destination");
        h
    };
    // Alone and beside in short phases, A B B A a round, after a warm-up
    // phase that is not counted, so that what grows or warms during the run
    // (tables, caches, the other two's backlogs) and the machine's bursts
    // weigh on both sides alike. Alone means the other two disabled: no
    // deliveries written for them, no workers.
    let dead = create(&server.base, &admin, "dead", &format!("http://127.0.0.1:{}/hook", dead()), &["order.completed"]);
    let hangs = create(&server.base, &admin, "hangs", &format!("http://127.0.0.1:{}/hook", hanging()), &["order.completed"]);
    let (mut alone, mut beside) = (Hist::new(), Hist::new());
    let order = std::iter::once(None).chain((0..ROUNDS).flat_map(|_| [Some(false), Some(true), Some(true), Some(false)]));
    for (i, others) in order.enumerate() {
        for id in [&dead, &hangs] {
            enable(&server.base, &admin, id, others == Some(true) && !a.control);
        }
        // The supervisor starts or stops their workers at once; give them a moment to be running.
        std::thread::sleep(Duration::from_millis(500));
        let h = phase(&format!("p{i}-"));
        match others {
            None => {}
            Some(false) => alone.merge(&h),
            Some(true) => beside.merge(&h),
        }
    }
    (alone, beside)
}
