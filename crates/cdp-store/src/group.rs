//! Group commit for single-event requests.
//!
//! One transaction per event caps a server at its commit rate (an fsync each
//! on PostgreSQL; one writer at a time on SQLite). Here a request queues its
//! event and either becomes a *leader* — if fewer than the backend's leader
//! limit are writing — or waits. A leader takes everything queued (up to
//! `MAX_GROUP` events), stores it in one write transaction, in arrival order,
//! exactly as a batch of those events would be stored (each event sees the
//! ones before it), and answers every waiter after the commit. Nobody is
//! answered before their event is durable; nothing waits on a timer.
//!
//! If a group fails for a reason a retry does not cure, its events are stored
//! again one transaction each, so that one bad event cannot fail the others.

use crate::error::{StoreError, StoreResult};
use crate::repo::ingest::{self, Origin, Outcome};
use crate::{Backend, Db};
use cdp_domain::NewEvent;
use std::sync::mpsc::{channel, Sender};
use std::sync::Mutex;

/// Most events one leader stores in one transaction.
const MAX_GROUP: usize = 512;

/// What a queued request is told.
enum Msg {
    Done(StoreResult<Outcome>),
    /// Become the leader: the previous one finished and others are queued.
    Lead,
}

struct Job {
    origin: Origin,
    event: NewEvent,
    currency: String,
    received_at: i64,
    reply: Sender<Msg>,
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

impl Db {
    /// Stores one event, committed before the answer, in a transaction shared
    /// with whatever other single events arrive meanwhile.
    pub fn ingest_one(&self, origin: &Origin, event: NewEvent, currency: &str, received_at: i64) -> StoreResult<Outcome> {
        // Unbounded: a sender (possibly holding the queue's lock) never blocks;
        // a request may be handed the lead by several leaders at once.
        let (reply, answer) = channel();
        let job = Job { origin: origin.clone(), event, currency: currency.to_string(), received_at, reply };
        let lead = {
            let mut state = self.group.state();
            state.queue.push(job);
            let lead = state.leaders < self.leader_limit();
            state.leaders += usize::from(lead);
            lead
        };
        if !lead {
            match answer.recv() {
                Ok(Msg::Done(outcome)) => return outcome,
                Ok(Msg::Lead) => {}
                Err(_) => return Err(StoreError::Unavailable("the group writer stopped".into())),
            }
        }
        {
            let _turn = Lead(&self.group);
            let jobs: Vec<Job> = {
                let mut state = self.group.state();
                let take = state.queue.len().min(MAX_GROUP);
                state.queue.drain(..take).collect()
            };
            if !jobs.is_empty() {
                self.store_group(jobs);
            }
        }
        loop {
            match answer.recv() {
                Ok(Msg::Done(outcome)) => return outcome,
                // Handed the lead while already leading: nothing more to take.
                Ok(Msg::Lead) => drop(Lead(&self.group)),
                Err(_) => return Err(StoreError::Unavailable("the group writer stopped".into())),
            }
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
                    let _ = job.reply.send(Msg::Done(Ok(outcome)));
                }
            }
            Err(e) if jobs.len() == 1 => {
                let _ = jobs.into_iter().next().map(|j| j.reply.send(Msg::Done(Err(e))));
            }
            Err(e) => {
                log::warn!("a group of {} events failed ({e}); storing them one by one", jobs.len());
                for job in jobs {
                    let outcome = self.write(|c| ingest::ingest_one(c, &job.origin, &job.event, &job.currency, job.received_at));
                    let _ = job.reply.send(Msg::Done(outcome));
                }
            }
        }
    }
}

/// A leader's turn. When it ends — even by a panic — the lead passes to the
/// first queued request, or the number of leaders goes down if none is queued.
/// Only that one request wakes; the others sleep until their answer.
struct Lead<'a>(&'a Group);

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut state = self.0.state();
        match state.queue.first() {
            Some(next) => {
                let _ = next.reply.send(Msg::Lead);
            }
            None => state.leaders -= 1,
        }
    }
}
