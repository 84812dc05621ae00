//! Special functions: log-gamma and the Gauss hypergeometric function.

/// ln Γ(x) for x > 0.
pub fn ln_gamma(x: f64) -> f64 {
    libm::lgamma(x)
}

/// ψ(x) = d/dx ln Γ(x) for x > 0: the recurrence up to x ≥ 10, then the
/// asymptotic series (error below 1e-13).
pub fn digamma(mut x: f64) -> f64 {
    let mut acc = 0.0;
    while x < 10.0 {
        acc -= 1.0 / x;
        x += 1.0;
    }
    let inv = 1.0 / x;
    let inv2 = inv * inv;
    acc + x.ln()
        - 0.5 * inv
        - inv2 * (1.0 / 12.0 - inv2 * (1.0 / 120.0 - inv2 * (1.0 / 252.0 - inv2 * (1.0 / 240.0 - inv2 * (5.0 / 660.0)))))
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
/// so the series is summed with a running scale factor and cannot overflow,
/// however many terms it takes.
fn log_series_positive(a: f64, b: f64, c: f64, z: f64) -> f64 {
    const BIG: f64 = 1e200;
    let ln_big = BIG.ln();
    let (mut term, mut sum, mut scale) = (1.0f64, 1.0f64, 0.0f64);
    let mut k = 0.0f64;
    loop {
        let ratio = (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        term *= ratio;
        sum += term;
        k += 1.0;
        if sum > BIG {
            term /= BIG;
            sum /= BIG;
            scale += ln_big;
        }
        // Past the peak (terms shrinking), stop when they no longer matter.
        if (ratio < 1.0 && term <= 1e-17 * sum) || k > 5e6 || !sum.is_finite() {
            return sum.ln() + scale;
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
    fn digamma_values() {
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-12);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-12);
        for x in [0.01, 0.3, 2.5, 17.0, 400.0] {
            let h = 1e-6 * x;
            let numeric = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - numeric).abs() < 1e-6 * (1.0 + numeric.abs()), "x={x}");
        }
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
