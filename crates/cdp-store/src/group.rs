//! Group commit for ingestion requests.
//!
//! One transaction per request caps a server at its commit rate (an fsync
//! each on PostgreSQL; one writer at a time on SQLite), and every
//! transaction pays fixed costs whatever its size (the dedupe, identity and
//! tombstone lookups, ~10 round trips on PostgreSQL, the commit's page writes
//! on SQLite). Here a request queues its events — one, or a whole batch —
//! with a callback for their outcomes, and if fewer than the backend's leader
//! limit are writing, a *leader* starts on one of the `Ingestor`'s own
//! threads (`writer`). A leader takes what is queued (whole requests, up to
//! `MAX_GROUP` events unless one request alone is bigger), stores it in one
//! write transaction, in arrival order, exactly as one batch of those events
//! would be stored (each event sees the ones before it), answers every
//! request of the group after the commit, and goes on while requests are
//! queued. Nobody is answered before their events are durable; nothing
//! waits on a timer, and a waiting request holds no thread (the caller awaits
//! its answer): parking a thread per waiting request made the hand-offs
//! between them lead the server's profile.
//!
//! A request's events are never split between transactions: a batch is
//! stored entirely or not at all, as when each batch had a transaction of its
//! own. If a group fails for a reason a retry does not cure, its requests are
//! stored again one transaction each, so that one bad request cannot fail the
//! others.

use crate::conn::{Backend, Db};
use crate::error::{StoreError, StoreResult};
use crate::repo::ingest::{self, Origin, Outcome, Prepared};
use std::collections::HashSet;
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
    /// Its advisory lock keys (`lock_keys_of`) where several leaders write
    /// at once (PostgreSQL); empty otherwise.
    keys: Vec<i64>,
}

#[derive(Default)]
struct State {
    queue: std::collections::VecDeque<Job>,
    leaders: usize,
    /// The lock keys of the groups being written: a leader leaves a request
    /// that shares one in the queue rather than wait for that group's commit
    /// on PostgreSQL's advisory locks (which still decide, across processes).
    writing: HashSet<i64>,
}

/// The queue and its leaders.
#[derive(Default)]
struct Group {
    state: Mutex<State>,
}

/// Group commit over a database: requests' events queued, stored by
/// leaders on writer threads of its own. Cheap to clone (clones share the
/// queue and the threads).
#[derive(Clone)]
pub struct Ingestor {
    db: Db,
    group: std::sync::Arc<Group>,
    /// The threads leaders run on, started with the first one.
    leaders: std::sync::Arc<std::sync::OnceLock<Option<crate::writer::Writer>>>,
    /// Microseconds of writing with every leader busy (see `busy_micros`).
    busy: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Group {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whoever queued events must start a leader (`Ingestor::lead`) on a thread that may block.
/// Only `enqueue` makes one: it counted the leader that `lead` will uncount.
#[must_use = "a leader must be run, or the queued events are never stored"]
struct MustLead(());

impl Ingestor {
    /// Group commit over `db`.
    pub fn new(db: Db) -> Ingestor {
        Ingestor { db, group: Default::default(), leaders: Default::default(), busy: Default::default() }
    }

    /// Stores a request's events (prepared with `currency`) in a transaction
    /// shared with whatever other requests arrive meanwhile; `reply` gets
    /// their outcomes, in order, after the commit, on a leader's thread. The
    /// caller does not wait: a leader, if one must start, runs on the
    /// writer threads (`writer`).
    pub fn ingest(&self, origin: &Origin, events: Vec<Prepared>, currency: &str, received_at: i64, reply: Reply) {
        if events.is_empty() {
            return reply(Ok(Vec::new()));
        }
        if let Some(turn) = self.enqueue(origin, events, currency, received_at, reply) {
            let this = self.clone();
            let lead: crate::writer::Job = Box::new(move || this.lead(turn));
            let threads = self.leaders.get_or_init(|| {
                crate::writer::Writer::start(self.leader_limit())
                    .map_err(|e| log::error!("no writer thread ({e}); leaders run on threads of their own"))
                    .ok()
            });
            let lead = match threads {
                Some(w) => w.run(lead).err(),
                None => Some(lead),
            };
            if let Some(lead) = lead {
                std::thread::spawn(lead);
            }
        }
    }

    /// Queues a request's events; when this answers `Some`, the caller runs
    /// `lead()` on a thread that may block (it need not wait for it).
    fn enqueue(&self, origin: &Origin, events: Vec<Prepared>, currency: &str, received_at: i64, reply: Reply) -> Option<MustLead> {
        let keys = if self.leader_limit() > 1 { ingest::lock_keys_of(origin, &events) } else { Vec::new() };
        let job = Job { origin: origin.clone(), events, currency: currency.to_string(), received_at, reply, keys };
        let mut state = self.group.state();
        state.queue.push_back(job);
        let lead = state.leaders < self.leader_limit();
        state.leaders += usize::from(lead);
        lead.then_some(MustLead(()))
    }

    /// Stores queued requests, a group per transaction, until none are left
    /// that it may take.
    fn lead(&self, _turn: MustLead) {
        let mut turn = Lead { group: &self.group, held: Vec::new() };
        loop {
            let (jobs, full): (Vec<Job>, bool) = {
                let mut state = self.group.state();
                for k in turn.held.drain(..) {
                    state.writing.remove(&k);
                }
                let jobs = take(&mut state);
                if jobs.is_empty() {
                    // Nothing left, or only requests sharing keys with a
                    // group another leader is writing — that leader takes
                    // them once it has committed. Leaving while the lock is
                    // held: a request queued after this sees one leader
                    // fewer and starts its own.
                    state.leaders -= 1;
                    drop(std::mem::take(&mut turn.held)); // its buffer: `forget` would leak it
                    std::mem::forget(turn);
                    return;
                }
                turn.held = jobs.iter().flat_map(|j| j.keys.iter().copied()).collect();
                state.writing.extend(turn.held.iter().copied());
                (jobs, state.leaders >= self.leader_limit())
            };
            let started = std::time::Instant::now();
            self.store_group(jobs);
            if full {
                self.busy.fetch_add(started.elapsed().as_micros() as u64, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Microseconds leaders have spent storing groups while every leader
    /// there may be was writing, since the start: its growth over an
    /// interval, divided by the interval, is how much of the time ingestion
    /// had no writer to spare (up to the number of leaders).
    pub fn busy_micros(&self) -> u64 {
        self.busy.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// SQLite has one writer at a time: one leader. PostgreSQL writes in
    /// parallel: two leaders, one filling its group while the other commits.
    /// Every transaction costs a fixed number of round trips whatever its
    /// size, so more leaders mean smaller groups for the same work: more than
    /// two were slower (docs/benchmarks.md).
    fn leader_limit(&self) -> usize {
        match self.db.backend {
            Backend::Sqlite => 1,
            Backend::Postgres => 2,
        }
    }

    fn store_group(&self, jobs: Vec<Job>) {
        // Every lock the group needs, taken in one order as the transaction begins.
        let mut keys: Vec<i64> = jobs.iter().flat_map(|j| j.keys.iter().copied()).collect();
        keys.sort_unstable();
        keys.dedup();
        match self.db.write_locked(&keys, |c| {
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
                outcomes.extend(ingest::ingest_keyed(c, &head.origin, &events, &[], &head.currency, at)?);
                start = end;
            }
            Ok(outcomes)
        }) {
            Ok(outcomes) => {
                let mut outcomes = outcomes.into_iter();
                for job in jobs {
                    let mine: Vec<Outcome> = outcomes.by_ref().take(job.events.len()).collect();
                    (job.reply)(Ok(mine));
                    if self.db.backend == Backend::Sqlite {
                        crate::later::drop_later(job.events);
                    }
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
                    let outcome = self
                        .db
                        .write_locked(&job.keys, |c| ingest::ingest_keyed(c, &job.origin, &events, &[], &job.currency, job.received_at));
                    (job.reply)(outcome);
                }
            }
        }
    }
}

/// The next group from the queue, in arrival order: whole requests, up to
/// `MAX_GROUP` events unless the first alone is bigger, leaving in the queue
/// every request that shares a lock key with a group being written — and,
/// so that requests sharing keys keep their order, every later request
/// that shares one with a request left.
fn take(state: &mut State) -> Vec<Job> {
    let mut events = 0;
    let mut taken: Vec<usize> = Vec::new();
    let mut left: HashSet<i64> = HashSet::new();
    for (n, j) in state.queue.iter().enumerate() {
        if !taken.is_empty() && events + j.events.len() > MAX_GROUP {
            break;
        }
        if j.keys.iter().any(|k| state.writing.contains(k) || left.contains(k)) {
            left.extend(j.keys.iter().copied());
            continue;
        }
        taken.push(n);
        events += j.events.len();
    }
    if taken.len() == state.queue.len() {
        return state.queue.drain(..).collect();
    }
    let mut jobs = Vec::with_capacity(taken.len());
    for n in taken.into_iter().rev() {
        jobs.extend(state.queue.remove(n));
    }
    jobs.reverse();
    jobs
}

/// A leader's turn, for when it ends by a panic: the count of leaders goes
/// down, the keys of its group are released, and if no other leader is left
/// the queued events are failed rather than left waiting with nobody to
/// store them (their clients may retry). The events of the group being
/// stored were answered by their dropped callbacks.
struct Lead<'a> {
    group: &'a Group,
    held: Vec<i64>,
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        let mut state = self.group.state();
        state.leaders -= 1;
        for k in &self.held {
            state.writing.remove(k);
        }
        let queued: Vec<Job> = if state.leaders == 0 { state.queue.drain(..).collect() } else { Vec::new() };
        drop(state);
        for job in queued {
            (job.reply)(Err(StoreError::Unavailable("the group writer stopped".into())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{take, Job, State};
    use crate::repo::ingest::Origin;

    fn job(n: i64, keys: &[i64]) -> Job {
        Job {
            origin: Origin { source_key: format!("job-{n}"), source_id: None },
            events: Vec::new(),
            currency: "VND".into(),
            received_at: n,
            reply: Box::new(|_| {}),
            keys: keys.to_vec(),
        }
    }

    fn taken(state: &mut State) -> Vec<i64> {
        take(state).iter().map(|j| j.received_at).collect()
    }

    #[test]
    fn a_group_takes_everything_when_nothing_is_being_written() {
        let mut s = State::default();
        s.queue.extend([job(1, &[10, 11]), job(2, &[10]), job(3, &[])]);
        assert_eq!(taken(&mut s), [1, 2, 3]);
        assert!(s.queue.is_empty());
        assert!(taken(&mut s).is_empty());
    }

    #[test]
    fn requests_sharing_a_key_with_a_group_being_written_wait_and_keep_their_order() {
        let mut s = State::default();
        s.writing.extend([10, 20]);
        // 1 shares 10 with the group being written; 3 shares 30 with 1 (left),
        // so it must not overtake 1; 2 and 4 share nothing.
        s.queue.extend([job(1, &[10, 30]), job(2, &[40]), job(3, &[30]), job(4, &[50])]);
        assert_eq!(taken(&mut s), [2, 4]);
        assert_eq!(s.queue.iter().map(|j| j.received_at).collect::<Vec<_>>(), [1, 3]);
        // Only conflicts left: nothing to take while the other group is written.
        assert!(taken(&mut s).is_empty());
        s.writing.clear();
        assert_eq!(taken(&mut s), [1, 3]);
    }
}
