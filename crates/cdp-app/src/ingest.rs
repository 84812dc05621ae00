//! Ingestion: events in, each resolved to a profile, committed before the
//! answer. One call; the group commit, its leaders and their threads are
//! the store's.

pub use crate::store::{Origin, Outcome, Prepared};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::event::EventDefaults;
use cdp_domain::NewEvent;

impl App {
    /// What a caller's credentials add to its events (the source's channel),
    /// with `now` as the default time.
    pub fn event_defaults(&self, who: &Principal, now: chrono::DateTime<chrono::Utc>) -> EventDefaults {
        EventDefaults { channel: who.source_channel(), now, normalize: self.config.normalize }
    }

    /// Events in the form the writer stores them (orders read out, documents
    /// serialised, identity hashes computed). CPU work: callers do it before
    /// `ingest`, off the writer's turn.
    pub fn prepare(&self, events: Vec<NewEvent>) -> AppResult<Vec<Prepared>> {
        events.into_iter().map(|e| Prepared::new(e, &self.config.currency).map_err(AppError::from)).collect()
    }

    /// Stores a request's events, all in one transaction that may be shared
    /// with other requests, and answers their outcomes in order once
    /// committed. The caller waits without holding a thread.
    pub async fn ingest(&self, origin: &Origin, events: Vec<Prepared>, received_at: i64) -> AppResult<Vec<Outcome>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.db.ingest(
            origin,
            events,
            &self.config.currency,
            received_at,
            Box::new(move |outcomes| {
                let _ = tx.send(outcomes);
            }),
        );
        let outcomes = rx.await.unwrap_or_else(|_| Err(crate::store::StoreError::Unavailable("the group writer stopped".into())))?;
        Ok(outcomes)
    }
}

/// An accepted or duplicate event as (id, profile_id, status); an event of an
/// erased person, replayed, as the error that refuses it.
pub fn accepted(o: Outcome) -> AppResult<(String, String, &'static str)> {
    match o {
        Outcome::Accepted { id, profile_id } => Ok((id, profile_id, "accepted")),
        Outcome::Duplicate { id, profile_id } => Ok((id, profile_id, "duplicate")),
        Outcome::Erased { identity_type } => Err(AppError::identity_erased(&format!("the {identity_type}"))),
    }
}
