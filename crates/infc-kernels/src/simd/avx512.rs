//! AVX-512 (`zmm`, 16 lanes) vector math and activation helpers.

use crate::gemm::Activation;
use crate::math::{
    ERF_ALPHA, ERF_BETA, ERF_CLAMP, EXP_HI, EXP_LO, EXP_OVERFLOW, EXP_P, FRAC_1_SQRT_2,
    GELU_TANH_C, LN2_HI, LN2_LO, LOG2E, SQRT_2_OVER_PI, TANH_P, TANH_SMALL,
};
use std::arch::x86_64::*;

/// Lane mask selecting the first `n` (≤ 16) lanes.
#[inline(always)]
pub(crate) fn tail_mask(n: usize) -> __mmask16 {
    if n >= 16 {
        0xffff
    } else {
        ((1u32 << n) - 1) as __mmask16
    }
}

/// Vector `exp`, same reduction and polynomial as [`crate::math::exp`].
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn exp(x: __m512) -> __m512 {
    let y = exp_clamped(x);
    let over = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, _mm512_set1_ps(EXP_OVERFLOW));
    let under = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(x, _mm512_set1_ps(EXP_LO));
    let y = _mm512_mask_blend_ps(over, y, _mm512_set1_ps(f32::INFINITY));
    _mm512_mask_blend_ps(under, y, _mm512_setzero_ps())
}

/// `exp` of `x` clamped to `[EXP_LO, EXP_HI]`: finite and normal (about `1.2e-38 ..= 2.4e38`)
/// for every input, NaN propagates. For saturating uses like `x / (1 + exp(t))`, where those
/// ends act as 0 and ∞, without [`exp`]'s two compares and blends.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn exp_clamped(x: __m512) -> __m512 {
    // `min_ps(c, x)` returns `x` when `x` is NaN, so NaN propagates through the clamps.
    let xc = _mm512_max_ps(
        _mm512_set1_ps(EXP_LO),
        _mm512_min_ps(_mm512_set1_ps(EXP_HI), x),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(xc, _mm512_set1_ps(LOG2E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_HI), xc);
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(LN2_LO), r);
    let mut p = _mm512_set1_ps(EXP_P[0]);
    for &c in &EXP_P[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    let y = _mm512_fmadd_ps(
        p,
        _mm512_mul_ps(r, r),
        _mm512_add_ps(r, _mm512_set1_ps(1.0)),
    );
    _mm512_scalef_ps(y, n)
}

/// `exp(x)` for `x ≤ 0` or NaN — a softmax's `x − max` — to 4e-7 relative (a few f32 ulps):
/// one-constant range reduction and a degree-5 polynomial, no overflow handling (none can
/// occur). Below `ln(f32::MIN_POSITIVE)` (the masked keys of a softmax: `f32::MIN` or `−∞`
/// minus the row's max) the result is exactly 0, never a subnormal: the probabilities feed a
/// GEMM, and every multiply by a subnormal costs a microcode assist of about a hundred cycles
/// on Intel cores (a `−∞`-masked attention ran at 2 GFLOP/s). Twelve vector ops against
/// [`exp`]'s eighteen.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn exp_nonpositive(x: __m512) -> __m512 {
    // Lanes not below the smallest normal result's argument (NaN lanes included: unordered).
    let normal = _mm512_cmp_ps_mask::<_CMP_NLT_UQ>(x, _mm512_set1_ps(crate::math::EXP_LO));
    // `max_ps(c, x)` returns `x` when `x` is NaN, so NaN propagates.
    let x = _mm512_max_ps(_mm512_set1_ps(-88.0), x);
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
        _mm512_mul_ps(x, _mm512_set1_ps(LOG2E)),
    );
    let r = _mm512_fnmadd_ps(n, _mm512_set1_ps(std::f32::consts::LN_2), x);
    let mut p = _mm512_set1_ps(EXP_NONPOSITIVE_P[0]);
    for &c in &EXP_NONPOSITIVE_P[1..] {
        p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
    }
    _mm512_maskz_scalef_ps(normal, p, n)
}

/// Near-minimax coefficients of `e^r` on `[−ln2/2, ln2/2]` (highest degree first; max relative
/// error 9.2e-8), for [`exp_nonpositive`].
const EXP_NONPOSITIVE_P: [f32; 6] = [
    0.008_290_313,
    0.041_897_934,
    0.166_676_36,
    0.499_991_5,
    0.999_999_7,
    1.0,
];

/// Vector `erf`, same rational approximation as [`crate::math::erf`].
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn erf(x: __m512) -> __m512 {
    let x = _mm512_min_ps(
        _mm512_set1_ps(ERF_CLAMP),
        _mm512_max_ps(_mm512_set1_ps(-ERF_CLAMP), x),
    );
    let x2 = _mm512_mul_ps(x, x);
    let mut p = _mm512_set1_ps(ERF_ALPHA[6]);
    for &c in ERF_ALPHA[..6].iter().rev() {
        p = _mm512_fmadd_ps(p, x2, _mm512_set1_ps(c));
    }
    let mut q = _mm512_set1_ps(ERF_BETA[4]);
    for &c in ERF_BETA[..4].iter().rev() {
        q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(c));
    }
    let y = _mm512_div_ps(_mm512_mul_ps(x, p), q);
    // ±1 exactly where the input was clamped (`x/4` there), as the scalar form.
    let at_clamp = _mm512_cmp_ps_mask::<_CMP_EQ_OQ>(_mm512_abs_ps(x), _mm512_set1_ps(ERF_CLAMP));
    _mm512_mask_mul_ps(y, at_clamp, x, _mm512_set1_ps(1.0 / ERF_CLAMP))
}

/// Vector `tanh`, same branches as [`crate::math::tanh`].
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn tanh(x: __m512) -> __m512 {
    let a = _mm512_abs_ps(x);
    let z = _mm512_mul_ps(x, x);
    let mut p = _mm512_set1_ps(TANH_P[0]);
    for &c in &TANH_P[1..] {
        p = _mm512_fmadd_ps(p, z, _mm512_set1_ps(c));
    }
    let small = _mm512_fmadd_ps(_mm512_mul_ps(p, z), x, x);
    let e = exp(_mm512_add_ps(a, a));
    let one = _mm512_set1_ps(1.0);
    let big = _mm512_sub_ps(
        one,
        _mm512_div_ps(_mm512_set1_ps(2.0), _mm512_add_ps(e, one)),
    );
    // copysign(big, x): magnitude bits of `big`, sign bit of `x`.
    let sign = _mm512_set1_epi32(i32::MIN);
    let big = _mm512_castsi512_ps(_mm512_or_si512(
        _mm512_andnot_si512(sign, _mm512_castps_si512(big)),
        _mm512_and_si512(sign, _mm512_castps_si512(x)),
    ));
    let is_small = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(a, _mm512_set1_ps(TANH_SMALL));
    _mm512_mask_blend_ps(is_small, big, small)
}

/// `1 / (1 + exp(-x))`.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn sigmoid(x: __m512) -> __m512 {
    let one = _mm512_set1_ps(1.0);
    let e = exp(_mm512_sub_ps(_mm512_setzero_ps(), x));
    _mm512_div_ps(one, _mm512_add_ps(one, e))
}

/// `0.5·x·(1 + erf(x/√2))`.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn gelu_erf(x: __m512) -> __m512 {
    let e = erf(_mm512_mul_ps(x, _mm512_set1_ps(FRAC_1_SQRT_2)));
    let hx = _mm512_mul_ps(x, _mm512_set1_ps(0.5));
    _mm512_fmadd_ps(hx, e, hx)
}

/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))` as `x / (1 + 2^t)` with
/// `t = −2·√(2/π)·log₂e·(x + 0.044715·x³)`, folded into `t = x·(A + B·x²)`: the power of two
/// straight from `t` (round, degree-5 polynomial of the fraction, `scalef`) skips [`exp`]'s
/// range reduction — 15 vector ops instead of 20, within the 2e-6 of [`crate::math::gelu_tanh`].
/// `t` is clamped to `[−127.9, 128]` (NaN propagates): below, the quotient is `x`; at 128,
/// `2^t` overflows to +∞, so the quotient is −0, and NaN for `x = −∞` (the unfused graph's
/// `−∞ · 0`), as in the scalar form.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn gelu_tanh(x: __m512) -> __m512 {
    const A: f32 = -2.0 * SQRT_2_OVER_PI * LOG2E;
    let t = _mm512_mul_ps(
        x,
        _mm512_fmadd_ps(
            _mm512_mul_ps(x, x),
            _mm512_set1_ps(A * GELU_TANH_C),
            _mm512_set1_ps(A),
        ),
    );
    // `min_ps(c, t)` / `max_ps(c, t)` return `t` when it is NaN.
    let t = _mm512_max_ps(
        _mm512_set1_ps(-127.9),
        _mm512_min_ps(_mm512_set1_ps(128.0), t),
    );
    let n = _mm512_roundscale_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(t);
    let f = _mm512_sub_ps(t, n);
    let mut p = _mm512_set1_ps(EXP2_P[0]);
    for &c in &EXP2_P[1..] {
        p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(c));
    }
    let e = _mm512_scalef_ps(p, n);
    _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0), e))
}

/// Near-minimax coefficients of `2^f` on `[−½, ½]` (highest degree first; max relative error
/// 1.1e-7), for [`gelu_tanh`].
const EXP2_P: [f32; 6] = [
    0.001_326_472_6,
    0.009_671_513,
    0.055_507_34,
    0.240_222_42,
    0.693_146_96,
    1.0,
];

/// Applies a fused activation.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn activate(v: __m512, act: Activation) -> __m512 {
    match act {
        Activation::None => v,
        Activation::Relu => _mm512_max_ps(v, _mm512_setzero_ps()),
        Activation::GeluErf => gelu_erf(v),
        Activation::GeluTanh => gelu_tanh(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `f` on one vector of 16 lanes (the caller checked AVX-512F).
    fn lanes(f: unsafe fn(__m512) -> __m512, xs: [f32; 16]) -> [f32; 16] {
        let mut out = [0f32; 16];
        // SAFETY: AVX-512F present (checked by the calling test); 16 floats each way.
        unsafe { _mm512_storeu_ps(out.as_mut_ptr(), f(_mm512_loadu_ps(xs.as_ptr()))) };
        out
    }

    /// `exp_nonpositive` against f64 `exp` over the whole non-positive range, its floor below
    /// −88, and NaN.
    #[test]
    fn exp_nonpositive_is_accurate_for_nonpositive_inputs() {
        if !is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: no AVX-512F");
            return;
        }
        let run = |xs| lanes(exp_nonpositive, xs);
        let mut worst = 0f64;
        for i in 0..100_000 {
            let x0 = -87.0 * i as f32 / 100_000.0;
            let xs: [f32; 16] = std::array::from_fn(|l| x0 - l as f32 * 1e-5);
            for (x, y) in xs.iter().zip(run(xs)) {
                let want = (*x as f64).exp();
                worst = worst.max((y as f64 - want).abs() / want);
            }
        }
        assert!(worst < 5e-7, "max relative error {worst}");
        let y = run([
            f32::MIN,
            f32::NEG_INFINITY,
            -1e4,
            f32::NAN,
            0.0,
            -0.0,
            -1e-30,
            -88.5,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
        ]);
        // Masked keys give exactly 0, never a subnormal (slow in every later multiply).
        assert_eq!(&y[..3], &[0.0, 0.0, 0.0], "{y:?}");
        assert!(y[3].is_nan());
        assert_eq!(&y[4..7], &[1.0, 1.0, 1.0]);
        assert_eq!(y[7], 0.0);
        // Every result is 0 or normal, down to the threshold and across it.
        for i in 0..4000 {
            let x0 = -86.0 - i as f32 * 1e-3;
            let xs: [f32; 16] = std::array::from_fn(|l| x0 - l as f32 * 1e-4);
            for (x, y) in xs.iter().zip(run(xs)) {
                assert!(y == 0.0 || y.is_normal(), "exp({x}) = {y:e}");
                let want = (*x as f64).exp();
                if y != 0.0 {
                    assert!(((y as f64) - want).abs() / want < 5e-7, "exp({x}) = {y:e}");
                }
            }
        }
    }

    /// `gelu_tanh` against the f64 formula over `[−12, 12]` (relative to `max(|y|, 1)`, as the
    /// scalar form is held to) and at the extremes.
    #[test]
    fn gelu_tanh_is_accurate_and_saturates() {
        if !is_x86_feature_detected!("avx512f") {
            eprintln!("skipped: no AVX-512F");
            return;
        }
        let run = |xs| lanes(gelu_tanh, xs);
        let reference = |x: f64| {
            let u = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
            0.5 * x * (1.0 + u.tanh())
        };
        let mut worst = 0f64;
        for i in 0..200_000 {
            let x0 = -12.0 + 24.0 * i as f32 / 200_000.0;
            let xs: [f32; 16] = std::array::from_fn(|l| x0 + l as f32 * 7e-6);
            for (x, y) in xs.iter().zip(run(xs)) {
                let want = reference(*x as f64);
                worst = worst.max((y as f64 - want).abs() / want.abs().max(1.0));
            }
        }
        assert!(worst < 2e-6, "max error {worst}");
        let mut xs = [0f32; 16];
        xs[..6].copy_from_slice(&[
            1e30,
            -1e30,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::NAN,
            100.0,
        ]);
        let y = run(xs);
        assert_eq!(y[0], 1e30);
        assert!(y[1].abs() < 1e-7, "{}", y[1]);
        assert_eq!(y[2], f32::INFINITY);
        // As the scalar form and the unfused graph: −∞ / ∞.
        assert!(y[3].is_nan());
        assert!(y[4].is_nan());
        assert_eq!(y[5], 100.0);
    }
}
