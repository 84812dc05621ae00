//! Interaction: surveys and feedback (NPS, CSAT, text with sentiment), cases
//! with SLA, the agent's context view, and "you spoke, we listened".

use crate::auth::Auth;
use crate::body::{from_value, json_body};
use crate::dto::{cursor_decode, cursor_encode, page_limit, time_id, time_param, ts, List, Page};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::routes::analytics::{parse_day, value_of, ValueOut};
use crate::routes::consent::{consents_of, preferences_of, ConsentsOut, PreferencesOut};
use crate::routes::events::defaults_for;
use crate::routes::profiles::{EventOut, ProfileOut};
use crate::state::AppState;
use actix_web::{get, patch, post, web, HttpRequest, HttpResponse};
use cdp_app::Principal;
use cdp_domain::auth::Scope;
use cdp_domain::commerce::to_major;
use cdp_domain::interaction::{self, CaseStatus, FeedbackKind, Priority, Satisfaction};
use cdp_domain::{Channel, NewEvent, RawEvent};
use cdp_store::repo::ingest::{self, Outcome};
use cdp_store::repo::interaction::{self as store, CaseFilter, CaseRow, FeedbackFilter, FeedbackRow, ImprovementRow, SurveyRow};
use cdp_store::repo::{loyalty, profiles};
use cdp_store::{AnyConnection, StoreResult};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};

const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 86_400_000_000;

fn text_field(field: &str, v: Option<&str>, max: usize, required: bool) -> ApiResult<Option<String>> {
    match v.map(str::trim).filter(|s| !s.is_empty()) {
        None if required => Err(ApiError::field(field, "required", "is required")),
        None => Ok(None),
        Some(s) if s.chars().count() > max => Err(ApiError::field(field, "too_long", format!("must be at most {max} characters"))),
        Some(s) => Ok(Some(s.to_string())),
    }
}

fn category_field(field: &str, v: Option<&str>, required: bool) -> ApiResult<Option<String>> {
    let c = text_field(field, v, 64, required)?;
    if let Some(c) = &c {
        if !c.chars().all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_' || ch == '-') {
            return Err(ApiError::field(field, "invalid", "must be a code such as `delivery` or `product_quality` ([a-z0-9_-])"));
        }
    }
    Ok(c)
}

fn channel_field(field: &str, v: &str) -> ApiResult<Channel> {
    v.parse::<Channel>().map_err(|e| ApiError::field(field, "invalid", e.to_string()))
}

/// [from, to) in µs from dates (inclusive, `to` default today, `from` default `days` before).
fn period(from: Option<&str>, to: Option<&str>, days: i64) -> ApiResult<(i64, i64)> {
    let today = chrono::Utc::now().timestamp().div_euclid(86_400);
    let day = |field: &str, v: Option<&str>, dflt: i64| match v.filter(|s| !s.is_empty()) {
        None => Ok(dflt),
        Some(s) => parse_day(s).ok_or_else(|| ApiError::field(field, "invalid", "must be a date such as 2026-11-23")),
    };
    let to = day("to", to, today)?;
    let from = day("from", from, to - days + 1)?;
    if from > to {
        return Err(ApiError::field("from", "invalid", "must not be after `to`"));
    }
    Ok((from * DAY_US, (to + 1) * DAY_US))
}

mod cases;
mod context;
mod feedback;
mod improvements;
mod nps;
mod surveys;

pub use cases::*;
pub use context::*;
pub use feedback::*;
pub use improvements::*;
pub use nps::*;
pub use surveys::*;

/// What a store write answers when ingestion refused an erased person's identity.
const ERASED: &str = "erased";

/// An event assembled by an endpoint, parsed and normalised like any event.
fn event_from(state: &AppState, who: &Principal, v: Value) -> ApiResult<NewEvent> {
    let raw: RawEvent = from_value(v)?;
    Ok(NewEvent::parse(raw, &defaults_for(state, who))?)
}

/// Store errors of writes that resolve a person: an erased identity is 409
/// `identity_erased`, a missing row 404 naming `what`.
fn store_error(what: &'static str) -> impl Fn(cdp_store::StoreError) -> ApiError {
    move |e| match e {
        cdp_store::StoreError::Conflict(m) if m == ERASED => crate::routes::events::identity_erased("the identities"),
        e => ApiError::or_missing(what)(e),
    }
}
