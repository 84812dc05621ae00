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

/// Minimises a smooth `f` whose gradient is known (`fg` returns both) by
/// BFGS with a backtracking line search. Returns the point, the value and
/// whether the gradient vanished to `tolerance`; the caller falls back to
/// [`nelder_mead`] when it did not.
pub fn bfgs(fg: impl Fn(&[f64]) -> (f64, Vec<f64>), start: &[f64], tolerance: f64, max_iter: usize) -> (Vec<f64>, f64, bool) {
    let n = start.len();
    let mut x = start.to_vec();
    let (mut f, mut g) = fg(&x);
    if !f.is_finite() || g.iter().any(|v| !v.is_finite()) {
        return (x, f, false);
    }
    // Inverse Hessian approximation, starting from the identity.
    let mut h = vec![vec![0.0; n]; n];
    for (i, row) in h.iter_mut().enumerate() {
        row[i] = 1.0;
    }
    for _ in 0..max_iter {
        let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        if gnorm <= tolerance * (1.0 + f.abs()) {
            return (x, f, true);
        }
        let mut d: Vec<f64> = (0..n).map(|i| -(0..n).map(|j| h[i][j] * g[j]).sum::<f64>()).collect();
        let mut slope: f64 = d.iter().zip(&g).map(|(a, b)| a * b).sum();
        if slope >= 0.0 {
            // Not a descent direction: restart from steepest descent.
            d = g.iter().map(|v| -v).collect();
            slope = -gnorm * gnorm;
            for (i, row) in h.iter_mut().enumerate() {
                row.iter_mut().for_each(|v| *v = 0.0);
                row[i] = 1.0;
            }
        }
        // Backtracking (Armijo) line search, steps capped so log-parameters move sanely.
        let dnorm = d.iter().map(|v| v * v).sum::<f64>().sqrt();
        let mut step = if dnorm > 5.0 { 5.0 / dnorm } else { 1.0 };
        let mut accepted = None;
        for _ in 0..60 {
            let xn: Vec<f64> = x.iter().zip(&d).map(|(a, b)| a + step * b).collect();
            let (fnew, gnew) = fg(&xn);
            if fnew.is_finite() && gnew.iter().all(|v| v.is_finite()) && fnew <= f + 1e-4 * step * slope {
                accepted = Some((xn, fnew, gnew));
                break;
            }
            step *= 0.5;
        }
        let Some((xn, fnew, gnew)) = accepted else { return (x, f, false) };
        let s: Vec<f64> = xn.iter().zip(&x).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = gnew.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy: f64 = s.iter().zip(&y).map(|(a, b)| a * b).sum();
        let converged_f = (f - fnew).abs() <= 1e-15 * (1.0 + f.abs());
        x = xn;
        f = fnew;
        g = gnew;
        if sy > 1e-300 {
            // H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ
            let rho = 1.0 / sy;
            let hy: Vec<f64> = (0..n).map(|i| (0..n).map(|j| h[i][j] * y[j]).sum()).collect();
            let yhy: f64 = y.iter().zip(&hy).map(|(a, b)| a * b).sum();
            for i in 0..n {
                for j in 0..n {
                    h[i][j] += (1.0 + rho * yhy) * rho * s[i] * s[j] - rho * (hy[i] * s[j] + s[i] * hy[j]);
                }
            }
        }
        if converged_f {
            let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            return (x, f, gnorm <= 1e3 * tolerance * (1.0 + f.abs()));
        }
    }
    (x, f, false)
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
    fn bfgs_finds_the_rosenbrock_minimum() {
        let fg = |x: &[f64]| {
            let f = (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
            let g = vec![-2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]), 200.0 * (x[1] - x[0] * x[0])];
            (f, g)
        };
        let (x, v, ok) = bfgs(fg, &[-1.2, 1.0], 1e-10, 500);
        assert!(ok && v < 1e-12 && (x[0] - 1.0).abs() < 1e-5, "{x:?} {v} {ok}");
    }

    #[test]
    fn walks_away_from_undefined_regions() {
        let f = |x: &[f64]| if x[0] < 0.0 { f64::NAN } else { (x[0] - 2.0).powi(2) };
        let (x, _) = nelder_mead(f, &[0.1], 1e-12, 1000);
        assert!((x[0] - 2.0).abs() < 1e-4);
    }
}
