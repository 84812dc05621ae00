//! Segments and audiences: rules stored with versions, evaluated in the
//! database, membership kept with entry and exit times, members exported with
//! keyset paging and an optional consent filter.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, time_param, ts, List, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::profiles::ProfileOut;
use crate::state::AppState;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use cdp_app::segments::{MemberFilter, SegmentInput, SegmentRow};
use cdp_domain::auth::Scope;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"name": "Mothers in Hà Nội buying formula, Zalo OK",
    "description": "Bought infant formula twice in 90 days and agreed to Zalo messages",
    "rule": {"all": [
        {"trait": "city", "op": "eq", "value": "Hà Nội"},
        {"event": "Order Completed", "within_days": 90, "count": {"op": "gte", "value": 2},
         "where": [{"property": "products.category", "op": "eq", "value": "infant_formula"}]},
        {"consent": "zalo"}]}}))]
pub struct SegmentIn {
    /// 1 to 200 characters.
    pub name: String,
    pub description: Option<String>,
    /// The condition tree (see the API guide): all / any / not, trait, metric,
    /// event, channel, rfm_segment, tier, consent.
    #[schema(value_type = Object)]
    pub rule: Value,
    /// Reference time of the first evaluation (RFC 3339, or a date meaning its
    /// end); default now.
    pub as_of: Option<String>,
    /// The server refreshes the segment every so many minutes (1 to 10080);
    /// absent or null: only on request. Entries and exits become `segment.entered`/`segment.exited` facts.
    pub refresh_every_minutes: Option<i32>,
}

/// A segment, its current rule version and the outcome of its last refresh.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000aa", "name": "Champions in Hà Nội", "description": "",
    "rule": {"all": [{"rfm_segment": "champions"}, {"trait": "city", "op": "eq", "value": "Hà Nội"}]}, "version": 1,
    "size": 1240, "entered": 1240, "exited": 0, "refreshed_at": "2026-11-23T08:00:00Z", "as_of": "2026-11-23T08:00:00Z",
    "created_by": "key:01936f3e-0000-7000-8000-00000000000a", "created_at": "2026-11-23T08:00:00Z", "updated_at": "2026-11-23T08:00:00Z"}))]
pub struct SegmentOut {
    pub id: String,
    pub name: String,
    pub description: String,
    #[schema(value_type = Object)]
    pub rule: Value,
    /// Grows by one each time the rule changes.
    pub version: i32,
    /// Members after the last refresh.
    pub size: i64,
    /// Profiles that entered at the last refresh.
    pub entered: i64,
    /// Profiles that left at the last refresh.
    pub exited: i64,
    pub refreshed_at: Option<String>,
    /// The reference time the last refresh evaluated at.
    pub as_of: Option<String>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// Refreshed by the server every so many minutes; null: on request only.
    pub refresh_every_minutes: Option<i32>,
}

impl From<SegmentRow> for SegmentOut {
    fn from(r: SegmentRow) -> Self {
        SegmentOut {
            rule: serde_json::from_str(&r.rule).unwrap_or(Value::Null),
            id: r.id,
            name: r.name,
            description: r.description,
            version: r.version,
            size: r.size,
            entered: r.entered,
            exited: r.exited,
            refreshed_at: r.refreshed_at.map(ts),
            as_of: r.as_of.map(ts),
            refresh_every_minutes: r.refresh_every_minutes,
            created_by: r.created_by,
            created_at: ts(r.created_at),
            updated_at: ts(r.updated_at),
        }
    }
}

#[derive(Deserialize, ToSchema, Default)]
#[schema(example = json!({"as_of": "2026-11-22"}))]
pub struct RefreshIn {
    /// Reference time (RFC 3339, or a date meaning its end); default now.
    /// Event windows end here; traits and metrics are those held now.
    pub as_of: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"rule": {"metric": "revenue_total", "op": "gte", "value": 1000000}}))]
pub struct PreviewIn {
    #[schema(value_type = Object)]
    pub rule: Value,
    pub as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"size": 1240}))]
pub struct PreviewOut {
    /// How many profiles the rule matches now.
    pub size: i64,
}

/// A member: the profile, and when it entered the segment.
#[derive(Serialize, ToSchema)]
pub struct MemberOut {
    #[serde(flatten)]
    pub profile: ProfileOut,
    pub entered_at: String,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// Only members who granted consent on this channel (email, sms, zalo,
    /// push, phone, facebook), as it stands at the time of the request.
    pub consent: Option<String>,
    /// With `consent`: the purpose granted (marketing — the default —, transactional, profiling, research).
    pub purpose: Option<String>,
    /// Only members who entered after this time (RFC 3339), e.g. the
    /// `refreshed_at` of a refresh already processed.
    pub entered_since: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChangesQuery {
    /// Periods that began or ended after this time (RFC 3339), e.g. the
    /// `refreshed_at` of a refresh already processed.
    /// Required.
    pub since: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// A membership period that began (entered) or ended (exited) after the time asked.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"profile_id": "01936f3e-8a40-7000-8000-000000000001", "entered_at": "2026-11-22T08:00:00Z", "exited_at": "2026-11-23T08:00:00Z"}))]
pub struct ChangeOut {
    pub profile_id: String,
    pub entered_at: String,
    pub exited_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct VersionOut {
    pub version: i32,
    #[schema(value_type = Object)]
    pub rule: Value,
    pub created_by: String,
    pub created_at: String,
}

fn input(body: SegmentIn) -> SegmentInput {
    SegmentInput {
        name: body.name,
        description: body.description,
        rule: body.rule,
        as_of: body.as_of,
        refresh_every_minutes: body.refresh_every_minutes,
    }
}

/// Creates a segment and evaluates it at once; answers its size.
#[utoipa::path(tag = "segments", operation_id = "create_segment", request_body = SegmentIn,
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    responses((status = 201, body = SegmentOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/segments")]
pub async fn create_segment(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::SegmentsWrite)?;
    let body: SegmentIn = json_body(&req, payload).await?;
    let row = crate::blocking(&state, move |app| app.create_segment(&who, input(body))).await?;
    Ok(HttpResponse::Created().json(SegmentOut::from(row)))
}

/// Every segment, oldest first.
#[utoipa::path(tag = "segments", operation_id = "list_segments",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = List<SegmentOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/segments")]
pub async fn list_segments(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<SegmentOut>>> {
    who.require(Scope::SegmentsRead)?;
    let rows = crate::blocking(&state, |app| app.segments()).await?;
    Ok(web::Json(List { items: rows.into_iter().map(SegmentOut::from).collect() }))
}

#[utoipa::path(tag = "segments", operation_id = "get_segment",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 200, body = SegmentOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/segments/{id}")]
pub async fn get_segment(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<SegmentOut>> {
    who.require(Scope::SegmentsRead)?;
    let row = crate::blocking(&state, move |app| app.segment(&id)).await?;
    Ok(web::Json(row.into()))
}

/// Replaces name, description and rule; a changed rule is a new version and
/// the segment is evaluated again (entries and exits recorded).
#[utoipa::path(tag = "segments", operation_id = "update_segment", request_body = SegmentIn,
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 200, body = SegmentOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/segments/{id}")]
pub async fn update_segment(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<SegmentOut>> {
    who.require(Scope::SegmentsWrite)?;
    let body: SegmentIn = json_body(&req, payload).await?;
    let row = crate::blocking(&state, move |app| app.update_segment(&who, &id, input(body))).await?;
    Ok(web::Json(row.into()))
}

/// Deletes a segment and its membership history.
#[utoipa::path(tag = "segments", operation_id = "delete_segment",
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[delete("/segments/{id}")]
pub async fn delete_segment(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<HttpResponse> {
    who.require(Scope::SegmentsWrite)?;
    crate::blocking(&state, move |app| app.delete_segment(&id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Evaluates the segment again, now or as of a time: who entered and who
/// left is recorded with the time of this refresh.
#[utoipa::path(tag = "segments", operation_id = "refresh_segment", request_body(content = RefreshIn, description = "Optional", content_type = "application/json"),
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 200, body = SegmentOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/segments/{id}/refresh")]
pub async fn refresh_segment(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<SegmentOut>> {
    who.require(Scope::SegmentsWrite)?;
    let raw = crate::body::read_limited(&req, payload, state.limits.event_body_bytes).await?;
    let body: RefreshIn = if raw.iter().all(u8::is_ascii_whitespace) { RefreshIn::default() } else { crate::body::parse_json(&raw)? };
    let row = crate::blocking(&state, move |app| app.refresh_segment(&id, body.as_of.as_deref())).await?;
    Ok(web::Json(row.into()))
}

/// How many profiles a rule matches, without saving a segment.
#[utoipa::path(tag = "segments", operation_id = "preview_segment", request_body = PreviewIn,
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = PreviewOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/segments/preview")]
pub async fn preview_segment(
    state: web::Data<AppState>,
    who: Auth,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<PreviewOut>> {
    who.require(Scope::SegmentsRead)?;
    let body: PreviewIn = json_body(&req, payload).await?;
    let size = crate::blocking(&state, move |app| app.preview_segment(&body.rule, body.as_of.as_deref())).await?;
    Ok(web::Json(PreviewOut { size }))
}

/// Current members by profile id, with keyset paging; `consent=CH` keeps only
/// those whose consent on CH is granted at the time of the request.
#[utoipa::path(tag = "segments", operation_id = "list_segment_members",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    params(("id" = String, Path, description = "Segment id"), MembersQuery),
    responses((status = 200, body = Page<MemberOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/segments/{id}/members")]
pub async fn list_segment_members(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<MembersQuery>,
) -> ApiResult<web::Json<Page<MemberOut>>> {
    who.require(Scope::SegmentsRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let after = cursor_decode(q.cursor.as_deref(), |t| Some(t.to_string()))?;
    let entered_since = time_param("entered_since", q.entered_since.as_deref())?;
    let filter = MemberFilter { consent: q.consent, purpose: q.purpose, entered_since, after };
    let (members, next) = crate::blocking(&state, move |app| app.segment_members(&id, filter, limit)).await?;
    let items = members.into_iter().map(|(v, r)| MemberOut { profile: v.into(), entered_at: ts(r.entered_at) }).collect();
    Ok(web::Json(Page { items, next_cursor: next.as_deref().map(cursor_encode) }))
}

/// Who entered and who left since a time ("who entered since yesterday").
#[utoipa::path(tag = "segments", operation_id = "list_segment_changes",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    params(("id" = String, Path, description = "Segment id"), ChangesQuery),
    responses((status = 200, body = Page<ChangeOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/segments/{id}/changes")]
pub async fn list_segment_changes(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<ChangesQuery>,
) -> ApiResult<web::Json<Page<ChangeOut>>> {
    who.require(Scope::SegmentsRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let since =
        time_param("since", q.since.as_deref())?.ok_or_else(|| ApiError::field("since", "required", "is required: an RFC 3339 time"))?;
    let after = cursor_decode(q.cursor.as_deref(), |t| time_id(t).map(|(at, pid)| (pid, at)))?;
    let (rows, next) = crate::blocking(&state, move |app| app.segment_changes(&id, since, after, limit)).await?;
    Ok(web::Json(Page {
        items: rows
            .into_iter()
            .map(|r| ChangeOut { profile_id: r.profile_id, entered_at: ts(r.entered_at), exited_at: r.exited_at.map(ts) })
            .collect(),
        next_cursor: next.map(|(pid, at)| cursor_encode(&format!("{at}|{pid}"))),
    }))
}

/// Every version of the rule, oldest first.
#[utoipa::path(tag = "segments", operation_id = "list_segment_versions",
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    params(("id" = String, Path, description = "Segment id")),
    responses((status = 200, body = List<VersionOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/segments/{id}/versions")]
pub async fn list_segment_versions(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<List<VersionOut>>> {
    who.require(Scope::SegmentsRead)?;
    let rows = crate::blocking(&state, move |app| app.segment_versions(&id)).await?;
    Ok(web::Json(List {
        items: rows
            .into_iter()
            .map(|(version, rule, created_by, at)| VersionOut {
                version,
                rule: serde_json::from_str(&rule).unwrap_or(Value::Null),
                created_by,
                created_at: ts(at),
            })
            .collect(),
    }))
}
