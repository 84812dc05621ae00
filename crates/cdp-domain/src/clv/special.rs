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

/// ln Γ(b + x) − ln Γ(b), for b > 0 and x ≥ 0, accurate however large b:
/// the difference of two huge log-gammas would lose every digit (b = 10¹⁶
/// leaves none), so large b uses Stirling's series written with ln_1p.
pub fn ln_gamma_diff(b: f64, x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if b < 1e4 {
        return ln_gamma(b + x) - ln_gamma(b);
    }
    let z = b + x;
    // (z − ½)ln z − (b − ½)ln b − x, plus the 1/(12·) and 1/(360·³) terms' differences.
    (b - 0.5) * (x / b).ln_1p() + x * z.ln() - x - x / (12.0 * b * z) + (1.0 / (z * z * z) - 1.0 / (b * b * b)) / -360.0
}

/// ψ(b + x) − ψ(b), for b > 0 and x ≥ 0, accurate however large b.
pub fn digamma_diff(b: f64, x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    if b < 1e4 {
        return digamma(b + x) - digamma(b);
    }
    let z = b + x;
    // ψ(z) ≈ ln z − 1/(2z) − 1/(12z²): the differences of each term.
    (x / b).ln_1p() + x / (2.0 * b * z) + x * (b + z) / (12.0 * b * b * z * z)
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

/// [`ln_scaled_hyp2f1`] for several z at once (with the same s, b, c), as
/// scoring needs at each month's end: the series' coefficients are computed
/// once per term for all of them. Each result is bit for bit the one-z value.
pub fn ln_scaled_hyp2f1_many(s: f64, b: f64, c: f64, zs: &[f64], out: &mut [f64]) {
    const LANES: usize = 16;
    for (zs, out) in zs.chunks(LANES).zip(out.chunks_mut(LANES)) {
        let n = zs.len();
        let mut direct = [false; LANES];
        // Pfaff's form where |z / (z − 1)| ≤ ½.
        let mut w = [0.0; LANES];
        let mut live = [false; LANES];
        for j in 0..n {
            w[j] = zs[j] / (zs[j] - 1.0);
            live[j] = w[j] >= -0.5;
            direct[j] = !live[j];
        }
        let (mut term, mut sum) = ([1.0f64; LANES], [1.0f64; LANES]);
        let mut pending = live.iter().filter(|l| **l).count();
        let mut k = 0;
        while pending > 0 && k < 100_000 {
            let kf = k as f64;
            let coefficient = (s + kf) * (c - b + kf) / ((c + kf) * (kf + 1.0));
            for j in 0..n {
                if live[j] {
                    term[j] *= coefficient * w[j];
                    sum[j] += term[j];
                    if term[j].abs() <= 1e-16 * sum[j].abs() {
                        live[j] = false;
                        pending -= 1;
                    }
                }
            }
            k += 1;
        }
        for j in 0..n {
            if !direct[j] {
                if sum[j] > 0.0 && sum[j].is_finite() {
                    out[j] = sum[j].ln();
                } else {
                    direct[j] = true;
                }
            }
        }
        // The positive series in log space for the others.
        const BIG: f64 = 1e200;
        let ln_big = BIG.ln();
        let (mut term, mut sum, mut scale) = ([1.0f64; LANES], [1.0f64; LANES], [0.0f64; LANES]);
        let mut live = direct;
        let mut pending = live.iter().filter(|l| **l).count();
        let mut k = 0.0f64;
        while pending > 0 {
            let coefficient = (s + k) * (b + k) / ((c + k) * (k + 1.0));
            k += 1.0;
            for j in 0..n {
                if live[j] {
                    let ratio = coefficient * zs[j];
                    term[j] *= ratio;
                    sum[j] += term[j];
                    if sum[j] > BIG {
                        term[j] /= BIG;
                        sum[j] /= BIG;
                        scale[j] += ln_big;
                    }
                    if (ratio < 1.0 && term[j] <= 1e-17 * sum[j]) || k > 5e6 || !sum[j].is_finite() {
                        live[j] = false;
                        pending -= 1;
                        out[j] = s * (1.0 - zs[j]).ln() + (sum[j].ln() + scale[j]);
                    }
                }
            }
        }
    }
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
    fn gamma_differences_hold_at_any_scale() {
        // Where both forms are accurate they agree.
        for b in [1e4, 3e4, 2e5] {
            for x in [0.5, 1.0, 7.0, 150.0] {
                let direct = ln_gamma(b + x) - ln_gamma(b);
                assert!((ln_gamma_diff(b, x) - direct).abs() < 1e-9 * direct.abs().max(1.0), "b={b} x={x}");
                let d = digamma(b + x) - digamma(b);
                assert!((digamma_diff(b, x) - d).abs() < 1e-9 * d.abs(), "b={b} x={x}");
            }
        }
        // Far beyond: ln Γ(b + x) − ln Γ(b) → x ln b and ψ(b + x) − ψ(b) → x / b.
        for b in [1e12, 7e16, 1e250] {
            assert!((ln_gamma_diff(b, 3.0) / (3.0 * b.ln()) - 1.0).abs() < 1e-12, "b={b}");
            assert!((digamma_diff(b, 3.0) * b / 3.0 - 1.0).abs() < 1e-9, "b={b}");
        }
        assert!((ln_gamma_diff(0.3, 4.0) - (ln_gamma(4.3) - ln_gamma(0.3))).abs() < 1e-14);
    }

    #[test]
    fn hypergeometric_known_values() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z
        for z in [0.1, 0.5, 0.9, 0.99] {
            let want = -(1.0f64 - z).ln() / z;
            let got = (ln_scaled_hyp2f1(1.0, 1.0, 2.0, z) - (1.0 - z).ln()).exp();
            assert!((got - want).abs() < 1e-10 * want, "z={z}: {got} vs {want}");
        }
        // Many z at once: the same values, bit for bit.
        let zs = [0.0, 0.05, 0.2, 0.33, 0.5, 0.7, 0.9, 0.99, 0.999];
        for (s, b, c) in [(0.3, 2.4, 2.2), (5.2, 7.4, 9.2), (40.0, 42.0, 43.0), (1.0, 1.0, 2.0)] {
            let mut many = [0.0; 9];
            ln_scaled_hyp2f1_many(s, b, c, &zs, &mut many);
            for (z, m) in zs.iter().zip(many) {
                assert_eq!(m.to_bits(), ln_scaled_hyp2f1(s, b, c, *z).to_bits(), "s={s} b={b} c={c} z={z}");
            }
        }
        // ₂F₁(a, b; b; z) = (1 − z)^−a, so the scaled form is 1.
        for (a, z) in [(0.3, 0.2), (50.0, 0.95), (400.0, 0.999)] {
            assert!(ln_scaled_hyp2f1(a, 2.0, 2.0, z).abs() < 1e-8, "a={a} z={z}");
        }
    }
}
