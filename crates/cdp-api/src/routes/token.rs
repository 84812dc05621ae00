use crate::error::{ApiResult, ErrorBody};
use crate::state::AppState;
use actix_web::{post, web};
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
    let user = crate::blocking(&state, move |app| app.login(&username, &password)).await?;
    let token = state.jwt.issue(&user.id, "operator", Some(&user.role), chrono::Utc::now().timestamp())?;
    Ok(web::Json(TokenResponse { access_token: token, token_type: "Bearer".into(), expires_in: state.jwt.ttl_seconds }))
}
