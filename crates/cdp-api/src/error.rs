//! The one error type at the HTTP edge: a stable snake_case code, a status,
//! a message for humans and, for validation, the fields at fault.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use cdp_app::{AppError, Refusal, StoreError};
use cdp_domain::FieldErrors;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Value>,
    /// Seconds to wait, sent as `Retry-After` (429).
    pub retry_after: Option<u64>,
}

/// `{"error": {"code", "message", "details"?}}`
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "validation_failed", "message": "identities.phone: is not a valid phone number",
    "details": {"fields": [{"field": "identities.phone", "code": "invalid_identity", "message": "is not a valid phone number"}]}}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, snake_case: unauthorized, forbidden, not_found, invalid_json,
    /// validation_failed, payload_too_large, conflict, rate_limited,
    /// service_unavailable, internal_error…
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), details: None, retry_after: None }
    }
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }
    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }
    /// 429 `rate_limited` with `Retry-After`.
    pub fn rate_limited(retry_after: u64) -> Self {
        ApiError {
            retry_after: Some(retry_after),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "too many requests for this key; retry later")
        }
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_json", message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large", format!("the body exceeds {limit} bytes"))
            .with_details(json!({ "limit_bytes": limit }))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal error; it has been logged")
    }
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "service_unavailable", "the database is unavailable; try again")
    }
    /// 422 for one field.
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldErrors::from(cdp_domain::FieldError::new(field, code, message)).into()
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code.to_string(), message: self.message.clone(), details: self.details.clone() } }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.message)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }
    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        if self.status == StatusCode::UNAUTHORIZED {
            res.insert_header(("WWW-Authenticate", "ApiKey, Bearer"));
        }
        if let Some(s) = self.retry_after {
            res.insert_header(("Retry-After", s.to_string()));
        }
        res.json(self.body())
    }
}

impl From<FieldErrors> for ApiError {
    fn from(e: FieldErrors) -> Self {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "validation_failed", e.summary()).with_details(json!({ "fields": e.0 }))
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(m) => ApiError::conflict(m),
            StoreError::Unavailable(m) => {
                log::error!("database unavailable: {m}");
                ApiError::unavailable()
            }
            StoreError::GaveUp(m) | StoreError::Contention(m) => {
                log::warn!("gave up on a contended write: {m}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "contention", "too many concurrent writers on the same profiles; retry")
            }
            other => {
                log::error!("store error: {other}");
                ApiError::internal()
            }
        }
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound(what) => ApiError::not_found(what),
            AppError::Invalid(fields) => fields.into(),
            AppError::Unauthorized(m) => ApiError::unauthorized(m),
            AppError::Forbidden(m) => ApiError::forbidden(m),
            AppError::Refused { refusal, message } => {
                let code = match refusal {
                    Refusal::Conflict => "conflict",
                    Refusal::IdentityErased => "identity_erased",
                    Refusal::InsufficientPoints { balance } => {
                        return ApiError::new(StatusCode::CONFLICT, "insufficient_points", message)
                            .with_details(json!({ "points_balance": balance }))
                    }
                    Refusal::InvalidTransition => "invalid_transition",
                    Refusal::OutOfStock => "out_of_stock",
                    Refusal::RewardInactive => "reward_inactive",
                };
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            AppError::RateLimited { retry_after } => ApiError::rate_limited(retry_after),
            AppError::Store(e) => e.into(),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(e: actix_web::error::BlockingError) -> Self {
        log::error!("blocking task failed: {e}");
        ApiError::internal()
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
