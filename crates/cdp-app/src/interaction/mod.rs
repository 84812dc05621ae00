//! Interaction: surveys and feedback (NPS, CSAT, text with sentiment), cases
//! with SLA, the agent's context view, and "you spoke, we listened".

mod cases;
mod context;
mod feedback;
mod improvements;

pub use crate::store::{CaseFilter, CaseHistoryRow, CaseRow, FeedbackFilter, FeedbackRow, ImprovementRow, SurveyRow};
pub use cases::*;
pub use context::*;
pub use feedback::*;
pub use improvements::*;

use crate::value::parse_day;
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::{Channel, NewEvent, RawEvent};
use serde_json::Value;

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 86_400_000_000;

impl App {
    /// An event assembled by a use case, parsed and normalised like any event.
    fn event_from(&self, who: &Principal, v: Value) -> AppResult<NewEvent> {
        let raw: RawEvent = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            AppError::field(if path == "." { "" } else { &path }, "invalid", e.inner().to_string())
        })?;
        Ok(NewEvent::parse(raw, &self.event_defaults(who, chrono::Utc::now()))?)
    }
}

pub(crate) fn text_field(field: &str, v: Option<&str>, max: usize, required: bool) -> AppResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None if required => Err(AppError::field(field, "required", "is required")),
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(AppError::field(field, "too_long", format!("must be at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

pub(crate) fn category_field(field: &str, v: Option<&str>, required: bool) -> AppResult<Option<String>> {
    let c = text_field(field, v, 64, required)?;
    if let Some(c) = &c {
        if !c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-') {
            return Err(AppError::field(field, "invalid", "must be a code such as `delivery` or `product_quality` ([a-z0-9_-])"));
        }
    }
    Ok(c)
}

pub(crate) fn channel_field(field: &str, v: &str) -> AppResult<Channel> {
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
pub(crate) fn period(from: Option<&str>, to: Option<&str>, days: i64) -> AppResult<(i64, i64)> {
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
