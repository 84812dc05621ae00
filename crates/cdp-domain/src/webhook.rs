//! Outbound webhooks: what a destination may subscribe to, its secret, the
//! Standard Webhooks signature (<https://www.standardwebhooks.com>) and the
//! retry schedule.

use crate::error::{FieldError, FieldErrors};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The facts a destination can subscribe to.
pub const EVENT_TYPES: [&str; 12] = [
    "profile.created",
    "profile.merged",
    "order.completed",
    "order.refunded",
    "loyalty.tier_changed",
    "segment.entered",
    "segment.exited",
    "feedback.negative",
    "case.opened",
    "case.resolved",
    "voucher.issued",
    "campaign.assigned",
];

pub fn is_event_type(s: &str) -> bool {
    EVENT_TYPES.contains(&s)
}

/// Delivery states.
pub const STATUSES: [&str; 4] = ["pending", "delivered", "failed", "suppressed"];

/// Prefix of a destination's secret as shown to the operator.
pub const SECRET_PREFIX: &str = "whsec_";

/// The secret as shown once: `whsec_` and the base64 of its bytes.
pub fn format_secret(key: &[u8]) -> String {
    format!("{SECRET_PREFIX}{}", B64.encode(key))
}

/// The key bytes of a secret written as `format_secret` writes it.
pub fn parse_secret(secret: &str) -> Option<Vec<u8>> {
    B64.decode(secret.strip_prefix(SECRET_PREFIX)?).ok().filter(|k| !k.is_empty())
}

/// `webhook-signature`: `v1,` and the base64 HMAC-SHA256 of
/// `{id}.{timestamp}.{body}` keyed by the secret's bytes.
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// When failed attempts are tried again, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub base_ms: u64,
    pub max_attempts: u32,
}

/// The longest wait between two attempts.
pub const MAX_RETRY_DELAY_MS: u64 = 3_600_000;

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { base_ms: 5000, max_attempts: 15 }
    }
}

impl RetryPolicy {
    /// The wait after failed attempt number `attempt` (1 = the first):
    /// base × 2^(attempt−1), moved by `jitter` (−1…1) × 20%, at most an hour.
    pub fn delay_ms(&self, attempt: u32, jitter: f64) -> u64 {
        let exp = attempt.saturating_sub(1).min(40);
        let plain = self.base_ms.saturating_mul(1u64 << exp).min(MAX_RETRY_DELAY_MS) as f64;
        let moved = plain * (1.0 + 0.2 * jitter.clamp(-1.0, 1.0));
        (moved.round() as u64).min(MAX_RETRY_DELAY_MS)
    }

    /// Whether a delivery that has failed `attempts` times is given up.
    pub fn exhausted(&self, attempts: u32) -> bool {
        attempts >= self.max_attempts
    }
}

/// The longest a failing destination rests between probes.
pub const MAX_REST_MS: u64 = 60_000;

/// A destination's circuit breaker: once `threshold` attempts in a row have
/// failed (a refused connection, a timeout, a non-2xx answer), the
/// destination rests — nothing more is attempted, its deliveries stay
/// pending — for the retry schedule's wait (capped at `MAX_REST_MS`), longer
/// after each rest that ends in failures again; a success closes it. A dead
/// endpoint then costs one round of attempts per rest instead of one per
/// delivery.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Breaker {
    failures: u32,
    rests: u32,
}

impl Breaker {
    /// Notes an answer; when the destination must rest now, answers for how
    /// many milliseconds (`jitter` in −1..1, as `RetryPolicy::delay_ms`).
    pub fn answered(&mut self, ok: bool, threshold: u32, retry: &RetryPolicy, jitter: f64) -> Option<u64> {
        if ok {
            *self = Breaker::default();
            return None;
        }
        self.failures += 1;
        if self.failures < threshold.max(1) {
            return None;
        }
        self.failures = 0;
        self.rests = self.rests.saturating_add(1);
        Some(retry.delay_ms(self.rests, jitter).min(MAX_REST_MS))
    }

    /// Whether the last rest has not been followed by a success yet: after
    /// it, one round of attempts probes the destination.
    pub fn probing(&self) -> bool {
        self.rests > 0
    }
}

/// The channel and purpose a destination requires consent for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentNeed {
    pub channel: String,
    pub purpose: String,
}

/// A destination's settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestinationSpec {
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub segment_ids: Vec<String>,
    pub consent: Option<ConsentNeed>,
    pub enabled: bool,
}

impl DestinationSpec {
    /// Checks every field; each problem names its field (`events[2]`…).
    pub fn check(self) -> Result<DestinationSpec, FieldErrors> {
        let mut errors = Vec::new();
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "invalid", "must be 1 to 200 characters"));
        }
        let url = self.url.trim().to_string();
        if !valid_url(&url) {
            errors.push(FieldError::new("url", "invalid", "must be an absolute http:// or https:// URL with a host"));
        }
        if self.events.is_empty() {
            errors.push(FieldError::new("events", "required", "subscribe to at least one event type"));
        }
        for (i, e) in self.events.iter().enumerate() {
            if !is_event_type(e) {
                errors.push(FieldError::new(format!("events[{i}]"), "invalid", format!("must be one of {}", EVENT_TYPES.join(", "))));
            }
        }
        for (i, s) in self.segment_ids.iter().enumerate() {
            if s.trim().is_empty() {
                errors.push(FieldError::new(format!("segment_ids[{i}]"), "invalid", "must be a segment id"));
            }
        }
        if let Some(c) = &self.consent {
            if !crate::consent::is_consent_channel(&c.channel) {
                errors.push(FieldError::new(
                    "consent.channel",
                    "invalid",
                    format!("must be one of {}", crate::consent::CONSENT_CHANNELS.join(", ")),
                ));
            }
            if !crate::consent::is_purpose(&c.purpose) {
                errors.push(FieldError::new(
                    "consent.purpose",
                    "invalid",
                    format!("must be one of {}", crate::consent::PURPOSES.join(", ")),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(FieldErrors(errors));
        }
        let mut events = self.events;
        events.sort_unstable();
        events.dedup();
        let mut segment_ids = self.segment_ids;
        segment_ids.sort_unstable();
        segment_ids.dedup();
        Ok(DestinationSpec { name, url, events, segment_ids, consent: self.consent, enabled: self.enabled })
    }
}

fn valid_url(url: &str) -> bool {
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    !host.is_empty() && !host.starts_with(':') && url.len() <= 2000 && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_breaker_opens_after_a_run_of_failures_rests_longer_each_time_and_a_success_closes_it() {
        use super::{Breaker, RetryPolicy, MAX_REST_MS};
        let retry = RetryPolicy { base_ms: 1000, max_attempts: 15 };
        let mut b = Breaker::default();
        assert_eq!((0..3).filter_map(|_| b.answered(false, 4, &retry, 0.0)).count(), 0, "three failures: no rest");
        assert_eq!(b.answered(false, 4, &retry, 0.0), Some(1000));
        assert!(b.probing());
        // The probe round fails too: a longer rest, and so on up to the cap.
        let rests: Vec<u64> = (0..40).filter_map(|_| b.answered(false, 4, &retry, 0.0)).collect();
        assert_eq!(&rests[..3], &[2000, 4000, 8000]);
        assert_eq!(*rests.last().unwrap(), MAX_REST_MS);
        // Failures interleaved with a success never open it.
        assert_eq!(b.answered(true, 4, &retry, 0.0), None);
        assert!(!b.probing());
        for i in 0..100 {
            assert_eq!(b.answered(i % 3 == 0, 4, &retry, 0.0), None);
        }
    }

    use super::*;
    use proptest::prelude::*;

    #[test]
    fn signs_as_the_standard_webhooks_reference_does() {
        // The example of the Standard Webhooks specification's reference libraries.
        let key = parse_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn secrets_round_trip_and_refuse_other_forms() {
        let key = [7u8; 24];
        assert_eq!(parse_secret(&format_secret(&key)).unwrap(), key);
        assert!(parse_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
        assert!(parse_secret("whsec_").is_none());
        assert!(parse_secret("whsec_!!").is_none());
    }

    #[test]
    fn the_schedule_doubles_from_the_base_and_stops_at_an_hour() {
        let p = RetryPolicy::default();
        assert_eq!([1, 2, 3, 4].map(|a| p.delay_ms(a, 0.0)), [5000, 10000, 20000, 40000]);
        assert_eq!(p.delay_ms(15, 0.0), MAX_RETRY_DELAY_MS);
        assert_eq!(p.delay_ms(1, 1.0), 6000);
        assert_eq!(p.delay_ms(1, -1.0), 4000);
        assert!(!p.exhausted(14) && p.exhausted(15));
    }

    proptest! {
        #[test]
        fn delays_stay_within_twenty_percent_and_an_hour(base in 1u64..100_000, attempt in 1u32..60, jitter in -1.0f64..1.0) {
            let p = RetryPolicy { base_ms: base, max_attempts: 15 };
            let plain = p.delay_ms(attempt, 0.0) as f64;
            let d = p.delay_ms(attempt, jitter) as f64;
            prop_assert!(d <= MAX_RETRY_DELAY_MS as f64);
            prop_assert!(d >= plain * 0.8 - 1.0 && d <= plain * 1.2 + 1.0);
            prop_assert!(p.delay_ms(attempt + 1, 0.0) >= p.delay_ms(attempt, 0.0));
        }
    }

    fn spec() -> DestinationSpec {
        DestinationSpec {
            name: "Zalo OA".into(),
            url: "https://hooks.example.vn/cdp".into(),
            events: vec!["order.completed".into(), "order.completed".into()],
            segment_ids: vec![],
            consent: Some(ConsentNeed { channel: "zalo".into(), purpose: "marketing".into() }),
            enabled: true,
        }
    }

    #[test]
    fn destination_fields_are_checked_by_name() {
        assert_eq!(spec().check().unwrap().events, ["order.completed"]);
        let bad = DestinationSpec {
            url: "ftp://x".into(),
            events: vec!["order.completed".into(), "order.shipped".into()],
            consent: Some(ConsentNeed { channel: "pigeon".into(), purpose: "fun".into() }),
            ..spec()
        };
        let fields: Vec<String> = bad.check().unwrap_err().0.into_iter().map(|e| e.field).collect();
        assert_eq!(fields, ["url", "events[1]", "consent.channel", "consent.purpose"]);
        for url in ["http://127.0.0.1:9/x", "https://a.vn", "http://user@host:80/p?q#f"] {
            assert!(valid_url(url), "{url}");
        }
        for url in ["http://", "https:///x", "http://:80/x", "http://a b", "localhost:80"] {
            assert!(!valid_url(url), "{url}");
        }
    }
}
