//! Unified profiles: read by id or by any identity, their timelines,
//! identities and merge log. Operators' reads are audited.

pub use crate::store::{EventRow, IdentityRow, MergeRow, Page, ProfileRow, ProfileView, TimelineCursor};
use crate::store::{PrivacyStore, ProfileStore};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::{Channel, Identity, IdentityType};
use serde_json::json;

impl App {
    /// A profile by id; a merged-away id answers with its survivor.
    pub fn profile(&self, who: &Principal, id: &str) -> AppResult<ProfileView> {
        // One statement: no read transaction needed around it.
        let view = self.db.read_statement(|c| ProfileStore::get(c, id)).map_err(AppError::or_missing("profile"))?;
        self.audit_read(who, &view.profile.id, "profile.read")?;
        Ok(view)
    }

    /// The profile holding an identity, its value normalised as ingestion does.
    pub fn lookup_profile(&self, who: &Principal, kind: &str, value: &str) -> AppResult<ProfileView> {
        let view = self.find_by_identity(kind, value, "")?;
        self.audit_read(who, &view.profile.id, "profile.read")?;
        Ok(view)
    }

    /// The live profile holding an identity (normalised as ingestion does);
    /// a bad identity is a 422 naming `{prefix}type` or `{prefix}value`.
    pub(crate) fn find_by_identity(&self, kind: &str, value: &str, prefix: &str) -> AppResult<ProfileView> {
        let identity = Identity::parse(kind, value, &self.config.normalize).map_err(|m| {
            let field = if IdentityType::parse(kind).is_err() { "type" } else { "value" };
            AppError::field(&format!("{prefix}{field}"), "invalid_identity", m)
        })?;
        self.db
            .read_statement(|c| ProfileStore::lookup(c, identity.kind.as_str(), &identity.value))
            .map_err(AppError::or_missing("profile"))
    }

    /// The profile's events, newest first, from `after` on.
    pub fn timeline(
        &self,
        id: &str,
        channel: Option<Channel>,
        after: Option<&TimelineCursor>,
        limit: i64,
    ) -> AppResult<Page<EventRow, TimelineCursor>> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                ProfileStore::timeline(c, &p.id, channel.map(Channel::as_str), after, limit)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// The profile with its identities (oldest first).
    pub fn profile_identities(&self, id: &str) -> AppResult<ProfileView> {
        self.db.read(|c| ProfileStore::get(c, id)).map_err(AppError::or_missing("profile"))
    }

    /// The survivor's id and the merge log that built it.
    pub fn merge_log(&self, id: &str) -> AppResult<(String, Vec<MergeRow>)> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                let log = ProfileStore::merge_log(c, &p.id)?;
                Ok((p.id, log))
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Records an operator's (a person's) read of a profile. Reads by API keys
    /// (systems) are not audited one by one.
    pub(crate) fn audit_read(&self, who: &Principal, profile_id: &str, action: &'static str) -> AppResult<()> {
        if !who.is_operator() {
            return Ok(());
        }
        let actor = who.actor();
        Ok(self.db.write(|c| PrivacyStore::audit(c, &actor, action, Some(profile_id), &json!({}), crate::store::now_micros()))?)
    }
}
