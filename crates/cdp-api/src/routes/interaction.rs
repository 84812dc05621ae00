//! Interaction: surveys and feedback (NPS, CSAT, text with sentiment), cases
//! with SLA, the agent's context view, and "you spoke, we listened".

use crate::auth::Principal;
use crate::body::{json_body, parse_json};
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, time_param, ts, List, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::analytics::{parse_day, value_of, ValueOut};
use crate::routes::consent::{consents_of, preferences_of, ConsentsOut, PreferencesOut};
use crate::routes::events::{defaults_for, origin_of};
use crate::routes::profiles::{EventOut, ProfileOut};
use crate::state::AppState;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use cdp_domain::interaction::{self, CaseStatus, FeedbackKind, Priority, Satisfaction};
use cdp_domain::{Channel, NewEvent, RawEvent};
use cdp_store::repo::ingest::{self, Outcome};
use cdp_store::repo::interaction::{self as store, CaseFilter, CaseRow, FeedbackFilter, FeedbackRow, ImprovementRow, SurveyRow};
use cdp_store::repo::{loyalty, profiles};
use cdp_store::{AnyConnection, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 86_400_000_000;

fn text_field(field: &str, v: Option<&str>, max: usize, required: bool) -> ApiResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None if required => Err(ApiError::field(field, "required", "is required")),
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(ApiError::field(field, "too_long", format!("must be at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn category_field(field: &str, v: Option<&str>, required: bool) -> ApiResult<Option<String>> {
    let c = text_field(field, v, 64, required)?;
    if let Some(c) = &c {
        if !c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-') {
            return Err(ApiError::field(field, "invalid", "must be a code such as `delivery` or `product_quality` ([a-z0-9_-])"));
        }
    }
    Ok(c)
}

fn channel_field(field: &str, v: &str) -> ApiResult<Channel> {
    v.parse::<Channel>().map_err(|e| ApiError::field(field, "invalid", e.to_string()))
}

/// [from, to) in µs from dates (inclusive, `to` default today, `from` default `days` before).
fn period(from: Option<&str>, to: Option<&str>, days: i64) -> ApiResult<(i64, i64)> {
    let today = chrono::Utc::now().timestamp().div_euclid(86_400);
    let day = |field: &str, v: Option<&str>, dflt: i64| match v.filter(|s| !s.is_empty()) {
        None => Ok(dflt),
        Some(s) => parse_day(s).ok_or_else(|| ApiError::field(field, "invalid", "must be a date such as 2026-11-23")),
    };
    let to = day("to", to, today)?;
    let from = day("from", from, to - days + 1)?;
    if from > to {
        return Err(ApiError::field("from", "invalid", "must not be after `to`"));
    }
    Ok((from * DAY_US, (to + 1) * DAY_US))
}

// ---------------------------------------------------------------- surveys

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "NPS after delivery", "kind": "nps", "question": "Bạn có sẵn lòng giới thiệu chúng tôi cho bạn bè không?", "channels": ["app", "email"]}))]
pub struct SurveyIn {
    pub name: String,
    /// nps (0–10), csat (1–5) or text.
    pub kind: String,
    pub question: String,
    /// Channels it is asked on.
    pub channels: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SurveyOut {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub question: String,
    pub channels: Vec<String>,
    pub created_at: String,
}

impl From<SurveyRow> for SurveyOut {
    fn from(r: SurveyRow) -> Self {
        SurveyOut {
            channels: serde_json::from_str(&r.channels).unwrap_or_default(),
            id: r.id,
            name: r.name,
            kind: r.kind,
            question: r.question,
            created_at: ts(r.created_at),
        }
    }
}

/// Defines a survey: what is asked, how it is scored, on which channels.
#[utoipa::path(tag = "interaction", operation_id = "create_survey", request_body = SurveyIn,
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = SurveyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/surveys")]
pub async fn create_survey(state: web::Data<AppState>, who: Principal, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let body: SurveyIn = json_body(&req, payload).await?;
    let name = text_field("name", Some(&body.name), 200, true)?.unwrap_or_default();
    let question = text_field("question", Some(&body.question), 1000, true)?.unwrap_or_default();
    let kind = FeedbackKind::parse(&body.kind).ok_or_else(|| ApiError::field("kind", "invalid", "must be nps, csat or text"))?;
    if body.channels.is_empty() {
        return Err(ApiError::field("channels", "required", "must name at least one channel"));
    }
    let channels: Vec<&str> = body
        .channels
        .iter()
        .enumerate()
        .map(|(i, c)| channel_field(&format!("channels[{i}]"), c).map(Channel::as_str))
        .collect::<ApiResult<_>>()?;
    let row = SurveyRow {
        id: cdp_store::new_id(),
        name,
        kind: kind.as_str().into(),
        question,
        channels: json!(channels).to_string(),
        created_by: who.actor(),
        created_at: cdp_store::now_micros(),
    };
    let (db, saved) = (state.db.clone(), row.clone());
    web::block(move || db.write(|c| store::add_survey(c, &saved))).await??;
    Ok(HttpResponse::Created().json(SurveyOut::from(row)))
}

#[utoipa::path(tag = "interaction", operation_id = "list_surveys",
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = List<SurveyOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/surveys")]
pub async fn list_surveys(state: web::Data<AppState>, who: Principal) -> ApiResult<web::Json<List<SurveyOut>>> {
    who.require(Scope::ProfilesRead)?;
    let db = state.db.clone();
    let rows = web::block(move || db.read(store::surveys)).await??;
    Ok(web::Json(List { items: rows.into_iter().map(SurveyOut::from).collect() }))
}

// --------------------------------------------------------------- feedback

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"kind": "nps", "score": 9, "text": "Giao hàng nhanh, nhân viên rất nhiệt tình", "channel": "app",
    "identities": {"phone": "0912 345 678"}, "category": "delivery", "survey_id": null, "order_id": "Q1-000123"}))]
pub struct FeedbackIn {
    /// nps (score 0–10), csat (score 1–5) or text.
    pub kind: String,
    pub score: Option<Value>,
    /// Free text, ≤ 5000 characters; its sentiment is scored (Vietnamese or English).
    pub text: Option<String>,
    pub channel: String,
    /// Who answered, resolved like an event's identities (or give `profile_id`).
    #[schema(value_type = Option<Object>)]
    pub identities: Option<Value>,
    pub profile_id: Option<String>,
    /// What it is about (`delivery`, `product_quality`…), for "you spoke, we listened".
    pub category: Option<String>,
    pub survey_id: Option<String>,
    pub order_id: Option<String>,
    pub case_id: Option<String>,
    pub occurred_at: Option<String>,
    /// Makes a retry safe: the same message_id from the same key answers the first response.
    pub message_id: Option<String>,
}

#[derive(Serialize, ToSchema, Clone)]
pub struct SentimentOut {
    /// positive, neutral or negative
    pub label: String,
    /// −1 … 1
    pub score: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-9100-7000-8000-000000000001", "profile_id": "01936f3e-8a40-7000-8000-000000000001",
    "event_id": "01936f3e-9100-7000-8000-000000000002", "kind": "nps", "score": 9, "text": "Giao hàng nhanh", "category": "delivery",
    "channel": "app", "sentiment": {"label": "positive", "score": 0.762}, "survey_id": null, "order_id": "Q1-000123", "case_id": null,
    "occurred_at": "2026-11-23T08:00:00Z"}))]
pub struct FeedbackOut {
    pub id: String,
    pub profile_id: String,
    /// The `Feedback Submitted` event on the timeline.
    pub event_id: String,
    pub kind: String,
    pub score: Option<i64>,
    pub text: Option<String>,
    pub category: Option<String>,
    pub channel: String,
    pub sentiment: Option<SentimentOut>,
    pub survey_id: Option<String>,
    pub order_id: Option<String>,
    pub case_id: Option<String>,
    pub occurred_at: String,
}

impl From<FeedbackRow> for FeedbackOut {
    fn from(r: FeedbackRow) -> Self {
        FeedbackOut {
            sentiment: r.sentiment_label.zip(r.sentiment_score).map(|(label, score)| SentimentOut { label, score }),
            id: r.id,
            profile_id: r.profile_id,
            event_id: r.event_id,
            kind: r.kind,
            score: r.score,
            text: r.body,
            category: r.category,
            channel: r.channel,
            survey_id: r.survey_id,
            order_id: r.order_id,
            case_id: r.case_id,
            occurred_at: ts(r.occurred_at),
        }
    }
}

/// Records a survey answer or free feedback: the person is resolved by any
/// identity (like an event), the text's sentiment is scored, and the answer
/// is also a `Feedback Submitted` event on the timeline.
#[utoipa::path(tag = "interaction", operation_id = "create_feedback", request_body = FeedbackIn,
    security(("api_key" = ["events:write"]), ("bearer" = ["events:write"])),
    responses((status = 201, body = FeedbackOut), (status = 200, description = "A retry (same message_id): the first answer", body = FeedbackOut),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/feedback")]
pub async fn create_feedback(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::EventsWrite)?;
    let body: FeedbackIn = json_body(&req, payload).await?;
    let kind = FeedbackKind::parse(&body.kind).ok_or_else(|| ApiError::field("kind", "invalid", "must be nps, csat or text"))?;
    let score = match (kind.range(), &body.score) {
        (None, None | Some(Value::Null)) => None,
        (None, Some(_)) => return Err(ApiError::field("score", "invalid", "text feedback carries no score")),
        (Some((lo, hi)), v) => Some(
            v.as_ref()
                .and_then(Value::as_i64)
                .filter(|s| (lo..=hi).contains(s))
                .ok_or_else(|| ApiError::field("score", "out_of_range", format!("must be a whole number from {lo} to {hi}")))?,
        ),
    };
    let text = text_field("text", body.text.as_deref(), 5000, kind == FeedbackKind::Text)?;
    let category = category_field("category", body.category.as_deref(), false)?;
    let channel = channel_field("channel", &body.channel)?;
    let sentiment = text.as_deref().and_then(interaction::sentiment);
    let now = cdp_store::now_micros();
    let occurred_at = time_param("occurred_at", body.occurred_at.as_deref())?.unwrap_or(now);
    let id = cdp_store::new_id();
    let properties = json!({"feedback_id": id, "kind": kind.as_str(), "score": score, "text": text, "category": category,
        "sentiment": sentiment.map(|s| s.label), "survey_id": body.survey_id, "order_id": body.order_id, "case_id": body.case_id});
    // Through ingestion when identities are given: the same resolution as events.
    let event = match (&body.identities, &body.profile_id) {
        (Some(ids), _) => {
            let raw: RawEvent = parse_json(
                json!({"type": "track", "event": "Feedback Submitted", "channel": channel.as_str(), "identities": ids,
                       "occurred_at": cdp_store::from_micros(occurred_at).to_rfc3339(), "properties": properties,
                       "message_id": body.message_id})
                .to_string()
                .as_bytes(),
            )?;
            Some(NewEvent::parse(raw, &defaults_for(&state, &who))?)
        }
        (None, Some(_)) => None,
        (None, None) => return Err(ApiError::field("identities", "required", "give identities or profile_id")),
    };
    let (db, origin, currency, actor) = (state.db.clone(), origin_of(&who), state.currency.clone(), who.actor());
    let (row, created) = web::block(move || -> ApiResult<(FeedbackRow, bool)> {
        Ok(db
            .write(|c| {
                if let Some(sid) = &body.survey_id {
                    let s = store::survey(c, sid).map_err(|_| cdp_store::StoreError::Conflict("survey_id".into()))?;
                    if s.kind != kind.as_str() {
                        return Err(cdp_store::StoreError::Conflict("survey_kind".into()));
                    }
                }
                let (event_id, profile_id) = match &event {
                    Some(e) => match ingest::ingest_batch(c, &origin, &[e], &currency, now)?.pop() {
                        Some(Outcome::Accepted { id, profile_id }) => (id, profile_id),
                        Some(Outcome::Duplicate { id, .. }) => return Ok((store::feedback_by_event(c, &id)?, false)),
                        Some(Outcome::Erased { .. }) => return Err(cdp_store::StoreError::Conflict("erased".into())),
                        None => return Err(cdp_store::StoreError::Corrupt("no outcome".into())),
                    },
                    None => {
                        let p = profiles::resolve(c, body.profile_id.as_deref().unwrap_or_default())?;
                        let eid =
                            store::append_event(c, &p.id, &actor, "Feedback Submitted", channel.as_str(), &properties, occurred_at, now)?;
                        (eid, p.id)
                    }
                };
                let row = FeedbackRow {
                    id: id.clone(),
                    profile_id,
                    event_id,
                    survey_id: body.survey_id.clone(),
                    kind: kind.as_str().into(),
                    score,
                    body: text.clone(),
                    category: category.clone(),
                    channel: channel.as_str().into(),
                    sentiment_label: sentiment.map(|s| s.label.to_string()),
                    sentiment_score: sentiment.map(|s| s.score),
                    order_id: body.order_id.clone(),
                    case_id: body.case_id.clone(),
                    occurred_at,
                    received_at: now,
                };
                store::add_feedback(c, &row)?;
                Ok((row, true))
            })
            .map_err(|e| match e {
                cdp_store::StoreError::Conflict(f) if f == "survey_id" => ApiError::field("survey_id", "not_found", "names no survey"),
                cdp_store::StoreError::Conflict(f) if f == "survey_kind" => {
                    ApiError::field("kind", "invalid", "differs from the survey's kind")
                }
                e => ApiError::or_missing("profile")(e),
            })?)
    })
    .await??;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(FeedbackOut::from(row)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedbackQuery {
    /// positive, neutral or negative
    pub sentiment: Option<String>,
    pub category: Option<String>,
    pub profile_id: Option<String>,
    /// First day (inclusive).
    pub from: Option<String>,
    /// Last day (inclusive).
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Feedback, newest first — `sentiment=negative` finds the complaints.
#[utoipa::path(tag = "interaction", operation_id = "list_feedback", params(FeedbackQuery),
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = Page<FeedbackOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/feedback")]
pub async fn list_feedback(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<FeedbackQuery>,
) -> ApiResult<web::Json<Page<FeedbackOut>>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    if let Some(s) = q.sentiment.as_deref().filter(|s| !["positive", "neutral", "negative"].contains(s)) {
        return Err(ApiError::field("sentiment", "invalid", format!("`{s}` must be positive, neutral or negative")));
    }
    let (from, to) = match (q.from.as_deref(), q.to.as_deref()) {
        (None, None) => (None, None),
        (f, t) => period(f, t, 36_500).map(|(a, b)| (Some(a), Some(b)))?,
    };
    let filter = FeedbackFilter {
        sentiment: q.sentiment,
        category: q.category,
        profile_id: q.profile_id,
        from,
        to,
        after: cursor_decode(q.cursor.as_deref(), time_id)?,
    };
    let db = state.db.clone();
    let (rows, next) = web::block(move || {
        db.read(|c| {
            let mut f = filter;
            if let Some(p) = f.profile_id.take() {
                f.profile_id = Some(profiles::resolve(c, &p)?.id);
            }
            store::list_feedback(c, &f, limit)
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(FeedbackOut::from).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}

// -------------------------------------------------------------------- NPS

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
pub async fn get_nps(state: web::Data<AppState>, who: Principal, q: web::Query<NpsQuery>) -> ApiResult<web::Json<NpsOut>> {
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

// ------------------------------------------------------------------ cases

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"identities": {"facebook_id": "fb-1029384756"}, "category": "product_quality", "priority": "high",
    "channel": "social", "subject": "Sữa bị vón cục", "description": "Hộp sữa mua hôm qua ở Quận 1 bị vón cục"}))]
pub struct CaseIn {
    pub profile_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub identities: Option<Value>,
    /// A code: delivery, product_quality, billing, return_request, question…
    pub category: String,
    /// low (due in 7 days), normal (72 h), high (24 h) or urgent (4 h).
    pub priority: Option<String>,
    pub channel: String,
    pub subject: String,
    pub description: Option<String>,
    pub assignee: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"status": "resolved", "resolution": "Đổi hộp sữa mới, xin lỗi khách", "note": "gọi lại lúc 10:05"}))]
pub struct CasePatch {
    /// open, pending, resolved or closed (closed is final; a resolved case may be reopened).
    pub status: Option<String>,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    pub priority: Option<String>,
    /// A note for the history.
    pub note: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CaseHistoryOut {
    pub status: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    /// The key or user that made the change.
    pub actor: String,
    pub at: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-9200-7000-8000-000000000001", "profile_id": "01936f3e-8a40-7000-8000-000000000001",
    "category": "product_quality", "priority": "high", "channel": "social", "subject": "Sữa bị vón cục", "description": "",
    "status": "open", "assignee": null, "resolution": null, "due_at": "2026-11-24T08:00:00Z", "overdue": false,
    "created_by": "key:01936f3e-0000-7000-8000-00000000000a", "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T08:00:00Z",
    "resolved_at": null, "resolved_by": null}))]
pub struct CaseOut {
    pub id: String,
    pub profile_id: String,
    pub category: String,
    pub priority: String,
    pub channel: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    /// When the SLA of its priority runs out.
    pub due_at: String,
    /// Active and past due now.
    pub overdue: bool,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    pub resolved_at: Option<String>,
    pub resolved_by: Option<String>,
    /// Every change, oldest first (on single-case answers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<CaseHistoryOut>>,
}

fn case_out(r: CaseRow, now: i64) -> CaseOut {
    let active = CaseStatus::parse(&r.status).is_some_and(CaseStatus::is_active);
    CaseOut {
        overdue: active && r.due_at < now,
        id: r.id,
        profile_id: r.profile_id,
        category: r.category,
        priority: r.priority,
        channel: r.channel,
        subject: r.subject,
        description: r.description,
        status: r.status,
        assignee: r.assignee,
        resolution: r.resolution,
        due_at: ts(r.due_at),
        created_by: r.created_by,
        created_at: ts(r.created_at),
        updated_at: ts(r.updated_at),
        resolved_at: r.resolved_at.map(ts),
        resolved_by: r.resolved_by,
        history: None,
    }
}

fn with_history(c: &mut AnyConnection, r: CaseRow, now: i64) -> StoreResult<CaseOut> {
    let history = store::case_history(c, &r.id)?
        .into_iter()
        .map(|h| CaseHistoryOut { status: h.status, assignee: h.assignee, note: h.note, actor: h.actor, at: ts(h.at) })
        .collect();
    Ok(CaseOut { history: Some(history), ..case_out(r, now) })
}

/// Opens a case (complaint, question, return request) for a profile given by
/// id or by any identity; due by the SLA of its priority; on the timeline.
#[utoipa::path(tag = "interaction", operation_id = "create_case", request_body = CaseIn,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    responses((status = 201, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/cases")]
pub async fn create_case(state: web::Data<AppState>, who: Principal, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::ProfilesWrite)?;
    let body: CaseIn = json_body(&req, payload).await?;
    let category = category_field("category", Some(&body.category), true)?.unwrap_or_default();
    let priority = match body.priority.as_deref() {
        None => Priority::Normal,
        Some(p) => Priority::parse(p).ok_or_else(|| ApiError::field("priority", "invalid", "must be low, normal, high or urgent"))?,
    };
    let channel = channel_field("channel", &body.channel)?;
    let subject = text_field("subject", Some(&body.subject), 300, true)?.unwrap_or_default();
    let description = text_field("description", body.description.as_deref(), 5000, false)?.unwrap_or_default();
    let assignee = text_field("assignee", body.assignee.as_deref(), 200, false)?;
    let (db, origin, currency, actor, pid) =
        (state.db.clone(), origin_of(&who), state.currency.clone(), who.actor(), body.profile_id.clone());
    let now = cdp_store::now_micros();
    let mut row = CaseRow {
        id: cdp_store::new_id(),
        profile_id: String::new(),
        category,
        priority: priority.as_str().into(),
        channel: channel.as_str().into(),
        subject,
        description,
        status: "open".into(),
        assignee,
        resolution: None,
        due_at: now + priority.sla_hours() * HOUR_US,
        created_by: actor,
        created_at: now,
        updated_at: now,
        resolved_at: None,
        resolved_by: None,
    };
    // With identities the person is resolved like an event's (created if
    // new), and the `Case Opened` event is that ingested event.
    let event = match (&body.identities, &body.profile_id) {
        (Some(ids), _) => {
            let raw: RawEvent = parse_json(
                json!({"type": "track", "event": "Case Opened", "channel": channel.as_str(), "identities": ids,
                       "properties": store::case_opened_properties(&row)})
                .to_string()
                .as_bytes(),
            )?;
            Some(NewEvent::parse(raw, &defaults_for(&state, &who))?)
        }
        (None, Some(_)) => None,
        (None, None) => return Err(ApiError::field("profile_id", "required", "give profile_id or identities")),
    };
    let out = web::block(move || {
        db.write(|c| {
            row.profile_id = match &event {
                Some(e) => match ingest::ingest_batch(c, &origin, &[e], &currency, now)?.pop() {
                    Some(Outcome::Accepted { profile_id, .. } | Outcome::Duplicate { profile_id, .. }) => profile_id,
                    Some(Outcome::Erased { .. }) => return Err(cdp_store::StoreError::NotFound),
                    None => return Err(cdp_store::StoreError::Corrupt("no outcome".into())),
                },
                None => profiles::resolve(c, pid.as_deref().unwrap_or_default())?.id,
            };
            store::open_case(c, &row, event.is_none())?;
            with_history(c, row.clone(), now)
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    Ok(HttpResponse::Created().json(out))
}

#[utoipa::path(tag = "interaction", operation_id = "get_case",
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/cases/{id}")]
pub async fn get_case(state: web::Data<AppState>, who: Principal, id: web::Path<String>) -> ApiResult<web::Json<CaseOut>> {
    who.require(Scope::ProfilesRead)?;
    let db = state.db.clone();
    let now = cdp_store::now_micros();
    let out = web::block(move || db.read(|c| store::case(c, &id).and_then(|r| with_history(c, r, now))))
        .await?
        .map_err(ApiError::or_missing("case"))?;
    Ok(web::Json(out))
}

/// Works a case: status (open → pending → resolved → closed; resolved may
/// reopen), assignee, priority, resolution. Who and when go to its history;
/// status changes go to the timeline.
#[utoipa::path(tag = "interaction", operation_id = "update_case", request_body = CasePatch,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/cases/{id}")]
pub async fn update_case(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<CaseOut>> {
    who.require(Scope::ProfilesWrite)?;
    let body: CasePatch = json_body(&req, payload).await?;
    let status = body
        .status
        .as_deref()
        .map(|s| CaseStatus::parse(s).ok_or_else(|| ApiError::field("status", "invalid", "must be open, pending, resolved or closed")))
        .transpose()?;
    let priority = body
        .priority
        .as_deref()
        .map(|p| Priority::parse(p).ok_or_else(|| ApiError::field("priority", "invalid", "must be low, normal, high or urgent")))
        .transpose()?;
    let assignee = text_field("assignee", body.assignee.as_deref(), 200, false)?;
    let resolution = text_field("resolution", body.resolution.as_deref(), 5000, false)?;
    let note = text_field("note", body.note.as_deref(), 2000, false)?;
    let (db, actor, id) = (state.db.clone(), who.actor(), id.into_inner());
    let now = cdp_store::now_micros();
    let out = web::block(move || -> ApiResult<CaseOut> {
        let refused = std::cell::Cell::new(None);
        let out = db.write(|c| {
            let before = store::lock_case(c, &id)?;
            let from = CaseStatus::parse(&before.status).unwrap_or(CaseStatus::Open);
            let to = status.unwrap_or(from);
            if !from.can_become(to) {
                refused.set(Some((from, to)));
                return Err(cdp_store::StoreError::Conflict("transition".into()));
            }
            let mut after = before.clone();
            after.status = to.as_str().into();
            if let Some(a) = &assignee {
                after.assignee = Some(a.clone());
            }
            if let Some(r) = &resolution {
                after.resolution = Some(r.clone());
            }
            if let Some(p) = priority {
                after.priority = p.as_str().into();
                after.due_at = before.created_at + p.sla_hours() * HOUR_US;
            }
            if to == CaseStatus::Resolved && from != CaseStatus::Resolved {
                after.resolved_at = Some(now);
                after.resolved_by = Some(actor.clone());
            }
            if to == CaseStatus::Open && from == CaseStatus::Resolved {
                after.resolved_at = None;
                after.resolved_by = None;
            }
            after.updated_at = now;
            store::save_case(c, &before, &after, note.as_deref(), &actor, now)?;
            with_history(c, after, now)
        });
        match (out, refused.get()) {
            (Err(cdp_store::StoreError::Conflict(_)), Some((from, to))) => Err(ApiError::new(
                actix_web::http::StatusCode::CONFLICT,
                "invalid_transition",
                format!("a {} case cannot become {}", from.as_str(), to.as_str()),
            )),
            (out, _) => out.map_err(ApiError::or_missing("case")),
        }
    })
    .await??;
    Ok(web::Json(out))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CasesQuery {
    /// Comma-separated statuses (open,pending…); default all.
    pub status: Option<String>,
    pub profile_id: Option<String>,
    pub assignee: Option<String>,
    /// Only active cases past their due time.
    pub overdue: Option<bool>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Cases, newest first: open ones, overdue ones, one person's.
#[utoipa::path(tag = "interaction", operation_id = "list_cases", params(CasesQuery),
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = Page<CaseOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/cases")]
pub async fn list_cases(state: web::Data<AppState>, who: Principal, q: web::Query<CasesQuery>) -> ApiResult<web::Json<Page<CaseOut>>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let mut statuses = Vec::new();
    for s in q.status.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let st = CaseStatus::parse(s)
            .ok_or_else(|| ApiError::field("status", "invalid", format!("`{s}` must be open, pending, resolved or closed")))?;
        statuses.push(st.as_str().to_string());
    }
    let now = cdp_store::now_micros();
    let filter = CaseFilter {
        statuses,
        profile_id: q.profile_id,
        assignee: q.assignee,
        overdue_at: q.overdue.unwrap_or(false).then_some(now),
        after: cursor_decode(q.cursor.as_deref(), time_id)?,
    };
    let db = state.db.clone();
    let (rows, next) = web::block(move || {
        db.read(|c| {
            let mut f = filter;
            if let Some(p) = f.profile_id.take() {
                f.profile_id = Some(profiles::resolve(c, &p)?.id);
            }
            store::list_cases(c, &f, limit)
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(|r| case_out(r, now)).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseStatsQuery {
    /// First day cases were opened (default: 29 days before `to`).
    pub from: Option<String>,
    /// Last day (default: today).
    pub to: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CategoryCount {
    pub category: String,
    pub cases: u64,
    /// Of those, resolved or closed after their due time, or still open past it.
    pub sla_breaches: u64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"from": "2026-10-25", "to": "2026-11-23", "opened": 42, "resolved": 35, "active_now": 9, "overdue_now": 2,
    "median_hours_to_resolve": 6.5, "sla_breaches": 4, "top_categories": [{"category": "delivery", "cases": 18, "sla_breaches": 3}]}))]
pub struct CaseStatsOut {
    pub from: String,
    pub to: String,
    /// Cases opened in the period.
    pub opened: u64,
    /// Of those, resolved (or closed after resolution).
    pub resolved: u64,
    /// Open or pending now, whenever opened.
    pub active_now: i64,
    pub overdue_now: i64,
    /// Median time from opening to resolution of the cases resolved; null when none.
    pub median_hours_to_resolve: Option<f64>,
    /// Cases of the period resolved after their due time or still active past it.
    pub sla_breaches: u64,
    /// "Which problems are reported most", most first.
    pub top_categories: Vec<CategoryCount>,
}

/// Case volume, time to resolve, SLA breaches and the top categories.
#[utoipa::path(tag = "analytics", operation_id = "get_case_stats", params(CaseStatsQuery),
    security(("api_key" = ["analytics:read"]), ("bearer" = ["analytics:read"])),
    responses((status = 200, body = CaseStatsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/analytics/cases")]
pub async fn get_case_stats(
    state: web::Data<AppState>,
    who: Principal,
    q: web::Query<CaseStatsQuery>,
) -> ApiResult<web::Json<CaseStatsOut>> {
    who.require(Scope::AnalyticsRead)?;
    let (from, to) = period(q.from.as_deref(), q.to.as_deref(), 30)?;
    let db = state.db.clone();
    let now = cdp_store::now_micros();
    let (rows, (active_now, overdue_now)) =
        web::block(move || db.read(|c| Ok((store::cases_opened_between(c, from, to)?, store::active_counts(c, now)?)))).await??;
    let mut hours = Vec::new();
    let mut by_cat: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut breaches = 0;
    for r in &rows {
        let breach = match r.resolved_at {
            Some(t) => t > r.due_at,
            None => CaseStatus::parse(&r.status).is_some_and(CaseStatus::is_active) && now > r.due_at,
        };
        if let Some(t) = r.resolved_at {
            hours.push((t - r.created_at) as f64 / HOUR_US as f64);
        }
        let e = by_cat.entry(r.category.clone()).or_default();
        e.0 += 1;
        e.1 += u64::from(breach);
        breaches += u64::from(breach);
    }
    let mut top: Vec<CategoryCount> =
        by_cat.into_iter().map(|(category, (cases, sla_breaches))| CategoryCount { category, cases, sla_breaches }).collect();
    top.sort_by(|a, b| b.cases.cmp(&a.cases).then_with(|| a.category.cmp(&b.category)));
    let day = |us: i64| cdp_store::from_micros(us).date_naive().to_string();
    Ok(web::Json(CaseStatsOut {
        from: day(from),
        to: day(to - 1),
        opened: rows.len() as u64,
        resolved: hours.len() as u64,
        active_now,
        overdue_now,
        median_hours_to_resolve: interaction::median(&mut hours).map(|h| (h * 100.0).round() / 100.0),
        sla_breaches: breaches,
        top_categories: top,
    }))
}

// ---------------------------------------------------------- agent context

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContextQuery {
    /// Recent interactions to include, 1 to 100 (default 20).
    pub interactions: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct LastOrderOut {
    pub order_id: String,
    pub channel: String,
    /// Net of refunds, major units.
    pub revenue: f64,
    pub currency: String,
    pub occurred_at: String,
    #[schema(value_type = Object)]
    pub products: Value,
}

#[derive(Serialize, ToSchema)]
pub struct ContextLoyalty {
    pub points_balance: i64,
    pub tier: String,
    pub tier_name: String,
}

/// Everything an agent reads while the customer waits, in one answer.
#[derive(Serialize, ToSchema)]
pub struct ContextOut {
    pub profile: ProfileOut,
    /// Open and pending cases, newest first, on every channel.
    pub open_cases: Vec<CaseOut>,
    /// The last interactions on every channel, newest first.
    pub recent_interactions: Vec<EventOut>,
    pub last_order: Option<LastOrderOut>,
    pub loyalty: Option<ContextLoyalty>,
    pub value: ValueOut,
    pub consents: ConsentsOut,
    pub preferences: PreferencesOut,
}

/// The agent's view of a customer: who they are, their open cases, what they
/// last said or bought on any channel, tier and points, value, consents and
/// preferences.
#[utoipa::path(tag = "interaction", operation_id = "get_profile_context", params(("id" = String, Path, description = "Profile id"), ContextQuery),
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    responses((status = 200, body = ContextOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/profiles/{id}/context")]
pub async fn get_profile_context(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    q: web::Query<ContextQuery>,
) -> ApiResult<web::Json<ContextOut>> {
    who.require(Scope::ProfilesRead)?;
    let n = q.interactions.unwrap_or(20);
    if !(1..=100).contains(&n) {
        return Err(ApiError::field("interactions", "out_of_range", "must be between 1 and 100"));
    }
    let (db, currency) = (state.db.clone(), state.currency.clone());
    let now = cdp_store::now_micros();
    let out = web::block(move || {
        db.read(|c| {
            let view = profiles::get(c, &id)?;
            let pid = view.profile.id.clone();
            let (cases, _) = store::list_cases(
                c,
                &CaseFilter { statuses: vec!["open".into(), "pending".into()], profile_id: Some(pid.clone()), ..Default::default() },
                50,
            )?;
            let (events, _) = profiles::timeline(c, &pid, None, None, n)?;
            let last_order = store::last_order(c, &pid)?.map(|(order_id, channel, revenue, refunded, cur, at, products)| LastOrderOut {
                revenue: to_major(revenue - refunded, &cur),
                order_id,
                channel,
                currency: cur,
                occurred_at: ts(at),
                products: serde_json::from_str(&products).unwrap_or(Value::Null),
            });
            let loyalty = match &view.loyalty {
                Some((points_balance, tier)) => {
                    let program = loyalty::program(c)?;
                    let tier_name = program.tiers.iter().find(|t| &t.code == tier).map(|t| t.name.clone()).unwrap_or_default();
                    Some(ContextLoyalty { points_balance: *points_balance, tier: tier.clone(), tier_name })
                }
                None => None,
            };
            let value = value_of(c, &view.profile, &currency)?;
            let consents = consents_of(c, &pid)?;
            let preferences = preferences_of(c, &pid)?;
            Ok(ContextOut {
                profile: view.into(),
                open_cases: cases.into_iter().map(|r| case_out(r, now)).collect(),
                recent_interactions: events.into_iter().map(EventOut::from).collect(),
                last_order,
                loyalty,
                value,
                consents,
                preferences,
            })
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    crate::routes::privacy::audit_read(&state.db, &who, &out.profile.id, "profile.context").await?;
    Ok(web::Json(out))
}

// ------------------------------------------------ you spoke, we listened

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"title": "Giao hàng trong 2 giờ ở Hà Nội", "description": "Sau góp ý của bạn, chúng tôi mở thêm 3 kho ở Hà Nội.",
    "categories": ["delivery"], "channel": "zalo"}))]
pub struct ImprovementIn {
    pub title: String,
    pub description: String,
    /// Feedback categories it answers.
    pub categories: Vec<String>,
    /// The consent channel to tell people on (email, sms, zalo, push, phone, facebook).
    pub channel: String,
    /// Default now; only feedback given up to then counts.
    pub published_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImprovementOut {
    pub id: String,
    pub title: String,
    pub description: String,
    pub categories: Vec<String>,
    pub channel: String,
    pub published_at: String,
    pub created_by: String,
}

impl From<ImprovementRow> for ImprovementOut {
    fn from(r: ImprovementRow) -> Self {
        ImprovementOut {
            categories: serde_json::from_str(&r.categories).unwrap_or_default(),
            id: r.id,
            title: r.title,
            description: r.description,
            channel: r.channel,
            published_at: ts(r.published_at),
            created_by: r.created_by,
        }
    }
}

/// Announces an improvement made after feedback in some categories.
#[utoipa::path(tag = "interaction", operation_id = "create_improvement", request_body = ImprovementIn,
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    responses((status = 201, body = ImprovementOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/improvements")]
pub async fn create_improvement(
    state: web::Data<AppState>,
    who: Principal,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::SegmentsWrite)?;
    let body: ImprovementIn = json_body(&req, payload).await?;
    let title = text_field("title", Some(&body.title), 300, true)?.unwrap_or_default();
    let description = text_field("description", Some(&body.description), 5000, true)?.unwrap_or_default();
    if body.categories.is_empty() {
        return Err(ApiError::field("categories", "required", "must name at least one category"));
    }
    let categories: Vec<String> = body
        .categories
        .iter()
        .enumerate()
        .map(|(i, c)| category_field(&format!("categories[{i}]"), Some(c), true).map(Option::unwrap_or_default))
        .collect::<ApiResult<_>>()?;
    if !cdp_domain::consent::is_consent_channel(&body.channel) {
        return Err(ApiError::field("channel", "invalid", format!("must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", "))));
    }
    let now = cdp_store::now_micros();
    let row = ImprovementRow {
        id: cdp_store::new_id(),
        title,
        description,
        categories: json!(categories).to_string(),
        channel: body.channel.clone(),
        published_at: time_param("published_at", body.published_at.as_deref())?.unwrap_or(now),
        created_by: who.actor(),
        created_at: now,
    };
    let (db, saved) = (state.db.clone(), row.clone());
    web::block(move || db.write(|c| store::add_improvement(c, &saved))).await??;
    Ok(HttpResponse::Created().json(ImprovementOut::from(row)))
}

#[utoipa::path(tag = "interaction", operation_id = "list_improvements",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = List<ImprovementOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/improvements")]
pub async fn list_improvements(state: web::Data<AppState>, who: Principal) -> ApiResult<web::Json<List<ImprovementOut>>> {
    who.require(Scope::SegmentsRead)?;
    let db = state.db.clone();
    let rows = web::block(move || db.read(store::improvements)).await??;
    Ok(web::Json(List { items: rows.into_iter().map(ImprovementOut::from).collect() }))
}

#[derive(Serialize, ToSchema)]
pub struct AudienceMember {
    pub profile: ProfileOut,
    /// Their negative feedback in the improvement's categories.
    pub complaints: i64,
    pub last_complaint_at: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AudienceQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The people to tell: negative feedback in the improvement's categories up
/// to its publication, and consent granted now on its channel.
#[utoipa::path(tag = "interaction", operation_id = "list_improvement_audience",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    params(("id" = String, Path, description = "Improvement id"), AudienceQuery),
    responses((status = 200, body = Page<AudienceMember>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/improvements/{id}/audience")]
pub async fn list_improvement_audience(
    state: web::Data<AppState>,
    who: Principal,
    id: web::Path<String>,
    q: web::Query<AudienceQuery>,
) -> ApiResult<web::Json<Page<AudienceMember>>> {
    who.require(Scope::SegmentsRead)?;
    let limit = page_limit(q.limit)?;
    let after = cursor_decode(q.cursor.as_deref(), |t| Some(t.to_string()))?;
    let db = state.db.clone();
    let (members, next) = web::block(move || {
        db.read(|c| {
            let imp = store::improvement(c, &id)?;
            let cats: Vec<String> = serde_json::from_str(&imp.categories).unwrap_or_default();
            let (rows, next) = store::audience(c, &cats, imp.published_at, &imp.channel, after.as_deref(), limit)?;
            let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
            let views = profiles::get_many(c, &ids)?;
            let stats: Map<String, Value> = rows.iter().map(|(p, n, t)| (p.clone(), json!([n, t]))).collect();
            let members: Vec<AudienceMember> = views
                .into_iter()
                .map(|v| {
                    let s = &stats[&v.profile.id];
                    AudienceMember {
                        complaints: s[0].as_i64().unwrap_or(0),
                        last_complaint_at: ts(s[1].as_i64().unwrap_or(0)),
                        profile: v.into(),
                    }
                })
                .collect();
            Ok((members, next))
        })
    })
    .await?
    .map_err(ApiError::or_missing("improvement"))?;
    Ok(web::Json(Page { items: members, next_cursor: next.as_deref().map(cursor_encode) }))
}
