//! Delivery workers inside the server: each enabled destination has its own
//! threads (`DeliveryConfig::concurrency`), so a destination that is slow,
//! refuses connections or hangs only ever holds up its own deliveries.
//! A supervisor starts and stops them as destinations come and go.

use super::deliver::{Answer, Outgoing};
use crate::App;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    fn halt(self) {
        self.stop.store(true, Ordering::Release);
        // Threads finish their batch (each attempt bounded by the timeout).
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn supervise(app: App, post: Arc<dyn Post>, stop: Arc<AtomicBool>) {
    let cfg = app.config.delivery.clone();
    let mut running: HashMap<String, Running> = HashMap::new();
    while !stop.load(Ordering::Acquire) {
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
                    running.entry(id.clone()).or_insert_with(|| start_destination(&app, &post, &id, cfg.concurrency));
                }
            }
            Err(e) => log::warn!("delivery supervisor: cannot list destinations: {e}"),
        }
        // Destinations are looked at once per poll interval (not on commits).
        app.db.wait_for_outbox(u64::MAX, cfg.poll);
    }
    for (_, r) in running.drain() {
        r.halt();
    }
}

fn start_destination(app: &App, post: &Arc<dyn Post>, id: &str, n: usize) -> Running {
    let stop = Arc::new(AtomicBool::new(false));
    let threads = (0..n.max(1))
        .map(|i| {
            let (app, post, stop, id) = (app.clone(), post.clone(), stop.clone(), id.to_string());
            std::thread::Builder::new()
                .name(format!("cdp-deliver-{i}"))
                .spawn(move || work(app, post, &id, stop))
                .expect("spawning a delivery worker")
        })
        .collect();
    Running { stop, threads }
}

/// A worker of one destination: lease a batch, send it, record it; when
/// there is nothing due, wait for a commit that wrote deliveries or the poll.
fn work(app: App, post: Arc<dyn Post>, destination: &str, stop: Arc<AtomicBool>) {
    let cfg = app.config.delivery.clone();
    while !stop.load(Ordering::Acquire) {
        let seen = app.db.outbox_count();
        match app.claim_deliveries(destination) {
            Ok(batch) if batch.is_empty() => {
                app.db.wait_for_outbox(seen, cfg.poll);
            }
            Ok(batch) => {
                let done: Vec<(Outgoing, Answer)> = batch
                    .into_iter()
                    .map(|o| {
                        let answer = post.post(&o.url, &o.headers, &o.body, cfg.timeout);
                        (o, answer)
                    })
                    .collect();
                if let Err(e) = app.record_deliveries(&done) {
                    // The leases run out and the deliveries are sent again: at least once.
                    log::warn!("recording deliveries to {destination} failed: {e}");
                }
            }
            Err(e) => {
                log::warn!("claiming deliveries to {destination} failed: {e}");
                app.db.wait_for_outbox(seen, cfg.poll);
            }
        }
    }
}
