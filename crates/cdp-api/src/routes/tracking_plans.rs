//! Tracking plans: a source's plan (JSON Schema of each event's
//! properties), the log of violations, and the screening every ingestion
//! endpoint applies before it stores events.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, Page};
use crate::error::{ApiError, ApiResult, ErrorBody, ErrorCode};
use crate::routes::vouchers::PageQuery;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, put, web, HttpRequest};
use cdp_app::ingest::Outcome;
use cdp_app::tracking_plans::{screen, ViolationRow};
use cdp_app::Principal;
use cdp_domain::auth::Scope;
use cdp_domain::tracking_plan::{Plan, Violation};
use cdp_domain::NewEvent;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::ToSchema;

/// The plan of the caller's source: from memory, or read off the async worker.
pub async fn plan_for(state: &AppState, who: &Principal) -> ApiResult<Option<Arc<Plan>>> {
    match state.app.cached_plan(who) {
        Some(p) => Ok(p),
        None => {
            let who = who.clone();
            crate::blocking(state, move |app| app.load_plan(&who)).await
        }
    }
}

/// The refusal of an event a plan blocks.
pub fn violation_error(name: &str, v: &Violation, status: StatusCode) -> ApiError {
    ApiError::new(status, ErrorCode::TrackingPlanViolation, format!("{}: {}", v.path, v.message))
        .with_details(json!({"event": name, "kind": v.kind, "path": v.path}))
}

/// Violations taken out of a screening, to record: the blocked ones (message
/// id, event name, violation) and the allowed ones by position among the
/// events stored.
pub type Taken = (Vec<(Option<String>, String, Violation)>, Vec<(usize, Option<String>, String, Violation)>);

/// Events screened for ingestion: those to store (by index), the refused
/// ones' errors by index, and the violations to record once stored.
pub struct Planned {
    pub indexes: Vec<usize>,
    pub events: Vec<NewEvent>,
    pub refused: Vec<(usize, ApiError)>,
    blocked: Vec<(Option<String>, String, Violation)>,
    /// Position among `events` → (message id, name, violation).
    allowed: Vec<(usize, Option<String>, String, Violation)>,
}

/// Screens parsed events; refusals carry `status` (422, or 400 on the tracking API).
pub fn apply(plan: Option<&Plan>, valid: Vec<(usize, NewEvent)>, status: StatusCode) -> Planned {
    let s = screen(plan, valid);
    let name = |e: &NewEvent| e.name.clone().unwrap_or_default();
    let allowed = s.allowed.into_iter().map(|(pos, v)| (pos, s.pass[pos].1.message_id.clone(), name(&s.pass[pos].1), v)).collect();
    let refused = s.blocked.iter().map(|(i, e, v)| (*i, violation_error(&name(e), v, status))).collect();
    let blocked = s.blocked.into_iter().map(|(_, e, v)| (e.message_id.clone(), name(&e), v)).collect();
    let (indexes, events) = s.pass.into_iter().unzip();
    Planned { indexes, events, refused, blocked, allowed }
}

impl Planned {
    /// The violations to record, with the ids of the events stored despite
    /// them (`outcomes`: the answers to `events`, in order; none if nothing was stored).
    #[allow(clippy::type_complexity)]
    pub fn violations(
        blocked: Vec<(Option<String>, String, Violation)>,
        allowed: Vec<(usize, Option<String>, String, Violation)>,
        outcomes: &[Outcome],
    ) -> (Vec<(Option<String>, String, Violation)>, Vec<(Option<String>, String, Violation, Option<String>)>) {
        let allowed = allowed
            .into_iter()
            .map(|(pos, m, n, v)| {
                let id = match outcomes.get(pos) {
                    Some(Outcome::Accepted { id, .. } | Outcome::Duplicate { id, .. }) => Some(id.clone()),
                    _ => None,
                };
                (m, n, v, id)
            })
            .collect();
        (blocked, allowed)
    }

    /// Takes out what is to be recorded, leaving the events.
    pub fn take_violations(&mut self) -> Taken {
        (std::mem::take(&mut self.blocked), std::mem::take(&mut self.allowed))
    }
}

/// Records the violations of a request (after its events were stored, so
/// that allowed ones name their event).
pub async fn record(state: &AppState, who: &Principal, taken: Taken, outcomes: &[Outcome]) -> ApiResult<()> {
    if taken.0.is_empty() && taken.1.is_empty() {
        return Ok(());
    }
    let (blocked, allowed) = Planned::violations(taken.0, taken.1, outcomes);
    let who = who.clone();
    crate::blocking(state, move |app| app.record_violations(&who, blocked, allowed)).await
}

/// A tracking plan: per event name, a JSON Schema of its properties.
#[derive(serde::Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"events": {"Order Completed": {"type": "object", "required": ["order_id", "revenue"],
    "properties": {"order_id": {"type": "string"}, "revenue": {"type": "number", "minimum": 0}, "currency": {"type": "string"}}}},
    "unplanned": "allow", "violations": "block"}))]
pub struct TrackingPlanDoc {
    /// Event name → JSON Schema (any draft the schema names; 2020-12 by default) of its `properties`.
    #[schema(value_type = Object)]
    pub events: Value,
    /// Tracked events whose name is not in the plan: allow (stored and recorded; the default) or block.
    pub unplanned: Option<String>,
    /// Events that break their schema: allow (stored and recorded; the default) or block.
    pub violations: Option<String>,
}

/// Replaces a source's tracking plan (admin). It applies to the source's
/// tracked events on `/api/v1/events`, `/api/v1/events/batch` and `/v1/*`.
#[utoipa::path(tag = "sources", operation_id = "put_tracking_plan", request_body = TrackingPlanDoc,
    params(("id" = String, Path, description = "Source id")), security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = TrackingPlanDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/sources/{id}/tracking-plan")]
pub async fn put_tracking_plan(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<Value>> {
    who.require(Scope::Admin)?;
    let doc: Value = json_body(&req, payload).await?;
    Ok(web::Json(crate::blocking(&state, move |app| app.save_tracking_plan(&who, &id, &doc)).await?))
}

/// A source's tracking plan (admin).
#[utoipa::path(tag = "sources", operation_id = "get_tracking_plan", params(("id" = String, Path, description = "Source id")),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = TrackingPlanDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/sources/{id}/tracking-plan")]
pub async fn get_tracking_plan(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<Value>> {
    who.require(Scope::Admin)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.tracking_plan(&id)).await?))
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000f1", "event": "Order Completed", "message_id": "pos-q1-000124",
    "kind": "invalid", "path": "properties.revenue", "message": "\"350k\" is not of type \"number\"", "blocked": true, "event_id": null,
    "received_at": "2026-12-03T08:00:00Z"}))]
pub struct ViolationOut {
    pub id: String,
    pub event: String,
    pub message_id: Option<String>,
    /// unplanned or invalid.
    pub kind: String,
    /// `event` for an unplanned event, else the offending property's path.
    pub path: String,
    pub message: String,
    /// Refused (true), or stored anyway (false, and `event_id` names it).
    pub blocked: bool,
    pub event_id: Option<String>,
    pub received_at: String,
}

impl From<ViolationRow> for ViolationOut {
    fn from(r: ViolationRow) -> Self {
        ViolationOut {
            id: r.id,
            event: r.event_name,
            message_id: r.message_id,
            kind: r.kind,
            path: r.path,
            message: r.message,
            blocked: r.blocked,
            event_id: r.event_id,
            received_at: ts(r.received_at),
        }
    }
}

/// Events of a source that broke its plan, newest first (admin).
#[utoipa::path(tag = "sources", operation_id = "list_violations", params(("id" = String, Path, description = "Source id"), PageQuery),
    security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = Page<ViolationOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/sources/{id}/violations")]
pub async fn list_violations(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<ViolationOut>>> {
    who.require(Scope::Admin)?;
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    let (rows, next) = crate::blocking(&state, move |app| app.violations(&id, before, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}
