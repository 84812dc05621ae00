//! The loyalty programme: configuration, members' points and tiers, the
//! ledger, redemptions, rewards and the expiry run.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, ts, List, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::analytics::parse_day;
use crate::state::AppState;
use actix_web::http::StatusCode;
use actix_web::{get, post, put, web, HttpRequest, HttpResponse};
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use cdp_domain::loyalty::Program;
use cdp_store::repo::loyalty::{self as ledger, LedgerRow, Refusal, RewardRow};
use cdp_store::repo::profiles;
use cdp_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Why the ledger refused, as a 409 (or 404 for an unknown reward).
fn refusal(r: Refusal) -> ApiError {
    match r {
        Refusal::InsufficientPoints { balance } => {
            ApiError::new(StatusCode::CONFLICT, "insufficient_points", "the balance does not cover these points")
                .with_details(serde_json::json!({ "points_balance": balance }))
        }
        Refusal::OutOfStock => ApiError::new(StatusCode::CONFLICT, "out_of_stock", "the reward is out of stock"),
        Refusal::RewardInactive => ApiError::new(StatusCode::CONFLICT, "reward_inactive", "the reward is not active now"),
        Refusal::NoSuchReward => ApiError::not_found("reward"),
    }
}

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
    let db = state.db.clone();
    Ok(web::Json(web::block(move || db.read(ledger::program)).await??))
}

/// Replaces the programme's configuration (admin), validated: tiers ordered
/// by min_spend, the first at 0, multipliers above 0.
#[utoipa::path(tag = "loyalty", operation_id = "put_loyalty_program", request_body = ProgramDoc, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 200, body = ProgramDoc), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/loyalty/program")]
pub async fn put_program(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<web::Json<Program>> {
    who.require(Scope::Admin)?;
    let mut program: Program = json_body(&req, payload).await?;
    program.currency = program.currency.trim().to_ascii_uppercase();
    program.validate()?;
    let db = state.db.clone();
    let saved =
        web::block(move || db.write(|c| ledger::save_program(c, &program, cdp_store::now_micros()).map(|_| program.clone()))).await??;
    Ok(web::Json(saved))
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
    let db = state.db.clone();
    let out = web::block(move || {
        db.read(|c| {
            let p = profiles::resolve(c, &id)?;
            let program = ledger::program(c)?;
            let (balance, tier) = ledger::account(c, &p.id)?.unwrap_or((0, program.tiers[0].code.clone()));
            let balance = balance - ledger::lapsed(c, &p.id, cdp_store::now_micros())?;
            let spend = ledger::window_spend(c, &p.id, &program, cdp_store::now_micros())?;
            let t = program.tiers.iter().find(|t| t.code == tier).unwrap_or(&program.tiers[0]);
            let rank = program.tiers.iter().position(|x| x.code == t.code).unwrap_or(0);
            let next = program.tiers.get(rank + 1).map(|n| NextTier {
                code: n.code.clone(),
                name: n.name.clone(),
                min_spend: n.min_spend,
                spend_needed: to_major((program.min_spend_minor(n) - spend).max(0), &program.currency),
            });
            Ok(LoyaltyOut {
                points_balance: balance,
                tier: TierRef { code: t.code.clone(), name: t.name.clone() },
                spend_in_window: to_major(spend, &program.currency),
                next_tier: next,
            })
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    Ok(web::Json(out))
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
    let db = state.db.clone();
    let (rows, next) = web::block(move || {
        db.read(|c| {
            let p = profiles::resolve(c, &id)?;
            ledger::ledger(c, &p.id, cursor, limit)
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    let next_cursor = next.map(|(t, id)| cursor_encode(&format!("{t}|{id}")));
    Ok(web::Json(Page { items: rows.into_iter().map(LedgerOut::from).collect(), next_cursor }))
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
    let body: RedeemIn = json_body(&req, payload).await?;
    let key = body.idempotency_key.trim().to_string();
    if key.is_empty() || key.len() > 100 {
        return Err(ApiError::field("idempotency_key", "invalid", "must be 1 to 100 characters"));
    }
    if body.points.is_some_and(|p| p <= 0) {
        return Err(ApiError::field("points", "invalid", "must be greater than 0"));
    }
    if body.points.is_none() && body.reward_id.is_none() {
        return Err(ApiError::field("points", "required", "points or reward_id is required"));
    }
    let db = state.db.clone();
    let id = id.into_inner();
    let outcome = web::block(move || {
        db.write(|c| {
            let p = profiles::resolve(c, &id)?;
            let points = match (body.points, &body.reward_id) {
                (Some(n), _) => n,
                (None, Some(r)) => {
                    ledger::rewards(c)?.into_iter().find(|x| &x.id == r).map(|x| x.points_cost).ok_or(StoreError::NotFound)?
                }
                (None, None) => 0,
            };
            ledger::redeem(c, &p.id, points, body.reward_id.as_deref(), &key, cdp_store::now_micros())
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile or reward"))?;
    let (row, _) = outcome.map_err(refusal)?;
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
    let body: AdjustIn = json_body(&req, payload).await?;
    let reason = body.reason.trim().to_string();
    if reason.is_empty() || reason.chars().count() > 500 {
        return Err(ApiError::field("reason", "invalid", "must be 1 to 500 characters"));
    }
    if body.points == 0 || body.points.unsigned_abs() > 1_000_000_000 {
        return Err(ApiError::field("points", "invalid", "must be non-zero and at most 1e9 in size"));
    }
    let db = state.db.clone();
    let id = id.into_inner();
    let outcome = web::block(move || {
        db.write(|c| {
            let p = profiles::resolve(c, &id)?;
            ledger::adjust(c, &p.id, body.points, &reason, cdp_store::now_micros())
        })
    })
    .await?
    .map_err(ApiError::or_missing("profile"))?;
    log::info!("{} adjusted loyalty points", who.actor());
    let row = outcome.map_err(refusal)?;
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
    let db = state.db.clone();
    let rows = web::block(move || db.read(ledger::rewards)).await??;
    Ok(web::Json(List { items: rows.into_iter().map(RewardOut::from).collect() }))
}

/// Adds a reward (admin): name, points cost, stock, active window.
#[utoipa::path(tag = "loyalty", operation_id = "create_reward", request_body = RewardOut, security(("api_key" = ["admin"]), ("bearer" = ["admin"])),
    responses((status = 201, body = RewardOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/loyalty/rewards")]
pub async fn create_reward(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.require(Scope::Admin)?;
    let r: RewardOut = json_body(&req, payload).await?;
    let name = r.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("name", "invalid", "must be 1 to 200 characters"));
    }
    if r.points_cost <= 0 {
        return Err(ApiError::field("points_cost", "invalid", "must be greater than 0"));
    }
    if r.stock.is_some_and(|s| s < 0) {
        return Err(ApiError::field("stock", "invalid", "must be 0 or more"));
    }
    let time = |v: &Option<String>, field: &str| match v {
        None => Ok(None),
        Some(s) => cdp_domain::event::parse_time(s)
            .map(|t| Some(t.timestamp_micros()))
            .ok_or_else(|| ApiError::field(field, "invalid", "must be an RFC 3339 time")),
    };
    let row = RewardRow {
        id: cdp_store::new_id(),
        name,
        points_cost: r.points_cost,
        stock: r.stock,
        active_from: time(&r.active_from, "active_from")?,
        active_to: time(&r.active_to, "active_to")?,
        created_at: cdp_store::now_micros(),
    };
    let db = state.db.clone();
    let saved = row.clone();
    web::block(move || db.write(|c| ledger::add_reward(c, &row))).await??;
    Ok(HttpResponse::Created().json(RewardOut::from(saved)))
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
    let as_of = q.into_inner().as_of.unwrap_or_else(|| chrono::Utc::now().date_naive().to_string());
    let day = parse_day(&as_of).ok_or_else(|| ApiError::field("as_of", "invalid", "must be a date such as 2027-12-31"))?;
    let end = (day + 1) * 86_400_000_000 - 1;
    let db = state.db.clone();
    let (members, points, changes) = web::block(move || {
        db.write(|c| {
            let now = cdp_store::now_micros();
            let (m, p) = ledger::expire(c, end, now)?;
            let changes = ledger::evaluate_tiers(c, end, now)?;
            Ok::<_, StoreError>((m, p, changes))
        })
    })
    .await??;
    Ok(web::Json(ExpireOut { as_of, members, expired_points: points, tier_changes: changes }))
}
