//! Group commit for ingestion requests.
//!
//! One transaction per request caps a server at its commit rate (an fsync
//! each on PostgreSQL; one writer at a time on SQLite), and every
//! transaction pays fixed costs whatever its size (the dedupe, identity and
//! tombstone lookups, ~25 statements on PostgreSQL, the commit's page writes
//! on SQLite). Here a request queues its events — one, or a whole batch —
//! with a callback for their outcomes, and if fewer than the backend's leader
//! limit are writing, the caller is told to run a *leader* on a thread that
//! may block. A leader takes what is queued (whole requests, up to
//! `MAX_GROUP` events unless one request alone is bigger), stores it in one
//! write transaction, in arrival order, exactly as one batch of those events
//! would be stored (each event sees the ones before it), answers every
//! request of the group after the commit, and goes on while requests are
//! queued. Nobody is answered before their events are durable; nothing
//! waits on a timer, and a waiting request holds no thread (the API awaits
//! its answer): an earlier version parked a blocking-pool thread per waiting
//! request, and the hand-offs between them led the server's profile.
//!
//! A request's events are never split between transactions: a batch is
//! stored entirely or not at all, as when each batch had a transaction of its
//! own. If a group fails for a reason a retry does not cure, its requests are
//! stored again one transaction each, so that one bad request cannot fail the
//! others.

use crate::error::{StoreError, StoreResult};
use crate::repo::ingest::{self, Origin, Outcome, Prepared};
use crate::{Backend, Db};
use std::sync::Mutex;

/// Most events one leader stores in one transaction (a single request may
/// hold more: it is then a group of its own).
const MAX_GROUP: usize = 1024;

/// Called once with the outcomes of a request's events (in its order), after
/// their commit, on the leader's thread.
pub type Reply = Box<dyn FnOnce(StoreResult<Vec<Outcome>>) + Send>;

struct Job {
    origin: Origin,
    /// Prepared with `currency`.
    events: Vec<Prepared>,
    currency: String,
    received_at: i64,
    reply: Reply,
}

#[derive(Default)]
struct State {
    queue: std::collections::VecDeque<Job>,
    leaders: usize,
}

/// The queue and its leaders; one per `Db` (shared by its clones).
#[derive(Default)]
pub struct Group {
    state: Mutex<State>,
}

impl Group {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whoever queued events must start a leader (`Db::lead`) on a thread that may block.
/// Only `enqueue` makes one: it counted the leader that `lead` will uncount.
#[must_use = "a leader must be run, or the queued events are never stored"]
pub struct MustLead(());

impl Db {
    /// Queues a request's events (prepared with `currency`) to be stored in a transaction shared with
    /// whatever other requests arrive meanwhile; `reply` gets their outcomes
    /// after the commit. When this answers `Some`, the caller runs `lead()`
    /// on a thread that may block (it need not wait for it).
    pub fn enqueue(&self, origin: &Origin, events: Vec<Prepared>, currency: &str, received_at: i64, reply: Reply) -> Option<MustLead> {
        let job = Job { origin: origin.clone(), events, currency: currency.to_string(), received_at, reply };
        let mut state = self.group.state();
        state.queue.push_back(job);
        let lead = state.leaders < self.leader_limit();
        state.leaders += usize::from(lead);
        lead.then_some(MustLead(()))
    }

    /// Stores queued requests, a group per transaction, until none are left.
    pub fn lead(&self, _turn: MustLead) {
        let on_panic = Lead(&self.group);
        loop {
            let jobs: Vec<Job> = {
                let mut state = self.group.state();
                if state.queue.is_empty() {
                    // Leaving while the lock is held: a request queued after
                    // this sees one leader fewer and starts its own.
                    state.leaders -= 1;
                    std::mem::forget(on_panic);
                    return;
                }
                let mut events = 0;
                let take = state
                    .queue
                    .iter()
                    .enumerate()
                    .take_while(|(n, j)| {
                        events += j.events.len();
                        *n == 0 || events <= MAX_GROUP
                    })
                    .count();
                state.queue.drain(..take).collect()
            };
            self.store_group(jobs);
        }
    }

    /// SQLite has one writer at a time: one leader. PostgreSQL writes in
    /// parallel: two leaders, one filling its group while the other commits.
    /// Every transaction costs a fixed ~25 statements whatever its size, so
    /// more leaders mean smaller groups for the same work: with 64 clients,
    /// four leaders made groups of 7.5 events and 1.7–1.9k events/s, two
    /// made 2.3–2.6k (one was within the noise of two).
    fn leader_limit(&self) -> usize {
        match self.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        }
    }

    fn store_group(&self, jobs: Vec<Job>) {
        match self.write(|c| {
            let mut outcomes = Vec::with_capacity(jobs.len());
            // Consecutive requests of the same origin and currency go in as one batch.
            let mut start = 0;
            while start < jobs.len() {
                let head = &jobs[start];
                let end = start
                    + jobs[start..]
                        .iter()
                        .take_while(|j| j.origin.source_key == head.origin.source_key && j.currency == head.currency)
                        .count();
                let run = &jobs[start..end];
                let events: Vec<&Prepared> = run.iter().flat_map(|j| &j.events).collect();
                let at = run.iter().map(|j| j.received_at).max().unwrap_or(head.received_at);
                outcomes.extend(ingest::ingest_batch(c, &head.origin, &events, &head.currency, at)?);
                start = end;
            }
            Ok(outcomes)
        }) {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for job in jobs {
                    let mine: Vec<Outcome> = outcomes.by_ref().take(job.events.len()).collect();
                    (job.reply)(Ok(mine));
                }
            }
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    (job.reply)(Err(e));
                }
            }
            Err(e) => {
                log::warn!("a group of {} requests failed ({e}); storing them one by one", jobs.len());
                for job in jobs {
                    let events: Vec<&Prepared> = job.events.iter().collect();
                    let outcome = self.write(|c| ingest::ingest_batch(c, &job.origin, &events, &job.currency, job.received_at));
                    (job.reply)(outcome);
                }
            }
        }
    }
}

/// A leader's turn, for when it ends by a panic: the count of leaders goes
/// down, and if no other leader is left the queued events are failed rather
/// than left waiting with nobody to store them (their clients may retry).
/// The events of the group being stored were answered by their dropped
/// callbacks.
struct Lead<'a>(&'a Group);

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        state.leaders -= 1;
        let queued: Vec<Job> = if state.leaders == 0 { state.queue.drain(..).collect() } else { Vec::new() };
        drop(state);
        for job in queued {
            (job.reply)(Err(StoreError::Unavailable("the group writer stopped".into())));
        }
    }
}
