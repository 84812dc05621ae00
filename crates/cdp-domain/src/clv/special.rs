//! Special functions: log-gamma and the Gauss hypergeometric function.

/// ln Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ln(e^a + e^b) without overflow.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let m = a.max(b);
    m + ((a - m).exp() + (b - m).exp()).ln()
}

/// ₂F₁(a, b; c; w) by its power series, for −1 < w ≤ 0.5 (the series then
/// converges geometrically).
fn series(a: f64, b: f64, c: f64, w: f64) -> f64 {
    let (mut term, mut sum) = (1.0f64, 1.0f64);
    for k in 0..100_000 {
        let k = k as f64;
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * w;
        sum += term;
        if term.abs() <= 1e-16 * sum.abs() {
            break;
        }
    }
    sum
}

/// ln ₂F₁(a, b; c; z) for 0 ≤ z < 1 with a, b, c > 0: every term is positive,
/// so the series is summed in log space and cannot overflow, however many
/// terms it takes.
fn log_series_positive(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let lz = z.ln();
    let (mut lt, mut ls) = (0.0f64, 0.0f64);
    let mut k = 0.0f64;
    loop {
        lt += ((a + k) * (b + k) / ((c + k) * (k + 1.0))).ln() + lz;
        ls = log_add_exp(ls, lt);
        k += 1.0;
        // Past the peak, stop when the terms no longer matter.
        if (lt < ls - 40.0 && (a + k) * (b + k) * z < (c + k) * (k + 1.0)) || k > 5e6 {
            return ls;
        }
    }
}

/// ln[(1 − z)^s · ₂F₁(s, b; c; z)] for 0 ≤ z < 1, the form BG/NBD needs.
/// By Pfaff's transformation it equals ln ₂F₁(s, c − b; c; z / (z − 1)); that
/// series is used while |z / (z − 1)| ≤ ½, the log-space one beyond.
pub fn ln_scaled_hyp2f1(s: f64, b: f64, c: f64, z: f64) -> f64 {
    let w = z / (z - 1.0);
    if w >= -0.5 {
        let v = series(s, c - b, c, w);
        if v > 0.0 && v.is_finite() {
            return v.ln();
        }
    }
    s * (1.0 - z).ln() + log_series_positive(s, b, c, z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ln_gamma_values() {
        assert!((ln_gamma(1.0)).abs() < 1e-15);
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-13);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-14);
    }

    #[test]
    fn hypergeometric_known_values() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
        for z in [0.1, 0.5, 0.9, 0.99] {
            let want = -(1.0f64 - z).ln() / z;
            let got = (ln_scaled_hyp2f1(1.0, 1.0, 2.0, z) - (1.0 - z).ln()).exp();
            assert!((got - want).abs() < 1e-10 * want, "z={z}: {got} vs {want}");
        }
        // ₂F₁(a, b; b; z) = (1 − z)^−a, so the scaled form is 1.
        for (a, z) in [(0.3, 0.2), (50.0, 0.95), (400.0, 0.999)] {
            assert!(ln_scaled_hyp2f1(a, 2.0, 2.0, z).abs() < 1e-8, "a={a} z={z}");
        }
    }
}
