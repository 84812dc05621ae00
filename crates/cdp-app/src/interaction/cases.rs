//! Cases: opened with an SLA by priority, worked through their statuses
//! with a history, listed, and their figures over a period.

use super::{category_field, channel_field, period, text_field, HOUR_US};
use crate::store::{
    CaseFilter, CaseHistoryRow, CaseRow, Fact, IngestStore, InteractionStore, OutboxStore, Outcome, Page, ProfileStore, StoreResult, Tx,
};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::interaction::{self, CaseStatus, Priority};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// A case to open; the person by `identities` (resolved like an event's) or `profile_id`.
#[derive(Debug, Clone, Default)]
pub struct CaseInput {
    pub profile_id: Option<String>,
    pub identities: Option<Value>,
    pub category: String,
    pub priority: Option<String>,
    pub channel: String,
    pub subject: String,
    pub description: Option<String>,
    pub assignee: Option<String>,
}

/// Changes to a case; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct CaseChange {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    pub note: Option<String>,
}

/// A case with its history, oldest change first.
#[derive(Debug, Clone)]
pub struct CaseView {
    pub case: CaseRow,
    pub history: Vec<CaseHistoryRow>,
}

/// Which cases to list (`status`: a comma-separated list).
#[derive(Debug, Clone, Default)]
pub struct CaseQuery {
    pub status: Option<String>,
    pub profile_id: Option<String>,
    pub assignee: Option<String>,
    pub overdue: bool,
    pub after: Option<(i64, String)>,
}

/// Cases opened in a period: volume, resolution time, SLA breaches, top categories.
#[derive(Debug, Clone)]
pub struct CaseStats {
    /// Micros, end exclusive.
    pub from: i64,
    pub to: i64,
    pub opened: u64,
    pub resolved: u64,
    pub active_now: i64,
    pub overdue_now: i64,
    pub median_hours_to_resolve: Option<f64>,
    pub sla_breaches: u64,
    /// (category, cases, SLA breaches), most cases first.
    pub top_categories: Vec<(String, u64, u64)>,
}

impl App {
    /// Opens a case: due by its priority's SLA, an event on the timeline.
    pub fn create_case(&self, who: &Principal, input: CaseInput) -> AppResult<CaseView> {
        let category = category_field("category", Some(&input.category), true)?.unwrap_or_default();
        let priority = match input.priority.as_deref() {
            None => Priority::Normal,
            Some(p) => Priority::parse(p).ok_or_else(|| AppError::field("priority", "invalid", "must be low, normal, high or urgent"))?,
        };
        let channel = channel_field("channel", &input.channel)?;
        let subject = text_field("subject", Some(&input.subject), 300, true)?.unwrap_or_default();
        let description = text_field("description", input.description.as_deref(), 5000, false)?.unwrap_or_default();
        let assignee = text_field("assignee", input.assignee.as_deref(), 200, false)?;
        let now = crate::store::now_micros();
        let mut row = CaseRow {
            id: crate::store::new_id(),
            profile_id: String::new(),
            category,
            priority: priority.as_str().into(),
            channel: channel.as_str().into(),
            subject,
            description,
            status: "open".into(),
            assignee,
            resolution: None,
            due_at: now + priority.sla_hours() * HOUR_US,
            created_by: who.actor(),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            resolved_by: None,
        };
        // With identities the person is resolved like an event's (created if
        // new), and the `Case Opened` event is that ingested event.
        let event = match (&input.identities, &input.profile_id) {
            (Some(ids), _) => Some(self.event_from(
                who,
                json!({"type": "track", "event": "Case Opened", "channel": channel.as_str(), "identities": ids,
                       "properties": row.opened_properties()}),
            )?),
            (None, Some(_)) => None,
            (None, None) => return Err(AppError::field("profile_id", "required", "give profile_id or identities")),
        };
        let origin = who.origin();
        self.db.write(|c| {
            row.profile_id = match &event {
                Some(e) => match IngestStore::ingest_one(c, &origin, e, &self.config.currency, now)? {
                    Outcome::Accepted { profile_id, .. } | Outcome::Duplicate { profile_id, .. } => profile_id,
                    Outcome::Erased { .. } => return Err(AppError::identity_erased("the identities")),
                },
                None => {
                    ProfileStore::resolve(c, input.profile_id.as_deref().unwrap_or_default()).map_err(AppError::or_missing("profile"))?.id
                }
            };
            InteractionStore::open_case(c, &row, event.is_none())?;
            OutboxStore::enqueue(c, &[case_fact("case.opened", &row)], now)?;
            Ok(with_history(c, row.clone())?)
        })
    }

    pub fn case(&self, id: &str) -> AppResult<CaseView> {
        self.db.read(|c| InteractionStore::case(c, id).and_then(|r| with_history(c, r))).map_err(AppError::or_missing("case"))
    }

    /// Changes a case's status, priority (and so its due time), assignee or
    /// resolution; a closed case never changes status again.
    pub fn update_case(&self, who: &Principal, id: &str, change: CaseChange) -> AppResult<CaseView> {
        let status = change
            .status
            .as_deref()
            .map(|s| CaseStatus::parse(s).ok_or_else(|| AppError::field("status", "invalid", "must be open, pending, resolved or closed")))
            .transpose()?;
        let priority = change
            .priority
            .as_deref()
            .map(|p| Priority::parse(p).ok_or_else(|| AppError::field("priority", "invalid", "must be low, normal, high or urgent")))
            .transpose()?;
        let assignee = text_field("assignee", change.assignee.as_deref(), 200, false)?;
        let resolution = text_field("resolution", change.resolution.as_deref(), 5000, false)?;
        let note = text_field("note", change.note.as_deref(), 2000, false)?;
        let (actor, now) = (who.actor(), crate::store::now_micros());
        self.db.write(|c| {
            let before = InteractionStore::lock_case(c, id).map_err(AppError::or_missing("case"))?;
            let from = CaseStatus::parse(&before.status).unwrap_or(CaseStatus::Open);
            let to = status.unwrap_or(from);
            if !from.can_become(to) {
                return Err(AppError::refused(
                    crate::Refusal::InvalidTransition,
                    format!("a {} case cannot become {}", from.as_str(), to.as_str()),
                ));
            }
            let mut after = before.clone();
            after.status = to.as_str().into();
            if let Some(a) = &assignee {
                after.assignee = Some(a.clone());
            }
            if let Some(r) = &resolution {
                after.resolution = Some(r.clone());
            }
            if let Some(p) = priority {
                after.priority = p.as_str().into();
                after.due_at = before.created_at + p.sla_hours() * HOUR_US;
            }
            if to == CaseStatus::Resolved && from != CaseStatus::Resolved {
                after.resolved_at = Some(now);
                after.resolved_by = Some(actor.clone());
            }
            if to == CaseStatus::Open && from == CaseStatus::Resolved {
                after.resolved_at = None;
                after.resolved_by = None;
            }
            after.updated_at = now;
            InteractionStore::save_case(c, &before, &after, note.as_deref(), &actor, now)?;
            if to == CaseStatus::Resolved && from != CaseStatus::Resolved {
                OutboxStore::enqueue(c, &[case_fact("case.resolved", &after)], now)?;
            }
            Ok(with_history(c, after)?)
        })
    }

    /// Cases, newest first.
    pub fn list_cases(&self, q: CaseQuery, limit: i64) -> AppResult<Page<CaseRow>> {
        let mut statuses = Vec::new();
        for s in q.status.as_deref().unwrap_or_default().split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let st = CaseStatus::parse(s)
                .ok_or_else(|| AppError::field("status", "invalid", format!("`{s}` must be open, pending, resolved or closed")))?;
            statuses.push(st.as_str().to_string());
        }
        let mut f = CaseFilter {
            statuses,
            profile_id: None,
            assignee: q.assignee,
            overdue_at: q.overdue.then(crate::store::now_micros),
            after: q.after,
        };
        self.db
            .read(|c| {
                if let Some(p) = &q.profile_id {
                    f.profile_id = Some(ProfileStore::resolve(c, p)?.id);
                }
                InteractionStore::list_cases(c, &f, limit)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Cases opened between two days (default: the last 30).
    pub fn case_stats(&self, from: Option<&str>, to: Option<&str>) -> AppResult<CaseStats> {
        let (from, to) = period(from, to, 30)?;
        let now = crate::store::now_micros();
        let (rows, (active_now, overdue_now)) = self.db.read(|c| {
            Ok::<_, AppError>((InteractionStore::cases_opened_between(c, from, to)?, InteractionStore::active_counts(c, now)?))
        })?;
        let mut hours = Vec::new();
        let mut by_cat: BTreeMap<String, (u64, u64)> = BTreeMap::new();
        let mut breaches = 0;
        for r in &rows {
            let breach = match r.resolved_at {
                Some(t) => t > r.due_at,
                None => CaseStatus::parse(&r.status).is_some_and(CaseStatus::is_active) && now > r.due_at,
            };
            if let Some(t) = r.resolved_at {
                hours.push((t - r.created_at) as f64 / HOUR_US as f64);
            }
            let e = by_cat.entry(r.category.clone()).or_default();
            e.0 += 1;
            e.1 += u64::from(breach);
            breaches += u64::from(breach);
        }
        let mut top: Vec<(String, u64, u64)> = by_cat.into_iter().map(|(category, (cases, b))| (category, cases, b)).collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Ok(CaseStats {
            from,
            to,
            opened: rows.len() as u64,
            resolved: hours.len() as u64,
            active_now,
            overdue_now,
            median_hours_to_resolve: interaction::median(&mut hours).map(|h| (h * 100.0).round() / 100.0),
            sla_breaches: breaches,
            top_categories: top,
        })
    }
}

fn with_history(c: &mut dyn Tx, case: CaseRow) -> StoreResult<CaseView> {
    let history = InteractionStore::case_history(c, &case.id)?;
    Ok(CaseView { case, history })
}

/// A case is overdue while active past its due time.
pub fn is_overdue(case: &CaseRow, now: i64) -> bool {
    CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_active) && case.due_at < now
}

/// A case's fact for the outbox.
fn case_fact(kind: &'static str, c: &CaseRow) -> Fact {
    let data = json!({"case_id": c.id, "category": c.category, "priority": c.priority, "channel": c.channel, "subject": c.subject,
        "status": c.status, "assignee": c.assignee, "resolution": c.resolution, "due_at": crate::rfc3339(c.due_at)});
    Fact { kind, profile_id: c.profile_id.clone(), data: data.to_string(), occurred_at: c.updated_at }
}
