//! Referrals: a person's stable code, and the people it brought.

use crate::auth::Auth;
use crate::dto::ts;
use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{get, post, web};
use cdp_app::referrals::Referrals;
use cdp_domain::auth::Scope;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"code": "K7QM-2XD9"}))]
pub struct ReferralCodeOut {
    /// 8 characters of Crockford base 32; new people send it as `context.referral_code`.
    pub code: String,
}

/// The person's referral code, the same every time (loyalty:write: made on first asking).
#[utoipa::path(tag = "programmes", operation_id = "create_referral_code", params(("id" = String, Path, description = "Profile id")),
    security(("api_key" = ["loyalty:write"]), ("bearer" = ["loyalty:write"])),
    responses((status = 200, body = ReferralCodeOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[post("/profiles/{id}/referral-code")]
pub async fn create_referral_code(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ReferralCodeOut>> {
    who.require(Scope::LoyaltyWrite)?;
    Ok(web::Json(ReferralCodeOut { code: crate::blocking(&state, move |app| app.referral_code(&id)).await? }))
}

#[derive(Serialize, ToSchema)]
pub struct ReferralOut {
    /// The referred person now (merges followed).
    pub profile_id: String,
    pub code: String,
    pub linked_at: String,
    /// pending (no order yet), rewarded, reversed (the first order was refunded in full: the points taken back), or self_referral (the two became one person).
    pub outcome: String,
    pub first_order_at: Option<String>,
    /// Points the referrer earned for it.
    pub points: Option<i64>,
    pub orders_count: i64,
    /// The referred person's revenue, in major units.
    pub revenue_total: f64,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"items": [{"profile_id": "01936f3e-8a40-7000-8000-000000000002", "code": "K7QM-2XD9",
    "linked_at": "2026-11-02T09:00:00Z", "outcome": "rewarded", "first_order_at": "2026-11-03T10:00:00Z", "points": 100,
    "orders_count": 2, "revenue_total": 1700000.0}], "referral_revenue": 1700000.0}))]
pub struct ReferralsOut {
    pub items: Vec<ReferralOut>,
    /// The revenue of everyone referred, in major units of the default currency.
    pub referral_revenue: f64,
}

impl ReferralsOut {
    pub fn from(r: Referrals, currency: &str) -> Self {
        ReferralsOut {
            referral_revenue: r.referral_revenue,
            items: r
                .items
                .into_iter()
                .map(|v| ReferralOut {
                    profile_id: v.referee,
                    code: v.code,
                    linked_at: ts(v.linked_at),
                    outcome: v.outcome,
                    first_order_at: v.first_order_at.map(ts),
                    points: v.points,
                    orders_count: v.orders_count,
                    revenue_total: cdp_domain::commerce::to_major(v.revenue_total, currency),
                })
                .collect(),
        }
    }
}

/// The people a person referred and the revenue they brought (loyalty:read).
#[utoipa::path(tag = "programmes", operation_id = "list_referrals", params(("id" = String, Path, description = "Profile id")),
    security(("api_key" = ["loyalty:read"]), ("bearer" = ["loyalty:read"])),
    responses((status = 200, body = ReferralsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[get("/profiles/{id}/referrals")]
pub async fn list_referrals(state: web::Data<AppState>, who: Auth, id: web::Path<String>) -> ApiResult<web::Json<ReferralsOut>> {
    who.require(Scope::LoyaltyRead)?;
    let currency = state.app.config().currency.clone();
    Ok(web::Json(ReferralsOut::from(crate::blocking(&state, move |app| app.referrals(&id)).await?, &currency)))
}
