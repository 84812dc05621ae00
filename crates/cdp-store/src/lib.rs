//! Durability for the CDP: one diesel code base over SQLite and PostgreSQL.

pub mod conn;
pub mod error;
pub mod group;
pub mod repo;
pub mod schema;

pub use conn::{AnyConnection, Backend, Db, DbOptions, DbUrl};
pub use error::{StoreError, StoreResult};

/// A new time-ordered id (UUIDv7, text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Microseconds since the Unix epoch, the unit of every stored time.
pub fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn now_micros() -> i64 {
    micros(chrono::Utc::now())
}
