//! Layer normalisation over the last axis: `y = (x − mean) / √(var + ε) · scale + bias` per row of
//! `cols` elements (two-pass mean/variance in f32; explicit AVX-512 and AVX2 rows in `x86`, a
//! portable row here). Large inputs run as one claiming region over blocks of rows.
//!
//! The mean is summed shifted by the row's first element, `x₀ + Σ(x − x₀)/n`: the sum then holds
//! deviations, not the offset, so a constant row's mean is exact (its output is exactly the bias,
//! as in the decomposed graph, instead of `γ·(mean's rounding)/√ε`, which was `5·10⁻³·γ` at
//! ε = 1e-12 for a row of 0.1s) and a row far from zero (1e4 + noise) keeps the noise's bits.
//!
//! The row statistics (`row_stats`) and the per-element formula are shared with the INT8
//! quantizer, which can normalise a row on the fly instead of reading a stored LayerNorm output
//! ([`RowNorm`]); both produce the same bits as this module's rows.

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86;

mod rms;

pub use rms::rms_norm;

use crate::claim::{self, Phase, SharedMut};
use crate::error::{check_len, Result};
use crate::simd::{lanes, PARALLEL_MIN_ELEMS};
use crate::Isa;

/// Elements per unit of the parallel split (whole rows).
const UNIT_ELEMS: usize = 8 * 1024;

fn normalize_row(
    isa: Isa,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    eps: f32,
    y: &mut [f32],
) {
    match isa.capped() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX-512; the caller passes rows of equal length.
        Isa::Avx512 => unsafe { x86::row_avx512(x, scale, bias, eps, y) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX2+FMA; as above.
        Isa::Avx2Fma => unsafe { x86::row_avx2(x, scale, bias, eps, y) },
        _ => row_portable(x, scale, bias, eps, y),
    }
}

/// The LayerNorm parameters of a row normalisation: `y = (x − mean) / √(var + ε) · scale + bias`
/// over rows of `scale.len()` elements.
#[derive(Clone, Copy, Debug)]
pub struct RowNorm<'a> {
    pub scale: &'a [f32],
    pub bias: Option<&'a [f32]>,
    pub epsilon: f32,
}

/// Mean and `1/√(var + eps)` of the row `x` (non-empty), computed exactly as [`layer_norm`]
/// computes them on `isa` (capped).
pub(crate) fn row_stats(isa: Isa, x: &[f32], eps: f32) -> (f32, f32) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX-512.
        Isa::Avx512 => unsafe { x86::stats_avx512(x, eps) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the capped ISA is AVX2+FMA.
        Isa::Avx2Fma => unsafe { x86::stats_avx2(x, eps) },
        _ => stats_portable(x, eps),
    }
}

fn stats_portable(x: &[f32], eps: f32) -> (f32, f32) {
    let n = x.len() as f32;
    let mean = x[0] + lanes::sum_dev(x, x[0]) / n;
    let q = lanes::sum_sq_dev(x, mean);
    (mean, 1.0 / (q / n + eps).sqrt())
}

/// One element of the portable row: `(x − mean)·inv·s (+ b)`.
#[inline(always)]
pub(crate) fn norm_portable(x: f32, s: f32, b: Option<f32>, mean: f32, inv: f32) -> f32 {
    let t = (x - mean) * inv * s;
    match b {
        Some(b) => t + b,
        None => t,
    }
}

fn row_portable(x: &[f32], scale: &[f32], bias: Option<&[f32]>, eps: f32, y: &mut [f32]) {
    let n = y.len();
    let x = &x[..n];
    let scale = &scale[..n];
    let (mean, inv) = stats_portable(x, eps);
    match bias {
        Some(b) => {
            let b = &b[..n];
            for i in 0..n {
                y[i] = norm_portable(x[i], scale[i], Some(b[i]), mean, inv);
            }
        }
        None => {
            for i in 0..n {
                y[i] = norm_portable(x[i], scale[i], None, mean, inv);
            }
        }
    }
}

/// `y[r, :] = (x[r, :] − mean) / √(var + eps) · scale + bias` for `rows × cols` row-major `x`;
/// `scale` and `bias` have `cols` entries (ONNX `LayerNormalization` over the trailing dims,
/// flattened to `cols`).
#[allow(clippy::too_many_arguments)]
pub fn layer_norm(
    isa: Isa,
    x: &[f32],
    scale: &[f32],
    bias: Option<&[f32]>,
    eps: f32,
    rows: usize,
    cols: usize,
    y: &mut [f32],
) -> Result<()> {
    let total = rows * cols;
    check_len("layer_norm input", x.len(), total)?;
    check_len("layer_norm output", y.len(), total)?;
    check_len("layer_norm scale", scale.len(), cols)?;
    if let Some(b) = bias {
        check_len("layer_norm bias", b.len(), cols)?;
    }
    if cols == 0 {
        return Ok(());
    }
    let rows_per_unit = (UNIT_ELEMS / cols).max(1);
    let units = rows.div_ceil(rows_per_unit);
    let threads = claim::region_threads(units);
    if total < PARALLEL_MIN_ELEMS || threads <= 1 {
        for (r, out) in y[..total].chunks_mut(cols).enumerate() {
            normalize_row(isa, &x[r * cols..(r + 1) * cols], scale, bias, eps, out);
        }
        return Ok(());
    }
    let yp = SharedMut(y.as_mut_ptr());
    let phase = Phase::new(units, threads);
    claim::region(threads, |part| {
        phase.work(part, |u| {
            for r in u * rows_per_unit..((u + 1) * rows_per_unit).min(rows) {
                // SAFETY: row `r < rows` of `y` (checked to hold `rows × cols`); each unit owns
                // its rows, so no two threads write the same row.
                let out = unsafe { std::slice::from_raw_parts_mut(yp.get().add(r * cols), cols) };
                normalize_row(isa, &x[r * cols..(r + 1) * cols], scale, bias, eps, out);
            }
        })
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::tests::rand_vec;

    #[test]
    fn layer_norm_matches_reference_every_isa() {
        for isa in Isa::supported() {
            for (rows, cols) in [(1, 1), (3, 7), (128, 768), (2, 33), (5, 100), (40, 2049)] {
                let x: Vec<f32> = rand_vec(rows * cols, cols as u64)
                    .iter()
                    .map(|v| v * 3.0 + 1.0)
                    .collect();
                let scale = rand_vec(cols, 5);
                let bias = rand_vec(cols, 6);
                for with_bias in [false, true] {
                    let b = with_bias.then_some(&bias[..]);
                    let mut y = vec![0.0; rows * cols];
                    layer_norm(isa, &x, &scale, b, 1e-5, rows, cols, &mut y).unwrap();
                    for r in 0..rows {
                        let row = &x[r * cols..(r + 1) * cols];
                        let mean = row.iter().map(|&v| v as f64).sum::<f64>() / cols as f64;
                        let var = row.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>()
                            / cols as f64;
                        for c in 0..cols {
                            let want = (row[c] as f64 - mean) / (var + 1e-5).sqrt()
                                * scale[c] as f64
                                + b.map_or(0.0, |b| b[c] as f64);
                            let got = y[r * cols + c] as f64;
                            assert!(
                                (got - want).abs() < 2e-5 * want.abs().max(1.0),
                                "{isa} {rows}x{cols}: {got} vs {want}"
                            );
                        }
                    }
                }
            }
        }
        let mut y = vec![0.0; 4];
        let err = layer_norm(Isa::best(), &[0.0; 4], &[1.0; 3], None, 1e-5, 2, 2, &mut y);
        assert!(err.is_ok());
        let err =
            layer_norm(Isa::best(), &[0.0; 4], &[1.0; 1], None, 1e-5, 2, 2, &mut y).unwrap_err();
        assert_eq!(
            err.to_string(),
            "layer_norm scale: buffer holds 1 elements but the shape and strides need 2"
        );
    }

    /// Rows whose f32 sum is inexact but whose mean is exact (a constant row; an offset plus
    /// noise on its ulp grid summing to zero): the decomposed graph normalises them exactly,
    /// so the kernel must too. A sum of the raw values rounded the mean, which `1/√ε` turned
    /// into 5e-3 (0.1s, ε = 1e-12) or 0.3 (1e4 + 0.3, ε = 1e-5) instead of the bias (found by
    /// `fusion_fuzz`).
    #[test]
    fn exact_mean_rows_normalise_exactly_every_isa() {
        for isa in Isa::supported() {
            for cols in [1, 7, 33, 128, 768, 1023] {
                for eps in [1e-12f32, 1e-5] {
                    let scale: Vec<f32> = (0..cols).map(|c| 0.5 + (c % 7) as f32 * 0.25).collect();
                    let bias: Vec<f32> = (0..cols).map(|c| (c % 5) as f32 * 0.1 - 0.2).collect();
                    for c in [0.1f32, 1e4 + 0.3, -7.3, 3.0e-20] {
                        let x = vec![c; cols];
                        let mut y = vec![f32::NAN; cols];
                        layer_norm(isa, &x, &scale, Some(&bias), eps, 1, cols, &mut y).unwrap();
                        assert_eq!(y, bias, "{isa} constant {c} × {cols}, ε {eps}");
                    }
                    // 1e4 + k·ulp with Σk = 0: the mean is 1e4 exactly.
                    let ulp = 1e4f32.next_up() - 1e4;
                    let k: Vec<f32> = (0..cols)
                        .map(|i| match (i % 2, cols % 2 == 1 && i == cols - 1) {
                            (_, true) => 0.0,
                            (0, _) => (i % 9) as f32,
                            _ => -(((i - 1) % 9) as f32),
                        })
                        .collect();
                    let x: Vec<f32> = k.iter().map(|k| 1e4 + k * ulp).collect();
                    let var = k
                        .iter()
                        .map(|k| (*k as f64 * ulp as f64).powi(2))
                        .sum::<f64>()
                        / cols as f64;
                    let mut y = vec![0.0; cols];
                    layer_norm(isa, &x, &scale, Some(&bias), eps, 1, cols, &mut y).unwrap();
                    for i in 0..cols {
                        let want = k[i] as f64 * ulp as f64 / (var + eps as f64).sqrt()
                            * scale[i] as f64
                            + bias[i] as f64;
                        assert!(
                            (y[i] as f64 - want).abs() < 1e-5 * want.abs().max(1.0),
                            "{isa} 1e4 + noise × {cols}, ε {eps}: [{i}] {} vs {want}",
                            y[i]
                        );
                    }
                }
            }
        }
    }
}
