//! CSV imports of customers and orders: read record by record (memory stays
//! flat in the file's size), made into events, and stored by ordinary
//! ingestion in chunks, two in flight. Ids derive from the rows, so a file
//! imported again, or a run resumed after a kill, adds nothing twice.
//!
//! The same use case serves the CLI (a file) and background jobs (a file
//! uploaded over HTTP, kept in the database in pieces until it is done).

use crate::store::{ImportErrorRow, ImportProgress, ImportRow, ImportStore, Origin, Outcome, Prepared, StoreError};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::event::EventDefaults;
use cdp_domain::import::{customer_event, Header, ImportKind, OrderLines, ReadOptions, Row, RowError};
use cdp_domain::NewEvent;
use chrono::FixedOffset;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::Read;
use std::sync::mpsc;

/// Events per ingestion call.
const CHUNK_EVENTS: usize = 1000;
/// Chunks handed to the writer before waiting for the first of them.
const IN_FLIGHT: usize = 2;
/// Pieces an uploaded file is kept in.
pub const UPLOAD_PIECE_BYTES: usize = 4 << 20;
/// How long a process holds a job between progress reports.
const LEASE_MICROS: i64 = 15_000_000;

/// How a file is imported.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportOptions {
    #[serde(skip, default = "customers")]
    pub kind: Option<ImportKind>,
    /// Imported orders earn points and are announced as `order.completed`
    /// facts, as live orders are. Off by default: history is not news.
    #[serde(default)]
    pub points: bool,
    /// Times written without an offset are in this one.
    #[serde(default = "vietnam")]
    pub utc_offset: String,
}

fn customers() -> Option<ImportKind> {
    None
}

fn vietnam() -> String {
    "+07:00".into()
}

impl ImportOptions {
    pub fn new(kind: ImportKind) -> ImportOptions {
        ImportOptions { kind: Some(kind), points: false, utc_offset: vietnam() }
    }

    /// The offset of local times; 422 naming `utc_offset` when it is not one.
    pub fn offset(&self) -> AppResult<FixedOffset> {
        self.utc_offset.parse::<FixedOffset>().map_err(|_| AppError::field("utc_offset", "invalid", "must be an offset such as +07:00"))
    }

    fn kind(&self) -> ImportKind {
        self.kind.unwrap_or(ImportKind::Customers)
    }
}

/// Where a run starts: the records already done and the errors already reported.
#[derive(Debug, Clone, Default)]
pub struct ImportStart {
    pub totals: ImportProgress,
    pub error_count: i64,
}

/// A chunk of events on its way to the writer, with what it accounts for.
struct Chunk {
    events: Vec<Prepared>,
    /// The file line of each event's first row.
    lines: Vec<u64>,
    errors: Vec<RowError>,
    rejected: i64,
    /// Records read up to the chunk's end (resuming skips these).
    rows_read: i64,
}

impl Chunk {
    fn new() -> Chunk {
        Chunk { events: Vec::new(), lines: Vec::new(), errors: Vec::new(), rejected: 0, rows_read: 0 }
    }
}

/// The comma, semicolon or tab the header line uses most.
fn sniff_delimiter(head: &[u8]) -> u8 {
    let line = head.split(|b| *b == b'\n').next().unwrap_or(head);
    let count = |d: u8| line.iter().filter(|b| **b == d).count();
    [b',', b';', b'\t'].into_iter().max_by_key(|d| count(*d)).filter(|d| count(*d) > 0).unwrap_or(b',')
}

/// Checks a file's header line as `kind` needs it (before an upload is kept).
pub fn check_header(kind: ImportKind, head: &[u8]) -> AppResult<()> {
    let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(sniff_delimiter(head)).from_reader(head);
    let mut rec = csv::ByteRecord::new();
    let ok = rd.read_byte_record(&mut rec).map_err(|_| AppError::field("header", "invalid", "the first line is not CSV"))?;
    if !ok {
        return Err(AppError::field("header", "missing", "the file is empty"));
    }
    let cells: Vec<&str> = rec.iter().map(|c| std::str::from_utf8(c).unwrap_or("")).collect();
    Header::parse(kind, &cells).map(|_| ()).map_err(AppError::Invalid)
}

impl App {
    /// Imports a CSV file, skipping the records `start` says are done.
    /// After each chunk is committed `checkpoint` gets the totals so far and
    /// the chunk's refused rows. Answers the totals.
    pub fn import_csv(
        &self,
        input: &mut dyn Read,
        opts: &ImportOptions,
        start: ImportStart,
        checkpoint: &mut dyn FnMut(&ImportProgress) -> AppResult<()>,
    ) -> AppResult<ImportProgress> {
        let kind = opts.kind();
        let read = ReadOptions { utc_offset: opts.offset()? };
        let mut input = std::io::BufReader::with_capacity(1 << 16, input);
        let delimiter = sniff_delimiter(std::io::BufRead::fill_buf(&mut input).map_err(io)?);
        let mut rd = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(input);
        let mut rec = csv::ByteRecord::new();
        if !rd.read_byte_record(&mut rec).map_err(csv_error)? {
            return Err(AppError::field("header", "missing", "the file is empty"));
        }
        let head: Vec<String> = rec.iter().map(|c| String::from_utf8_lossy(c).into_owned()).collect();
        let header = Header::parse(kind, &head.iter().map(String::as_str).collect::<Vec<_>>()).map_err(AppError::Invalid)?;
        let origin = Origin { source_key: "import".into(), source_id: None };
        let mut run = Run {
            app: self,
            origin,
            earn: opts.points,
            totals: start.totals.clone(),
            error_seq: start.error_count,
            pending: VecDeque::new(),
            checkpoint,
        };
        let skip = start.totals.rows_read;
        let mut records: i64 = 0;
        let mut chunk = Chunk::new();
        let mut order = OrderLines::default();
        let defaults = |who: &App| EventDefaults { channel: None, now: chrono::Utc::now(), normalize: who.config.normalize };
        let mut defs = defaults(self);
        loop {
            let more = match rd.read_byte_record(&mut rec) {
                Ok(more) => more,
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => return Err(csv_error(e)),
                Err(e) => {
                    // A malformed record: reported, and reading goes on.
                    records += 1;
                    if records > skip {
                        let line = e.position().map_or(0, |p| p.line());
                        chunk.errors.push(RowError { row: line, field: "row".into(), code: "invalid_csv".into(), message: e.to_string() });
                        chunk.rejected += 1;
                    }
                    continue;
                }
            };
            if !more {
                break;
            }
            records += 1;
            if records <= skip {
                continue;
            }
            let line = rec.position().map_or(0, |p| p.line());
            let cells: Vec<std::borrow::Cow<str>> = rec.iter().map(String::from_utf8_lossy).collect();
            let texts: Vec<&str> = cells.iter().map(|c| c.as_ref()).collect();
            let unreadable = cells.iter().any(|c| matches!(c, std::borrow::Cow::Owned(_))).then(|| RowError {
                row: line,
                field: "row".into(),
                code: "invalid_utf8".into(),
                message: "is not UTF-8 text".into(),
            });
            match kind {
                ImportKind::Customers => {
                    let row = match unreadable {
                        Some(e) => Err(e),
                        None => Row::new(&header, &texts, line),
                    };
                    match row.map_err(|e| vec![e]).and_then(|r| customer_event(&r, &read, &defs)) {
                        Ok(e) => run.add(&mut chunk, e, line)?,
                        Err(errs) => {
                            chunk.errors.extend(errs);
                            chunk.rejected += 1;
                        }
                    }
                    chunk.rows_read = records;
                }
                ImportKind::Orders => {
                    // A line that cannot be read whole still names its order, which it refuses.
                    let fault = unreadable.or_else(|| Row::new(&header, &texts, line).err());
                    let fit = &texts[..texts.len().min(header.len())];
                    let row = Row::new(&header, fit, line).map_err(|e| AppError::Io(e.message))?;
                    let starts_new = !order.is_empty() && OrderLines::order_id_of(&row) != order.order_id();
                    if starts_new {
                        run.add_order(&mut chunk, order.finish(&defs))?;
                        chunk.rows_read = records - 1;
                    }
                    order.push(&row, &read);
                    if let Some(f) = fault {
                        order.refuse(f);
                    }
                }
            }
            if chunk.events.len() >= CHUNK_EVENTS {
                run.send(std::mem::replace(&mut chunk, Chunk::new()))?;
                defs = defaults(self);
            }
        }
        if !order.is_empty() {
            run.add_order(&mut chunk, order.finish(&defs))?;
        }
        chunk.rows_read = records;
        run.send(chunk)?;
        run.drain(0)?;
        Ok(run.totals)
    }
}

/// The writer's answer to a chunk.
type Answer = mpsc::Receiver<Result<Vec<Outcome>, StoreError>>;

/// A run of an import: chunks in flight and the totals of those committed.
struct Run<'a> {
    app: &'a App,
    origin: Origin,
    earn: bool,
    totals: ImportProgress,
    error_seq: i64,
    pending: VecDeque<(Chunk, Answer)>,
    checkpoint: &'a mut dyn FnMut(&ImportProgress) -> AppResult<()>,
}

impl Run<'_> {
    fn add(&mut self, chunk: &mut Chunk, e: NewEvent, line: u64) -> AppResult<()> {
        let mut p = Prepared::new(e, &self.app.config.currency)?;
        p.earn = self.earn;
        chunk.events.push(p);
        chunk.lines.push(line);
        Ok(())
    }

    fn add_order(&mut self, chunk: &mut Chunk, (line, e): (u64, Result<NewEvent, Vec<RowError>>)) -> AppResult<()> {
        match e {
            Ok(e) => self.add(chunk, e, line),
            Err(errs) => {
                chunk.errors.extend(errs);
                chunk.rejected += 1;
                Ok(())
            }
        }
    }

    /// Hands a chunk to the writer; waits for older ones beyond `IN_FLIGHT`.
    fn send(&mut self, mut chunk: Chunk) -> AppResult<()> {
        let (tx, rx) = mpsc::channel();
        let events = std::mem::take(&mut chunk.events);
        if events.is_empty() {
            let _ = tx.send(Ok(Vec::new()));
        } else {
            self.app.db.ingest(
                &self.origin,
                events,
                &self.app.config.currency,
                crate::now_micros(),
                Box::new(move |r| {
                    let _ = tx.send(r);
                }),
            );
        }
        self.pending.push_back((chunk, rx));
        self.drain(IN_FLIGHT)
    }

    /// Accounts for committed chunks, oldest first, until at most `keep` are in flight.
    fn drain(&mut self, keep: usize) -> AppResult<()> {
        while self.pending.len() > keep {
            let Some((chunk, rx)) = self.pending.pop_front() else { break };
            let outcomes = rx.recv().unwrap_or_else(|_| Err(StoreError::Unavailable("the group writer stopped".into())))?;
            let mut errors = chunk.errors;
            let t = &mut self.totals;
            t.rejected += chunk.rejected;
            for (o, line) in outcomes.into_iter().zip(chunk.lines) {
                match o {
                    Outcome::Accepted { .. } => t.imported += 1,
                    Outcome::Duplicate { .. } => t.duplicates += 1,
                    Outcome::Erased { identity_type } => {
                        t.rejected += 1;
                        errors.push(RowError {
                            row: line,
                            field: identity_type.clone(),
                            code: "identity_erased".into(),
                            message: format!("the {identity_type} belongs to an erased person"),
                        });
                    }
                }
            }
            t.rows_read = t.rows_read.max(chunk.rows_read);
            errors.sort_by_key(|e| e.row);
            t.errors = errors
                .into_iter()
                .map(|e| {
                    self.error_seq += 1;
                    ImportErrorRow { seq: self.error_seq, row: e.row as i64, field: e.field, code: e.code, message: e.message }
                })
                .collect();
            (self.checkpoint)(t)?;
            t.errors.clear();
        }
        Ok(())
    }
}

fn io(e: std::io::Error) -> AppError {
    AppError::Io(format!("reading the file: {e}"))
}

fn csv_error(e: csv::Error) -> AppError {
    AppError::Io(format!("reading the file: {e}"))
}

/// A file kept in the database in pieces, read in order.
struct Pieces<'a> {
    app: &'a App,
    id: String,
    next: i32,
    count: i32,
    buf: Vec<u8>,
    at: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.at == self.buf.len() {
            if self.next == self.count {
                return Ok(0);
            }
            let (id, seq) = (self.id.clone(), self.next);
            self.buf = self
                .app
                .db
                .read_statement(|c| ImportStore::import_chunk(c, &id, seq))
                .map_err(std::io::Error::other)?
                .ok_or_else(|| std::io::Error::other(format!("piece {seq} of the file is missing")))?;
            self.next += 1;
            self.at = 0;
        }
        let n = out.len().min(self.buf.len() - self.at);
        out[..n].copy_from_slice(&self.buf[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl App {
    /// Keeps a piece of an upload (before the job exists).
    pub fn add_upload_piece(&self, id: &str, seq: i32, data: &[u8]) -> AppResult<()> {
        Ok(self.db.write(|c| ImportStore::add_import_chunk(c, id, seq, data))?)
    }

    /// Forgets an upload that did not complete.
    pub fn drop_upload(&self, id: &str) -> AppResult<()> {
        Ok(self.db.write(|c| ImportStore::drop_import_chunks(c, id))?)
    }

    /// Queues the uploaded file `id` as a job and starts it on a thread of its own.
    pub fn queue_import(&self, who: &Principal, id: &str, opts: &ImportOptions, pieces: i32, bytes: i64) -> AppResult<ImportRow> {
        opts.offset()?;
        let now = crate::now_micros();
        let row = ImportRow {
            id: id.to_string(),
            kind: opts.kind().as_str().into(),
            status: "queued".into(),
            options: serde_json::to_string(opts).map_err(|e| AppError::Io(format!("the job's options: {e}")))?,
            chunks: pieces,
            bytes,
            rows_read: 0,
            imported: 0,
            duplicates: 0,
            rejected: 0,
            error_count: 0,
            message: None,
            created_by: who.actor(),
            created_at: now,
            updated_at: now,
            finished_at: None,
            lease_until: None,
        };
        self.db.write(|c| ImportStore::add_import(c, &row))?;
        self.spawn_import(Some(id.to_string()));
        Ok(row)
    }

    /// Resumes a job whose process stopped holding it (at start, then on the scheduler's tick).
    pub fn resume_imports(&self) {
        self.spawn_import(None);
    }

    /// Takes a job (`id`, or any whose process stopped holding it) and runs it on a thread of its own.
    fn spawn_import(&self, id: Option<String>) {
        let now = crate::now_micros();
        let job = match self.db.write(|c| ImportStore::claim_import(c, id.as_deref(), now, now + LEASE_MICROS)) {
            Ok(Some(job)) => job,
            Ok(None) => return,
            Err(e) => {
                log::warn!("claiming an import job: {e}");
                return;
            }
        };
        let app = self.clone();
        if let Err(e) = std::thread::Builder::new().name("cdp-import".into()).spawn(move || app.run_import(job)) {
            log::error!("cannot start an import thread: {e}");
        }
    }

    fn run_import(&self, job: ImportRow) {
        let id = job.id.clone();
        let result = (|| -> AppResult<()> {
            let mut opts: ImportOptions =
                serde_json::from_str(&job.options).map_err(|e| AppError::Io(format!("the job's options: {e}")))?;
            opts.kind = ImportKind::parse(&job.kind);
            let start = ImportStart {
                totals: ImportProgress {
                    rows_read: job.rows_read,
                    imported: job.imported,
                    duplicates: job.duplicates,
                    rejected: job.rejected,
                    errors: Vec::new(),
                },
                error_count: job.error_count,
            };
            let mut input = Pieces { app: self, id: id.clone(), next: 0, count: job.chunks, buf: Vec::new(), at: 0 };
            self.import_csv(&mut input, &opts, start, &mut |p| {
                let now = crate::now_micros();
                Ok(self.db.write(|c| ImportStore::import_progress(c, &id, p, now, now + LEASE_MICROS))?)
            })?;
            Ok(())
        })();
        let (status, message) = match result {
            Ok(()) => ("succeeded", None),
            Err(e) => {
                log::warn!("import {id} failed: {e}");
                ("failed", Some(e.to_string()))
            }
        };
        if let Err(e) = self.db.write(|c| ImportStore::finish_import(c, &id, status, message.as_deref(), crate::now_micros())) {
            log::warn!("finishing import {id}: {e}");
        }
    }

    /// Jobs, newest first.
    pub fn import_jobs(&self, before: Option<(i64, String)>, limit: i64) -> AppResult<crate::store::Page<ImportRow>> {
        Ok(self.db.read_statement(|c| ImportStore::imports(c, before, limit))?)
    }

    /// A job's refused rows after the one numbered `after`, in file order; 404 for no job.
    pub fn import_errors(&self, id: &str, after: Option<i64>, limit: i64) -> AppResult<crate::store::Page<ImportErrorRow, i64>> {
        let id = id.to_string();
        let rows = self
            .db
            .read(|c| {
                if ImportStore::import(c, &id)?.is_none() {
                    return Ok(None);
                }
                Ok::<_, StoreError>(Some(ImportStore::import_errors(c, &id, after, limit + 1)?))
            })?
            .ok_or(AppError::NotFound("import"))?;
        let mut rows = rows;
        let next = (rows.len() as i64 > limit).then(|| {
            rows.truncate(limit as usize);
            rows.last().map(|r| r.seq).unwrap_or_default()
        });
        Ok((rows, next))
    }

    /// A job and its first `errors` refused rows.
    pub fn import_job(&self, id: &str, errors: i64) -> AppResult<(ImportRow, Vec<ImportErrorRow>)> {
        let id = id.to_string();
        self.db
            .read(|c| {
                let Some(row) = ImportStore::import(c, &id)? else { return Ok(None) };
                Ok::<_, StoreError>(Some((row, ImportStore::import_errors(c, &id, None, errors)?)))
            })?
            .ok_or(AppError::NotFound("import"))
    }
}
