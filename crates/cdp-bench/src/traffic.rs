//! Realistic omnichannel traffic of a Vietnamese consumer brand: people with
//! Vietnamese names, phones written every way people write them, e-mails,
//! loyalty cards, Zalo and app ids; about 30% of events from people seen
//! before, often on another channel with an identifier not seen yet.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

const FAMILY: [&str; 14] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"];
const MIDDLE: [&str; 7] = ["Văn", "Thị", "Minh", "Ngọc", "Thanh", "Quốc", "Hữu"];
const GIVEN: [&str; 20] = [
    "An", "Bình", "Chi", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Hoa", "Hùng", "Khánh", "Lan", "Linh", "Long", "Mai", "Nam", "Phương",
    "Quân", "Thảo", "Trang",
];
const CITIES: [&str; 6] = ["Hà Nội", "TP Hồ Chí Minh", "Đà Nẵng", "Hải Phòng", "Cần Thơ", "Huế"];
const PRODUCTS: [(&str, &str, &str, i64); 5] = [
    ("SUA-180", "Sữa tươi 180ml", "sua-tuoi", 7_000),
    ("SUA-1L", "Sữa tươi 1L", "sua-tuoi", 32_000),
    ("CHUA-4", "Sữa chua lốc 4", "sua-chua", 28_000),
    ("BOT-900", "Sữa bột 900g", "sua-bot", 450_000),
    ("PHO-MAI", "Phô mai 8 miếng", "pho-mai", 45_000),
];
const PREFIXES: [&str; 8] = ["090", "091", "093", "097", "098", "086", "088", "070"];

struct Person {
    n: usize,
    name: (String, String),
    phone: String,
    email: String,
    card: String,
    zalo: String,
}

fn person(n: usize, rng: &mut StdRng) -> Person {
    let family = FAMILY.choose(rng).unwrap().to_string();
    let given = format!("{} {}", MIDDLE.choose(rng).unwrap(), GIVEN.choose(rng).unwrap());
    Person {
        n,
        phone: format!("{}{:07}", PREFIXES.choose(rng).unwrap(), n % 10_000_000),
        email: format!("kh{n}.{}@example.vn", rng.gen_range(10..99)),
        card: format!("VNM-{n:08}"),
        zalo: format!("zl{}", 10_000_000 + n),
        name: (given, family),
    }
}

/// The same number the way a cashier, a web form or an agent might type it.
fn spell_phone(p: &str, rng: &mut StdRng) -> String {
    let national = &p[1..];
    match rng.gen_range(0..4) {
        0 => format!("{} {} {}", &p[..4], &p[4..7], &p[7..]),
        1 => format!("+84 {} {} {}", &national[..3], &national[3..6], &national[6..]),
        2 => format!("84{national}"),
        _ => format!("{}.{}.{}", &p[..4], &p[4..7], &p[7..]),
    }
}

fn event(p: &Person, seq: usize, rng: &mut StdRng) -> Value {
    let channel = ["store", "web", "app", "hotline", "social"][rng.gen_range(0..5)];
    let mut ids = serde_json::Map::new();
    let mut traits = serde_json::Map::new();
    let (name, props) = match channel {
        "store" => {
            ids.insert("phone".into(), json!(spell_phone(&p.phone, rng)));
            if rng.gen_bool(0.7) {
                ids.insert("loyalty_card".into(), json!(p.card));
            }
            let items: Vec<Value> = (0..rng.gen_range(1..4))
                .map(|_| {
                    let (id, name, cat, price) = PRODUCTS.choose(rng).unwrap();
                    json!({"product_id": id, "name": name, "category": cat, "price": price, "quantity": rng.gen_range(1..6)})
                })
                .collect();
            let revenue: i64 = items.iter().map(|i| i["price"].as_i64().unwrap() * i["quantity"].as_i64().unwrap()).sum();
            ("Order Completed", json!({"order_id": format!("POS-{seq}"), "revenue": revenue, "currency": "VND", "products": items}))
        }
        "web" => {
            ids.insert("anonymous_id".into(), json!(format!("anon-{}-{}", p.n, rng.gen_range(0..3))));
            if rng.gen_bool(0.5) {
                ids.insert("email".into(), json!(p.email.to_uppercase()));
            }
            ("Product Viewed", json!({"product_id": PRODUCTS.choose(rng).unwrap().0, "url": "https://shop.example.vn/p"}))
        }
        "app" => {
            ids.insert("user_id".into(), json!(format!("u{}", p.n)));
            ids.insert("email".into(), json!(p.email));
            ("App Opened", json!({}))
        }
        "hotline" => {
            ids.insert("phone".into(), json!(spell_phone(&p.phone, rng)));
            ("Call Received", json!({"reason": "tu-van", "duration_s": rng.gen_range(30..600)}))
        }
        _ => {
            ids.insert("zalo_id".into(), json!(p.zalo));
            if rng.gen_bool(0.6) {
                ids.insert("phone".into(), json!(spell_phone(&p.phone, rng)));
            }
            ("Message Received", json!({"text": "Cho em hỏi giá sữa bột"}))
        }
    };
    if rng.gen_bool(0.3) {
        traits.insert("first_name".into(), json!(p.name.0));
        traits.insert("last_name".into(), json!(p.name.1));
        traits.insert("city".into(), json!(CITIES.choose(rng).unwrap()));
    }
    json!({"message_id": format!("m-{seq}"), "event": name, "channel": channel,
           "identities": ids, "traits": traits, "properties": props})
}

/// The stream of events: ~`returning` of them from people seen before.
struct Traffic {
    rng: StdRng,
    people: Vec<Person>,
    returning: f64,
    seq: usize,
}

impl Traffic {
    fn new(returning: f64, seed: u64) -> Traffic {
        Traffic { rng: StdRng::seed_from_u64(seed), people: Vec::new(), returning, seq: 0 }
    }

    fn next(&mut self) -> Value {
        let rng = &mut self.rng;
        let p = if !self.people.is_empty() && rng.gen_bool(self.returning) {
            rng.gen_range(0..self.people.len())
        } else {
            let n = self.people.len();
            self.people.push(person(n, rng));
            n
        };
        self.seq += 1;
        event(&self.people[p], self.seq - 1, rng)
    }
}

/// `events` events in order, and how many distinct people they hold.
pub fn events(events: usize, returning: f64, seed: u64) -> (Vec<Value>, usize) {
    let mut t = Traffic::new(returning, seed);
    let out = (0..events).map(|_| t.next()).collect();
    (out, t.people.len())
}

/// The same traffic as `events`, as request bodies made one request at a
/// time (a 10M-event run holds its bodies, never 10M JSON trees): with
/// `batch` = None one event per body (POST /events), else bodies for POST
/// /events/batch of `batch` events each. Also answers the people they hold.
pub fn bodies(events: usize, batch: Option<usize>, returning: f64, seed: u64) -> (Vec<String>, usize) {
    let mut t = Traffic::new(returning, seed);
    let per = batch.unwrap_or(1).max(1);
    let mut out = Vec::with_capacity(events.div_ceil(per));
    let mut left = events;
    while left > 0 {
        let n = per.min(left);
        left -= n;
        out.push(match batch {
            None => t.next().to_string(),
            Some(_) => json!({ "events": (0..n).map(|_| t.next()).collect::<Vec<_>>() }).to_string(),
        });
    }
    (out, t.people.len())
}

/// Request bodies for POST /events/batch of `batch` events each.
pub fn batch_bodies(events: &[Value], batch: usize) -> Vec<String> {
    events.chunks(batch.max(1)).map(|c| json!({ "events": c }).to_string()).collect()
}
