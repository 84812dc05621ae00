//! Delivery workers inside the server: each enabled destination has a
//! dispatcher thread and senders of its own (`DeliveryConfig::concurrency`
//! requests in flight), so a destination that is slow, refuses connections
//! or hangs only ever holds up its own deliveries. A supervisor starts and
//! stops them as destinations come and go.

use super::deliver::{Answer, Outgoing, QUEUED};
use crate::App;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Makes an HTTP request: POST `body` to `url` with `headers`, answering the
/// status code, or why there was none within `timeout`. Implemented by the
/// process (an HTTP client is not the application's business).
pub trait Post: Send + Sync {
    fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str, timeout: Duration) -> Answer;
}

/// The running delivery workers; stopped when dropped.
pub struct Workers {
    stop: Arc<AtomicBool>,
    supervisor: Option<JoinHandle<()>>,
}

impl Workers {
    /// Starts the supervisor, which starts each enabled destination's workers
    /// within one poll interval of its creation.
    pub fn start(app: App, post: Arc<dyn Post>) -> Workers {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let supervisor = std::thread::Builder::new()
            .name("cdp-deliveries".into())
            .spawn(move || supervise(app, post, flag))
            .expect("spawning the delivery supervisor");
        Workers { stop, supervisor: Some(supervisor) }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(s) = self.supervisor.take() {
            let _ = s.join();
        }
    }
}

struct Running {
    stop: Arc<AtomicBool>,
    dispatcher: JoinHandle<()>,
}

impl Running {
    /// Asks the destination's workers to stop: in-flight attempts finish (each
    /// bounded by the timeout) and are recorded, queued ones are given back.
    fn stop(&self) {
        self.stop.store(true, Ordering::Release);
    }

    fn halt(self) {
        self.stop();
        let _ = self.dispatcher.join();
    }
}

fn supervise(app: App, post: Arc<dyn Post>, stop: Arc<AtomicBool>) {
    let cfg = app.config.delivery.clone();
    let mut running: HashMap<String, Running> = HashMap::new();
    // Stopped and not yet finished: not waited for, so that a destination
    // whose receiver hangs does not hold up starting the others.
    let mut stopping: Vec<Running> = Vec::new();
    while !stop.load(Ordering::Acquire) {
        let seen = app.destinations_changed.seen();
        match app.destinations() {
            Ok(list) => {
                let enabled: Vec<String> = list.into_iter().filter(|d| d.enabled).map(|d| d.id).collect();
                let gone: Vec<String> = running.keys().filter(|id| !enabled.contains(id)).cloned().collect();
                for id in gone {
                    if let Some(r) = running.remove(&id) {
                        r.stop();
                        stopping.push(r);
                    }
                }
                for id in enabled {
                    running.entry(id.clone()).or_insert_with(|| start_destination(&app, &post, &id));
                }
            }
            Err(e) => log::warn!("delivery supervisor: cannot list destinations: {e}"),
        }
        let (finished, still): (Vec<Running>, Vec<Running>) = stopping.drain(..).partition(|r| r.dispatcher.is_finished());
        stopping = still;
        finished.into_iter().for_each(Running::halt);
        // Changes made in this process are seen at once; other processes' within the poll interval.
        app.destinations_changed.wait(seen, cfg.poll);
    }
    running.values().for_each(Running::stop);
    for r in running.into_values().chain(stopping) {
        r.halt();
    }
}

fn start_destination(app: &App, post: &Arc<dyn Post>, id: &str) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let (app, post, flag, id) = (app.clone(), post.clone(), stop.clone(), id.to_string());
    let dispatcher = std::thread::Builder::new()
        .name("cdp-deliveries-dispatch".into())
        .spawn(move || dispatch(app, post, &id, flag))
        .expect("spawning a delivery dispatcher");
    Running { stop, dispatcher }
}

/// One destination's dispatcher: the only thread of the destination that
/// touches the database. It records finished attempts and leases as many due
/// deliveries as there are free senders (one write transaction for both),
/// hands them to its senders, and, with nothing due and nothing in flight,
/// waits for a commit that wrote deliveries or the poll interval.
fn dispatch(app: App, post: Arc<dyn Post>, destination: &str, stop: Arc<AtomicBool>) {
    let cfg = app.config.delivery.clone();
    let n = cfg.concurrency.max(1);
    let (jobs, queue) = mpsc::channel::<Outgoing>();
    let queue = Arc::new(Mutex::new(queue));
    // `None`: not attempted, because the destination is stopping.
    let (results, finished) = mpsc::channel::<(Outgoing, Option<Answer>)>();
    let senders: Vec<JoinHandle<()>> = (0..n)
        .map(|i| {
            let (queue, results, post, timeout, stop) = (queue.clone(), results.clone(), post.clone(), cfg.timeout, stop.clone());
            std::thread::Builder::new()
                .name(format!("cdp-deliver-{i}"))
                .spawn(move || loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(o) = next else { return };
                    let answer = (!stop.load(Ordering::Acquire)).then(|| post.post(&o.url, &o.headers, &o.body, timeout));
                    if results.send((o, answer)).is_err() {
                        return;
                    }
                })
                .expect("spawning a delivery sender")
        })
        .collect();
    drop(results);
    let mut in_flight = 0usize;
    let mut done: Vec<(Outgoing, Answer)> = Vec::new();
    // Queued when the destination began to stop, and not attempted.
    let mut unsent: Vec<Outgoing> = Vec::new();
    // Whether deliveries may be due: after a full lease, a wake-up or a poll.
    let mut maybe_due = true;
    let mut load = Load::new(app.db.ingest_busy_micros());
    let mut last_turn: Option<Instant> = None;
    let mut breaker = cdp_domain::webhook::Breaker::default();
    let mut rest_until: Option<Instant> = None;
    loop {
        let stopping = stop.load(Ordering::Acquire);
        if stopping && in_flight == 0 && done.is_empty() {
            break;
        }
        let seen = app.db.outbox_count();
        // Leased deliveries queue for the senders, at most `QUEUED` rounds
        // deep; the queue is refilled once it is down to one round, so that
        // leases and records are written a batch at a time.
        let low = in_flight <= n;
        let resting = rest_until.is_some_and(|t| Instant::now() < t);
        let free = if stopping || !low || resting {
            0
        } else if breaker.probing() {
            // After a rest, one round of attempts tries the destination again.
            n - in_flight.min(n)
        } else {
            n * QUEUED - in_flight
        };
        let want = (!done.is_empty() && (low || done.len() >= n * QUEUED / 2)) || (free > 0 && maybe_due);
        // Ingestion first: while it is writing most of the time, one turn per `busy_pause`.
        let pause = match last_turn {
            Some(at) if want && !stopping && load.share(app.db.ingest_busy_micros()) > BUSY => cfg.busy_pause.checked_sub(at.elapsed()),
            _ => None,
        };
        if want && pause.is_none() {
            last_turn = Some(Instant::now());
            let due = !done.is_empty() || app.deliveries_due(destination).unwrap_or(true);
            if due {
                match app.exchange_deliveries(destination, &done, free) {
                    Ok(batch) => {
                        done.clear();
                        maybe_due = batch.len() == free && free > 0;
                        for o in batch {
                            in_flight += 1;
                            if jobs.send(o).is_err() {
                                in_flight -= 1;
                            }
                        }
                    }
                    // Unrecorded attempts stay leased and are made again when
                    // their lease ends: at least once.
                    Err(e) => {
                        log::warn!("recording and leasing deliveries to {destination} failed: {e}");
                        done.clear();
                        maybe_due = false;
                    }
                }
            } else {
                maybe_due = false;
            }
        }
        if in_flight > 0 {
            // Wait for an attempt to finish; with senders free, look for new
            // facts every few milliseconds meanwhile.
            let free = n - in_flight.min(n);
            let wait = if free > 0 && !stopping { Duration::from_millis(20).min(cfg.poll) } else { cfg.poll };
            let wait = pause.map_or(wait, |p| p.min(wait));
            match finished.recv_timeout(wait) {
                Ok(r) => {
                    let mut answers = vec![r];
                    answers.extend(finished.try_iter());
                    for (o, answer) in answers {
                        in_flight -= 1;
                        let Some(answer) = answer else {
                            unsent.push(o);
                            continue;
                        };
                        let ok = matches!(answer, Ok(code) if (200..300).contains(&code));
                        // Failures of attempts queued before a rest began do not lengthen it.
                        let counted = ok || rest_until.is_none_or(|t| Instant::now() >= t);
                        let rest =
                            if counted { breaker.answered(ok, n as u32, &cfg.retry, rand::random::<f64>() * 2.0 - 1.0) } else { None };
                        if let Some(ms) = rest {
                            log::info!("destination {destination} failed {n} attempts in a row: resting {ms} ms");
                            rest_until = Some(Instant::now() + Duration::from_millis(ms));
                        }
                        done.push((o, answer));
                    }
                    maybe_due = true;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => maybe_due = free == 0 || app.db.outbox_count() != seen || wait == cfg.poll,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else if let Some(p) = pause {
            std::thread::sleep(p.min(cfg.poll));
        } else if let Some(t) = rest_until.filter(|_| resting && !stopping) {
            std::thread::sleep(t.saturating_duration_since(Instant::now()).min(cfg.poll));
        } else if !maybe_due && !stopping {
            app.db.wait_for_outbox(seen, cfg.poll);
            maybe_due = true;
        }
    }
    drop(jobs);
    for s in senders {
        let _ = s.join();
    }
    // Otherwise they would wait for their leases to end before anyone tries them.
    if !unsent.is_empty() {
        if let Err(e) = app.release_deliveries(&unsent) {
            log::warn!("giving back {} unattempted deliveries to {destination} failed: {e}", unsent.len());
        }
    }
}

/// Ingestion counts as busy when its writes took more than this share of the
/// time since a worker last looked.
const BUSY: f64 = 0.5;

/// How much of the recent time ingestion spent writing, from the store's
/// running total of its writers' busy time.
struct Load {
    at: Instant,
    busy_micros: u64,
    share: f64,
}

impl Load {
    fn new(busy_micros: u64) -> Load {
        Load { at: Instant::now(), busy_micros, share: 0.0 }
    }

    /// The share over the time since the last look (at least 50 ms, so that
    /// one long batch does not decide it).
    fn share(&mut self, busy_micros: u64) -> f64 {
        let elapsed = self.at.elapsed();
        if elapsed >= Duration::from_millis(50) {
            self.share = busy_micros.saturating_sub(self.busy_micros) as f64 / elapsed.as_micros().max(1) as f64;
            self.at = Instant::now();
            self.busy_micros = busy_micros;
        }
        self.share
    }
}
