//! Campaigns measured against a holdout: creation (a snapshot of a segment,
//! assigned by hash), the assignments for the marketing tool, and results.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, Page};
use crate::error::{ApiResult, ErrorBody};
use crate::routes::vouchers::PageQuery;
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_app::campaigns::{CampaignInput, CampaignResults, CampaignRow};
use cdp_app::store::AssignmentFilter;
use cdp_domain::auth::Scope;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"event": "Order Completed", "window_days": 30}))]
pub struct GoalDoc {
    /// The event that counts as converting.
    pub event: String,
    /// Days after the start within which it counts.
    pub window_days: i32,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Win-back tháng 12", "segment_id": "01936f3e-7000-7000-8000-0000000000a1", "holdout_percent": 20,
    "goal": {"event": "Order Completed", "window_days": 30}}))]
pub struct CampaignIn {
    pub name: String,
    /// Whose members, now, make up the campaign.
    pub segment_id: String,
    /// 0 to 50: the share held out as control (two decimals at most).
    pub holdout_percent: f64,
    pub goal: GoalDoc,
    /// RFC 3339; default now. The goal window starts here.
    pub starts_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000e1", "name": "Win-back tháng 12",
    "segment_id": "01936f3e-7000-7000-8000-0000000000a1", "holdout_percent": 20.0, "goal": {"event": "Order Completed", "window_days": 30},
    "starts_at": "2026-12-03T08:00:00Z", "size": 10000, "groups": {"treatment": 8012, "control": 1988}, "created_at": "2026-12-03T08:00:00Z"}))]
pub struct CampaignOut {
    pub id: String,
    pub name: String,
    pub segment_id: String,
    pub holdout_percent: f64,
    pub goal: GoalDoc,
    pub starts_at: String,
    pub size: i64,
    /// Members per group.
    pub groups: BTreeMap<String, i64>,
    pub created_at: String,
}

impl From<CampaignRow> for CampaignOut {
    fn from(r: CampaignRow) -> Self {
        CampaignOut {
            holdout_percent: f64::from(r.holdout_bp) / 100.0,
            goal: GoalDoc { event: r.goal_event, window_days: r.window_days },
            starts_at: ts(r.starts_at),
            groups: BTreeMap::from([("treatment".to_string(), r.size - r.control_size), ("control".to_string(), r.control_size)]),
            size: r.size,
            id: r.id,
            name: r.name,
            segment_id: r.segment_id,
            created_at: ts(r.created_at),
        }
    }
}

/// Creates a campaign (segments:write): the segment's members now, each
/// assigned to `treatment` or `control` by SHA-256 of (campaign id, profile
/// id), and a `campaign.assigned` fact for each.
#[utoipa::path(tag = "programmes", operation_id = "create_campaign", request_body = CampaignIn,
    security(("api_key" = ["segments:write"]), ("bearer" = ["segments:write"])),
    responses((status = 201, body = CampaignOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/campaigns")]
pub async fn create_campaign(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::SegmentsWrite)?;
    let b: CampaignIn = json_body(&req, payload).await?;
    let input = CampaignInput {
        name: b.name,
        segment_id: b.segment_id,
        holdout_percent: b.holdout_percent,
        goal_event: b.goal.event,
        window_days: b.goal.window_days,
        starts_at: b.starts_at,
    };
    let row = crate::blocking(&state, move |app| app.create_campaign(input)).await?;
    Ok(HttpResponse::Created().json(CampaignOut::from(row)))
}

/// Campaigns, newest first (segments:read).
#[utoipa::path(tag = "programmes", operation_id = "list_campaigns", params(PageQuery),
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = Page<CampaignOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/campaigns")]
pub async fn list_campaigns(state: web::Data<AppState>, who: Auth, q: web::Query<PageQuery>) -> ApiResult<web::Json<Page<CampaignOut>>> {
    who.require(Scope::SegmentsRead)?;
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    let (rows, next) = crate::blocking(&state, move |app| app.campaigns(before, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}

/// One campaign (segments:read).
#[utoipa::path(tag = "programmes", operation_id = "get_campaign", params(("id" = String, Path, description = "Campaign id")),
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = CampaignOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/campaigns/{id}")]
pub async fn get_campaign(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<CampaignOut>> {
    who.require(Scope::SegmentsRead)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.campaign(&id)).await?.into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentsQuery {
    /// treatment or control.
    pub group: Option<String>,
    /// Only those who granted this channel (email, sms, zalo, push, phone, facebook)…
    pub consent: Option<String>,
    /// …for this purpose (default marketing).
    pub purpose: Option<String>,
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"profile_id": "01936f3e-8a40-7000-8000-000000000001", "member_id": "01936f3e-8a40-7000-8000-000000000001",
    "group": "treatment"}))]
pub struct AssignmentOut {
    /// The person now (merges followed): whom the marketing tool contacts.
    pub profile_id: String,
    /// The profile as it was when the campaign was created.
    pub member_id: String,
    /// treatment or control.
    pub group: String,
}

/// Members and their group, by member id (segments:read). Erased people are left out.
#[utoipa::path(tag = "programmes", operation_id = "list_campaign_assignments", params(("id" = String, Path, description = "Campaign id"), AssignmentsQuery),
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = Page<AssignmentOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/campaigns/{id}/assignments")]
pub async fn list_campaign_assignments(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<AssignmentsQuery>,
) -> ApiResult<web::Json<Page<AssignmentOut>>> {
    who.require(Scope::SegmentsRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let after = cursor_decode(q.cursor.as_deref(), |t| Some(t.to_string()))?;
    let filter = AssignmentFilter {
        group: q.group.filter(|g| !g.is_empty()),
        consent: q
            .consent
            .filter(|c| !c.is_empty())
            .map(|c| (c, q.purpose.filter(|p| !p.is_empty()).unwrap_or_else(|| cdp_domain::consent::DEFAULT_PURPOSE.into()))),
        after,
    };
    let (rows, next) = crate::blocking(&state, move |app| app.campaign_assignments(&id, filter, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(|(member_id, profile_id, group)| AssignmentOut { profile_id, member_id, group }).collect(),
        next_cursor: next.map(|p| cursor_encode(&p)),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct GroupOut {
    pub size: u64,
    pub converters: u64,
    /// converters / size; null for an empty group.
    pub conversion_rate: Option<f64>,
    /// The goal events' revenue in the window / size (non-converters count 0).
    pub revenue_per_customer: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct UpliftOut {
    /// Treatment's conversion rate − control's.
    pub absolute: Option<f64>,
    /// Unpooled (Wald) normal 95% interval of the difference.
    pub ci95: Option<[f64; 2]>,
    /// The difference relative to control's rate; null when control's is 0.
    pub relative: Option<f64>,
    /// Two-sided, two-proportion z-test with pooled variance; null when undefined.
    pub p_value: Option<f64>,
}

#[derive(Serialize, ToSchema)]
pub struct RevenueUpliftOut {
    /// Treatment's revenue per customer − control's.
    pub absolute: Option<f64>,
    /// Welch's t 95% interval (Welch–Satterthwaite degrees of freedom).
    pub ci95: Option<[f64; 2]>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"campaign_id": "01936f3e-7000-7000-8000-0000000000e1", "goal": {"event": "Order Completed", "window_days": 30},
    "window": {"from": "2026-12-03T08:00:00Z", "to": "2027-01-02T08:00:00Z"},
    "groups": {"treatment": {"size": 8012, "converters": 1202, "conversion_rate": 0.15, "revenue_per_customer": 61250.4},
               "control": {"size": 1988, "converters": 239, "conversion_rate": 0.1202, "revenue_per_customer": 48712.0}},
    "uplift": {"absolute": 0.0298, "ci95": [0.0137, 0.0459], "relative": 0.2479, "p_value": 0.00071},
    "revenue_uplift": {"absolute": 12538.4, "ci95": [4120.7, 20956.1]}}))]
pub struct ResultsOut {
    pub campaign_id: String,
    pub goal: GoalDoc,
    /// The goal window: the start, and `window_days` after.
    #[schema(value_type = Object)]
    pub window: serde_json::Value,
    /// `treatment` and `control`.
    pub groups: BTreeMap<String, GroupOut>,
    pub uplift: UpliftOut,
    pub revenue_uplift: RevenueUpliftOut,
}

impl From<CampaignResults> for ResultsOut {
    fn from(r: CampaignResults) -> Self {
        let group = |g: &cdp_domain::campaign::GroupTotals| GroupOut {
            size: g.size,
            converters: g.converters,
            conversion_rate: g.conversion_rate(),
            revenue_per_customer: g.revenue_per_customer(),
        };
        let c = r.campaign;
        ResultsOut {
            window: serde_json::json!({"from": ts(c.starts_at), "to": ts(c.starts_at + i64::from(c.window_days) * 86_400_000_000)}),
            campaign_id: c.id,
            goal: GoalDoc { event: c.goal_event, window_days: c.window_days },
            groups: BTreeMap::from([("treatment".to_string(), group(&r.treatment)), ("control".to_string(), group(&r.control))]),
            uplift: UpliftOut {
                absolute: r.results.uplift,
                ci95: r.results.uplift_ci95.map(|(a, b)| [a, b]),
                relative: r.results.relative_uplift,
                p_value: r.results.p_value,
            },
            revenue_uplift: RevenueUpliftOut {
                absolute: r.results.revenue_uplift,
                ci95: r.results.revenue_uplift_ci95.map(|(a, b)| [a, b]),
            },
        }
    }
}

/// Results per group and the uplift (segments:read): conversion is a goal
/// event within `window_days` of the start.
#[utoipa::path(tag = "programmes", operation_id = "get_campaign_results", params(("id" = String, Path, description = "Campaign id")),
    security(("api_key" = ["segments:read"]), ("bearer" = ["segments:read"])),
    responses((status = 200, body = ResultsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/campaigns/{id}/results")]
pub async fn get_campaign_results(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ResultsOut>> {
    who.require(Scope::SegmentsRead)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.campaign_results(&id)).await?.into()))
}
