//! The loyalty programme: configuration, members' points and tiers, the
//! ledger, redemptions, rewards and the expiry run.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, List, Page};
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use cdp_app::loyalty::{LedgerRow, RewardInput, RewardRow};
use cdp_domain::auth::Scope;
use cdp_domain::loyalty::Program;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The programme (API.md "Loyalty"); these are the defaults.
#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"currency": "VND", "spend_per_point": 10000, "tier_window_days": 365, "points_expire_after_days": 365,
    "tiers": [{"code": "dong", "name": "Đồng", "min_spend": 0, "multiplier": 1.0}, {"code": "bac", "name": "Bạc", "min_spend": 5000000, "multiplier": 1.2},
              {"code": "vang", "name": "Vàng", "min_spend": 15000000, "multiplier": 1.5}, {"code": "kim_cuong", "name": "Kim Cương", "min_spend": 40000000, "multiplier": 2.0}]}))]
pub struct ProgramDoc {
    pub currency: String,
    pub spend_per_point: f64,
    pub tier_window_days: i64,
    pub points_expire_after_days: i64,
    pub tiers: Vec<TierDoc>,
    /// `HH:MM` (UTC): the server expires lapsed points every day at this time; absent: only on request.
    pub expire_daily_at: Option<String>,
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct TierDoc {
    pub code: String,
    pub name: String,
    pub min_spend: f64,
    pub multiplier: f64,
}

/// The programme's configuration.
#[utoipa::path(tag = "loyalty", operation_id = "get_loyalty_program", security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    responses((status = 200, body = ProgramDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/loyalty/program")]
pub async fn get_program(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<Program>> {
    who.require(Scope::LoyaltyRead)?;
    Ok(web::Json(crate::blocking(&state, |app| app.loyalty_program()).await?))
}

/// Replaces the programme's configuration (admin), validated: tiers ordered
/// by min_spend, the first at 0, multipliers above 0.
#[utoipa::path(tag = "loyalty", operation_id = "put_loyalty_program", request_body = ProgramDoc, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ProgramDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/loyalty/program")]
pub async fn put_program(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<web::Json<Program>> {
    who.require(Scope::Admin)?;
    let program: Program = json_body(&req, payload).await?;
    Ok(web::Json(crate::blocking(&state, move |app| app.save_loyalty_program(program)).await?))
}

#[derive(Serialize, ToSchema)]
pub struct TierRef {
    pub code: String,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct NextTier {
    pub code: String,
    pub name: String,
    pub min_spend: f64,
    pub spend_needed: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"points_balance": 1250, "tier": {"code": "bac", "name": "Bạc"}, "spend_in_window": 7200000.0,
    "next_tier": {"code": "vang", "name": "Vàng", "min_spend": 15000000.0, "spend_needed": 7800000.0}}))]
pub struct LoyaltyOut {
    pub points_balance: i64,
    pub tier: TierRef,
    /// Spend in the tier window up to now, major units.
    pub spend_in_window: f64,
    pub next_tier: Option<NextTier>,
}

/// A member's points, tier and the spend still needed for the next tier.
#[utoipa::path(tag = "loyalty", operation_id = "get_profile_loyalty", security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 200, body = LoyaltyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/profiles/{id}/loyalty")]
pub async fn get_loyalty(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<LoyaltyOut>> {
    who.require(Scope::LoyaltyRead)?;
    Ok(web::Json(crate::blocking(&state, move |app| app.standing(&id)).await?.into()))
}

impl From<cdp_app::loyalty::Standing> for LoyaltyOut {
    fn from(s: cdp_app::loyalty::Standing) -> Self {
        LoyaltyOut {
            points_balance: s.points_balance,
            tier: TierRef { code: s.tier.code, name: s.tier.name },
            spend_in_window: s.spend_in_window,
            next_tier: s.next_tier.map(|(n, spend_needed)| NextTier { code: n.code, name: n.name, min_spend: n.min_spend, spend_needed }),
        }
    }
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-8a4b-7c2d-9e1f-2a3b4c5d6e7f", "kind": "earn", "points": 42, "balance_after": 1250,
    "order_id": "Q1-000123", "reward_id": null, "reason": null, "created_at": "2026-11-20T10:15:01Z", "expires_at": "2027-11-20T10:15:00Z"}))]
pub struct LedgerOut {
    pub id: String,
    /// earn, redeem, expire, reverse or adjust
    pub kind: String,
    pub points: i64,
    pub balance_after: i64,
    pub order_id: Option<String>,
    pub reward_id: Option<String>,
    pub reason: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
}

impl From<LedgerRow> for LedgerOut {
    fn from(r: LedgerRow) -> Self {
        LedgerOut {
            id: r.id,
            kind: r.kind,
            points: r.points,
            balance_after: r.balance_after,
            order_id: r.order_id,
            reward_id: r.reward_id,
            reason: r.reason,
            created_at: ts(r.created_at),
            expires_at: r.expires_at.map(ts),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// 1 to 500; default 50.
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The member's ledger, newest first.
#[utoipa::path(tag = "loyalty", operation_id = "list_loyalty_ledger", security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    params(("id" = String, Path, description = "Profile id"), LedgerQuery),
    responses((status = 200, body = Page<LedgerOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/profiles/{id}/loyalty/ledger")]
pub async fn list_ledger(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    q: web::Query<LedgerQuery>,
) -> ApiResult<web::Json<Page<LedgerOut>>> {
    who.require(Scope::LoyaltyRead)?;
    let q = q.into_inner();
    let limit = page_limit(q.limit)?;
    let cursor = cursor_decode(q.cursor.as_deref(), time_id)?;
    Ok(web::Json(ledger_page(crate::blocking(&state, move |app| app.loyalty_ledger(&id, cursor, limit)).await?)))
}

/// A page of the ledger and the cursor to the next.
pub fn ledger_page((rows, next): cdp_app::store::Page<cdp_app::loyalty::LedgerRow>) -> Page<LedgerOut> {
    Page { items: rows.into_iter().map(LedgerOut::from).collect(), next_cursor: next.map(|(t, id)| cursor_encode(&format!("{t}|{id}"))) }
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"points": 200, "reward_id": null, "idempotency_key": "pos-q1-redeem-000042"}))]
pub struct RedeemIn {
    /// Points to spend; defaults to the reward's cost.
    pub points: Option<i64>,
    pub reward_id: Option<String>,
    /// The same key again answers the first redemption and spends nothing.
    pub idempotency_key: String,
}

/// Spends points, first the ones that expire first. Refused with 409 while the
/// balance does not cover them (`insufficient_points`) or the reward is out of
/// stock (`out_of_stock`).
#[utoipa::path(tag = "loyalty", operation_id = "create_redemption", request_body = RedeemIn,
    security(("api_key" = ["loyalty:write"]), ("bearer" = ["loyalty:write"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 201, body = LedgerOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/profiles/{id}/loyalty/redemptions")]
pub async fn redeem(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::LoyaltyWrite)?;
    let b: RedeemIn = json_body(&req, payload).await?;
    let row = crate::blocking(&state, move |app| app.redeem(&id, b.points, b.reward_id.as_deref(), &b.idempotency_key)).await?;
    Ok(HttpResponse::Created().json(LedgerOut::from(row)))
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"points": -100, "reason": "goodwill for a late delivery, case 4411"}))]
pub struct AdjustIn {
    /// Points to add (positive) or remove (negative).
    pub points: i64,
    pub reason: String,
}

/// Adds or removes points by hand (admin), with a reason; a removal never
/// takes the balance below zero (409 `insufficient_points`).
#[utoipa::path(tag = "loyalty", operation_id = "create_adjustment", request_body = AdjustIn, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    params(("id" = String, Path, description = "Profile id")),
    responses((status = 201, body = LedgerOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/profiles/{id}/loyalty/adjustments")]
pub async fn adjust(
    state: web::Data<AppState>,
    who: Auth,
    id: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let b: AdjustIn = json_body(&req, payload).await?;
    let row = crate::blocking(&state, move |app| app.adjust_points(&id, b.points, &b.reason)).await?;
    log::info!("{} adjusted loyalty points", who.actor());
    Ok(HttpResponse::Created().json(LedgerOut::from(row)))
}

#[derive(Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "01936f3e-1111-7000-8000-000000000001", "name": "Bình giữ nhiệt", "points_cost": 500, "stock": 100,
    "active_from": null, "active_to": "2026-12-31T23:59:59Z", "created_at": "2026-11-01T00:00:00Z"}))]
pub struct RewardOut {
    #[serde(default)]
    pub id: String,
    pub name: String,
    pub points_cost: i64,
    /// null: unlimited.
    pub stock: Option<i64>,
    pub active_from: Option<String>,
    pub active_to: Option<String>,
    #[serde(default)]
    pub created_at: String,
}

impl From<RewardRow> for RewardOut {
    fn from(r: RewardRow) -> Self {
        RewardOut {
            id: r.id,
            name: r.name,
            points_cost: r.points_cost,
            stock: r.stock,
            active_from: r.active_from.map(ts),
            active_to: r.active_to.map(ts),
            created_at: ts(r.created_at),
        }
    }
}

/// The rewards catalogue.
#[utoipa::path(tag = "loyalty", operation_id = "list_rewards", security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    responses((status = 200, body = List<RewardOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/loyalty/rewards")]
pub async fn list_rewards(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<List<RewardOut>>> {
    who.require(Scope::LoyaltyRead)?;
    let rows = crate::blocking(&state, |app| app.rewards()).await?;
    Ok(web::Json(List { items: rows.into_iter().map(RewardOut::from).collect() }))
}

/// Adds a reward (admin): name, points cost, stock, active window.
#[utoipa::path(tag = "loyalty", operation_id = "create_reward", request_body = RewardOut, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = RewardOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/loyalty/rewards")]
pub async fn create_reward(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let r: RewardOut = json_body(&req, payload).await?;
    let input =
        RewardInput { name: r.name, points_cost: r.points_cost, stock: r.stock, active_from: r.active_from, active_to: r.active_to };
    let row = crate::blocking(&state, move |app| app.create_reward(input)).await?;
    Ok(HttpResponse::Created().json(RewardOut::from(row)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpireQuery {
    /// Expire points lapsed by the end of this day and evaluate tiers on the window ending then (default: today).
    #[param(example = "2027-12-31")]
    pub as_of: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ExpireOut {
    pub as_of: String,
    pub members: usize,
    pub expired_points: i64,
    pub tier_changes: usize,
}

/// The expiry run (admin): expires points lapsed by `as_of` and re-evaluates
/// every member's tier on the window ending then (downgrades when the window
/// moves on), writing `Tier Changed` events.
#[utoipa::path(tag = "loyalty", operation_id = "run_loyalty_expiry", params(ExpireQuery), security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ExpireOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/loyalty/expire")]
pub async fn expire(state: web::Data<AppState>, who: Auth, q: web::Query<ExpireQuery>) -> ApiResult<web::Json<ExpireOut>> {
    who.require(Scope::Admin)?;
    let as_of = q.into_inner().as_of;
    let r = crate::blocking(&state, move |app| app.expire_points(as_of)).await?;
    Ok(web::Json(ExpireOut { as_of: r.as_of, members: r.members, expired_points: r.expired_points, tier_changes: r.tier_changes }))
}
