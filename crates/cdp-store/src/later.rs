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
    use super::drop_later;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    struct Counted(Arc<AtomicUsize>, Arc<Mutex<Vec<String>>>);

    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.lock().unwrap().push(std::thread::current().name().unwrap_or("").to_string());
        }
    }

    #[test]
    fn every_value_is_dropped_once_and_memory_is_bounded() {
        let (n, threads) = (Arc::new(AtomicUsize::new(0)), Arc::new(Mutex::new(Vec::new())));
        for _ in 0..1000 {
            drop_later(Counted(n.clone(), threads.clone()));
        }
        // The freeing thread drains its queue; the values it could not take were dropped here.
        while n.load(Ordering::SeqCst) < 1000 {
            std::thread::yield_now();
        }
        assert_eq!(n.load(Ordering::SeqCst), 1000);
        assert!(threads.lock().unwrap().iter().any(|t| t == "cdp-free"));
    }
}
