//! RFM: recency, frequency and monetary quintile scores (1–5) and the named
//! segments of the R×F grid.

use serde::Serialize;

/// A customer's purchases up to the scoring date.
#[derive(Debug, Clone, PartialEq)]
pub struct RfmInput {
    pub id: String,
    pub first_day: i64,
    pub last_day: i64,
    /// Purchase occasions (days with orders).
    pub frequency: i64,
    /// Net revenue, minor units.
    pub monetary: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RfmScore {
    pub r: u8,
    pub f: u8,
    pub m: u8,
    pub segment: &'static str,
}

pub const SEGMENTS: [&str; 10] = [
    "champions",
    "loyal_customers",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose_them",
    "hibernating",
];

/// The named segment of an R×F cell.
pub fn segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (5, 4..=5) => "champions",
        (3..=4, 4..=5) => "loyal_customers",
        (4..=5, 2..=3) => "potential_loyalists",
        (5, 1) => "new_customers",
        (4, 1) => "promising",
        (3, 3) => "need_attention",
        (3, 1..=2) => "about_to_sleep",
        (1..=2, 3..=4) => "at_risk",
        (1..=2, 5) => "cant_lose_them",
        _ => "hibernating",
    }
}

/// Quintile of the i-th of n ranked customers (0-based, ascending): 1–5, in
/// bins as equal as n allows.
fn quintile(i: usize, n: usize) -> u8 {
    (i * 5 / n.max(1)) as u8 + 1
}

/// Scores every customer against the others. R = 5 for the most recent;
/// customers with equal frequency are ranked by the order of their first
/// purchase (earlier first ranks lower) before binning, so that equal
/// frequencies spread over the bins predictably; remaining ties by id.
pub fn score(customers: &[RfmInput]) -> Vec<RfmScore> {
    let n = customers.len();
    // Ties end on the id: rank the ids once (they usually arrive in order),
    // then every ranking sorts plain integers rather than comparing strings.
    let mut by_id: Vec<usize> = (0..n).collect();
    if !customers.windows(2).all(|w| w[0].id <= w[1].id) {
        by_id.sort_unstable_by(|&a, &b| customers[a].id.cmp(&customers[b].id));
    }
    let mut id_rank = vec![0u32; n];
    for (rank, &i) in by_id.iter().enumerate() {
        id_rank[i] = rank as u32;
    }
    let bins = |key: &dyn Fn(&RfmInput) -> (i64, i64)| -> Vec<u8> {
        let mut order: Vec<(i64, i64, u32, u32)> =
            customers.iter().enumerate().map(|(i, c)| (key(c).0, key(c).1, id_rank[i], i as u32)).collect();
        order.sort_unstable();
        let mut q = vec![0u8; n];
        for (position, &(_, _, _, i)) in order.iter().enumerate() {
            q[i as usize] = quintile(position, n);
        }
        q
    };
    let r = bins(&|c| (c.last_day, 0));
    let f = bins(&|c| (c.frequency, c.first_day));
    let m = bins(&|c| (c.monetary, 0));
    (0..n).map(|i| RfmScore { r: r[i], f: f[i], m: m[i], segment: segment(r[i], f[i]) }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ranking by integer keys gives what sorting with the id as the
    /// last key gives, ids in any order, with many ties.
    #[test]
    fn ranks_match_sorting_with_the_id_last() {
        let mut u = crate::clv::simulate::splitmix(3);
        let customers: Vec<RfmInput> = (0..3000)
            .map(|i| RfmInput {
                id: format!("p{:x}", (i * 7919) % 3001),
                first_day: (u() * 20.0) as i64,
                last_day: 20 + (u() * 10.0) as i64,
                frequency: 1 + (u() * 4.0) as i64,
                monetary: (u() * 5.0) as i64 * 1000,
            })
            .collect();
        let n = customers.len();
        let reference = |key: &dyn Fn(&RfmInput) -> (i64, i64)| {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| (key(&customers[a]), &customers[a].id).cmp(&(key(&customers[b]), &customers[b].id)));
            let mut q = vec![0u8; n];
            order.iter().enumerate().for_each(|(p, &i)| q[i] = quintile(p, n));
            q
        };
        let (r, f, m) = (reference(&|c| (c.last_day, 0)), reference(&|c| (c.frequency, c.first_day)), reference(&|c| (c.monetary, 0)));
        for (i, s) in score(&customers).iter().enumerate() {
            assert_eq!((s.r, s.f, s.m), (r[i], f[i], m[i]), "customer {i}");
        }
    }

    #[test]
    fn every_cell_of_the_grid_is_named() {
        let expected = [
            // f = 1..5 for r = 1..5
            ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose_them"],
            ["hibernating", "hibernating", "at_risk", "at_risk", "cant_lose_them"],
            ["about_to_sleep", "about_to_sleep", "need_attention", "loyal_customers", "loyal_customers"],
            ["promising", "potential_loyalists", "potential_loyalists", "loyal_customers", "loyal_customers"],
            ["new_customers", "potential_loyalists", "potential_loyalists", "champions", "champions"],
        ];
        for r in 1..=5u8 {
            for f in 1..=5u8 {
                assert_eq!(segment(r, f), expected[r as usize - 1][f as usize - 1], "R{r} F{f}");
            }
        }
    }

    /// 25 customers, one per cell: customer (r, f) has recency rank r and
    /// frequency rank f, so quintiles of 5 put each in a known cell.
    #[test]
    fn hand_made_grid() {
        let mut customers = Vec::new();
        for r in 1..=5i64 {
            for f in 1..=5i64 {
                // Five customers share each last day and each frequency; within a
                // frequency, first purchases are ordered by r so the tie rule is exercised.
                customers.push(RfmInput {
                    id: format!("c{r}{f}"),
                    first_day: 100 + r,
                    last_day: 1000 + r * 10,
                    frequency: f,
                    monetary: (r * 5 + f) * 1000,
                });
            }
        }
        let scores = score(&customers);
        for (c, s) in customers.iter().zip(&scores) {
            let want_r = ((c.last_day - 1000) / 10) as u8;
            assert_eq!(s.r, want_r, "{c:?}");
            assert_eq!(s.f, c.frequency as u8, "{c:?}");
            assert_eq!(s.segment, segment(s.r, s.f));
        }
        // Monetary: 25 distinct amounts, five per quintile, in order.
        let mut by_m: Vec<_> = customers.iter().zip(&scores).collect();
        by_m.sort_by_key(|(c, _)| c.monetary);
        for (i, (_, s)) in by_m.iter().enumerate() {
            assert_eq!(s.m as usize, i / 5 + 1);
        }
    }

    #[test]
    fn ties_in_frequency_follow_first_purchase() {
        // Ten customers who all bought once are spread over the bins by the
        // order of their first purchase: the two earliest get F1, the two latest F5.
        let customers: Vec<RfmInput> =
            (0..10).map(|i| RfmInput { id: format!("z{i}"), first_day: 100 - i, last_day: 200, frequency: 1, monetary: 1 }).collect();
        let scores = score(&customers);
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(s.f as usize, (9 - i) / 2 + 1, "{:?} {s:?}", customers[i]);
        }
        assert!(score(&[]).is_empty());
        let one = score(&customers[..1]);
        assert_eq!((one[0].r, one[0].f), (1, 1));
    }
}
