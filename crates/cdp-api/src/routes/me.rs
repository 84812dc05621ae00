//! Customer self-service: tokens issued to the app backend for a customer,
//! and `/me…`, which such a token reaches and nothing else. Every answer is
//! about the token's person (merges followed); once the person is erased
//! the token answers 401.

use crate::auth::Auth;
use crate::body::json_body;
use crate::dto::{cursor_decode, page_limit, time_id, ts, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::consent::{ConsentsOut, PreferencesOut};
use crate::routes::interaction::FeedbackOut;
use crate::routes::loyalty::{ledger_page, LedgerOut, LedgerQuery, LoyaltyOut};
use crate::routes::privacy::{ErasedOut, ExportOut};
use crate::routes::profiles::ProfileOut;
use crate::routes::referrals::ReferralCodeOut;
use crate::routes::token::TokenResponse;
use crate::routes::vouchers::{voucher_page, PageQuery, VoucherOut};
use crate::state::AppState;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use cdp_app::consent::ConsentInput;
use cdp_app::me::CustomerTarget;
use cdp_domain::auth::Scope;
use cdp_domain::consent::Preferences;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityIn {
    #[serde(rename = "type")]
    pub kind: String,
    pub value: String,
}

/// The customer, by an identity the app knows them by or by profile id.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"identity": {"type": "phone", "value": "0912 345 678"}}))]
pub struct CustomerTokenIn {
    pub identity: Option<IdentityIn>,
    pub profile_id: Option<String>,
}

/// Issues a token for a customer (profiles:write: the app backend's key,
/// after it has signed the customer in). Its `sub` is the profile id; it
/// reaches only `/api/v1/me…`.
#[utoipa::path(tag = "self-service", operation_id = "create_customer_token", request_body = CustomerTokenIn,
    security(("api_key" = ["profiles:write"]), ("bearer" = ["profiles:write"])),
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/customer-tokens")]
pub async fn create_customer_token(
    state: web::Data<AppState>,
    who: Auth,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<TokenResponse>> {
    who.require(Scope::ProfilesWrite)?;
    let b: CustomerTokenIn = json_body(&req, payload).await?;
    let target = match (b.identity, b.profile_id) {
        (Some(i), None) => CustomerTarget::Identity { kind: i.kind, value: i.value },
        (None, Some(p)) => CustomerTarget::ProfileId(p),
        _ => return Err(ApiError::field("identity", "invalid", "give either identity or profile_id")),
    };
    let sub = crate::blocking(&state, move |app| app.customer_token_subject(&target)).await?;
    let token = state.jwt.issue(&sub, "customer", None, chrono::Utc::now().timestamp())?;
    Ok(web::Json(TokenResponse { access_token: token, token_type: "Bearer".into(), expires_in: state.jwt.ttl("customer") }))
}

/// Runs a use case for the token's person; a person no longer there (erased) → 401.
async fn for_me<T: Send + 'static>(
    state: &web::Data<AppState>,
    who: &Auth,
    f: impl FnOnce(&cdp_app::App, &cdp_app::Principal, &str) -> cdp_app::AppResult<T> + Send + 'static,
) -> ApiResult<T> {
    let me = who.customer_profile()?.to_string();
    let who = who.0.clone();
    crate::blocking(state, move |app| {
        f(app, &who, &me).map_err(|e| match e {
            cdp_app::AppError::NotFound("profile") => cdp_app::AppError::Unauthorized("this customer's profile no longer exists".into()),
            e => e,
        })
    })
    .await
}

/// The customer's profile, as `GET /api/v1/profiles/{id}` answers it.
#[utoipa::path(tag = "self-service", operation_id = "get_me", security(("customer_token" = [])),
    responses((status = 200, body = ProfileOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/me")]
pub async fn get_me(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<ProfileOut>> {
    Ok(web::Json(for_me(&state, &who, |app, who, me| app.profile(who, me)).await?.into()))
}

/// The customer's points, tier and what the next tier needs.
#[utoipa::path(tag = "self-service", operation_id = "get_my_loyalty", security(("customer_token" = [])),
    responses((status = 200, body = LoyaltyOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/me/loyalty")]
pub async fn get_my_loyalty(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<LoyaltyOut>> {
    Ok(web::Json(for_me(&state, &who, |app, _, me| app.standing(me)).await?.into()))
}

/// The customer's points ledger, newest first.
#[utoipa::path(tag = "self-service", operation_id = "list_my_ledger", params(LedgerQuery), security(("customer_token" = [])),
    responses((status = 200, body = Page<LedgerOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/me/loyalty/ledger")]
pub async fn list_my_ledger(state: web::Data<AppState>, who: Auth, q: web::Query<LedgerQuery>) -> ApiResult<web::Json<Page<LedgerOut>>> {
    who.customer_profile()?;
    let limit = page_limit(q.limit)?;
    let cursor = cursor_decode(q.cursor.as_deref(), time_id)?;
    Ok(web::Json(ledger_page(for_me(&state, &who, move |app, _, me| app.loyalty_ledger(me, cursor, limit)).await?)))
}

/// The customer's vouchers, newest first.
#[utoipa::path(tag = "self-service", operation_id = "list_my_vouchers", params(PageQuery), security(("customer_token" = [])),
    responses((status = 200, body = Page<VoucherOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/me/vouchers")]
pub async fn list_my_vouchers(state: web::Data<AppState>, who: Auth, q: web::Query<PageQuery>) -> ApiResult<web::Json<Page<VoucherOut>>> {
    who.customer_profile()?;
    let limit = page_limit(q.limit)?;
    let before = cursor_decode(q.cursor.as_deref(), time_id)?;
    Ok(web::Json(voucher_page(for_me(&state, &who, move |app, _, me| app.profile_vouchers(me, before, limit)).await?)))
}

/// The customer's referral code to share, the same every time.
#[utoipa::path(tag = "self-service", operation_id = "create_my_referral_code", security(("customer_token" = [])),
    responses((status = 200, body = ReferralCodeOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[post("/me/referral-code")]
pub async fn create_my_referral_code(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<ReferralCodeOut>> {
    Ok(web::Json(ReferralCodeOut { code: for_me(&state, &who, |app, _, me| app.referral_code(me)).await? }))
}

/// One person the customer referred, as the customer may see it: nothing
/// about the other person beyond whether their referral counted.
#[derive(serde::Serialize, ToSchema)]
#[schema(example = json!({"linked_at": "2026-11-02T09:00:00Z", "outcome": "rewarded", "first_order_at": "2026-11-03T10:00:00Z", "points": 100}))]
pub struct MyReferralOut {
    pub linked_at: String,
    /// pending (no order yet), rewarded, reversed (the first order was refunded in full), or self_referral.
    pub outcome: String,
    pub first_order_at: Option<String>,
    /// Points earned for it.
    pub points: Option<i64>,
}

/// The people the customer referred: when, and what it earned them.
#[utoipa::path(tag = "self-service", operation_id = "list_my_referrals", security(("customer_token" = [])),
    responses((status = 200, body = Page<MyReferralOut>), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/me/referrals")]
pub async fn list_my_referrals(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<Page<MyReferralOut>>> {
    let r = for_me(&state, &who, |app, _, me| app.referrals(me)).await?;
    let items = r
        .items
        .into_iter()
        .map(|v| MyReferralOut {
            linked_at: ts(v.linked_at),
            outcome: v.outcome,
            first_order_at: v.first_order_at.map(ts),
            points: v.points,
        })
        .collect();
    Ok(web::Json(Page { items, next_cursor: None }))
}

/// The customer's consent in force on every channel and purpose, and its history.
#[utoipa::path(tag = "self-service", operation_id = "get_my_consents", security(("customer_token" = [])),
    responses((status = 200, body = ConsentsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/me/consents")]
pub async fn get_my_consents(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<ConsentsOut>> {
    Ok(web::Json(for_me(&state, &who, |app, _, me| app.consents(me)).await?.into()))
}

fn on_channel(mut c: ConsentsOut, channel: &str) -> ConsentsOut {
    c.items.retain(|i| i.channel == channel);
    c.history.retain(|h| h.channel == channel);
    c
}

/// The customer's consent on one channel (every purpose), and its history.
#[utoipa::path(tag = "self-service", operation_id = "get_my_consent", security(("customer_token" = [])),
    params(("channel" = String, Path, description = "email, sms, zalo, push, phone or facebook")),
    responses((status = 200, body = ConsentsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[get("/me/consents/{channel}")]
pub async fn get_my_consent(state: web::Data<AppState>, who: Auth, channel: web::Path<String>) -> ApiResult<web::Json<ConsentsOut>> {
    who.customer_profile()?;
    if !cdp_domain::consent::is_consent_channel(&channel) {
        return Err(ApiError::field("channel", "invalid", format!("must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", "))));
    }
    Ok(web::Json(on_channel(for_me(&state, &who, |app, _, me| app.consents(me)).await?.into(), &channel)))
}

/// The customer's own decision: recorded now, with the app as its source.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "denied", "purpose": "marketing", "policy_version": "2026-10"}))]
pub struct MyConsentIn {
    /// granted or denied
    pub status: String,
    /// marketing (the default), transactional, profiling or research.
    pub purpose: Option<String>,
    /// The version of the privacy policy the customer was shown.
    pub policy_version: Option<String>,
    /// Where in the app they decided (a screen, a form id…).
    pub evidence: Option<String>,
}

/// Records the customer's decision on a channel, as the customer
/// (`source` self-service, the actor the customer); answers that channel's consents.
#[utoipa::path(tag = "self-service", operation_id = "put_my_consent", request_body = MyConsentIn, security(("customer_token" = [])),
    params(("channel" = String, Path, description = "email, sms, zalo, push, phone or facebook")),
    responses((status = 200, body = ConsentsOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/me/consents/{channel}")]
pub async fn put_my_consent(
    state: web::Data<AppState>,
    who: Auth,
    channel: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<ConsentsOut>> {
    who.customer_profile()?;
    let b: MyConsentIn = json_body(&req, payload).await?;
    let channel = channel.into_inner();
    let input = ConsentInput {
        channel: channel.clone(),
        status: b.status,
        source: "self-service".into(),
        recorded_at: None,
        purpose: b.purpose,
        collected_by: Some("customer".into()),
        policy_version: b.policy_version,
        evidence: b.evidence,
    };
    let out = for_me(&state, &who, move |app, who, me| app.record_consent(who, me, input)).await?;
    Ok(web::Json(on_channel(out.into(), &channel)))
}

/// The customer's preferences and their history.
#[utoipa::path(tag = "self-service", operation_id = "get_my_preferences", security(("customer_token" = [])),
    responses((status = 200, body = PreferencesOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/me/preferences")]
pub async fn get_my_preferences(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<PreferencesOut>> {
    Ok(web::Json(for_me(&state, &who, |app, _, me| app.preferences(me)).await?.into()))
}

/// Replaces the customer's preferences (validated as the operator's are).
#[utoipa::path(tag = "self-service", operation_id = "put_my_preferences", request_body = crate::routes::consent::PreferencesDoc,
    security(("customer_token" = [])),
    responses((status = 200, body = PreferencesOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[put("/me/preferences")]
pub async fn put_my_preferences(
    state: web::Data<AppState>,
    who: Auth,
    req: HttpRequest,
    payload: web::Payload,
) -> ApiResult<web::Json<PreferencesOut>> {
    who.customer_profile()?;
    let prefs: Preferences = json_body(&req, payload).await?;
    Ok(web::Json(for_me(&state, &who, move |app, who, me| app.save_preferences(who, me, prefs)).await?.into()))
}

/// The customer's own feedback: an answer to a survey or free text.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"kind": "csat", "score": 4, "text": "Sữa ngon, giao hơi chậm", "channel": "app", "order_id": "APP-000812"}))]
pub struct MyFeedbackIn {
    /// nps (score 0–10), csat (score 1–5) or text.
    pub kind: String,
    pub score: Option<Value>,
    pub text: Option<String>,
    /// Default app.
    pub channel: Option<String>,
    pub category: Option<String>,
    pub survey_id: Option<String>,
    pub order_id: Option<String>,
    /// Makes a retry safe: the same message_id answers the first response.
    pub message_id: Option<String>,
}

/// Records the customer's feedback (sentiment scored, on their timeline).
#[utoipa::path(tag = "self-service", operation_id = "create_my_feedback", request_body = MyFeedbackIn, security(("customer_token" = [])),
    responses((status = 201, body = FeedbackOut), (status = 200, description = "A retry (same message_id): the first answer", body = FeedbackOut),
              (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
#[post("/me/feedback")]
pub async fn create_my_feedback(state: web::Data<AppState>, who: Auth, req: HttpRequest, payload: web::Payload) -> ApiResult<HttpResponse> {
    who.customer_profile()?;
    let b: MyFeedbackIn = json_body(&req, payload).await?;
    let (row, created) = for_me(&state, &who, move |app, who, me| {
        let input = cdp_app::interaction::FeedbackInput {
            kind: b.kind,
            score: b.score,
            text: b.text,
            category: b.category,
            channel: b.channel.unwrap_or_else(|| "app".into()),
            identities: None,
            profile_id: Some(me.to_string()),
            survey_id: b.survey_id,
            order_id: b.order_id,
            case_id: None,
            occurred_at: None,
            message_id: b.message_id,
        };
        app.create_feedback(who, input)
    })
    .await?;
    Ok(if created { HttpResponse::Created() } else { HttpResponse::Ok() }.json(FeedbackOut::from(row)))
}

/// Everything held about the customer, as the operator's export (audited).
#[utoipa::path(tag = "self-service", operation_id = "export_me", security(("customer_token" = [])),
    responses((status = 200, body = ExportOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[get("/me/export")]
pub async fn export_me(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<ExportOut>> {
    Ok(web::Json(for_me(&state, &who, |app, who, me| app.export_profile(who, me)).await?.into()))
}

/// Erases the customer, as the operator's erasure (audited); the token
/// answers 401 afterwards.
#[utoipa::path(tag = "self-service", operation_id = "erase_me", security(("customer_token" = [])),
    responses((status = 200, body = ErasedOut), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[delete("/me")]
pub async fn erase_me(state: web::Data<AppState>, who: Auth) -> ApiResult<web::Json<ErasedOut>> {
    let (pid, at, erased) = for_me(&state, &who, |app, who, me| app.erase_profile(who, me)).await?;
    Ok(web::Json(ErasedOut { profile_id: pid, erased_at: ts(at), erased }))
}
