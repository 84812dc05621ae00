//! The threads group-commit leaders run on (see `group`): a leader stores
//! one group after another until none is queued, and must not hold a thread
//! the API answers requests on.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

/// Work for the writer thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// Threads that take jobs from one queue. They end when the `Writer` is
/// dropped and the last job is done.
pub struct Writer {
    tx: Sender<Job>,
}

impl Writer {
    /// Starts `threads` threads.
    pub fn start(threads: usize) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("cdp-writer-{n}")).spawn(move || {
                loop {
                    let job = match rx.lock().unwrap_or_else(|p| p.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    // A job that panics (a leader's guard answers what it held)
                    // must not take the thread, and every later write, with it.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                }
            })?;
        }
        Ok(Writer { tx })
    }

    /// Queues `job` for the threads; gives it back if they are gone.
    pub fn run(&self, job: Job) -> Result<(), Job> {
        self.tx.send(job).map_err(|e| e.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Writer;

    #[test]
    fn jobs_run_in_order_on_a_thread_of_their_own_and_a_panic_does_not_stop_it() {
        let writer = Writer::start(1).unwrap();
        let caller = std::thread::current().id();
        let (tx, rx) = std::sync::mpsc::channel();
        let first = tx.clone();
        writer.run(Box::new(move || first.send(("first", std::thread::current().id())).unwrap())).ok().unwrap();
        writer.run(Box::new(|| panic!("a failing job"))).ok().unwrap();
        writer.run(Box::new(move || tx.send(("after the panic", std::thread::current().id())).unwrap())).ok().unwrap();
        let (a, b) = (rx.recv().unwrap(), rx.recv().unwrap());
        assert_eq!((a.0, b.0), ("first", "after the panic"));
        assert_eq!(a.1, b.1, "one thread");
        assert_ne!(a.1, caller);
    }
}
