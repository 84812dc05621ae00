//! NPS and CSAT over a period, by channel, city and month.

use super::*;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NpsQuery {
    /// First day (default: 89 days before `to`).
    pub from: Option<String>,
    /// Last day (default: today).
    pub to: Option<String>,
    /// Only answers given on this channel.
    pub channel: Option<String>,
    /// Only people whose `city` trait is this.
    pub city: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SatisfactionOut {
    /// The channel, the city or the month (YYYY-MM) of this line.
    pub key: String,
    #[serde(flatten)]
    #[schema(inline)]
    pub figures: SatisfactionFigures,
}

/// NPS and CSAT figures; ratios are null when there are no answers.
#[derive(Serialize, ToSchema, Default, Clone)]
pub struct SatisfactionFigures {
    pub responses: u64,
    pub promoters: u64,
    pub passives: u64,
    pub detractors: u64,
    pub nps: Option<f64>,
    pub csat_responses: u64,
    pub csat_mean: Option<f64>,
    pub csat_satisfied_pct: Option<f64>,
}

impl From<&Satisfaction> for SatisfactionFigures {
    fn from(s: &Satisfaction) -> Self {
        SatisfactionFigures {
            responses: s.responses,
            promoters: s.promoters,
            passives: s.passives,
            detractors: s.detractors,
            nps: s.nps,
            csat_responses: s.csat_responses,
            csat_mean: s.csat_mean,
            csat_satisfied_pct: s.csat_satisfied_pct,
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"from": "2026-09-01", "to": "2026-11-23", "responses": 120, "promoters": 70, "passives": 30, "detractors": 20,
    "nps": 41.67, "csat_responses": 80, "csat_mean": 4.2, "csat_satisfied_pct": 85.0,
    "by_channel": [{"key": "app", "responses": 60, "promoters": 40, "passives": 12, "detractors": 8, "nps": 53.3, "csat_responses": 0, "csat_mean": null, "csat_satisfied_pct": null}],
    "by_city": [], "by_month": []}))]
pub struct NpsOut {
    pub from: String,
    pub to: String,
    #[serde(flatten)]
    #[schema(inline)]
    pub total: SatisfactionFigures,
    pub by_channel: Vec<SatisfactionOut>,
    pub by_city: Vec<SatisfactionOut>,
    pub by_month: Vec<SatisfactionOut>,
}

/// Net Promoter Score and CSAT over a period, by channel, by city and by month.
#[utoipa::path(tag = "analytics", operation_id = "get_nps", params(NpsQuery),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = NpsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/analytics/nps")]
pub async fn get_nps(state: web::Data<AppState>, who: Auth, q: web::Query<NpsQuery>) -> ApiResult<web::Json<NpsOut>> {
    who.require(Scope::AnalyticsRead)?;
    let q = q.into_inner();
    let r =
        crate::blocking(&state, move |app| app.nps(q.from.as_deref(), q.to.as_deref(), q.channel.as_deref(), q.city.as_deref())).await?;
    let lines = |m: BTreeMap<String, Satisfaction>| m.iter().map(|(k, s)| SatisfactionOut { key: k.clone(), figures: s.into() }).collect();
    Ok(web::Json(NpsOut {
        from: day_of(r.from),
        to: day_of(r.to - 1),
        total: (&r.total).into(),
        by_channel: lines(r.by_channel),
        by_city: lines(r.by_city),
        by_month: lines(r.by_month),
    }))
}

/// The date (UTC) of a time in micros.
pub(super) fn day_of(us: i64) -> String {
    cdp_app::value::date_of(us.div_euclid(86_400_000_000))
}
