//! Durability for the CDP: one diesel code base over SQLite and PostgreSQL.

mod advisory;
pub mod cached;
pub mod conn;
pub mod error;
pub mod group;
pub mod in_list;
mod later;
mod macros;
mod pcache;
mod port;
pub mod repo;
pub mod schema;
mod sqlite_lib;
pub mod writer;

pub use conn::{AnyConnection, Backend, Db, DbOptions, DbUrl};
pub use error::{StoreError, StoreResult, TxError};
pub use port::SqlStore;

/// Ids and times of stored rows are the application's (its records carry them).
pub use cdp_app::store::{from_micros, hex, micros, new_id, now_micros};
