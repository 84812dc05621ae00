//! The threads group-commit leaders run on (see `group`), below the priority
//! of the threads that answer requests on SQLite.
//!
//! On SQLite every event is stored by one writer inside this process, on the
//! cores that also answer reads: a group of a few hundred events holds a core
//! for milliseconds, and a profile read the kernel queued behind it waited
//! that long. So the leader runs on a thread of its own, at `nice` 10 by
//! default (`CDP_WRITER_NICE`): a woken read runs ahead of the writer, which
//! takes the rest of the CPU. When the machine does nothing but ingest, the
//! writer is what there is to run. PostgreSQL's leaders mostly wait on the
//! server; their threads keep the process's priority.

use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};

/// Work for the writer thread.
pub type Job = Box<dyn FnOnce() + Send>;

/// Default niceness of the writer thread (0 = the process's own priority, 19 = the lowest).
pub const DEFAULT_NICE: i32 = 10;

/// Threads that take jobs from one queue, at a lower CPU priority. They end
/// when the `Writer` is dropped and the last job is done.
pub struct Writer {
    tx: Sender<Job>,
}

impl Writer {
    /// Starts `threads` threads at `nice` (0–19; 0 leaves their priority alone).
    pub fn start(threads: usize, nice: i32) -> std::io::Result<Writer> {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new().name(format!("cdp-writer-{n}")).spawn(move || {
                if nice != 0 {
                    if let Err(e) = lower_priority(nice) {
                        log::warn!("the writer thread keeps its priority: cannot set nice {nice} ({e})");
                    }
                }
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

/// Lowers the calling thread's CPU priority to `nice`. On Linux the nice
/// value belongs to a thread, and `setpriority(PRIO_PROCESS, 0, …)` sets the
/// caller's alone.
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) -> std::io::Result<()> {
    use std::os::raw::{c_int, c_uint};
    extern "C" {
        fn setpriority(which: c_int, who: c_uint, prio: c_int) -> c_int;
    }
    const PRIO_PROCESS: c_int = 0;
    // SAFETY: plain integers in, an integer out; no memory is shared.
    if unsafe { setpriority(PRIO_PROCESS, 0, nice) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "per-thread priority is set on Linux only"))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::Writer;

    /// The nice value of the calling thread (field 19 of `/proc/thread-self/stat`).
    fn own_nice() -> i32 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        // The command name (field 2) may hold spaces; fields after it are plain.
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        after.split(' ').nth(16).unwrap().parse().unwrap()
    }

    #[test]
    fn jobs_run_in_order_on_a_thread_of_lower_priority_and_a_panic_does_not_stop_it() {
        let before = own_nice();
        let writer = Writer::start(1, before + 7).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let first = tx.clone();
        writer.run(Box::new(move || first.send(("first", own_nice())).unwrap())).ok().unwrap();
        writer.run(Box::new(|| panic!("a failing job"))).ok().unwrap();
        writer.run(Box::new(move || tx.send(("after the panic", own_nice())).unwrap())).ok().unwrap();
        assert_eq!(rx.recv().unwrap(), ("first", before + 7));
        assert_eq!(rx.recv().unwrap(), ("after the panic", before + 7));
        // The caller's own priority is untouched.
        assert_eq!(own_nice(), before);
    }
}
