//! The demo's people and what they do in a year, drawn from a seeded
//! generator: the same seed on the same day gives the same data.

use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

pub const CITIES: [(&str, f64); 5] = [("Hà Nội", 0.34), ("TP.HCM", 0.38), ("Đà Nẵng", 0.13), ("Cần Thơ", 0.09), ("Hải Phòng", 0.06)];
const FAMILY: [&str; 12] = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"];
const GIVEN_F: [&str; 10] = ["Lan", "Hương", "Mai", "Thảo", "Linh", "Trang", "Ngọc", "Hà", "Vy", "Anh"];
const GIVEN_M: [&str; 10] = ["Minh", "Hùng", "Dũng", "Nam", "Tuấn", "Khoa", "Phúc", "Quân", "Bảo", "Huy"];

/// (product id, name, category, price in VND).
pub const CATALOGUE: [(&str, &str, &str, i64); 9] = [
    ("SUA-180", "Sữa tươi tiệt trùng 180ml", "sua-tuoi", 7_500),
    ("SUA-1L", "Sữa tươi tiệt trùng 1L", "sua-tuoi", 36_000),
    ("SUA-CHUA", "Sữa chua ăn (lốc 4)", "sua-chua", 26_000),
    ("UONG-CHUA", "Sữa chua uống (lốc 4)", "sua-chua", 28_000),
    ("PHO-MAI", "Phô mai con bò (hộp 8)", "pho-mai", 42_000),
    ("BO", "Bơ lạt 200g", "bo", 85_000),
    ("SUA-BOT", "Sữa bột trẻ em 900g", "sua-bot", 520_000),
    ("SUA-DAC", "Sữa đặc (thùng 24)", "sua-dac", 560_000),
    ("QUA-TET", "Hộp quà Tết", "qua-tet", 650_000),
];

/// How a person buys.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Fresh milk and yoghurt a few times a month.
    Household,
    /// Formula every few weeks: a family with a baby.
    Family,
    /// A café or a small shop buying in bulk every week.
    Business,
}

pub struct Person {
    pub n: usize,
    pub kind: Kind,
    pub city: &'static str,
    /// The city's shop index.
    pub shop: usize,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub female: bool,
    /// The national number, 9 digits after the 0.
    pub phone: String,
    pub email: Option<String>,
    pub card: Option<String>,
    pub facebook: Option<String>,
    pub zalo: Option<String>,
    /// Shops, web, app, hotline — where they buy, weighted.
    pub channels: Vec<(&'static str, f64)>,
    /// Orders per day while active.
    pub rate: f64,
    /// The day (0..365) they arrive, and the day they stop buying (churn), if they do.
    pub first_day: i64,
    pub last_day: i64,
    pub birthday: String,
    /// Consent to e-mail and Zalo marketing.
    pub email_ok: bool,
    pub zalo_ok: bool,
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, f64)]) -> T {
    let total: f64 = items.iter().map(|i| i.1).sum();
    let mut x = rng.gen::<f64>() * total;
    for (v, w) in items {
        if x < *w {
            return *v;
        }
        x -= w;
    }
    items[items.len() - 1].0
}

/// Gamma(shape, 1) by Marsaglia and Tsang, shape ≥ 1 (heterogeneous buying rates).
fn gamma(rng: &mut StdRng, shape: f64) -> f64 {
    let d = shape - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        let (u1, u2): (f64, f64) = (rng.gen::<f64>().max(1e-12), rng.gen());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let v = (1.0 + c * z).powi(3);
        if v > 0.0 && rng.gen::<f64>().max(1e-12).ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

impl Person {
    pub fn draw(rng: &mut StdRng, n: usize) -> Person {
        let city = pick(rng, &CITIES);
        let shop = CITIES.iter().position(|c| c.0 == city).unwrap_or(0);
        let kind = pick(rng, &[(Kind::Household, 0.78), (Kind::Family, 0.18), (Kind::Business, 0.04)]);
        let female = rng.gen_bool(0.62);
        let given = if female { GIVEN_F } else { GIVEN_M };
        let first_name = given[rng.gen_range(0..given.len())];
        let last_name = FAMILY[rng.gen_range(0..FAMILY.len())];
        let phone =
            format!("{}{:07}", ["91", "98", "97", "90", "93", "88", "86", "70", "77", "39"][n % 10], 1_000_000 + n * 37 % 8_999_999);
        let ascii = |s: &str| -> String {
            cdp_domain::interaction::fold(s).chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_lowercase()
        };
        let email = rng.gen_bool(0.6).then(|| format!("{}.{}{}@example.vn", ascii(first_name), ascii(last_name), n));
        let card = rng.gen_bool(0.55).then(|| format!("VNM-{:06}", n));
        let facebook = rng.gen_bool(0.3).then(|| format!("fb-{}", 100_000_000 + n * 7919));
        let zalo = rng.gen_bool(0.35).then(|| format!("zl-{}", 500_000_000 + n * 104_729));
        let online = rng.gen::<f64>();
        let channels = match kind {
            Kind::Business => vec![("store", 0.7), ("hotline", 0.3)],
            _ if online < 0.45 => vec![("store", 0.85), ("app", 0.1), ("hotline", 0.05)],
            _ if online < 0.75 => vec![("store", 0.4), ("web", 0.3), ("app", 0.3)],
            _ => vec![("web", 0.45), ("app", 0.5), ("hotline", 0.05)],
        };
        let rate = match kind {
            Kind::Household => gamma(rng, 1.6) / 30.0,
            Kind::Family => gamma(rng, 3.0) / 45.0,
            Kind::Business => gamma(rng, 4.0) / 12.0,
        };
        let first_day = if rng.gen_bool(0.55) { 0 } else { rng.gen_range(0..330) };
        let last_day = if rng.gen_bool(0.3) { rng.gen_range(first_day..365) } else { 365 };
        let birthday = format!("{}-{:02}-{:02}", rng.gen_range(1965..2004), rng.gen_range(1..13), rng.gen_range(1..29));
        Person {
            n,
            kind,
            city,
            shop,
            first_name,
            last_name,
            female,
            phone,
            email,
            card,
            facebook,
            zalo,
            channels,
            rate,
            first_day,
            last_day,
            birthday,
            email_ok: rng.gen_bool(0.7),
            zalo_ok: rng.gen_bool(0.5),
        }
    }

    pub fn channel(&self, rng: &mut StdRng) -> &'static str {
        pick(rng, &self.channels)
    }

    /// The phone as someone at `channel` writes it.
    pub fn phone_as(&self, rng: &mut StdRng) -> String {
        let p = &self.phone;
        match rng.gen_range(0..5) {
            0 => format!("0{} {} {}", &p[..3], &p[3..6], &p[6..]),
            1 => format!("+84 {} {} {}", &p[..3], &p[3..6], &p[6..]),
            2 => format!("84{p}"),
            3 => format!("0{}.{}.{}", &p[..3], &p[3..6], &p[6..]),
            _ => format!("0{p}"),
        }
    }

    /// What identifies them at a touchpoint, in that touchpoint's spelling.
    pub fn identities(&self, rng: &mut StdRng, channel: &str) -> Map<String, Value> {
        let mut ids = Map::new();
        match channel {
            "store" => {
                ids.insert("phone".into(), json!(self.phone_as(rng)));
                if let Some(c) = &self.card {
                    ids.insert("loyalty_card".into(), json!(c.to_lowercase()));
                }
            }
            "web" | "app" => {
                ids.insert("user_id".into(), json!(format!("u{:06}", self.n)));
                if let Some(e) = &self.email {
                    let e = if rng.gen_bool(0.3) { e.to_uppercase() } else { e.clone() };
                    ids.insert("email".into(), json!(e));
                } else {
                    ids.insert("phone".into(), json!(self.phone_as(rng)));
                }
            }
            "social" => {
                match (&self.facebook, &self.zalo) {
                    (Some(f), _) if rng.gen_bool(0.5) => ids.insert("facebook_id".into(), json!(f)),
                    (_, Some(z)) => ids.insert("zalo_id".into(), json!(z)),
                    (Some(f), None) => ids.insert("facebook_id".into(), json!(f)),
                    (None, None) => None,
                };
                ids.insert("phone".into(), json!(self.phone_as(rng)));
            }
            _ => {
                ids.insert("phone".into(), json!(self.phone_as(rng)));
            }
        }
        ids
    }

    /// The lines of an order on `day` (Tết baskets in the weeks before Tết).
    pub fn basket(&self, rng: &mut StdRng, tet: bool) -> Vec<Value> {
        let mut lines = Vec::new();
        let mut add = |i: usize, q: i64| {
            let (id, name, cat, price) = CATALOGUE[i];
            lines.push(json!({"product_id": id, "name": name, "category": cat, "price": price, "quantity": q}));
        };
        match self.kind {
            Kind::Household => {
                add(rng.gen_range(0..2), rng.gen_range(1..13));
                if rng.gen_bool(0.6) {
                    add(rng.gen_range(2..4), rng.gen_range(1..4));
                }
                if rng.gen_bool(0.25) {
                    add(rng.gen_range(4..6), 1);
                }
            }
            Kind::Family => {
                add(6, rng.gen_range(1..4));
                if rng.gen_bool(0.7) {
                    add(rng.gen_range(0..4), rng.gen_range(2..9));
                }
            }
            Kind::Business => {
                add(1, rng.gen_range(20..61));
                add(7, rng.gen_range(1..4));
                if rng.gen_bool(0.5) {
                    add(5, rng.gen_range(2..6));
                }
            }
        }
        if tet && rng.gen_bool(0.5) {
            add(8, rng.gen_range(1..4));
        }
        lines
    }
}
