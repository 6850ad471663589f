//! AVX2+FMA (`ymm`, 8 lanes) vector math, activation and tail-mask helpers.

use crate::gemm::Activation;
use crate::math::{
    ERF_ALPHA, ERF_BETA, ERF_CLAMP, EXP_HI, EXP_LO, EXP_OVERFLOW, EXP_P, FRAC_1_SQRT_2,
    GELU_TANH_C, LN2_HI, LN2_LO, LOG2E, SQRT_2_OVER_PI, TANH_P, TANH_SMALL,
};
use std::arch::x86_64::*;

/// `-1` in the first 8 entries, `0` after: `&TAIL[8 - n..]` loads a mask for `n` lanes.
static TAIL: [i32; 16] = [-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0];

/// Lane mask (for `maskload`/`maskstore`) selecting the first `n` (≤ 8) lanes.
#[inline]
#[target_feature(enable = "avx2")]
pub(crate) fn tail_mask(n: usize) -> __m256i {
    let n = n.min(8);
    // SAFETY: `8 - n ≤ 8`, so the 8 i32 read from `TAIL[8 - n..]` lie inside the 16-entry table.
    unsafe { _mm256_loadu_si256(TAIL.as_ptr().add(8 - n) as *const __m256i) }
}

/// Vector `exp`, same reduction and polynomial as [`crate::math::exp`].
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn exp(x: __m256) -> __m256 {
    let y = exp_clamped(x);
    let over = _mm256_cmp_ps::<_CMP_GT_OQ>(x, _mm256_set1_ps(EXP_OVERFLOW));
    let under = _mm256_cmp_ps::<_CMP_LT_OQ>(x, _mm256_set1_ps(EXP_LO));
    let y = _mm256_blendv_ps(y, _mm256_set1_ps(f32::INFINITY), over);
    _mm256_blendv_ps(y, _mm256_setzero_ps(), under)
}

/// `exp` of `x` clamped to `[EXP_LO, EXP_HI]` (see [`crate::simd::avx512::exp_clamped`]).
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn exp_clamped(x: __m256) -> __m256 {
    // `min_ps(c, x)` returns `x` when `x` is NaN, so NaN propagates through the clamps.
    let xc = _mm256_max_ps(
        _mm256_set1_ps(EXP_LO),
        _mm256_min_ps(_mm256_set1_ps(EXP_HI), x),
    );
    let n = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(_mm256_mul_ps(
        xc,
        _mm256_set1_ps(LOG2E),
    ));
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_HI), xc);
    let r = _mm256_fnmadd_ps(n, _mm256_set1_ps(LN2_LO), r);
    let mut p = _mm256_set1_ps(EXP_P[0]);
    for &c in &EXP_P[1..] {
        p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
    }
    let y = _mm256_fmadd_ps(
        p,
        _mm256_mul_ps(r, r),
        _mm256_add_ps(r, _mm256_set1_ps(1.0)),
    );
    // 2^n built from the exponent bits; n ∈ [-126, 127] after the clamp (NaN lanes give garbage
    // bits here but `y` is NaN, and NaN·anything is NaN).
    let bits = _mm256_slli_epi32::<23>(_mm256_add_epi32(
        _mm256_cvtps_epi32(n),
        _mm256_set1_epi32(127),
    ));
    _mm256_mul_ps(y, _mm256_castsi256_ps(bits))
}

/// Vector `erf`, same rational approximation as [`crate::math::erf`].
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn erf(x: __m256) -> __m256 {
    let x = _mm256_min_ps(
        _mm256_set1_ps(ERF_CLAMP),
        _mm256_max_ps(_mm256_set1_ps(-ERF_CLAMP), x),
    );
    let x2 = _mm256_mul_ps(x, x);
    let mut p = _mm256_set1_ps(ERF_ALPHA[6]);
    for &c in ERF_ALPHA[..6].iter().rev() {
        p = _mm256_fmadd_ps(p, x2, _mm256_set1_ps(c));
    }
    let mut q = _mm256_set1_ps(ERF_BETA[4]);
    for &c in ERF_BETA[..4].iter().rev() {
        q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(c));
    }
    let y = _mm256_div_ps(_mm256_mul_ps(x, p), q);
    // ±1 exactly where the input was clamped (`x/4` there), as the scalar form.
    let abs = _mm256_andnot_ps(_mm256_set1_ps(-0.0), x);
    let at_clamp = _mm256_cmp_ps::<_CMP_EQ_OQ>(abs, _mm256_set1_ps(ERF_CLAMP));
    _mm256_blendv_ps(
        y,
        _mm256_mul_ps(x, _mm256_set1_ps(1.0 / ERF_CLAMP)),
        at_clamp,
    )
}

/// Vector `tanh`, same branches as [`crate::math::tanh`].
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn tanh(x: __m256) -> __m256 {
    let sign = _mm256_set1_ps(-0.0);
    let a = _mm256_andnot_ps(sign, x);
    let z = _mm256_mul_ps(x, x);
    let mut p = _mm256_set1_ps(TANH_P[0]);
    for &c in &TANH_P[1..] {
        p = _mm256_fmadd_ps(p, z, _mm256_set1_ps(c));
    }
    let small = _mm256_fmadd_ps(_mm256_mul_ps(p, z), x, x);
    let e = exp(_mm256_add_ps(a, a));
    let one = _mm256_set1_ps(1.0);
    let big = _mm256_sub_ps(
        one,
        _mm256_div_ps(_mm256_set1_ps(2.0), _mm256_add_ps(e, one)),
    );
    let big = _mm256_or_ps(_mm256_andnot_ps(sign, big), _mm256_and_ps(sign, x));
    let is_small = _mm256_cmp_ps::<_CMP_LT_OQ>(a, _mm256_set1_ps(TANH_SMALL));
    _mm256_blendv_ps(big, small, is_small)
}

/// `1 / (1 + exp(-x))`.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn sigmoid(x: __m256) -> __m256 {
    let one = _mm256_set1_ps(1.0);
    let e = exp(_mm256_sub_ps(_mm256_setzero_ps(), x));
    _mm256_div_ps(one, _mm256_add_ps(one, e))
}

/// `0.5·x·(1 + erf(x/√2))`.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn gelu_erf(x: __m256) -> __m256 {
    let e = erf(_mm256_mul_ps(x, _mm256_set1_ps(FRAC_1_SQRT_2)));
    let hx = _mm256_mul_ps(x, _mm256_set1_ps(0.5));
    _mm256_fmadd_ps(hx, e, hx)
}

/// `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`, evaluated as [`crate::math::gelu_tanh`] does:
/// `x / (1 + exp(−2·√(2/π)·(x + 0.044715·x³)))`, with `exp` overflowing to +∞ (so −0 for large
/// negative `x` and NaN for −∞, as the unfused graph) but not needing its underflow fix-up.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn gelu_tanh(x: __m256) -> __m256 {
    let x3 = _mm256_mul_ps(_mm256_mul_ps(x, x), x);
    let inner = _mm256_fmadd_ps(_mm256_set1_ps(GELU_TANH_C), x3, x);
    let t = _mm256_mul_ps(_mm256_set1_ps(-2.0 * SQRT_2_OVER_PI), inner);
    let over = _mm256_cmp_ps::<_CMP_GT_OQ>(t, _mm256_set1_ps(EXP_OVERFLOW));
    let e = _mm256_blendv_ps(exp_clamped(t), _mm256_set1_ps(f32::INFINITY), over);
    _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0), e))
}

/// Applies a fused activation.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn activate(v: __m256, act: Activation) -> __m256 {
    match act {
        Activation::None => v,
        Activation::Relu => _mm256_max_ps(v, _mm256_setzero_ps()),
        Activation::GeluErf => gelu_erf(v),
        Activation::GeluTanh => gelu_tanh(v),
    }
}
