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
use crate::layernorm::{self, RowNorm};
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
    if rows * cols >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1 {
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
        let (a, b) = min_max(isa, RowSource::Plain(&x[i * ld..i * ld + cols]));
        mn = if a < mn { a } else { mn };
        mx = if b > mx { b } else { mx };
    }
    let p = QParams::from_range(mn, mx);
    let ldo = ldo.max(cols);
    let one_row = |(i, o): (usize, &mut [u8])| {
        quantize_slice(isa, &x[i * ld..i * ld + cols], &mut o[..cols], p)
    };
    if rows * cols >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1 {
        out.par_chunks_mut(ldo)
            .take(rows)
            .enumerate()
            .for_each(one_row);
    } else {
        out.chunks_mut(ldo).take(rows).enumerate().for_each(one_row);
    }
    Ok(p)
}

/// The f32 values of one row to quantize: the row itself, or its LayerNorm computed on the fly
/// (`norm`'s vectors have the row's length; `mean` and `inv` from [`layernorm::row_stats`] on
/// the same vector code), so a LayerNorm whose only reader is the quantizer never stores its
/// output.
#[derive(Clone, Copy)]
pub(super) enum RowSource<'a> {
    Plain(&'a [f32]),
    Normalized {
        x: &'a [f32],
        norm: RowNorm<'a>,
        mean: f32,
        inv: f32,
    },
}

impl<'a> RowSource<'a> {
    /// The source of row `x`, normalised by `norm` when given (`isa` capped; `x` non-empty and
    /// `norm`'s vectors as long as `x`).
    pub(super) fn new(isa: Int8Isa, x: &'a [f32], norm: Option<RowNorm<'a>>) -> RowSource<'a> {
        match norm {
            None => RowSource::Plain(x),
            Some(norm) => {
                let lisa = isa.vector_code().f32_isa();
                let (mean, inv) = layernorm::row_stats(lisa, x, norm.epsilon);
                RowSource::Normalized { x, norm, mean, inv }
            }
        }
    }

    fn len(&self) -> usize {
        match self {
            RowSource::Plain(x) | RowSource::Normalized { x, .. } => x.len(),
        }
    }

    /// Element `i` (portable arithmetic).
    #[inline(always)]
    fn at(&self, i: usize) -> f32 {
        match *self {
            RowSource::Plain(x) => x[i],
            RowSource::Normalized { x, norm, mean, inv } => {
                layernorm::norm_portable(x[i], norm.scale[i], norm.bias.map(|b| b[i]), mean, inv)
            }
        }
    }
}

/// Quantizes one row `x` into `out` (same length) with its own parameters, which it returns.
/// `isa` must be capped.
pub(super) fn quantize_row(isa: Int8Isa, x: &[f32], out: &mut [u8]) -> QParams {
    quantize_row_from(isa, RowSource::Plain(x), out)
}

/// Quantizes the values of `src` into `out` (same length) with their own parameters, which it
/// returns. `isa` must be capped.
pub(super) fn quantize_row_from(isa: Int8Isa, src: RowSource<'_>, out: &mut [u8]) -> QParams {
    debug_assert_eq!(src.len(), out.len());
    match isa.vector_code() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX-512F and FMA are present; lengths are equal.
        VectorCode::Avx512 => unsafe { x86::quantize_row_avx512(src, out) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX2 and FMA are present; lengths are equal.
        VectorCode::Avx2 => unsafe { x86::quantize_row_avx2(src, out) },
        _ => {
            let (mn, mx) = min_max(isa, src);
            let p = QParams::from_range(mn, mx);
            quantize_source(isa, src, out, p);
            p
        }
    }
}

/// `(min(0, min x), max(0, max x))`, NaN ignored. Exact, so every path agrees.
pub(super) fn min_max(isa: Int8Isa, src: RowSource<'_>) -> (f32, f32) {
    match isa.vector_code() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX-512F and FMA are present.
        VectorCode::Avx512 => unsafe { x86::min_max_avx512(src) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX2 and FMA are present.
        VectorCode::Avx2 => unsafe { x86::min_max_avx2(src) },
        _ => min_max_portable((0..src.len()).map(|i| src.at(i))),
    }
}

fn min_max_portable(x: impl Iterator<Item = f32>) -> (f32, f32) {
    let (mut mn, mut mx) = (0f32, 0f32);
    for v in x {
        mn = if v < mn { v } else { mn };
        mx = if v > mx { v } else { mx };
    }
    (mn, mx)
}

/// Quantizes `x` into `out` (same length) with `p`.
pub(super) fn quantize_slice(isa: Int8Isa, x: &[f32], out: &mut [u8], p: QParams) {
    quantize_source(isa, RowSource::Plain(x), out, p)
}

/// Quantizes the values of `src` into `out` (same length) with `p`.
fn quantize_source(isa: Int8Isa, src: RowSource<'_>, out: &mut [u8], p: QParams) {
    debug_assert_eq!(src.len(), out.len());
    match isa.vector_code() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX-512F and FMA are present; lengths are equal.
        VectorCode::Avx512 => unsafe { x86::quantize_avx512(src, out, p) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so AVX2 and FMA are present; lengths are equal.
        VectorCode::Avx2 => unsafe { x86::quantize_avx2(src, out, p) },
        _ => {
            for (i, o) in out.iter_mut().enumerate() {
                *o = p.quantize(src.at(i));
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[path = "quantize_x86.rs"]
mod x86;
