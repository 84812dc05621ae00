//! Customer value: the CLV model fit, its scores, and each profile's value.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::ts;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest};
use cdp_app::value::{date_of, ClvFit, FitSettings, ProfileValue};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
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
impl From<ClvFit> for FitOut {
    fn from(f: ClvFit) -> Self {
        FitOut {
            id: f.id,
            bg_nbd: BgNbdOut {
                r: f.bg_nbd.r,
                alpha: f.bg_nbd.alpha,
                a: f.bg_nbd.a,
                b: f.bg_nbd.b,
                log_likelihood: f.bg_nbd.log_likelihood,
            },
            gamma_gamma: f.gamma_gamma.map(|g| GammaGammaOut { p: g.p, q: g.q, gamma: g.gamma, log_likelihood: g.log_likelihood }),
            customers: f.customers,
            repeat_customers: f.repeat_customers,
            as_of: f.as_of,
            time_unit: f.time_unit,
            horizon: f.horizon,
            clv_months: f.clv_months,
            monthly_discount_rate: f.monthly_discount_rate,
            currency: f.currency,
            duration_ms: f.duration_ms,
            created_at: f.created_at,
        }
    }
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
    let settings = FitSettings {
        as_of: body.as_of,
        time_unit: body.time_unit,
        horizon: body.horizon,
        clv_months: body.clv_months,
        monthly_discount_rate: body.monthly_discount_rate,
    };
    Ok(web::Json(crate::blocking(&state, move |app| app.fit_clv(settings)).await?.into()))
}

/// The last fitted model.
#[utoipa::path(
    tag = "analytics", operation_id = "get_clv_model", security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = FitOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody))
)]
#[get("/analytics/clv/model")]
pub async fn get_clv_model(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<FitOut>> {
    who.require(Scope::AnalyticsRead)?;
    let fit = crate::blocking(&state, |app| app.clv_model()).await?.ok_or_else(|| ApiError::not_found("model"))?;
    Ok(web::Json(fit.into()))
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
    "last_order_at": "2026-10-20T09:00:00Z", "rfm": null, "referrals": 2, "referral_revenue": 3400000,
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
    /// People this person referred (a referral code they shared).
    pub referrals: usize,
    /// The revenue of the people they referred, in major units.
    pub referral_revenue: f64,
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
    Ok(web::Json(crate::blocking(&state, move |app| app.profile_value(&id)).await?.into()))
}

impl From<ProfileValue> for ValueOut {
    fn from(v: ProfileValue) -> Self {
        let (p, currency) = (v.profile, v.currency);
        ValueOut {
            orders_count: p.orders_count,
            revenue_total: to_major(p.revenue_total, &currency),
            referrals: v.referrals,
            referral_revenue: to_major(v.referral_revenue, &currency),
            first_order_at: p.first_order_at.map(ts),
            last_order_at: p.last_order_at.map(ts),
            rfm: v.rfm.map(|r| ProfileRfm { r: r.r, f: r.f, m: r.m, segment: r.segment, as_of: date_of(r.as_of_day) }),
            clv: v.clv.map(|(s, m)| ClvOut {
                p_alive: s.p_alive,
                expected_purchases: s.expected_purchases,
                expected_order_value: s.expected_order_value,
                clv: s.clv,
                horizon: m.horizon,
                time_unit: m.time_unit,
                as_of: m.as_of,
            }),
            currency,
        }
    }
}
