//! RFM: the distribution of customers over the named segments as of a date.

use crate::auth::Auth;
use crate::body::{parse_json, read_limited};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::analytics::parse_day;
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use cdp_domain::rfm::{self, RfmInput, SEGMENTS};
use cdp_store::repo::value::{self, RfmRow};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RfmQuery {
    /// Score purchases up to this date (default: today).
    #[param(example = "2026-11-23")]
    pub as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SegmentShare {
    pub segment: String,
    pub customers: usize,
    /// Net revenue up to as_of, major units.
    pub revenue: f64,
    pub share_of_customers: f64,
    pub share_of_revenue: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"as_of": "2026-11-23", "customers": 1200, "revenue": 845000000.0, "currency": "VND",
    "segments": [{"segment": "champions", "customers": 96, "revenue": 310000000.0, "share_of_customers": 0.08, "share_of_revenue": 0.367}]}))]
pub struct RfmOut {
    pub as_of: String,
    pub customers: usize,
    pub revenue: f64,
    pub currency: String,
    /// Every named segment, in the order of the R×F grid's names.
    pub segments: Vec<SegmentShare>,
}

/// The distribution over the named segments as of `as_of`: every customer
/// with purchases up to that day scored (quintiles 1–5 of recency, frequency
/// and monetary value). Nothing is stored; `POST /analytics/rfm/runs` keeps
/// the scores.
#[utoipa::path(
    tag = "analytics", operation_id = "get_rfm", params(RfmQuery),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = RfmOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[get("/analytics/rfm")]
pub async fn get_rfm(state: web::Data<AppState>, who: Auth, q: web::Query<RfmQuery>) -> ApiResult<web::Json<RfmOut>> {
    who.require(Scope::AnalyticsRead)?;
    Ok(web::Json(run(&state, q.into_inner().as_of, false).await?))
}

/// An RFM run: scores every customer with purchases up to `as_of` as
/// `GET /analytics/rfm` does, and stores each profile's scores, which its
/// `value.rfm` and the segment rule `rfm_segment` then read (replacing the
/// previous run's).
#[utoipa::path(
    tag = "analytics", operation_id = "create_rfm_run", request_body = RfmRunIn,
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 201, body = RfmOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
               (status = 422, body = ErrorBody))
)]
#[post("/analytics/rfm/runs")]
pub async fn create_rfm_run(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::AnalyticsRead)?;
    let bytes = read_limited(&req, payload, 64 * 1024).await?;
    let RfmRunIn { as_of } = if bytes.is_empty() { RfmRunIn::default() } else { parse_json(&bytes)? };
    Ok(HttpResponse::Created().json(run(&state, as_of, true).await?))
}

/// An empty body scores as of today.
#[derive(Default, Deserialize, ToSchema)]
#[schema(example = json!({"as_of": "2026-11-23"}))]
pub struct RfmRunIn {
    /// Score purchases up to this date (default: today).
    #[serde(default)]
    pub as_of: Option<String>,
}

/// Scores every customer as of `as_of` (today when `None`); with `store`,
/// keeps each profile's scores.
async fn run(state: &AppState, as_of: Option<String>, store: bool) -> ApiResult<RfmOut> {
    let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive().to_string());
    let day = parse_day(&as_of).ok_or_else(|| ApiError::field("as_of", "invalid", "must be a date such as 2026-11-23"))?;
    let (db, currency) = (state.db.clone(), state.currency.clone());
    web::block(move || -> ApiResult<RfmOut> {
        let started = std::time::Instant::now();
        let mut inputs = Vec::new();
        db.read(|c| {
            value::for_each_summary(c, day, |h| {
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
                    segment: name.to_string(),
                    customers: n,
                    revenue: to_major(revenue, &currency),
                    share_of_customers: if inputs.is_empty() { 0.0 } else { n as f64 / inputs.len() as f64 },
                    share_of_revenue: if total == 0 { 0.0 } else { revenue as f64 / total as f64 },
                }
            })
            .collect();
        let customers = inputs.len();
        if store {
            // The inputs are consumed (their ids move into the rows) and gone
            // before the write: the server's peak memory need not hold a
            // million customers' inputs and scores twice.
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
            db.write(|c| value::save_rfm(c, &rows))?;
            log::info!("rfm run: {customers} customers read in {read:.2?}, scored by {scored:.2?}, saved by {:.2?}", started.elapsed());
            drop(rows);
            crate::memory::release_freed();
        }
        Ok(RfmOut { as_of, customers, revenue: to_major(total, &currency), currency, segments })
    })
    .await?
}
