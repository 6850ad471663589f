//! Scalar `f32` approximations of `exp`, `erf`, `tanh`, `sigmoid` and both GELUs.
//!
//! These are the portable twins of the vector versions in `simd::avx2` / `simd::avx512`: the same
//! range reduction and the same polynomials, so every ISA path rounds alike. Accuracy (tested against
//! `f64`): `exp` ≤ 2e-7 relative on `[-87, 88]`, `erf` ≤ 5e-7 relative, `tanh` ≤ 3e-7 relative.
//! They use plain `*`/`+` (no `mul_add`, which is a slow library call on CPUs without FMA).

/// `exp` flushes to 0 below this input (the result would be subnormal).
pub(crate) const EXP_LO: f32 = -87.336_55;
/// Inputs are clamped to this before range reduction so `2^n` stays a normal float.
pub(crate) const EXP_HI: f32 = 88.376_26;
/// `ln(f32::MAX)`: `exp` returns `+inf` above it.
pub(crate) const EXP_OVERFLOW: f32 = 88.722_84;
pub(crate) const LOG2E: f32 = std::f32::consts::LOG2_E;
pub(crate) const LN2_HI: f32 = 0.693_359_4;
pub(crate) const LN2_LO: f32 = -2.121_944_4e-4;
#[allow(clippy::excessive_precision)] // published coefficients, kept verbatim
pub(crate) const EXP_P: [f32; 6] = [
    1.987_569_1e-4,
    1.398_199_9e-3,
    8.333_452e-3,
    4.166_579_6e-2,
    1.666_666_5e-1,
    5.000_000_1e-1,
];

/// `exp(x)`; NaN propagates, `x < -87.34` gives 0, `x > 88.72` gives `+inf`.
pub fn exp(x: f32) -> f32 {
    if x.is_nan() {
        return x;
    }
    if x > EXP_OVERFLOW {
        return f32::INFINITY;
    }
    if x < EXP_LO {
        return 0.0;
    }
    let x = x.min(EXP_HI);
    let n = (x * LOG2E).round();
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = EXP_P[0];
    for c in &EXP_P[1..] {
        p = p * r + c;
    }
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `erf` is exactly ±1 from `|x| = ERF_CLAMP` on (the f32 rounding of the true value is 1 from
/// 3.84); the vector twins clamp their input to `±ERF_CLAMP` and replace the rational's value
/// there (1 − 2⁻²³) by ±1, so `1 + erf(x)` is exactly 0 for `x ≤ −4` as in the unfused graph.
/// GELU then gives −0 for large negative `x` (not `x·2⁻²⁴`, −6e-4 at −1e4) and NaN for −∞.
pub(crate) const ERF_CLAMP: f32 = 4.0;
/// Odd numerator coefficients `alpha_1 .. alpha_13` of the rational `erf` approximation.
#[allow(clippy::excessive_precision)] // published coefficients, kept verbatim
pub(crate) const ERF_ALPHA: [f32; 7] = [
    -1.609_603_3e-2,
    -2.954_599_8e-3,
    -7.349_906_3e-4,
    -5.692_506_4e-5,
    -2.101_024e-6,
    2.770_681_4e-8,
    -2.726_142_3e-10,
];
/// Even denominator coefficients `beta_0 .. beta_8`.
#[allow(clippy::excessive_precision)] // published coefficients, kept verbatim
pub(crate) const ERF_BETA: [f32; 5] = [
    -1.426_474e-2,
    -7.373_329e-3,
    -1.682_827e-3,
    -2.133_740_6e-4,
    -1.456_607_2e-5,
];

/// `erf(x)` by a rational approximation on `(-4, 4)`, ±1 outside.
pub fn erf(x: f32) -> f32 {
    if x.abs() >= ERF_CLAMP {
        return 1f32.copysign(x);
    }
    let x2 = x * x;
    let mut p = ERF_ALPHA[6];
    for c in ERF_ALPHA[..6].iter().rev() {
        p = p * x2 + c;
    }
    let mut q = ERF_BETA[4];
    for c in ERF_BETA[..4].iter().rev() {
        q = q * x2 + c;
    }
    x * p / q
}

/// Below this `|x|`, `tanh` uses the odd polynomial; above, `1 - 2/(exp(2|x|)+1)`.
pub(crate) const TANH_SMALL: f32 = 0.625;
#[allow(clippy::excessive_precision)] // published coefficients, kept verbatim
pub(crate) const TANH_P: [f32; 5] = [
    -5.704_988_7e-3,
    2.063_908_9e-2,
    -5.373_971_6e-2,
    1.333_144_2e-1,
    -3.333_328_2e-1,
];

/// `tanh(x)`.
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    if a < TANH_SMALL {
        let z = x * x;
        let mut p = TANH_P[0];
        for c in &TANH_P[1..] {
            p = p * z + c;
        }
        p * z * x + x
    } else {
        let y = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
        y.copysign(x)
    }
}

/// `1 / (1 + exp(-x))`.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

pub(crate) const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// `sqrt(2/pi)`.
pub(crate) const SQRT_2_OVER_PI: f32 = 0.797_884_6;
pub(crate) const GELU_TANH_C: f32 = 0.044_715;

/// GELU, exact form: `0.5·x·(1 + erf(x/√2))`.
pub fn gelu_erf(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

/// GELU, tanh form: `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, evaluated as
/// `x·sigmoid(2u) = x / (1 + exp(−2u))` with `u = √(2/π)·(x + 0.044715·x³)` (the same function:
/// `(1 + tanh u)/2 = sigmoid(2u)`). One `exp` and one division, and no `1 + tanh u` cancellation
/// for negative `x`; the vector paths evaluate the same expression in the same order. `exp`
/// overflows to +∞ for `x` below about −10, so the quotient is −0 there and NaN for `x = −∞`,
/// as the unfused graph's `−∞ · 0`.
pub fn gelu_tanh(x: f32) -> f32 {
    let inner = GELU_TANH_C * (x * x * x) + x;
    x / (1.0 + exp(-2.0 * SQRT_2_OVER_PI * inner))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Max relative error of `f` against `reference` over `n` points of `[lo, hi]`
    /// (relative to `max(|ref|, floor)`).
    pub(crate) fn max_rel_err(
        f: impl Fn(f32) -> f32,
        reference: impl Fn(f64) -> f64,
        lo: f32,
        hi: f32,
        n: usize,
        floor: f64,
    ) -> (f64, f32) {
        let mut worst = (0.0f64, lo);
        for i in 0..=n {
            let x = lo + (hi - lo) * (i as f32 / n as f32);
            let r = reference(x as f64);
            let e = (f(x) as f64 - r).abs() / r.abs().max(floor);
            if e > worst.0 {
                worst = (e, x);
            }
        }
        worst
    }

    /// `erf` in f64 (Abramowitz–Stegun 7.1.26 is too coarse; use the series / continued fraction).
    pub(crate) fn erf64(x: f64) -> f64 {
        let a = x.abs();
        let v = if a < 3.0 {
            // Maclaurin series: 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
            let mut sum = 0.0;
            let mut term = a;
            let mut n = 0.0;
            loop {
                let t = term / (2.0 * n + 1.0);
                sum += t;
                if t.abs() <= 1e-17 * sum.abs() || n > 200.0 {
                    break;
                }
                n += 1.0;
                term *= -a * a / n;
            }
            sum * 2.0 / std::f64::consts::PI.sqrt()
        } else {
            // erfc continued fraction (Lentz), converges fast for a ≥ 3.
            let mut f = a;
            let mut c = a;
            let mut d = 0.0;
            for k in 1..200 {
                let an = k as f64 / 2.0;
                d = a + an * d;
                d = 1.0 / d;
                c = a + an / c;
                let delta = c * d;
                f *= delta;
                if (delta - 1.0).abs() < 1e-16 {
                    break;
                }
            }
            1.0 - (-a * a).exp() / (f * std::f64::consts::PI.sqrt())
        };
        v.copysign(x)
    }

    #[test]
    fn erf64_matches_known_values() {
        assert!((erf64(0.5) - 0.520_499_877_813_046_5).abs() < 1e-15);
        assert!((erf64(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        assert!((erf64(-2.0) + 0.995_322_265_018_952_7).abs() < 1e-15);
        assert!((erf64(3.5) - 0.999_999_256_901_627_7).abs() < 1e-15);
    }

    #[test]
    fn exp_accuracy() {
        let (e, at) = max_rel_err(exp, f64::exp, -87.0, 88.0, 400_000, 0.0);
        assert!(e < 3e-7, "exp rel err {e} at {at}");
        assert_eq!(exp(-100.0), 0.0);
        assert_eq!(exp(100.0), f32::INFINITY);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(exp(0.0), 1.0);
    }

    #[test]
    fn erf_accuracy() {
        let (e, at) = max_rel_err(erf, erf64, -6.0, 6.0, 400_000, 1e-30);
        assert!(e < 1e-6, "erf rel err {e} at {at}");
        assert_eq!(erf(0.0), 0.0);
        for x in [4.0, 7.5, 1e30, f32::INFINITY] {
            assert_eq!((erf(x), erf(-x)), (1.0, -1.0));
        }
        assert!(erf(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_accuracy() {
        let (e, at) = max_rel_err(tanh, f64::tanh, -12.0, 12.0, 400_000, 1e-30);
        assert!(e < 1e-6, "tanh rel err {e} at {at}");
        let (e, at) = max_rel_err(tanh, f64::tanh, -1e-3, 1e-3, 10_000, 1e-30);
        assert!(e < 1e-6, "tanh small rel err {e} at {at}");
    }

    #[test]
    fn sigmoid_and_gelu_accuracy() {
        let (e, at) = max_rel_err(
            sigmoid,
            |x| 1.0 / (1.0 + (-x).exp()),
            -30.0,
            30.0,
            100_000,
            1e-30,
        );
        assert!(e < 1e-6, "sigmoid rel err {e} at {at}");
        let gelu64 = |x: f64| 0.5 * x * (1.0 + erf64(x / 2f64.sqrt()));
        // Error relative to max(|y|, 1): for x ≪ 0, 1 + erf(x/√2) cancels, which is inherent to f32.
        let (e, at) = max_rel_err(gelu_erf, gelu64, -6.0, 6.0, 100_000, 1.0);
        assert!(e < 2e-6, "gelu_erf err {e} at {at}");
        let gelut64 = |x: f64| {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        };
        let (e, at) = max_rel_err(gelu_tanh, gelut64, -6.0, 6.0, 100_000, 1.0);
        assert!(e < 2e-6, "gelu_tanh err {e} at {at}");
        // Saturated ends: exp's argument is clamped, so far tails are x and (about) 0, not NaN.
        assert_eq!(gelu_tanh(100.0), 100.0);
        assert!(gelu_tanh(-100.0).abs() < 1e-30 && gelu_tanh(-1e30).abs() < 1e-7);
        assert!(gelu_tanh(f32::NAN).is_nan());
        // As the unfused graph: 0.5·x·(1 + f(x)) with f(−∞) = −1 is −∞·0.
        for gelu in [gelu_erf, gelu_tanh] {
            assert!(gelu(f32::NEG_INFINITY).is_nan());
            assert_eq!(gelu(f32::INFINITY), f32::INFINITY);
            for x in [-20.0, -1e4, -1e30, -f32::MAX] {
                assert_eq!(gelu(x), 0.0, "{x}");
            }
        }
    }
}
