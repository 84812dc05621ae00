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
use std::time::Duration;

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
    fn halt(self) {
        self.stop.store(true, Ordering::Release);
        // In-flight attempts finish (each bounded by the timeout) and are recorded.
        let _ = self.dispatcher.join();
    }
}

fn supervise(app: App, post: Arc<dyn Post>, stop: Arc<AtomicBool>) {
    let cfg = app.config.delivery.clone();
    let mut running: HashMap<String, Running> = HashMap::new();
    while !stop.load(Ordering::Acquire) {
        let seen = app.destinations_changed.seen();
        match app.destinations() {
            Ok(list) => {
                let enabled: Vec<String> = list.into_iter().filter(|d| d.enabled).map(|d| d.id).collect();
                let gone: Vec<String> = running.keys().filter(|id| !enabled.contains(id)).cloned().collect();
                for id in gone {
                    if let Some(r) = running.remove(&id) {
                        r.halt();
                    }
                }
                for id in enabled {
                    running.entry(id.clone()).or_insert_with(|| start_destination(&app, &post, &id));
                }
            }
            Err(e) => log::warn!("delivery supervisor: cannot list destinations: {e}"),
        }
        // Changes made in this process are seen at once; other processes' within the poll interval.
        app.destinations_changed.wait(seen, cfg.poll);
    }
    for (_, r) in running.drain() {
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
    let (results, finished) = mpsc::channel::<(Outgoing, Answer)>();
    let senders: Vec<JoinHandle<()>> = (0..n)
        .map(|i| {
            let (queue, results, post, timeout) = (queue.clone(), results.clone(), post.clone(), cfg.timeout);
            std::thread::Builder::new()
                .name(format!("cdp-deliver-{i}"))
                .spawn(move || loop {
                    let next = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    let Ok(o) = next else { return };
                    let answer = post.post(&o.url, &o.headers, &o.body, timeout);
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
    // Whether deliveries may be due: after a full lease, a wake-up or a poll.
    let mut maybe_due = true;
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
        let free = if stopping || !low { 0 } else { n * QUEUED - in_flight };
        if (!done.is_empty() && (low || done.len() >= n * QUEUED / 2)) || (free > 0 && maybe_due) {
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
            match finished.recv_timeout(wait) {
                Ok(r) => {
                    in_flight -= 1;
                    done.push(r);
                    while let Ok(r) = finished.try_recv() {
                        in_flight -= 1;
                        done.push(r);
                    }
                    maybe_due = true;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => maybe_due = free == 0 || app.db.outbox_count() != seen || wait == cfg.poll,
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
        } else if !maybe_due && !stopping {
            app.db.wait_for_outbox(seen, cfg.poll);
            maybe_due = true;
        }
    }
    drop(jobs);
    for s in senders {
        let _ = s.join();
    }
}
