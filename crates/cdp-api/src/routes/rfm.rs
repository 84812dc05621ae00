//! RFM: the distribution of customers over the named segments as of a date.

use crate::auth::Auth;
use crate::body::{parse_json, read_limited};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
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
    let r = crate::blocking(state, move |app| app.rfm(as_of, store)).await?;
    let currency = r.currency;
    Ok(RfmOut {
        as_of: r.as_of,
        customers: r.customers,
        revenue: to_major(r.revenue, &currency),
        segments: r
            .segments
            .into_iter()
            .map(|s| SegmentShare {
                segment: s.segment.to_string(),
                customers: s.customers,
                revenue: to_major(s.revenue, &currency),
                share_of_customers: s.share_of_customers,
                share_of_revenue: s.share_of_revenue,
            })
            .collect(),
        currency,
    })
}
