//! Feedback answers: resolution by identity, sentiment, the timeline event.

use super::*;

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
pub async fn create_feedback(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::EventsWrite)?;
    let b: FeedbackIn = json_body(&req, payload).await?;
    let input = cdp_app::interaction::FeedbackInput {
        kind: b.kind,
        score: b.score,
        text: b.text,
        category: b.category,
        channel: b.channel,
        identities: b.identities,
        profile_id: b.profile_id,
        survey_id: b.survey_id,
        order_id: b.order_id,
        case_id: b.case_id,
        occurred_at: b.occurred_at,
        message_id: b.message_id,
    };
    let (row, created) = crate::blocking(&state, move |app| app.create_feedback(&who, input)).await?;
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
pub async fn list_feedback(state: web::Data<AppState>, who: Auth, q: web::Query<FeedbackQuery>) -> ApiResult<web::Json<Page<FeedbackOut>>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let query = cdp_app::interaction::FeedbackQuery {
        sentiment: q.sentiment,
        category: q.category,
        profile_id: q.profile_id,
        from: q.from,
        to: q.to,
        after: cursor_decode(q.cursor.as_deref(), time_id)?,
    };
    let (rows, next) = crate::blocking(&state, move |app| app.list_feedback(query, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(FeedbackOut::from).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}
