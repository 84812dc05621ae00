//! Consent per contact channel, with its history, and the customer's preferences.

pub use crate::store::ConsentRow;
use crate::store::{ConsentStore, ProfileStore, StoreResult, Tx};
use crate::{App, AppError, AppResult, Principal};
use cdp_domain::consent::{self, ConsentStatus, Preferences};

/// A profile's consents: the decision in force per channel and every record.
#[derive(Debug, Clone)]
pub struct Consents {
    pub profile_id: String,
    /// (channel, purpose, status, recorded_at, record id), one per channel and purpose.
    pub state: Vec<crate::store::ConsentInForce>,
    /// Every record, as stored.
    pub history: Vec<ConsentRow>,
}

/// A profile's preferences: every version, newest first, as (JSON, recorded_at, actor).
#[derive(Debug, Clone)]
pub struct PreferenceHistory {
    pub profile_id: String,
    pub versions: Vec<(String, i64, String)>,
}

/// A consent decision to record.
#[derive(Debug, Clone)]
pub struct ConsentInput {
    pub channel: String,
    pub status: String,
    pub source: String,
    /// When the customer decided (default: now).
    pub recorded_at: Option<chrono::DateTime<chrono::Utc>>,
    /// What the consent is for (default: marketing).
    pub purpose: Option<String>,
    /// Proof: who collected it, under which version of the policy, and how
    /// (a form submission id, a call recording, a signed paper…).
    pub collected_by: Option<String>,
    pub policy_version: Option<String>,
    pub evidence: Option<String>,
}

/// An optional proof field: trimmed, at most `max` characters.
fn proof(field: &'static str, v: Option<String>, max: usize) -> AppResult<Option<String>> {
    match v.map(|s| s.trim().to_string()) {
        Some(s) if s.is_empty() || s.chars().count() > max => {
            Err(AppError::field(field, "invalid", format!("must be 1 to {max} characters when given")))
        }
        v => Ok(v),
    }
}

impl App {
    /// Records a decision; the one in force per channel is the one the
    /// customer made last, whatever the order of arrival.
    pub fn record_consent(&self, who: &Principal, id: &str, input: ConsentInput) -> AppResult<Consents> {
        if !consent::is_consent_channel(&input.channel) {
            return Err(AppError::field("channel", "invalid", format!("must be one of {}", consent::CONSENT_CHANNELS.join(", "))));
        }
        let status =
            ConsentStatus::parse(&input.status).ok_or_else(|| AppError::field("status", "invalid", "must be granted or denied"))?;
        let source = input.source.trim().to_string();
        if source.is_empty() || source.chars().count() > 200 {
            return Err(AppError::field("source", "invalid", "must be 1 to 200 characters"));
        }
        let purpose = input.purpose.unwrap_or_else(|| consent::DEFAULT_PURPOSE.to_string());
        if !consent::is_purpose(&purpose) {
            return Err(AppError::field("purpose", "invalid", format!("must be one of {}", consent::PURPOSES.join(", "))));
        }
        let collected_by = proof("collected_by", input.collected_by, 200)?;
        let policy_version = proof("policy_version", input.policy_version, 100)?;
        let evidence = proof("evidence", input.evidence, 2000)?;
        let now = crate::store::now_micros();
        let recorded_at = match input.recorded_at {
            None => now,
            Some(t) if t.timestamp_micros() <= now + 86_400_000_000 => t.timestamp_micros(),
            Some(_) => return Err(AppError::field("recorded_at", "invalid", "must be an RFC 3339 time, not in the future")),
        };
        let actor = who.actor();
        self.db
            .write(|c| {
                let p = ProfileStore::resolve(c, id)?;
                let row = ConsentRow {
                    id: crate::store::new_id(),
                    profile_id: p.id.clone(),
                    channel: input.channel.clone(),
                    status: status.as_str().into(),
                    source: source.clone(),
                    recorded_at,
                    received_at: now,
                    actor: actor.clone(),
                    purpose: purpose.clone(),
                    collected_by: collected_by.clone(),
                    policy_version: policy_version.clone(),
                    evidence: evidence.clone(),
                };
                ConsentStore::record(c, &row)?;
                consents_of(c, &p.id)
            })
            .map_err(AppError::or_missing("profile"))
    }

    pub fn consents(&self, id: &str) -> AppResult<Consents> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                consents_of(c, &p.id)
            })
            .map_err(AppError::or_missing("profile"))
    }

    pub fn preferences(&self, id: &str) -> AppResult<PreferenceHistory> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                preferences_of(c, &p.id)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Replaces the preferences (validated; earlier versions stay in the history).
    pub fn save_preferences(&self, who: &Principal, id: &str, prefs: Preferences) -> AppResult<PreferenceHistory> {
        let prefs = prefs.validate()?;
        let body = serde_json::to_string(&prefs).map_err(crate::store::StoreError::from)?;
        let actor = who.actor();
        self.db
            .write(|c| {
                let p = ProfileStore::resolve(c, id)?;
                ConsentStore::save_preferences(c, &p.id, &body, crate::store::now_micros(), &actor)?;
                preferences_of(c, &p.id)
            })
            .map_err(AppError::or_missing("profile"))
    }
}

pub fn consents_of(c: &mut dyn Tx, profile: &str) -> StoreResult<Consents> {
    Ok(Consents { profile_id: profile.to_string(), state: ConsentStore::state(c, profile)?, history: ConsentStore::history(c, profile)? })
}

pub fn preferences_of(c: &mut dyn Tx, profile: &str) -> StoreResult<PreferenceHistory> {
    Ok(PreferenceHistory { profile_id: profile.to_string(), versions: ConsentStore::preference_history(c, profile)? })
}
