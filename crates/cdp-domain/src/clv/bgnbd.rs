//! BG/NBD: customers buy at Poisson rate λ ~ Gamma(r, α) while alive, and
//! after each purchase drop out with probability p ~ Beta(a, b).

use super::optimize::{bfgs, nelder_mead};
use super::parallel::{sum_ranges, FastMap};
use super::special::{digamma_diff, ln_gamma_diff, ln_scaled_hyp2f1_many, log_add_exp};
use serde::{Deserialize, Serialize};

/// One customer's history in the model's time unit: `x` repeat purchase
/// occasions, the last at `t_x` after the first, observed for `t` since the first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Customer {
    pub x: f64,
    pub t_x: f64,
    pub t: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    pub r: f64,
    pub alpha: f64,
    pub a: f64,
    pub b: f64,
}

/// A fitted model and how well it fits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BgNbdFit {
    pub model: BgNbd,
    pub log_likelihood: f64,
    pub customers: usize,
}

/// Customers with the same history, counted once with a weight; times are
/// indexes into one table of distinct times, so that ln(α + t) is computed
/// once per distinct time and evaluation.
struct Groups {
    /// (index into `xs`, index of t_x in `ts`, index of T in `ts`, weight)
    rows: Vec<(usize, usize, usize, f64)>,
    xs: Vec<f64>,
    ts: Vec<f64>,
}

/// Numbers met in a stream, each given the index of its first appearance.
#[derive(Default)]
struct Interner {
    index: FastMap<u64, u32>,
    values: Vec<f64>,
}

impl Interner {
    fn index(&mut self, v: f64) -> u32 {
        let values = &mut self.values;
        *self.index.entry(v.to_bits()).or_insert_with(|| {
            values.push(v);
            (values.len() - 1) as u32
        })
    }

    /// The values in ascending order, and where each first-appearance index went.
    fn sorted(self) -> (Vec<f64>, Vec<usize>) {
        let mut order: Vec<usize> = (0..self.values.len()).collect();
        order.sort_unstable_by(|&a, &b| self.values[a].total_cmp(&self.values[b]));
        let mut rank = vec![0; order.len()];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        (order.iter().map(|&i| self.values[i]).collect(), rank)
    }
}

/// Groups identical histories. Purchase counts and days take few distinct
/// values, so they are numbered first (small tables) and the histories keyed
/// by those numbers; the rows come out in an order that does not depend on
/// the customers' order, so neither does the fit.
fn group(customers: &[Customer]) -> Groups {
    let (mut xs, mut ts) = (Interner::default(), Interner::default());
    let mut rows: FastMap<(u32, u32, u32), f64> = FastMap::default();
    rows.reserve(customers.len() / 4);
    for c in customers {
        *rows.entry((xs.index(c.x), ts.index(c.t_x), ts.index(c.t))).or_default() += 1.0;
    }
    let ((xs, x_rank), (ts, t_rank)) = (xs.sorted(), ts.sorted());
    let mut rows: Vec<_> = rows.into_iter().map(|(k, w)| (x_rank[k.0 as usize], t_rank[k.1 as usize], t_rank[k.2 as usize], w)).collect();
    rows.sort_unstable_by_key(|r| (r.0, r.1, r.2));
    Groups { rows, xs, ts }
}

impl BgNbd {
    /// The log-likelihood of one customer's history (Fader, Hardie & Lee 2005, eq. 6).
    pub fn log_likelihood(&self, c: &Customer) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let x = c.x;
        let a1 = ln_gamma_diff(r, x) + r * alpha.ln();
        let a2 = ln_gamma_diff(b, x) - ln_gamma_diff(a + b, x);
        let a3 = -(r + x) * (alpha + c.t).ln();
        if x > 0.0 {
            let a4 = a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + c.t_x).ln();
            a1 + a2 + log_add_exp(a3, a4)
        } else {
            a1 + a2 + a3
        }
    }

    fn grouped_log_likelihood(&self, g: &Groups) -> f64 {
        let BgNbd { r, alpha, a, b } = *self;
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        let per_x: Vec<(f64, f64)> =
            g.xs.iter()
                .map(|&x| {
                    let fixed = ln_gamma_diff(r, x) + r * ln_alpha + ln_gamma_diff(b, x) - ln_gamma_diff(a + b, x);
                    let drop = if x > 0.0 { ln_a - (b + x - 1.0).ln() } else { f64::NEG_INFINITY };
                    (fixed, drop)
                })
                .collect();
        let ln_t: Vec<f64> = g.ts.iter().map(|t| (alpha + t).ln()).collect();
        let [ll] = sum_ranges(g.rows.len(), |range| {
            [g.rows[range]
                .iter()
                .map(|&(xi, txi, ti, w)| {
                    let x = g.xs[xi];
                    let (fixed, drop) = per_x[xi];
                    let a3 = -(r + x) * ln_t[ti];
                    let tail = if x > 0.0 { log_add_exp(a3, drop - (r + x) * ln_t[txi]) } else { a3 };
                    w * (fixed + tail)
                })
                .sum()]
        });
        ll
    }

    /// The log-likelihood of grouped data and its gradient with respect to
    /// (ln r, ln α, ln a, ln b).
    fn grouped_log_likelihood_grad(&self, g: &Groups) -> (f64, [f64; 4]) {
        let BgNbd { r, alpha, a, b } = *self;
        let (ln_alpha, ln_a) = (alpha.ln(), a.ln());
        // Per distinct x: the terms that do not depend on the times, and their derivatives.
        struct PerX {
            fixed: f64,
            drop: f64,
            d_r: f64,
            d_a: f64,
            d_b: f64,
            inv_bx1: f64,
        }
        let per_x: Vec<PerX> =
            g.xs.iter()
                .map(|&x| {
                    let dg_ab = digamma_diff(a + b, x);
                    PerX {
                        fixed: ln_gamma_diff(r, x) + r * ln_alpha + ln_gamma_diff(b, x) - ln_gamma_diff(a + b, x),
                        drop: if x > 0.0 { ln_a - (b + x - 1.0).ln() } else { f64::NEG_INFINITY },
                        d_r: digamma_diff(r, x) + ln_alpha,
                        d_a: -dg_ab,
                        d_b: digamma_diff(b, x) - dg_ab,
                        inv_bx1: if x > 0.0 { 1.0 / (b + x - 1.0) } else { 0.0 },
                    }
                })
                .collect();
        let ln_t: Vec<f64> = g.ts.iter().map(|t| (alpha + t).ln()).collect();
        let inv_t: Vec<f64> = g.ts.iter().map(|t| 1.0 / (alpha + t)).collect();
        let [ll, gr, ga, gaa, gb] = sum_ranges(g.rows.len(), |range| {
            let (mut ll, mut gr, mut ga, mut gaa, mut gb) = (0.0, 0.0, 0.0, 0.0, 0.0);
            for &(xi, txi, ti, w) in &g.rows[range] {
                let x = g.xs[xi];
                let p = &per_x[xi];
                let l3 = ln_t[ti];
                let a3 = -(r + x) * l3;
                if x > 0.0 {
                    // tail = ln(e^a3 + e^a4) with weights w3 + w4 = 1, from one exp and one ln_1p.
                    let l4 = ln_t[txi];
                    let d = p.drop - (r + x) * l4 - a3;
                    let (tail, w4) = if d > 0.0 {
                        let e = (-d).exp();
                        (a3 + d + e.ln_1p(), 1.0 / (1.0 + e))
                    } else {
                        let e = d.exp();
                        (a3 + e.ln_1p(), e / (1.0 + e))
                    };
                    let w3 = 1.0 - w4;
                    ll += w * (p.fixed + tail);
                    gr += w * (p.d_r - w3 * l3 - w4 * l4);
                    ga += w * (r / alpha - (r + x) * (w3 * inv_t[ti] + w4 * inv_t[txi]));
                    gaa += w * (p.d_a + w4 / a);
                    gb += w * (p.d_b - w4 * p.inv_bx1);
                } else {
                    ll += w * (p.fixed + a3);
                    gr += w * (p.d_r - l3);
                    ga += w * (r / alpha - (r + x) * inv_t[ti]);
                    gaa += w * p.d_a;
                    gb += w * p.d_b;
                }
            }
            [ll, gr, ga, gaa, gb]
        });
        (ll, [gr * r, ga * alpha, gaa * a, gb * b])
    }

    /// Maximum-likelihood fit over the whole customer base: BFGS with the
    /// analytic gradient, and Nelder–Mead from where it stopped should it not
    /// converge.
    pub fn fit(customers: &[Customer]) -> Option<BgNbdFit> {
        if customers.is_empty() {
            return None;
        }
        let g = group(customers);
        let mean_t = customers.iter().map(|c| c.t).sum::<f64>() / customers.len() as f64;
        let model = |p: &[f64]| BgNbd { r: p[0].exp(), alpha: p[1].exp(), a: p[2].exp(), b: p[3].exp() };
        let objective = |p: &[f64]| -model(p).grouped_log_likelihood(&g);
        let with_gradient = |p: &[f64]| {
            let (ll, grad) = model(p).grouped_log_likelihood_grad(&g);
            (-ll, grad.iter().map(|v| -v).collect())
        };
        let start = [0.0, mean_t.max(1e-3).ln(), 0.0, 0.0];
        let (point, value, converged) = bfgs(with_gradient, &start, 1e-9, 500);
        // Nelder–Mead is the fallback only: on a million customers each of its
        // evaluations costs milliseconds, so its budget is kept small.
        let (best, value) = if converged { (point, value) } else { nelder_mead(objective, &point, 1e-13, 4_000) };
        let fitted = model(&best);
        (value.is_finite() && [fitted.r, fitted.alpha, fitted.a, fitted.b].iter().all(|v| v.is_finite() && *v > 0.0)).then_some(BgNbdFit {
            model: fitted,
            log_likelihood: -value,
            customers: customers.len(),
        })
    }

    /// P(alive | x, t_x, T).
    pub fn p_alive(&self, c: &Customer) -> f64 {
        if c.x <= 0.0 {
            return 1.0;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let ln_odds = a.ln() - (b + c.x - 1.0).ln() + (r + c.x) * ((alpha + c.t).ln() - (alpha + c.t_x).ln());
        // 1 / (1 + e^ln_odds), computed without overflow.
        if ln_odds > 0.0 {
            let e = (-ln_odds).exp();
            e / (1.0 + e)
        } else {
            1.0 / (1.0 + ln_odds.exp())
        }
    }

    /// E[Y(t) | x, t_x, T]: purchases expected over the next `t` time units
    /// (Fader, Hardie & Lee 2005, eq. 10), as P(alive) times the purchases
    /// expected of a customer known to be alive.
    pub fn expected_purchases(&self, c: &Customer, t: f64) -> f64 {
        self.p_alive(c) * self.expected_purchases_if_alive(c.x, c.t, t)
    }

    /// E[Y(t) | alive at T, x, T]: purchases expected over the next `t` of a
    /// customer still alive after `x` repeat purchases in `t_obs`. Equation 10
    /// is this divided by 1 + odds of having dropped out, and the odds are the
    /// only place t_x appears: scoring computes this once per distinct (x, T).
    pub fn expected_purchases_if_alive(&self, x: f64, t_obs: f64, t: f64) -> f64 {
        let mut out = [0.0];
        self.expected_purchases_if_alive_at(x, t_obs, &[t], &mut out);
        out[0]
    }

    /// [`Self::expected_purchases_if_alive`] at several horizons at once.
    pub fn expected_purchases_if_alive_at(&self, x: f64, t_obs: f64, ts: &[f64], out: &mut [f64]) {
        // The formula divides by (a − 1): near a = 1 take the mean of both sides.
        if (self.a - 1.0).abs() < 1e-6 {
            let mut hi = vec![0.0; ts.len()];
            BgNbd { a: 1.0 - 1e-5, ..*self }.expected_purchases_if_alive_at(x, t_obs, ts, out);
            BgNbd { a: 1.0 + 1e-5, ..*self }.expected_purchases_if_alive_at(x, t_obs, ts, &mut hi);
            out.iter_mut().zip(hi).for_each(|(lo, hi)| *lo = 0.5 * (*lo + hi));
            return;
        }
        let BgNbd { r, alpha, a, b } = *self;
        let cc = a + b + x - 1.0;
        if cc > 0.0 {
            let zs: Vec<f64> = ts.iter().map(|t| t / (alpha + t_obs + t)).collect();
            ln_scaled_hyp2f1_many(r + x, b + x, cc, &zs, out);
        }
        for (v, &t) in out.iter_mut().zip(ts) {
            let value = cc / (a - 1.0) * (1.0 - v.exp());
            *v = if t <= 0.0 {
                0.0
            } else if cc > 0.0 && value.is_finite() && value >= 0.0 {
                value
            } else {
                // Degenerate parameters (a + b + x ≤ 1): the purchases of a
                // customer who stays alive at the posterior mean rate.
                (r + x) / (alpha + t_obs) * t
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    pub(crate) fn cdnow() -> Vec<Customer> {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/cdnow/cdnow_customers_summary.csv"))
            .unwrap();
        text.lines()
            .skip(1)
            .map(|l| {
                let f: Vec<f64> = l.split(',').map(|v| v.parse().unwrap()).collect();
                Customer { x: f[1], t_x: f[2], t: f[3] }
            })
            .collect()
    }

    #[test]
    fn cdnow_matches_the_published_fit() {
        let fit = BgNbd::fit(&cdnow()).unwrap();
        let m = fit.model;
        assert_eq!(fit.customers, 2357);
        assert!((m.r - 0.243).abs() < 5e-4, "{m:?}");
        assert!((m.alpha - 4.414).abs() < 5e-3, "{m:?}");
        assert!((m.a - 0.793).abs() < 5e-3, "{m:?}");
        assert!((m.b - 2.426).abs() < 5e-3, "{m:?}");
        assert!((fit.log_likelihood - -9582.4).abs() < 0.05, "{}", fit.log_likelihood);
        // Hardie's worked example.
        let e = m.expected_purchases(&Customer { x: 2.0, t_x: 30.43, t: 38.86 }, 39.0);
        assert!((e - 1.226).abs() < 1e-3, "{e}");
    }

    #[test]
    fn the_gradient_matches_finite_differences() {
        let g = group(&cdnow());
        let m = BgNbd { r: 0.3, alpha: 5.0, a: 0.9, b: 2.0 };
        let (ll, grad) = m.grouped_log_likelihood_grad(&g);
        assert!((ll - m.grouped_log_likelihood(&g)).abs() < 1e-8);
        let theta = [m.r.ln(), m.alpha.ln(), m.a.ln(), m.b.ln()];
        for k in 0..4 {
            let at = |d: f64| {
                let mut t = theta;
                t[k] += d;
                BgNbd { r: t[0].exp(), alpha: t[1].exp(), a: t[2].exp(), b: t[3].exp() }.grouped_log_likelihood(&g)
            };
            let numeric = (at(1e-6) - at(-1e-6)) / 2e-6;
            assert!((grad[k] - numeric).abs() < 1e-4 * (1.0 + numeric.abs()), "∂{k}: {} vs {numeric}", grad[k]);
        }
    }

    #[test]
    fn grouped_and_plain_likelihoods_agree() {
        let data = cdnow();
        let m = BgNbd { r: 0.3, alpha: 5.0, a: 0.9, b: 2.0 };
        let plain: f64 = data.iter().map(|c| m.log_likelihood(c)).sum();
        assert!((plain - m.grouped_log_likelihood(&group(&data))).abs() < 1e-6);
    }

    #[test]
    fn extreme_histories_stay_finite() {
        let m = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        for c in [
            Customer { x: 0.0, t_x: 0.0, t: 0.0 },
            Customer { x: 0.0, t_x: 0.0, t: 1e-9 },
            Customer { x: 500.0, t_x: 52.0, t: 52.0 },
            Customer { x: 3000.0, t_x: 1000.0, t: 1000.0 },
            Customer { x: 1.0, t_x: 1e-6, t: 1e4 },
        ] {
            for t in [1e-6, 1.0, 39.0, 520.0, 1e5] {
                let e = m.expected_purchases(&c, t);
                assert!(e.is_finite() && e >= 0.0, "{c:?} t={t}: {e}");
            }
            let p = m.p_alive(&c);
            assert!((0.0..=1.0).contains(&p), "{c:?}: {p}");
            assert!(m.log_likelihood(&c).is_finite(), "{c:?}");
        }
    }

    /// Buyers at a steady rate, 40% of whom stop at a third of their time,
    /// observed by the day over two years (cdp-bench value's data): the
    /// likelihood rises towards a, b → ∞ (every customer with the same small
    /// drop-out probability). The fit must stop there, not wander off on the
    /// rounding noise of ln Γ(10¹⁶), and everything scored must stay finite.
    #[test]
    fn a_maximum_on_the_boundary_is_reached_and_scores_stay_finite() {
        let mut u = crate::clv::simulate::splitmix(42);
        let customers: Vec<Customer> = (0..20_000)
            .map(|_| {
                let k = ((10.0 * -(u().max(1e-12)).ln() * (0.5 + u())).round() as i64).max(1);
                let first = (u() * 700.0) as i64;
                let span = 730 - first;
                let active = if u() < 0.4 { span / 3 + 1 } else { span };
                let mut days: Vec<i64> = (0..k).map(|_| first + (u() * active as f64) as i64).collect();
                days.sort_unstable();
                days.dedup();
                Customer { x: (days.len() - 1) as f64, t_x: (days[days.len() - 1] - first) as f64 / 7.0, t: span as f64 / 7.0 }
            })
            .collect();
        let fit = BgNbd::fit(&customers).unwrap();
        let m = fit.model;
        assert!(m.a > 1e4 && m.b > 1e4 && m.a / (m.a + m.b) < 0.1, "{m:?}");
        // The limit is the same model whichever way a and b grow: the
        // likelihood hardly moves if both double.
        let far = BgNbd { a: 2.0 * m.a, b: 2.0 * m.b, ..m };
        let (ll_far, ll) = (customers.iter().map(|c| far.log_likelihood(c)).sum::<f64>(), fit.log_likelihood);
        assert!((ll_far - ll).abs() < 1e-6 * ll.abs(), "{ll} vs {ll_far}");
        for c in customers.iter().take(2000) {
            let (p, e) = (m.p_alive(c), m.expected_purchases(c, 52.0));
            assert!((0.0..=1.0).contains(&p) && e.is_finite() && e >= 0.0, "{c:?}: {p} {e}");
        }
    }

    proptest! {
        /// No NaN, no infinity: any parameters, any history.
        #[test]
        fn always_finite(
            lr in -8.0f64..4.0, la in -6.0f64..6.0, laa in -6.0f64..40.0, lb in -6.0f64..40.0,
            x in 0u32..400, tx_frac in 0.0f64..=1.0, t in 0.0f64..600.0, horizon in 0.0f64..400.0,
        ) {
            let m = BgNbd { r: lr.exp(), alpha: la.exp(), a: laa.exp(), b: lb.exp() };
            let c = Customer { x: x as f64, t_x: if x == 0 { 0.0 } else { tx_frac * t }, t };
            let e = m.expected_purchases(&c, horizon);
            prop_assert!(e.is_finite() && e >= 0.0, "E={e} for {m:?} {c:?}");
            let p = m.p_alive(&c);
            prop_assert!(p.is_finite() && (0.0..=1.0).contains(&p));
            prop_assert!(m.log_likelihood(&c).is_finite());
        }
    }
}
