//! The agent's context view: a person and everything an agent needs, in one read.

use crate::consent::{consents_of, preferences_of, Consents, PreferenceHistory};
use crate::store::{CaseFilter, CaseRow, EventRow, InteractionStore, LoyaltyStore, ProfileStore, ProfileView};
use crate::value::{value_of, ProfileValue};
use crate::{App, AppError, AppResult, Principal};

/// The agent's view of a person, read in one transaction.
#[derive(Debug, Clone)]
pub struct Context {
    pub profile: ProfileView,
    pub open_cases: Vec<CaseRow>,
    pub recent_interactions: Vec<EventRow>,
    /// (order_id, channel, net revenue, currency, occurred_at, products JSON).
    pub last_order: Option<(String, String, i64, String, i64, String)>,
    /// (points balance, tier code, tier name).
    pub loyalty: Option<(i64, String, String)>,
    pub value: ProfileValue,
    pub consents: Consents,
    pub preferences: PreferenceHistory,
}

impl App {
    /// The agent's view of a person: open cases, the last `interactions`
    /// events on every channel, the last order, loyalty, value, consents and
    /// preferences. An operator's read is audited.
    pub fn agent_context(&self, who: &Principal, id: &str, interactions: i64) -> AppResult<Context> {
        if !(1..=100).contains(&interactions) {
            return Err(AppError::field("interactions", "out_of_range", "must be between 1 and 100"));
        }
        let currency = self.config.currency.clone();
        let context = self
            .db
            .read(|c| {
                let view = ProfileStore::get(c, id)?;
                let pid = view.profile.id.clone();
                let open =
                    CaseFilter { statuses: vec!["open".into(), "pending".into()], profile_id: Some(pid.clone()), ..Default::default() };
                let (open_cases, _) = InteractionStore::list_cases(c, &open, 50)?;
                let (recent_interactions, _) = ProfileStore::timeline(c, &pid, None, None, interactions)?;
                let last_order = InteractionStore::last_order(c, &pid)?.map(|(order_id, channel, revenue, refunded, cur, at, products)| {
                    (order_id, channel, revenue - refunded, cur, at, products)
                });
                let loyalty = match &view.loyalty {
                    Some((points, tier)) => {
                        let program = LoyaltyStore::program(c)?;
                        let name = program.tiers.iter().find(|t| &t.code == tier).map(|t| t.name.clone()).unwrap_or_default();
                        Some((*points, tier.clone(), name))
                    }
                    None => None,
                };
                Ok(Context {
                    value: value_of(c, view.profile.clone(), &currency)?,
                    consents: consents_of(c, &pid)?,
                    preferences: preferences_of(c, &pid)?,
                    profile: view,
                    open_cases,
                    recent_interactions,
                    last_order,
                    loyalty,
                })
            })
            .map_err(AppError::or_missing("profile"))?;
        self.audit_read(who, &context.profile.profile.id, "profile.context")?;
        Ok(context)
    }
}
