//! Vouchers: campaigns of single-use codes, issuing them, redeeming them at
//! the till, and a person's codes.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, Page};
use crate::error::{ApiResult, ErrorBody};
use crate::routes::destinations::ConsentDoc;
use crate::state::AppState;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use cdp_app::vouchers::{CampaignInput, Recipients, VoucherCampaignRow, VoucherView};
use cdp_domain::auth::Scope;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Quà Tết 2027", "kind": "amount", "value": 50000, "currency": "VND",
    "valid_from": "2027-01-20", "valid_to": "2027-02-28", "per_profile_limit": 1, "consent": {"channel": "zalo", "purpose": "marketing"}}))]
pub struct VoucherCampaignIn {
    pub name: String,
    /// amount (off an order, in `currency`), percent (off an order) or points (credited on redemption).
    pub kind: String,
    pub value: f64,
    /// For amounts; default the server's currency.
    pub currency: Option<String>,
    /// RFC 3339, or a date (from its start, UTC).
    pub valid_from: String,
    /// RFC 3339, or a date (to its end, UTC).
    pub valid_to: String,
    /// Codes one person may hold; default 1.
    pub per_profile_limit: Option<i32>,
    /// Issue only to people who granted this channel and purpose.
    pub consent: Option<ConsentDoc>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-7000-7000-8000-0000000000c1", "name": "Quà Tết 2027", "kind": "amount", "value": 50000.0,
    "currency": "VND", "valid_from": "2027-01-20T00:00:00Z", "valid_to": "2027-02-28T23:59:59.999999Z", "per_profile_limit": 1,
    "consent": {"channel": "zalo", "purpose": "marketing"}, "created_at": "2026-12-03T08:00:00Z"}))]
pub struct VoucherCampaignOut {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub value: f64,
    pub currency: Option<String>,
    pub valid_from: String,
    pub valid_to: String,
    pub per_profile_limit: i32,
    pub consent: Option<ConsentDoc>,
    pub created_at: String,
}

impl From<VoucherCampaignRow> for VoucherCampaignOut {
    fn from(r: VoucherCampaignRow) -> Self {
        VoucherCampaignOut {
            consent: r.consent_channel.zip(r.consent_purpose).map(|(channel, purpose)| ConsentDoc { channel, purpose }),
            id: r.id,
            name: r.name,
            kind: r.kind,
            value: r.value,
            currency: r.currency,
            valid_from: ts(r.valid_from),
            valid_to: ts(r.valid_to),
            per_profile_limit: r.per_profile_limit,
            created_at: ts(r.created_at),
        }
    }
}

/// Creates a voucher campaign (loyalty:write).
#[utoipa::path(tag = "programmes", operation_id = "create_voucher_campaign", request_body = VoucherCampaignIn,
    security(("api_key" = ["loyalty:write"]), ("bearer" = ["loyalty:write"])),
    responses((status = 201, body = VoucherCampaignOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/voucher-campaigns")]
pub async fn create_voucher_campaign(
    state: web::Data<AppState>,
    who: Auth,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::LoyaltyWrite)?;
    let b: VoucherCampaignIn = json_body(&req, payload).await?;
    let input = CampaignInput {
        name: b.name,
        kind: b.kind,
        value: b.value,
        currency: b.currency,
        valid_from: b.valid_from,
        valid_to: b.valid_to,
        per_profile_limit: b.per_profile_limit,
        consent: b.consent.map(|c| (c.channel, Some(c.purpose))),
    };
    let row = crate::blocking(&state, move |app| app.create_voucher_campaign(input)).await?;
    Ok(HttpResponse::Created().json(VoucherCampaignOut::from(row)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Voucher campaigns, newest first (loyalty:read).
#[utoipa::path(tag = "programmes", operation_id = "list_voucher_campaigns", params(PageQuery),
    security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    responses((status = 200, body = Page<VoucherCampaignOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/voucher-campaigns")]
pub async fn list_voucher_campaigns(
    state: web::Data<AppState>,
    who: Auth,
    q: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<VoucherCampaignOut>>> {
    who.require(Scope::LoyaltyRead)?;
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    let (rows, next) = crate::blocking(&state, move |app| app.voucher_campaigns(before, limit)).await?;
    Ok(web::Json(Page {
        items: rows.into_iter().map(Into::into).collect(),
        next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))),
    }))
}

/// One voucher campaign (loyalty:read).
#[utoipa::path(tag = "programmes", operation_id = "get_voucher_campaign", params(("id" = String, Path, description = "Voucher campaign id")),
    security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    responses((status = 200, body = VoucherCampaignOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/voucher-campaigns/{id}")]
pub async fn get_voucher_campaign(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
) -> ApiResult<web::Json<VoucherCampaignOut>> {
    who.require(Scope::LoyaltyRead)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.voucher_campaign(&id)).await?.into()))
}

/// To whom: a list of profiles, or a segment's current members.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"segment_id": "01936f3e-7000-7000-8000-0000000000a1"}))]
pub struct IssueIn {
    /// 1 to 1,000 profile ids (merged-away ids count as their survivor); a segment for more.
    pub profile_ids: Option<Vec<String>>,
    pub segment_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"code": "7KQ2-M9XD-4TNE-Z1BW", "profile_id": "01936f3e-8a40-7000-8000-000000000001"}))]
pub struct IssuedCode {
    pub code: String,
    pub profile_id: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"issued": 1, "skipped": 0, "items": [{"code": "7KQ2-M9XD-4TNE-Z1BW", "profile_id": "01936f3e-8a40-7000-8000-000000000001"}]}))]
pub struct IssueOut {
    pub issued: usize,
    /// People left out: already holding the campaign's limit, or without the consent it needs.
    pub skipped: usize,
    pub items: Vec<IssuedCode>,
}

/// Issues one code to each person named or to each current member of a
/// segment who may take one more; each issue is a `voucher.issued` fact (loyalty:write).
#[utoipa::path(tag = "programmes", operation_id = "issue_vouchers", request_body = IssueIn,
    params(("id" = String, Path, description = "Voucher campaign id")),
    security(("api_key" = ["loyalty:write"]), ("bearer" = ["loyalty:write"])),
    responses((status = 201, body = IssueOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/voucher-campaigns/{id}/issue")]
pub async fn issue_vouchers(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::LoyaltyWrite)?;
    let b: IssueIn = json_body(&req, payload).await?;
    let to = match (b.profile_ids, b.segment_id) {
        (Some(ids), None) => Recipients::Profiles(ids),
        (None, Some(s)) => Recipients::Segment(s),
        _ => return Err(crate::error::ApiError::field("profile_ids", "invalid", "give either profile_ids or segment_id")),
    };
    let out = crate::blocking(&state, move |app| app.issue_vouchers(&id, to)).await?;
    Ok(HttpResponse::Created().json(IssueOut {
        issued: out.items.len(),
        skipped: out.skipped,
        items: out.items.into_iter().map(|(code, profile_id)| IssuedCode { code, profile_id }).collect(),
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"order_id": "POS-Q1-000123", "profile_id": "01936f3e-8a40-7000-8000-000000000001"}))]
pub struct RedeemIn {
    /// The order the voucher is used on: the same order again answers the same.
    pub order_id: String,
    /// The person at the till: refused when the code is someone else's.
    pub profile_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"code": "7KQ2-M9XD-4TNE-Z1BW", "profile_id": "01936f3e-8a40-7000-8000-000000000001",
    "campaign_id": "01936f3e-7000-7000-8000-0000000000c1", "campaign_name": "Quà Tết 2027", "kind": "amount", "value": 50000.0,
    "currency": "VND", "valid_from": "2027-01-20T00:00:00Z", "valid_to": "2027-02-28T23:59:59.999999Z", "status": "redeemed",
    "issued_at": "2027-01-19T08:00:00Z", "redeemed_at": "2027-01-25T10:12:00Z", "redeemed_order_id": "POS-Q1-000123"}))]
pub struct VoucherOut {
    pub code: String,
    /// Who holds it now (merges followed).
    pub profile_id: String,
    pub campaign_id: String,
    pub campaign_name: String,
    pub kind: String,
    pub value: f64,
    pub currency: Option<String>,
    pub valid_from: String,
    pub valid_to: String,
    /// active, redeemed, expired or not_yet_valid.
    pub status: String,
    pub issued_at: String,
    pub redeemed_at: Option<String>,
    pub redeemed_order_id: Option<String>,
}

impl From<VoucherView> for VoucherOut {
    fn from(v: VoucherView) -> Self {
        let now = chrono::Utc::now().timestamp_micros();
        let status = match v.voucher.redeemed_at {
            Some(_) => "redeemed",
            None if now > v.campaign.valid_to => "expired",
            None if now < v.campaign.valid_from => "not_yet_valid",
            None => "active",
        };
        VoucherOut {
            code: v.voucher.code,
            profile_id: v.owner,
            campaign_id: v.campaign.id,
            campaign_name: v.campaign.name,
            kind: v.campaign.kind,
            value: v.campaign.value,
            currency: v.campaign.currency,
            valid_from: ts(v.campaign.valid_from),
            valid_to: ts(v.campaign.valid_to),
            status: status.into(),
            issued_at: ts(v.voucher.issued_at),
            redeemed_at: v.voucher.redeemed_at.map(ts),
            redeemed_order_id: v.voucher.redeemed_order_id,
        }
    }
}

/// Redeems a code for an order, exactly once (loyalty:write): the same
/// order again answers the same; a points voucher credits its points.
#[utoipa::path(tag = "programmes", operation_id = "redeem_voucher", request_body = RedeemIn,
    params(("code" = String, Path, description = "The code, in any case, with or without dashes")),
    security(("api_key" = ["loyalty:write"]), ("bearer" = ["loyalty:write"])),
    responses((status = 200, body = VoucherOut), (status = 401, body = ErrorBody), (status = 403, description = "Not the scope, or `not_owner`", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "`already_redeemed` for another order", body = ErrorBody),
        (status = 422, description = "`voucher_expired`, or invalid fields", body = ErrorBody)))]
#[post("/vouchers/{code}/redeem")]
pub async fn redeem_voucher(
    state: web::Data<AppState>,
    who: Auth,
    code: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<VoucherOut>> {
    who.require(Scope::LoyaltyWrite)?;
    let b: RedeemIn = json_body(&req, payload).await?;
    let v = crate::blocking(&state, move |app| app.redeem_voucher(&code, &b.order_id, b.profile_id.as_deref())).await?;
    Ok(web::Json(v.into()))
}

/// A page of vouchers and the cursor to the next.
pub fn voucher_page((rows, next): cdp_app::store::Page<VoucherView>) -> Page<VoucherOut> {
    Page { items: rows.into_iter().map(Into::into).collect(), next_cursor: next.map(|(t, c)| cursor_encode(&format!("{t}|{c}"))) }
}

/// The codes a person holds, newest first (loyalty:read).
#[utoipa::path(tag = "programmes", operation_id = "list_profile_vouchers", params(("id" = String, Path, description = "Profile id"), PageQuery),
    security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    responses((status = 200, body = Page<VoucherOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/profiles/{id}/vouchers")]
pub async fn list_profile_vouchers(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<PageQuery>,
) -> ApiResult<web::Json<Page<VoucherOut>>> {
    who.require(Scope::LoyaltyRead)?;
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    Ok(web::Json(voucher_page(crate::blocking(&state, move |app| app.profile_vouchers(&id, before, limit)).await?)))
}
