//! The error a store answers, as the use cases see it.

/// Why the store did not do what it was asked.
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
    /// Any other failure of the database (logged, never shown to clients).
    #[error("database error: {0}")]
    Database(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether running the same transaction again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, StoreError::Contention(_))
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

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

/// How a transaction's work ended when it did not succeed, as the store
/// sees it: the store failed, or the work stopped with an error of its own
/// (which its caller keeps: the store only needs to know whether to retry).
#[derive(Debug)]
pub enum Abort {
    Store(StoreError),
    Work { retryable: bool, reason: String },
}

impl From<StoreError> for Abort {
    fn from(e: StoreError) -> Self {
        Abort::Store(e)
    }
}

impl Abort {
    /// Whether running the transaction again may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Abort::Store(e) => e.is_retryable(),
            Abort::Work { retryable, .. } => *retryable,
        }
    }

    /// For logs.
    pub fn describe(&self) -> String {
        match self {
            Abort::Store(e) => e.to_string(),
            Abort::Work { reason, .. } => reason.clone(),
        }
    }
}
