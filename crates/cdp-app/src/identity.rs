//! Identity rules: limits and priorities per identifier type, and the
//! values that never link or merge anything.

use crate::store::{IdentityStore, PrivacyStore, ProfileStore, SplitRefusal, StoreError, UndoRefusal};
pub use crate::store::{Split, Undone};
use crate::{App, AppError, AppResult, Principal, Refusal};
use cdp_domain::identity_rules::{IdentityRules, RulesDoc};
use cdp_domain::{FieldError, FieldErrors, Identity};

impl App {
    /// The rules in force: the saved document, or the defaults.
    pub fn identity_rules(&self) -> AppResult<RulesDoc> {
        let body = self.db.read_statement(|c| IdentityStore::identity_rules(c))?;
        Ok(match body {
            Some(b) => serde_json::from_str(&b).map_err(StoreError::from)?,
            None => IdentityRules::default().doc().clone(),
        })
    }

    /// Replaces the rules (checked, blocked values normalised); later events
    /// resolve by them. The change is audited with the new document.
    pub fn set_identity_rules(&self, who: &Principal, doc: RulesDoc) -> AppResult<RulesDoc> {
        let doc = IdentityRules::from_doc(doc, &self.config.normalize)?.doc().clone();
        let body = serde_json::to_string(&doc).map_err(StoreError::from)?;
        let detail = serde_json::to_value(&doc).map_err(StoreError::from)?;
        let (actor, now) = (who.actor(), crate::store::now_micros());
        self.db.write(|c| {
            IdentityStore::save_identity_rules(c, &body, now, &actor)?;
            PrivacyStore::audit(c, &actor, "identity_rules.update", None, &detail, now)
        })?;
        Ok(doc)
    }

    /// Undoes a merge: the merged profile comes back under its old id with
    /// what came through it, both sides' aggregates are worked out again, and
    /// the two are kept apart. Audited.
    pub fn undo_merge(&self, who: &Principal, merge_id: &str) -> AppResult<Undone> {
        let (actor, now) = (who.actor(), crate::store::now_micros());
        let currency = self.config.currency.clone();
        self.db.write(|c| match ProfileStore::undo_merge(c, merge_id, &currency, now).map_err(AppError::or_missing("merge"))? {
            Ok(u) => {
                let detail = serde_json::json!({"merge_id": merge_id, "survivor_id": u.survivor_id});
                PrivacyStore::audit(c, &actor, "merge.undo", Some(&u.restored_profile_id), &detail, now)?;
                Ok(u)
            }
            Err(UndoRefusal::AlreadyUndone) => Err(AppError::refused(Refusal::Conflict, "this merge was undone already")),
            Err(UndoRefusal::Erased) => Err(AppError::refused(Refusal::Conflict, "a side of this merge was erased")),
        })
    }

    /// Splits identities off a profile into a new one (see the store's
    /// `split_profile`); each is written like ingestion input, and at least
    /// one identity must stay. Audited.
    pub fn split_profile(&self, who: &Principal, id: &str, identities: Vec<(String, String)>) -> AppResult<Split> {
        let mut errs = FieldErrors::default();
        let mut ids = Vec::new();
        for (n, (kind, value)) in identities.iter().enumerate() {
            match Identity::parse(kind, value, &self.config.normalize) {
                Ok(i) if !ids.contains(&(i.kind.as_str().to_string(), i.value.clone())) => ids.push((i.kind.as_str().to_string(), i.value)),
                Ok(_) => {}
                Err(m) => errs.push(FieldError::new(format!("identities[{n}]"), "invalid_identity", m)),
            }
        }
        if identities.is_empty() {
            errs.push(FieldError::new("identities", "required", "name at least one identity to split off"));
        }
        errs.into_result(())?;
        let (actor, now) = (who.actor(), crate::store::now_micros());
        let currency = self.config.currency.clone();
        self.db.write(|c| {
            let p = ProfileStore::resolve(c, id).map_err(AppError::or_missing("profile"))?;
            match ProfileStore::split_profile(c, &p.id, &ids, &currency, now)? {
                Ok(s) => {
                    let detail = serde_json::json!({"from": p.id, "identities": s.identities, "events": s.events});
                    PrivacyStore::audit(c, &actor, "profile.split", Some(&s.profile_id), &detail, now)?;
                    Ok(s)
                }
                Err(SplitRefusal::NotHeld(n)) => {
                    Err(AppError::field(&format!("identities[{n}]"), "not_held", "the profile holds no such identity"))
                }
                Err(SplitRefusal::NothingStays) => {
                    Err(AppError::field("identities", "invalid", "at least one identity must stay with the profile"))
                }
                Err(SplitRefusal::Erased) => Err(AppError::refused(Refusal::Conflict, "the profile was erased")),
            }
        })
    }
}
