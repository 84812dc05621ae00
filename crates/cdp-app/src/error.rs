//! The one error of the use cases.

use crate::store::{StoreError, TxError};
use cdp_domain::{FieldError, FieldErrors};

/// Why a use case did not do what it was asked.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The named thing does not exist (or is not the caller's to see).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The input breaks a rule; each field at fault is named.
    #[error("{}", .0.summary())]
    Invalid(FieldErrors),
    /// No valid credentials.
    #[error("{0}")]
    Unauthorized(String),
    /// Valid credentials without the right to do this.
    #[error("{0}")]
    Forbidden(String),
    /// The state of the data refuses the request.
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
    /// The caller sent more than its rate allows; retry after so many seconds.
    #[error("rate limited")]
    RateLimited { retry_after: u64 },
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file or stream given to a use case could not be read.
    #[error("{0}")]
    Io(String),
}

/// What refused a request that was well-formed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Something of that name or key is already there.
    Conflict,
    /// The identities belong to a person erased after the event happened.
    IdentityErased,
    /// Not enough points for a redemption: the balance there is.
    InsufficientPoints { balance: i64 },
    /// A case may not move from its status to the one asked.
    InvalidTransition,
    /// The reward has no stock left.
    OutOfStock,
    /// The reward is outside its active window.
    RewardInactive,
    /// The voucher was redeemed for another order.
    AlreadyRedeemed,
    /// The voucher is outside its dates.
    VoucherExpired,
    /// The voucher belongs to another person.
    NotOwner,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    /// 422 for one field.
    pub fn field(field: &str, code: &'static str, message: impl Into<String>) -> AppError {
        AppError::Invalid(FieldErrors::from(FieldError::new(field, code, message)))
    }

    pub fn refused(refusal: Refusal, message: impl Into<String>) -> AppError {
        AppError::Refused { refusal, message: message.into() }
    }

    /// A store error, with a missing row answered as `what` not found.
    pub fn or_missing(what: &'static str) -> impl Fn(StoreError) -> AppError {
        move |e| match e {
            StoreError::NotFound => AppError::NotFound(what),
            e => AppError::Store(e),
        }
    }

    /// What was sent belongs to a person erased after it happened.
    pub fn identity_erased(what: &str) -> AppError {
        AppError::refused(Refusal::IdentityErased, format!("{what} belongs to a person erased after this happened; it is not stored"))
    }
}

impl From<FieldErrors> for AppError {
    fn from(e: FieldErrors) -> Self {
        AppError::Invalid(e)
    }
}

impl TxError for AppError {
    fn retryable(&self) -> bool {
        matches!(self, AppError::Store(e) if e.is_retryable())
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}
