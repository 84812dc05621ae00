//! CSV imports of a POS export: 10,000 customers and 30,000 order lines with
//! bad rows of every kind, by HTTP job and by the CLI; exact counts, the
//! error report, and nothing new when the same files come again.

use cdp_suite::*;
use serde_json::Value;

const CUSTOMERS: usize = 10_000;
const ORDERS: usize = 10_000;
const LINES_PER_ORDER: usize = 3;

/// The phone of customer `i` in one of the spellings POS staff type.
fn phone(i: usize, spelling: usize) -> String {
    let n = format!("9{:08}", 10_000_000 + i); // 9 digits after the 0
    let (a, b, c) = (&n[..3], &n[3..6], &n[6..]);
    match spelling % 5 {
        0 => format!("0{a} {b} {c}"),
        1 => format!("+84 {a} {b} {c}"),
        2 => format!("84{n}"),
        3 => format!("0{a}.{b}.{c}"),
        _ => format!("(+84) {a}-{b}-{c}"),
    }
}

/// A bad row as reported: (line, column, code).
type Fault = (i64, String, String);
/// A good order: (order id, customer number, total).
type GoodOrder = (String, usize, i64);

/// A customer row is bad when `i % 100 == 7`; its kind cycles through these.
const CUSTOMER_FAULTS: [(&str, &str); 6] = [
    ("phone", "invalid_identity"),
    ("email", "invalid_identity"),
    ("birthday", "invalid_date"),
    ("created_at", "invalid_date"),
    ("customer_id", "required"),
    ("row", "too_many_cells"),
];

/// The customers file, and the (line, field, code) of every bad row.
fn customers_csv() -> (Vec<u8>, Vec<Fault>) {
    let mut out = String::from("customer_id,phone,email,loyalty_card,first_name,last_name,birthday,gender,city,created_at,pos_tier\n");
    let mut bad = Vec::new();
    let cities = ["Hà Nội", "TP.HCM", "Đà Nẵng", "Cần Thơ", "Hải Phòng"];
    for i in 0..CUSTOMERS {
        let line = i as i64 + 2;
        let mut cells = vec![
            format!("C{i:05}"),
            phone(i, i),
            if i % 3 == 0 { format!("khach{i}@Example.vn") } else { String::new() },
            if i % 4 == 0 { format!("VNM-{i:05}") } else { String::new() },
            "An".into(),
            "Nguyễn".into(),
            if i % 2 == 0 { format!("{:02}/{:02}/19{}", 1 + i % 28, 1 + i % 12, 60 + i % 40) } else { format!("19{}-05-01", 60 + i % 40) },
            if i % 2 == 0 { "nữ".into() } else { "nam".into() },
            format!("\"{}\"", cities[i % cities.len()]),
            if i % 5 == 0 { "15/03/2024 09:30".into() } else { "2024-03-15".into() },
            if i % 10 == 0 { "gold".into() } else { String::new() },
        ];
        if i % 100 == 7 {
            let (field, code) = CUSTOMER_FAULTS[(i / 100) % CUSTOMER_FAULTS.len()];
            match field {
                "phone" => cells[1] = "12345".into(),
                "email" => cells[2] = "not-an-email".into(),
                "birthday" => cells[6] = "31/02/1990".into(),
                "created_at" => cells[9] = "hôm qua".into(),
                "customer_id" => {
                    for c in [0, 1, 2, 3] {
                        cells[c].clear();
                    }
                }
                _ => cells.push("extra".into()),
            }
            bad.push((line, field.to_string(), code.to_string()));
        }
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    (out.into_bytes(), bad)
}

const ORDER_FAULTS: [(&str, &str); 7] = [
    ("revenue", "invalid_amount"),
    ("price", "invalid_amount"),
    ("quantity", "invalid_number"),
    ("ordered_at", "invalid_date"),
    ("customer_id", "required"),
    ("phone", "invalid_identity"),
    ("revenue", "required"),
];

/// The orders file (`;`-separated, amounts as POS exports write them), the
/// (line, field, code) of every bad line, and each good order's revenue.
fn orders_csv(first: usize, count: usize) -> (Vec<u8>, Vec<Fault>, Vec<GoodOrder>) {
    let mut out = String::from(
        "order_id;customer_id;phone;ordered_at;channel;store_id;revenue;currency;product_id;product_name;category;price;quantity\n",
    );
    let (mut bad, mut good) = (Vec::new(), Vec::new());
    let mut line = 1i64;
    for j in first..first + count {
        let customer = (j * 7) % CUSTOMERS;
        let faulty = j % 100 == 13;
        let fault = ORDER_FAULTS[(j / 100) % ORDER_FAULTS.len()];
        // Fields of an order's first line (time, customer, total) are read from it alone.
        let first_line_fields = ["ordered_at", "customer_id", "phone", "revenue"];
        let bad_line = if first_line_fields.contains(&fault.0) && fault.1 != "invalid_amount" { 0 } else { j % LINES_PER_ORDER };
        let prices = [7_000i64 * (1 + (j % 5) as i64), 32_000, 125_000 + (j % 7) as i64 * 1_000];
        let quantities = [1 + (j % 4) as i64, 2, 1];
        let total: i64 = prices.iter().zip(quantities).map(|(p, q)| p * q).sum();
        let revenue_on = j % 3; // 0: first line only, 1: every line, 2: none (the sum of the lines)
        let day = 1 + j % 28;
        let month = 1 + (j / 28) % 11;
        for l in 0..LINES_PER_ORDER {
            line += 1;
            let mut c: Vec<String> = vec![
                format!("HD-{j:06}"),
                if j % 2 == 0 { format!("C{customer:05}") } else { String::new() },
                if j % 2 == 1 { phone(customer, j + 1) } else { String::new() },
                if j % 4 == 0 {
                    format!("{day:02}/{month:02}/2026 {:02}:15", 8 + j % 12)
                } else {
                    format!("2026-{month:02}-{day:02} 10:00")
                },
                ["store", "web", "app"][j % 3].into(),
                format!("CH-{}", j % 12),
                match (revenue_on, l) {
                    (0, 0) | (1, _) => dotted(total),
                    _ => String::new(),
                },
                "VND".into(),
                ["SUA-180", "SUA-1L", "PHO-MAI"][l].into(),
                ["Sữa tươi 180ml", "Sữa tươi 1L", "Phô mai"][l].into(),
                ["sua-tuoi", "sua-tuoi", "pho-mai"][l].into(),
                if l == 1 { format!("{},000", prices[l] / 1000) } else { dotted(prices[l]) },
                quantities[l].to_string(),
            ];
            if faulty && l == bad_line {
                match fault {
                    ("revenue", "invalid_amount") => c[6] = "350k".into(),
                    ("price", _) => c[11] = "7,00,0".into(),
                    ("quantity", _) => c[12] = "0".into(),
                    ("ordered_at", _) => c[3] = "2026/13/45".into(),
                    ("customer_id", _) => {
                        c[1].clear();
                        c[2].clear();
                    }
                    ("phone", _) => {
                        c[1].clear();
                        c[2] = "12345".into();
                    }
                    _ => {}
                }
            }
            if faulty && fault == ("revenue", "required") {
                c[6].clear();
                c[11].clear();
            }
            out.push_str(&c.join(";"));
            out.push('\n');
        }
        if faulty {
            let at = line - 2 + bad_line as i64;
            bad.push((at, fault.0.to_string(), fault.1.to_string()));
        } else {
            good.push((format!("HD-{j:06}"), customer, total));
        }
    }
    (out.into_bytes(), bad, good)
}

/// 1250000 → "1.250.000"
fn dotted(v: i64) -> String {
    let s = v.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(ch);
    }
    out
}

fn upload(app: &TestApp, query: &str, body: &[u8]) -> Resp {
    send_raw(
        ureq::post(&app.url(&format!("/api/v1/imports?{query}"))).set("X-Api-Key", &app.admin_key).set("Content-Type", "text/csv"),
        body,
    )
}

/// Uploads and waits for the job to end; answers the job.
fn import(app: &TestApp, query: &str, body: &[u8]) -> Value {
    let r = upload(app, query, body);
    assert_eq!(r.status, 202, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    eventually(180, || {
        let j = app.get(&format!("/api/v1/imports/{id}"), &app.admin_key);
        assert_eq!(j.status, 200, "{}", j.body);
        matches!(j.body["status"].as_str(), Some("succeeded" | "failed")).then_some(j.body)
    })
}

fn reported(job: &Value) -> Vec<(i64, String, String)> {
    job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_i64().unwrap(), e["field"].as_str().unwrap().to_string(), e["code"].as_str().unwrap().to_string()))
        .collect()
}

fn counts(job: &Value) -> (i64, i64, i64, i64) {
    let n = |k: &str| job[k].as_i64().unwrap();
    (n("rows"), n("imported"), n("duplicates"), n("rejected"))
}

#[test]
fn a_pos_export_is_imported_exactly_once_with_its_bad_rows_reported() {
    let app = TestApp::spawn();
    let (customers, bad_customers) = customers_csv();
    let (orders, bad_orders, good_orders) = orders_csv(0, ORDERS);
    let (nc, no) = (bad_customers.len() as i64, bad_orders.len() as i64);
    assert!(nc == 100 && no == 100);

    // Customers, then orders, each as a background job.
    let job = import(&app, "kind=customers", &customers);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(counts(&job), (CUSTOMERS as i64, CUSTOMERS as i64 - nc, 0, nc), "{}", job["errors"]);
    assert_eq!(reported(&job), bad_customers, "every bad row, by line, column and code, in file order");
    assert_eq!(job["errors_total"], nc);
    // All of them, a page at a time.
    let (mut paged, mut cursor) = (Vec::new(), String::new());
    loop {
        let page = app.get(&format!("/api/v1/imports/{}/errors?limit=30&cursor={cursor}", job["id"].as_str().unwrap()), &app.admin_key);
        assert_eq!(page.status, 200, "{}", page.body);
        paged.extend(reported(&json!({"errors": page.body["items"]})));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(paged, bad_customers);
    assert_eq!(app.get("/api/v1/imports/nope/errors", &app.admin_key).status, 404);

    let job = import(&app, "kind=orders", &orders);
    assert_eq!(job["status"], "succeeded", "{job}");
    assert_eq!(counts(&job), ((ORDERS * LINES_PER_ORDER) as i64, ORDERS as i64 - no, 0, no));
    assert_eq!(reported(&job), bad_orders);

    // What was stored: every good order with its total (on the first line, on every line, or summed from the lines).
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let kpis = || app.get("/api/v1/analytics/kpis?from=2025-12-01&to=2026-11-30", &analyst).body["overall"].clone();
    let before = kpis();
    let revenue: i64 = good_orders.iter().map(|o| o.2).sum();
    assert_eq!(before["orders"], good_orders.len(), "{before}");
    assert_eq!(before["revenue"].as_f64(), Some(revenue as f64));

    // An order sent by phone (another spelling) landed on the customer imported by id.
    let (order_id, customer, total) = good_orders.iter().find(|o| o.0.ends_with('1') && o.1 % 100 != 7).unwrap().clone();
    let p = app.lookup("user_id", &format!("C{customer:05}"));
    assert_eq!(p.status, 200);
    let pid = p.body["id"].as_str().unwrap();
    assert_eq!(app.lookup("phone", &phone(customer, 3)).body["id"].as_str(), Some(pid));
    assert!(p.body["traits"]["city"].as_str().is_some(), "{}", p.body);
    let events = app.get(&format!("/api/v1/profiles/{pid}/events?limit=100"), &app.admin_key);
    let order = events.body["items"].as_array().unwrap().iter().find(|e| e["properties"]["order_id"] == order_id.as_str()).cloned();
    let order = order.unwrap_or_else(|| panic!("{order_id} on {pid}: {}", events.body));
    assert_eq!(order["properties"]["revenue"].as_f64(), Some(total as f64));
    assert_eq!(order["properties"]["products"].as_array().map(Vec::len), Some(3));
    // History earns no points by default.
    assert_eq!(app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &app.admin_key).body["points_balance"].as_i64().unwrap_or(0), 0);

    // The same files again: nothing new, the same refusals.
    let job = import(&app, "kind=customers", &customers);
    assert_eq!(counts(&job), (CUSTOMERS as i64, 0, CUSTOMERS as i64 - nc, nc));
    let job = import(&app, "kind=orders", &orders);
    assert_eq!(counts(&job), ((ORDERS * LINES_PER_ORDER) as i64, 0, ORDERS as i64 - no, no));
    assert_eq!(kpis(), before);

    // The CLI against the same database: the same answer, as its summary line.
    let dir = std::env::temp_dir().join(format!("cdp-import-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("orders.csv");
    std::fs::write(&file, &orders).unwrap();
    let report = dir.join("errors.csv");
    let out = cli_run(&app, &["import", "orders", file.to_str().unwrap(), "--errors", report.to_str().unwrap()]);
    assert_eq!(out.lines().last(), Some(format!("imported 0, duplicates {}, rejected {no}", ORDERS as i64 - no).as_str()));
    assert_eq!(std::fs::read_to_string(&report).unwrap().lines().count() as i64, no + 1, "a header and one line per refusal");

    // New orders imported with points earn them, as live orders do.
    let (more, _, more_good) = orders_csv(ORDERS, 200);
    std::fs::write(&file, &more).unwrap();
    let out = cli_run(&app, &["import", "orders", file.to_str().unwrap(), "--points"]);
    assert_eq!(out.lines().last(), Some(format!("imported {}, duplicates 0, rejected 2", more_good.len()).as_str()));
    let (_, buyer, _) = more_good[0];
    let p = app.lookup("user_id", &format!("C{buyer:05}"));
    let pid = p.body["id"].as_str().unwrap();
    let loyalty = app.get(&format!("/api/v1/profiles/{pid}/loyalty"), &app.admin_key);
    assert!(loyalty.body["points_balance"].as_i64().unwrap_or(0) > 0, "{}", loyalty.body);
    std::fs::remove_dir_all(&dir).ok();
}

fn cli_run(app: &TestApp, args: &[&str]) -> String {
    let settings = cdp::Settings { database_url: app.database_url.clone(), ..cdp::Settings::default() };
    let (mut input, mut output) = (std::io::empty(), Vec::new());
    let console = cdp::cli::Console { input: &mut input, output: &mut output, password: None };
    cdp::cli::command(args.iter().copied(), &settings, console).expect("the command runs");
    String::from_utf8(output).unwrap()
}

#[test]
fn an_import_is_refused_before_it_starts_when_the_request_is_wrong() {
    let app = TestApp::spawn();
    let r = upload(&app, "kind=invoices", b"customer_id\nC1\n");
    assert_eq!((r.status, r.code()), (422, "validation_failed"), "{}", r.body);
    let r = upload(&app, "kind=customers", b"first_name,city\nAn,Hue\n");
    assert_eq!((r.status, r.code()), (422, "validation_failed"));
    assert_eq!(r.body["error"]["details"]["fields"][0]["field"], "header", "{}", r.body);
    let r = upload(&app, "kind=orders", b"order_id,phone\nA1,0912345678\n");
    assert_eq!(r.status, 422, "an orders file needs ordered_at: {}", r.body);
    let r = upload(&app, "kind=customers&utc_offset=Saigon", b"customer_id\nC1\n");
    assert_eq!((r.status, r.body["error"]["details"]["fields"][0]["field"].as_str()), (422, Some("utc_offset")), "{}", r.body);
    let r = send_raw(
        ureq::post(&app.url("/api/v1/imports?kind=customers")).set("X-Api-Key", &app.admin_key).set("Content-Type", "application/json"),
        b"{}",
    );
    assert_eq!((r.status, r.code()), (415, "unsupported_media_type"));
    let analyst = app.key(&[cdp_domain::auth::Scope::AnalyticsRead], None);
    let r = send_raw(
        ureq::post(&app.url("/api/v1/imports?kind=customers")).set("X-Api-Key", &analyst).set("Content-Type", "text/csv"),
        b"customer_id\nC1\n",
    );
    assert_eq!(r.status, 403);
    assert_eq!(app.get("/api/v1/imports/nope", &app.admin_key).status, 404);
    // A BOM, semicolons and CRLF line ends, as spreadsheet exports write them.
    let job =
        import(&app, "kind=customers", "\u{feff}customer_id;phone;city\r\nC1;0912 345 678;Huế\r\nC2;0913 000 111;Vinh\r\n".as_bytes());
    assert_eq!(counts(&job), (2, 2, 0, 0), "{job}");
    assert_eq!(app.lookup("phone", "+84912345678").body["traits"]["city"], "Huế");

    // A line that cannot be read whole refuses its order; bytes that are not UTF-8 refuse their row.
    let orders = b"order_id,phone,ordered_at,revenue\nX1,0912345678,2026-11-01,100000\nX1,0912345678,2026-11-01,,extra\nX2,0912345678,2026-11-02,5000\n";
    let job = import(&app, "kind=orders", orders);
    assert_eq!(counts(&job), (3, 1, 0, 1), "{job}");
    assert_eq!(reported(&job), vec![(3, "row".to_string(), "too_many_cells".to_string())]);
    let mut customers = b"customer_id,city\nC7,".to_vec();
    customers.extend_from_slice(&[0xff, 0xfe, b'\n']);
    customers.extend_from_slice(b"C8,Vinh\n");
    let job = import(&app, "kind=customers", &customers);
    assert_eq!(counts(&job), (2, 1, 0, 1), "{job}");
    assert_eq!(reported(&job), vec![(2, "row".to_string(), "invalid_utf8".to_string())]);

    // The jobs, newest first, a page at a time.
    let first = app.get("/api/v1/imports?limit=2", &app.admin_key);
    assert_eq!(first.status, 200, "{}", first.body);
    let items = first.body["items"].as_array().unwrap();
    assert_eq!((items.len(), items[0]["id"].as_str()), (2, job["id"].as_str()));
    assert_eq!((items[0]["kind"].as_str(), items[1]["kind"].as_str()), (Some("customers"), Some("orders")));
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/api/v1/imports?limit=2&cursor={cursor}"), &app.admin_key);
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1, "three jobs in all: {}", rest.body);
    assert!(rest.body["next_cursor"].is_null());
}
