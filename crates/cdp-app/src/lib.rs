//! The use cases of the CDP, one module per capability. Each takes domain
//! inputs and the caller, opens and retries its own transactions through
//! `cdp-store`, applies the domain's rules, and answers domain or
//! application types or one [`AppError`]. The functions block (the store
//! does): callers on an async runtime run them on a blocking pool.
//! Ingestion alone is `async`: it waits for its group commit without a thread.

pub mod caller;
pub mod error;
pub mod ingest;
pub mod keys;
pub mod secrets;
pub mod sources;
pub mod users;

pub use caller::{Caller, Principal};
pub use error::{AppError, AppResult, Refusal};

use cdp_domain::identity::NormalizeOptions;
use cdp_store::Db;
use std::sync::Arc;

/// What the use cases need to know besides the data.
#[derive(Debug, Clone)]
pub struct Config {
    pub normalize: NormalizeOptions,
    /// ISO 4217 code of amounts that name none; orders in it count in aggregates.
    pub currency: String,
    /// Seconds a looked-up API key is trusted without asking the database
    /// again (0: ask every time).
    pub key_cache_seconds: u64,
}

/// The application: the database and the settings of the use cases. Cheap to clone.
#[derive(Clone)]
pub struct App {
    db: Db,
    config: Arc<Config>,
    keys: Arc<keys::KeyCache>,
}

impl App {
    pub fn new(db: Db, config: Config) -> App {
        let keys = Arc::new(keys::KeyCache::new(config.key_cache_seconds));
        App { db, config: Arc::new(config), keys }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database, for capabilities whose use cases are still written
    /// against it directly, and for tests that set data up.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.db.backend.as_str()
    }

    /// Whether the database answers.
    pub fn ready(&self) -> AppResult<()> {
        Ok(self.db.ping()?)
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    cdp_store::now_micros()
}
