//! Freeing what a write transaction leaves behind, off the writer's turn.
//!
//! SQLite has one writer, and it was the bottleneck of batch ingestion; a
//! tenth of its samples were spent freeing memory: the batch's working state
//! (dropped inside the transaction, before the commit) and the requests'
//! parsed events (dropped after the answers, before the next group). Values
//! given to [`drop_later`] are freed on a thread of their own, on whichever
//! core is idle. Its queue is bounded: a writer that outruns it waits rather
//! than piles up memory; without the thread (it could not start, or it died)
//! values are dropped where they are.

use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::OnceLock;

/// Values waiting to be freed, at most.
const QUEUE: usize = 64;

type Garbage = Box<dyn Send>;

fn queue() -> Option<&'static SyncSender<Garbage>> {
    static QUEUE_TX: OnceLock<Option<SyncSender<Garbage>>> = OnceLock::new();
    QUEUE_TX
        .get_or_init(|| {
            let (tx, rx) = sync_channel::<Garbage>(QUEUE);
            let spawned = std::thread::Builder::new().name("cdp-dropper".into()).spawn(move || {
                for garbage in rx {
                    drop(garbage);
                }
            });
            match spawned {
                Ok(_) => Some(tx),
                Err(e) => {
                    log::warn!("no dropper thread ({e}); writers free their own memory");
                    None
                }
            }
        })
        .as_ref()
}

/// Drops `value` on the dropper thread (here if there is none).
pub(crate) fn drop_later<T: Send + 'static>(value: T) {
    let Some(tx) = queue() else { return };
    match tx.try_send(Box::new(value)) {
        Ok(()) => {}
        // Full: wait for room, as the queue's bound means.
        Err(TrySendError::Full(garbage)) => drop(tx.send(garbage)),
        Err(TrySendError::Disconnected(garbage)) => drop(garbage),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::channel;

    /// Sends on the channel it holds when dropped.
    struct Tell(std::sync::mpsc::Sender<std::thread::ThreadId>);

    impl Drop for Tell {
        fn drop(&mut self) {
            let _ = self.0.send(std::thread::current().id());
        }
    }

    #[test]
    fn values_are_dropped_on_another_thread() {
        let (tx, rx) = channel();
        for _ in 0..200 {
            super::drop_later(Tell(tx.clone()));
        }
        drop(tx);
        let threads: Vec<_> = rx.iter().collect();
        assert_eq!(threads.len(), 200, "every value is dropped");
        assert!(threads.iter().all(|t| *t != std::thread::current().id()));
    }
}
