//! Interaction: surveys and feedback (NPS, CSAT, text with sentiment), cases
//! with SLA, the agent's context view, and "you spoke, we listened".

use crate::consent::{consents_of, preferences_of, Consents, PreferenceHistory};
use crate::value::{parse_day, value_of, ProfileValue};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::interaction::{self, CaseStatus, FeedbackKind, Priority, Satisfaction};
use cdp_domain::{Channel, NewEvent, RawEvent};
use cdp_store::repo::ingest::{self, Outcome};
use cdp_store::repo::interaction as store;
pub use cdp_store::repo::interaction::{CaseFilter, CaseHistoryRow, CaseRow, FeedbackFilter, FeedbackRow, ImprovementRow, SurveyRow};
use cdp_store::repo::profiles::{self, EventRow, ProfileView};
use cdp_store::repo::{loyalty, Page};
use cdp_store::{AnyConnection, StoreResult};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 86_400_000_000;

/// A survey to define.
#[derive(Debug, Clone)]
pub struct SurveyInput {
    pub name: String,
    pub kind: String,
    pub question: String,
    pub channels: Vec<String>,
}

/// A feedback answer; the person by `identities` (resolved like an event's) or `profile_id`.
#[derive(Debug, Clone, Default)]
pub struct FeedbackInput {
    pub kind: String,
    pub score: Option<Value>,
    pub text: Option<String>,
    pub category: Option<String>,
    pub channel: String,
    pub identities: Option<Value>,
    pub profile_id: Option<String>,
    pub survey_id: Option<String>,
    pub order_id: Option<String>,
    pub case_id: Option<String>,
    pub occurred_at: Option<String>,
    pub message_id: Option<String>,
}

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

/// Which feedback to list.
#[derive(Debug, Clone, Default)]
pub struct FeedbackQuery {
    pub sentiment: Option<String>,
    pub category: Option<String>,
    pub profile_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
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

/// NPS and CSAT in a period, overall and by channel, city and month.
#[derive(Debug, Clone)]
pub struct NpsReport {
    /// Micros, end exclusive.
    pub from: i64,
    pub to: i64,
    pub total: Satisfaction,
    pub by_channel: BTreeMap<String, Satisfaction>,
    pub by_city: BTreeMap<String, Satisfaction>,
    pub by_month: BTreeMap<String, Satisfaction>,
}

/// The agent's view of a person, read in one transaction.
#[derive(Debug, Clone)]
pub struct Context {
    pub profile: ProfileView,
    pub open_cases: Vec<CaseRow>,
    pub recent_interactions: Vec<EventRow>,
    /// (order_id, channel, net revenue, currency, occurred_at, products JSON).
    pub last_order: Option<(String, String, i64, String, i64, String)>,
    /// (points balance, tier code, tier name).
    pub loyalty: Option<(i64, String, String)>,
    pub value: ProfileValue,
    pub consents: Consents,
    pub preferences: PreferenceHistory,
}

/// An improvement to publish.
#[derive(Debug, Clone)]
pub struct ImprovementInput {
    pub title: String,
    pub description: String,
    pub categories: Vec<String>,
    pub channel: String,
    pub published_at: Option<String>,
}

/// One person to tell about an improvement: their profile, how many negative
/// answers they gave in its categories and when the last was.
#[derive(Debug, Clone)]
pub struct AudienceMember {
    pub profile: ProfileView,
    pub complaints: i64,
    pub last_complaint_at: i64,
}

impl App {
    pub fn create_survey(&self, who: &Principal, input: SurveyInput) -> AppResult<SurveyRow> {
        let name = text_field("name", Some(&input.name), 200, true)?.unwrap_or_default();
        let question = text_field("question", Some(&input.question), 1000, true)?.unwrap_or_default();
        let kind = FeedbackKind::parse(&input.kind).ok_or_else(|| AppError::field("kind", "invalid", "must be nps, csat or text"))?;
        if input.channels.is_empty() {
            return Err(AppError::field("channels", "required", "must name at least one channel"));
        }
        let channels: Vec<&str> = input
            .channels
            .iter()
            .enumerate()
            .map(|(i, c)| channel_field(&format!("channels[{i}]"), c).map(Channel::as_str))
            .collect::<AppResult<_>>()?;
        let row = SurveyRow {
            id: cdp_store::new_id(),
            name,
            kind: kind.as_str().into(),
            question,
            channels: json!(channels).to_string(),
            created_by: who.actor(),
            created_at: cdp_store::now_micros(),
        };
        self.db.write(|c| store::add_survey(c, &row))?;
        Ok(row)
    }

    pub fn surveys(&self) -> AppResult<Vec<SurveyRow>> {
        Ok(self.db.read(store::surveys)?)
    }

    /// Records an answer, with its sentiment, as a `Feedback Submitted` event
    /// on the person's timeline. With identities the person is resolved as
    /// an event's would be, and `message_id` makes a retry answer the first
    /// (`false`: not created now).
    pub fn create_feedback(&self, who: &Principal, input: FeedbackInput) -> AppResult<(FeedbackRow, bool)> {
        let kind = FeedbackKind::parse(&input.kind).ok_or_else(|| AppError::field("kind", "invalid", "must be nps, csat or text"))?;
        let score = match (kind.range(), &input.score) {
            (None, None | Some(Value::Null)) => None,
            (None, Some(_)) => return Err(AppError::field("score", "invalid", "text feedback carries no score")),
            (Some((lo, hi)), v) => Some(
                v.as_ref()
                    .and_then(Value::as_i64)
                    .filter(|s| (lo..=hi).contains(s))
                    .ok_or_else(|| AppError::field("score", "out_of_range", format!("must be a whole number from {lo} to {hi}")))?,
            ),
        };
        let text = text_field("text", input.text.as_deref(), 5000, kind == FeedbackKind::Text)?;
        let category = category_field("category", input.category.as_deref(), false)?;
        let channel = channel_field("channel", &input.channel)?;
        let sentiment = text.as_deref().and_then(interaction::sentiment);
        let now = cdp_store::now_micros();
        let occurred_at = time_field("occurred_at", input.occurred_at.as_deref())?.unwrap_or(now);
        let id = cdp_store::new_id();
        let properties = json!({"feedback_id": id, "kind": kind.as_str(), "score": score, "text": text, "category": category,
            "sentiment": sentiment.map(|s| s.label), "survey_id": input.survey_id, "order_id": input.order_id, "case_id": input.case_id});
        let event = match (&input.identities, &input.profile_id) {
            (Some(ids), _) => Some(self.event_from(
                who,
                json!({"type": "track", "event": "Feedback Submitted", "channel": channel.as_str(), "identities": ids,
                       "occurred_at": cdp_store::from_micros(occurred_at).to_rfc3339(), "properties": properties,
                       "message_id": input.message_id}),
            )?),
            (None, Some(_)) => None,
            (None, None) => return Err(AppError::field("identities", "required", "give identities or profile_id")),
        };
        let (origin, actor) = (who.origin(), who.actor());
        self.db.write(|c| {
            if let Some(sid) = &input.survey_id {
                let s = store::survey(c, sid).map_err(|e| match e {
                    cdp_store::StoreError::NotFound => AppError::field("survey_id", "not_found", "names no survey"),
                    e => e.into(),
                })?;
                if s.kind != kind.as_str() {
                    return Err(AppError::field("kind", "invalid", "differs from the survey's kind"));
                }
            }
            let (event_id, profile_id) = match &event {
                Some(e) => match ingest::ingest_one(c, &origin, e, &self.config.currency, now)? {
                    Outcome::Accepted { id, profile_id } => (id, profile_id),
                    Outcome::Duplicate { id, .. } => return Ok((store::feedback_by_event(c, &id)?, false)),
                    Outcome::Erased { .. } => return Err(AppError::identity_erased("the identities")),
                },
                None => {
                    let p =
                        profiles::resolve(c, input.profile_id.as_deref().unwrap_or_default()).map_err(AppError::or_missing("profile"))?;
                    let eid = store::append_event(c, &p.id, &actor, "Feedback Submitted", channel.as_str(), &properties, occurred_at, now)?;
                    (eid, p.id)
                }
            };
            let row = FeedbackRow {
                id: id.clone(),
                profile_id,
                event_id,
                survey_id: input.survey_id.clone(),
                kind: kind.as_str().into(),
                score,
                body: text.clone(),
                category: category.clone(),
                channel: channel.as_str().into(),
                sentiment_label: sentiment.map(|s| s.label.to_string()),
                sentiment_score: sentiment.map(|s| s.score),
                order_id: input.order_id.clone(),
                case_id: input.case_id.clone(),
                occurred_at,
                received_at: now,
            };
            store::add_feedback(c, &row)?;
            Ok((row, true))
        })
    }

    /// Feedback, newest first.
    pub fn list_feedback(&self, q: FeedbackQuery, limit: i64) -> AppResult<Page<FeedbackRow>> {
        if let Some(s) = q.sentiment.as_deref().filter(|s| !["positive", "neutral", "negative"].contains(s)) {
            return Err(AppError::field("sentiment", "invalid", format!("`{s}` must be positive, neutral or negative")));
        }
        let (from, to) = match (q.from.as_deref(), q.to.as_deref()) {
            (None, None) => (None, None),
            (f, t) => period(f, t, 36_500).map(|(a, b)| (Some(a), Some(b)))?,
        };
        let mut f = FeedbackFilter { sentiment: q.sentiment, category: q.category, profile_id: None, from, to, after: q.after };
        self.db
            .read(|c| {
                if let Some(p) = &q.profile_id {
                    f.profile_id = Some(profiles::resolve(c, p)?.id);
                }
                store::list_feedback(c, &f, limit)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// NPS and CSAT between two days (default: the last 90), optionally of one channel or city.
    pub fn nps(&self, from: Option<&str>, to: Option<&str>, channel: Option<&str>, city: Option<&str>) -> AppResult<NpsReport> {
        let (from, to) = period(from, to, 90)?;
        let channel = channel.map(|c| channel_field("channel", c)).transpose()?;
        let rows = self.db.read(|c| store::scores_between(c, from, to, channel.map(Channel::as_str)))?;
        let mut report = NpsReport {
            from,
            to,
            total: Satisfaction::default(),
            by_channel: BTreeMap::new(),
            by_city: BTreeMap::new(),
            by_month: BTreeMap::new(),
        };
        for (kind, score, ch, at, traits) in rows {
            let place = serde_json::from_str::<Value>(&traits).ok().and_then(|t| t.get("city").and_then(Value::as_str).map(str::to_string));
            if city.is_some_and(|want| place.as_deref() != Some(want)) {
                continue;
            }
            let Some(kind) = FeedbackKind::parse(&kind) else { continue };
            report.total.add(kind, score);
            report.by_channel.entry(ch).or_default().add(kind, score);
            report.by_city.entry(place.unwrap_or_else(|| "unknown".into())).or_default().add(kind, score);
            report.by_month.entry(cdp_store::from_micros(at).format("%Y-%m").to_string()).or_default().add(kind, score);
        }
        Ok(report)
    }

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
        let now = cdp_store::now_micros();
        let mut row = CaseRow {
            id: cdp_store::new_id(),
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
                       "properties": store::case_opened_properties(&row)}),
            )?),
            (None, Some(_)) => None,
            (None, None) => return Err(AppError::field("profile_id", "required", "give profile_id or identities")),
        };
        let origin = who.origin();
        self.db.write(|c| {
            row.profile_id = match &event {
                Some(e) => match ingest::ingest_one(c, &origin, e, &self.config.currency, now)? {
                    Outcome::Accepted { profile_id, .. } | Outcome::Duplicate { profile_id, .. } => profile_id,
                    Outcome::Erased { .. } => return Err(AppError::identity_erased("the identities")),
                },
                None => profiles::resolve(c, input.profile_id.as_deref().unwrap_or_default()).map_err(AppError::or_missing("profile"))?.id,
            };
            store::open_case(c, &row, event.is_none())?;
            Ok(with_history(c, row.clone())?)
        })
    }

    pub fn case(&self, id: &str) -> AppResult<CaseView> {
        self.db.read(|c| store::case(c, id).and_then(|r| with_history(c, r))).map_err(AppError::or_missing("case"))
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
        let (actor, now) = (who.actor(), cdp_store::now_micros());
        self.db.write(|c| {
            let before = store::lock_case(c, id).map_err(AppError::or_missing("case"))?;
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
            store::save_case(c, &before, &after, note.as_deref(), &actor, now)?;
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
            overdue_at: q.overdue.then(cdp_store::now_micros),
            after: q.after,
        };
        self.db
            .read(|c| {
                if let Some(p) = &q.profile_id {
                    f.profile_id = Some(profiles::resolve(c, p)?.id);
                }
                store::list_cases(c, &f, limit)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Cases opened between two days (default: the last 30).
    pub fn case_stats(&self, from: Option<&str>, to: Option<&str>) -> AppResult<CaseStats> {
        let (from, to) = period(from, to, 30)?;
        let now = cdp_store::now_micros();
        let (rows, (active_now, overdue_now)) =
            self.db.read(|c| Ok::<_, AppError>((store::cases_opened_between(c, from, to)?, store::active_counts(c, now)?)))?;
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

    /// The agent's view of a person: open cases, the last `interactions`
    /// events on every channel, the last order, loyalty, value, consents and
    /// preferences. An operator's read is audited.
    pub fn agent_context(&self, who: &Principal, id: &str, interactions: i64) -> AppResult<Context> {
        if !(1..=100).contains(&interactions) {
            return Err(AppError::field("interactions", "out_of_range", "must be between 1 and 100"));
        }
        let currency = self.config.currency.clone();
        let context = self
            .db
            .read(|c| {
                let view = profiles::get(c, id)?;
                let pid = view.profile.id.clone();
                let open =
                    CaseFilter { statuses: vec!["open".into(), "pending".into()], profile_id: Some(pid.clone()), ..Default::default() };
                let (open_cases, _) = store::list_cases(c, &open, 50)?;
                let (recent_interactions, _) = profiles::timeline(c, &pid, None, None, interactions)?;
                let last_order = store::last_order(c, &pid)?.map(|(order_id, channel, revenue, refunded, cur, at, products)| {
                    (order_id, channel, revenue - refunded, cur, at, products)
                });
                let loyalty = match &view.loyalty {
                    Some((points, tier)) => {
                        let program = loyalty::program(c)?;
                        let name = program.tiers.iter().find(|t| &t.code == tier).map(|t| t.name.clone()).unwrap_or_default();
                        Some((*points, tier.clone(), name))
                    }
                    None => None,
                };
                Ok(Context {
                    value: value_of(c, view.profile.clone(), &currency)?,
                    consents: consents_of(c, &pid)?,
                    preferences: preferences_of(c, &pid)?,
                    profile: view,
                    open_cases,
                    recent_interactions,
                    last_order,
                    loyalty,
                })
            })
            .map_err(AppError::or_missing("profile"))?;
        self.audit_read(who, &context.profile.profile.id, "profile.context")?;
        Ok(context)
    }

    pub fn create_improvement(&self, who: &Principal, input: ImprovementInput) -> AppResult<ImprovementRow> {
        let title = text_field("title", Some(&input.title), 300, true)?.unwrap_or_default();
        let description = text_field("description", Some(&input.description), 5000, true)?.unwrap_or_default();
        if input.categories.is_empty() {
            return Err(AppError::field("categories", "required", "must name at least one category"));
        }
        let categories: Vec<String> = input
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| category_field(&format!("categories[{i}]"), Some(c), true).map(Option::unwrap_or_default))
            .collect::<AppResult<_>>()?;
        if !cdp_domain::consent::is_consent_channel(&input.channel) {
            return Err(AppError::field(
                "channel",
                "invalid",
                format!("must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", ")),
            ));
        }
        let now = cdp_store::now_micros();
        let row = ImprovementRow {
            id: cdp_store::new_id(),
            title,
            description,
            categories: json!(categories).to_string(),
            channel: input.channel,
            published_at: time_field("published_at", input.published_at.as_deref())?.unwrap_or(now),
            created_by: who.actor(),
            created_at: now,
        };
        self.db.write(|c| store::add_improvement(c, &row))?;
        Ok(row)
    }

    pub fn improvements(&self) -> AppResult<Vec<ImprovementRow>> {
        Ok(self.db.read(store::improvements)?)
    }

    /// Everyone who gave negative feedback in the improvement's categories up
    /// to its publication and whose consent on its channel is granted now.
    pub fn improvement_audience(&self, id: &str, after: Option<&str>, limit: i64) -> AppResult<Page<AudienceMember, String>> {
        self.db
            .read(|c| {
                let imp = store::improvement(c, id)?;
                let cats: Vec<String> = serde_json::from_str(&imp.categories).unwrap_or_default();
                let (rows, next) = store::audience(c, &cats, imp.published_at, &imp.channel, after, limit)?;
                let ids: Vec<String> = rows.iter().map(|r| r.0.clone()).collect();
                let mut views: std::collections::HashMap<String, ProfileView> =
                    profiles::get_many(c, &ids)?.into_iter().map(|v| (v.profile.id.clone(), v)).collect();
                let members = rows
                    .into_iter()
                    .filter_map(|(p, complaints, last)| {
                        views.remove(&p).map(|profile| AudienceMember { profile, complaints, last_complaint_at: last })
                    })
                    .collect();
                Ok((members, next))
            })
            .map_err(AppError::or_missing("improvement"))
    }

    /// An event assembled by a use case, parsed and normalised like any event.
    fn event_from(&self, who: &Principal, v: Value) -> AppResult<NewEvent> {
        let raw: RawEvent = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            AppError::field(if path == "." { "" } else { &path }, "invalid", e.inner().to_string())
        })?;
        Ok(NewEvent::parse(raw, &self.event_defaults(who, chrono::Utc::now()))?)
    }
}

fn with_history(c: &mut AnyConnection, case: CaseRow) -> StoreResult<CaseView> {
    let history = store::case_history(c, &case.id)?;
    Ok(CaseView { case, history })
}

/// A case is overdue while active past its due time.
pub fn is_overdue(case: &CaseRow, now: i64) -> bool {
    CaseStatus::parse(&case.status).is_some_and(CaseStatus::is_active) && case.due_at < now
}

fn text_field(field: &str, v: Option<&str>, max: usize, required: bool) -> AppResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None if required => Err(AppError::field(field, "required", "is required")),
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(AppError::field(field, "too_long", format!("must be at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn category_field(field: &str, v: Option<&str>, required: bool) -> AppResult<Option<String>> {
    let c = text_field(field, v, 64, required)?;
    if let Some(c) = &c {
        if !c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-') {
            return Err(AppError::field(field, "invalid", "must be a code such as `delivery` or `product_quality` ([a-z0-9_-])"));
        }
    }
    Ok(c)
}

fn channel_field(field: &str, v: &str) -> AppResult<Channel> {
    v.parse::<Channel>().map_err(|e| AppError::field(field, "invalid", e.to_string()))
}

/// An RFC 3339 time in micros, or the field's error.
pub fn time_field(field: &str, v: Option<&str>) -> AppResult<Option<i64>> {
    match v.filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => cdp_domain::event::parse_time(s)
            .map(|t| Some(t.timestamp_micros()))
            .ok_or_else(|| AppError::field(field, "invalid", "must be an RFC 3339 time")),
    }
}

/// Whole days `from` to `to` (dates; default the `days` up to today) as a
/// range of micros, end exclusive.
fn period(from: Option<&str>, to: Option<&str>, days: i64) -> AppResult<(i64, i64)> {
    let today = chrono::Utc::now().timestamp().div_euclid(86_400);
    let day = |field: &str, v: Option<&str>, dflt: i64| match v.filter(|s| !s.is_empty()) {
        None => Ok(dflt),
        Some(s) => parse_day(s).ok_or_else(|| AppError::field(field, "invalid", "must be a date such as 2026-11-23")),
    };
    let to = day("to", to, today)?;
    let from = day("from", from, to - days + 1)?;
    if from > to {
        return Err(AppError::field("from", "invalid", "must not be after `to`"));
    }
    Ok((from * DAY_US, (to + 1) * DAY_US))
}
