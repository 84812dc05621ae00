//! Segments and audiences: rules stored with versions, evaluated in the
//! database, membership kept with entry and exit times, members exported
//! with keyset paging and an optional consent filter.

use crate::store::{EvalContext, LoyaltyStore, Page, ProfileStore, RefreshOutcome, SegmentStore, StoreResult, Tx};
pub use crate::store::{MemberFilter, MemberRow, SegmentRow};
use crate::value::parse_day;
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::commerce::minor_digits;
use cdp_domain::event::parse_time;
use cdp_domain::segment::{self, Rule};
use serde_json::Value;

/// A segment to create or replace: its rule is a new version.
#[derive(Debug, Clone)]
pub struct SegmentInput {
    pub name: String,
    pub description: Option<String>,
    pub rule: Value,
    /// A time or a date (its end) that event windows end at; default now.
    pub as_of: Option<String>,
    /// Refreshed by the server every so many minutes (1 to 10080); none: on request only.
    pub refresh_every_minutes: Option<i32>,
}

fn check_refresh(minutes: Option<i32>) -> AppResult<Option<i32>> {
    match minutes {
        Some(m) if !(1..=10_080).contains(&m) => {
            Err(AppError::field("refresh_every_minutes", "out_of_range", "must be between 1 and 10080 (a week), or null"))
        }
        m => Ok(m),
    }
}

impl App {
    /// Creates a segment and evaluates it at once.
    pub fn create_segment(&self, who: &Principal, input: SegmentInput) -> AppResult<SegmentRow> {
        let (name, description) = check_text(&input.name, input.description.as_deref())?;
        let rule = self.parse_rule(&input.rule)?;
        let ctx = self.eval_context(parse_as_of("as_of", input.as_of.as_deref())?);
        let refresh_every_minutes = check_refresh(input.refresh_every_minutes)?;
        let (actor, text) = (who.actor(), input.rule.to_string());
        Ok(self.db.write(|c| {
            let now = crate::store::now_micros();
            let row = SegmentRow {
                id: crate::store::new_id(),
                name: name.clone(),
                description: description.clone(),
                rule: text.clone(),
                version: 1,
                size: 0,
                entered: 0,
                exited: 0,
                refreshed_at: None,
                as_of: None,
                created_by: actor.clone(),
                created_at: now,
                updated_at: now,
                refresh_every_minutes,
            };
            SegmentStore::create(c, &row)?;
            refresh_locked(c, &row, &rule, ctx)?;
            SegmentStore::get(c, &row.id)
        })?)
    }

    pub fn segments(&self) -> AppResult<Vec<SegmentRow>> {
        Ok(self.db.read(|c| SegmentStore::list(c))?)
    }

    pub fn segment(&self, id: &str) -> AppResult<SegmentRow> {
        self.db.read(|c| SegmentStore::get(c, id)).map_err(AppError::or_missing("segment"))
    }

    /// Replaces a segment's name, description and rule (a new version) and evaluates it.
    pub fn update_segment(&self, who: &Principal, id: &str, input: SegmentInput) -> AppResult<SegmentRow> {
        let (name, description) = check_text(&input.name, input.description.as_deref())?;
        let rule = self.parse_rule(&input.rule)?;
        let ctx = self.eval_context(parse_as_of("as_of", input.as_of.as_deref())?);
        let refresh_every_minutes = check_refresh(input.refresh_every_minutes)?;
        let (actor, text) = (who.actor(), input.rule.to_string());
        self.db
            .write(|c| {
                let edit = crate::store::SegmentEdit { name: &name, description: &description, rule: &text, refresh_every_minutes };
                let seg = SegmentStore::update(c, id, &edit, &actor, crate::store::now_micros())?;
                refresh_locked(c, &seg, &rule, ctx)?;
                SegmentStore::get(c, id)
            })
            .map_err(AppError::or_missing("segment"))
    }

    pub fn delete_segment(&self, id: &str) -> AppResult<()> {
        self.db.write(|c| SegmentStore::delete(c, id)).map_err(AppError::or_missing("segment"))
    }

    /// Evaluates a segment again (as of a time or date; default now),
    /// recording who entered and who left.
    pub fn refresh_segment(&self, id: &str, as_of: Option<&str>) -> AppResult<SegmentRow> {
        let ctx = self.eval_context(parse_as_of("as_of", as_of)?);
        self.db
            .write(|c| {
                let seg = SegmentStore::lock(c, id)?;
                // A stored rule was valid when saved; a tier removed since matches nobody.
                let rule = serde_json::from_str::<Value>(&seg.rule)
                    .ok()
                    .and_then(|v| segment::parse(&v).ok())
                    .ok_or_else(|| crate::store::StoreError::Corrupt(format!("segment {id} holds an invalid rule")))?;
                refresh_locked(c, &seg, &rule, ctx)?;
                SegmentStore::get(c, id)
            })
            .map_err(AppError::or_missing("segment"))
    }

    /// How many profiles a rule matches, without saving anything.
    pub fn preview_segment(&self, rule: &Value, as_of: Option<&str>) -> AppResult<i64> {
        let rule = self.parse_rule(rule)?;
        let ctx = self.eval_context(parse_as_of("as_of", as_of)?);
        Ok(self.db.read(|c| SegmentStore::count(c, &rule, ctx))?)
    }

    /// A page of members with their profiles, by profile id; with a consent
    /// channel only those whose consent there is granted now.
    pub fn segment_members(
        &self,
        id: &str,
        filter: MemberFilter,
        limit: i64,
    ) -> AppResult<Page<(crate::store::ProfileView, MemberRow), String>> {
        if let Some(ch) = filter.consent.as_deref().filter(|c| !cdp_domain::consent::is_consent_channel(c)) {
            return Err(AppError::field(
                "consent",
                "invalid",
                format!("`{ch}` must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", ")),
            ));
        }
        if let Some(p) = filter.purpose.as_deref().filter(|p| !cdp_domain::consent::is_purpose(p)) {
            return Err(AppError::field(
                "purpose",
                "invalid",
                format!("`{p}` must be one of {}", cdp_domain::consent::PURPOSES.join(", ")),
            ));
        }
        self.db
            .read(|c| {
                SegmentStore::get(c, id)?;
                let (rows, next) = SegmentStore::members(c, id, &filter, limit)?;
                let ids: Vec<String> = rows.iter().map(|r| r.profile_id.clone()).collect();
                Ok((ProfileStore::get_many(c, &ids)?.into_iter().zip(rows).collect(), next))
            })
            .map_err(AppError::or_missing("segment"))
    }

    /// Membership periods that began or ended after `since`.
    pub fn segment_changes(
        &self,
        id: &str,
        since: i64,
        after: Option<(String, i64)>,
        limit: i64,
    ) -> AppResult<Page<MemberRow, (String, i64)>> {
        self.db
            .read(|c| {
                SegmentStore::get(c, id)?;
                SegmentStore::changes(c, id, since, after.clone(), limit)
            })
            .map_err(AppError::or_missing("segment"))
    }

    /// Every version of a segment's rule: (version, rule JSON, created_by, created_at).
    pub fn segment_versions(&self, id: &str) -> AppResult<Vec<(i32, String, String, i64)>> {
        self.db
            .read(|c| {
                SegmentStore::get(c, id)?;
                SegmentStore::versions(c, id)
            })
            .map_err(AppError::or_missing("segment"))
    }

    /// A rule checked against the language and the programme's tiers.
    fn parse_rule(&self, rule: &Value) -> AppResult<Rule> {
        let program = self.db.read(|c| LoyaltyStore::program(c))?;
        let tiers: Vec<String> = program.tiers.iter().map(|t| t.code.clone()).collect();
        Ok(segment::parse_with_tiers(rule, Some(&tiers))?)
    }

    fn eval_context(&self, as_of: i64) -> EvalContext {
        EvalContext { as_of, money_scale: 10f64.powi(minor_digits(&self.config.currency) as i32) }
    }
}

/// A time, or a date meaning its last microsecond; now when absent.
fn parse_as_of(field: &str, v: Option<&str>) -> AppResult<i64> {
    let Some(s) = v.filter(|s| !s.is_empty()) else { return Ok(crate::store::now_micros()) };
    if let Some(day) = parse_day(s) {
        return Ok((day + 1) * 86_400_000_000 - 1);
    }
    parse_time(s).map(|t| t.timestamp_micros()).ok_or_else(|| AppError::field(field, "invalid", "must be an RFC 3339 time or a date"))
}

fn check_text(name: &str, description: Option<&str>) -> AppResult<(String, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::field("name", "invalid", "must be 1 to 200 characters"));
    }
    let description = description.unwrap_or_default().trim();
    if description.chars().count() > 2000 {
        return Err(AppError::field("description", "too_long", "must be at most 2000 characters"));
    }
    Ok((name.to_string(), description.to_string()))
}

fn refresh_locked(c: &mut dyn Tx, seg: &SegmentRow, rule: &Rule, ctx: EvalContext) -> StoreResult<RefreshOutcome> {
    let now = crate::store::now_micros().max(seg.refreshed_at.map_or(0, |t| t + 1));
    SegmentStore::refresh(c, &seg.id, rule, ctx, now)
}
