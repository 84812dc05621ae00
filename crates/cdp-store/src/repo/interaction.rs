//! Surveys, feedback, cases with their history, improvement announcements,
//! and the timeline events they leave.

use super::page_end;
use crate::error::StoreResult;
use crate::schema::{case_history, cases, consent_state, events, feedback, improvements, orders, profiles, surveys};
use crate::{new_id, AnyConnection};
use diesel::prelude::*;

/// Writes an event the platform itself records (a case opened, a tier
/// changed…) on a profile's timeline; answers its id.
#[allow(clippy::too_many_arguments)]
pub fn append_event(
    conn: &mut AnyConnection,
    profile: &str,
    source_key: &str,
    name: &str,
    channel: &str,
    properties: &serde_json::Value,
    at: i64,
    now: i64,
) -> StoreResult<String> {
    let id = new_id();
    diesel::insert_into(events::table)
        .values((
            events::id.eq(&id),
            events::profile_id.eq(profile),
            events::source_key.eq(source_key),
            events::event_type.eq("track"),
            events::name.eq(name),
            events::channel.eq(channel),
            events::occurred_at.eq(at),
            events::received_at.eq(now),
            events::identities.eq("[]"),
            events::traits.eq("{}"),
            events::properties.eq(properties.to_string()),
            events::context.eq("{}"),
        ))
        .execute(conn)?;
    diesel::update(profiles::table.find(profile)).set(profiles::event_count.eq(profiles::event_count + 1)).execute(conn)?;
    Ok(id)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = surveys)]
pub struct SurveyRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub question: String,
    pub channels: String,
    pub created_by: String,
    pub created_at: i64,
}

pub fn add_survey(conn: &mut AnyConnection, row: &SurveyRow) -> StoreResult<()> {
    diesel::insert_into(surveys::table).values(row).execute(conn)?;
    Ok(())
}

pub fn survey(conn: &mut AnyConnection, id: &str) -> StoreResult<SurveyRow> {
    Ok(surveys::table.find(id).select(SurveyRow::as_select()).first(conn)?)
}

pub fn surveys(conn: &mut AnyConnection) -> StoreResult<Vec<SurveyRow>> {
    Ok(surveys::table.order((surveys::created_at.asc(), surveys::id.asc())).select(SurveyRow::as_select()).load(conn)?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = feedback, treat_none_as_default_value = false)]
pub struct FeedbackRow {
    pub id: String,
    pub profile_id: String,
    pub event_id: String,
    pub survey_id: Option<String>,
    pub kind: String,
    pub score: Option<i64>,
    pub body: Option<String>,
    pub category: Option<String>,
    pub channel: String,
    pub sentiment_label: Option<String>,
    pub sentiment_score: Option<f64>,
    pub order_id: Option<String>,
    pub case_id: Option<String>,
    pub occurred_at: i64,
    pub received_at: i64,
}

pub fn add_feedback(conn: &mut AnyConnection, row: &FeedbackRow) -> StoreResult<()> {
    diesel::insert_into(feedback::table).values(row).execute(conn)?;
    Ok(())
}

/// The feedback recorded with a timeline event (to answer a retry).
pub fn feedback_by_event(conn: &mut AnyConnection, event_id: &str) -> StoreResult<FeedbackRow> {
    Ok(feedback::table.filter(feedback::event_id.eq(event_id)).select(FeedbackRow::as_select()).first(conn)?)
}

pub use cdp_app::store::FeedbackFilter;

/// A page of feedback, newest first.
pub fn list_feedback(conn: &mut AnyConnection, f: &FeedbackFilter, limit: i64) -> StoreResult<super::Page<FeedbackRow>> {
    let mut q = feedback::table.into_boxed();
    if let Some(s) = &f.sentiment {
        q = q.filter(feedback::sentiment_label.eq(s.clone()));
    }
    if let Some(c) = &f.category {
        q = q.filter(feedback::category.eq(c.clone()));
    }
    if let Some(p) = &f.profile_id {
        q = q.filter(feedback::profile_id.eq(p.clone()));
    }
    if let Some(t) = f.from {
        q = q.filter(feedback::occurred_at.ge(t));
    }
    if let Some(t) = f.to {
        q = q.filter(feedback::occurred_at.lt(t));
    }
    if let Some((t, id)) = &f.after {
        q = q.filter(feedback::occurred_at.lt(*t).or(feedback::occurred_at.eq(*t).and(feedback::id.lt(id.clone()))));
    }
    let mut rows: Vec<FeedbackRow> =
        q.order((feedback::occurred_at.desc(), feedback::id.desc())).limit(limit + 1).select(FeedbackRow::as_select()).load(conn)?;
    let next = page_end(&mut rows, limit, |r| (r.occurred_at, r.id.clone()));
    Ok((rows, next))
}

pub use cdp_app::store::ScoredAnswer;

/// Scored answers in a period, with the profile's traits (for the city).
pub fn scores_between(conn: &mut AnyConnection, from: i64, to: i64, channel: Option<&str>) -> StoreResult<Vec<ScoredAnswer>> {
    let mut q = feedback::table
        .inner_join(profiles::table.on(profiles::id.eq(feedback::profile_id)))
        .filter(feedback::occurred_at.ge(from))
        .filter(feedback::occurred_at.lt(to))
        .filter(feedback::score.is_not_null())
        .into_boxed();
    if let Some(ch) = channel {
        q = q.filter(feedback::channel.eq(ch.to_string()));
    }
    Ok(q.select((feedback::kind, feedback::score, feedback::channel, feedback::occurred_at, profiles::traits)).load(conn)?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = cases, treat_none_as_default_value = false)]
pub struct CaseRow {
    pub id: String,
    pub profile_id: String,
    pub category: String,
    pub priority: String,
    pub channel: String,
    pub subject: String,
    pub description: String,
    pub status: String,
    pub assignee: Option<String>,
    pub resolution: Option<String>,
    pub due_at: i64,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable)]
#[diesel(table_name = case_history)]
pub struct CaseHistoryRow {
    pub id: String,
    pub case_id: String,
    pub status: String,
    pub assignee: Option<String>,
    pub note: Option<String>,
    pub actor: String,
    pub at: i64,
}

fn add_history(conn: &mut AnyConnection, c: &CaseRow, note: Option<&str>, actor: &str, at: i64) -> StoreResult<()> {
    diesel::insert_into(case_history::table)
        .values((
            case_history::id.eq(new_id()),
            case_history::case_id.eq(&c.id),
            case_history::status.eq(&c.status),
            case_history::assignee.eq(&c.assignee),
            case_history::note.eq(note),
            case_history::actor.eq(actor),
            case_history::at.eq(at),
        ))
        .execute(conn)?;
    Ok(())
}

/// What a `Case Opened` event carries (the application says).
fn case_opened_properties(row: &CaseRow) -> serde_json::Value {
    cdp_app::store::CaseRow::from(row.clone()).opened_properties()
}

/// Opens a case: the row, its first history entry and, unless ingestion
/// already wrote it, a `Case Opened` event.
pub fn open_case(conn: &mut AnyConnection, row: &CaseRow, with_event: bool) -> StoreResult<()> {
    diesel::insert_into(cases::table).values(row).execute(conn)?;
    add_history(conn, row, None, &row.created_by, row.created_at)?;
    if with_event {
        append_event(
            conn,
            &row.profile_id,
            "cases",
            "Case Opened",
            &row.channel,
            &case_opened_properties(row),
            row.created_at,
            row.created_at,
        )?;
    }
    Ok(())
}

pub fn case(conn: &mut AnyConnection, id: &str) -> StoreResult<CaseRow> {
    Ok(cases::table.find(id).select(CaseRow::as_select()).first(conn)?)
}

/// The case locked for an update (until the transaction ends).
pub fn lock_case(conn: &mut AnyConnection, id: &str) -> StoreResult<CaseRow> {
    if diesel::update(cases::table.find(id)).set(cases::updated_at.eq(cases::updated_at)).execute(conn)? == 0 {
        return Err(crate::StoreError::NotFound);
    }
    case(conn, id)
}

/// Saves a changed case, its history entry and, when its status changed, a
/// `Case <Status>` event on the timeline.
pub fn save_case(
    conn: &mut AnyConnection,
    before: &CaseRow,
    after: &CaseRow,
    note: Option<&str>,
    actor: &str,
    now: i64,
) -> StoreResult<()> {
    diesel::update(cases::table.find(&after.id)).set(after).execute(conn)?;
    add_history(conn, after, note, actor, now)?;
    if before.status != after.status {
        let mut status = after.status.clone();
        status[..1].make_ascii_uppercase();
        let props = serde_json::json!({"case_id": after.id, "category": after.category, "from": before.status, "to": after.status,
                                       "assignee": after.assignee, "resolution": after.resolution, "by": actor});
        append_event(conn, &after.profile_id, "cases", &format!("Case {status}"), &after.channel, &props, now, now)?;
    }
    Ok(())
}

pub fn case_history(conn: &mut AnyConnection, id: &str) -> StoreResult<Vec<CaseHistoryRow>> {
    Ok(case_history::table
        .filter(case_history::case_id.eq(id))
        .order((case_history::at.asc(), case_history::id.asc()))
        .select(CaseHistoryRow::as_select())
        .load(conn)?)
}

pub use cdp_app::store::CaseFilter;

/// A page of cases, newest first.
pub fn list_cases(conn: &mut AnyConnection, f: &CaseFilter, limit: i64) -> StoreResult<super::Page<CaseRow>> {
    let mut q = cases::table.into_boxed();
    if !f.statuses.is_empty() {
        q = q.filter(cases::status.eq_any(f.statuses.clone()));
    }
    if let Some(p) = &f.profile_id {
        q = q.filter(cases::profile_id.eq(p.clone()));
    }
    if let Some(a) = &f.assignee {
        q = q.filter(cases::assignee.eq(a.clone()));
    }
    if let Some(t) = f.overdue_at {
        q = q.filter(cases::status.eq_any(["open", "pending"])).filter(cases::due_at.lt(t));
    }
    if let Some((t, id)) = &f.after {
        q = q.filter(cases::created_at.lt(*t).or(cases::created_at.eq(*t).and(cases::id.lt(id.clone()))));
    }
    let mut rows: Vec<CaseRow> =
        q.order((cases::created_at.desc(), cases::id.desc())).limit(limit + 1).select(CaseRow::as_select()).load(conn)?;
    let next = page_end(&mut rows, limit, |r| (r.created_at, r.id.clone()));
    Ok((rows, next))
}

/// Cases opened in [from, to).
pub fn cases_opened_between(conn: &mut AnyConnection, from: i64, to: i64) -> StoreResult<Vec<CaseRow>> {
    Ok(cases::table.filter(cases::created_at.ge(from)).filter(cases::created_at.lt(to)).select(CaseRow::as_select()).load(conn)?)
}

/// How many cases are active now, and how many of them are past due.
pub fn active_counts(conn: &mut AnyConnection, now: i64) -> StoreResult<(i64, i64)> {
    let active = cases::table.filter(cases::status.eq_any(["open", "pending"])).count().get_result(conn)?;
    let overdue = cases::table.filter(cases::status.eq_any(["open", "pending"])).filter(cases::due_at.lt(now)).count().get_result(conn)?;
    Ok((active, overdue))
}

/// The newest order of a profile: (order_id, channel, revenue, refunded, currency, occurred_at, products JSON).
#[allow(clippy::type_complexity)]
pub fn last_order(conn: &mut AnyConnection, profile: &str) -> StoreResult<Option<(String, String, i64, i64, String, i64, String)>> {
    Ok(orders::table
        .filter(orders::profile_id.eq(profile))
        .order((orders::occurred_at.desc(), orders::order_id.desc()))
        .select((
            orders::order_id,
            orders::channel,
            orders::revenue,
            orders::refunded,
            orders::currency,
            orders::occurred_at,
            orders::products,
        ))
        .first(conn)
        .optional()?)
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = improvements)]
pub struct ImprovementRow {
    pub id: String,
    pub title: String,
    pub description: String,
    pub categories: String,
    pub channel: String,
    pub published_at: i64,
    pub created_by: String,
    pub created_at: i64,
}

pub fn add_improvement(conn: &mut AnyConnection, row: &ImprovementRow) -> StoreResult<()> {
    diesel::insert_into(improvements::table).values(row).execute(conn)?;
    Ok(())
}

pub fn improvement(conn: &mut AnyConnection, id: &str) -> StoreResult<ImprovementRow> {
    Ok(improvements::table.find(id).select(ImprovementRow::as_select()).first(conn)?)
}

pub fn improvements(conn: &mut AnyConnection) -> StoreResult<Vec<ImprovementRow>> {
    Ok(improvements::table
        .order((improvements::published_at.desc(), improvements::id.desc()))
        .select(ImprovementRow::as_select())
        .load(conn)?)
}

/// People who gave negative feedback in one of `categories` up to `until`
/// and whose consent on `channel` is granted now: a page by profile id, each
/// with their complaints' count and the last one's time.
pub fn audience(
    conn: &mut AnyConnection,
    categories: &[String],
    until: i64,
    channel: &str,
    after: Option<&str>,
    limit: i64,
) -> StoreResult<super::Page<(String, i64, i64), String>> {
    let consenting = consent_state::table
        .filter(consent_state::channel.eq(channel.to_string()))
        .filter(consent_state::purpose.eq(cdp_domain::consent::DEFAULT_PURPOSE))
        .filter(consent_state::status.eq("granted"))
        .select(consent_state::profile_id);
    let mut rows: Vec<(String, i64, Option<i64>)> = feedback::table
        .filter(feedback::sentiment_label.eq("negative"))
        .filter(feedback::category.eq_any(categories.to_vec()))
        .filter(feedback::occurred_at.le(until))
        .filter(feedback::profile_id.eq_any(consenting))
        .filter(feedback::profile_id.gt(after.unwrap_or_default().to_string()))
        .group_by(feedback::profile_id)
        .select((feedback::profile_id, diesel::dsl::count_star(), diesel::dsl::max(feedback::occurred_at)))
        .order(feedback::profile_id.asc())
        .limit(limit + 1)
        .load(conn)?;
    let next = page_end(&mut rows, limit, |r| r.0.clone());
    Ok((rows.into_iter().map(|(p, n, t)| (p, n, t.unwrap_or(0))).collect(), next))
}

/// Moves a merged-away profile's feedback and cases to its survivor.
pub fn move_profile(conn: &mut AnyConnection, merged: &str, into: &str) -> StoreResult<()> {
    crate::repo::move_rows!(&mut *conn, feedback, merged, into)?;
    crate::repo::move_rows!(&mut *conn, cases, merged, into)?;
    Ok(())
}
