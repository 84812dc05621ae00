//! Campaigns measured against a holdout: who is held out (a hash, so the
//! assignment is the same however often it is computed, and anyone can
//! recompute it), and what the results mean — the two-proportion z-test
//! with pooled variance for the p-value, the unpooled (Wald) normal
//! interval for the difference in conversion, Welch's t interval for the
//! difference in revenue per customer.

use sha2::{Digest, Sha256};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Treatment (contacted) or control (held out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    Treatment,
    Control,
}

impl Group {
    pub fn as_str(self) -> &'static str {
        match self {
            Group::Treatment => "treatment",
            Group::Control => "control",
        }
    }

    pub fn parse(s: &str) -> Option<Group> {
        match s {
            "treatment" => Some(Group::Treatment),
            "control" => Some(Group::Control),
            _ => None,
        }
    }
}

/// The share held out, in basis points (0 to 5000 = 0% to 50%), from a
/// percentage with at most two decimals.
pub fn holdout_basis_points(percent: f64) -> Option<u32> {
    if !percent.is_finite() || !(0.0..=50.0).contains(&percent) {
        return None;
    }
    let bp = (percent * 100.0).round();
    ((bp - percent * 100.0).abs() < 1e-6).then_some(bp as u32)
}

/// The bucket of a person in a campaign: the first 8 bytes of
/// SHA-256(`campaign id` `:` `profile id`), big-endian, modulo 10,000.
pub fn bucket(campaign_id: &str, profile_id: &str) -> u32 {
    let mut h = Sha256::new();
    h.update(campaign_id.as_bytes());
    h.update(b":");
    h.update(profile_id.as_bytes());
    let d = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    (u64::from_be_bytes(first) % 10_000) as u32
}

/// Control when the bucket is below the holdout's basis points.
pub fn assign(campaign_id: &str, profile_id: &str, holdout_bp: u32) -> Group {
    if bucket(campaign_id, profile_id) < holdout_bp {
        Group::Control
    } else {
        Group::Treatment
    }
}

/// What a group did: its size, how many converted, and the sum and sum of
/// squares of each member's revenue in the window (non-converters count 0).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GroupTotals {
    pub size: u64,
    pub converters: u64,
    pub revenue: f64,
    pub revenue_sq: f64,
}

impl GroupTotals {
    /// Adds a member with this revenue (0 when they did not convert).
    pub fn add(&mut self, converted: bool, revenue: f64) {
        self.size += 1;
        self.converters += u64::from(converted);
        self.revenue += revenue;
        self.revenue_sq += revenue * revenue;
    }

    pub fn conversion_rate(&self) -> Option<f64> {
        (self.size > 0).then(|| self.converters as f64 / self.size as f64)
    }

    pub fn revenue_per_customer(&self) -> Option<f64> {
        (self.size > 0).then(|| self.revenue / self.size as f64)
    }

    /// The sample variance of revenue per member (n − 1).
    fn revenue_variance(&self) -> Option<f64> {
        (self.size > 1).then(|| {
            let n = self.size as f64;
            ((self.revenue_sq - self.revenue * self.revenue / n) / (n - 1.0)).max(0.0)
        })
    }
}

/// Treatment against control.
#[derive(Debug, Clone, PartialEq)]
pub struct Results {
    /// Conversion rate difference (treatment − control).
    pub uplift: Option<f64>,
    pub uplift_ci95: Option<(f64, f64)>,
    /// The difference relative to the control's rate.
    pub relative_uplift: Option<f64>,
    pub p_value: Option<f64>,
    /// Revenue per customer difference.
    pub revenue_uplift: Option<f64>,
    pub revenue_uplift_ci95: Option<(f64, f64)>,
}

/// The figures of a campaign; `None` where a formula is undefined (an empty
/// group, a pooled rate of 0 or 1, fewer than two members for a variance).
pub fn results(t: &GroupTotals, c: &GroupTotals) -> Results {
    let z = Normal::new(0.0, 1.0).expect("the standard normal");
    let z975 = z.inverse_cdf(0.975);
    let (pt, pc) = (t.conversion_rate(), c.conversion_rate());
    let uplift = pt.zip(pc).map(|(a, b)| a - b);
    let (nt, nc) = (t.size as f64, c.size as f64);
    let uplift_ci95 = pt.zip(pc).map(|(a, b)| {
        let se = (a * (1.0 - a) / nt + b * (1.0 - b) / nc).sqrt();
        (a - b - z975 * se, a - b + z975 * se)
    });
    let relative_uplift = pt.zip(pc).filter(|(_, b)| *b > 0.0).map(|(a, b)| (a - b) / b);
    let p_value = pt.zip(pc).and_then(|(a, b)| {
        let pooled = (t.converters + c.converters) as f64 / (nt + nc);
        let se = (pooled * (1.0 - pooled) * (1.0 / nt + 1.0 / nc)).sqrt();
        (se > 0.0).then(|| 2.0 * (1.0 - z.cdf(((a - b) / se).abs())))
    });
    let (rt, rc) = (t.revenue_per_customer(), c.revenue_per_customer());
    let revenue_uplift = rt.zip(rc).map(|(a, b)| a - b);
    let revenue_uplift_ci95 = t.revenue_variance().zip(c.revenue_variance()).map(|(vt, vc)| {
        let d = rt.unwrap_or(0.0) - rc.unwrap_or(0.0);
        let (at, ac) = (vt / nt, vc / nc);
        let se = (at + ac).sqrt();
        if se == 0.0 {
            return (d, d);
        }
        // Welch–Satterthwaite degrees of freedom.
        let df = (at + ac).powi(2) / (at * at / (nt - 1.0) + ac * ac / (nc - 1.0));
        let q = StudentsT::new(0.0, 1.0, df).map(|s| s.inverse_cdf(0.975)).unwrap_or(z975);
        (d - q * se, d + q * se)
    });
    Results { uplift, uplift_ci95, relative_uplift, p_value, revenue_uplift, revenue_uplift_ci95 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn holdouts_are_percentages_up_to_fifty_with_two_decimals() {
        assert_eq!(holdout_basis_points(20.0), Some(2000));
        assert_eq!(holdout_basis_points(12.5), Some(1250));
        assert_eq!(holdout_basis_points(0.0), Some(0));
        assert_eq!(holdout_basis_points(50.0), Some(5000));
        assert_eq!(holdout_basis_points(50.01), None);
        assert_eq!(holdout_basis_points(-1.0), None);
        assert_eq!(holdout_basis_points(10.001), None);
    }

    #[test]
    fn buckets_are_sha256_of_campaign_and_profile() {
        // sha256("c:p") = 328b7144e712b078…
        let expected = (u64::from_str_radix("328b7144e712b078", 16).unwrap() % 10_000) as u32;
        assert_eq!(bucket("c", "p"), expected);
    }

    /// The formulas by hand (as R's prop.test(correct = FALSE) computes them).
    #[test]
    fn results_match_the_textbook() {
        // Treatment 200/1000, control 30/250.
        let mut t = GroupTotals { size: 1000, converters: 200, ..Default::default() };
        let mut c = GroupTotals { size: 250, converters: 30, ..Default::default() };
        // Revenue: converters spend 100 each in treatment, 80 in control.
        t.revenue = 200.0 * 100.0;
        t.revenue_sq = 200.0 * 100.0 * 100.0;
        c.revenue = 30.0 * 80.0;
        c.revenue_sq = 30.0 * 80.0 * 80.0;
        let r = results(&t, &c);
        assert!((r.uplift.unwrap() - 0.08).abs() < 1e-12);
        // z = 0.08 / sqrt(0.184 × 0.816 × (1/1000 + 1/250)) = 2.91979, p = 0.0035027
        assert!((r.p_value.unwrap() - 0.003_502_72).abs() < 1e-7, "{:?}", r.p_value);
        // Wald: 0.08 ± 1.959964 × sqrt(0.2×0.8/1000 + 0.12×0.88/250) = 0.08 ± 0.04585…
        let (lo, hi) = r.uplift_ci95.unwrap();
        let half = 1.959_963_984_540_054 * (0.2f64 * 0.8 / 1000.0 + 0.12 * 0.88 / 250.0).sqrt();
        assert!((lo - (0.08 - half)).abs() < 1e-12 && (hi - (0.08 + half)).abs() < 1e-12);
        assert!((r.relative_uplift.unwrap() - 0.08 / 0.12).abs() < 1e-12);
        assert!((r.revenue_uplift.unwrap() - (20.0 - 9.6)).abs() < 1e-9);
        let (lo, hi) = r.revenue_uplift_ci95.unwrap();
        assert!(lo < 10.4 && hi > 10.4 && lo > 0.0, "({lo}, {hi})");
    }

    /// Welch's interval where the degrees of freedom are whole: equal sizes
    /// and variances give 2(n − 1) = 10, whose t quantile is 2.228138852.
    #[test]
    fn welch_interval() {
        let (mut t, mut c) = (GroupTotals::default(), GroupTotals::default());
        for r in [0.0, 0.0, 0.0, 10.0, 10.0, 10.0] {
            t.add(r > 0.0, r);
        }
        for r in [2.0, 2.0, 2.0, 12.0, 12.0, 12.0] {
            c.add(true, r);
        }
        let (lo, hi) = results(&t, &c).revenue_uplift_ci95.unwrap();
        let half = 2.228_138_851_986_274 * 10f64.sqrt();
        assert!((lo - (-2.0 - half)).abs() < 1e-9 && (hi - (-2.0 + half)).abs() < 1e-9, "({lo}, {hi})");
    }

    #[test]
    fn undefined_figures_are_none() {
        let empty = GroupTotals::default();
        let mut one = GroupTotals::default();
        one.add(false, 0.0);
        let r = results(&one, &empty);
        assert_eq!((r.uplift, r.p_value, r.uplift_ci95, r.revenue_uplift_ci95), (None, None, None, None));
        let r = results(&one, &one);
        assert_eq!((r.uplift, r.p_value, r.relative_uplift), (Some(0.0), None, None), "nobody converted: no test");
    }

    proptest! {
        /// The held-out share follows the holdout, and each person's group
        /// is the same however often it is computed.
        #[test]
        fn assignment_is_stable_and_shares_follow_the_holdout(campaign in "[a-z0-9-]{8,36}", bp in 0u32..=5000) {
            let n = 4000;
            let control = (0..n).filter(|i| assign(&campaign, &format!("p-{i}"), bp) == Group::Control).count();
            let expected = n as f64 * bp as f64 / 10_000.0;
            // Within six standard deviations of a binomial share.
            let sd = (n as f64 * (bp as f64 / 10_000.0) * (1.0 - bp as f64 / 10_000.0)).sqrt();
            prop_assert!((control as f64 - expected).abs() <= 6.0 * sd + 1.0, "{control} vs {expected}");
            for i in 0..50 {
                let p = format!("p-{i}");
                prop_assert_eq!(assign(&campaign, &p, bp), assign(&campaign, &p, bp));
            }
        }
    }
}
