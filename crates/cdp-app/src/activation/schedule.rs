//! Scheduled work: segments refreshed every so many minutes, lapsed loyalty
//! points expired daily. Each run is for a slot (the scheduled time); a slot
//! runs once however many processes see it due — the job's lock is held
//! across processes while it runs (`Store::exclusive`) and the run is
//! recorded by slot, looked at again under the lock. Each tick also resumes
//! CSV import jobs whose process stopped.

use crate::store::{JobRunRow, JobStore, LoyaltyStore, SegmentStore, StoreError};
use crate::{App, AppResult};
use cdp_domain::schedule;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The job name of a segment's refresh.
fn segment_job(id: &str) -> String {
    format!("segment.refresh:{id}")
}

const EXPIRY_JOB: &str = "loyalty.expire";

impl App {
    /// The jobs due now, with their slots.
    pub fn due_jobs(&self, now: i64) -> AppResult<Vec<(String, i64)>> {
        let (segments, program) = self.db.read(|c| Ok::<_, StoreError>((SegmentStore::list(c)?, LoyaltyStore::program(c)?)))?;
        let mut due: Vec<(String, i64)> = segments
            .iter()
            .filter_map(|s| s.refresh_every_minutes.map(|m| (segment_job(&s.id), schedule::every_minutes(now, i64::from(m)))))
            .collect();
        if let Some(minute) = program.expire_daily_at.as_deref().and_then(schedule::parse_hhmm) {
            due.push((EXPIRY_JOB.to_string(), schedule::daily_at(now, minute)));
        }
        let mut out = Vec::with_capacity(due.len());
        for (job, slot) in due {
            if self.db.read_statement(|c| JobStore::run_for(c, &job, slot))?.is_none() {
                out.push((job, slot));
            }
        }
        Ok(out)
    }

    /// Runs `job` for `slot` unless it ran (or runs) already: answers whether it ran here.
    pub fn run_job(&self, job: &str, slot: i64) -> AppResult<bool> {
        let mut outcome: AppResult<bool> = Ok(false);
        let held = self.db.exclusive(job, &mut || outcome = self.run_job_locked(job, slot))?;
        if !held {
            return Ok(false);
        }
        outcome
    }

    fn run_job_locked(&self, job: &str, slot: i64) -> AppResult<bool> {
        if self.db.read_statement(|c| JobStore::run_for(c, job, slot))?.is_some() {
            return Ok(false);
        }
        let mut run = JobRunRow {
            id: crate::store::new_id(),
            job: job.to_string(),
            slot,
            status: "running".into(),
            detail: None,
            started_at: crate::now_micros(),
            finished_at: None,
        };
        if !self.db.write(|c| JobStore::start_run(c, &run))? {
            return Ok(false);
        }
        let result: AppResult<serde_json::Value> = match job.strip_prefix("segment.refresh:") {
            Some(id) => {
                self.refresh_segment(id, None).map(|s| serde_json::json!({"size": s.size, "entered": s.entered, "exited": s.exited}))
            }
            None if job == EXPIRY_JOB => self
                .expire_points(None)
                .map(|r| serde_json::json!({"members": r.members, "expired_points": r.expired_points, "tier_changes": r.tier_changes})),
            None => Ok(serde_json::json!({"skipped": "unknown job"})),
        };
        let (status, detail) = match result {
            Ok(d) => ("succeeded", d),
            Err(e) => {
                log::warn!("scheduled job {job} failed: {e}");
                ("failed", serde_json::json!({"error": e.to_string()}))
            }
        };
        run.status = status.into();
        run.detail = Some(detail.to_string());
        run.finished_at = Some(crate::now_micros());
        self.db.write(|c| JobStore::finish_run(c, &run))?;
        Ok(true)
    }

    /// Recent runs, newest first.
    pub fn job_runs(&self, job: Option<&str>, limit: i64) -> AppResult<Vec<JobRunRow>> {
        Ok(self.db.read_statement(|c| JobStore::runs(c, job, limit))?)
    }
}

/// The scheduler thread: looks for due jobs every `tick` and runs them one
/// after another; stopped when dropped.
pub struct Scheduler {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    wake: Arc<crate::store::Signal>,
}

impl Scheduler {
    pub fn start(app: App, tick: Duration) -> Scheduler {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(crate::store::Signal::default());
        let (flag, signal) = (stop.clone(), wake.clone());
        let thread = std::thread::Builder::new()
            .name("cdp-scheduler".into())
            .spawn(move || {
                while !flag.load(Ordering::Acquire) {
                    let seen = signal.seen();
                    app.resume_imports();
                    match app.due_jobs(crate::now_micros()) {
                        Ok(due) => {
                            for (job, slot) in due {
                                if flag.load(Ordering::Acquire) {
                                    break;
                                }
                                if let Err(e) = app.run_job(&job, slot) {
                                    log::warn!("scheduled job {job}: {e}");
                                }
                            }
                        }
                        Err(e) => log::warn!("looking for due jobs failed: {e}"),
                    }
                    signal.wait(seen, tick);
                }
            })
            .expect("spawning the scheduler");
        Scheduler { stop, thread: Some(thread), wake }
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        self.wake.notify();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
