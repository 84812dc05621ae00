//! Who is calling: an API key (`X-Api-Key`) or a JWT (`Authorization: Bearer`).
//! Missing or invalid credentials → 401; valid but lacking the scope → 403.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::dev::Payload;
use actix_web::{web, FromRequest, HttpRequest};
use cdp_app::Principal;
use cdp_domain::auth::Role;
use std::future::Future;
use std::pin::Pin;

/// The authenticated caller of a request (an extractor).
#[derive(Debug, Clone)]
pub struct Auth(pub Principal);

impl std::ops::Deref for Auth {
    type Target = Principal;
    fn deref(&self) -> &Principal {
        &self.0
    }
}

impl FromRequest for Auth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = req.headers().get("x-api-key").map(|v| v.to_str().map(str::to_string));
        let bearer = req.headers().get("authorization").map(|v| v.to_str().map(str::to_string));
        Box::pin(async move {
            let state = state.ok_or_else(ApiError::internal)?;
            let who = match (key, bearer) {
                (Some(Ok(key)), _) => authenticate_key(&state, key.trim().to_string()).await,
                (Some(Err(_)), _) => Err(ApiError::unauthorized("invalid API key")),
                (None, Some(Ok(h))) => match h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")) {
                    Some(token) => authenticate_jwt(&state, token.trim()).await,
                    None => Err(ApiError::unauthorized("Authorization must be `Bearer <token>`")),
                },
                (None, Some(Err(_))) => Err(ApiError::unauthorized("invalid Authorization header")),
                (None, None) => Err(ApiError::unauthorized("send an API key in X-Api-Key or a token in Authorization: Bearer")),
            };
            who.map(Auth)
        })
    }
}

/// The caller an API key names, within its rate.
pub async fn authenticate_key(state: &AppState, key: String) -> ApiResult<Principal> {
    // Keys seen recently are answered in place; others are looked up off the async worker.
    let who = match state.app.cached_key(&key) {
        Some(known) => known?,
        None => crate::blocking(state, move |app| app.authenticate_key(&key)).await?,
    };
    if let cdp_app::Caller::Key { id, .. } = &who.caller {
        state.rate.check(id).map_err(ApiError::rate_limited)?;
    }
    Ok(who)
}

/// The caller a JWT names: an operator whose account is still active, or a customer.
pub(crate) async fn authenticate_jwt(state: &AppState, token: &str) -> ApiResult<Principal> {
    let claims = state.jwt.verify(token).ok_or_else(|| ApiError::unauthorized("invalid or expired token"))?;
    match claims.kind.as_str() {
        "operator" => {
            let role: Role = claims.role.as_deref().unwrap_or("").parse().map_err(|_| ApiError::unauthorized("invalid token role"))?;
            crate::blocking(state, move |app| app.operator(&claims.sub, role)).await
        }
        "customer" => Ok(state.app.customer(&claims.sub)),
        _ => Err(ApiError::unauthorized("invalid token kind")),
    }
}
