//! Privacy rights: everything held about a person, its erasure, and the
//! audit log of who read, exported or erased whom.

use crate::consent::{consents_of, preferences_of, Consents, PreferenceHistory};
pub use crate::store::{AuditFilter, AuditRow, Erased, StoredEvent, StoredOrder};
use crate::store::{
    CaseFilter, CaseRow, FeedbackFilter, FeedbackRow, InteractionStore, LedgerEntry, MergeRow, Page, PrivacyStore, ProfileStore,
    ProfileView, ProgrammeStore,
};
use crate::{App, AppError, AppResult, Principal};
use serde_json::json;

/// Everything held about a person, as stored.
#[derive(Debug)]
pub struct Export {
    pub exported_at: i64,
    pub profile: ProfileView,
    /// Ids of the profiles merged into this one.
    pub merged_profiles: Vec<String>,
    /// Every event, oldest first.
    pub events: Vec<StoredEvent>,
    pub orders: Vec<StoredOrder>,
    pub consents: Consents,
    pub preferences: PreferenceHistory,
    pub loyalty_ledger: Vec<LedgerEntry>,
    pub merge_log: Vec<MergeRow>,
    pub feedback: Vec<FeedbackRow>,
    pub cases: Vec<CaseRow>,
    /// (segment id, entered_at, exited_at).
    pub segment_memberships: Vec<(String, i64, Option<i64>)>,
    /// Voucher codes held, newest first.
    pub vouchers: Vec<crate::store::VoucherView>,
    pub referral_code: Option<String>,
    /// The people referred, as outcomes only (the others' ids are theirs).
    pub referrals: Vec<crate::store::ReferralView>,
    /// (campaign id, name, group).
    pub campaigns: Vec<(String, String, String)>,
}

impl App {
    /// Everything held about a person, read in one transaction that also
    /// records the export in the audit log.
    pub fn export_profile(&self, who: &Principal, id: &str) -> AppResult<Export> {
        let (actor, now) = (who.actor(), crate::store::now_micros());
        self.db
            .write(|c| {
                let profile = ProfileStore::get(c, id)?;
                let pid = profile.profile.id.clone();
                let ids = PrivacyStore::person_ids(c, &pid)?;
                let (feedback, _) =
                    InteractionStore::list_feedback(c, &FeedbackFilter { profile_id: Some(pid.clone()), ..Default::default() }, 10_000)?;
                let (cases, _) =
                    InteractionStore::list_cases(c, &CaseFilter { profile_id: Some(pid.clone()), ..Default::default() }, 10_000)?;
                let export = Export {
                    exported_at: now,
                    merged_profiles: ids[1..].to_vec(),
                    events: PrivacyStore::events_of(c, &ids)?,
                    orders: PrivacyStore::orders_of(c, &pid)?,
                    consents: consents_of(c, &pid)?,
                    preferences: preferences_of(c, &pid)?,
                    loyalty_ledger: PrivacyStore::ledger_of(c, &pid)?,
                    merge_log: ProfileStore::merge_log(c, &pid)?,
                    feedback,
                    cases,
                    segment_memberships: PrivacyStore::memberships_of(c, &pid)?,
                    vouchers: ProgrammeStore::profile_vouchers(c, &pid, None, 10_000)?.0,
                    referral_code: ProgrammeStore::referral_code(c, &pid)?,
                    referrals: ProgrammeStore::referrals_of(c, &pid)?.into_iter().filter(|r| r.referee != pid).collect(),
                    campaigns: ProgrammeStore::campaigns_of(c, &pid)?,
                    profile,
                };
                PrivacyStore::audit(c, &actor, "profile.export", Some(&pid), &json!({}), now)?;
                Ok(export)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Erases a person and every profile merged into them; answers the
    /// survivor's id, the time and what was erased per table.
    pub fn erase_profile(&self, who: &Principal, id: &str) -> AppResult<(String, i64, Erased)> {
        let (actor, now) = (who.actor(), crate::store::now_micros());
        self.db
            .write(|c| {
                let p = ProfileStore::resolve(c, id)?;
                let erased = PrivacyStore::erase(c, &p.id, &actor, now)?;
                PrivacyStore::audit(c, &actor, "profile.erase", Some(&p.id), &serde_json::to_value(&erased).unwrap_or_default(), now)?;
                Ok((p.id, now, erased))
            })
            .map_err(AppError::or_missing("profile"))
    }

    pub fn audit_log(&self, filter: &AuditFilter, limit: i64) -> AppResult<Page<AuditRow>> {
        Ok(self.db.read(|c| PrivacyStore::list_audit(c, filter, limit))?)
    }
}
