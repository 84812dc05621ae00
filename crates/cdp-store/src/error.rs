use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A uniqueness rule refused the write (a name already taken…).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or gave no connection in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A concurrent writer changed what this transaction read; run it again.
    #[error("transaction must be retried: {0}")]
    Retry(String),
    #[error("database error: {0}")]
    Database(DieselError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            StoreError::Retry(_) => true,
            StoreError::Database(DieselError::DatabaseError(kind, info)) => {
                let msg = info.message();
                matches!(kind, DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure)
                    || msg.contains("deadlock detected")
                    || msg.contains("database is locked")
                    || msg.contains("database table is locked")
            }
            _ => false,
        }
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            other => StoreError::Database(other),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
