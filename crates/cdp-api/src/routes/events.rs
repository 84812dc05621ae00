use crate::auth::Auth;
use crate::body::{from_value, off_worker, parse_json, read_limited};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::tracking_plans::{apply, plan_for, record, Taken};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use cdp_app::ingest::{accepted, Prepared};
use cdp_app::Principal;
use cdp_domain::auth::Scope;
use cdp_domain::event::EventDefaults;
use cdp_domain::tracking_plan::Plan;
use cdp_domain::{NewEvent, RawEvent};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// An event from any touchpoint. At least one identity is required.
#[derive(ToSchema)]
#[schema(example = json!({
    "message_id": "pos-q1-000123", "type": "track", "event": "Order Completed", "channel": "store",
    "occurred_at": "2026-11-20T10:15:00Z",
    "identities": {"phone": "0912 345 678", "email": "An.Nguyen@Example.vn", "loyalty_card": "VNM-0042"},
    "traits": {"first_name": "An", "last_name": "Nguyễn", "city": "Hà Nội"},
    "properties": {"order_id": "Q1-000123", "revenue": 350000, "currency": "VND"},
    "context": {"store_id": "Q1", "agent_id": "nv-07"}}))]
#[allow(dead_code)]
pub struct EventIn {
    /// Dedupe key per source, forever (≤ 100 characters).
    message_id: Option<String>,
    /// track (default), identify, page, screen, group (needs `group_id`) or alias (needs `previous_id`).
    #[schema(rename = "type")]
    kind: Option<String>,
    /// The action; required for track.
    event: Option<String>,
    /// store, web, app, hotline, social, email or other; defaults to the key's source channel.
    channel: Option<String>,
    /// RFC 3339; defaults to now.
    occurred_at: Option<String>,
    /// type → value: user_id, email, phone, anonymous_id, loyalty_card, facebook_id, zalo_id or any `[a-z][a-z0-9_]{0,31}`.
    identities: BTreeMap<String, String>,
    /// Attributes of the person; `email` and `phone` are identities too.
    #[schema(value_type = Option<Object>)]
    traits: Option<Value>,
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
    #[schema(value_type = Option<Object>)]
    context: Option<Value>,
    /// group: the account the person belongs to; `properties` are the account's traits.
    group_id: Option<String>,
    /// alias: an earlier user_id or anonymous_id to join to this person (two user_ids never merge).
    previous_id: Option<String>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BatchIn {
    /// At most 1000 events, 1 MiB in all.
    events: Vec<EventIn>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "profile_id": "01936f3e-8a40-7000-8000-000000000001", "status": "accepted"}))]
pub struct EventAccepted {
    pub id: String,
    pub profile_id: String,
    /// accepted, or duplicate when the message_id was seen before (nothing written).
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct BatchResult {
    pub index: usize,
    /// accepted, duplicate or rejected.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub error: Option<Value>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"accepted": 1, "duplicates": 0, "rejected": 1, "results": [
    {"index": 0, "status": "accepted", "id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "profile_id": "01936f3e-8a40-7000-8000-000000000001"},
    {"index": 1, "status": "rejected", "error": {"code": "validation_failed", "message": "identities.phone: is not a valid phone number",
        "details": {"fields": [{"field": "identities.phone", "code": "invalid_identity", "message": "is not a valid phone number"}]}}}]}))]
pub struct BatchOut {
    pub accepted: usize,
    pub duplicates: usize,
    pub rejected: usize,
    pub results: Vec<BatchResult>,
}

/// What the caller's credentials add to its events: the source's channel.
pub fn defaults_for(state: &AppState, who: &Principal) -> EventDefaults {
    state.app.event_defaults(who, chrono::Utc::now())
}

/// 409 `identity_erased`: what was sent belongs to a person erased after it happened.
pub fn identity_erased(what: &str) -> ApiError {
    cdp_app::AppError::identity_erased(what).into()
}

/// Ingests one event: identities resolved, profile created, attached or merged,
/// committed before the answer.
#[utoipa::path(
    tag = "events", operation_id = "create_event", request_body = EventIn, security(("api_key" = ["events:write"]), ("bearer" = ["events:write"])),
    responses((status = 202, body = EventAccepted), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
               (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[post("/events")]
pub async fn create_event(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::EventsWrite)?;
    let bytes = read_limited(&req, payload, state.limits.event_body_bytes).await?;
    let raw: RawEvent = parse_json(&bytes)?;
    let event = NewEvent::parse(raw, &defaults_for(&state, &who)).inspect_err(|_| state.metrics.count_events(0, 0, 1))?;
    let plan = plan_for(&state, &who).await?;
    let mut planned = apply(plan.as_deref(), vec![(0, event)], StatusCode::UNPROCESSABLE_ENTITY);
    let violations = planned.take_violations();
    if let Some((_, refused)) = planned.refused.pop() {
        record(&state, &who, violations, &[]).await?;
        state.metrics.count_events(0, 0, 1);
        return Err(refused);
    }
    let events = state.app.prepare(planned.events)?;
    let mut outcomes = state.app.ingest(&who.origin(), events, cdp_app::now_micros()).await?;
    record(&state, &who, violations, &outcomes).await?;
    let outcome = outcomes.pop();
    let outcome = outcome.ok_or_else(|| {
        log::error!("ingestion answered no outcome for an event");
        ApiError::internal()
    })?;
    let (id, profile_id, status) = accepted(outcome).inspect_err(|_| state.metrics.count_events(0, 0, 1))?;
    state.metrics.count_events((status == "accepted") as u64, (status == "duplicate") as u64, 0);
    Ok(HttpResponse::Accepted().json(EventAccepted { id, profile_id, status: status.into() }))
}

/// Ingests up to 1000 events in one transaction. Invalid events are rejected
/// one by one; the valid ones are kept, and all of them are committed before
/// the answer.
#[utoipa::path(
    tag = "events", operation_id = "create_event_batch", request_body = BatchIn, security(("api_key" = ["events:write"]), ("bearer" = ["events:write"])),
    responses((status = 200, body = BatchOut), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
               (status = 403, body = ErrorBody), (status = 413, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[post("/events/batch")]
pub async fn create_event_batch(
    state: web::Data<AppState>,
    who: Auth,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<BatchOut>> {
    who.require(Scope::EventsWrite)?;
    let bytes = read_limited(&req, payload, state.limits.batch_body_bytes).await?;
    let (defaults, limit, app) = (defaults_for(&state, &who), state.limits.batch_events, state.app.clone());
    let plan = plan_for(&state, &who).await?;
    let (mut results, indexes, events, violations) =
        off_worker(bytes.len(), move || parse_batch(&app, &bytes, limit, &defaults, plan.as_deref())).await?;
    let outcomes = state.app.ingest(&who.origin(), events, cdp_app::now_micros()).await?;
    record(&state, &who, violations, &outcomes).await?;
    for (index, o) in indexes.into_iter().zip(outcomes) {
        results.push(match accepted(o) {
            Ok((id, profile_id, status)) => {
                BatchResult { index, status: status.into(), id: Some(id), profile_id: Some(profile_id), error: None }
            }
            Err(err) => {
                let err = ApiError::from(err);
                BatchResult { index, status: "rejected".into(), id: None, profile_id: None, error: Some(json!(err.body().error)) }
            }
        });
    }
    results.sort_by_key(|r| r.index);
    let count = |s: &str| results.iter().filter(|r| r.status == s).count();
    let out = BatchOut { accepted: count("accepted"), duplicates: count("duplicate"), rejected: count("rejected"), results };
    state.metrics.count_events(out.accepted as u64, out.duplicates as u64, out.rejected as u64);
    Ok(web::Json(out))
}

/// The results of the events refused, the indexes and prepared forms of the
/// others, and the violations to record.
type ParsedBatch = (Vec<BatchResult>, Vec<usize>, Vec<Prepared>, Taken);

/// A batch body parsed and screened against the source's plan: the events
/// rejected (with their index), the indexes and prepared forms of the
/// others, and the plan's violations to record.
fn parse_batch(app: &cdp_app::App, bytes: &[u8], limit: usize, defaults: &EventDefaults, plan: Option<&Plan>) -> ApiResult<ParsedBatch> {
    let mut body: Value = serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_json(format!("the body is not valid JSON: {e}")))?;
    let items = match body.get_mut("events").map(Value::take) {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::field("events", "invalid_type", "must be an array of events")),
        None => return Err(ApiError::field("events", "required", "is required")),
    };
    if items.is_empty() {
        return Err(ApiError::field("events", "invalid", "must hold at least one event"));
    }
    if items.len() > limit {
        return Err(ApiError::field("events", "too_many", format!("at most {limit} events per batch")));
    }
    let mut results: Vec<BatchResult> = Vec::with_capacity(items.len());
    let mut valid: Vec<(usize, NewEvent)> = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let parsed = from_value::<RawEvent>(item).and_then(|raw| NewEvent::parse(raw, defaults).map_err(ApiError::from));
        match parsed {
            Ok(e) => valid.push((index, e)),
            Err(err) => results.push(BatchResult {
                index,
                status: "rejected".into(),
                id: None,
                profile_id: None,
                error: Some(json!(err.body().error)),
            }),
        }
    }
    let mut planned = apply(plan, valid, StatusCode::UNPROCESSABLE_ENTITY);
    for (index, err) in std::mem::take(&mut planned.refused) {
        results.push(BatchResult { index, status: "rejected".into(), id: None, profile_id: None, error: Some(json!(err.body().error)) });
    }
    let violations = planned.take_violations();
    Ok((results, planned.indexes, app.prepare(planned.events)?, violations))
}
