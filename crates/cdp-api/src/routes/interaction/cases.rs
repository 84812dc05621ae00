//! Cases: opening, working, listing, and their analytics.

use super::*;

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

pub(crate) fn case_out(r: CaseRow, now: i64) -> CaseOut {
    CaseOut {
        overdue: cdp_app::interaction::is_overdue(&r, now),
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

impl From<CaseView> for CaseOut {
    fn from(v: CaseView) -> Self {
        let history = v
            .history
            .into_iter()
            .map(|h| CaseHistoryOut { status: h.status, assignee: h.assignee, note: h.note, actor: h.actor, at: ts(h.at) })
            .collect();
        CaseOut { history: Some(history), ..case_out(v.case, cdp_app::now_micros()) }
    }
}

/// Opens a case (complaint, question, return request) for a profile given by
/// id or by any identity; due by the SLA of its priority; on the timeline.
#[utoipa::path(tag = "interaction", operation_id = "create_case", request_body = CaseIn,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    responses((status = 201, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/cases")]
pub async fn create_case(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::ProfilesWrite)?;
    let b: CaseIn = json_body(&req, payload).await?;
    let input = cdp_app::interaction::CaseInput {
        profile_id: b.profile_id,
        identities: b.identities,
        category: b.category,
        priority: b.priority,
        channel: b.channel,
        subject: b.subject,
        description: b.description,
        assignee: b.assignee,
    };
    let out = CaseOut::from(crate::blocking(&state, move |app| app.create_case(&who, input)).await?);
    Ok(HttpResponse::Created().json(out))
}

#[utoipa::path(tag = "interaction", operation_id = "get_case",
    security(("api_key" = ["profiles:read"]), ("bearer" = ["profiles:read"])),
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, body = CaseOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/cases/{id}")]
pub async fn get_case(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<CaseOut>> {
    who.require(Scope::ProfilesRead)?;
    let out = CaseOut::from(crate::blocking(&state, move |app| app.case(&id)).await?);
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
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<CaseOut>> {
    who.require(Scope::ProfilesWrite)?;
    let b: CasePatch = json_body(&req, payload).await?;
    let change = cdp_app::interaction::CaseChange {
        status: b.status,
        priority: b.priority,
        assignee: b.assignee,
        resolution: b.resolution,
        note: b.note,
    };
    let out = CaseOut::from(crate::blocking(&state, move |app| app.update_case(&who, &id, change)).await?);
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
pub async fn list_cases(state: web::Data<AppState>, who: Auth, q: web::Query<CasesQuery>) -> ApiResult<web::Json<Page<CaseOut>>> {
    who.require(Scope::ProfilesRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let query = cdp_app::interaction::CaseQuery {
        status: q.status,
        profile_id: q.profile_id,
        assignee: q.assignee,
        overdue: q.overdue.unwrap_or(false),
        after: cursor_decode(q.cursor.as_deref(), time_id)?,
    };
    let (rows, next) = crate::blocking(&state, move |app| app.list_cases(query, limit)).await?;
    let now = cdp_app::now_micros();
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
pub async fn get_case_stats(state: web::Data<AppState>, who: Auth, q: web::Query<CaseStatsQuery>) -> ApiResult<web::Json<CaseStatsOut>> {
    who.require(Scope::AnalyticsRead)?;
    let q = q.into_inner();
    let r = crate::blocking(&state, move |app| app.case_stats(q.from.as_deref(), q.to.as_deref())).await?;
    Ok(web::Json(CaseStatsOut {
        from: super::nps::day_of(r.from),
        to: super::nps::day_of(r.to - 1),
        opened: r.opened,
        resolved: r.resolved,
        active_now: r.active_now,
        overdue_now: r.overdue_now,
        median_hours_to_resolve: r.median_hours_to_resolve,
        sla_breaches: r.sla_breaches,
        top_categories: r
            .top_categories
            .into_iter()
            .map(|(category, cases, sla_breaches)| CategoryCount { category, cases, sla_breaches })
            .collect(),
    }))
}
