use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::secrets;
use crate::state::AppState;
use actix_web::{post, web};
use cdp_store::repo::users;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"username": "lan.tran", "password": "correct horse battery staple"}))]
pub struct TokenRequest {
    pub username: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"access_token": "eyJhbGciOiJIUzI1NiJ9…", "token_type": "Bearer", "expires_in": 900}))]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
}

/// Exchanges an operator's username and password for a short-lived JWT.
#[utoipa::path(
    tag = "auth", operation_id = "create_token", request_body = TokenRequest,
    responses((status = 200, body = TokenResponse), (status = 401, body = ErrorBody), (status = 422, body = ErrorBody))
)]
#[post("/auth/token")]
pub async fn create_token(state: web::Data<AppState>, body: web::Json<TokenRequest>) -> ApiResult<web::Json<TokenResponse>> {
    let TokenRequest { username, password } = body.into_inner();
    if username.is_empty() || username.len() > 100 || password.len() > 1024 {
        return Err(ApiError::unauthorized("invalid username or password"));
    }
    let db = state.db.clone();
    let user = web::block(move || {
        let user = db.read(|c| users::find_active_by_username(c, &username))?;
        // Verify against a dummy hash when the user is unknown: same cost, no enumeration.
        let phc = user.as_ref().map(|u| u.password_hash.as_str()).unwrap_or(secrets::dummy_hash());
        let ok = secrets::verify_password(&password, phc);
        Ok::<_, cdp_store::StoreError>(user.filter(|_| ok))
    })
    .await??;
    let user = user.ok_or_else(|| ApiError::unauthorized("invalid username or password"))?;
    let token = state.jwt.issue(&user.id, "operator", Some(&user.role), chrono::Utc::now().timestamp())?;
    Ok(web::Json(TokenResponse { access_token: token, token_type: "Bearer".into(), expires_in: state.jwt.ttl_seconds }))
}
