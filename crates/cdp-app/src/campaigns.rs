//! Campaigns measured against a holdout: a snapshot of a segment's members,
//! each assigned to treatment or control by a hash, the assignments for the
//! marketing tool, and results per group.

pub use crate::store::CampaignRow;
use crate::store::{AssignmentFilter, Fact, MemberFilter, OutboxStore, Page, ProgrammeStore, SegmentStore};
use crate::{App, AppError, AppResult};
use cdp_domain::campaign::{self, GroupTotals, Results};
use cdp_domain::{FieldError, FieldErrors};
use std::collections::HashMap;

/// A campaign as asked for.
#[derive(Debug, Clone)]
pub struct CampaignInput {
    pub name: String,
    pub segment_id: String,
    pub holdout_percent: f64,
    pub goal_event: String,
    pub window_days: i32,
    /// RFC 3339; default now.
    pub starts_at: Option<String>,
}

/// A campaign's results: each group's totals and the comparison.
#[derive(Debug, Clone)]
pub struct CampaignResults {
    pub campaign: CampaignRow,
    pub treatment: GroupTotals,
    pub control: GroupTotals,
    pub results: Results,
}

const DAY: i64 = 86_400_000_000;

/// Segment members read at a time when a whole segment is taken: large, as
/// PostgreSQL read a big segment in small pages several times slower than at
/// once (docs/benchmarks.md).
pub(crate) const MEMBERS_PAGE: i64 = 1_000_000;

/// The revenue an event's `revenue` property holds (a number, or a number
/// written as text); 0 otherwise.
fn revenue_of(v: Option<&str>) -> f64 {
    v.and_then(|s| s.trim().parse::<f64>().ok()).filter(|x| x.is_finite()).unwrap_or(0.0)
}

impl App {
    /// Creates a campaign: the segment's current members, assigned by hash,
    /// each assignment a `campaign.assigned` fact, in one transaction.
    pub fn create_campaign(&self, input: CampaignInput) -> AppResult<CampaignRow> {
        let mut errors = FieldErrors::default();
        let name = input.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            errors.push(FieldError::new("name", "invalid", "must be 1 to 200 characters"));
        }
        let holdout = campaign::holdout_basis_points(input.holdout_percent);
        if holdout.is_none() {
            errors.push(FieldError::new("holdout_percent", "out_of_range", "must be 0 to 50, with at most two decimals"));
        }
        let goal = input.goal_event.trim().to_string();
        if goal.is_empty() || goal.chars().count() > 200 {
            errors.push(FieldError::new("goal.event", "invalid", "must be 1 to 200 characters"));
        }
        if !(1..=366).contains(&input.window_days) {
            errors.push(FieldError::new("goal.window_days", "out_of_range", "must be 1 to 366"));
        }
        let starts_at = match crate::interaction::time_field("starts_at", input.starts_at.as_deref()) {
            Ok(t) => t,
            Err(AppError::Invalid(e)) => {
                errors.0.extend(e.0);
                None
            }
            Err(e) => return Err(e),
        };
        let (Some(holdout_bp), true) = (holdout, errors.is_empty()) else {
            return Err(errors.into());
        };
        let now = crate::store::now_micros();
        let id = crate::store::new_id();
        self.db.write(|c| {
            SegmentStore::get(c, &input.segment_id).map_err(|e| match e {
                crate::StoreError::NotFound => AppError::field("segment_id", "not_found", "is not a segment"),
                e => e.into(),
            })?;
            let mut members: Vec<(String, &'static str)> = Vec::new();
            let mut filter = MemberFilter::default();
            loop {
                let (rows, next) = SegmentStore::members(c, &input.segment_id, &filter, MEMBERS_PAGE)?;
                members.extend(rows.into_iter().map(|r| {
                    let g = campaign::assign(&id, &r.profile_id, holdout_bp).as_str();
                    (r.profile_id, g)
                }));
                match next {
                    Some(n) => filter.after = Some(n),
                    None => break,
                }
            }
            let row = CampaignRow {
                id: id.clone(),
                name: name.clone(),
                segment_id: input.segment_id.clone(),
                holdout_bp: holdout_bp as i32,
                goal_event: goal.clone(),
                window_days: input.window_days,
                starts_at: starts_at.unwrap_or(now),
                size: members.len() as i64,
                control_size: members.iter().filter(|m| m.1 == "control").count() as i64,
                created_at: now,
            };
            ProgrammeStore::add_campaign(c, &row)?;
            for chunk in members.chunks(10_000) {
                ProgrammeStore::add_campaign_members(c, &row.id, chunk)?;
                let facts: Vec<Fact> = chunk
                    .iter()
                    .map(|(p, g)| Fact {
                        kind: "campaign.assigned",
                        profile_id: p.clone(),
                        data: serde_json::json!({"campaign_id": row.id, "campaign_name": row.name, "group": g}).to_string(),
                        occurred_at: now,
                    })
                    .collect();
                OutboxStore::enqueue(c, &facts, now)?;
            }
            Ok(row)
        })
    }

    pub fn campaign(&self, id: &str) -> AppResult<CampaignRow> {
        self.db.read_statement(|c| ProgrammeStore::campaign(c, id)).map_err(AppError::or_missing("campaign"))
    }

    pub fn campaigns(&self, before: Option<(i64, String)>, limit: i64) -> AppResult<Page<CampaignRow>> {
        Ok(self.db.read_statement(|c| ProgrammeStore::campaigns(c, before.clone(), limit))?)
    }

    /// A page of assignments: (member as snapshotted, live profile id, group).
    pub fn campaign_assignments(
        &self,
        id: &str,
        filter: AssignmentFilter,
        limit: i64,
    ) -> AppResult<Page<(String, String, String), String>> {
        if filter.group.as_deref().is_some_and(|g| campaign::Group::parse(g).is_none()) {
            return Err(AppError::field("group", "invalid", "must be treatment or control"));
        }
        if let Some((ch, p)) = &filter.consent {
            if !cdp_domain::consent::is_consent_channel(ch) {
                return Err(AppError::field(
                    "consent",
                    "invalid",
                    format!("must be one of {}", cdp_domain::consent::CONSENT_CHANNELS.join(", ")),
                ));
            }
            if !cdp_domain::consent::is_purpose(p) {
                return Err(AppError::field("purpose", "invalid", format!("must be one of {}", cdp_domain::consent::PURPOSES.join(", "))));
            }
        }
        self.db
            .read(|c| {
                ProgrammeStore::campaign(c, id)?;
                ProgrammeStore::campaign_members(c, id, &filter, limit)
            })
            .map_err(AppError::or_missing("campaign"))
    }

    /// Results: a member converts with a goal event within `window_days` of
    /// the start; their revenue is the sum of those events' `revenue`.
    pub fn campaign_results(&self, id: &str) -> AppResult<CampaignResults> {
        self.db
            .read(|c| {
                let campaign = ProgrammeStore::campaign(c, id)?;
                let to = campaign.starts_at + i64::from(campaign.window_days) * DAY;
                // Per live person: (the first member by id that is now them, control?, revenue).
                // Members merged into one person since the snapshot see the same events; the person
                // counts once, for the first of them. A member's rows all come after its first one,
                // so a smaller member starts its count afresh.
                let mut people: HashMap<String, (String, bool, f64)> = HashMap::new();
                ProgrammeStore::for_each_goal_event(
                    c,
                    id,
                    &campaign.goal_event,
                    campaign.starts_at,
                    to,
                    &mut |member, live, group, revenue| {
                        let r = revenue_of(revenue);
                        match people.get_mut(live) {
                            Some(p) if p.0.as_str() == member => p.2 += r,
                            Some(p) if member < p.0.as_str() => *p = (member.to_string(), group == "control", r),
                            Some(_) => {}
                            None => {
                                people.insert(live.to_string(), (member.to_string(), group == "control", r));
                            }
                        }
                    },
                )?;
                let converters = people.into_values().map(|(_, control, revenue)| (control, revenue));
                let mut treatment = GroupTotals { size: (campaign.size - campaign.control_size) as u64, ..Default::default() };
                let mut control = GroupTotals { size: campaign.control_size as u64, ..Default::default() };
                for (is_control, revenue) in converters {
                    let g = if is_control { &mut control } else { &mut treatment };
                    g.converters += 1;
                    g.revenue += revenue;
                    g.revenue_sq += revenue * revenue;
                }
                let results = campaign::results(&treatment, &control);
                Ok(CampaignResults { campaign, treatment, control, results })
            })
            .map_err(AppError::or_missing("campaign"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn revenue_is_a_number_or_nothing() {
        assert_eq!(super::revenue_of(Some("350000")), 350_000.0);
        assert_eq!(super::revenue_of(Some("12.5")), 12.5);
        assert_eq!(super::revenue_of(Some("350k")), 0.0);
        assert_eq!(super::revenue_of(None), 0.0);
    }
}
