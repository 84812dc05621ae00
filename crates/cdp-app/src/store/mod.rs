//! The store as the use cases need it: transactions, group-committed
//! ingestion, and the records and repositories they work with. The
//! application owns these ports; `cdp-store` implements them over diesel
//! (SQLite and PostgreSQL) and the process wires the two together, so that
//! nothing above this crate is compiled against a database driver.

mod activation;
mod error;
mod imports;
mod programmes;
mod records;
mod repos;

pub use activation::*;
pub use error::{Abort, StoreError, StoreResult, TxError};
pub use imports::*;
pub use programmes::*;
pub use records::*;
pub use repos::*;

use std::sync::Arc;

/// Called once with the outcomes of a request's events (in its order), after
/// their commit, on a thread of the store's.
pub type Reply = Box<dyn FnOnce(StoreResult<Vec<Outcome>>) + Send>;

/// The kinds of transaction a use case opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxKind {
    /// Writes: the work runs again, from the start, while the store reports
    /// contention (a unique race, a deadlock, SQLite busy…); nothing of a
    /// failed attempt stays.
    Write,
    /// Reads that see one snapshot; the work runs once.
    Read,
    /// A read of one statement (which sees one snapshot by itself); runs once.
    Statement,
}

/// A database the use cases can run on.
pub trait Store: Send + Sync {
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Whether the database answers.
    fn ping(&self) -> StoreResult<()>;
    /// Runs `work` in a transaction of `kind` (see [`TxKind`]); commits when
    /// it answers `Ok`, rolls back otherwise.
    fn transaction(&self, kind: TxKind, work: &mut dyn FnMut(&mut dyn Tx) -> Result<(), Abort>) -> Result<(), Abort>;
    /// Stores a request's events (prepared with `currency`) in a transaction
    /// that other requests' events may share, as one batch; `reply` gets
    /// their outcomes once committed. Does not wait.
    fn ingest(&self, origin: &Origin, events: Vec<Prepared>, currency: &str, received_at: i64, reply: Reply);
    /// Microseconds this process has spent writing ingestion's batches with
    /// none of its writers to spare, so far (summed over writers): how
    /// saturated ingestion is, as its growth over an interval divided by the interval.
    fn ingest_busy_micros(&self) -> u64;
    /// Runs `work` holding the lock `name` across every process on the
    /// database (PostgreSQL: a session advisory lock, released if the process
    /// dies; SQLite: this process's), or answers `false` at once, without
    /// running it, when another holder has it.
    fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> StoreResult<bool>;
    /// Waits until a transaction of this process that wrote deliveries has
    /// committed after the one numbered `seen`, or `timeout`; answers the
    /// number of the latest.
    fn wait_for_outbox(&self, seen: u64, timeout: std::time::Duration) -> u64;
}

/// Counts commits that wrote deliveries, and wakes who waits for one.
#[derive(Default)]
pub struct Signal {
    count: std::sync::Mutex<u64>,
    changed: std::sync::Condvar,
}

impl Signal {
    pub fn notify(&self) {
        *self.count.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.changed.notify_all();
    }

    /// The number of notifications so far.
    pub fn seen(&self) -> u64 {
        *self.count.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a notification after the `seen`th, at most `timeout`.
    pub fn wait(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        let count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        let (count, _) = self.changed.wait_timeout_while(count, timeout, |n| *n <= seen).unwrap_or_else(|p| p.into_inner());
        *count
    }
}

/// The store the use cases run on. Cheap to clone.
#[derive(Clone)]
pub struct Db(Arc<dyn Store>);

impl Db {
    pub fn new(store: Arc<dyn Store>) -> Db {
        Db(store)
    }

    pub fn backend(&self) -> &'static str {
        self.0.backend()
    }

    pub fn ping(&self) -> StoreResult<()> {
        self.0.ping()
    }

    pub fn ingest(&self, origin: &Origin, events: Vec<Prepared>, currency: &str, received_at: i64, reply: Reply) {
        self.0.ingest(origin, events, currency, received_at, reply)
    }

    /// See [`Store::exclusive`].
    pub fn exclusive(&self, name: &str, work: &mut dyn FnMut()) -> StoreResult<bool> {
        self.0.exclusive(name, work)
    }

    /// See [`Store::ingest_busy_micros`].
    pub fn ingest_busy_micros(&self) -> u64 {
        self.0.ingest_busy_micros()
    }

    /// How many commits of this process have written deliveries so far.
    pub fn outbox_count(&self) -> u64 {
        self.0.wait_for_outbox(u64::MAX, std::time::Duration::ZERO)
    }

    /// See [`Store::wait_for_outbox`].
    pub fn wait_for_outbox(&self, seen: u64, timeout: std::time::Duration) -> u64 {
        self.0.wait_for_outbox(seen, timeout)
    }

    /// Runs `f` in a write transaction, again while contention makes it fail.
    /// `f` may fail with any error a store error converts into (`TxError`),
    /// so that a use case can refuse inside its transaction with its own
    /// error; only store contention is ever retried.
    pub fn write<T, E: TxError>(&self, f: impl FnMut(&mut dyn Tx) -> Result<T, E>) -> Result<T, E> {
        self.run(TxKind::Write, f)
    }

    /// Runs `f` on one snapshot; what it reads must not be written.
    pub fn read<T, E: TxError>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T, E>) -> Result<T, E> {
        let mut f = Some(f);
        self.run(TxKind::Read, move |tx| f.take().map_or_else(|| Err(E::from(ran_twice())), |f| f(tx)))
    }

    /// As `read`, for work of one statement: no transaction around it.
    pub fn read_statement<T, E: TxError>(&self, f: impl FnOnce(&mut dyn Tx) -> Result<T, E>) -> Result<T, E> {
        let mut f = Some(f);
        self.run(TxKind::Statement, move |tx| f.take().map_or_else(|| Err(E::from(ran_twice())), |f| f(tx)))
    }

    /// The store sees only whether the work succeeded and whether a failure
    /// may be retried; the work's own answer, value or error, stays here.
    fn run<T, E: TxError>(&self, kind: TxKind, mut f: impl FnMut(&mut dyn Tx) -> Result<T, E>) -> Result<T, E> {
        let mut answer: Option<Result<T, E>> = None;
        let ended = self.0.transaction(kind, &mut |tx| {
            let result = f(tx);
            let verdict = match &result {
                Ok(_) => Ok(()),
                Err(e) => Err(Abort::Work { retryable: e.retryable(), reason: e.describe() }),
            };
            answer = Some(result);
            verdict
        });
        match (ended, answer) {
            (Ok(()), Some(Ok(v))) => Ok(v),
            (Err(Abort::Work { .. }), Some(Err(e))) => Err(e),
            (Err(Abort::Store(e)), _) => Err(E::from(e)),
            _ => Err(E::from(StoreError::Corrupt("a transaction ended without the answer of its work".into()))),
        }
    }
}

fn ran_twice() -> StoreError {
    StoreError::Corrupt("a read transaction ran its work twice".into())
}

/// A new time-ordered id (UUIDv7, text).
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Lower-case hexadecimal of some bytes (digests), without a `format!` per byte.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Microseconds since the Unix epoch, the unit of every stored time.
pub fn micros(t: chrono::DateTime<chrono::Utc>) -> i64 {
    t.timestamp_micros()
}

pub fn from_micros(us: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(us).unwrap_or_default()
}

pub fn now_micros() -> i64 {
    micros(chrono::Utc::now())
}

/// The tombstone key of a (normalised) identity: hex SHA-256 of `type:value`.
pub fn identity_hash(kind: &str, value: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(kind.as_bytes());
    h.update(b":");
    h.update(value.as_bytes());
    hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lower_case_two_digits_a_byte() {
        assert_eq!(super::hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::hex(&[]), "");
    }
}
