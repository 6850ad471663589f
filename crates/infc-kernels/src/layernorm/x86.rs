//! Explicit AVX-512 and AVX2 LayerNorm rows: the compiler vectorised the portable reductions
//! two lanes wide (`vmovsd` + `vaddps xmm`), which made LayerNorm ~1 element per cycle. Four
//! independent vector accumulators per reduction; two-pass mean and variance (the row is a few
//! KB, so the second read comes from L1). Whole vectors use plain loads and stores; only the
//! last partial vector is masked (AVX2 masked stores are microcoded on some CPUs).

use crate::simd::{avx2, avx512};
use std::arch::x86_64::*;

/// Mean and `1/√(var + eps)` of the row `x` (`x.len() ≥ 1`): four vector accumulators per
/// pass, two passes; the first sums `x − x₀`.
///
/// # Safety
/// The CPU has AVX-512F and FMA.
#[target_feature(enable = "avx512f,fma")]
pub(crate) unsafe fn stats_avx512(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len();
    let xp = x.as_ptr();
    let full = n / 16 * 16;
    let quad = n / 64 * 64;
    let rest = avx512::tail_mask(n - full);
    let mut acc = [_mm512_setzero_ps(); 4];
    // The mean as `x₀ + Σ(x − x₀)/n` (see the module doc); the subtractions are off the
    // accumulators' dependency chains.
    let x0 = x[0];
    let shift = _mm512_set1_ps(x0);
    // SAFETY (all accesses below): whole vectors start below `full` (`quad`) and end by `n`; the
    // one partial vector at `full` is masked to the lanes below `n`.
    unsafe {
        for j in (0..quad).step_by(64) {
            for (t, a) in acc.iter_mut().enumerate() {
                let d = _mm512_sub_ps(_mm512_loadu_ps(xp.add(j + 16 * t)), shift);
                *a = _mm512_add_ps(*a, d);
            }
        }
        for j in (quad..full).step_by(16) {
            acc[0] = _mm512_add_ps(acc[0], _mm512_sub_ps(_mm512_loadu_ps(xp.add(j)), shift));
        }
        let d = _mm512_maskz_sub_ps(rest, _mm512_maskz_loadu_ps(rest, xp.add(full)), shift);
        acc[1] = _mm512_add_ps(acc[1], d);
    }
    let sum = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    let mean = x0 + _mm512_reduce_add_ps(sum) / n as f32;
    let vmean = _mm512_set1_ps(mean);
    let mut acc = [_mm512_setzero_ps(); 4];
    // SAFETY: as above.
    unsafe {
        for j in (0..quad).step_by(64) {
            for (t, a) in acc.iter_mut().enumerate() {
                let d = _mm512_sub_ps(_mm512_loadu_ps(xp.add(j + 16 * t)), vmean);
                *a = _mm512_fmadd_ps(d, d, *a);
            }
        }
        for j in (quad..full).step_by(16) {
            let d = _mm512_sub_ps(_mm512_loadu_ps(xp.add(j)), vmean);
            acc[0] = _mm512_fmadd_ps(d, d, acc[0]);
        }
        let d = _mm512_maskz_sub_ps(rest, _mm512_maskz_loadu_ps(rest, xp.add(full)), vmean);
        acc[1] = _mm512_fmadd_ps(d, d, acc[1]);
    }
    let sq = _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
    (
        mean,
        1.0 / (_mm512_reduce_add_ps(sq) / n as f32 + eps).sqrt(),
    )
}

/// One vector of the normalised row: `(v − mean)·inv·s (+ b)`, with `mean` and `inv` broadcast.
#[inline]
#[target_feature(enable = "avx512f")]
pub(crate) fn norm_avx512(
    v: __m512,
    s: __m512,
    b: Option<__m512>,
    mean: __m512,
    inv: __m512,
) -> __m512 {
    let t = _mm512_mul_ps(_mm512_sub_ps(v, mean), inv);
    match b {
        Some(b) => _mm512_fmadd_ps(t, s, b),
        None => _mm512_mul_ps(t, s),
    }
}

/// # Safety
/// The CPU has AVX-512F.
#[target_feature(enable = "avx512f,avx512dq,fma")]
pub(super) unsafe fn row_avx512(
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    eps: f32,
    y: &mut [f32],
) {
    let n = y.len();
    assert!(x.len() >= n && scale.len() >= n && bias.is_none_or(|b| b.len() >= n));
    // SAFETY: the caller has AVX-512F.
    let (mean, inv) = unsafe { stats_avx512(&x[..n], eps) };
    let (vmean, inv) = (_mm512_set1_ps(mean), _mm512_set1_ps(inv));
    let (xp, sp, yp) = (x.as_ptr(), scale.as_ptr(), y.as_mut_ptr());
    let full = n / 16 * 16;
    let rest = avx512::tail_mask(n - full);
    // SAFETY: whole vectors start below `full` and end by `n`; the one partial vector at `full`
    // is masked to the lanes below `n`. Every slice holds `n`.
    unsafe {
        let bp = bias.map(|b| b.as_ptr());
        for j in (0..full).step_by(16) {
            let b = bp.map(|b| _mm512_loadu_ps(b.add(j)));
            let v = norm_avx512(
                _mm512_loadu_ps(xp.add(j)),
                _mm512_loadu_ps(sp.add(j)),
                b,
                vmean,
                inv,
            );
            _mm512_storeu_ps(yp.add(j), v);
        }
        if full < n {
            let b = bp.map(|b| _mm512_maskz_loadu_ps(rest, b.add(full)));
            let v = norm_avx512(
                _mm512_maskz_loadu_ps(rest, xp.add(full)),
                _mm512_maskz_loadu_ps(rest, sp.add(full)),
                b,
                vmean,
                inv,
            );
            _mm512_mask_storeu_ps(yp.add(full), rest, v);
        }
    }
}

/// Mean and `1/√(var + eps)` of the row `x` (`x.len() ≥ 1`), as [`stats_avx512`] with 8 lanes.
///
/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn stats_avx2(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len();
    let xp = x.as_ptr();
    let full = n / 8 * 8;
    let quad = n / 32 * 32;
    let rest = avx2::tail_mask(n - full);
    let rest_ps = _mm256_castsi256_ps(rest);
    let mut acc = [_mm256_setzero_ps(); 4];
    // The mean as `x₀ + Σ(x − x₀)/n`, as in [`stats_avx512`].
    let x0 = x[0];
    let shift = _mm256_set1_ps(x0);
    // SAFETY (all accesses below): whole vectors start below `full` (`quad`) and end by `n`; the
    // one partial vector at `full` is masked to the lanes below `n` (masked-off lanes read 0 and
    // do not fault).
    unsafe {
        for j in (0..quad).step_by(32) {
            for (t, a) in acc.iter_mut().enumerate() {
                let d = _mm256_sub_ps(_mm256_loadu_ps(xp.add(j + 8 * t)), shift);
                *a = _mm256_add_ps(*a, d);
            }
        }
        for j in (quad..full).step_by(8) {
            acc[0] = _mm256_add_ps(acc[0], _mm256_sub_ps(_mm256_loadu_ps(xp.add(j)), shift));
        }
        let d = _mm256_sub_ps(_mm256_maskload_ps(xp.add(full), rest), shift);
        acc[1] = _mm256_add_ps(acc[1], _mm256_and_ps(d, rest_ps));
    }
    let sum = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    let mean = x0 + hsum(sum) / n as f32;
    let vmean = _mm256_set1_ps(mean);
    let mut acc = [_mm256_setzero_ps(); 4];
    // SAFETY: as above.
    unsafe {
        for j in (0..quad).step_by(32) {
            for (t, a) in acc.iter_mut().enumerate() {
                let d = _mm256_sub_ps(_mm256_loadu_ps(xp.add(j + 8 * t)), vmean);
                *a = _mm256_fmadd_ps(d, d, *a);
            }
        }
        for j in (quad..full).step_by(8) {
            let d = _mm256_sub_ps(_mm256_loadu_ps(xp.add(j)), vmean);
            acc[0] = _mm256_fmadd_ps(d, d, acc[0]);
        }
        let d = _mm256_sub_ps(_mm256_maskload_ps(xp.add(full), rest), vmean);
        let d = _mm256_and_ps(d, rest_ps);
        acc[1] = _mm256_fmadd_ps(d, d, acc[1]);
    }
    let sq = _mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3]));
    (mean, 1.0 / (hsum(sq) / n as f32 + eps).sqrt())
}

/// One vector of the normalised row, as [`norm_avx512`] with 8 lanes.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(crate) fn norm_avx2(
    v: __m256,
    s: __m256,
    b: Option<__m256>,
    mean: __m256,
    inv: __m256,
) -> __m256 {
    let t = _mm256_mul_ps(_mm256_sub_ps(v, mean), inv);
    match b {
        Some(b) => _mm256_fmadd_ps(t, s, b),
        None => _mm256_mul_ps(t, s),
    }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn row_avx2(
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    eps: f32,
    y: &mut [f32],
) {
    let n = y.len();
    assert!(x.len() >= n && scale.len() >= n && bias.is_none_or(|b| b.len() >= n));
    // SAFETY: the caller has AVX2 and FMA.
    let (mean, inv) = unsafe { stats_avx2(&x[..n], eps) };
    let (vmean, inv) = (_mm256_set1_ps(mean), _mm256_set1_ps(inv));
    let (xp, sp, yp) = (x.as_ptr(), scale.as_ptr(), y.as_mut_ptr());
    let full = n / 8 * 8;
    let rest = avx2::tail_mask(n - full);
    // SAFETY: whole vectors start below `full` and end by `n`; the one partial vector at `full`
    // is masked to the lanes below `n`. Every slice holds `n`.
    unsafe {
        let bp = bias.map(|b| b.as_ptr());
        for j in (0..full).step_by(8) {
            let b = bp.map(|b| _mm256_loadu_ps(b.add(j)));
            let v = norm_avx2(
                _mm256_loadu_ps(xp.add(j)),
                _mm256_loadu_ps(sp.add(j)),
                b,
                vmean,
                inv,
            );
            _mm256_storeu_ps(yp.add(j), v);
        }
        if full < n {
            let b = bp.map(|b| _mm256_maskload_ps(b.add(full), rest));
            let v = norm_avx2(
                _mm256_maskload_ps(xp.add(full), rest),
                _mm256_maskload_ps(sp.add(full), rest),
                b,
                vmean,
                inv,
            );
            _mm256_maskstore_ps(yp.add(full), rest, v);
        }
    }
}

#[inline]
#[target_feature(enable = "avx2")]
fn hsum(v: __m256) -> f32 {
    let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
    let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    _mm_cvtss_f32(_mm_add_ss(h, _mm_movehdup_ps(h)))
}
