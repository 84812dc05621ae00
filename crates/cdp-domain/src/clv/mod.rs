//! Predictive customer value: BG/NBD (Fader, Hardie & Lee 2005) for the
//! number of future purchases and P(alive), Gamma-Gamma (Fader, Hardie & Lee
//! 2005, "RFM and CLV") for the value of a purchase, and discounted CLV.
//!
//! Every function returns finite numbers for any finite, valid input: the
//! likelihoods are written in log space, the hypergeometric function is
//! evaluated by a transformation that keeps its series convergent, and the
//! optimiser works on log-parameters.

pub mod bgnbd;
pub mod gamma_gamma;
pub mod optimize;
pub mod parallel;
pub mod simulate;
pub mod special;

pub use bgnbd::{BgNbd, Customer};
pub use gamma_gamma::{GammaGamma, Spender};

/// Fits BG/NBD on every customer and Gamma-Gamma on the repeat buyers among
/// `spenders`, the two at once (they are independent).
pub fn fit_models(customers: &[Customer], spenders: &[Spender]) -> (Option<bgnbd::BgNbdFit>, Option<gamma_gamma::GammaGammaFit>) {
    std::thread::scope(|scope| {
        let gg = scope.spawn(|| GammaGamma::fit(spenders));
        let bg = BgNbd::fit(customers);
        (bg, gg.join().expect("the Gamma-Gamma fit panicked"))
    })
}

/// What the models predict for one customer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Score {
    pub p_alive: f64,
    /// Purchases expected over the horizon.
    pub expected_purchases: f64,
    /// Gamma-Gamma E[M] (the population mean without repeat purchases).
    pub expected_order_value: f64,
    /// Discounted CLV over the months asked for.
    pub clv: f64,
}

/// How to score: the horizon in the models' time unit, and the CLV's months,
/// month length (in that unit) and monthly discount rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreSettings {
    pub horizon: f64,
    pub months: u32,
    pub month: f64,
    pub monthly_discount: f64,
}

/// Scores every customer. What does not depend on t_x — the purchases
/// expected of a customer alive after x repeat purchases in T, at the horizon
/// and at each month's end — is computed once per distinct (x, T); each
/// customer then costs one P(alive). Both passes share the machine's cores.
pub fn score_all(
    bg: &BgNbd,
    gg: Option<&GammaGamma>,
    customers: &[Customer],
    spenders: &[Option<Spender>],
    s: &ScoreSettings,
) -> Vec<Score> {
    let mut index: parallel::FastMap<(u64, u64), u32> = Default::default();
    let mut pairs: Vec<(f64, f64)> = Vec::new();
    let pair_of: Vec<u32> = customers
        .iter()
        .map(|c| {
            *index.entry((c.x.to_bits(), c.t.to_bits())).or_insert_with(|| {
                pairs.push((c.x, c.t));
                (pairs.len() - 1) as u32
            })
        })
        .collect();
    // Per pair: E[Y | alive] at the horizon, then at the end of months 1..=months.
    let width = 1 + s.months as usize;
    let times: Vec<f64> = std::iter::once(s.horizon).chain((1..=s.months).map(|k| k as f64 * s.month)).collect();
    let (pairs, times) = (&pairs, &times);
    let if_alive: Vec<f64> = parallel::map_ranges(pairs.len(), 64, |range| {
        let mut out = vec![0.0; range.len() * width];
        for (i, row) in range.zip(out.chunks_mut(width)) {
            bg.expected_purchases_if_alive_at(pairs[i].0, pairs[i].1, times, row);
        }
        out
    });
    parallel::map_ranges(customers.len(), 4096, |range| {
        range
            .map(|i| {
                let (c, sp) = (&customers[i], &spenders[i]);
                let value = match gg {
                    Some(g) => g.expected_value(sp.as_ref()),
                    None => sp.map(|s| s.m).unwrap_or(0.0),
                };
                let p_alive = bg.p_alive(c);
                let row = &if_alive[pair_of[i] as usize * width..][..width];
                Score {
                    p_alive,
                    expected_purchases: p_alive * row[0],
                    expected_order_value: value,
                    clv: gamma_gamma::discounted_clv(value, row[1..].iter().map(|n| p_alive * n), s.monthly_discount),
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clv::simulate::{bgnbd_customer, spender, splitmix};

    /// score_all shares work between customers with the same x and T; each
    /// score must still be what the per-customer formulas give.
    #[test]
    fn scoring_everyone_matches_scoring_each() {
        let bg = BgNbd { r: 0.243, alpha: 4.414, a: 0.793, b: 2.426 };
        let gg = GammaGamma { p: 6.25, q: 3.74, gamma: 15.44 };
        let mut u = splitmix(7);
        let customers: Vec<Customer> = (0..20_000)
            .map(|i| {
                let c = bgnbd_customer(&bg, (1 + i % 52) as f64, &mut u);
                Customer { x: c.x, t_x: (c.t_x * 7.0).floor() / 7.0, t: c.t }
            })
            .collect();
        let spenders: Vec<Option<Spender>> = customers.iter().map(|c| (c.x >= 1.0).then(|| spender(&gg, c.x, &mut u))).collect();
        let s = ScoreSettings { horizon: 39.0, months: 12, month: 4.345, monthly_discount: 0.01 };
        let scores = score_all(&bg, Some(&gg), &customers, &spenders, &s);
        for (i, (c, sp)) in customers.iter().zip(&spenders).enumerate() {
            let value = gg.expected_value(sp.as_ref());
            let cumulative = (1..=12).map(|k| bg.expected_purchases(c, k as f64 * 4.345));
            let want = Score {
                p_alive: bg.p_alive(c),
                expected_purchases: bg.expected_purchases(c, 39.0),
                expected_order_value: value,
                clv: gamma_gamma::discounted_clv(value, cumulative, 0.01),
            };
            let got = scores[i];
            for (a, b) in [
                (got.p_alive, want.p_alive),
                (got.expected_purchases, want.expected_purchases),
                (got.expected_order_value, want.expected_order_value),
                (got.clv, want.clv),
            ] {
                assert!((a - b).abs() <= 1e-12 * (1.0 + b.abs()), "customer {i} {c:?}: {got:?} vs {want:?}");
            }
        }
    }
}
