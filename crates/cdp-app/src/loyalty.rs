//! The loyalty programme: its settings, members' points and tiers, the
//! ledger, redemptions and adjustments, rewards, and the expiry run.

pub use crate::store::{LedgerRow, RewardRow};
use crate::store::{LoyaltyStore, Page, ProfileStore, RedeemRefusal};
use crate::value::parse_day;
use crate::{App, AppError, AppResult, Refusal};
use cdp_domain::commerce::to_major;
use cdp_domain::loyalty::{Program, Tier};

/// A member's standing: points, tier, spend in the tier window and what the next tier needs.
#[derive(Debug, Clone)]
pub struct Standing {
    pub points_balance: i64,
    pub tier: Tier,
    /// Major units of the programme's currency.
    pub spend_in_window: f64,
    /// The next tier and the spend it still needs (major units).
    pub next_tier: Option<(Tier, f64)>,
}

/// A reward to add to the catalogue.
#[derive(Debug, Clone)]
pub struct RewardInput {
    pub name: String,
    pub points_cost: i64,
    pub stock: Option<i64>,
    pub active_from: Option<String>,
    pub active_to: Option<String>,
}

/// What an expiry run did.
#[derive(Debug, Clone)]
pub struct ExpiryRun {
    pub as_of: String,
    pub members: usize,
    pub expired_points: i64,
    pub tier_changes: usize,
}

impl App {
    pub fn loyalty_program(&self) -> AppResult<Program> {
        Ok(self.db.read(|c| LoyaltyStore::program(c))?)
    }

    /// Replaces the programme (validated).
    pub fn save_loyalty_program(&self, mut program: Program) -> AppResult<Program> {
        program.currency = program.currency.trim().to_ascii_uppercase();
        program.validate()?;
        self.db.write(|c| LoyaltyStore::save_program(c, &program, crate::store::now_micros()))?;
        Ok(program)
    }

    pub fn standing(&self, id: &str) -> AppResult<Standing> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                let program = LoyaltyStore::program(c)?;
                let now = crate::store::now_micros();
                let (balance, tier) = LoyaltyStore::account(c, &p.id)?.unwrap_or((0, program.tiers[0].code.clone()));
                let balance = balance - LoyaltyStore::lapsed(c, &p.id, now)?;
                let spend = LoyaltyStore::window_spend(c, &p.id, &program, now)?;
                let t = program.tiers.iter().find(|t| t.code == tier).unwrap_or(&program.tiers[0]);
                let rank = program.tiers.iter().position(|x| x.code == t.code).unwrap_or(0);
                let next = program
                    .tiers
                    .get(rank + 1)
                    .map(|n| (n.clone(), to_major((program.min_spend_minor(n) - spend).max(0), &program.currency)));
                Ok(Standing {
                    points_balance: balance,
                    tier: t.clone(),
                    spend_in_window: to_major(spend, &program.currency),
                    next_tier: next,
                })
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// The member's ledger, newest first, from `after` on.
    pub fn loyalty_ledger(&self, id: &str, after: Option<(i64, String)>, limit: i64) -> AppResult<Page<LedgerRow>> {
        self.db
            .read(|c| {
                let p = ProfileStore::resolve(c, id)?;
                LoyaltyStore::ledger(c, &p.id, after.clone(), limit)
            })
            .map_err(AppError::or_missing("profile"))
    }

    /// Spends points (given, or a reward's cost), the ones that expire first;
    /// the same idempotency key answers the first redemption again.
    pub fn redeem(&self, id: &str, points: Option<i64>, reward_id: Option<&str>, idempotency_key: &str) -> AppResult<LedgerRow> {
        let key = idempotency_key.trim();
        if key.is_empty() || key.len() > 100 {
            return Err(AppError::field("idempotency_key", "invalid", "must be 1 to 100 characters"));
        }
        if points.is_some_and(|p| p <= 0) {
            return Err(AppError::field("points", "invalid", "must be greater than 0"));
        }
        if points.is_none() && reward_id.is_none() {
            return Err(AppError::field("points", "required", "points or reward_id is required"));
        }
        let outcome = self.db.write(|c| {
            let p = ProfileStore::resolve(c, id).map_err(AppError::or_missing("profile"))?;
            let points = match (points, reward_id) {
                (Some(n), _) => n,
                (None, Some(r)) => {
                    LoyaltyStore::rewards(c)?.into_iter().find(|x| x.id == r).map(|x| x.points_cost).ok_or(AppError::NotFound("reward"))?
                }
                (None, None) => 0,
            };
            Ok::<_, AppError>(LoyaltyStore::redeem(c, &p.id, points, reward_id, key, crate::store::now_micros())?)
        })?;
        outcome.map(|(row, _)| row).map_err(refused)
    }

    /// Adds or removes points by hand, with a reason.
    pub fn adjust_points(&self, id: &str, points: i64, reason: &str) -> AppResult<LedgerRow> {
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 500 {
            return Err(AppError::field("reason", "invalid", "must be 1 to 500 characters"));
        }
        if points == 0 || points.unsigned_abs() > 1_000_000_000 {
            return Err(AppError::field("points", "invalid", "must be non-zero and at most 1e9 in size"));
        }
        let outcome = self
            .db
            .write(|c| {
                let p = ProfileStore::resolve(c, id)?;
                LoyaltyStore::adjust(c, &p.id, points, reason, crate::store::now_micros())
            })
            .map_err(AppError::or_missing("profile"))?;
        outcome.map_err(refused)
    }

    pub fn rewards(&self) -> AppResult<Vec<RewardRow>> {
        Ok(self.db.read(|c| LoyaltyStore::rewards(c))?)
    }

    pub fn create_reward(&self, r: RewardInput) -> AppResult<RewardRow> {
        let name = r.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::field("name", "invalid", "must be 1 to 200 characters"));
        }
        if r.points_cost <= 0 {
            return Err(AppError::field("points_cost", "invalid", "must be greater than 0"));
        }
        if r.stock.is_some_and(|s| s < 0) {
            return Err(AppError::field("stock", "invalid", "must be 0 or more"));
        }
        let row = RewardRow {
            id: crate::store::new_id(),
            name: name.to_string(),
            points_cost: r.points_cost,
            stock: r.stock,
            active_from: crate::interaction::time_field("active_from", r.active_from.as_deref())?,
            active_to: crate::interaction::time_field("active_to", r.active_to.as_deref())?,
            created_at: crate::store::now_micros(),
        };
        self.db.write(|c| LoyaltyStore::add_reward(c, &row))?;
        Ok(row)
    }

    /// The daily run as of a day (default today): points past their expiry
    /// lapse, and tiers are evaluated on the window ending that day.
    pub fn expire_points(&self, as_of: Option<String>) -> AppResult<ExpiryRun> {
        let as_of = as_of.unwrap_or_else(|| chrono::Utc::now().date_naive().to_string());
        let day = parse_day(&as_of).ok_or_else(|| AppError::field("as_of", "invalid", "must be a date such as 2027-12-31"))?;
        let end = (day + 1) * 86_400_000_000 - 1;
        let (members, expired_points, tier_changes) = self.db.write(|c| {
            let now = crate::store::now_micros();
            let (m, p) = LoyaltyStore::expire(c, end, now)?;
            let changes = LoyaltyStore::evaluate_tiers(c, end, now)?;
            Ok::<_, AppError>((m, p, changes))
        })?;
        Ok(ExpiryRun { as_of, members, expired_points, tier_changes })
    }
}

fn refused(r: RedeemRefusal) -> AppError {
    match r {
        RedeemRefusal::InsufficientPoints { balance } => {
            AppError::refused(Refusal::InsufficientPoints { balance }, "the balance does not cover these points")
        }
        RedeemRefusal::OutOfStock => AppError::refused(Refusal::OutOfStock, "the reward is out of stock"),
        RedeemRefusal::RewardInactive => AppError::refused(Refusal::RewardInactive, "the reward is not active now"),
        RedeemRefusal::NoSuchReward => AppError::NotFound("reward"),
    }
}
