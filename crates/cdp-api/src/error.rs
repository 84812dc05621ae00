//! The one error type at the HTTP edge: a stable snake_case code, a status,
//! a message for humans and, for validation, the fields at fault.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use cdp_app::{AppError, Refusal, StoreError};
use cdp_domain::FieldErrors;
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

/// Every code an error body can carry: stable, snake_case, documented.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the body is not JSON (or could not be read).
    InvalidJson,
    /// 401: missing or invalid credentials.
    Unauthorized,
    /// 403: valid credentials without the scope.
    Forbidden,
    /// 404: no such resource (or route).
    NotFound,
    /// 409: something of that name or key is already there.
    Conflict,
    /// 409: the identities belong to a person erased after the event happened.
    IdentityErased,
    /// 409: the points balance does not cover a redemption.
    InsufficientPoints,
    /// 409: a case may not move from its status to the one asked.
    InvalidTransition,
    /// 409: the reward has no stock left.
    OutOfStock,
    /// 409: the reward is outside its active window.
    RewardInactive,
    /// 409: the voucher was redeemed for another order.
    AlreadyRedeemed,
    /// 422: the voucher is outside its dates.
    VoucherExpired,
    /// 403: the voucher belongs to another person.
    NotOwner,
    /// 422 (400 on the tracking API): the event breaks its source's tracking plan, which blocks it; `details.path` names where.
    TrackingPlanViolation,
    /// 413 (400 on the tracking API): the body or a message is too large.
    PayloadTooLarge,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422 (400 on the tracking API): fields break a rule; `details.fields` names them.
    ValidationFailed,
    /// 400 on the tracking API: more messages than a batch may hold.
    TooMany,
    /// 429: over the key's rate; `Retry-After` says when to retry.
    RateLimited,
    /// 503: too many concurrent writers on the same profiles; retry.
    Contention,
    /// 503: the database is unavailable.
    ServiceUnavailable,
    /// 500: an internal error, logged with its detail.
    InternalError,
}

impl ErrorCode {
    /// Every code, in the order above.
    pub const ALL: [ErrorCode; 22] = [
        ErrorCode::InvalidJson,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::Conflict,
        ErrorCode::IdentityErased,
        ErrorCode::InsufficientPoints,
        ErrorCode::InvalidTransition,
        ErrorCode::OutOfStock,
        ErrorCode::RewardInactive,
        ErrorCode::AlreadyRedeemed,
        ErrorCode::VoucherExpired,
        ErrorCode::NotOwner,
        ErrorCode::TrackingPlanViolation,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::ValidationFailed,
        ErrorCode::TooMany,
        ErrorCode::RateLimited,
        ErrorCode::Contention,
        ErrorCode::ServiceUnavailable,
        ErrorCode::InternalError,
    ];

    /// The code as the body writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "invalid_json",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::Conflict => "conflict",
            ErrorCode::IdentityErased => "identity_erased",
            ErrorCode::InsufficientPoints => "insufficient_points",
            ErrorCode::InvalidTransition => "invalid_transition",
            ErrorCode::OutOfStock => "out_of_stock",
            ErrorCode::RewardInactive => "reward_inactive",
            ErrorCode::AlreadyRedeemed => "already_redeemed",
            ErrorCode::VoucherExpired => "voucher_expired",
            ErrorCode::NotOwner => "not_owner",
            ErrorCode::TrackingPlanViolation => "tracking_plan_violation",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::ValidationFailed => "validation_failed",
            ErrorCode::TooMany => "too_many",
            ErrorCode::RateLimited => "rate_limited",
            ErrorCode::Contention => "contention",
            ErrorCode::ServiceUnavailable => "service_unavailable",
            ErrorCode::InternalError => "internal_error",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
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
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
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
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, "too many requests for this key; retry later")
        }
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, format!("{what} not found"))
    }
    pub fn invalid_json(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, message)
    }
    pub fn too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, format!("the body exceeds {limit} bytes"))
            .with_details(json!({ "limit_bytes": limit }))
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }
    pub fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, ErrorCode::InternalError, "internal error; it has been logged")
    }
    pub fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, ErrorCode::ServiceUnavailable, "the database is unavailable; try again")
    }
    /// 422 for one field.
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        FieldErrors::from(cdp_domain::FieldError::new(field, code, message)).into()
    }
    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { code: self.code, message: self.message.clone(), details: self.details.clone() } }
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
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::ValidationFailed, e.summary()).with_details(json!({ "fields": e.0 }))
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
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::Contention,
                    "too many concurrent writers on the same profiles; retry",
                )
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
                    Refusal::Conflict => ErrorCode::Conflict,
                    Refusal::IdentityErased => ErrorCode::IdentityErased,
                    Refusal::InsufficientPoints { balance } => {
                        return ApiError::new(StatusCode::CONFLICT, ErrorCode::InsufficientPoints, message)
                            .with_details(json!({ "points_balance": balance }))
                    }
                    Refusal::InvalidTransition => ErrorCode::InvalidTransition,
                    Refusal::OutOfStock => ErrorCode::OutOfStock,
                    Refusal::RewardInactive => ErrorCode::RewardInactive,
                    Refusal::AlreadyRedeemed => ErrorCode::AlreadyRedeemed,
                    Refusal::VoucherExpired => return ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, ErrorCode::VoucherExpired, message),
                    Refusal::NotOwner => return ApiError::new(StatusCode::FORBIDDEN, ErrorCode::NotOwner, message),
                };
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            AppError::RateLimited { retry_after } => ApiError::rate_limited(retry_after),
            AppError::Store(e) => e.into(),
            AppError::Io(m) => {
                log::error!("reading input: {m}");
                ApiError::internal()
            }
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
