//! Activation: destinations that receive facts about customers as signed
//! webhooks, the delivery log, and scheduled work.
//!
//! Facts are written to the outbox by the transaction that makes them true
//! (`OutboxStore::enqueue`); `deliver` turns due deliveries into requests
//! and records their outcome; `workers` runs that per destination;
//! `schedule` runs due jobs.

pub mod deliver;
pub mod schedule;
pub mod workers;

pub use crate::store::{DeliveryRow, DestinationRow, JobRunRow};
use crate::store::{OutboxStore, Page, PrivacyStore, SegmentStore, StoreError};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::webhook::{self, ConsentNeed, DestinationSpec};
use cdp_domain::FieldError;
use rand::RngCore;

/// A destination as the operator sees it; `secret` only when just created.
#[derive(Debug, Clone)]
pub struct Destination {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub segment_ids: Vec<String>,
    pub consent: Option<ConsentNeed>,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub secret: Option<String>,
}

impl Destination {
    fn from_row(r: DestinationRow, with_secret: bool) -> Result<Destination, StoreError> {
        let consent = match (r.consent_channel, r.consent_purpose) {
            (Some(channel), Some(purpose)) => Some(ConsentNeed { channel, purpose }),
            _ => None,
        };
        Ok(Destination {
            events: serde_json::from_str(&r.events)?,
            segment_ids: serde_json::from_str(&r.segment_ids)?,
            id: r.id,
            name: r.name,
            url: r.url,
            consent,
            enabled: r.enabled,
            created_at: r.created_at,
            updated_at: r.updated_at,
            secret: with_secret.then_some(r.secret),
        })
    }
}

/// Changes to a destination; absent fields stay as they are.
#[derive(Debug, Clone, Default)]
pub struct DestinationPatch {
    pub name: Option<String>,
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub segment_ids: Option<Vec<String>>,
    /// `Some(None)` removes the consent requirement.
    pub consent: Option<Option<ConsentNeed>>,
    pub enabled: Option<bool>,
}

/// Deliveries' statuses a filter may name.
fn check_status(status: Option<&str>) -> AppResult<()> {
    match status {
        Some(s) if !webhook::STATUSES.contains(&s) => {
            Err(AppError::field("status", "invalid", format!("must be one of {}", webhook::STATUSES.join(", "))))
        }
        _ => Ok(()),
    }
}

impl App {
    /// Creates a destination with a new secret (answered this once).
    pub fn create_destination(&self, who: &Principal, spec: DestinationSpec) -> AppResult<Destination> {
        let spec = spec.check()?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let now = crate::now_micros();
        let row = DestinationRow {
            id: crate::store::new_id(),
            name: spec.name.clone(),
            url: spec.url.clone(),
            secret: webhook::format_secret(&key),
            events: serde_json::to_string(&spec.events).map_err(StoreError::from)?,
            segment_ids: serde_json::to_string(&spec.segment_ids).map_err(StoreError::from)?,
            consent_channel: spec.consent.as_ref().map(|c| c.channel.clone()),
            consent_purpose: spec.consent.as_ref().map(|c| c.purpose.clone()),
            enabled: spec.enabled,
            created_at: now,
            updated_at: now,
        };
        let actor = who.actor();
        self.db.write(|c| {
            segments_exist(c, &spec.segment_ids)?;
            OutboxStore::add_destination(c, &row)?;
            let detail = serde_json::json!({"destination_id": row.id, "name": row.name, "url": row.url});
            PrivacyStore::audit(c, &actor, "destination.create", None, &detail, now)?;
            Ok::<_, AppError>(())
        })?;
        self.destinations_changed.notify();
        Ok(Destination::from_row(row, true)?)
    }

    pub fn destinations(&self) -> AppResult<Vec<Destination>> {
        let rows = self.db.read_statement(|c| OutboxStore::destinations(c))?;
        Ok(rows.into_iter().map(|r| Destination::from_row(r, false)).collect::<Result<_, _>>()?)
    }

    pub fn destination(&self, id: &str) -> AppResult<Destination> {
        let row = self.db.read_statement(|c| OutboxStore::destination(c, id)).map_err(AppError::or_missing("destination"))?;
        Ok(Destination::from_row(row, false)?)
    }

    /// Changes a destination; deliveries already written keep their fact,
    /// and go to the URL and with the consent rule in force when sent.
    pub fn update_destination(&self, who: &Principal, id: &str, patch: DestinationPatch) -> AppResult<Destination> {
        let actor = who.actor();
        let row = self
            .db
            .write(|c| {
                let row = OutboxStore::destination(c, id)?;
                let now_d = Destination::from_row(row.clone(), false)?;
                let p = patch.clone();
                let spec = DestinationSpec {
                    name: p.name.unwrap_or(now_d.name),
                    url: p.url.unwrap_or(now_d.url),
                    events: p.events.unwrap_or(now_d.events),
                    segment_ids: p.segment_ids.unwrap_or(now_d.segment_ids),
                    consent: p.consent.unwrap_or(now_d.consent),
                    enabled: p.enabled.unwrap_or(now_d.enabled),
                }
                .check()?;
                segments_exist(c, &spec.segment_ids)?;
                let now = crate::now_micros();
                let row = DestinationRow {
                    name: spec.name,
                    url: spec.url,
                    events: serde_json::to_string(&spec.events).map_err(StoreError::from)?,
                    segment_ids: serde_json::to_string(&spec.segment_ids).map_err(StoreError::from)?,
                    consent_channel: spec.consent.as_ref().map(|c| c.channel.clone()),
                    consent_purpose: spec.consent.as_ref().map(|c| c.purpose.clone()),
                    enabled: spec.enabled,
                    updated_at: now,
                    ..row
                };
                OutboxStore::save_destination(c, &row)?;
                PrivacyStore::audit(c, &actor, "destination.update", None, &serde_json::json!({"destination_id": row.id}), now)?;
                Ok::<_, AppError>(row)
            })
            .map_err(not_found_as("destination"))?;
        self.destinations_changed.notify();
        Ok(Destination::from_row(row, false)?)
    }

    /// Removes a destination and its delivery log; nothing more is sent to it.
    pub fn delete_destination(&self, who: &Principal, id: &str) -> AppResult<()> {
        let actor = who.actor();
        self.db
            .write(|c| {
                OutboxStore::destination(c, id)?;
                OutboxStore::remove_destination(c, id)?;
                let now = crate::now_micros();
                PrivacyStore::audit(c, &actor, "destination.delete", None, &serde_json::json!({"destination_id": id}), now)
            })
            .map_err(AppError::or_missing("destination"))?;
        self.destinations_changed.notify();
        Ok(())
    }

    /// A destination's delivery log, newest first.
    pub fn deliveries(&self, id: &str, status: Option<&str>, before: Option<(i64, String)>, limit: i64) -> AppResult<Page<DeliveryRow>> {
        check_status(status)?;
        self.db
            .read(|c| {
                OutboxStore::destination(c, id)?;
                OutboxStore::deliveries(c, id, status, before, limit)
            })
            .map_err(AppError::or_missing("destination"))
    }

    /// Sends again the deliveries created in [from, to] (those of `status`,
    /// or every one that is not pending), with their ids unchanged.
    pub fn replay(&self, who: &Principal, id: &str, from: i64, to: i64, status: Option<&str>) -> AppResult<usize> {
        check_status(status)?;
        if status == Some("pending") {
            return Err(AppError::field("status", "invalid", "pending deliveries are already queued"));
        }
        if to < from {
            return Err(AppError::field("to", "invalid", "must not be before `from`"));
        }
        let actor = who.actor();
        self.db
            .write(|c| {
                OutboxStore::destination(c, id)?;
                let now = crate::now_micros();
                let n = OutboxStore::requeue(c, id, from, to, status, now)?;
                let detail = serde_json::json!({"destination_id": id, "from": from, "to": to, "status": status, "requeued": n});
                PrivacyStore::audit(c, &actor, "destination.replay", None, &detail, now)?;
                Ok(n)
            })
            .map_err(AppError::or_missing("destination"))
    }
}

/// Every named segment exists (422 naming the first that does not).
fn segments_exist(c: &mut dyn crate::store::Tx, ids: &[String]) -> AppResult<()> {
    for (i, s) in ids.iter().enumerate() {
        match SegmentStore::get(c, s) {
            Ok(_) => {}
            Err(StoreError::NotFound) => {
                return Err(AppError::Invalid(FieldError::new(format!("segment_ids[{i}]"), "not_found", "no such segment").into()))
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// A use case's error with a missing row answered as `what` not found.
fn not_found_as(what: &'static str) -> impl Fn(AppError) -> AppError {
    move |e| match e {
        AppError::Store(StoreError::NotFound) => AppError::NotFound(what),
        e => e,
    }
}
