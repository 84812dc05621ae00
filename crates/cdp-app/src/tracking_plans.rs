//! Tracking plans: a source's plan saved and read, events screened against
//! it before ingestion, and the log of violations.

pub use crate::store::ViolationRow;
use crate::store::{Page, SourceStore, TrackingPlanStore};
use crate::{App, AppError, AppResult, Caller, Principal};
use cdp_domain::event::EventType;
use cdp_domain::tracking_plan::{Plan, Violation};
use cdp_domain::NewEvent;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Plans read recently, by source (`None`: the source has none), so that
/// ingestion does not read them for every request. A plan saved in this
/// process applies at once; one saved by another process within the key
/// cache's lifetime.
#[derive(Default)]
pub struct PlanCache(Mutex<HashMap<String, Cached>>);

/// When a source's plan was read, and the plan (none: the source has none).
type Cached = (Instant, Option<Arc<Plan>>);

/// Events screened: those to store (with the violation allowed for each,
/// if any) and those refused, by their index in the request.
#[derive(Default)]
pub struct Screened {
    pub pass: Vec<(usize, NewEvent)>,
    /// Position in `pass` → the violation it was stored with.
    pub allowed: Vec<(usize, Violation)>,
    pub blocked: Vec<(usize, NewEvent, Violation)>,
}

/// The source a caller's events count for.
fn source_of(who: &Principal) -> Option<&str> {
    match &who.caller {
        Caller::Key { source_id: Some(s), .. } => Some(s),
        _ => None,
    }
}

/// Screens events against a plan (none: every event passes). Only tracked
/// events are planned; identify, page and the others pass.
pub fn screen(plan: Option<&Plan>, events: Vec<(usize, NewEvent)>) -> Screened {
    let Some(plan) = plan else {
        return Screened { pass: events, ..Screened::default() };
    };
    let mut out = Screened::default();
    for (index, e) in events {
        let violation = match (&e.kind, &e.name) {
            (EventType::Track, Some(name)) => plan.check(name, &e.properties),
            _ => None,
        };
        match violation {
            Some(v) if v.blocked => out.blocked.push((index, e, v)),
            Some(v) => {
                out.allowed.push((out.pass.len(), v));
                out.pass.push((index, e));
            }
            None => out.pass.push((index, e)),
        }
    }
    out
}

impl App {
    fn plan_ttl(&self) -> Duration {
        Duration::from_secs(self.config.key_cache_seconds)
    }

    /// The plan of the caller's source from memory: `None` when it must be read.
    pub fn cached_plan(&self, who: &Principal) -> Option<Option<Arc<Plan>>> {
        let Some(source) = source_of(who) else { return Some(None) };
        let cache = self.plans.0.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(source).filter(|(at, _)| at.elapsed() < self.plan_ttl()).map(|(_, p)| p.clone())
    }

    /// The plan of the caller's source, read from the database (and remembered).
    pub fn load_plan(&self, who: &Principal) -> AppResult<Option<Arc<Plan>>> {
        let Some(source) = source_of(who) else { return Ok(None) };
        let body = self.db.read_statement(|c| TrackingPlanStore::tracking_plan(c, source))?;
        let plan = match body {
            Some(b) => {
                let doc: Value = serde_json::from_str(&b).map_err(|e| AppError::Store(crate::StoreError::Corrupt(e.to_string())))?;
                Some(Arc::new(Plan::parse(&doc).map_err(|e| AppError::Store(crate::StoreError::Corrupt(e.summary())))?))
            }
            None => None,
        };
        self.plans.0.lock().unwrap_or_else(|p| p.into_inner()).insert(source.to_string(), (Instant::now(), plan.clone()));
        Ok(plan)
    }

    /// Replaces a source's plan; answers it as stored.
    pub fn save_tracking_plan(&self, who: &Principal, source: &str, doc: &Value) -> AppResult<Value> {
        let plan = Plan::parse(doc)?;
        let body = plan.document.to_string();
        self.db.write(|c| {
            SourceStore::find(c, source).map_err(AppError::or_missing("source"))?;
            Ok::<_, AppError>(TrackingPlanStore::save_tracking_plan(c, source, &body, crate::store::now_micros(), &who.actor())?)
        })?;
        self.plans.0.lock().unwrap_or_else(|p| p.into_inner()).insert(source.to_string(), (Instant::now(), Some(Arc::new(plan))));
        Ok(serde_json::from_str(&body).unwrap_or_default())
    }

    pub fn tracking_plan(&self, source: &str) -> AppResult<Value> {
        let body = self.db.read(|c| {
            SourceStore::find(c, source).map_err(AppError::or_missing("source"))?;
            TrackingPlanStore::tracking_plan(c, source)?.ok_or(AppError::NotFound("tracking plan"))
        })?;
        Ok(serde_json::from_str(&body).unwrap_or_default())
    }

    /// Records what the caller's events broke: `blocked` (message id, event
    /// name, violation) and `allowed` (the same, and the id of the event stored).
    pub fn record_violations(
        &self,
        who: &Principal,
        blocked: Vec<(Option<String>, String, Violation)>,
        allowed: Vec<(Option<String>, String, Violation, Option<String>)>,
    ) -> AppResult<()> {
        let Some(source) = source_of(who) else { return Ok(()) };
        let now = crate::store::now_micros();
        let row = |message_id: Option<String>, event_name: String, v: Violation, event_id: Option<String>| ViolationRow {
            id: crate::store::new_id(),
            source_id: source.to_string(),
            event_name,
            message_id,
            kind: v.kind.into(),
            path: v.path,
            message: v.message,
            blocked: v.blocked,
            event_id,
            received_at: now,
        };
        let rows: Vec<ViolationRow> = blocked
            .into_iter()
            .map(|(m, n, v)| row(m, n, v, None))
            .chain(allowed.into_iter().map(|(m, n, v, id)| row(m, n, v, id)))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        Ok(self.db.write(|c| TrackingPlanStore::add_violations(c, &rows))?)
    }

    pub fn violations(&self, source: &str, before: Option<(i64, String)>, limit: i64) -> AppResult<Page<ViolationRow>> {
        self.db.read(|c| {
            SourceStore::find(c, source).map_err(AppError::or_missing("source"))?;
            Ok(TrackingPlanStore::violations(c, source, before.clone(), limit)?)
        })
    }
}
