use crate::jwt::JwtConfig;
use crate::metrics::Metrics;
use crate::rate::RateLimiter;
use cdp_app::App;
use std::sync::Arc;

/// Limits on what a request may carry.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest body of a single-event request.
    pub event_body_bytes: usize,
    /// Largest body of a batch request.
    pub batch_body_bytes: usize,
    /// Most events in one batch.
    pub batch_events: usize,
    /// Requests per second per API key (0: no limit), and the burst allowed.
    pub rate_per_key: f64,
    pub rate_burst: f64,
    /// Seconds a looked-up API key is trusted without asking the database
    /// again (0: ask every time). A key revoked through another process keeps
    /// working here for at most this long; revoked through this one, at once.
    pub key_cache_seconds: u64,
    /// Largest CSV file an import may upload.
    pub import_body_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            event_body_bytes: 64 * 1024,
            batch_body_bytes: 1024 * 1024,
            batch_events: 1000,
            rate_per_key: 2000.0,
            rate_burst: 4000.0,
            key_cache_seconds: 5,
            import_body_bytes: 1 << 30,
        }
    }
}

/// Everything a handler needs, passed explicitly when the app is built.
#[derive(Clone)]
pub struct AppState {
    pub app: App,
    pub jwt: JwtConfig,
    pub limits: Limits,
    pub metrics: Arc<Metrics>,
    pub rate: Arc<RateLimiter>,
}

impl AppState {
    pub fn new(app: App, jwt: JwtConfig, limits: Limits) -> AppState {
        let rate = Arc::new(RateLimiter::new(limits.rate_per_key, limits.rate_burst));
        AppState { app, jwt, limits, metrics: Arc::new(Metrics::default()), rate }
    }
}
