//! The use cases of the CDP, one module per capability. Each takes domain
//! inputs and the caller, opens and retries its own transactions through
//! the store's ports (`store`), applies the domain's rules, and answers domain or
//! application types or one [`AppError`]. The functions block (the store
//! does): callers on an async runtime run them on a blocking pool.
//! Ingestion alone is `async`: it waits for its group commit without a thread.

pub mod activation;
pub mod caller;
pub mod campaigns;
pub mod consent;
pub mod demo;
pub mod error;
pub mod identity;
pub mod imports;
pub mod ingest;
pub mod interaction;
pub mod keys;
pub mod loyalty;
pub mod me;
pub mod memory;
pub mod privacy;
pub mod profiles;
pub mod referrals;
pub mod secrets;
pub mod segments;
pub mod sources;
pub mod store;
pub mod tracking_plans;
pub mod users;
pub mod value;
pub mod vouchers;

pub use crate::store::StoreError;
pub use caller::{Caller, Principal};
pub use error::{AppError, AppResult, Refusal};

use cdp_domain::identity::NormalizeOptions;
use std::sync::Arc;
use store::Db;

/// What the use cases need to know besides the data.
#[derive(Debug, Clone)]
pub struct Config {
    pub normalize: NormalizeOptions,
    /// ISO 4217 code of amounts that name none; orders in it count in aggregates.
    pub currency: String,
    /// Seconds a looked-up API key is trusted without asking the database
    /// again (0: ask every time).
    pub key_cache_seconds: u64,
    pub delivery: activation::deliver::DeliveryConfig,
}

/// The application: the database and the settings of the use cases. A
/// clone is one reference count (the API clones it for every use case it runs).
#[derive(Clone)]
pub struct App(Arc<Parts>);

/// What an `App` holds; its use cases reach the parts as `self.db`….
pub struct Parts {
    db: Db,
    config: Config,
    keys: keys::KeyCache,
    /// Destinations created, changed or deleted in this process: the delivery supervisor wakes.
    pub destinations_changed: store::Signal,
    plans: tracking_plans::PlanCache,
}

impl std::ops::Deref for App {
    type Target = Parts;
    fn deref(&self) -> &Parts {
        &self.0
    }
}

impl App {
    /// The use cases over a store (`cdp-store` implements one).
    pub fn new(store: Arc<dyn store::Store>, config: Config) -> App {
        let keys = keys::KeyCache::new(config.key_cache_seconds);
        App(Arc::new(Parts { db: Db::new(store), config, keys, destinations_changed: Default::default(), plans: Default::default() }))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        self.db.backend()
    }

    /// Whether the database answers.
    pub fn ready(&self) -> AppResult<()> {
        Ok(self.db.ping()?)
    }
}

/// A stored time (UTC microseconds) as the wire writes it: RFC 3339 with `Z`.
pub fn rfc3339(us: i64) -> String {
    crate::store::from_micros(us).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    crate::store::now_micros()
}
