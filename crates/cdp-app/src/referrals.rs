//! Referrals: a stable code per person, and the people it brought.

pub use crate::store::ReferralView;
use crate::store::{ProfileStore, ProgrammeStore};
use crate::{App, AppError, AppResult};
use cdp_domain::referral;
use rand::RngCore;

/// The people a person referred, and the revenue they brought (major units
/// of the default currency).
#[derive(Debug, Clone)]
pub struct Referrals {
    pub profile_id: String,
    pub items: Vec<ReferralView>,
    pub referral_revenue: f64,
}

impl App {
    /// The person's referral code, made on first asking; the same ever after
    /// (a survivor of a merge answers the oldest code among its profiles).
    pub fn referral_code(&self, id: &str) -> AppResult<String> {
        self.db
            .write(|c| {
                let p = ProfileStore::resolve(c, id)?;
                if let Some(code) = ProgrammeStore::referral_code(c, &p.id)? {
                    return Ok(code);
                }
                let mut bytes = [0u8; referral::CODE_BYTES];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let code = referral::format_code(&bytes);
                ProgrammeStore::add_referral_code(c, &code, &p.id, crate::store::now_micros())?;
                Ok(code)
            })
            .map_err(AppError::or_missing("profile"))
    }

    pub fn referrals(&self, id: &str) -> AppResult<Referrals> {
        let currency = self.config.currency.clone();
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                let mut items = ProgrammeStore::referrals_of(c, &p.id)?;
                // Someone merged into the referrer since is not a referral any more.
                items.retain(|r| r.referee != p.id);
                let mut seen = std::collections::HashSet::new();
                let revenue: i64 = items.iter().filter(|r| seen.insert(r.referee.clone())).map(|r| r.revenue_total).sum();
                Ok(Referrals { profile_id: p.id, referral_revenue: cdp_domain::commerce::to_major(revenue, &currency), items })
            })
            .map_err(AppError::or_missing("profile"))
    }
}
