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
pub mod simulate;
pub mod special;

pub use bgnbd::{BgNbd, Customer};
pub use gamma_gamma::{GammaGamma, Spender};

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

/// Scores every customer. Identical histories are computed once, and the work
/// is shared among the machine's cores.
pub fn score_all(
    bg: &BgNbd,
    gg: Option<&GammaGamma>,
    customers: &[Customer],
    spenders: &[Option<Spender>],
    s: &ScoreSettings,
) -> Vec<Score> {
    use std::collections::HashMap;
    let key = |c: &Customer, sp: &Option<Spender>| (c.x.to_bits(), c.t_x.to_bits(), c.t.to_bits(), sp.map(|s| s.m.to_bits()).unwrap_or(0));
    let mut index: HashMap<(u64, u64, u64, u64), usize> = HashMap::new();
    let mut unique: Vec<usize> = Vec::new();
    let slot: Vec<usize> = customers
        .iter()
        .zip(spenders)
        .enumerate()
        .map(|(i, (c, sp))| {
            *index.entry(key(c, sp)).or_insert_with(|| {
                unique.push(i);
                unique.len() - 1
            })
        })
        .collect();
    let one = |i: usize| {
        let (c, sp) = (&customers[i], &spenders[i]);
        let value = match gg {
            Some(g) => g.expected_value(sp.as_ref()),
            None => sp.map(|s| s.m).unwrap_or(0.0),
        };
        Score {
            p_alive: bg.p_alive(c),
            expected_purchases: bg.expected_purchases(c, s.horizon),
            expected_order_value: value,
            clv: gamma_gamma::discounted_clv(value, |t| bg.expected_purchases(c, t), s.months, s.month, s.monthly_discount),
        }
    };
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).min(16);
    let chunk = unique.len().div_ceil(threads).max(1);
    let computed: Vec<Score> = std::thread::scope(|scope| {
        let handles: Vec<_> =
            unique.chunks(chunk).map(|part| scope.spawn(move || part.iter().map(|&i| one(i)).collect::<Vec<_>>())).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_default()).collect()
    });
    slot.into_iter().map(|u| computed[u]).collect()
}
