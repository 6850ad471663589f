//! Dynamic asymmetric u8 quantization of f32 activations, per row or per tensor.
//!
//! Parameters follow ONNX `DynamicQuantizeLinear` (and onnxruntime's implementation of it):
//! the range is widened to include 0, `scale = (max − min)/255` (`1.0` when `max == min`),
//! `zero_point = round_half_even(clamp(−min/scale, 0, 255))`, and each value becomes
//! `q = clamp(round_half_even(x / scale) + zero_point, 0, 255)` — computed as
//! `round_half_even(clamp(x/scale, −zp, 255 − zp)) + zp`, which is the same because the bounds
//! are integers.
//!
//! Every path (portable, AVX2, AVX-512) performs the same IEEE operations in the same order
//! (true division, `max`/`min` with the `x86` NaN rule "NaN → second operand", nearest-even
//! rounding), so the vector paths are bit-identical to the portable one. NaN inputs are ignored
//! by the range search and quantize to `0`.

use super::isa::VectorCode;
use super::Int8Isa;
use crate::error::{bad_shape, check_len, strided_extent, Result};
use rayon::prelude::*;

/// Scale and zero point of an asymmetric u8 quantization: `x ≈ (q − zero_point)·scale`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QParams {
    pub scale: f32,
    pub zero_point: u8,
}

impl QParams {
    /// Parameters for values in `[min, max]` (the range is widened to include 0).
    pub fn from_range(min: f32, max: f32) -> QParams {
        // Written as comparisons so NaN and -0.0 both normalise to 0.0.
        let min = if min < 0.0 { min } else { 0.0 };
        let max = if max > 0.0 { max } else { 0.0 };
        let scale = if max == min { 1.0 } else { (max - min) / 255.0 };
        let zp = clamp_x86(-min / scale, 0.0, 255.0).round_ties_even();
        QParams {
            scale,
            zero_point: zp as u8,
        }
    }

    /// Quantizes one value (the scalar definition every path reproduces).
    pub fn quantize(self, x: f32) -> u8 {
        let zp = self.zero_point as f32;
        let q = clamp_x86(x / self.scale, -zp, 255.0 - zp).round_ties_even();
        (q as i32 + self.zero_point as i32) as u8
    }

    /// `(q − zero_point)·scale`.
    pub fn dequantize(self, q: u8) -> f32 {
        (q as i32 - self.zero_point as i32) as f32 * self.scale
    }
}

/// `min(max(v, lo), hi)` with x86 `maxps`/`minps` semantics: a NaN `v` yields `lo`.
#[inline(always)]
fn clamp_x86(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v > lo { v } else { lo };
    if v < hi {
        v
    } else {
        hi
    }
}

/// Rows with fewer elements in total than this are quantized on the calling thread.
const PARALLEL_MIN_ELEMS: usize = 1 << 16;

pub(super) fn check_io(
    what: &'static str,
    x_len: usize,
    rows: usize,
    cols: usize,
    ld: usize,
    out_len: usize,
    ldo: usize,
) -> Result<()> {
    if rows > 1 && ld < cols {
        return Err(bad_shape(
            what,
            format!("input ld {ld} is smaller than cols {cols}"),
        ));
    }
    if rows > 1 && ldo < cols {
        return Err(bad_shape(
            what,
            format!("output ld {ldo} is smaller than cols {cols}"),
        ));
    }
    let need_x =
        strided_extent(&[rows, cols], &[ld, 1]).ok_or_else(|| bad_shape(what, "overflow"))?;
    check_len("quantize input", x_len, need_x)?;
    let need_o =
        strided_extent(&[rows, cols], &[ldo, 1]).ok_or_else(|| bad_shape(what, "overflow"))?;
    check_len("quantize output", out_len, need_o)
}

/// Quantizes each row of the `rows × cols` matrix `x` (row stride `ld`) to u8 with its own
/// [`QParams`] (written to `params[i]`), into `out` with row stride `ldo`. Bytes of `out` past
/// `cols` in each row are left untouched.
#[allow(clippy::too_many_arguments)]
pub fn quantize_rows_u8(
    isa: Int8Isa,
    x: &[f32],
    rows: usize,
    cols: usize,
    ld: usize,
    out: &mut [u8],
    ldo: usize,
    params: &mut [QParams],
) -> Result<()> {
    check_io("quantize_rows_u8", x.len(), rows, cols, ld, out.len(), ldo)?;
    check_len("quantize params", params.len(), rows)?;
    if rows == 0 {
        return Ok(());
    }
    if cols == 0 {
        params[..rows].fill(QParams::from_range(0.0, 0.0));
        return Ok(());
    }
    let isa = isa.capped();
    let one_row = |i: usize, o: &mut [u8], p: &mut QParams| {
        *p = quantize_row(isa, &x[i * ld..i * ld + cols], &mut o[..cols]);
    };
    let ldo = ldo.max(cols);
    let out_rows = out
        .chunks_mut(ldo)
        .zip(params.iter_mut())
        .take(rows)
        .enumerate();
    if rows * cols >= PARALLEL_MIN_ELEMS && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(ldo)
            .zip(params.par_iter_mut())
            .take(rows)
            .enumerate()
            .for_each(|(i, (o, p))| one_row(i, o, p));
    } else {
        out_rows.for_each(|(i, (o, p))| one_row(i, o, p));
    }
    Ok(())
}

/// Quantizes the whole `rows × cols` matrix with one [`QParams`] (returned), same layout rules
/// as [`quantize_rows_u8`].
pub fn quantize_tensor_u8(
    isa: Int8Isa,
    x: &[f32],
    rows: usize,
    cols: usize,
    ld: usize,
    out: &mut [u8],
    ldo: usize,
) -> Result<QParams> {
    check_io(
        "quantize_tensor_u8",
        x.len(),
        rows,
        cols,
        ld,
        out.len(),
        ldo,
    )?;
    if rows == 0 || cols == 0 {
        return Ok(QParams::from_range(0.0, 0.0));
    }
    let isa = isa.capped();
    let (mut mn, mut mx) = (0f32, 0f32);
    for i in 0..rows {
        let (a, b) = min_max(isa, &x[i * ld..i * ld + cols]);
        mn = if a < mn { a } else { mn };
        mx = if b > mx { b } else { mx };
    }
    let p = QParams::from_range(mn, mx);
    let ldo = ldo.max(cols);
    let one_row = |(i, o): (usize, &mut [u8])| {
        quantize_slice(isa, &x[i * ld..i * ld + cols], &mut o[..cols], p)
    };
    if rows * cols >= PARALLEL_MIN_ELEMS && rayon::current_num_threads() > 1 {
        out.par_chunks_mut(ldo)
            .take(rows)
            .enumerate()
            .for_each(one_row);
    } else {
        out.chunks_mut(ldo).take(rows).enumerate().for_each(one_row);
    }
    Ok(p)
}

/// Quantizes one row `x` into `out` (same length) with its own parameters, which it returns.
/// `isa` must be capped.
pub(super) fn quantize_row(isa: Int8Isa, x: &[f32], out: &mut [u8]) -> QParams {
    let (mn, mx) = min_max(isa, x);
    let p = QParams::from_range(mn, mx);
    quantize_slice(isa, x, out, p);
    p
}

/// `(min(0, min x), max(0, max x))`, NaN ignored. Exact, so every path agrees.
pub(super) fn min_max(isa: Int8Isa, x: &[f32]) -> (f32, f32) {
    match isa.vector_code() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX-512F is present.
        VectorCode::Avx512 => unsafe { x86::min_max_avx512(x) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX2 is present.
        VectorCode::Avx2 => unsafe { x86::min_max_avx2(x) },
        _ => min_max_portable(x),
    }
}

fn min_max_portable(x: &[f32]) -> (f32, f32) {
    let (mut mn, mut mx) = (0f32, 0f32);
    for &v in x {
        mn = if v < mn { v } else { mn };
        mx = if v > mx { v } else { mx };
    }
    (mn, mx)
}

/// Quantizes `x` into `out` (same length) with `p`.
pub(super) fn quantize_slice(isa: Int8Isa, x: &[f32], out: &mut [u8], p: QParams) {
    debug_assert_eq!(x.len(), out.len());
    match isa.vector_code() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX-512F is present; lengths are equal.
        VectorCode::Avx512 => unsafe { x86::quantize_avx512(x, out, p) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX2 is present; lengths are equal.
        VectorCode::Avx2 => unsafe { x86::quantize_avx2(x, out, p) },
        _ => {
            for (o, &v) in out.iter_mut().zip(x) {
                *o = p.quantize(v);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::QParams;
    use crate::simd::{avx2, avx512};
    use std::arch::x86_64::*;

    /// # Safety
    /// The CPU has AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn min_max_avx512(x: &[f32]) -> (f32, f32) {
        // Four independent accumulator pairs (`vminps`/`vmaxps` latency, not load bandwidth,
        // bounds a single pair); whole vectors load unmasked, the tail masked.
        let zero = _mm512_setzero_ps();
        let (mut mn, mut mx) = ([zero; 4], [zero; 4]);
        let mut blocks = x.chunks_exact(64);
        for block in blocks.by_ref() {
            for j in 0..4 {
                // SAFETY: 16 floats at `16·j` inside the 64-float block.
                let v = unsafe { _mm512_loadu_ps(block.as_ptr().add(16 * j)) };
                // `min_ps(v, acc)` returns `acc` when `v` is NaN, like the scalar `if v < acc`.
                mn[j] = _mm512_min_ps(v, mn[j]);
                mx[j] = _mm512_max_ps(v, mx[j]);
            }
        }
        for chunk in blocks.remainder().chunks(16) {
            let mask = avx512::tail_mask(chunk.len());
            // SAFETY: masked load of `chunk.len()` floats from the chunk; other lanes read 0.0,
            // which is already inside the range.
            let v = unsafe { _mm512_maskz_loadu_ps(mask, chunk.as_ptr()) };
            mn[0] = _mm512_min_ps(v, mn[0]);
            mx[0] = _mm512_max_ps(v, mx[0]);
        }
        // The accumulators hold no NaN (they start at 0 and NaN inputs were skipped), so the
        // order of the merge does not matter: min and max are exact.
        let mn = _mm512_min_ps(_mm512_min_ps(mn[0], mn[1]), _mm512_min_ps(mn[2], mn[3]));
        let mx = _mm512_max_ps(_mm512_max_ps(mx[0], mx[1]), _mm512_max_ps(mx[2], mx[3]));
        (_mm512_reduce_min_ps(mn), _mm512_reduce_max_ps(mx))
    }

    /// # Safety
    /// The CPU has AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn min_max_avx2(x: &[f32]) -> (f32, f32) {
        let (mut mn, mut mx) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        for chunk in x.chunks(8) {
            let mask = avx2::tail_mask(chunk.len());
            // SAFETY: masked load of `chunk.len()` floats; masked-off lanes read 0.0.
            let v = unsafe { _mm256_maskload_ps(chunk.as_ptr(), mask) };
            mn = _mm256_min_ps(v, mn);
            mx = _mm256_max_ps(v, mx);
        }
        let mut lanes = [0f32; 16];
        // SAFETY: two 8-float stores into a 16-float array.
        unsafe {
            _mm256_storeu_ps(lanes.as_mut_ptr(), mn);
            _mm256_storeu_ps(lanes.as_mut_ptr().add(8), mx);
        }
        let (lo, hi) = lanes.split_at(8);
        (super::min_max_portable(lo).0, super::min_max_portable(hi).1)
    }

    /// # Safety
    /// The CPU has AVX-512F; `out.len() == x.len()`.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn quantize_avx512(x: &[f32], out: &mut [u8], p: QParams) {
        let scale = _mm512_set1_ps(p.scale);
        let zpf = p.zero_point as f32;
        let (lo, hi) = (_mm512_set1_ps(-zpf), _mm512_set1_ps(255.0 - zpf));
        let zp = _mm512_set1_epi32(p.zero_point as i32);
        let quantize = |v: __m512| {
            let q = _mm512_div_ps(v, scale);
            let q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
            let qi =
                _mm512_cvt_roundps_epi32::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q);
            _mm512_add_epi32(qi, zp)
        };
        // Whole vectors load and store unmasked (masked stores are slow on some CPUs, Zen 4).
        let mut x_chunks = x.chunks_exact(16);
        let mut o_chunks = out.chunks_exact_mut(16);
        for (xc, oc) in x_chunks.by_ref().zip(o_chunks.by_ref()) {
            // SAFETY: 16 floats in the chunk.
            let qi = quantize(unsafe { _mm512_loadu_ps(xc.as_ptr()) });
            // SAFETY: 16-byte store into the 16-byte chunk (values are 0..=255).
            unsafe { _mm_storeu_si128(oc.as_mut_ptr() as *mut __m128i, _mm512_cvtepi32_epi8(qi)) };
        }
        let (xc, oc) = (x_chunks.remainder(), o_chunks.into_remainder());
        if !xc.is_empty() {
            let mask = avx512::tail_mask(xc.len());
            // SAFETY: masked load of the tail's floats.
            let qi = quantize(unsafe { _mm512_maskz_loadu_ps(mask, xc.as_ptr()) });
            // SAFETY: masked byte store of `oc.len() == xc.len()` lanes.
            unsafe { _mm512_mask_cvtepi32_storeu_epi8(oc.as_mut_ptr() as *mut i8, mask, qi) };
        }
    }

    /// # Safety
    /// The CPU has AVX2; `out.len() == x.len()`.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn quantize_avx2(x: &[f32], out: &mut [u8], p: QParams) {
        let scale = _mm256_set1_ps(p.scale);
        let zpf = p.zero_point as f32;
        let (lo, hi) = (_mm256_set1_ps(-zpf), _mm256_set1_ps(255.0 - zpf));
        let zp = _mm256_set1_epi32(p.zero_point as i32);
        for (xc, oc) in x.chunks(8).zip(out.chunks_mut(8)) {
            let mask = avx2::tail_mask(xc.len());
            // SAFETY: masked load of the chunk's floats.
            let v = unsafe { _mm256_maskload_ps(xc.as_ptr(), mask) };
            let q = _mm256_div_ps(v, scale);
            let q = _mm256_min_ps(_mm256_max_ps(q, lo), hi);
            let q = _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(q);
            let qi = _mm256_add_epi32(_mm256_cvtps_epi32(q), zp);
            // Narrow 8 × i32 (0..=255) to 8 bytes: in-lane packs give q0..q3 in the low lane's
            // first 4 bytes and q4..q7 in the high lane's; interleave the two 32-bit words.
            let w = _mm256_packs_epi32(qi, qi);
            let b = _mm256_packus_epi16(w, w);
            let bytes =
                _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256::<1>(b));
            let mut tmp = [0u8; 16];
            // SAFETY: 16-byte store into a 16-byte array.
            unsafe { _mm_storeu_si128(tmp.as_mut_ptr() as *mut __m128i, bytes) };
            oc.copy_from_slice(&tmp[..oc.len()]);
        }
    }
}
