//! Surveys, feedback answers with their sentiment, and NPS / CSAT.

use super::{category_field, channel_field, period, text_field, time_field};
use crate::store::{Fact, FeedbackFilter, FeedbackRow, IngestStore, InteractionStore, OutboxStore, Outcome, Page, ProfileStore, SurveyRow};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::interaction::{self, FeedbackKind, Satisfaction};
use cdp_domain::Channel;
use serde_json::{json, Value};
use std::collections::BTreeMap;

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
            id: crate::store::new_id(),
            name,
            kind: kind.as_str().into(),
            question,
            channels: json!(channels).to_string(),
            created_by: who.actor(),
            created_at: crate::store::now_micros(),
        };
        self.db.write(|c| InteractionStore::add_survey(c, &row))?;
        Ok(row)
    }

    pub fn surveys(&self) -> AppResult<Vec<SurveyRow>> {
        Ok(self.db.read(|c| InteractionStore::surveys(c))?)
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
        let now = crate::store::now_micros();
        let occurred_at = time_field("occurred_at", input.occurred_at.as_deref())?.unwrap_or(now);
        let id = crate::store::new_id();
        let properties = json!({"feedback_id": id, "kind": kind.as_str(), "score": score, "text": text, "category": category,
            "sentiment": sentiment.map(|s| s.label), "survey_id": input.survey_id, "order_id": input.order_id, "case_id": input.case_id});
        let event = match (&input.identities, &input.profile_id) {
            (Some(ids), _) => Some(self.event_from(
                who,
                json!({"type": "track", "event": "Feedback Submitted", "channel": channel.as_str(), "identities": ids,
                       "occurred_at": crate::store::from_micros(occurred_at).to_rfc3339(), "properties": properties,
                       "message_id": input.message_id}),
            )?),
            (None, Some(_)) => None,
            (None, None) => return Err(AppError::field("identities", "required", "give identities or profile_id")),
        };
        let (origin, actor) = (who.origin(), who.actor());
        self.db.write(|c| {
            if let Some(sid) = &input.survey_id {
                let s = InteractionStore::survey(c, sid).map_err(|e| match e {
                    crate::store::StoreError::NotFound => AppError::field("survey_id", "not_found", "names no survey"),
                    e => e.into(),
                })?;
                if s.kind != kind.as_str() {
                    return Err(AppError::field("kind", "invalid", "differs from the survey's kind"));
                }
            }
            let (event_id, profile_id) = match &event {
                Some(e) => match IngestStore::ingest_one(c, &origin, e, &self.config.currency, now)? {
                    Outcome::Accepted { id, profile_id } => (id, profile_id),
                    Outcome::Duplicate { id, .. } => return Ok((InteractionStore::feedback_by_event(c, &id)?, false)),
                    Outcome::Erased { .. } => return Err(AppError::identity_erased("the identities")),
                },
                None => {
                    let p = ProfileStore::resolve(c, input.profile_id.as_deref().unwrap_or_default())
                        .map_err(AppError::or_missing("profile"))?;
                    let eid = InteractionStore::append_event(
                        c,
                        &p.id,
                        &actor,
                        "Feedback Submitted",
                        channel.as_str(),
                        &properties,
                        occurred_at,
                        now,
                    )?;
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
            InteractionStore::add_feedback(c, &row)?;
            if kind.is_negative(score, row.sentiment_label.as_deref()) {
                let data = json!({"feedback_id": row.id, "kind": row.kind, "score": score, "text": row.body, "category": row.category,
                    "channel": row.channel, "order_id": row.order_id, "case_id": row.case_id});
                let fact = Fact { kind: "feedback.negative", profile_id: row.profile_id.clone(), data: data.to_string(), occurred_at };
                OutboxStore::enqueue(c, &[fact], now)?;
            }
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
                    f.profile_id = Some(ProfileStore::resolve(c, p)?.id);
                }
                InteractionStore::list_feedback(c, &f, limit)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// NPS and CSAT between two days (default: the last 90), optionally of one channel or city.
    pub fn nps(&self, from: Option<&str>, to: Option<&str>, channel: Option<&str>, city: Option<&str>) -> AppResult<NpsReport> {
        let (from, to) = period(from, to, 90)?;
        let channel = channel.map(|c| channel_field("channel", c)).transpose()?;
        let rows = self.db.read(|c| InteractionStore::scores_between(c, from, to, channel.map(Channel::as_str)))?;
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
            report.by_month.entry(crate::store::from_micros(at).format("%Y-%m").to_string()).or_default().add(kind, score);
        }
        Ok(report)
    }
}
