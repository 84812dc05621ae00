//! Destinations (outbound webhooks signed to the Standard Webhooks
//! specification), their delivery log and replay.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, time_param, ts, List, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{delete, get, patch, post, web, HttpRequest, HttpResponse};
use cdp_app::activation::{DeliveryRow, Destination, DestinationPatch, JobRunRow};
use cdp_domain::auth::Scope;
use cdp_domain::webhook::{ConsentNeed, DestinationSpec};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The channel and purpose a person must have granted for the destination
/// to receive anything about them.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"channel": "email", "purpose": "marketing"}))]
pub struct ConsentDoc {
    /// email, sms, zalo, push, phone or facebook.
    pub channel: String,
    /// marketing (the default), transactional, profiling or research.
    #[serde(default = "marketing")]
    pub purpose: String,
}

fn marketing() -> String {
    cdp_domain::consent::DEFAULT_PURPOSE.into()
}

impl From<ConsentDoc> for ConsentNeed {
    fn from(c: ConsentDoc) -> Self {
        ConsentNeed { channel: c.channel, purpose: c.purpose }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Zalo OA gateway", "url": "https://hooks.example.vn/cdp", "events": ["order.completed", "loyalty.tier_changed"],
    "consent": {"channel": "zalo", "purpose": "marketing"}}))]
pub struct DestinationIn {
    pub name: String,
    /// Where deliveries are POSTed (http or https).
    pub url: String,
    /// Event types: profile.created, profile.merged, order.completed, order.refunded, loyalty.tier_changed,
    /// segment.entered, segment.exited, feedback.negative, case.opened, case.resolved, voucher.issued, campaign.assigned.
    pub events: Vec<String>,
    /// Only facts about current members of these segments (and segment facts about them).
    #[serde(default)]
    pub segment_ids: Vec<String>,
    pub consent: Option<ConsentDoc>,
    /// Default true.
    pub enabled: Option<bool>,
}

/// Fields to change; others stay. `consent: null` removes the requirement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"enabled": false}))]
pub struct DestinationPatchIn {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub segment_ids: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<ConsentDoc>)]
    pub consent: Option<Option<ConsentDoc>>,
    pub enabled: Option<bool>,
}

/// A field that may be absent (no change), null (remove) or a value.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000d1", "name": "Zalo OA gateway", "url": "https://hooks.example.vn/cdp",
    "events": ["loyalty.tier_changed", "order.completed"], "segment_ids": [], "consent": {"channel": "zalo", "purpose": "marketing"},
    "enabled": true, "created_at": "2026-12-03T08:00:00Z", "updated_at": "2026-12-03T08:00:00Z",
    "secret": "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD3Ptbqfrj0Kk="}))]
pub struct DestinationOut {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub segment_ids: Vec<String>,
    pub consent: Option<ConsentDoc>,
    pub enabled: bool,
    pub created_at: String,
    pub updated_at: String,
    /// `whsec_` + base64 of the signing key: in the creation answer only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
}

impl From<Destination> for DestinationOut {
    fn from(d: Destination) -> Self {
        DestinationOut {
            id: d.id,
            name: d.name,
            url: d.url,
            events: d.events,
            segment_ids: d.segment_ids,
            consent: d.consent.map(|c| ConsentDoc { channel: c.channel, purpose: c.purpose }),
            enabled: d.enabled,
            created_at: ts(d.created_at),
            updated_at: ts(d.updated_at),
            secret: d.secret,
        }
    }
}

/// Creates a destination (admin); its signing secret is in this answer only.
#[utoipa::path(tag = "destinations", operation_id = "create_destination", request_body = DestinationIn,
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = DestinationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/destinations")]
pub async fn create_destination(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let d: DestinationIn = json_body(&req, payload).await?;
    let spec = DestinationSpec {
        name: d.name,
        url: d.url,
        events: d.events,
        segment_ids: d.segment_ids,
        consent: d.consent.map(Into::into),
        enabled: d.enabled.unwrap_or(true),
    };
    let out = crate::blocking(&state, move |app| app.create_destination(&who, spec)).await?;
    Ok(HttpResponse::Created().json(DestinationOut::from(out)))
}

/// Every destination (admin).
#[utoipa::path(tag = "destinations", operation_id = "list_destinations", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = List<DestinationOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/destinations")]
pub async fn list_destinations(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<DestinationOut>>> {
    who.require(Scope::Admin)?;
    let items = crate::blocking(&state, |app| app.destinations()).await?;
    Ok(web::Json(List { items: items.into_iter().map(Into::into).collect() }))
}

/// One destination (admin).
#[utoipa::path(tag = "destinations", operation_id = "get_destination", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, body = DestinationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/destinations/{id}")]
pub async fn get_destination(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<DestinationOut>> {
    who.require(Scope::Admin)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.destination(&id)).await?.into()))
}

/// Changes a destination (admin): name, URL, subscriptions, consent rule,
/// enabled. Pending deliveries go out under the new settings.
#[utoipa::path(tag = "destinations", operation_id = "update_destination", request_body = DestinationPatchIn,
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])), params(("id" = String, Path, description = "Destination id")),
    responses((status = 200, body = DestinationOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[patch("/destinations/{id}")]
pub async fn update_destination(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<DestinationOut>> {
    who.require(Scope::Admin)?;
    let p: DestinationPatchIn = json_body(&req, payload).await?;
    let patch = DestinationPatch {
        name: p.name,
        url: p.url,
        events: p.events,
        segment_ids: p.segment_ids,
        consent: p.consent.map(|c| c.map(Into::into)),
        enabled: p.enabled,
    };
    Ok(web::Json(crate::blocking(&state, move |app| app.update_destination(&who, &id, patch)).await?.into()))
}

/// Deletes a destination and its delivery log (admin).
#[utoipa::path(tag = "destinations", operation_id = "delete_destination", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Destination id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/destinations/{id}")]
pub async fn delete_destination(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    crate::blocking(&state, move |app| app.delete_destination(&who, &id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "msg_01936f3e90007000800000000000d001", "event_type": "order.completed",
    "profile_id": "01936f3e-8a40-7000-8000-000000000001", "status": "delivered", "attempts": 2, "last_status_code": 200,
    "last_error": null, "created_at": "2026-12-03T08:00:00Z", "delivered_at": "2026-12-03T08:00:06Z", "next_attempt_at": null}))]
pub struct DeliveryOut {
    /// The `webhook-id` header: the same on every attempt and replay.
    pub id: String,
    pub event_type: String,
    pub profile_id: String,
    /// pending, delivered, failed or suppressed.
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
    /// When pending: when the next attempt is due.
    pub next_attempt_at: Option<String>,
}

impl From<DeliveryRow> for DeliveryOut {
    fn from(d: DeliveryRow) -> Self {
        DeliveryOut {
            next_attempt_at: (d.status == "pending").then(|| ts(d.next_attempt_at)),
            id: d.id,
            event_type: d.event_type,
            profile_id: d.profile_id,
            status: d.status,
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            created_at: ts(d.created_at),
            delivered_at: d.delivered_at.map(ts),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// pending, delivered, failed or suppressed.
    pub status: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A destination's delivery log, newest first (admin).
#[utoipa::path(tag = "destinations", operation_id = "list_deliveries", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Destination id"), DeliveriesQuery),
    responses((status = 200, body = Page<DeliveryOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/destinations/{id}/deliveries")]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<DeliveriesQuery>,
) -> ApiResult<web::Json<Page<DeliveryOut>>> {
    who.require(Scope::Admin)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    let status = q.status.filter(|s| !s.is_empty());
    let (rows, next) = crate::blocking(&state, move |app| app.deliveries(&id, status.as_deref(), before, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"from": "2026-12-01T00:00:00Z", "to": "2026-12-03T00:00:00Z", "status": "failed"}))]
pub struct ReplayIn {
    /// Deliveries created from this time (RFC 3339)…
    pub from: String,
    /// …to this one, inclusive.
    pub to: String,
    /// Only those with this status (delivered, failed or suppressed); default: every one not pending.
    pub status: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"requeued": 42}))]
pub struct ReplayOut {
    pub requeued: usize,
}

/// Sends deliveries of a time range again, with the same ids (admin).
#[utoipa::path(tag = "destinations", operation_id = "replay_deliveries", request_body = ReplayIn,
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])), params(("id" = String, Path, description = "Destination id")),
    responses((status = 202, body = ReplayOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/destinations/{id}/replay")]
pub async fn replay(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let r: ReplayIn = json_body(&req, payload).await?;
    let from = time_param("from", Some(&r.from))?.ok_or_else(|| ApiError::field("from", "required", "an RFC 3339 time"))?;
    let to = time_param("to", Some(&r.to))?.ok_or_else(|| ApiError::field("to", "required", "an RFC 3339 time"))?;
    let n = crate::blocking(&state, move |app| app.replay(&who, &id, from, to, r.status.as_deref())).await?;
    Ok(HttpResponse::Accepted().json(ReplayOut { requeued: n }))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000f1", "job": "segment.refresh:01936f3e-7000-7000-8000-0000000000a1",
    "slot": "2026-12-03T08:00:00Z", "status": "succeeded", "detail": {"size": 1520, "entered": 12, "exited": 3},
    "started_at": "2026-12-03T08:00:01Z", "finished_at": "2026-12-03T08:00:01Z"}))]
pub struct JobRunOut {
    pub id: String,
    /// `segment.refresh:<segment id>` or `loyalty.expire`.
    pub job: String,
    /// The scheduled time the run is for: each slot runs once.
    pub slot: String,
    /// running, succeeded or failed.
    pub status: String,
    /// What the run did, or why it failed.
    #[schema(value_type = Object)]
    pub detail: Option<serde_json::Value>,
    pub started_at: String,
    pub finished_at: Option<String>,
}

impl From<JobRunRow> for JobRunOut {
    fn from(r: JobRunRow) -> Self {
        JobRunOut {
            detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
            id: r.id,
            job: r.job,
            slot: ts(r.slot),
            status: r.status,
            started_at: ts(r.started_at),
            finished_at: r.finished_at.map(ts),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobsQuery {
    /// Only runs of this job.
    pub job: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
}

/// Recent runs of scheduled work (segment refreshes, loyalty expiry), newest first (admin).
#[utoipa::path(tag = "destinations", operation_id = "list_jobs", security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(JobsQuery),
    responses((status = 200, body = List<JobRunOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/jobs")]
pub async fn list_jobs(state: web::Data<AppState>, who: Auth, q: web::Query<JobsQuery>) -> ApiResult<web::Json<List<JobRunOut>>> {
    who.require(Scope::Admin)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let rows = crate::blocking(&state, move |app| app.job_runs(q.job.as_deref(), limit)).await?;
    Ok(web::Json(List { items: rows.into_iter().map(Into::into).collect() }))
}
