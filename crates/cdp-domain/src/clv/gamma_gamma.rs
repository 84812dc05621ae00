//! Gamma-Gamma: the value of a customer's purchases varies around the
//! customer's mean, which varies across customers; independent of BG/NBD.

use super::optimize::{bfgs, nelder_mead};
use super::parallel::sum_ranges;
use super::special::{digamma, digamma_diff, ln_gamma, ln_gamma_diff};
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

/// Repeat buyers ready for many likelihood evaluations: what does not depend
/// on the parameters is computed once.
struct Prepared {
    /// (x, m·x) per buyer.
    rows: Vec<(f64, f64)>,
    /// Distinct x with how many buyers have it.
    xs: Vec<(f64, f64)>,
    /// Σ x, Σ x·(ln m + ln x) and Σ ln m.
    sum_x: f64,
    sum_x_ln_mx: f64,
    sum_ln_m: f64,
}

impl Prepared {
    fn new(data: &[Spender]) -> Prepared {
        let mut counts: BTreeMap<u64, f64> = BTreeMap::new();
        for s in data {
            *counts.entry(s.x.to_bits()).or_default() += 1.0;
        }
        Prepared {
            rows: data.iter().map(|s| (s.x, s.m * s.x)).collect(),
            xs: counts.into_iter().map(|(bits, n)| (f64::from_bits(bits), n)).collect(),
            sum_x: data.iter().map(|s| s.x).sum(),
            sum_x_ln_mx: data.iter().map(|s| s.x * (s.m.ln() + s.x.ln())).sum(),
            sum_ln_m: data.iter().map(|s| s.m.ln()).sum(),
        }
    }
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
        let (px, mx) = (p * s.x, s.m * s.x);
        // q·ln γ − q·ln(γ + m·x) as −q·ln(1 + m·x/γ): no cancellation when q and γ are huge.
        ln_gamma_diff(q, px) - ln_gamma(px) - q * (mx / gamma).ln_1p() + (px - 1.0) * s.m.ln() + px * s.x.ln() - px * (gamma + mx).ln()
    }

    /// Total log-likelihood and its gradient with respect to (ln p, ln q, ln γ).
    /// Only ln(γ + m·x) ties a parameter to each buyer; everything else is a
    /// sum prepared once or a gamma-function term per distinct x.
    fn log_likelihood_grad(&self, d: &Prepared) -> (f64, [f64; 3]) {
        let GammaGamma { p, q, gamma } = *self;
        let ln_g = gamma.ln();
        // Per distinct x (with its count): Σ lnΓ terms, Σ x·(ψ(px+q) − ψ(px)), Σ ψ(px+q) − ψ(q).
        // Where the maximum lies at q, γ → ∞ (every buyer with the same mean
        // spend) differences of huge gammas and logs are taken in stable forms.
        let (mut lg, mut dp, mut dq) = (0.0, 0.0, 0.0);
        for &(x, count) in &d.xs {
            let px = p * x;
            lg += count * (ln_gamma_diff(q, px) - ln_gamma(px));
            dp += count * x * (digamma(px + q) - digamma(px));
            dq += count * digamma_diff(q, px);
        }
        // With den = γ + m·x and lp = ln(1 + m·x/γ) = ln den − ln γ:
        // Σ lp, Σ x·lp, Σ m·x/den, Σ x/den.
        let [lp0, lp1, j0, i1] = sum_ranges(d.rows.len(), |range| {
            let mut s = [0.0; 4];
            for &(x, mx) in &d.rows[range] {
                let lp = (mx / gamma).ln_1p();
                let inv = 1.0 / (gamma + mx);
                s[0] += lp;
                s[1] += x * lp;
                s[2] += mx * inv;
                s[3] += x * inv;
            }
            s
        });
        let l1 = ln_g * d.sum_x + lp1; // Σ x·ln den
        let ll = lg + p * d.sum_x_ln_mx - d.sum_ln_m - p * l1 - q * lp0;
        let gp = dp + d.sum_x_ln_mx - l1;
        let gq = dq - lp0;
        let gg = q * j0 / gamma - p * i1;
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
        let prepared = Prepared::new(&data);
        let with_gradient = |v: &[f64]| {
            let (ll, g) = model(v).log_likelihood_grad(&prepared);
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

/// Discounted CLV: Σₖ E[M]·(E[Y(k months)] − E[Y((k−1) months)]) / (1+d)^k over
/// the cumulative expected purchases at the end of each month.
pub fn discounted_clv(expected_value: f64, cumulative: impl IntoIterator<Item = f64>, monthly_discount: f64) -> f64 {
    let step = 1.0 / (1.0 + monthly_discount);
    let (mut total, mut before, mut discount) = (0.0, 0.0, 1.0);
    for now in cumulative {
        discount *= step;
        total += expected_value * (now - before).max(0.0) * discount;
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
    fn the_prepared_likelihood_and_gradient_match_the_plain_one() {
        let data = cdnow_spenders();
        let prepared = Prepared::new(&data);
        let m = GammaGamma { p: 5.0, q: 3.0, gamma: 12.0 };
        let (ll, grad) = m.log_likelihood_grad(&prepared);
        let plain = |m: GammaGamma| data.iter().map(|s| m.log_likelihood(s)).sum::<f64>();
        assert!((ll - plain(m)).abs() < 1e-8 * ll.abs(), "{ll} vs {}", plain(m));
        let theta = [m.p.ln(), m.q.ln(), m.gamma.ln()];
        for k in 0..3 {
            let at = |d: f64| {
                let mut t = theta;
                t[k] += d;
                plain(GammaGamma { p: t[0].exp(), q: t[1].exp(), gamma: t[2].exp() })
            };
            let numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
            assert!((grad[k] - numeric).abs() < 1e-4 * (1.0 + numeric.abs()), "∂{k}: {} vs {numeric}", grad[k]);
        }
    }

    /// Every buyer's purchases drawn around the same mean: the likelihood
    /// rises towards q, γ → ∞ with γ/q fixed. The fit must stop there with
    /// the right mean spend, not on rounding noise of q·ln γ ≈ 10⁸¹.
    #[test]
    fn a_maximum_on_the_boundary_is_reached() {
        let mut u = crate::clv::simulate::splitmix(9);
        let data: Vec<Spender> = (0..20_000)
            .map(|i| {
                let x = 1 + i % 7;
                let m = (0..x).map(|_| 30_000.0 + u() * 900_000.0).sum::<f64>() / x as f64;
                Spender { x: x as f64, m }
            })
            .collect();
        let fit = GammaGamma::fit(&data).unwrap();
        let g = fit.model;
        assert!(g.q > 1e4 && g.gamma > 1e4, "{g:?}");
        let population = g.expected_value(None);
        assert!((population / 480_000.0 - 1.0).abs() < 0.02, "{population} {g:?}");
        let far = GammaGamma { q: 2.0 * g.q, gamma: 2.0 * g.gamma, ..g };
        let ll_far: f64 = data.iter().map(|s| far.log_likelihood(s)).sum();
        assert!((ll_far - fit.log_likelihood).abs() < 1e-6 * fit.log_likelihood.abs(), "{} vs {ll_far}", fit.log_likelihood);
        assert!(data.iter().take(100).all(|s| g.expected_value(Some(s)).is_finite()));
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
        let v = discounted_clv(10.0, [1.0, 2.0], 0.01);
        assert!((v - (10.0 / 1.01 + 10.0 / 1.0201)).abs() < 1e-12);
    }
}
