//! Prometheus metrics: requests by route and status, a latency histogram,
//! events ingested by outcome.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];

#[derive(Default)]
struct Series {
    count: u64,
    sum: f64,
    buckets: [u64; BUCKETS.len()],
}

#[derive(Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), Series>>,
    pub events_accepted: AtomicU64,
    pub events_duplicate: AtomicU64,
    pub events_rejected: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        let s = map.entry((method.to_string(), route.to_string(), status)).or_default();
        s.count += 1;
        s.sum += secs;
        for (i, b) in BUCKETS.iter().enumerate() {
            if secs <= *b {
                s.buckets[i] += 1;
            }
        }
    }

    pub fn count_events(&self, accepted: u64, duplicate: u64, rejected: u64) {
        self.events_accepted.fetch_add(accepted, Ordering::Relaxed);
        self.events_duplicate.fetch_add(duplicate, Ordering::Relaxed);
        self.events_rejected.fetch_add(rejected, Ordering::Relaxed);
    }

    /// The Prometheus text exposition format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP cdp_http_requests_total HTTP requests by route and status.\n# TYPE cdp_http_requests_total counter\n");
        for ((m, r, st), s) in map.iter() {
            let _ = writeln!(out, "cdp_http_requests_total{{method=\"{m}\",route=\"{r}\",status=\"{st}\"}} {}", s.count);
        }
        out.push_str("# HELP cdp_http_request_duration_seconds Request latency.\n# TYPE cdp_http_request_duration_seconds histogram\n");
        let mut by_route: BTreeMap<(&str, &str), Series> = BTreeMap::new();
        for ((m, r, _), s) in map.iter() {
            let agg = by_route.entry((m, r)).or_default();
            agg.count += s.count;
            agg.sum += s.sum;
            for i in 0..BUCKETS.len() {
                agg.buckets[i] += s.buckets[i];
            }
        }
        for ((m, r), s) in by_route {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ =
                    writeln!(out, "cdp_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"{b}\"}} {}", s.buckets[i]);
            }
            let _ = writeln!(out, "cdp_http_request_duration_seconds_bucket{{method=\"{m}\",route=\"{r}\",le=\"+Inf\"}} {}", s.count);
            let _ = writeln!(out, "cdp_http_request_duration_seconds_sum{{method=\"{m}\",route=\"{r}\"}} {}", s.sum);
            let _ = writeln!(out, "cdp_http_request_duration_seconds_count{{method=\"{m}\",route=\"{r}\"}} {}", s.count);
        }
        out.push_str("# HELP cdp_events_ingested_total Events received, by outcome.\n# TYPE cdp_events_ingested_total counter\n");
        for (status, v) in [("accepted", &self.events_accepted), ("duplicate", &self.events_duplicate), ("rejected", &self.events_rejected)]
        {
            let _ = writeln!(out, "cdp_events_ingested_total{{status=\"{status}\"}} {}", v.load(Ordering::Relaxed));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe("GET", "/health", 200, Duration::from_millis(3));
        m.observe("GET", "/health", 200, Duration::from_millis(30));
        m.count_events(5, 1, 0);
        let text = m.render();
        assert!(text.contains("cdp_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2"));
        assert!(text.contains("le=\"0.005\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("cdp_events_ingested_total{status=\"accepted\"} 5"));
    }
}
