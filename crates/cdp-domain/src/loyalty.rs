//! The loyalty programme's rules: earning by spend at the multiplier of the
//! tier held, tiers on rolling-window spend, proportional reversal of refunds,
//! and first-in first-out consumption and expiry of points.
//!
//! Policy for refunds after redemption: a reversal takes back the points the
//! refunded part earned even if they were spent, so the balance may go
//! negative — only through a reversal; redemptions are refused while the
//! balance does not cover them, and later earnings repay the debt first.

use crate::commerce::minor_digits;
use crate::error::{FieldError, FieldErrors};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tier {
    pub code: String,
    pub name: String,
    /// Spend in the window (major units) from which the tier is held.
    pub min_spend: f64,
    pub multiplier: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Program {
    pub currency: String,
    /// Major units of spend per point.
    pub spend_per_point: f64,
    pub tier_window_days: i64,
    pub points_expire_after_days: i64,
    pub tiers: Vec<Tier>,
    /// `HH:MM` (UTC): lapsed points are expired by the server every day at
    /// this time; none: only when asked (`POST /loyalty/expire`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_daily_at: Option<String>,
    /// Points a referrer earns when a person they referred completes their
    /// first order (0: referrals are tracked, not rewarded).
    #[serde(default = "default_referral_points")]
    pub referral_points: i64,
}

fn default_referral_points() -> i64 {
    100
}

impl Default for Program {
    fn default() -> Self {
        let tier =
            |code: &str, name: &str, min_spend: f64, multiplier: f64| Tier { code: code.into(), name: name.into(), min_spend, multiplier };
        Program {
            currency: "VND".into(),
            spend_per_point: 10_000.0,
            tier_window_days: 365,
            points_expire_after_days: 365,
            tiers: vec![
                tier("dong", "Đồng", 0.0, 1.0),
                tier("bac", "Bạc", 5_000_000.0, 1.2),
                tier("vang", "Vàng", 15_000_000.0, 1.5),
                tier("kim_cuong", "Kim Cương", 40_000_000.0, 2.0),
            ],
            expire_daily_at: None,
            referral_points: default_referral_points(),
        }
    }
}

impl Program {
    /// Checks the configuration; every problem is named by its path.
    pub fn validate(&self) -> Result<(), FieldErrors> {
        let mut errs = FieldErrors::default();
        if self.currency.len() != 3 || !self.currency.chars().all(|c| c.is_ascii_uppercase()) {
            errs.push(FieldError::new("currency", "invalid", "must be an ISO 4217 code such as VND"));
        }
        if !(self.spend_per_point.is_finite() && self.spend_per_point > 0.0) {
            errs.push(FieldError::new("spend_per_point", "invalid", "must be greater than 0"));
        }
        if !(1..=3650).contains(&self.tier_window_days) {
            errs.push(FieldError::new("tier_window_days", "out_of_range", "must be between 1 and 3650"));
        }
        if !(1..=3650).contains(&self.points_expire_after_days) {
            errs.push(FieldError::new("points_expire_after_days", "out_of_range", "must be between 1 and 3650"));
        }
        if self.expire_daily_at.as_deref().is_some_and(|t| crate::schedule::parse_hhmm(t).is_none()) {
            errs.push(FieldError::new("expire_daily_at", "invalid", "must be a time of day HH:MM (UTC)"));
        }
        if !(0..=1_000_000_000).contains(&self.referral_points) {
            errs.push(FieldError::new("referral_points", "out_of_range", "must be between 0 and 1e9"));
        }
        if self.tiers.is_empty() {
            errs.push(FieldError::new("tiers", "required", "at least one tier is required"));
        } else if self.tiers[0].min_spend != 0.0 {
            errs.push(FieldError::new("tiers[0].min_spend", "invalid", "the first tier must start at 0"));
        }
        for (i, t) in self.tiers.iter().enumerate() {
            let ok_code = !t.code.is_empty()
                && t.code.len() <= 32
                && t.code.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !ok_code {
                errs.push(FieldError::new(format!("tiers[{i}].code"), "invalid", "must match [a-z0-9_]{1,32}"));
            }
            if self.tiers[..i].iter().any(|o| o.code == t.code) {
                errs.push(FieldError::new(format!("tiers[{i}].code"), "duplicate", "tier codes must be unique"));
            }
            if t.name.trim().is_empty() || t.name.chars().count() > 100 {
                errs.push(FieldError::new(format!("tiers[{i}].name"), "invalid", "must be 1 to 100 characters"));
            }
            if !(t.multiplier.is_finite() && t.multiplier > 0.0 && t.multiplier <= 100.0) {
                errs.push(FieldError::new(format!("tiers[{i}].multiplier"), "invalid", "must be greater than 0 (and at most 100)"));
            }
            if !(t.min_spend.is_finite() && t.min_spend >= 0.0) {
                errs.push(FieldError::new(format!("tiers[{i}].min_spend"), "invalid", "must be 0 or more"));
            } else if i > 0 && t.min_spend <= self.tiers[i - 1].min_spend {
                errs.push(FieldError::new(format!("tiers[{i}].min_spend"), "not_ordered", "tiers must be ordered by increasing min_spend"));
            }
        }
        errs.into_result(())
    }

    fn scale(&self) -> f64 {
        10f64.powi(minor_digits(&self.currency) as i32)
    }

    /// A tier's threshold in minor units.
    pub fn min_spend_minor(&self, t: &Tier) -> i64 {
        (t.min_spend * self.scale()).round() as i64
    }

    /// The tier held with this much spend (minor units) in the window.
    pub fn tier_for(&self, spend: i64) -> &Tier {
        self.tiers.iter().rev().find(|t| spend >= self.min_spend_minor(t)).unwrap_or(&self.tiers[0])
    }

    /// The next tier up and the spend (minor units) still needed for it.
    pub fn next_tier(&self, spend: i64) -> Option<(&Tier, i64)> {
        self.tiers.iter().find(|t| self.min_spend_minor(t) > spend).map(|t| (t, self.min_spend_minor(t) - spend))
    }

    /// floor(revenue / spend_per_point × multiplier), revenue in minor units.
    pub fn points_for(&self, revenue: i64, multiplier: f64) -> i64 {
        if revenue <= 0 {
            return 0;
        }
        // A tiny epsilon keeps exact products (350000 / 10000 × 1.2 = 42) from flooring to 41.
        ((revenue as f64 / self.scale() / self.spend_per_point * multiplier) + 1e-9).floor().max(0.0) as i64
    }
}

/// Points to take back when an order that earned `earned` points on `revenue`
/// has been refunded from `before` to `after` (minor units): proportional and
/// cumulative, so that refunding everything takes back exactly what was earned.
pub fn reversal(earned: i64, revenue: i64, before: i64, after: i64) -> i64 {
    if revenue <= 0 || earned <= 0 {
        return 0;
    }
    let taken = |refunded: i64| (earned as i128 * refunded.clamp(0, revenue) as i128 / revenue as i128) as i64;
    taken(after) - taken(before)
}

/// Points of one earning that are still available, and when they expire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lot {
    pub id: String,
    pub expires_at: i64,
    pub remaining: i64,
}

/// Takes `points` from the lots, earliest expiry first; returns what was taken
/// from each and anything the lots could not cover.
pub fn consume_fifo(lots: &mut [Lot], mut points: i64) -> (Vec<(String, i64)>, i64) {
    lots.sort_by(|a, b| (a.expires_at, &a.id).cmp(&(b.expires_at, &b.id)));
    let mut taken = Vec::new();
    for lot in lots.iter_mut() {
        if points <= 0 {
            break;
        }
        let t = lot.remaining.min(points);
        if t > 0 {
            lot.remaining -= t;
            points -= t;
            taken.push((lot.id.clone(), t));
        }
    }
    (taken, points.max(0))
}

/// The lots that have expired by `as_of` with points left, and how many.
pub fn expiring(lots: &[Lot], as_of: i64) -> Vec<(String, i64)> {
    lots.iter().filter(|l| l.expires_at <= as_of && l.remaining > 0).map(|l| (l.id.clone(), l.remaining)).collect()
}

/// How many of `earned` new points stay available after repaying a negative balance.
pub fn available_after_debt(balance_before: i64, earned: i64) -> i64 {
    earned - (-balance_before).clamp(0, earned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn defaults_are_valid_and_tiers_resolve() {
        let p = Program::default();
        p.validate().unwrap();
        assert_eq!(p.tier_for(0).code, "dong");
        assert_eq!(p.tier_for(4_999_999).code, "dong");
        assert_eq!(p.tier_for(5_000_000).code, "bac");
        assert_eq!(p.tier_for(39_999_999).code, "vang");
        assert_eq!(p.tier_for(400_000_000).code, "kim_cuong");
        assert_eq!(p.next_tier(4_000_000).map(|(t, n)| (t.code.as_str(), n)), Some(("bac", 1_000_000)));
        assert_eq!(p.next_tier(40_000_000), None);
    }

    #[test]
    fn points_by_spend_and_multiplier() {
        let p = Program::default();
        assert_eq!(p.points_for(350_000, 1.0), 35);
        assert_eq!(p.points_for(350_000, 1.2), 42);
        assert_eq!(p.points_for(9_999, 2.0), 1);
        assert_eq!(p.points_for(9_999, 1.0), 0);
        let usd = Program { currency: "USD".into(), spend_per_point: 1.0, ..Program::default() };
        assert_eq!(usd.points_for(2933, 1.5), 43, "29.33 USD × 1.5");
    }

    #[test]
    fn invalid_programs_name_the_field() {
        let mut p = Program::default();
        p.tiers[2].min_spend = 1.0;
        p.tiers[1].multiplier = 0.0;
        p.tiers[0].min_spend = 10.0;
        p.spend_per_point = 0.0;
        let fields: Vec<String> = p.validate().unwrap_err().0.into_iter().map(|e| e.field).collect();
        for f in ["spend_per_point", "tiers[0].min_spend", "tiers[1].multiplier", "tiers[2].min_spend"] {
            assert!(fields.contains(&f.to_string()), "{f} in {fields:?}");
        }
        let empty = Program { tiers: vec![], ..Program::default() };
        assert_eq!(empty.validate().unwrap_err().0[0].field, "tiers");
    }

    #[test]
    fn fifo_and_expiry() {
        let mut lots = vec![Lot { id: "b".into(), expires_at: 200, remaining: 10 }, Lot { id: "a".into(), expires_at: 100, remaining: 5 }];
        let (taken, short) = consume_fifo(&mut lots, 8);
        assert_eq!((taken, short), (vec![("a".to_string(), 5), ("b".to_string(), 3)], 0));
        assert_eq!(expiring(&lots, 150), vec![]);
        assert_eq!(expiring(&lots, 200), vec![("b".to_string(), 7)]);
        let (_, short) = consume_fifo(&mut lots, 100);
        assert_eq!(short, 93);
        assert_eq!(available_after_debt(-30, 50), 20);
        assert_eq!(available_after_debt(-80, 50), 0);
        assert_eq!(available_after_debt(10, 50), 50);
    }

    proptest! {
        /// However a refund is split, the reversals add up to the points the
        /// refunded share earned, and a full refund takes back all of them.
        #[test]
        fn reversals_are_proportional_and_cumulative(earned in 0i64..10_000, revenue in 1i64..100_000_000, cuts in proptest::collection::vec(0.0f64..1.0, 1..6)) {
            let mut refunded = 0i64;
            let mut total = 0i64;
            for c in cuts {
                let next = (refunded + ((revenue - refunded) as f64 * c) as i64).min(revenue);
                total += reversal(earned, revenue, refunded, next);
                refunded = next;
            }
            prop_assert_eq!(total, (earned as i128 * refunded as i128 / revenue as i128) as i64);
            total += reversal(earned, revenue, refunded, revenue);
            prop_assert_eq!(total, earned);
        }
    }
}
