//! Customer value: each profile's orders and scores, RFM runs, the CLV model
//! (BG/NBD + Gamma-Gamma) and the customer metrics of a period.

use crate::store::{ProfileRow, ProfileStore, PurchaseSummary, Tx, ValueStore};
pub use crate::store::{RfmRow, ScoreRow};
use crate::{App, AppError, AppResult};
use cdp_domain::clv::{fit_models, score_all, Customer, ScoreSettings, Spender};
use cdp_domain::commerce::to_major;
use cdp_domain::event::parse_time;
use cdp_domain::kpis::{self, CustomerFacts, Kpis, OrderFact};
use cdp_domain::rfm::{self, RfmInput, SEGMENTS};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Days since 1970-01-01 of a date (`2026-11-23`) or of an RFC 3339 time's date.
pub fn parse_day(s: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().or_else(|| parse_time(s).map(|t| t.date_naive()))?;
    Some((date - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days())
}

/// The date of a day number.
pub fn date_of(day: i64) -> String {
    chrono::DateTime::from_timestamp(day * 86_400, 0).map(|t| t.date_naive().to_string()).unwrap_or_default()
}

fn day_field(field: &str, v: Option<&str>, default: i64) -> AppResult<i64> {
    match v {
        None => Ok(default),
        Some(s) => parse_day(s).ok_or_else(|| AppError::field(field, "invalid", "must be a date such as 2026-11-23")),
    }
}

fn today() -> i64 {
    chrono::Utc::now().timestamp().div_euclid(86_400)
}

/// Settings of a CLV fit; `None` takes the default.
#[derive(Debug, Clone, Default)]
pub struct FitSettings {
    pub as_of: Option<String>,
    pub time_unit: Option<String>,
    pub horizon: Option<f64>,
    pub clv_months: Option<u32>,
    pub monthly_discount_rate: Option<f64>,
}

/// A fitted CLV model, as stored and answered.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ClvFit {
    pub id: String,
    pub bg_nbd: BgNbdFit,
    pub gamma_gamma: Option<GammaGammaFit>,
    pub customers: usize,
    pub repeat_customers: usize,
    pub as_of: String,
    pub time_unit: String,
    pub horizon: f64,
    pub clv_months: u32,
    pub monthly_discount_rate: f64,
    pub currency: String,
    pub duration_ms: u64,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BgNbdFit {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub log_likelihood: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GammaGammaFit {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
}

/// A profile's value: its order aggregates, and its scores if a run or a fit made them.
#[derive(Debug, Clone)]
pub struct ProfileValue {
    pub profile: ProfileRow,
    pub currency: String,
    pub rfm: Option<RfmRow>,
    /// The profile's CLV scores and the fit that made them.
    pub clv: Option<(ScoreRow, ClvFit)>,
    /// People this person referred, and their revenue (minor units).
    pub referrals: usize,
    pub referral_revenue: i64,
}

/// Customers and revenue of one named RFM segment.
#[derive(Debug, Clone)]
pub struct SegmentShare {
    pub segment: &'static str,
    pub customers: usize,
    /// Net revenue up to as_of, minor units.
    pub revenue: i64,
    pub share_of_customers: f64,
    pub share_of_revenue: f64,
}

/// The distribution of customers over the named RFM segments.
#[derive(Debug, Clone)]
pub struct RfmReport {
    pub as_of: String,
    pub customers: usize,
    /// Minor units.
    pub revenue: i64,
    pub currency: String,
    pub segments: Vec<SegmentShare>,
}

/// Customer metrics over a period, overall, by order channel and by city.
#[derive(Debug, Clone)]
pub struct KpiReport {
    pub from: String,
    pub to: String,
    pub as_of: String,
    pub currency: String,
    pub overall: Kpis,
    pub by_channel: BTreeMap<String, Kpis>,
    pub by_city: BTreeMap<String, Kpis>,
}

impl App {
    pub fn profile_value(&self, id: &str) -> AppResult<ProfileValue> {
        let currency = self.config.currency.clone();
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                value_of(c, p, &currency)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Fits BG/NBD and Gamma-Gamma on every customer's purchase occasions up
    /// to `as_of`, scores everyone and stores model and scores.
    pub fn fit_clv(&self, s: FitSettings) -> AppResult<ClvFit> {
        let as_of = s.as_of.unwrap_or_else(|| chrono::Utc::now().date_naive().to_string());
        let as_of_day = parse_day(&as_of).ok_or_else(|| AppError::field("as_of", "invalid", "must be a date such as 1997-09-30"))?;
        let time_unit = s.time_unit.unwrap_or_else(|| "week".into());
        let unit_days = match time_unit.as_str() {
            "week" => 7.0,
            "day" => 1.0,
            _ => return Err(AppError::field("time_unit", "invalid", "must be week or day")),
        };
        let horizon = s.horizon.unwrap_or(364.0 / unit_days);
        if !(horizon.is_finite() && horizon > 0.0 && horizon <= 36_500.0 / unit_days) {
            return Err(AppError::field("horizon", "out_of_range", "must be positive and at most 100 years"));
        }
        let clv_months = s.clv_months.unwrap_or(12);
        if !(1..=240).contains(&clv_months) {
            return Err(AppError::field("clv_months", "out_of_range", "must be between 1 and 240"));
        }
        let discount = s.monthly_discount_rate.unwrap_or(0.01);
        if !(0.0..1.0).contains(&discount) {
            return Err(AppError::field("monthly_discount_rate", "out_of_range", "must be at least 0 and below 1"));
        }
        let currency = self.config.currency.clone();
        let started = std::time::Instant::now();
        let (mut ids, mut customers, mut spenders) = (Vec::new(), Vec::new(), Vec::new());
        self.db.read(|c| {
            ValueStore::for_each_summary(c, as_of_day, &mut |h| {
                let (cust, spender) = summarise(&h, as_of_day, unit_days, &currency);
                ids.push(h.profile_id);
                customers.push(cust);
                spenders.push(spender);
            })
        })?;
        let read = started.elapsed();
        let repeat: Vec<Spender> = spenders.iter().flatten().copied().collect();
        let (bg, gg) = fit_models(&customers, &repeat);
        let fitted = started.elapsed();
        let bg = bg
            .filter(|_| customers.len() >= 2)
            .ok_or_else(|| AppError::field("as_of", "too_few_customers", "at least two customers with purchases up to as_of are needed"))?;
        let settings = ScoreSettings { horizon, months: clv_months, month: 365.25 / 12.0 / unit_days, monthly_discount: discount };
        let model_id = crate::store::new_id();
        let scores: Vec<ScoreRow> = score_all(&bg.model, gg.as_ref().map(|g| &g.model), &customers, &spenders, &settings)
            .into_iter()
            .zip(ids)
            .map(|(s, profile_id)| ScoreRow {
                profile_id,
                model_id: model_id.clone(),
                p_alive: s.p_alive,
                expected_purchases: s.expected_purchases,
                expected_order_value: s.expected_order_value,
                clv: s.clv,
            })
            .collect();
        let fit = ClvFit {
            id: model_id.clone(),
            bg_nbd: BgNbdFit { r: bg.model.r, alpha: bg.model.alpha, a: bg.model.a, b: bg.model.b, log_likelihood: bg.log_likelihood },
            gamma_gamma: gg.map(|g| GammaGammaFit { p: g.model.p, q: g.model.q, gamma: g.model.gamma, log_likelihood: g.log_likelihood }),
            customers: customers.len(),
            repeat_customers: repeat.len(),
            as_of,
            time_unit,
            horizon,
            clv_months,
            monthly_discount_rate: discount,
            currency,
            duration_ms: started.elapsed().as_millis() as u64,
            created_at: crate::rfc3339(crate::store::now_micros()),
        };
        let body = serde_json::to_string(&fit).map_err(crate::store::StoreError::from)?;
        // Gone before the write, which holds the scores and its own buffers:
        // the peak memory need not hold a million customers' inputs too.
        drop((customers, spenders, repeat));
        let scored = started.elapsed();
        self.db.write(|c| ValueStore::save_fit(c, &model_id, &body, crate::store::now_micros(), &scores))?;
        log::info!(
            "clv fit: {} customers read in {read:.2?}, fitted by {fitted:.2?}, scored by {scored:.2?}, saved by {:.2?}",
            scores.len(),
            started.elapsed()
        );
        drop(scores);
        crate::memory::release_freed();
        Ok(fit)
    }

    /// The last fit, if any.
    pub fn clv_model(&self) -> AppResult<Option<ClvFit>> {
        let body = self.db.read(|c| ValueStore::latest_model(c))?;
        Ok(body.map(|b| serde_json::from_str(&b).map_err(crate::store::StoreError::from)).transpose()?)
    }

    /// Scores every customer with purchases up to `as_of` (today when `None`):
    /// quintiles 1–5 of recency, frequency and monetary value and the named
    /// segments. With `store`, keeps each profile's scores (replacing the
    /// previous run's); otherwise writes nothing.
    pub fn rfm(&self, as_of: Option<String>, store: bool) -> AppResult<RfmReport> {
        let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive().to_string());
        let day = parse_day(&as_of).ok_or_else(|| AppError::field("as_of", "invalid", "must be a date such as 2026-11-23"))?;
        let started = std::time::Instant::now();
        let mut inputs = Vec::new();
        self.db.read(|c| {
            ValueStore::for_each_summary(c, day, &mut |h: PurchaseSummary| {
                inputs.push(RfmInput {
                    first_day: h.first_day,
                    last_day: h.last_day,
                    frequency: h.days,
                    monetary: h.revenue,
                    id: h.profile_id,
                })
            })
        })?;
        let read = started.elapsed();
        let scores = rfm::score(&inputs);
        let total: i64 = inputs.iter().map(|i| i.monetary).sum();
        let segments = SEGMENTS
            .iter()
            .map(|name| {
                let (n, revenue) = inputs
                    .iter()
                    .zip(&scores)
                    .filter(|(_, s)| s.segment == *name)
                    .fold((0usize, 0i64), |(n, r), (i, _)| (n + 1, r + i.monetary));
                SegmentShare {
                    segment: name,
                    customers: n,
                    revenue,
                    share_of_customers: if inputs.is_empty() { 0.0 } else { n as f64 / inputs.len() as f64 },
                    share_of_revenue: if total == 0 { 0.0 } else { revenue as f64 / total as f64 },
                }
            })
            .collect();
        let customers = inputs.len();
        if store {
            // The inputs are consumed (their ids move into the rows) and gone
            // before the write: the peak memory need not hold a million
            // customers' inputs and scores twice.
            let rows: Vec<RfmRow> = inputs
                .into_iter()
                .zip(scores)
                .map(|(i, s)| RfmRow {
                    profile_id: i.id,
                    r: s.r.into(),
                    f: s.f.into(),
                    m: s.m.into(),
                    segment: s.segment.into(),
                    as_of_day: day,
                })
                .collect();
            let scored = started.elapsed();
            self.db.write(|c| ValueStore::save_rfm(c, &rows))?;
            log::info!("rfm run: {customers} customers read in {read:.2?}, scored by {scored:.2?}, saved by {:.2?}", started.elapsed());
            drop(rows);
            crate::memory::release_freed();
        }
        Ok(RfmReport { as_of, customers, revenue: total, currency: self.config.currency.clone(), segments })
    }

    /// Customer metrics between `from` and `to` (dates; default the year up
    /// to today), customers counted as of `as_of` (default `to`).
    pub fn kpis(&self, from: Option<&str>, to: Option<&str>, as_of: Option<&str>) -> AppResult<KpiReport> {
        let to = day_field("to", to, today())?;
        let from = day_field("from", from, to - 364)?;
        let as_of = day_field("as_of", as_of, to)?;
        if from > to {
            return Err(AppError::field("from", "invalid", "must not be after `to`"));
        }
        let currency = self.config.currency.clone();
        let data = self.db.read(|c| ValueStore::kpi_data(c, from, to, as_of, &currency))?;
        let index: HashMap<&str, usize> = data.customers.iter().enumerate().map(|(i, (p, _))| (p.as_str(), i)).collect();
        let facts: Vec<CustomerFacts> = data
            .customers
            .iter()
            .map(|(p, days)| {
                let s = data.scores.get(p);
                CustomerFacts { purchase_days: *days, p_alive: s.map(|s| s.0), clv: s.map(|s| s.1) }
            })
            .collect();
        let mut categories: HashMap<String, u32> = HashMap::new();
        let mut orders: Vec<(OrderFact, &str)> = Vec::new();
        for o in &data.orders {
            let Some(&customer) = index.get(o.profile_id.as_str()) else { continue };
            let items: Vec<serde_json::Value> = serde_json::from_str(&o.products).unwrap_or_default();
            let cats = items
                .iter()
                .filter_map(|i| i.get("category").and_then(|c| c.as_str()))
                .map(|c| {
                    let n = categories.len() as u32;
                    *categories.entry(c.to_string()).or_insert(n)
                })
                .collect();
            orders.push((OrderFact { customer, revenue: o.net, margin: o.margin, categories: cats }, o.channel.as_str()));
        }
        let all: Vec<OrderFact> = orders.iter().map(|(o, _)| o.clone()).collect();
        let overall = kpis::compute(&facts, |_| true, &all);
        let mut by_channel = BTreeMap::new();
        let channels: BTreeSet<&str> = orders.iter().map(|(_, c)| *c).collect();
        for ch in channels {
            let mine: Vec<OrderFact> = orders.iter().filter(|(_, c)| *c == ch).map(|(o, _)| o.clone()).collect();
            let mut member = vec![false; facts.len()];
            mine.iter().for_each(|o| member[o.customer] = true);
            by_channel.insert(ch.to_string(), kpis::compute(&facts, |i| member[i], &mine));
        }
        let city_of: Vec<String> = data
            .customers
            .iter()
            .map(|(p, _)| {
                let traits: serde_json::Value = data.traits.get(p).and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
                traits.get("city").or_else(|| traits.get("region")).and_then(|c| c.as_str()).unwrap_or("unknown").to_string()
            })
            .collect();
        let mut by_city = BTreeMap::new();
        let cities: BTreeSet<&String> = city_of.iter().collect();
        for city in cities {
            by_city.insert(city.clone(), kpis::compute(&facts, |i| &city_of[i] == city, &all));
        }
        Ok(KpiReport { from: date_of(from), to: date_of(to), as_of: date_of(as_of), currency, overall, by_channel, by_city })
    }
}

/// A profile's value inside the caller's read.
pub(crate) fn value_of(c: &mut dyn Tx, p: ProfileRow, currency: &str) -> crate::store::StoreResult<ProfileValue> {
    let score = ValueStore::score_of(c, &p.id)?;
    let model = if score.is_some() { ValueStore::latest_model(c)? } else { None };
    let model: Option<ClvFit> = model.and_then(|m| serde_json::from_str(&m).ok());
    let rfm = ValueStore::rfm_of(c, &p.id)?;
    let mut referred: Vec<(String, i64)> = crate::store::ProgrammeStore::referrals_of(c, &p.id)?
        .into_iter()
        .filter(|r| r.referee != p.id)
        .map(|r| (r.referee, r.revenue_total))
        .collect();
    referred.sort();
    referred.dedup();
    let referral_revenue = referred.iter().map(|r| r.1).sum();
    Ok(ProfileValue { clv: score.zip(model), rfm, currency: currency.to_string(), profile: p, referrals: referred.len(), referral_revenue })
}

fn summarise(h: &PurchaseSummary, as_of_day: i64, unit_days: f64, currency: &str) -> (Customer, Option<Spender>) {
    let x = (h.days - 1) as f64;
    let customer = Customer { x, t_x: (h.last_day - h.first_day) as f64 / unit_days, t: (as_of_day - h.first_day) as f64 / unit_days };
    let spender = (x >= 1.0).then(|| Spender { x, m: to_major(h.revenue - h.first_day_revenue, currency) / x });
    (customer, spender)
}
