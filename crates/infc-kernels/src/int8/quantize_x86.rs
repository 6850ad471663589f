//! AVX-512 and AVX2 rows of the dynamic u8 quantizer ([`super`]): the range search and the
//! quantization of a row, read either as stored or LayerNorm-ed on the fly ([`RowSource`]),
//! through one monomorphic loop per source kind.

use super::{QParams, RowSource};
use crate::layernorm::x86::{norm_avx2, norm_avx512};
use crate::simd::{avx2, avx512};
use std::arch::x86_64::*;

/// Vector loads of a row source; the methods are inlined into the AVX-512 / AVX2 callers.
trait Loads<V, M> {
    /// The whole vector at `j`.
    ///
    /// # Safety
    /// The vector lies inside the row; the CPU has the caller's features.
    unsafe fn load(&self, j: usize) -> V;
    /// The lanes of `mask` at `j`, the other lanes 0.
    ///
    /// # Safety
    /// The lanes of `mask` lie inside the row; the CPU has the caller's features.
    unsafe fn tail(&self, j: usize, mask: M) -> V;
}

/// A stored row.
struct Stored(*const f32);

/// A row normalised on the fly: `x`, `scale` and `bias` pointers, broadcast mean and inverse
/// deviation.
struct Normalized<V> {
    x: *const f32,
    scale: *const f32,
    bias: Option<*const f32>,
    mean: V,
    inv: V,
}

impl Loads<__m512, __mmask16> for Stored {
    #[inline(always)]
    unsafe fn load(&self, j: usize) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_loadu_ps(self.0.add(j)) }
    }
    #[inline(always)]
    unsafe fn tail(&self, j: usize, m: __mmask16) -> __m512 {
        // SAFETY: the caller's contract.
        unsafe { _mm512_maskz_loadu_ps(m, self.0.add(j)) }
    }
}

impl Loads<__m512, __mmask16> for Normalized<__m512> {
    #[inline(always)]
    unsafe fn load(&self, j: usize) -> __m512 {
        // SAFETY: the caller's contract; `scale` and `bias` are as long as the row.
        unsafe {
            let b = self.bias.map(|b| _mm512_loadu_ps(b.add(j)));
            let (x, s) = (
                _mm512_loadu_ps(self.x.add(j)),
                _mm512_loadu_ps(self.scale.add(j)),
            );
            norm_avx512(x, s, b, self.mean, self.inv)
        }
    }
    #[inline(always)]
    unsafe fn tail(&self, j: usize, m: __mmask16) -> __m512 {
        // SAFETY: as `load`.
        unsafe {
            let b = self.bias.map(|b| _mm512_maskz_loadu_ps(m, b.add(j)));
            let x = _mm512_maskz_loadu_ps(m, self.x.add(j));
            let s = _mm512_maskz_loadu_ps(m, self.scale.add(j));
            _mm512_maskz_mov_ps(m, norm_avx512(x, s, b, self.mean, self.inv))
        }
    }
}

impl Loads<__m256, __m256i> for Stored {
    #[inline(always)]
    unsafe fn load(&self, j: usize) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_loadu_ps(self.0.add(j)) }
    }
    #[inline(always)]
    unsafe fn tail(&self, j: usize, m: __m256i) -> __m256 {
        // SAFETY: the caller's contract.
        unsafe { _mm256_maskload_ps(self.0.add(j), m) }
    }
}

impl Loads<__m256, __m256i> for Normalized<__m256> {
    #[inline(always)]
    unsafe fn load(&self, j: usize) -> __m256 {
        // SAFETY: the caller's contract; `scale` and `bias` are as long as the row.
        unsafe {
            let b = self.bias.map(|b| _mm256_loadu_ps(b.add(j)));
            let (x, s) = (
                _mm256_loadu_ps(self.x.add(j)),
                _mm256_loadu_ps(self.scale.add(j)),
            );
            norm_avx2(x, s, b, self.mean, self.inv)
        }
    }
    #[inline(always)]
    unsafe fn tail(&self, j: usize, m: __m256i) -> __m256 {
        // SAFETY: as `load`.
        unsafe {
            let b = self.bias.map(|b| _mm256_maskload_ps(b.add(j), m));
            let x = _mm256_maskload_ps(self.x.add(j), m);
            let s = _mm256_maskload_ps(self.scale.add(j), m);
            let v = norm_avx2(x, s, b, self.mean, self.inv);
            _mm256_and_ps(v, _mm256_castsi256_ps(m))
        }
    }
}

/// Runs `$body` with `$l` bound to the source's loader (`Stored` or `Normalized` with
/// `$set1` broadcasts), one monomorphic copy per kind.
macro_rules! with_loads {
    ($src:expr, $set1:ident, |$l:ident| $body:expr) => {
        match $src {
            RowSource::Plain(x) => {
                let $l = Stored(x.as_ptr());
                $body
            }
            RowSource::Normalized { x, norm, mean, inv } => {
                let $l = Normalized {
                    x: x.as_ptr(),
                    scale: norm.scale.as_ptr(),
                    bias: norm.bias.map(|b| b.as_ptr()),
                    mean: $set1(mean),
                    inv: $set1(inv),
                };
                $body
            }
        }
    };
}

/// Range, parameters and quantization of one row in one call (its passes inlined: through a
/// call per pass with the source in memory, 128 × 768 rows took 19.0 instead of 16.2 µs).
///
/// # Safety
/// The CPU has AVX-512F and FMA; `out.len() == src.len()`.
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn quantize_row_avx512(src: RowSource<'_>, out: &mut [u8]) -> QParams {
    // SAFETY: the caller's contract.
    let (mn, mx) = unsafe { min_max_avx512(src) };
    let p = QParams::from_range(mn, mx);
    // SAFETY: the caller's contract.
    unsafe { quantize_avx512(src, out, p) };
    p
}

/// As [`quantize_row_avx512`] with 8 lanes.
///
/// # Safety
/// The CPU has AVX2 and FMA; `out.len() == src.len()`.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_row_avx2(src: RowSource<'_>, out: &mut [u8]) -> QParams {
    // SAFETY: the caller's contract.
    let (mn, mx) = unsafe { min_max_avx2(src) };
    let p = QParams::from_range(mn, mx);
    // SAFETY: the caller's contract.
    unsafe { quantize_avx2(src, out, p) };
    p
}

/// # Safety
/// The CPU has AVX-512F and FMA.
#[inline]
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn min_max_avx512(src: RowSource<'_>) -> (f32, f32) {
    let n = src.len();
    // SAFETY: whole vectors are loaded below `n / 64 · 64`, the rest masked.
    unsafe {
        with_loads!(src, _mm512_set1_ps, |l| {
            // Four independent accumulator pairs (`vminps`/`vmaxps` latency, not load
            // bandwidth, bounds a single pair); whole vectors load unmasked, the tail masked.
            let zero = _mm512_setzero_ps();
            let (mut mn, mut mx) = ([zero; 4], [zero; 4]);
            let quad = n / 64 * 64;
            for j in (0..quad).step_by(64) {
                for t in 0..4 {
                    let v = l.load(j + 16 * t);
                    // `min_ps(v, acc)` returns `acc` when `v` is NaN, like the scalar
                    // `if v < acc`.
                    mn[t] = _mm512_min_ps(v, mn[t]);
                    mx[t] = _mm512_max_ps(v, mx[t]);
                }
            }
            for j in (quad..n).step_by(16) {
                // Lanes past the row read 0.0, which is already inside the range.
                let v = l.tail(j, avx512::tail_mask(n - j));
                mn[0] = _mm512_min_ps(v, mn[0]);
                mx[0] = _mm512_max_ps(v, mx[0]);
            }
            // The accumulators hold no NaN (they start at 0 and NaN inputs were skipped),
            // so the order of the merge does not matter: min and max are exact.
            let mn = _mm512_min_ps(_mm512_min_ps(mn[0], mn[1]), _mm512_min_ps(mn[2], mn[3]));
            let mx = _mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3]));
            (_mm512_reduce_min_ps(mn), _mm512_reduce_max_ps(mx))
        })
    }
}

/// # Safety
/// The CPU has AVX-512F and FMA; `out.len() == src.len()`.
#[inline]
#[target_feature(enable = "avx512f,fma")]
pub(super) unsafe fn quantize_avx512(src: RowSource<'_>, out: &mut [u8], p: QParams) {
    let n = out.len();
    let scale = _mm512_set1_ps(p.scale);
    let zpf = p.zero_point as f32;
    let (lo, hi) = (_mm512_set1_ps(-zpf), _mm512_set1_ps(255.0 - zpf));
    let zp = _mm512_set1_epi32(p.zero_point as i32);
    let quantize = |v: __m512| {
        let q = _mm512_div_ps(v, scale);
        let q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
        let qi = _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q);
        _mm512_add_epi32(qi, zp)
    };
    let o = out.as_mut_ptr();
    let full = n / 16 * 16;
    // SAFETY: whole vectors are loaded and stored below `full`, the rest masked; `out` holds
    // `n` bytes.
    unsafe {
        with_loads!(src, _mm512_set1_ps, |l| {
            // Whole vectors load and store unmasked (masked stores are slow on some CPUs,
            // Zen 4).
            for j in (0..full).step_by(16) {
                // 16-byte store (values are 0..=255).
                _mm_storeu_si128(
                    o.add(j) as *mut __m128i,
                    _mm512_cvtepi32_epi8(quantize(l.load(j))),
                );
            }
            if full < n {
                let mask = avx512::tail_mask(n - full);
                let qi = quantize(l.tail(full, mask));
                _mm512_mask_cvtepi32_storeu_epi8(o.add(full) as *mut i8, mask, qi);
            }
        })
    }
}

/// # Safety
/// The CPU has AVX2 and FMA.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn min_max_avx2(src: RowSource<'_>) -> (f32, f32) {
    let n = src.len();
    // SAFETY: every load is masked to the lanes below `n`.
    let (mn, mx) = unsafe {
        with_loads!(src, _mm256_set1_ps, |l| {
            let (mut mn, mut mx) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            for j in (0..n).step_by(8) {
                // Masked-off lanes read 0.0.
                let v = l.tail(j, avx2::tail_mask(n - j));
                mn = _mm256_min_ps(v, mn);
                mx = _mm256_max_ps(v, mx);
            }
            (mn, mx)
        })
    };
    let mut lanes = [0f32; 16];
    // SAFETY: two 8-float stores into a 16-float array.
    unsafe {
        _mm256_storeu_ps(lanes.as_mut_ptr(), mn);
        _mm256_storeu_ps(lanes.as_mut_ptr().add(8), mx);
    }
    let (lo, hi) = lanes.split_at(8);
    (
        super::min_max_portable(lo.iter().copied()).0,
        super::min_max_portable(hi.iter().copied()).1,
    )
}

/// # Safety
/// The CPU has AVX2 and FMA; `out.len() == src.len()`.
#[inline]
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn quantize_avx2(src: RowSource<'_>, out: &mut [u8], p: QParams) {
    let scale = _mm256_set1_ps(p.scale);
    let zpf = p.zero_point as f32;
    let (lo, hi) = (_mm256_set1_ps(-zpf), _mm256_set1_ps(255.0 - zpf));
    let zp = _mm256_set1_epi32(p.zero_point as i32);
    // SAFETY: every load is masked to the lanes below `out.len()`.
    unsafe {
        with_loads!(src, _mm256_set1_ps, |l| {
            for (c, oc) in out.chunks_mut(8).enumerate() {
                let v = l.tail(8 * c, avx2::tail_mask(oc.len()));
                let q = _mm256_div_ps(v, scale);
                let q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
                let q = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q);
                let qi = _mm256_add_epi32(_mm256_cvtps_epi32(q), zp);
                // Narrow 8 × i32 (0..=255) to 8 bytes: in-lane packs give q0..q3 in the low
                // lane's first 4 bytes and q4..q7 in the high lane's; interleave the two
                // 32-bit words.
                let w = _mm256_packs_epi32(qi, qi);
                let b = _mm256_packus_epi16(w, w);
                let bytes =
                    _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
                let mut tmp = [0u8; 16];
                _mm_storeu_si128(tmp.as_mut_ptr() as *mut __m128i, bytes);
                oc.copy_from_slice(&tmp[..oc.len()]);
            }
        })
    }
}
