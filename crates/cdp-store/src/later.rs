//! Freeing what a write transaction leaves behind off the thread that
//! writes. A batch's working set — profiles with their parsed traits, the
//! events it was handed, maps of identities — is thousands of small
//! allocations; freeing them on the writer took a few percent of the time
//! in which nothing else can be written (SQLite has one writer). A thread
//! of its own frees them instead. When it falls behind (its queue is
//! bounded), the caller frees them itself, so memory stays bounded.
//! Only on SQLite: on PostgreSQL the machine's CPU, not one thread, bounds
//! ingestion, so freeing elsewhere saves nothing and adds frees across
//! threads.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// Values waiting to be freed, at most this many.
const QUEUE: usize = 16;

type Garbage = Box<dyn Send>;

/// Frees `value` on the freeing thread, or here if that cannot take it.
pub fn drop_later<T: Send + 'static>(value: T) {
    static FREEING: OnceLock<Option<SyncSender<Garbage>>> = OnceLock::new();
    let sender = FREEING.get_or_init(|| {
        let (tx, rx) = sync_channel::<Garbage>(QUEUE);
        std::thread::Builder::new().name("cdp-free".into()).spawn(move || rx.into_iter().for_each(drop)).ok().map(|_| tx)
    });
    if let Some(tx) = sender {
        if let Err(TrySendError::Full(g) | TrySendError::Disconnected(g)) = tx.try_send(Box::new(value)) {
            drop(g);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{drop_later, QUEUE};
    use std::sync::mpsc::{channel, Receiver, Sender};
    use std::sync::{Arc, Mutex};

    /// Counts its drops by the name of the thread that dropped it.
    struct Counted(Arc<Mutex<Vec<String>>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.lock().unwrap().push(std::thread::current().name().unwrap_or("").to_string());
        }
    }

    /// Holds the freeing thread in its drop until told to go on (dropped
    /// anywhere else, it only says where it was dropped).
    struct Gate(Sender<String>, Mutex<Receiver<()>>);

    impl Drop for Gate {
        fn drop(&mut self) {
            let name = std::thread::current().name().unwrap_or("").to_string();
            let held = name == "cdp-free";
            self.0.send(name).unwrap();
            if held {
                let _ = self.1.lock().unwrap().recv();
            }
        }
    }

    #[test]
    fn every_value_is_dropped_once_and_a_busy_freer_leaves_the_rest_to_the_caller() {
        let drops = Arc::new(Mutex::new(Vec::new()));
        // Until the freeing thread takes a gate (its queue may be full of
        // other tests' values) and is held in its drop.
        let open = loop {
            let (entered_tx, entered) = channel();
            let (open, open_rx) = channel();
            drop_later(Gate(entered_tx, Mutex::new(open_rx)));
            if entered.recv().unwrap() == "cdp-free" {
                break open;
            }
        };
        let here = std::thread::current().name().unwrap_or("").to_string();
        let sent = QUEUE + 10;
        for _ in 0..sent {
            drop_later(Counted(drops.clone()));
        }
        // At most QUEUE values wait: the others were freed at once, here.
        let freed_here = drops.lock().unwrap().iter().filter(|t| **t == here).count();
        assert!(freed_here >= sent - QUEUE, "{freed_here} of {sent} freed by the caller");
        open.send(()).unwrap();
        while drops.lock().unwrap().len() < sent {
            std::thread::yield_now();
        }
        let drops = drops.lock().unwrap();
        assert_eq!(drops.len(), sent);
        assert!(drops.iter().all(|t| *t == here || t == "cdp-free"), "{drops:?}");
    }
}
