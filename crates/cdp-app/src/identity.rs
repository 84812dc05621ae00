//! Identity rules: limits and priorities per identifier type, and the
//! values that never link or merge anything.

use crate::store::{IdentityStore, PrivacyStore, StoreError};
use crate::{App, AppResult, Principal};
use cdp_domain::identity_rules::{IdentityRules, RulesDoc};

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
}
