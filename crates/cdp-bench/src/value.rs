//! RFM and CLV at scale through the API: N customers whose purchases (about
//! `orders` orders in all, grouped into purchase days as ingestion keeps them)
//! are loaded straight into a scratch database; then `POST /analytics/rfm/runs`
//! (score and store every customer's RFM) and `POST /analytics/clv/fit` (fit
//! BG/NBD + Gamma-Gamma, score and store every customer) are timed against
//! the server process, with its peak memory.

use crate::load::Server;
use crate::{scratch_database, Backend};
use cdp_domain::auth::{Grants, Scope};
use cdp_domain::clv::simulate::splitmix;
use cdp_store::{Db, DbOptions};
use std::time::{Duration, Instant};

const DAY_US: i64 = 86_400_000_000;

fn id(i: usize) -> String {
    format!("0191{:04x}-0000-7000-8000-{:012x}", i >> 16, i)
}

/// Loads `n` customers and about `orders` orders over the two years before `today`
/// (day numbers since the epoch); answers the purchase days written.
fn load(db: &Db, n: usize, orders: usize, today: i64, seed: u64) -> usize {
    let mut uniform = splitmix(seed);
    let mut r = move || uniform();
    let per_customer = orders as f64 / n as f64;
    let mut profiles: Vec<String> = Vec::new();
    let mut days: Vec<String> = Vec::new();
    let mut written = 0;
    let flush = |profiles: &mut Vec<String>, days: &mut Vec<String>| {
        let d =
            (!days.is_empty()).then(|| format!("INSERT INTO purchase_days (profile_id, day, orders, revenue) VALUES {}", days.join(",")));
        crate::insert_profiles(db, profiles, d);
        days.clear();
    };
    for i in 0..n {
        let pid = id(i);
        // Heterogeneous buyers: a few frequent, many once or twice; some churned.
        let rate = per_customer * -(r().max(1e-12)).ln();
        let k = ((rate * (0.5 + r())).round() as i64).max(1);
        let first = today - 730 + (r() * 700.0) as i64;
        let span = (today - first).max(1);
        let active = if r() < 0.4 { span / 3 + 1 } else { span };
        let mut chosen: Vec<i64> = (0..k).map(|_| first + (r() * active as f64) as i64).collect();
        chosen.sort_unstable();
        chosen.dedup();
        let (mut n_orders, mut revenue_total) = (0i64, 0i64);
        for d in &chosen {
            let o = 1 + (r() < 0.2) as i64;
            let revenue = o * (30_000 + (r() * 900_000.0) as i64);
            n_orders += o;
            revenue_total += revenue;
            days.push(format!("('{pid}', {d}, {o}, {revenue})"));
        }
        written += chosen.len();
        let (f, l) = (chosen[0] * DAY_US, chosen[chosen.len() - 1] * DAY_US);
        profiles.push(format!(
            "('{pid}', NULL, NULL, '{{}}', '{{}}', 1, {f}, {l}, {n_orders}, {f}, {l}, {n_orders}, {revenue_total}, 0, {f}, {l})"
        ));
        if profiles.len() == 1000 {
            flush(&mut profiles, &mut days);
        }
    }
    if !profiles.is_empty() {
        flush(&mut profiles, &mut days);
    }
    // Ingestion keeps each customer's summary next to its purchase days; a bulk load builds them at the end.
    db.write(cdp_store::repo::value::rebuild_summaries).expect("purchase summaries");
    written
}

pub fn run(backend: Backend, postgres_url: Option<String>, customers: usize, orders: usize, seed: u64) {
    let scratch = scratch_database(backend, postgres_url);
    let db = Db::open(&scratch.url, &DbOptions { max_connections: 2, ..Default::default() }).expect("open");
    let today = chrono::Utc::now().timestamp() / 86_400;
    eprintln!("loading {customers} customers with about {orders} orders…");
    let t = Instant::now();
    let purchase_days = load(&db, customers, orders, today, seed);
    crate::settle(&scratch.url);
    eprintln!("loaded {purchase_days} purchase days in {:.1} s", t.elapsed().as_secs_f64());
    let server = Server::start(&scratch.url);
    let key = db.write(|c| cdp_app::keys::issue(c, "bench", &Grants::new(vec![Scope::AnalyticsRead]), None)).unwrap().1;
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(1800)).build();
    let as_of = chrono::DateTime::from_timestamp(today * 86_400, 0).unwrap().date_naive().to_string();

    // Twice: the first run writes into empty score tables, the second — what
    // a daily run meets — replaces a million rows of each.
    for run in ["first", "again"] {
        let t = Instant::now();
        let rfm: serde_json::Value = agent
            .post(&format!("{}/api/v1/analytics/rfm/runs", server.base))
            .set("X-Api-Key", &key)
            .send_json(serde_json::json!({"as_of": as_of}))
            .expect("rfm")
            .into_json()
            .unwrap();
        let rfm_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let fit: serde_json::Value = agent
            .post(&format!("{}/api/v1/analytics/clv/fit", server.base))
            .set("X-Api-Key", &key)
            .send_json(serde_json::json!({"as_of": as_of}))
            .expect("fit")
            .into_json()
            .unwrap();
        let fit_s = t.elapsed().as_secs_f64();
        let (_, peak) = server.rss_mib();
        println!(
            "backend={} run={run} customers={} purchase_days={purchase_days} rfm_s={rfm_s:.2} clv_fit_and_score_s={fit_s:.2} total_s={:.2} \
             server_peak_rss_mib={peak:.0} rfm_customers={} clv_customers={} repeat_customers={}",
            backend.name(),
            customers,
            rfm_s + fit_s,
            rfm["customers"],
            fit["customers"],
            fit["repeat_customers"],
        );
    }
}
