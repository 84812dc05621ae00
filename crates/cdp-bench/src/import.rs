//! CSV import: `cdp import` of generated POS exports (customers, then their
//! orders, three lines each) into a fresh database, rows/s and the importing
//! process's peak resident memory at two file sizes.

use crate::{scratch_database, Backend};
use std::io::Write;
use std::process::Command;
use std::time::Instant;

/// Writes a customers file of `n` rows and an orders file of `n` lines.
fn write_files(dir: &std::path::Path, n: usize) -> (std::path::PathBuf, std::path::PathBuf) {
    let (cpath, opath) = (dir.join(format!("customers-{n}.csv")), dir.join(format!("orders-{n}.csv")));
    let mut c = std::io::BufWriter::new(std::fs::File::create(&cpath).unwrap());
    writeln!(c, "customer_id,phone,email,loyalty_card,first_name,last_name,birthday,gender,city,created_at").unwrap();
    let cities = ["Hà Nội", "TP.HCM", "Đà Nẵng", "Cần Thơ", "Hải Phòng"];
    for i in 0..n {
        // Customers in the order of their ids, as POS exports list them; their
        // phone numbers and e-mail addresses in no order (bijections of the row
        // number), as people's are. Loyalty cards follow the ids.
        let phone = format!("09{:08}", (i as u64 * 48_271) % 90_000_000);
        let email = format!("khach{:08}@example.vn", (i as u64 * 7_919) % 100_000_000);
        writeln!(
            c,
            "C{i:07},{} {} {},{email},{},Khách,Nguyễn,{:02}/{:02}/19{},{},{},2024-03-15",
            &phone[..4],
            &phone[4..7],
            &phone[7..],
            if i % 3 == 0 { format!("VNM-{i:07}") } else { String::new() },
            1 + i % 28,
            1 + i % 12,
            60 + i % 40,
            if i % 2 == 0 { "nữ" } else { "nam" },
            cities[i % cities.len()],
        )
        .unwrap();
    }
    c.flush().unwrap();
    let mut o = std::io::BufWriter::new(std::fs::File::create(&opath).unwrap());
    writeln!(o, "order_id,customer_id,ordered_at,channel,store_id,revenue,currency,product_id,product_name,category,price,quantity")
        .unwrap();
    for l in 0..n {
        let order = l / 3;
        let customer = (order * 7) % n.max(1);
        let revenue = if l % 3 == 0 { "\"1.250.000\"" } else { "" };
        writeln!(
            o,
            "HD-{order:07},C{customer:07},{:02}/{:02}/2026 10:00,store,CH-{},{revenue},VND,SP-{},Sữa tươi,sua-tuoi,\"125.000\",{}",
            1 + order % 28,
            1 + order % 11,
            order % 20,
            l % 3,
            1 + l % 3
        )
        .unwrap();
    }
    o.flush().unwrap();
    (cpath, opath)
}

/// Runs `cdp import KIND FILE` in a child process; (seconds, peak RSS MiB, summary line).
fn child_import(url: &str, kind: &str, file: &std::path::Path) -> (f64, f64, String) {
    let exe = std::env::current_exe().expect("own path");
    let t = Instant::now();
    let out = Command::new(exe)
        .args(["import-run", "--database-url", url, kind, file.to_str().unwrap()])
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the import");
    let secs = t.elapsed().as_secs_f64();
    assert!(out.status.success(), "import failed: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let peak = stdout.lines().find_map(|l| l.strip_prefix("peak_rss_kib=")).and_then(|v| v.trim().parse::<f64>().ok()).unwrap_or(f64::NAN);
    let summary = stdout.lines().find(|l| l.starts_with("imported ")).unwrap_or("").to_string();
    (secs, peak / 1024.0, summary)
}

/// The child: the CLI's import, then its peak resident memory.
pub fn run_child(database_url: &str, kind: &str, file: &str) {
    let settings = cdp::Settings { database_url: database_url.to_string(), ..cdp::Settings::default() };
    let (mut input, mut output) = (std::io::empty(), std::io::stdout());
    let console = cdp::cli::Console { input: &mut input, output: &mut output, password: None };
    cdp::cli::command(["import", kind, file], &settings, console).expect("import");
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)).unwrap_or("nan");
    println!("peak_rss_kib={hwm}");
}

pub fn run(backend: Backend, postgres_url: Option<String>, sizes: &[usize]) {
    let dir = std::env::temp_dir().join(format!("cdp-bench-import-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    println!("import ({}): rows/s of `cdp import` and its peak RSS", backend.name());
    for &n in sizes {
        let (cfile, ofile) = write_files(&dir, n);
        let db = scratch_database(backend, postgres_url.clone());
        // Migrations first, so that the timed runs import only.
        cdp::Settings { database_url: db.url.clone(), ..cdp::Settings::default() }.open_db().expect("migrate");
        let (cs, crss, csum) = child_import(&db.url, "customers", &cfile);
        if backend == Backend::Sqlite {
            // What SQLite alone allows for the rows the customers made (see floor.rs).
            let f = crate::floor::sqlite(db.url.trim_start_matches("sqlite://"), n, 2 * 1000);
            println!("  {n:>9} rows  customers' floor (their {} rows alone, no lookups): {:>8.0} rows/s", f.rows, f.events_per_s);
        }
        let (os, orss, osum) = child_import(&db.url, "orders", &ofile);
        println!(
            "  {n:>9} rows  customers {:>8.0} rows/s  peak RSS {crss:>6.1} MiB  ({csum})\n  {n:>9} lines orders    {:>8.0} rows/s  peak RSS {orss:>6.1} MiB  ({osum})",
            n as f64 / cs,
            n as f64 / os,
        );
        let _ = std::fs::remove_file(cfile);
        let _ = std::fs::remove_file(ofile);
    }
    let _ = std::fs::remove_dir_all(dir);
}
