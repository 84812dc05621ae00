//! Customer value: the CLV model fit, its scores, and each profile's value.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::ts;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest};
use cdp_domain::auth::Scope;
use cdp_domain::clv::{fit_models, score_all, Customer, ScoreSettings, Spender};
use cdp_domain::commerce::to_major;
use cdp_domain::event::parse_time;
use cdp_store::repo::value::{self, ScoreRow};
use cdp_store::repo::{profiles, value::PurchaseSummary};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"as_of": "1997-09-30", "time_unit": "week", "horizon": 39, "clv_months": 12, "monthly_discount_rate": 0.01}))]
pub struct FitRequest {
    /// Orders after this date are ignored (default: today). A date or RFC 3339 time.
    pub as_of: Option<String>,
    /// `week` (default) or `day`.
    pub time_unit: Option<String>,
    /// Horizon of `expected_purchases`, in time units (default 52 weeks).
    pub horizon: Option<f64>,
    /// Months of CLV (default 12).
    pub clv_months: Option<u32>,
    /// Monthly discount rate (default 0.01).
    pub monthly_discount_rate: Option<f64>,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct BgNbdOut {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
    pub log_likelihood: f64,
}

#[derive(Serialize, Deserialize, ToSchema, Clone)]
pub struct GammaGammaOut {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
    pub log_likelihood: f64,
}

/// A fitted model: BG/NBD on every customer, Gamma-Gamma on repeat buyers.
#[derive(Serialize, Deserialize, ToSchema, Clone)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "bg_nbd": {"r": 0.2426, "alpha": 4.4135, "a": 0.7929, "b": 2.4258, "log_likelihood": -9582.43},
    "gamma_gamma": {"p": 6.2488, "q": 3.7443, "gamma": 15.4437, "log_likelihood": -4053.7}, "customers": 2357, "repeat_customers": 946,
    "as_of": "1997-09-30", "time_unit": "week", "horizon": 39.0, "clv_months": 12, "monthly_discount_rate": 0.01, "currency": "USD",
    "duration_ms": 41, "created_at": "2026-11-23T08:00:00Z"}))]
pub struct FitOut {
    pub id: String,
    pub bg_nbd: BgNbdOut,
    pub gamma_gamma: Option<GammaGammaOut>,
    pub customers: usize,
    pub repeat_customers: usize,
    pub as_of: String,
    pub time_unit: String,
    pub horizon: f64,
    pub clv_months: u32,
    pub monthly_discount_rate: f64,
    /// Currency of expected order values and CLV.
    pub currency: String,
    pub duration_ms: u64,
    pub created_at: String,
}

/// Days since the epoch of a date (`2026-11-23`) or RFC 3339 time.
pub fn parse_day(s: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok().or_else(|| parse_time(s).map(|t| t.date_naive()))?;
    Some((date - NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days())
}

/// A customer's summary for the models, from purchase days up to `as_of_day`.
fn summarise(h: &PurchaseSummary, as_of_day: i64, unit_days: f64, currency: &str) -> (Customer, Option<Spender>) {
    let x = (h.days - 1) as f64;
    let customer = Customer { x, t_x: (h.last_day - h.first_day) as f64 / unit_days, t: (as_of_day - h.first_day) as f64 / unit_days };
    let spender = (x >= 1.0).then(|| Spender { x, m: to_major(h.revenue - h.first_day_revenue, currency) / x });
    (customer, spender)
}

/// Fits BG/NBD and Gamma-Gamma on every customer's purchases up to `as_of`,
/// then scores every customer: P(alive), expected purchases over the horizon,
/// expected order value and discounted CLV. Reads purchase occasions kept at
/// ingest, never events.
#[utoipa::path(
    tag = "analytics", operation_id = "fit_clv", request_body = FitRequest,
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = FitOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 422, description = "bad settings, or too few customers to fit", body = ErrorBody))
)]
#[post("/analytics/clv/fit")]
pub async fn fit_clv(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<web::Json<FitOut>> {
    who.require(Scope::AnalyticsRead)?;
    let body: FitRequest = json_body(&req, payload).await?;
    let as_of_text = body.as_of.clone().unwrap_or_else(|| chrono::Utc::now().date_naive().to_string());
    let as_of_day = parse_day(&as_of_text).ok_or_else(|| ApiError::field("as_of", "invalid", "must be a date such as 1997-09-30"))?;
    let time_unit = body.time_unit.clone().unwrap_or_else(|| "week".into());
    let unit_days = match time_unit.as_str() {
        "week" => 7.0,
        "day" => 1.0,
        _ => return Err(ApiError::field("time_unit", "invalid", "must be week or day")),
    };
    let horizon = body.horizon.unwrap_or(364.0 / unit_days);
    if !(horizon.is_finite() && horizon > 0.0 && horizon <= 36_500.0 / unit_days) {
        return Err(ApiError::field("horizon", "out_of_range", "must be positive and at most 100 years"));
    }
    let clv_months = body.clv_months.unwrap_or(12);
    if !(1..=240).contains(&clv_months) {
        return Err(ApiError::field("clv_months", "out_of_range", "must be between 1 and 240"));
    }
    let discount = body.monthly_discount_rate.unwrap_or(0.01);
    if !(0.0..1.0).contains(&discount) {
        return Err(ApiError::field("monthly_discount_rate", "out_of_range", "must be at least 0 and below 1"));
    }
    let (db, currency) = (state.db.clone(), state.currency.clone());
    let fit = web::block(move || -> ApiResult<FitOut> {
        let started = std::time::Instant::now();
        let mut ids = Vec::new();
        let mut customers = Vec::new();
        let mut spenders = Vec::new();
        db.read(|c| {
            value::for_each_summary(c, as_of_day, |h| {
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
            .ok_or_else(|| ApiError::field("as_of", "too_few_customers", "at least two customers with purchases up to as_of are needed"))?;
        let settings = ScoreSettings { horizon, months: clv_months, month: 365.25 / 12.0 / unit_days, monthly_discount: discount };
        let model_id = cdp_store::new_id();
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
        let out = FitOut {
            id: model_id.clone(),
            bg_nbd: BgNbdOut { r: bg.model.r, alpha: bg.model.alpha, a: bg.model.a, b: bg.model.b, log_likelihood: bg.log_likelihood },
            gamma_gamma: gg.map(|g| GammaGammaOut { p: g.model.p, q: g.model.q, gamma: g.model.gamma, log_likelihood: g.log_likelihood }),
            customers: customers.len(),
            repeat_customers: repeat.len(),
            as_of: as_of_text,
            time_unit,
            horizon,
            clv_months,
            monthly_discount_rate: discount,
            currency,
            duration_ms: started.elapsed().as_millis() as u64,
            created_at: ts(cdp_store::now_micros()),
        };
        let body = serde_json::to_string(&out).map_err(|_| ApiError::internal())?;
        // Gone before the write, which holds the scores and its own buffers:
        // the server's peak memory need not hold a million customers' inputs too.
        drop((customers, spenders, repeat));
        let scored = started.elapsed();
        db.write(|c| value::save_fit(c, &model_id, &body, cdp_store::now_micros(), &scores))?;
        log::info!(
            "clv fit: {} customers read in {read:.2?}, fitted by {fitted:.2?}, scored by {scored:.2?}, saved by {:.2?}",
            scores.len(),
            started.elapsed()
        );
        drop(scores);
        crate::memory::release_freed();
        Ok(out)
    })
    .await??;
    Ok(web::Json(fit))
}

/// The last fitted model.
#[utoipa::path(
    tag = "analytics", operation_id = "get_clv_model", security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = FitOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/analytics/clv/model")]
pub async fn get_clv_model(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<FitOut>> {
    who.require(Scope::AnalyticsRead)?;
    let db = state.db.clone();
    let body = web::block(move || db.read(value::latest_model)).await??.ok_or_else(|| ApiError::not_found("model"))?;
    serde_json::from_str(&body).map(web::Json).map_err(|e| {
        log::error!("stored model is corrupt: {e}");
        ApiError::internal()
    })
}

/// A profile's scores from the latest RFM run.
#[derive(Serialize, ToSchema)]
pub struct ProfileRfm {
    pub r: i32,
    pub f: i32,
    pub m: i32,
    pub segment: String,
    pub as_of: String,
}

#[derive(Serialize, ToSchema)]
pub struct ClvOut {
    pub p_alive: f64,
    /// Purchases expected over the horizon.
    pub expected_purchases: f64,
    /// Gamma-Gamma mean value of a purchase (the population mean without repeat purchases).
    pub expected_order_value: f64,
    pub clv: f64,
    pub horizon: f64,
    pub time_unit: String,
    pub as_of: String,
}

/// A profile's value: orders, revenue and the latest model's predictions.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"orders_count": 3, "revenue_total": 1250000, "currency": "VND", "first_order_at": "2026-01-05T03:15:00Z",
    "last_order_at": "2026-10-20T09:00:00Z", "rfm": null,
    "clv": {"p_alive": 0.82, "expected_purchases": 2.1, "expected_order_value": 415000, "clv": 830000, "horizon": 52.0, "time_unit": "week", "as_of": "2026-11-23"}}))]
pub struct ValueOut {
    pub orders_count: i64,
    /// Net of refunds, in major units.
    pub revenue_total: f64,
    pub currency: String,
    pub first_order_at: Option<String>,
    pub last_order_at: Option<String>,
    pub rfm: Option<ProfileRfm>,
    pub clv: Option<ClvOut>,
}

/// What a customer is worth: orders, revenue, and the latest CLV model's
/// P(alive), expected purchases, expected order value and CLV.
#[utoipa::path(
    tag = "analytics", operation_id = "get_profile_value", security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = ValueOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/profiles/{id}/value")]
pub async fn get_profile_value(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ValueOut>> {
    who.require(Scope::AnalyticsRead)?;
    let (db, currency) = (state.db.clone(), state.currency.clone());
    let out = web::block(move || {
        db.read(|c| {
            let p = profiles::resolve(c, &id)?;
            value_of(c, &p, &currency)
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    Ok(web::Json(out))
}

/// A live profile's value: orders, revenue, RFM and the last CLV scores.
pub(crate) fn value_of(c: &mut cdp_store::AnyConnection, p: &profiles::ProfileRow, currency: &str) -> cdp_store::StoreResult<ValueOut> {
    let score = value::score_of(c, &p.id)?;
    let model = if score.is_some() { value::latest_model(c)? } else { None };
    let rfm = value::rfm_of(c, &p.id)?;
    let model: Option<FitOut> = model.and_then(|m| serde_json::from_str(&m).ok());
    let clv = score.zip(model).map(|(s, m)| ClvOut {
        p_alive: s.p_alive,
        expected_purchases: s.expected_purchases,
        expected_order_value: s.expected_order_value,
        clv: s.clv,
        horizon: m.horizon,
        time_unit: m.time_unit,
        as_of: m.as_of,
    });
    Ok(ValueOut {
        orders_count: p.orders_count,
        revenue_total: to_major(p.revenue_total, currency),
        first_order_at: p.first_order_at.map(ts),
        last_order_at: p.last_order_at.map(ts),
        currency: currency.to_string(),
        rfm: rfm.map(|r| ProfileRfm {
            r: r.r,
            f: r.f,
            m: r.m,
            segment: r.segment,
            as_of: chrono::DateTime::from_timestamp(r.as_of_day * 86_400, 0).map(|t| t.date_naive().to_string()).unwrap_or_default(),
        }),
        clv,
    })
}
