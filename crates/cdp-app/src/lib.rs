//! The use cases of the CDP, one module per capability. Each takes domain
//! inputs and the caller, opens and retries its own transactions through
//! `cdp-store`, applies the domain's rules, and answers domain or
//! application types or one [`AppError`]. The functions block (the store
//! does): callers on an async runtime run them on a blocking pool.
//! Ingestion alone is `async`: it waits for its group commit without a thread.

pub mod caller;
pub mod consent;
pub mod error;
pub mod ingest;
pub mod interaction;
pub mod keys;
pub mod loyalty;
pub mod memory;
pub mod privacy;
pub mod profiles;
pub mod secrets;
pub mod segments;
pub mod sources;
pub mod users;
pub mod value;

pub use caller::{Caller, Principal};
pub use cdp_store::StoreError;
pub use error::{AppError, AppResult, Refusal};

use cdp_domain::identity::NormalizeOptions;
use cdp_store::group::Ingestor;
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

/// The application: the database and the settings of the use cases. A
/// clone is one reference count (the API clones it for every use case it runs).
#[derive(Clone)]
pub struct App(Arc<Parts>);

/// What an `App` holds; its use cases reach the parts as `self.db`….
pub struct Parts {
    db: Db,
    ingestor: Ingestor,
    config: Config,
    keys: keys::KeyCache,
}

impl std::ops::Deref for App {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl App {
    pub fn new(db: Db, config: Config) -> App {
        let keys = keys::KeyCache::new(config.key_cache_seconds);
        let ingestor = Ingestor::new(db.clone());
        App(Arc::new(Parts { db, ingestor, config, keys }))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The database, for tests and benchmarks that set data up directly.
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

/// A stored time (UTC microseconds) as the wire writes it: RFC 3339 with `Z`.
pub fn rfc3339(us: i64) -> String {
    cdp_store::from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    cdp_store::now_micros()
}
