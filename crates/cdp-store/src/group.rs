//! Group commit for single-event requests.
//!
//! One transaction per event caps a server at its commit rate (an fsync each
//! on PostgreSQL; one writer at a time on SQLite). Here a request queues its
//! event with a callback for its answer, and if fewer than the backend's
//! leader limit are writing, the caller is told to run a *leader* on a thread
//! that may block. A leader takes everything queued (up to `MAX_GROUP`
//! events), stores it in one write transaction, in arrival order, exactly as
//! a batch of those events would be stored (each event sees the ones before
//! it), answers every event of the group after the commit, and goes on while
//! events are queued. Nobody is answered before their event is durable;
//! nothing waits on a timer, and a waiting request holds no thread (the API
//! awaits its answer): an earlier version parked a blocking-pool thread per
//! waiting request, and the hand-offs between them led the server's profile.
//!
//! If a group fails for a reason a retry does not cure, its events are stored
//! again one transaction each, so that one bad event cannot fail the others.

use crate::error::{StoreError, StoreResult};
use crate::repo::ingest::{self, Origin, Outcome};
use crate::{Backend, Db};
use cdp_domain::NewEvent;
use std::sync::Mutex;

/// Most events one leader stores in one transaction.
const MAX_GROUP: usize = 512;

/// Called once with an event's outcome, after its commit (on the leader's thread).
pub type Reply = Box<dyn FnOnce(StoreResult<Outcome>) + Send>;

struct Job {
    origin: Origin,
    event: NewEvent,
    currency: String,
    received_at: i64,
    reply: Reply,
}

#[derive(Default)]
struct State {
    queue: Vec<Job>,
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

/// Whoever queued an event must start a leader (`Db::lead`) on a thread that may block.
/// Only `enqueue_one` makes one: it counted the leader that `lead` will uncount.
#[must_use = "a leader must be run, or the queued events are never stored"]
pub struct MustLead(());

impl Db {
    /// Queues one event to be stored in a transaction shared with whatever
    /// other single events arrive meanwhile; `reply` gets its outcome after
    /// the commit. When this answers `Some`, the caller runs `lead()` on a
    /// thread that may block (it need not wait for it).
    pub fn enqueue_one(&self, origin: &Origin, event: NewEvent, currency: &str, received_at: i64, reply: Reply) -> Option<MustLead> {
        let job = Job { origin: origin.clone(), event, currency: currency.to_string(), received_at, reply };
        let mut state = self.group.state();
        state.queue.push(job);
        let lead = state.leaders < self.leader_limit();
        state.leaders += usize::from(lead);
        lead.then_some(MustLead(()))
    }

    /// Stores queued events, a group per transaction, until none are left.
    pub fn lead(&self, _turn: MustLead) {
        let on_panic = Lead(&self.group);
        loop {
            let jobs: Vec<Job> = {
                let mut state = self.group.state();
                let take = state.queue.len().min(MAX_GROUP);
                if take == 0 {
                    // Leaving while the lock is held: an event queued after
                    // this sees one leader fewer and starts its own.
                    state.leaders -= 1;
                    std::mem::forget(on_panic);
                    return;
                }
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
            // Consecutive events of the same origin and currency go in as one batch.
            let mut start = 0;
            while start < jobs.len() {
                let head = &jobs[start];
                let end = start
                    + jobs[start..]
                        .iter()
                        .take_while(|j| j.origin.source_key == head.origin.source_key && j.currency == head.currency)
                        .count();
                let run = &jobs[start..end];
                let events: Vec<&NewEvent> = run.iter().map(|j| &j.event).collect();
                let at = run.iter().map(|j| j.received_at).max().unwrap_or(head.received_at);
                outcomes.extend(ingest::ingest_batch(c, &head.origin, &events, &head.currency, at)?);
                start = end;
            }
            Ok(outcomes)
        }) {
            Ok(outcomes) => {
                for (job, outcome) in jobs.into_iter().zip(outcomes) {
                    (job.reply)(Ok(outcome));
                }
            }
            Err(e) if jobs.len() == 1 => {
                if let Some(job) = jobs.into_iter().next() {
                    (job.reply)(Err(e));
                }
            }
            Err(e) => {
                log::warn!("a group of {} events failed ({e}); storing them one by one", jobs.len());
                for job in jobs {
                    let outcome = self.write(|c| ingest::ingest_one(c, &job.origin, &job.event, &job.currency, job.received_at));
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
