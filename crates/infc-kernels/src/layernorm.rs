//! Layer normalisation over the last axis: `y = (x − mean) / √(var + ε) · scale + bias` per row of
//! `cols` elements (two-pass mean/variance in f32 with per-ISA vectorised loops, 16-lane partial sums). Rows split over
//! rayon when large.

use crate::error::{check_len, Result};
use crate::simd::{lanes, multiversion, PARALLEL_MIN_ELEMS};
use crate::Isa;
use rayon::prelude::*;

multiversion! {
    fn normalize_row(x: &[f32], scale: &[f32], bias: Option<&[f32]>, eps: f32, y: &mut [f32]) {
        let n = y.len();
        let x = &x[..n];
        let scale = &scale[..n];
        let mean = lanes::sum(x) / n as f32;
        let q = lanes::sum_sq_dev(x, mean);
        let inv = 1.0 / (q / n as f32 + eps).sqrt();
        match bias {
            Some(b) => {
                let b = &b[..n];
                for i in 0..n {
                    y[i] = (x[i] - mean) * inv * scale[i] + b[i];
                }
            }
            None => {
                for i in 0..n {
                    y[i] = (x[i] - mean) * inv * scale[i];
                }
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
    let body = |r: usize, out: &mut [f32]| {
        normalize_row(isa, &x[r * cols..(r + 1) * cols], scale, bias, eps, out)
    };
    let y = &mut y[..total];
    if total >= PARALLEL_MIN_ELEMS && rows > 1 && rayon::current_num_threads() > 1 {
        y.par_chunks_mut(cols)
            .enumerate()
            .for_each(|(r, out)| body(r, out));
    } else {
        y.chunks_mut(cols)
            .enumerate()
            .for_each(|(r, out)| body(r, out));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::tests::rand_vec;

    #[test]
    fn layer_norm_matches_reference_every_isa() {
        for isa in Isa::supported() {
            for (rows, cols) in [(1, 1), (3, 7), (128, 768), (2, 33)] {
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
}
