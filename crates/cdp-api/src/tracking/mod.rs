//! Segment-compatible tracking API: `/v1/identify`, `/v1/track`, `/v1/page`,
//! `/v1/screen`, `/v1/group`, `/v1/alias`, `/v1/batch`, so that backends using
//! Segment's or RudderStack's SDKs send here by changing only the host.

pub mod map;
pub mod settings;

use crate::auth::{authenticate_jwt, authenticate_key};
use crate::body::off_worker;
use crate::body::read_limited;
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::routes::events::defaults_for;
use crate::routes::tracking_plans::{apply, plan_for, record};
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{post, web, HttpRequest, HttpResponse};
use base64::Engine;
use cdp_app::ingest::Outcome;
use cdp_app::Principal;
use cdp_domain::auth::Scope;
use cdp_domain::event::{parse_time, EventDefaults};
use cdp_domain::{Channel, NewEvent};
use map::Envelope;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// Segment's limits.
pub const MAX_MESSAGE_BYTES: usize = 32 * 1024;
pub const MAX_BATCH_BYTES: usize = 500 * 1024;
pub const MAX_BATCH_MESSAGES: usize = 2500;

/// A Segment message (see Segment's HTTP tracking API spec). `userId` or
/// `anonymousId` is required (`userId` and `previousId` for alias, `groupId`
/// for group).
#[derive(ToSchema)]
#[schema(example = json!({"userId": "u-1001", "anonymousId": "0c9b7a1e", "event": "Order Completed",
    "properties": {"order_id": "W-77", "revenue": 259000, "currency": "VND"},
    "context": {"traits": {"email": "lan@example.vn"}, "library": {"name": "analytics-node", "version": "2.1.0"}},
    "messageId": "node-5f3c1a", "timestamp": "2026-11-20T10:15:00.000Z", "sentAt": "2026-11-20T10:15:01.000Z"}))]
#[allow(dead_code)]
pub struct SegmentMessage {
    /// identify, track, page, screen, group or alias (batch items only; the endpoint implies it otherwise).
    #[schema(rename = "type")]
    kind: Option<String>,
    #[schema(rename = "userId")]
    user_id: Option<String>,
    #[schema(rename = "anonymousId")]
    anonymous_id: Option<String>,
    /// track: the action.
    event: Option<String>,
    /// page / screen: the name.
    name: Option<String>,
    /// group: the account id.
    #[schema(rename = "groupId")]
    group_id: Option<String>,
    /// alias: the earlier id.
    #[schema(rename = "previousId")]
    previous_id: Option<String>,
    /// identify: the person's traits; group: the account's.
    #[schema(value_type = Option<Object>)]
    traits: Option<Value>,
    #[schema(value_type = Option<Object>)]
    properties: Option<Value>,
    /// `context.traits` are the person's traits; `context.externalIds` more identities.
    #[schema(value_type = Option<Object>)]
    context: Option<Value>,
    #[schema(value_type = Option<Object>)]
    integrations: Option<Value>,
    /// Dedupe key: a retry with the same messageId is stored once.
    #[schema(rename = "messageId")]
    message_id: Option<String>,
    timestamp: Option<String>,
    #[schema(rename = "originalTimestamp")]
    original_timestamp: Option<String>,
    #[schema(rename = "sentAt")]
    sent_at: Option<String>,
    /// The write key, when not sent as HTTP Basic user name.
    #[schema(rename = "writeKey")]
    write_key: Option<String>,
}

/// Up to 2500 messages, 500 KB; `context` and `integrations` apply to every item.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SegmentBatch {
    batch: Vec<SegmentMessage>,
    #[schema(value_type = Option<Object>)]
    context: Option<Value>,
    #[schema(value_type = Option<Object>)]
    integrations: Option<Value>,
    #[schema(rename = "sentAt")]
    sent_at: Option<String>,
    #[schema(rename = "writeKey")]
    write_key: Option<String>,
}

/// Segment's answer, with what happened to each message.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"success": true, "accepted": 2, "duplicates": 0, "rejected": []}))]
pub struct SegmentAck {
    pub success: bool,
    pub accepted: usize,
    pub duplicates: usize,
    /// Messages that could not be used: `{index, error}`.
    #[schema(value_type = Vec<Object>)]
    pub rejected: Vec<Value>,
}

/// Segment answers 400 to an oversized body, where our own API answers 413.
fn bad_request(e: ApiError) -> ApiError {
    if e.status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError { status: StatusCode::BAD_REQUEST, ..e }
    } else {
        e
    }
}

/// The write key: HTTP Basic user name (Segment's way), `X-Api-Key`, or
/// `writeKey` in the body; a Bearer token works too.
async fn authenticate(state: &AppState, req: &HttpRequest, body: &Value) -> ApiResult<Principal> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(auth) = header("authorization") {
        if let Some(b64) = auth.strip_prefix("Basic ").or_else(|| auth.strip_prefix("basic ")) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| ApiError::unauthorized("invalid Basic credentials"))?;
            let text = String::from_utf8(decoded).map_err(|_| ApiError::unauthorized("invalid Basic credentials"))?;
            let key = text.split(':').next().unwrap_or("").to_string();
            return authenticate_key(state, key).await;
        }
        if let Some(token) = auth.strip_prefix("Bearer ") {
            return authenticate_jwt(state, token.trim()).await;
        }
    }
    if let Some(key) = header("x-api-key") {
        return authenticate_key(state, key.to_string()).await;
    }
    match body.get("writeKey").and_then(Value::as_str) {
        Some(key) => authenticate_key(state, key.to_string()).await,
        None => Err(ApiError::unauthorized("send the write key as the HTTP Basic user name, in X-Api-Key, or as writeKey")),
    }
}

async fn track_messages(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
    kind: Option<&'static str>,
) -> ApiResult<HttpResponse> {
    let limit = if kind.is_none() { MAX_BATCH_BYTES } else { MAX_MESSAGE_BYTES };
    let bytes = read_limited(&req, payload, limit).await.map_err(bad_request)?;
    let size = bytes.len();
    let body: Value = off_worker(size, move || {
        serde_json::from_slice(&bytes).map_err(|e| ApiError::invalid_json(format!("the body is not valid JSON: {e}")))
    })
    .await?;
    let who = authenticate(&state, &req, &body).await?;
    who.require(Scope::EventsWrite)?;
    if !body.is_object() {
        return Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, "the body must be a JSON object"));
    }

    let received = chrono::Utc::now();
    let (env, messages) = messages_of(body, kind)?;
    let defaults = defaults_for(&state, &who);
    let source_channel = who.source_channel();
    let app = state.app.clone();
    let plan = plan_for(&state, &who).await?;
    let (rejected, indexes, valid, violations) = off_worker(size, move || {
        let (mut rejected, valid) = validate(messages, kind, &env, source_channel, received, &defaults);
        let mut planned = apply(plan.as_deref(), valid, StatusCode::BAD_REQUEST);
        rejected.extend(planned.refused.drain(..).map(|(index, e)| json!({"index": index, "error": e.body().error})));
        rejected.sort_by_key(|r| r["index"].as_u64());
        let violations = planned.take_violations();
        Ok((rejected, planned.indexes, app.prepare(planned.events)?, violations))
    })
    .await?;
    if valid.is_empty() {
        record(&state, &who, violations, &[]).await?;
        let first = rejected.first().and_then(|r| r["error"]["message"].as_str()).unwrap_or("no messages").to_string();
        let code = match rejected.first().and_then(|r| r["error"]["code"].as_str()) {
            Some("tracking_plan_violation") => ErrorCode::TrackingPlanViolation,
            _ => ErrorCode::ValidationFailed,
        };
        return Err(ApiError::new(StatusCode::BAD_REQUEST, code, first).with_details(json!({ "rejected": rejected })));
    }
    let outcomes = state.app.ingest(&who.origin(), valid, received.timestamp_micros()).await?;
    record(&state, &who, violations, &outcomes).await?;
    let ack = acknowledge(rejected, indexes, outcomes);
    state.metrics.count_events(ack.accepted as u64, ack.duplicates as u64, ack.rejected.len() as u64);
    Ok(HttpResponse::Ok().json(ack))
}

/// The messages of a body: the body itself for a single call (`kind`), the
/// items of `batch` for a batch, with the batch's envelope (its `context` and `sentAt`).
fn messages_of(mut body: Value, kind: Option<&str>) -> ApiResult<(Envelope, Vec<Value>)> {
    let mut env = Envelope::default();
    if kind.is_some() {
        return Ok((env, vec![body]));
    }
    env.context = body.get("context").and_then(Value::as_object).cloned().unwrap_or_default();
    env.sent_at = body.get("sentAt").and_then(Value::as_str).and_then(parse_time);
    match body.get_mut("batch").map(Value::take) {
        Some(Value::Array(items)) if items.len() <= MAX_BATCH_MESSAGES => Ok((env, items)),
        Some(Value::Array(_)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::TooMany, format!("at most {MAX_BATCH_MESSAGES} messages per batch")))
        }
        _ => Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, "batch must be an array of messages")),
    }
}

/// Segment's answer: what was stored, what was a duplicate, and every message
/// refused (before ingestion or by it) by its index in the request, in order.
/// `indexes` are those of the messages `outcomes` answer.
fn acknowledge(mut rejected: Vec<Value>, indexes: Vec<usize>, outcomes: Vec<Outcome>) -> SegmentAck {
    let accepted = outcomes.iter().filter(|o| matches!(o, Outcome::Accepted { .. })).count();
    let duplicates = outcomes.iter().filter(|o| matches!(o, Outcome::Duplicate { .. })).count();
    for (index, o) in indexes.into_iter().zip(outcomes) {
        if let Err(e) = cdp_app::ingest::accepted(o) {
            rejected.push(json!({"index": index, "error": ApiError::from(e).body().error}));
        }
    }
    rejected.sort_by_key(|r| r["index"].as_u64());
    SegmentAck { success: true, accepted, duplicates, rejected }
}

/// Messages checked and turned into events: the rejected ones as
/// `{index, error}`, and the others' events with their index, in order.
fn validate(
    messages: Vec<Value>,
    kind: Option<&str>,
    env: &Envelope,
    source_channel: Option<Channel>,
    received: chrono::DateTime<chrono::Utc>,
    defaults: &EventDefaults,
) -> (Vec<Value>, Vec<(usize, NewEvent)>) {
    let mut rejected = Vec::new();
    let mut valid: Vec<(usize, NewEvent)> = Vec::with_capacity(messages.len());
    for (index, msg) in messages.into_iter().enumerate() {
        let too_big = kind.is_none() && serde_json::to_vec(&msg).map(|v| v.len()).unwrap_or(0) > MAX_MESSAGE_BYTES;
        let parsed = match msg {
            _ if too_big => Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::PayloadTooLarge, "a message exceeds 32 KB")),
            Value::Object(m) => map::to_raw(m, kind, env, source_channel, received)
                .and_then(|raw| NewEvent::parse(raw, defaults))
                .map_err(|e| ApiError::from(e).with_status(StatusCode::BAD_REQUEST)),
            _ => Err(ApiError::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationFailed, "a message must be an object")),
        };
        match parsed {
            Ok(e) => valid.push((index, e)),
            Err(e) => rejected.push(json!({"index": index, "error": e.body().error})),
        }
    }
    (rejected, valid)
}

macro_rules! segment_endpoint {
    ($fn:ident, $path:literal, $kind:expr, $op:literal, $body:ty, $doc:literal) => {
        #[doc = $doc]
        #[utoipa::path(
                            tag = "tracking", operation_id = $op, request_body = $body,
                            security(("api_key" = ["events:write"]), ("write_key" = ["events:write"]), ("bearer" = ["events:write"])),
                            responses((status = 200, body = SegmentAck), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
                                      (status = 403, body = ErrorBody))
                        )]
        #[post($path)]
        pub async fn $fn(state: web::Data<AppState>, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
            track_messages(state, req, payload, $kind).await
        }
    };
}

segment_endpoint!(
    identify,
    "/identify",
    Some("identify"),
    "segment_identify",
    SegmentMessage,
    "Segment `identify`: who the person is; traits update the profile."
);
segment_endpoint!(track, "/track", Some("track"), "segment_track", SegmentMessage, "Segment `track`: an action, on the person's timeline.");
segment_endpoint!(page, "/page", Some("page"), "segment_page", SegmentMessage, "Segment `page`: a web page view, on the timeline.");
segment_endpoint!(
    screen,
    "/screen",
    Some("screen"),
    "segment_screen",
    SegmentMessage,
    "Segment `screen`: an app screen view, on the timeline."
);
segment_endpoint!(
    group,
    "/group",
    Some("group"),
    "segment_group",
    SegmentMessage,
    "Segment `group`: links the person to an account (`groupId`) with the account's traits."
);
segment_endpoint!(
    alias,
    "/alias",
    Some("alias"),
    "segment_alias",
    SegmentMessage,
    "Segment `alias`: joins `previousId` to `userId` (two different user_ids are never merged)."
);
// analytics.js (`@segment/analytics-next`) posts each call to `apiHost` + its type's initial.
segment_endpoint!(identify_short, "/i", Some("identify"), "segment_identify_i", SegmentMessage, "analytics.js's `identify` (`/v1/i`).");
segment_endpoint!(track_short, "/t", Some("track"), "segment_track_t", SegmentMessage, "analytics.js's `track` (`/v1/t`).");
segment_endpoint!(page_short, "/p", Some("page"), "segment_page_p", SegmentMessage, "analytics.js's `page` (`/v1/p`).");
segment_endpoint!(screen_short, "/s", Some("screen"), "segment_screen_s", SegmentMessage, "analytics.js's `screen` (`/v1/s`).");
segment_endpoint!(group_short, "/g", Some("group"), "segment_group_g", SegmentMessage, "analytics.js's `group` (`/v1/g`).");
segment_endpoint!(alias_short, "/a", Some("alias"), "segment_alias_a", SegmentMessage, "analytics.js's `alias` (`/v1/a`).");
segment_endpoint!(
    batch,
    "/batch",
    None,
    "segment_batch",
    SegmentBatch,
    "Segment `batch` (what the SDKs send): up to 2500 messages, 500 KB, in one transaction."
);
