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
        (Some(ids), _) => Some(event_from(
            &state,
            &who,
            json!({"type": "track", "event": "Feedback Submitted", "channel": channel.as_str(), "identities": ids,
                       "occurred_at": cdp_store::from_micros(occurred_at).to_rfc3339(), "properties": properties,
                       "message_id": body.message_id}),
        )?),
        (None, Some(_)) => None,
        (None, None) => return Err(ApiError::field("identities", "required", "give identities or profile_id")),
    };
    let (db, origin, currency, actor) = (state.db.clone(), who.origin(), state.currency.clone(), who.actor());
    let (row, created) = web::block(move || -> ApiResult<(FeedbackRow, bool)> {
        db.write(|c| {
            if let Some(sid) = &body.survey_id {
                let s = store::survey(c, sid).map_err(|_| cdp_store::StoreError::Conflict("survey_id".into()))?;
                if s.kind != kind.as_str() {
                    return Err(cdp_store::StoreError::Conflict("survey_kind".into()));
                }
            }
            let (event_id, profile_id) = match &event {
                Some(e) => match ingest::ingest_one(c, &origin, e, &currency, now)? {
                    Outcome::Accepted { id, profile_id } => (id, profile_id),
                    Outcome::Duplicate { id, .. } => return Ok((store::feedback_by_event(c, &id)?, false)),
                    Outcome::Erased { .. } => return Err(cdp_store::StoreError::Conflict(ERASED.into())),
                },
                None => {
                    let p = profiles::resolve(c, body.profile_id.as_deref().unwrap_or_default())?;
                    let eid = store::append_event(c, &p.id, &actor, "Feedback Submitted", channel.as_str(), &properties, occurred_at, now)?;
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
            e => store_error("profile")(e),
        })
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
pub async fn list_feedback(state: web::Data<AppState>, who: Auth, q: web::Query<FeedbackQuery>) -> ApiResult<web::Json<Page<FeedbackOut>>> {
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
