//! Customer metrics over a period: activity, repeat purchase, order value,
//! churn risk, customer equity, profitability, value concentration (top-share
//! and Gini) and cross-sell.

use serde::Serialize;

/// A customer of the base, as of the end of the period.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFacts {
    /// Purchase occasions up to the end of the period.
    pub purchase_days: i64,
    pub p_alive: Option<f64>,
    pub clv: Option<f64>,
}

/// An order of the period (net of refunds), by customer index.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderFact {
    pub customer: usize,
    pub revenue: i64,
    pub margin: Option<i64>,
    pub categories: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Concentration {
    /// Share of the period's revenue from the top 1%, 2%, 10%, 20% of buying customers.
    pub top_1: f64,
    pub top_2: f64,
    pub top_10: f64,
    pub top_20: f64,
    /// Gini coefficient of revenue across buying customers (0 = equal, → 1 = one customer).
    pub gini: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    pub customers: usize,
    pub active_customers: usize,
    pub repeat_purchase_rate: f64,
    pub orders: usize,
    pub orders_per_customer: f64,
    /// Minor units.
    pub average_order_value: f64,
    /// Minor units.
    pub revenue: i64,
    /// Minor units; None when no order of the period carries a margin.
    pub margin: Option<i64>,
    pub churn_risk: usize,
    pub customer_equity: f64,
    pub concentration: Concentration,
    pub cross_sell_index: f64,
}

fn share_of_top(sorted_desc: &[i64], total: i64, percent: f64) -> f64 {
    if sorted_desc.is_empty() || total <= 0 {
        return 0.0;
    }
    let k = ((sorted_desc.len() as f64 * percent / 100.0).ceil() as usize).clamp(1, sorted_desc.len());
    sorted_desc[..k].iter().sum::<i64>() as f64 / total as f64
}

/// Gini coefficient of non-negative values.
pub fn gini(values: &[i64]) -> f64 {
    let mut v: Vec<i64> = values.iter().map(|x| (*x).max(0)).collect();
    v.sort_unstable();
    let (n, total) = (v.len() as f64, v.iter().sum::<i64>() as f64);
    if v.is_empty() || total <= 0.0 {
        return 0.0;
    }
    let weighted: f64 = v.iter().enumerate().map(|(i, x)| (i as f64 + 1.0) * *x as f64).sum();
    (2.0 * weighted / (n * total) - (n + 1.0) / n).max(0.0)
}

/// The metrics of the customers `member` selects, from their orders of the period.
pub fn compute(customers: &[CustomerFacts], member: impl Fn(usize) -> bool, orders: &[OrderFact]) -> Kpis {
    let in_base: Vec<usize> = (0..customers.len()).filter(|&i| member(i)).collect();
    let mut revenue_of = vec![0i64; customers.len()];
    let mut active = vec![false; customers.len()];
    let mut categories: Vec<Vec<u32>> = vec![Vec::new(); customers.len()];
    let (mut n_orders, mut revenue, mut margin, mut any_margin) = (0usize, 0i64, 0i64, false);
    for o in orders.iter().filter(|o| member(o.customer)) {
        n_orders += 1;
        revenue += o.revenue;
        revenue_of[o.customer] += o.revenue;
        active[o.customer] = true;
        if let Some(m) = o.margin {
            margin += m;
            any_margin = true;
        }
        categories[o.customer].extend(&o.categories);
    }
    let buyers: Vec<usize> = in_base.iter().copied().filter(|&i| active[i]).collect();
    let mut spend: Vec<i64> = buyers.iter().map(|&i| revenue_of[i]).collect();
    spend.sort_unstable_by(|a, b| b.cmp(a));
    let ratio = |a: f64, b: usize| if b == 0 { 0.0 } else { a / b as f64 };
    Kpis {
        customers: in_base.len(),
        active_customers: buyers.len(),
        repeat_purchase_rate: ratio(in_base.iter().filter(|&&i| customers[i].purchase_days >= 2).count() as f64, in_base.len()),
        orders: n_orders,
        orders_per_customer: ratio(n_orders as f64, buyers.len()),
        average_order_value: ratio(revenue as f64, n_orders),
        revenue,
        margin: any_margin.then_some(margin),
        churn_risk: in_base.iter().filter(|&&i| customers[i].p_alive.is_some_and(|p| p < 0.5)).count(),
        customer_equity: in_base.iter().filter_map(|&i| customers[i].clv).sum(),
        concentration: Concentration {
            top_1: share_of_top(&spend, revenue.max(0), 1.0),
            top_2: share_of_top(&spend, revenue.max(0), 2.0),
            top_10: share_of_top(&spend, revenue.max(0), 10.0),
            top_20: share_of_top(&spend, revenue.max(0), 20.0),
            gini: gini(&spend),
        },
        cross_sell_index: ratio(
            buyers
                .iter()
                .map(|&i| {
                    let mut c = categories[i].clone();
                    c.sort_unstable();
                    c.dedup();
                    c.len() as f64
                })
                .sum(),
            buyers.len(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gini_extremes() {
        assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
        assert!((gini(&[0, 0, 0, 10]) - 0.75).abs() < 1e-12, "one of four holds all: (n−1)/n");
        assert_eq!(gini(&[]), 0.0);
    }

    #[test]
    fn a_small_base_by_hand() {
        let c = |days, p, clv| CustomerFacts { purchase_days: days, p_alive: p, clv };
        let customers = vec![c(3, Some(0.9), Some(100.0)), c(1, Some(0.2), Some(10.0)), c(0, None, None), c(2, Some(0.4), Some(5.0))];
        let o = |customer, revenue, margin, categories: &[u32]| OrderFact { customer, revenue, margin, categories: categories.to_vec() };
        let orders = vec![o(0, 800, Some(200), &[1, 2]), o(0, 100, None, &[2]), o(1, 100, Some(10), &[3]), o(3, 0, None, &[])];
        let k = compute(&customers, |_| true, &orders);
        assert_eq!((k.customers, k.active_customers, k.orders, k.revenue), (4, 3, 4, 1000));
        assert_eq!(k.repeat_purchase_rate, 0.5);
        assert!((k.orders_per_customer - 4.0 / 3.0).abs() < 1e-12);
        assert_eq!(k.average_order_value, 250.0);
        assert_eq!(k.margin, Some(210));
        assert_eq!(k.churn_risk, 2);
        assert_eq!(k.customer_equity, 115.0);
        assert_eq!(k.concentration.top_1, 0.9, "the top customer (rounded up to one) holds 90%");
        assert!((k.cross_sell_index - 1.0).abs() < 1e-12, "(2 + 1 + 0) / 3");
        let only_second = compute(&customers, |i| i == 1, &orders);
        assert_eq!((only_second.customers, only_second.revenue, only_second.margin), (1, 100, Some(10)));
    }

    proptest! {
        #[test]
        fn gini_is_between_zero_and_one_and_shares_grow(values in proptest::collection::vec(0i64..1_000_000, 1..200)) {
            let g = gini(&values);
            prop_assert!((0.0..1.0).contains(&g));
            let mut sorted = values.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let total: i64 = sorted.iter().sum();
            let shares: Vec<f64> = [1.0, 2.0, 10.0, 20.0].iter().map(|p| share_of_top(&sorted, total, *p)).collect();
            prop_assert!(shares.windows(2).all(|w| w[0] <= w[1] + 1e-12));
            prop_assert!(shares.iter().all(|s| (0.0..=1.0 + 1e-12).contains(s)));
        }
    }
}
