//! RMS normalisation over the last axis (Llama, T5): `y = x / √(mean(x²) + ε) · scale` per row of
//! `cols` elements. The sum of squares runs in 16 independent f32 lanes (which the compiler
//! vectorises on every path), added pairwise at the end.

use crate::error::{check_len, Result};

const LANES: usize = 16;

/// `y[r, :] = x[r, :] / √(mean(x[r, :]²) + eps) · scale` for `rows × cols` row-major `x`;
/// `scale` has `cols` entries.
pub fn rms_norm(
    x: &[f32],
    scale: &[f32],
    eps: f32,
    rows: usize,
    cols: usize,
    y: &mut [f32],
) -> Result<()> {
    let total = rows
        .checked_mul(cols)
        .ok_or_else(|| crate::error::bad_shape("rms_norm", "rows × cols overflows"))?;
    check_len("rms_norm input", x.len(), total)?;
    check_len("rms_norm output", y.len(), total)?;
    check_len("rms_norm scale", scale.len(), cols)?;
    if cols == 0 {
        return Ok(());
    }
    for (row, out) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        let mut acc = [0f32; LANES];
        let mut chunks = row.chunks_exact(LANES);
        for c in &mut chunks {
            for (a, &v) in acc.iter_mut().zip(c) {
                *a += v * v;
            }
        }
        for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
            *a += v * v;
        }
        let mut width = LANES;
        while width > 1 {
            width /= 2;
            for i in 0..width {
                acc[i] += acc[i + width];
            }
        }
        let inv = 1.0 / (acc[0] / cols as f32 + eps).sqrt();
        for ((o, &v), &g) in out.iter_mut().zip(row).zip(scale) {
            *o = v * inv * g;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_an_f64_reference_and_checks_sizes() {
        for (rows, cols) in [(1, 1), (3, 7), (2, 33), (4, 64), (2, 2049)] {
            let x: Vec<f32> = (0..rows * cols)
                .map(|i| ((i * 37 % 101) as f32 - 50.0) / 17.0)
                .collect();
            let g: Vec<f32> = (0..cols).map(|i| 0.5 + (i % 5) as f32 / 4.0).collect();
            let mut y = vec![0.0; rows * cols];
            rms_norm(&x, &g, 1e-6, rows, cols, &mut y).unwrap();
            for r in 0..rows {
                let row = &x[r * cols..(r + 1) * cols];
                let ms = row.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / cols as f64;
                let inv = 1.0 / (ms + 1e-6).sqrt();
                for c in 0..cols {
                    let want = row[c] as f64 * inv * g[c] as f64;
                    let got = y[r * cols + c] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                        "{rows}x{cols}"
                    );
                }
            }
        }
        let mut y = [0.0; 4];
        assert!(rms_norm(&[1.0; 4], &[1.0; 1], 1e-6, 2, 2, &mut y).is_err());
        rms_norm(&[], &[], 1e-6, 3, 0, &mut []).unwrap();
    }
}
