//! The `cdp` process: settings, the server, the operator commands.

use actix_web::{web, HttpServer};
use cdp_api::jwt::JwtConfig;
use cdp_api::{AppState, Limits};
use cdp_domain::identity::NormalizeOptions;
use cdp_store::{Backend, Db, DbOptions, DbUrl, SqlStore};
use std::net::TcpListener;
use std::time::Duration;

pub mod cli;
mod http;
mod import;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The JWT secret shipped in `.env.example`; tolerated only on SQLite.
pub const DEFAULT_JWT_SECRET: &str = "insecure-development-secret-change-me";

/// Every setting of the process. Read once from the environment (and `.env`)
/// by [`Settings::from_env`], then passed explicitly.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind: String,
    pub jwt_secret: Option<String>,
    pub jwt_ttl_seconds: i64,
    /// Customer (self-service) tokens' lifetime.
    pub customer_token_ttl_seconds: i64,
    pub default_region: String,
    pub default_currency: String,
    pub db_pool_size: Option<u32>,
    pub workers: Option<usize>,
    pub limits: Limits,
    pub delivery: cdp_app::activation::deliver::DeliveryConfig,
    /// How often the scheduler looks for due jobs.
    pub scheduler_tick: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            database_url: "cdp.sqlite3".into(),
            bind: "127.0.0.1:8080".into(),
            jwt_secret: None,
            jwt_ttl_seconds: 900,
            customer_token_ttl_seconds: 3600,
            default_region: "VN".into(),
            default_currency: "VND".into(),
            db_pool_size: None,
            workers: None,
            limits: Limits::default(),
            delivery: Default::default(),
            scheduler_tick: Duration::from_secs(10),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn env_parse<T: std::str::FromStr>(name: &str) -> Result<Option<T>, BoxError> {
    match env(name) {
        None => Ok(None),
        Some(v) => v.trim().parse().map(Some).map_err(|_| format!("{name}: cannot parse `{v}`").into()),
    }
}

impl Settings {
    pub fn from_env() -> Result<Settings, BoxError> {
        let d = Settings::default();
        let limits = Limits {
            event_body_bytes: env_parse("CDP_MAX_EVENT_BYTES")?.unwrap_or(d.limits.event_body_bytes),
            batch_body_bytes: env_parse("CDP_MAX_BATCH_BYTES")?.unwrap_or(d.limits.batch_body_bytes),
            batch_events: env_parse("CDP_MAX_BATCH_EVENTS")?.unwrap_or(d.limits.batch_events),
            rate_per_key: env_parse("CDP_RATE_LIMIT_PER_KEY")?.unwrap_or(d.limits.rate_per_key),
            rate_burst: env_parse("CDP_RATE_LIMIT_BURST")?.unwrap_or(d.limits.rate_burst),
            key_cache_seconds: env_parse("CDP_KEY_CACHE_SECONDS")?.unwrap_or(d.limits.key_cache_seconds),
            import_body_bytes: env_parse("CDP_MAX_IMPORT_BYTES")?.unwrap_or(d.limits.import_body_bytes),
        };
        let dd = &d.delivery;
        let ms = |name: &str, default: Duration| -> Result<Duration, BoxError> {
            Ok(env_parse::<u64>(name)?.map(Duration::from_millis).unwrap_or(default))
        };
        let delivery = cdp_app::activation::deliver::DeliveryConfig {
            timeout: ms("CDP_DELIVERY_TIMEOUT_MS", dd.timeout)?,
            retry: cdp_domain::webhook::RetryPolicy {
                base_ms: env_parse("CDP_DELIVERY_RETRY_BASE_MS")?.unwrap_or(dd.retry.base_ms),
                max_attempts: env_parse("CDP_DELIVERY_MAX_ATTEMPTS")?.unwrap_or(dd.retry.max_attempts),
            },
            poll: ms("CDP_DELIVERY_POLL_MS", dd.poll)?,
            concurrency: env_parse("CDP_DELIVERY_CONCURRENCY")?.unwrap_or(dd.concurrency),
            busy_pause: ms("CDP_DELIVERY_BUSY_PAUSE_MS", dd.busy_pause)?,
        };
        if delivery.retry.max_attempts == 0 || delivery.concurrency == 0 || delivery.timeout.is_zero() {
            return Err("CDP_DELIVERY_MAX_ATTEMPTS, CDP_DELIVERY_CONCURRENCY and CDP_DELIVERY_TIMEOUT_MS must be above 0".into());
        }
        Ok(Settings {
            delivery,
            scheduler_tick: ms("CDP_SCHEDULER_TICK_MS", d.scheduler_tick)?,
            database_url: env("DATABASE_URL").unwrap_or(d.database_url),
            bind: env("CDP_BIND").unwrap_or(d.bind),
            jwt_secret: env("CDP_JWT_SECRET"),
            jwt_ttl_seconds: env_parse("CDP_JWT_TTL_SECONDS")?.unwrap_or(d.jwt_ttl_seconds),
            customer_token_ttl_seconds: env_parse("CDP_CUSTOMER_TOKEN_TTL_SECONDS")?.unwrap_or(d.customer_token_ttl_seconds),
            default_region: env("CDP_DEFAULT_REGION").unwrap_or(d.default_region),
            default_currency: env("CDP_DEFAULT_CURRENCY").unwrap_or(d.default_currency),
            db_pool_size: env_parse("CDP_DB_POOL_SIZE")?,
            workers: env_parse("CDP_WORKERS")?,
            limits,
        })
    }

    pub fn backend(&self) -> Backend {
        DbUrl::parse(&self.database_url).backend()
    }

    /// The JWT secret to use, or why the process must not start.
    pub fn resolve_jwt_secret(&self) -> Result<Vec<u8>, BoxError> {
        let given = self.jwt_secret.as_deref().filter(|s| *s != DEFAULT_JWT_SECRET);
        match (given, self.backend()) {
            (Some(s), _) if s.len() >= 32 => Ok(s.as_bytes().to_vec()),
            (Some(_), _) => Err("CDP_JWT_SECRET must be at least 32 characters".into()),
            (None, Backend::Sqlite) => {
                log::warn!(
                    "CDP_JWT_SECRET is not set: using the insecure development default. This is allowed only on the \
                     embedded SQLite database; set CDP_JWT_SECRET (32+ random characters) for anything real."
                );
                Ok(DEFAULT_JWT_SECRET.as_bytes().to_vec())
            }
            (None, Backend::Postgres) => Err("refusing to start: CDP_JWT_SECRET is unset or the insecure default; \
                 set it to 32+ random characters (the default is tolerated only on the embedded SQLite database)"
                .into()),
        }
    }

    pub fn open_db(&self) -> Result<Db, BoxError> {
        let db = self.connect_db()?;
        db.migrate()?;
        Ok(db)
    }

    /// The application over `database_url` (migrated), as the server runs it.
    pub fn app(&self) -> Result<cdp_app::App, BoxError> {
        self.app_over(self.open_db()?)
    }

    /// The application over an open database.
    pub fn app_over(&self, db: Db) -> Result<cdp_app::App, BoxError> {
        let config = cdp_app::Config {
            normalize: NormalizeOptions::with_region(&self.default_region)?,
            currency: self.currency()?,
            key_cache_seconds: self.limits.key_cache_seconds,
            delivery: self.delivery.clone(),
        };
        Ok(cdp_app::App::new(std::sync::Arc::new(SqlStore::new(db)), config))
    }

    /// `default_currency` checked and in capitals.
    fn currency(&self) -> Result<String, BoxError> {
        let currency = self.default_currency.trim().to_ascii_uppercase();
        if currency.len() != 3 || !currency.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(format!("CDP_DEFAULT_CURRENCY must be an ISO 4217 code such as VND, not `{}`", self.default_currency).into());
        }
        Ok(currency)
    }

    /// The pool over `database_url`, its schema untouched.
    pub fn connect_db(&self) -> Result<Db, BoxError> {
        let size = self.db_pool_size.unwrap_or(match self.backend() {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        let opts = DbOptions { max_connections: size, connect_timeout: Duration::from_secs(10) };
        Ok(Db::connect(&self.database_url, &opts)?)
    }
}

fn listener_addr(bind: &str, port: u16) -> String {
    match bind.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => format!("{bind}:{port}"),
    }
}

/// A bound, ready server.
pub struct Application {
    server: actix_web::dev::Server,
    port: u16,
    pub state: web::Data<AppState>,
    /// The database under the application, for tests and benchmarks that
    /// set data up or look at it directly.
    pub db: Db,
    /// Delivery workers and the scheduler: they stop when the application is dropped.
    _workers: cdp_app::activation::workers::Workers,
    _scheduler: cdp_app::activation::schedule::Scheduler,
}

impl Application {
    /// Opens and migrates the database, binds the address (port 0 picks a free
    /// one). Must be called inside an actix (tokio) runtime.
    pub fn build(settings: &Settings) -> Result<Application, BoxError> {
        let secret = settings.resolve_jwt_secret()?;
        let db = settings.open_db()?;
        let app = settings.app_over(db.clone())?;
        log::info!("database: {} ({})", DbUrl::parse(&settings.database_url).redacted(), app.backend());
        let jwt = JwtConfig { secret, ttl_seconds: settings.jwt_ttl_seconds, customer_ttl_seconds: settings.customer_token_ttl_seconds };
        let workers = cdp_app::activation::workers::Workers::start(app.clone(), std::sync::Arc::new(http::Http::new()));
        let scheduler = cdp_app::activation::schedule::Scheduler::start(app.clone(), settings.scheduler_tick);
        let state = web::Data::new(AppState::new(app, jwt, settings.limits.clone()));
        let listener = TcpListener::bind(&settings.bind).map_err(|e| format!("cannot bind {}: {e}", settings.bind))?;
        let port = listener.local_addr()?.port();
        let data = state.clone();
        let mut server = HttpServer::new(move || cdp_api::build_app(data.clone())).listen(listener)?.shutdown_timeout(10).backlog(2048);
        if let Some(w) = settings.workers {
            server = server.workers(w);
        }
        log::info!("listening on http://{}", listener_addr(&settings.bind, port));
        Ok(Application { server: server.run(), port, state, db, _workers: workers, _scheduler: scheduler })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then finishes in-flight requests (≤ 10 s).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str, secret: Option<&str>) -> Settings {
        Settings { database_url: url.into(), jwt_secret: secret.map(str::to_string), ..Settings::default() }
    }

    #[test]
    fn the_default_jwt_secret_is_tolerated_only_on_sqlite() {
        assert!(settings("cdp.sqlite3", None).resolve_jwt_secret().is_ok());
        assert!(settings("sqlite:///tmp/x.db", Some(DEFAULT_JWT_SECRET)).resolve_jwt_secret().is_ok());
        assert!(settings("postgres://u@h/db", None).resolve_jwt_secret().is_err());
        assert!(settings("postgres://u@h/db", Some(DEFAULT_JWT_SECRET)).resolve_jwt_secret().is_err());
        assert!(settings("postgres://u@h/db", Some("short")).resolve_jwt_secret().is_err());
        let s = "0123456789abcdef0123456789abcdef";
        assert_eq!(settings("postgres://u@h/db", Some(s)).resolve_jwt_secret().unwrap(), s.as_bytes());
    }

    #[test]
    fn defaults_match_the_contract() {
        let d = Settings::default();
        assert_eq!((d.database_url.as_str(), d.bind.as_str(), d.default_region.as_str()), ("cdp.sqlite3", "127.0.0.1:8080", "VN"));
        assert_eq!(d.limits.batch_events, 1000);
    }
}
