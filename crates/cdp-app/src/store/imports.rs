//! Records and repository of CSV import jobs.

use super::{Page, StoreResult};

/// An import job, as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub id: String,
    /// customers | orders
    pub kind: String,
    /// queued | running | succeeded | failed
    pub status: String,
    /// The options as JSON (points, utc_offset).
    pub options: String,
    /// Pieces of the uploaded file, numbered from 0.
    pub chunks: i32,
    pub bytes: i64,
    /// CSV records read and committed so far (the header not counted).
    pub rows_read: i64,
    pub imported: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub error_count: i64,
    /// Why the job failed.
    pub message: Option<String>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
    /// Until when the process running it holds it; after that another may resume it.
    pub lease_until: Option<i64>,
}

/// A refused row of an import.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportErrorRow {
    pub seq: i64,
    pub row: i64,
    pub field: String,
    pub code: String,
    pub message: String,
}

/// Progress made by a job, committed with its errors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportProgress {
    pub rows_read: i64,
    pub imported: i64,
    pub duplicates: i64,
    pub rejected: i64,
    pub errors: Vec<ImportErrorRow>,
}

pub trait ImportStore {
    fn add_import_chunk(&mut self, id: &str, seq: i32, data: &[u8]) -> StoreResult<()>;
    fn drop_import_chunks(&mut self, id: &str) -> StoreResult<()>;
    fn import_chunk(&mut self, id: &str, seq: i32) -> StoreResult<Option<Vec<u8>>>;
    fn add_import(&mut self, row: &ImportRow) -> StoreResult<()>;
    fn import(&mut self, id: &str) -> StoreResult<Option<ImportRow>>;
    /// Jobs, newest first, from the `before` (created_at, id) key on.
    fn imports(&mut self, before: Option<(i64, String)>, limit: i64) -> StoreResult<Page<ImportRow>>;
    /// `limit` errors after the one numbered `after` (from the first), in file order.
    fn import_errors(&mut self, id: &str, after: Option<i64>, limit: i64) -> StoreResult<Vec<ImportErrorRow>>;
    /// Takes the job until `lease_until` if it is queued or running with its
    /// lease lapsed (`id` None: any such job); answers it.
    fn claim_import(&mut self, id: Option<&str>, now: i64, lease_until: i64) -> StoreResult<Option<ImportRow>>;
    /// Records progress (counts are totals so far; errors are new ones) and renews the lease.
    fn import_progress(&mut self, id: &str, p: &ImportProgress, now: i64, lease_until: i64) -> StoreResult<()>;
    /// Ends the job (succeeded or failed) and drops its file.
    fn finish_import(&mut self, id: &str, status: &str, message: Option<&str>, now: i64) -> StoreResult<()>;
}
