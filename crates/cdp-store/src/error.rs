use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    /// A rule of the data refused the write (a name already taken…).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database cannot be reached or gave no connection in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A concurrent writer got in the way — a unique-key race, a
    /// serialization failure, a deadlock, SQLite busy, or rows that moved
    /// under this transaction: running it again may succeed.
    #[error("contention: {0}")]
    Contention(String),
    /// Contention outlasted every retry.
    #[error("gave up retrying: {0}")]
    GaveUp(String),
    #[error("database error: {0}")]
    Database(DieselError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Contention(_))
    }
}

/// The error a transaction's work may answer: a store error, or one of the
/// caller's own that store errors convert into. Only store contention is
/// retried; anything else ends the transaction and is answered as it is.
pub trait TxError: From<StoreError> {
    /// Whether running the transaction again may succeed.
    fn retryable(&self) -> bool;
    /// For logs.
    fn describe(&self) -> String;
}

impl TxError for StoreError {
    fn retryable(&self) -> bool {
        self.is_retryable()
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(kind, info) => match kind {
                // SQLSTATE 23505 / SQLITE_CONSTRAINT_UNIQUE and 40001, as diesel reports them.
                DatabaseErrorKind::UniqueViolation | DatabaseErrorKind::SerializationFailure => {
                    StoreError::Contention(info.message().to_string())
                }
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand => {
                    StoreError::Unavailable(info.message().to_string())
                }
                // diesel reports PostgreSQL's deadlock_detected (40P01) and
                // SQLite's SQLITE_BUSY / SQLITE_LOCKED as `Unknown` with no
                // code; the engines' messages for those codes are fixed.
                DatabaseErrorKind::Unknown if is_busy_or_deadlock(info.message()) => StoreError::Contention(info.message().to_string()),
                kind => StoreError::Database(DieselError::DatabaseError(kind, info)),
            },
            other => StoreError::Database(other),
        }
    }
}

/// SQLite's text for SQLITE_BUSY and SQLITE_LOCKED, PostgreSQL's for 40P01.
fn is_busy_or_deadlock(message: &str) -> bool {
    message.starts_with("database is locked") || message.starts_with("database table is locked") || message.contains("deadlock detected")
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

/// The application's view of a store error: the same variants, the
/// driver's error as its text.
impl From<StoreError> for cdp_app::store::StoreError {
    fn from(e: StoreError) -> Self {
        use cdp_app::store::StoreError as App;
        match e {
            StoreError::NotFound => App::NotFound,
            StoreError::Conflict(m) => App::Conflict(m),
            StoreError::Unavailable(m) => App::Unavailable(m),
            StoreError::Contention(m) => App::Contention(m),
            StoreError::GaveUp(m) => App::GaveUp(m),
            StoreError::Database(e) => App::Database(e.to_string()),
            StoreError::Corrupt(m) => App::Corrupt(m),
        }
    }
}

impl From<cdp_app::store::StoreError> for StoreError {
    fn from(e: cdp_app::store::StoreError) -> Self {
        use cdp_app::store::StoreError as App;
        match e {
            App::NotFound => StoreError::NotFound,
            App::Conflict(m) => StoreError::Conflict(m),
            App::Unavailable(m) => StoreError::Unavailable(m),
            App::Contention(m) => StoreError::Contention(m),
            App::GaveUp(m) => StoreError::GaveUp(m),
            App::Database(m) => StoreError::Database(DieselError::QueryBuilderError(m.into())),
            App::Corrupt(m) => StoreError::Corrupt(m),
        }
    }
}

/// Application code may run on a connection of this crate's (tests and
/// benchmarks set data up so).
impl TxError for cdp_app::store::StoreError {
    fn retryable(&self) -> bool {
        self.is_retryable()
    }
    fn describe(&self) -> String {
        self.to_string()
    }
}

/// A use case's transaction ends with an `Abort` when it fails; the store
/// retries it as it would its own work.
impl TxError for cdp_app::store::Abort {
    fn retryable(&self) -> bool {
        cdp_app::store::Abort::retryable(self)
    }
    fn describe(&self) -> String {
        cdp_app::store::Abort::describe(self)
    }
}

impl From<StoreError> for cdp_app::store::Abort {
    fn from(e: StoreError) -> Self {
        cdp_app::store::Abort::Store(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db_error(kind: DatabaseErrorKind, message: &str) -> StoreError {
        DieselError::DatabaseError(kind, Box::new(message.to_string())).into()
    }

    #[test]
    fn contention_is_decided_when_the_error_is_converted() {
        assert!(db_error(DatabaseErrorKind::UniqueViolation, "duplicate key").is_retryable());
        assert!(db_error(DatabaseErrorKind::SerializationFailure, "could not serialize").is_retryable());
        assert!(db_error(DatabaseErrorKind::Unknown, "deadlock detected").is_retryable());
        assert!(db_error(DatabaseErrorKind::Unknown, "database is locked").is_retryable());
        assert!(!db_error(DatabaseErrorKind::Unknown, "syntax error at or near").is_retryable());
        assert!(!db_error(DatabaseErrorKind::CheckViolation, "violates check constraint").is_retryable());
        assert!(matches!(db_error(DatabaseErrorKind::ClosedConnection, "server closed"), StoreError::Unavailable(_)));
        assert!(matches!(StoreError::from(DieselError::NotFound), StoreError::NotFound));
    }
}
