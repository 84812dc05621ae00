//! One round of delivery for one destination: lease its due deliveries,
//! hold back those about people without the consent it requires
//! (`suppressed`), write the body of the others, sign them; then record
//! what each attempt answered, with the next attempt's time.

use crate::store::{Attempted, ConsentStore, DeliveryRow, OutboxStore, StoreError, Subject};
use crate::{App, AppResult};
use cdp_domain::webhook::{self, RetryPolicy};
use serde_json::{json, Value};
use std::time::Duration;

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    /// An attempt with no answer within this is a failure.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// How often idle workers look for due deliveries (written by other
    /// processes, or due for a retry); commits of this process wake them at once.
    pub poll: Duration,
    /// Requests in flight per destination.
    pub concurrency: usize,
    /// Ingestion first: while ingestion's writes take most of the time (a
    /// burst, an import), a destination's worker takes its turn at the
    /// database (record attempts, lease more) at most this often, and catches
    /// up once the burst is over. Zero: no pause.
    pub busy_pause: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            timeout: Duration::from_millis(10_000),
            retry: RetryPolicy::default(),
            poll: Duration::from_millis(1000),
            concurrency: 4,
            busy_pause: Duration::from_millis(250),
        }
    }
}

impl DeliveryConfig {
    /// How long a lease lasts: a leased delivery waits for at most
    /// `QUEUED` attempts ahead of it on each sender (see `workers`) and then is
    /// attempted, each bounded by the timeout; after that a delivery whose
    /// process died is due again.
    pub fn lease(&self) -> Duration {
        self.timeout * (QUEUED as u32 + 1) + Duration::from_secs(5)
    }
}

/// How many rounds of requests a destination's queue holds (see `DeliveryConfig::lease`).
pub const QUEUED: usize = 8;

/// A request to make.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub id: String,
    pub url: String,
    /// The Standard Webhooks headers, signed now.
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
    pub lease_until: i64,
    /// Attempts made before this one.
    pub attempts: i32,
}

/// What an attempt came to: the status code answered, or why there was none.
pub type Answer = Result<u16, String>;

impl App {
    /// Whether `destination` has deliveries due now (a read).
    pub fn deliveries_due(&self, destination: &str) -> AppResult<bool> {
        let now = crate::now_micros();
        Ok(self.db.read_statement(|c| OutboxStore::has_due(c, destination, now))?)
    }

    /// Records what `done` attempts answered and leases up to `limit` of
    /// `destination`'s due deliveries, in one transaction; answers the
    /// requests to make. Deliveries about people without the consent the
    /// destination requires are recorded `suppressed` and not sent. Nothing
    /// is leased when the destination is gone or disabled.
    pub fn exchange_deliveries(&self, destination: &str, done: &[(Outgoing, Answer)], limit: usize) -> AppResult<Vec<Outgoing>> {
        let cfg = &self.config.delivery;
        let now = crate::now_micros();
        let lease_until = now + cfg.lease().as_micros() as i64;
        let attempted = self.attempted(done, now);
        let claimed = self.db.write(|c| {
            OutboxStore::commit_lazily(c)?;
            OutboxStore::record_attempts(c, &attempted)?;
            let dest = match OutboxStore::destination(c, destination) {
                Ok(d) if d.enabled && limit > 0 => d,
                Ok(_) | Err(StoreError::NotFound) => return Ok((None, Vec::new())),
                Err(e) => return Err(e),
            };
            let rows = OutboxStore::claim(c, destination, now, lease_until, limit as i64)?;
            Ok((Some(dest), rows))
        })?;
        let (Some(dest), rows) = claimed else { return Ok(Vec::new()) };
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let key = webhook::parse_secret(&dest.secret).ok_or_else(|| StoreError::Corrupt("a destination's secret is malformed".into()))?;
        let need = dest.consent_channel.clone().zip(dest.consent_purpose.clone());
        // Who each delivery is about now (merges followed), and whether they may receive it.
        let prepared = self.db.read(|c| {
            let ids: Vec<String> = rows.iter().map(|r| r.profile_id.clone()).collect();
            let subjects = OutboxStore::subjects(c, &ids)?;
            let granted = match &need {
                Some((channel, purpose)) => {
                    let mut live: Vec<String> = subjects.values().map(|s| s.profile_id.clone()).collect();
                    live.sort_unstable();
                    live.dedup();
                    Some(ConsentStore::granted_among(c, &live, channel, purpose)?)
                }
                None => None,
            };
            let out: Vec<_> = rows
                .iter()
                .map(|row| {
                    let allowed = match (subjects.get(&row.profile_id), &granted) {
                        (None, _) => Err("the profile no longer exists (erased)"),
                        (Some(s), Some(g)) if !g.contains(&s.profile_id) => Err("no consent for the destination's channel and purpose"),
                        (Some(s), _) => Ok(s),
                    };
                    (row.clone(), allowed.map(|s| body_of(row, s)))
                })
                .collect();
            Ok::<_, StoreError>(out)
        })?;
        let mut suppressed = Vec::new();
        let mut outgoing = Vec::new();
        let timestamp = now / 1_000_000;
        for (row, body) in prepared {
            match body {
                Err(why) => suppressed.push(Attempted {
                    id: row.id.clone(),
                    lease_until,
                    status: "suppressed".into(),
                    attempts: row.attempts,
                    next_attempt_at: now,
                    last_status_code: None,
                    last_error: Some(why.into()),
                    body: row.body.clone(),
                    delivered_at: None,
                }),
                Ok(fresh) => {
                    // The body is fixed at the first attempt: a retry sends the same bytes.
                    let body = row.body.clone().unwrap_or(fresh);
                    let signature = webhook::sign(&key, &row.id, timestamp, body.as_bytes());
                    outgoing.push(Outgoing {
                        headers: vec![
                            ("webhook-id", row.id.clone()),
                            ("webhook-timestamp", timestamp.to_string()),
                            ("webhook-signature", signature),
                            ("content-type", "application/json".into()),
                        ],
                        id: row.id,
                        url: dest.url.clone(),
                        body,
                        lease_until,
                        attempts: row.attempts,
                    });
                }
            }
        }
        if !suppressed.is_empty() {
            self.db.write(|c| {
                OutboxStore::commit_lazily(c)?;
                OutboxStore::record_attempts(c, &suppressed)
            })?;
        }
        Ok(outgoing)
    }

    /// Gives back the leases of deliveries a stopping worker had queued and
    /// not attempted: they are due again at once, for whichever worker runs
    /// the destination next.
    pub fn release_deliveries(&self, unsent: &[Outgoing]) -> AppResult<usize> {
        let now = crate::now_micros();
        let leases: Vec<(String, i64)> = unsent.iter().map(|o| (o.id.clone(), o.lease_until)).collect();
        Ok(self.db.write(|c| {
            OutboxStore::commit_lazily(c)?;
            OutboxStore::release(c, &leases, now)
        })?)
    }

    /// What the attempts answered, to record: 2xx delivered; anything else
    /// is tried again after the retry schedule's wait, or `failed` after the last attempt.
    fn attempted(&self, done: &[(Outgoing, Answer)], now: i64) -> Vec<Attempted> {
        let retry = self.config.delivery.retry;
        done.iter()
            .map(|(o, answer)| {
                let attempts = o.attempts + 1;
                let (code, error) = match answer {
                    Ok(code) if (200..300).contains(code) => (Some(*code), None),
                    Ok(code) => (Some(*code), Some(format!("answered {code}"))),
                    Err(e) => (None, Some(e.chars().take(500).collect::<String>())),
                };
                let delivered = error.is_none();
                let gave_up = !delivered && retry.exhausted(attempts as u32);
                let wait = retry.delay_ms(attempts as u32, rand::random::<f64>() * 2.0 - 1.0) as i64 * 1000;
                Attempted {
                    id: o.id.clone(),
                    lease_until: o.lease_until,
                    status: if delivered {
                        "delivered"
                    } else if gave_up {
                        "failed"
                    } else {
                        "pending"
                    }
                    .into(),
                    attempts,
                    next_attempt_at: if delivered || gave_up { now } else { now + wait },
                    last_status_code: code.map(i32::from),
                    last_error: error,
                    body: Some(o.body.clone()),
                    delivered_at: delivered.then_some(now),
                }
            })
            .collect()
    }
}

/// `{"type","timestamp","data":{"profile_id","profile":{"traits","identities"},…the fact}}`.
fn body_of(row: &DeliveryRow, subject: &Subject) -> String {
    let mut data = match serde_json::from_str::<Value>(&row.data) {
        Ok(Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let traits: Value = serde_json::from_str(&subject.traits).unwrap_or_else(|_| json!({}));
    let identities: Vec<Value> = subject.identities.iter().map(|(t, v)| json!({"type": t, "value": v})).collect();
    data.insert("profile_id".into(), json!(subject.profile_id));
    data.insert("profile".into(), json!({"traits": traits, "identities": identities}));
    json!({"type": row.event_type, "timestamp": crate::rfc3339(row.occurred_at), "data": data}).to_string()
}
