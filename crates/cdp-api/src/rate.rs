//! Rate limiting per API key (write keys included): a token bucket per key
//! in this process, refilled continuously. Over the limit → 429 with
//! `Retry-After`. Each process limits on its own, so N processes behind a
//! balancer admit up to N × the rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    /// Requests per second per key; 0 disables the limiter.
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: f64) -> RateLimiter {
        RateLimiter { per_second, burst: burst.max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or answers how many whole seconds until one is there.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = buckets.entry(key.to_string()).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let r = RateLimiter::new(10.0, 3.0);
        let t0 = Instant::now();
        assert!((0..3).all(|_| r.check_at("k", t0).is_ok()));
        assert_eq!(r.check_at("k", t0), Err(1));
        assert!(r.check_at("other", t0).is_ok(), "keys are limited apart");
        assert!(r.check_at("k", t0 + Duration::from_millis(100)).is_ok(), "one token back after 1/rate");
        assert!(RateLimiter::new(0.0, 0.0).check_at("k", t0).is_ok(), "0 disables it");
    }
}
