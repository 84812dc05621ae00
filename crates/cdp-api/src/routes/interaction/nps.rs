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
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), 90)?;
    let channel = q.channel.as_deref().map(|c| channel_field("channel", c)).transpose()?;
    let db = state.db.clone();
    let rows = web::block(move || db.read(|c| store::scores_between(c, from, to, channel.map(Channel::as_str)))).await??;
    let mut total = Satisfaction::default();
    let (mut by_channel, mut by_city, mut by_month): (
        BTreeMap<String, Satisfaction>,
        BTreeMap<String, Satisfaction>,
        BTreeMap<String, Satisfaction>,
    ) = Default::default();
    for (kind, score, ch, at, traits) in rows {
        let city = serde_json::from_str::<Value>(&traits).ok().and_then(|t| t.get("city").and_then(Value::as_str).map(str::to_string));
        if q.city.as_ref().is_some_and(|want| city.as_ref() != Some(want)) {
            continue;
        }
        let Some(kind) = FeedbackKind::parse(&kind) else { continue };
        total.add(kind, score);
        by_channel.entry(ch).or_default().add(kind, score);
        by_city.entry(city.unwrap_or_else(|| "unknown".into())).or_default().add(kind, score);
        by_month.entry(cdp_store::from_micros(at).format("%Y-%m").to_string()).or_default().add(kind, score);
    }
    let lines = |m: BTreeMap<String, Satisfaction>| m.iter().map(|(k, s)| SatisfactionOut { key: k.clone(), figures: s.into() }).collect();
    let day = |us: i64| cdp_store::from_micros(us).date_naive().to_string();
    Ok(web::Json(NpsOut {
        from: day(from),
        to: day(to - 1),
        total: (&total).into(),
        by_channel: lines(by_channel),
        by_city: lines(by_city),
        by_month: lines(by_month),
    }))
}
