//! Nelder–Mead simplex minimisation with restarts: derivative-free and robust
//! on the few-parameter likelihoods of BG/NBD and Gamma-Gamma, which are
//! optimised over log-parameters so that every point is valid.

/// Minimises `f` from `start`. Non-finite values count as +∞, so the search
/// walks away from regions where the model is undefined.
pub fn nelder_mead(f: impl Fn(&[f64]) -> f64, start: &[f64], tolerance: f64, max_evals: usize) -> (Vec<f64>, f64) {
    let n = start.len();
    let eval = |x: &[f64]| {
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let mut best = (start.to_vec(), eval(start));
    let mut evals = 1;
    // Restart from the best point until a restart no longer improves it.
    for _ in 0..6 {
        let mut simplex: Vec<(Vec<f64>, f64)> = vec![best.clone()];
        for i in 0..n {
            let mut p = best.0.clone();
            p[i] += if p[i].abs() > 1e-3 { 0.25 * p[i].abs().max(0.5) } else { 0.5 };
            let v = eval(&p);
            simplex.push((p, v));
        }
        evals += n;
        loop {
            simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
            let spread = (simplex[n].1 - simplex[0].1).abs();
            if spread <= tolerance * (1.0 + simplex[0].1.abs()) || evals >= max_evals {
                break;
            }
            let centroid: Vec<f64> = (0..n).map(|j| simplex[..n].iter().map(|p| p.0[j]).sum::<f64>() / n as f64).collect();
            let towards = |t: f64| -> Vec<f64> { (0..n).map(|j| centroid[j] + t * (simplex[n].0[j] - centroid[j])).collect() };
            let reflected = towards(-1.0);
            let fr = eval(&reflected);
            evals += 1;
            if fr < simplex[0].1 {
                let expanded = towards(-2.0);
                let fe = eval(&expanded);
                evals += 1;
                simplex[n] = if fe < fr { (expanded, fe) } else { (reflected, fr) };
            } else if fr < simplex[n - 1].1 {
                simplex[n] = (reflected, fr);
            } else {
                let contracted = if fr < simplex[n].1 { towards(-0.5) } else { towards(0.5) };
                let fc = eval(&contracted);
                evals += 1;
                if fc < simplex[n].1.min(fr) {
                    simplex[n] = (contracted, fc);
                } else {
                    let lowest = simplex[0].0.clone();
                    for p in simplex.iter_mut().skip(1) {
                        p.0 = (0..n).map(|j| lowest[j] + 0.5 * (p.0[j] - lowest[j])).collect();
                        p.1 = eval(&p.0);
                    }
                    evals += n;
                }
            }
        }
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let improved = simplex[0].1 < best.1 - tolerance * (1.0 + best.1.abs());
        best = simplex[0].clone();
        if !improved || evals >= max_evals {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_rosenbrock_minimum() {
        let f = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
        let (x, v) = nelder_mead(f, &[-1.2, 1.0], 1e-14, 10_000);
        assert!(v < 1e-8, "{v}");
        assert!((x[0] - 1.0).abs() < 1e-3 && (x[1] - 1.0).abs() < 1e-3, "{x:?}");
    }

    #[test]
    fn walks_away_from_undefined_regions() {
        let f = |x: &[f64]| if x[0] < 0.0 { f64::NAN } else { (x[0] - 2.0).powi(2) };
        let (x, _) = nelder_mead(f, &[0.1], 1e-12, 1000);
        assert!((x[0] - 2.0).abs() < 1e-4);
    }
}
