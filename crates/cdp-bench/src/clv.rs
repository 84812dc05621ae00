//! The CLV benchmark: fit + score on CDNOW and on simulated customers, timed
//! in one run, with peak memory, and the same work in Python's lifetimes.

use cdp_domain::clv::simulate::{bgnbd_customer, spender, splitmix};
use cdp_domain::clv::{fit_models, score_all, BgNbd, Customer, GammaGamma, ScoreSettings, Spender};
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Instant;

pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok()))
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CDNOW's calibration-period summary with mean repeat spend, from the fixtures.
fn cdnow() -> (Vec<Customer>, Vec<Option<Spender>>) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cdnow");
    let mut days: BTreeMap<u32, BTreeMap<u32, f64>> = BTreeMap::new();
    for l in std::fs::read_to_string(format!("{dir}/CDNOW_sample.txt")).expect("fixture").lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let (id, date, dollars): (u32, u32, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap(), f[4].parse().unwrap());
        if date <= 19970930 {
            *days.entry(id).or_default().entry(date).or_default() += dollars;
        }
    }
    let summary = std::fs::read_to_string(format!("{dir}/cdnow_customers_summary.csv")).expect("fixture");
    summary
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
            let c = Customer { x: f[1], t_x: f[2], t: f[3] };
            let spend = days.get(&(f[0] as u32)).filter(|d| d.len() > 1).map(|d| {
                let repeat: Vec<f64> = d.values().skip(1).copied().collect();
                Spender { x: repeat.len() as f64, m: repeat.iter().sum::<f64>() / repeat.len() as f64 }
            });
            (c, spend)
        })
        .unzip()
}

struct Timing {
    fit_s: f64,
    score_s: f64,
    checksum: f64,
}

/// The best of `repeat` runs of [`fit_and_score_once`] (fit and score timed apart).
fn fit_and_score(customers: &[Customer], spenders: &[Option<Spender>], horizon: f64, repeat: usize) -> Timing {
    (0..repeat.max(1))
        .map(|_| fit_and_score_once(customers, spenders, horizon))
        .reduce(|a, b| Timing { fit_s: a.fit_s.min(b.fit_s), score_s: a.score_s.min(b.score_s), checksum: b.checksum })
        .expect("one run")
}

/// Fits both models and scores everyone: P(alive), E[Y(horizon)], E[M], 12-month CLV.
fn fit_and_score_once(customers: &[Customer], spenders: &[Option<Spender>], horizon: f64) -> Timing {
    let t0 = Instant::now();
    let repeat: Vec<Spender> = spenders.iter().flatten().copied().collect();
    let (bg, gg) = fit_models(customers, &repeat);
    let (bg, gg) = (bg.expect("BG/NBD fits"), gg.expect("Gamma-Gamma fits"));
    let fit_s = t0.elapsed().as_secs_f64();
    let t1 = Instant::now();
    // A month of 4.345 weeks: lifetimes' own, so that both sides compute the same CLV.
    let settings = ScoreSettings { horizon, months: 12, month: 4.345, monthly_discount: 0.01 };
    let scores = score_all(&bg.model, Some(&gg.model), customers, spenders, &settings);
    // The same sum lifetimes_bench.py prints: E[Y] + P(alive) + E[M] + CLV.
    let checksum: f64 = scores.iter().map(|s| s.expected_purchases + s.p_alive + s.expected_order_value + s.clv).sum();
    eprintln!("  BG/NBD {:?}\n  Gamma-Gamma {:?}", bg.model, gg.model);
    Timing { fit_s, score_s: t1.elapsed().as_secs_f64(), checksum }
}

fn lifetimes(python: &str, customers: &[Customer], spenders: &[Option<Spender>], horizon: f64, repeat: usize) -> Option<serde_json::Value> {
    let path = std::env::temp_dir().join(format!("cdp-clv-{}.csv", std::process::id()));
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).ok()?);
    writeln!(f, "frequency,recency,T,monetary_value").ok()?;
    for (c, s) in customers.iter().zip(spenders) {
        writeln!(f, "{},{},{},{}", c.x, c.t_x, c.t, s.map(|s| s.m).unwrap_or(0.0)).ok()?;
    }
    drop(f);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/lifetimes_bench.py");
    let out = std::process::Command::new(python).arg(script).arg(&path).arg(horizon.to_string()).arg(repeat.to_string()).output().ok()?;
    let _ = std::fs::remove_file(&path);
    if !out.status.success() {
        eprintln!("lifetimes failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

fn report(name: &str, n: usize, ours: &Timing, theirs: Option<serde_json::Value>) {
    let total = ours.fit_s + ours.score_s;
    print!(
        "data={name} customers={n} fit_ms={:.1} score_ms={:.1} total_ms={:.1} peak_rss_mib={:.0} checksum={:.3}",
        ours.fit_s * 1e3,
        ours.score_s * 1e3,
        total * 1e3,
        peak_rss_mib(),
        ours.checksum
    );
    if let Some(t) = theirs {
        let (fit, score) = (t["fit_s"].as_f64().unwrap_or(f64::NAN), t["score_s"].as_f64().unwrap_or(f64::NAN));
        print!(
            " lifetimes_fit_ms={:.1} lifetimes_score_ms={:.1} lifetimes_total_ms={:.1} fit_speedup={:.1}x score_speedup={:.1}x speedup={:.1}x lifetimes_checksum={:.3}",
            fit * 1e3,
            score * 1e3,
            (fit + score) * 1e3,
            fit / ours.fit_s,
            score / ours.score_s,
            (fit + score) / total,
            t["checksum"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!();
}

pub fn run(n: usize, python: Option<&str>, seed: u64) {
    let (customers, spenders) = cdnow();
    // Both sides report their best of 5 runs on CDNOW (milliseconds: noise
    // matters) and their only run on the simulated customers.
    let ours = fit_and_score(&customers, &spenders, 39.0, 5);
    let theirs = python.and_then(|p| lifetimes(p, &customers, &spenders, 39.0, 5));
    report("cdnow", customers.len(), &ours, theirs);

    let truth = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
    let gg = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
    let mut u = splitmix(seed);
    // Weekly cohorts over a year, observed at day granularity (as purchase days are).
    let customers: Vec<Customer> = (0..n)
        .map(|i| {
            let c = bgnbd_customer(&truth, (1 + i % 364) as f64 / 7.0, &mut u);
            Customer { x: c.x, t_x: (c.t_x * 7.0).floor() / 7.0, t: c.t }
        })
        .collect();
    let spenders: Vec<Option<Spender>> = customers.iter().map(|c| (c.x >= 1.0).then(|| spender(&gg, c.x, &mut u))).collect();
    let ours = fit_and_score(&customers, &spenders, 52.0, 1);
    let theirs = python.and_then(|p| lifetimes(p, &customers, &spenders, 52.0, 1));
    report("simulated", n, &ours, theirs);
}
