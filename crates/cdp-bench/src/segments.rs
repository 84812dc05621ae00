//! The segment benchmark: N profiles with traits, order aggregates and
//! consents loaded straight into a scratch database, then segments refreshed
//! through the same store code the API runs — first refresh (everyone
//! enters), a refresh after 1% of the profiles changed, and a count preview.

use crate::clv::peak_rss_mib;
use crate::{scratch_database, Backend};
use cdp_domain::clv::simulate::splitmix;
use cdp_store::repo::segments::{self, EvalContext, SegmentRow};
use cdp_store::{Db, DbOptions};
use diesel::RunQueryDsl;
use std::time::Instant;

const CITIES: [&str; 8] = ["Hà Nội", "Hà Nội", "TP HCM", "TP HCM", "Đà Nẵng", "Huế", "Cần Thơ", "Hải Phòng"];

pub(crate) fn id(i: usize) -> String {
    format!("0190{:04x}-0000-7000-8000-{:012x}", i >> 16, i)
}

pub(crate) fn load(db: &Db, n: usize, seed: u64) {
    let mut uniform = splitmix(seed);
    let mut r = move || (uniform() * (1u64 << 53) as f64) as u64;
    let now = cdp_store::now_micros();
    let chunk = 2000;
    let mut profiles = Vec::with_capacity(chunk);
    let mut consents = Vec::with_capacity(chunk * 2);
    let flush = |profiles: &mut Vec<String>, consents: &mut Vec<String>| {
        let c = (!consents.is_empty()).then(|| {
            format!("INSERT INTO consent_state (profile_id, channel, status, recorded_at, consent_id) VALUES {}", consents.join(","))
        });
        crate::insert_profiles(db, profiles, c);
        consents.clear();
    };
    for i in 0..n {
        let city = CITIES[(r() % 8) as usize];
        let age = 18 + r() % 50;
        let gender = if r() % 2 == 0 { "female" } else { "male" };
        let buyer = r() % 10 < 6;
        let orders = if buyer { 1 + r() % 8 } else { 0 };
        let revenue = if buyer { orders * (50_000 + r() % 900_000) } else { 0 };
        let channels = 1u64 << (r() % 6) | if buyer { 1 } else { 0 };
        let traits = format!(r#"{{"name":"Khách {i}","city":"{city}","age":{age},"gender":"{gender}","tags":["t{}"]}}"#, r() % 20);
        let first = now - (r() % 700) as i64 * 86_400_000_000;
        let (fo, lo) = if buyer { (first.to_string(), (first + 86_400_000_000).to_string()) } else { ("NULL".into(), "NULL".into()) };
        let pid = id(i);
        profiles.push(format!(
            "('{pid}', NULL, NULL, '{traits}', '{{}}', {channels}, {first}, {first}, {}, {first}, {first}, {orders}, {revenue}, 0, {fo}, {lo})",
            1 + orders
        ));
        match r() % 20 {
            0..=6 => consents.push(format!("('{pid}', 'zalo', 'granted', {first}, 'c{i}z')")),
            7..=9 => consents.push(format!("('{pid}', 'zalo', 'denied', {first}, 'c{i}z')")),
            _ => {}
        }
        if r() % 2 == 0 {
            consents.push(format!("('{pid}', 'email', 'granted', {first}, 'c{i}e')"));
        }
        if profiles.len() == chunk {
            flush(&mut profiles, &mut consents);
        }
    }
    if !profiles.is_empty() {
        flush(&mut profiles, &mut consents);
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let t = Instant::now();
    let v = f();
    (v, t.elapsed().as_secs_f64() * 1e3)
}

pub fn run(backend: Backend, postgres_url: Option<String>, n: usize, seed: u64) {
    let scratch = scratch_database(backend, postgres_url);
    let db = Db::open(&scratch.url, &DbOptions::default()).expect("open");
    db.migrate().expect("migrate");
    eprintln!("loading {n} profiles…");
    let (_, load_ms) = timed(|| {
        load(&db, n, seed);
        crate::settle(&scratch.url);
    });
    eprintln!("loaded in {:.1} s", load_ms / 1e3);
    let name = if backend == Backend::Sqlite { "sqlite" } else { "postgres" };
    let ctx = EvalContext { as_of: cdp_store::now_micros(), money_scale: 1.0 };
    let rules = [
        (
            "narrow",
            serde_json::json!({"all": [{"trait": "city", "op": "eq", "value": "Hà Nội"},
                                       {"metric": "revenue_total", "op": "gte", "value": 2_000_000},
                                       {"consent": "zalo"}]}),
        ),
        (
            "broad",
            serde_json::json!({"any": [{"trait": "city", "op": "in", "value": ["Hà Nội", "Huế"]},
                                       {"channel": "hotline"},
                                       {"not": {"metric": "orders_count", "op": "lt", "value": 5}}]}),
        ),
    ];
    for (k, (label, rule)) in rules.into_iter().enumerate() {
        let parsed = cdp_domain::segment::parse(&rule).expect("valid rule");
        let now = cdp_store::now_micros();
        let row = SegmentRow {
            id: cdp_store::new_id(),
            name: label.into(),
            description: String::new(),
            rule: rule.to_string(),
            version: 1,
            size: 0,
            entered: 0,
            exited: 0,
            refreshed_at: None,
            as_of: None,
            created_by: "bench".into(),
            created_at: now,
            updated_at: now,
            refresh_every_minutes: None,
        };
        db.write(|c| segments::create(c, &row)).expect("create");
        let (first, first_ms) = timed(|| db.write(|c| segments::refresh(c, &row.id, &parsed, ctx, cdp_store::now_micros())).unwrap());
        // 1% of the profiles (another 1% for each rule) move city.
        let (lo, hi) = (id(k * n / 100), id((k + 1) * n / 100));
        db.write(|c| {
            let sql = format!(
                "UPDATE profiles SET traits = REPLACE(REPLACE(traits, 'Hà Nội', 'Vinh'), 'Huế', 'Vinh') WHERE id >= '{lo}' AND id < '{hi}'"
            );
            cdp_store::per_backend!(&mut *c, |x| diesel::sql_query(&sql).execute(x))?;
            Ok::<_, cdp_store::StoreError>(())
        })
        .unwrap();
        let (again, again_ms) = timed(|| db.write(|c| segments::refresh(c, &row.id, &parsed, ctx, cdp_store::now_micros())).unwrap());
        let (count, count_ms) = timed(|| db.read(|c| segments::count(c, &parsed, ctx)).unwrap());
        assert_eq!(count, again.size);
        println!(
            "backend={name} profiles={n} rule={label} members={} first_refresh_ms={first_ms:.0} (entered={}) \
             refresh_after_1pct_change_ms={again_ms:.0} (entered={} exited={}) count_ms={count_ms:.0} peak_rss_mib={:.0}",
            first.size,
            first.entered,
            again.entered,
            again.exited,
            peak_rss_mib()
        );
    }
    drop(db);
    drop(scratch);
}
