//! Gamma-Gamma: the value of a customer's purchases varies around the
//! customer's mean, which varies across customers; independent of BG/NBD.

use super::optimize::{bfgs, nelder_mead};
use super::special::{digamma, ln_gamma};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A repeat buyer: `x` repeat purchase occasions with mean value `m`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spender {
    pub x: f64,
    pub m: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    pub p: f64,
    pub q: f64,
    pub gamma: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GammaGammaFit {
    pub model: GammaGamma,
    pub log_likelihood: f64,
    pub customers: usize,
}

impl GammaGamma {
    pub fn log_likelihood(&self, s: &Spender) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let px = p * s.x;
        ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q) + q * gamma.ln() + (px - 1.0) * s.m.ln() + px * s.x.ln()
            - (px + q) * (gamma + s.m * s.x).ln()
    }

    /// Total log-likelihood and its gradient with respect to (ln p, ln q, ln γ);
    /// the gamma-function terms are computed once per distinct x.
    fn log_likelihood_grad(&self, data: &[Spender], xs: &BTreeMap<u64, usize>) -> (f64, [f64; 3]) {
        let GammaGamma { p, q, gamma } = *self;
        let (lg_q, dg_q, ln_g) = (ln_gamma(q), digamma(q), gamma.ln());
        let per_x: Vec<(f64, f64, f64)> = xs
            .keys()
            .map(|bits| {
                let px = p * f64::from_bits(*bits);
                (ln_gamma(px + q) - ln_gamma(px) - lg_q, digamma(px + q), digamma(px))
            })
            .collect();
        let (mut ll, mut gp, mut gq, mut gg) = (0.0, 0.0, 0.0, 0.0);
        for s in data {
            let (lg, dg_pxq, dg_px) = per_x[xs[&s.x.to_bits()]];
            let px = p * s.x;
            let (ln_m, ln_x, den) = (s.m.ln(), s.x.ln(), gamma + s.m * s.x);
            let ln_den = den.ln();
            ll += lg + q * ln_g + (px - 1.0) * ln_m + px * ln_x - (px + q) * ln_den;
            gp += s.x * (dg_pxq - dg_px + ln_m + ln_x - ln_den);
            gq += dg_pxq - dg_q + ln_g - ln_den;
            gg += q / gamma - (px + q) / den;
        }
        (ll, [gp * p, gq * q, gg * gamma])
    }

    /// Maximum-likelihood fit on repeat buyers (x ≥ 1, m > 0): BFGS with the
    /// analytic gradient, Nelder–Mead should it not converge.
    pub fn fit(spenders: &[Spender]) -> Option<GammaGammaFit> {
        let data: Vec<Spender> = spenders.iter().copied().filter(|s| s.x >= 1.0 && s.m > 0.0 && s.m.is_finite()).collect();
        if data.len() < 2 {
            return None;
        }
        let mean = data.iter().map(|s| s.m).sum::<f64>() / data.len() as f64;
        let model = |v: &[f64]| GammaGamma { p: v[0].exp(), q: v[1].exp(), gamma: v[2].exp() };
        let objective = |v: &[f64]| -data.iter().map(|s| model(v).log_likelihood(s)).sum::<f64>();
        let xs: BTreeMap<u64, usize> = {
            let mut bits: Vec<u64> = data.iter().map(|s| s.x.to_bits()).collect();
            bits.sort_unstable();
            bits.dedup();
            bits.into_iter().enumerate().map(|(i, b)| (b, i)).collect()
        };
        let with_gradient = |v: &[f64]| {
            let (ll, g) = model(v).log_likelihood_grad(&data, &xs);
            (-ll, g.iter().map(|x| -x).collect())
        };
        let start = [0.0, 1.0f64.ln() + 1.0, mean.max(1e-6).ln()];
        let (point, value, converged) = bfgs(with_gradient, &start, 1e-9, 500);
        let (best, value) = if converged { (point, value) } else { nelder_mead(objective, &point, 1e-13, 20_000) };
        let fitted = model(&best);
        (value.is_finite() && [fitted.p, fitted.q, fitted.gamma].iter().all(|v| v.is_finite() && *v > 0.0)).then_some(GammaGammaFit {
            model: fitted,
            log_likelihood: -value,
            customers: data.len(),
        })
    }

    /// E[M]: the expected value of a purchase by a customer with this history;
    /// the population mean p·γ/(q − 1) for one with no repeat purchase.
    pub fn expected_value(&self, s: Option<&Spender>) -> f64 {
        let GammaGamma { p, q, gamma } = *self;
        let v = match s.filter(|s| s.x >= 1.0 && s.m > 0.0) {
            Some(s) => p * (gamma + s.x * s.m) / (p * s.x + q - 1.0),
            None => p * gamma / (q - 1.0),
        };
        if v.is_finite() && v > 0.0 {
            v
        } else {
            // q ≤ 1: the population mean does not exist; fall back to the customer's own mean.
            s.map(|s| s.m).unwrap_or(0.0)
        }
    }
}

/// Discounted CLV over `months` months: Σ E[M]·(E[Y(k·m)] − E[Y((k−1)·m)]) / (1+d)^k,
/// with `month` the length of a month in the model's time unit.
pub fn discounted_clv(expected_value: f64, cumulative: impl Fn(f64) -> f64, months: u32, month: f64, monthly_discount: f64) -> f64 {
    let mut total = 0.0;
    let mut before = 0.0;
    for k in 1..=months {
        let now = cumulative(k as f64 * month);
        total += expected_value * (now - before).max(0.0) / (1.0 + monthly_discount).powi(k as i32);
        before = now;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    /// Mean repeat spend per CDNOW customer over the calibration period.
    fn cdnow_spenders() -> Vec<Spender> {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cdnow/CDNOW_sample.txt")).unwrap();
        let mut days: BTreeMap<u32, BTreeMap<u32, f64>> = BTreeMap::new();
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (id, date, dollars): (u32, u32, f64) = (f[1].parse().unwrap(), f[2].parse().unwrap(), f[4].parse().unwrap());
            if date <= 19970930 {
                *days.entry(id).or_default().entry(date).or_default() += dollars;
            }
        }
        days.values()
            .filter(|d| d.len() > 1)
            .map(|d| {
                let repeat: Vec<f64> = d.values().skip(1).copied().collect();
                Spender { x: repeat.len() as f64, m: repeat.iter().sum::<f64>() / repeat.len() as f64 }
            })
            .collect()
    }

    #[test]
    fn cdnow_matches_the_published_fit() {
        let data = cdnow_spenders();
        assert_eq!(data.len(), 946);
        let fit = GammaGamma::fit(&data).unwrap();
        let m = fit.model;
        assert!((m.p - 6.25).abs() < 5e-3, "{m:?}");
        assert!((m.q - 3.74).abs() < 5e-3, "{m:?}");
        assert!((m.gamma - 15.44).abs() < 5e-3, "{m:?}");
    }

    #[test]
    fn expected_values_shrink_towards_the_mean() {
        let m = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
        let population = m.expected_value(None);
        assert!((population - 6.25 * 15.44 / 2.74).abs() < 1e-9);
        let big = m.expected_value(Some(&Spender { x: 1.0, m: 100.0 }));
        assert!(big < 100.0 && big > population);
        let many = m.expected_value(Some(&Spender { x: 50.0, m: 100.0 }));
        assert!(many > big && many < 100.0);
        assert!(GammaGamma { p: 1.0, q: 0.5, gamma: 1.0 }.expected_value(None).is_finite());
    }

    #[test]
    fn clv_discounts_each_month() {
        // One purchase a month worth 10, 1% a month: 10 / 1.01 + 10 / 1.01².
        let v = discounted_clv(10.0, |t| t, 2, 1.0, 0.01);
        assert!((v - (10.0 / 1.01 + 10.0 / 1.0201)).abs() < 1e-12);
    }
}
