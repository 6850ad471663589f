//! Reductions (sum, mean, max, min, prod) over the last axis ([`reduce_last_axis`], vectorised per
//! ISA) or over any set of axes ([`reduce`], which takes the last-axis path when the reduced axes
//! are the trailing ones and otherwise walks the input once with an odometer, accumulating into
//! the output through zero-stride broadcast).

use crate::error::{bad_shape, check_len, Result};
use crate::simd::multiversion;
use crate::Isa;

/// Reduction operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceKind {
    Sum,
    Mean,
    Max,
    Min,
    Prod,
}

impl ReduceKind {
    fn identity(self) -> f32 {
        match self {
            ReduceKind::Sum | ReduceKind::Mean => 0.0,
            ReduceKind::Max => f32::NEG_INFINITY,
            ReduceKind::Min => f32::INFINITY,
            ReduceKind::Prod => 1.0,
        }
    }
    #[inline(always)]
    fn combine(self, acc: f32, v: f32) -> f32 {
        match self {
            ReduceKind::Sum | ReduceKind::Mean => acc + v,
            ReduceKind::Max => {
                if v > acc || v.is_nan() {
                    v
                } else {
                    acc
                }
            }
            ReduceKind::Min => {
                if v < acc || v.is_nan() {
                    v
                } else {
                    acc
                }
            }
            ReduceKind::Prod => acc * v,
        }
    }
}

multiversion! {
    fn reduce_rows(kind: ReduceKind, x: &[f32], cols: usize, y: &mut [f32]) {
        for (r, out) in y.iter_mut().enumerate() {
            let row = &x[r * cols..(r + 1) * cols];
            *out = match kind {
                ReduceKind::Sum | ReduceKind::Mean => {
                    // 16 partial sums so the loop vectorises (f32 adds are not reassociated otherwise).
                    let mut acc = [0f32; 16];
                    let chunks = row.chunks_exact(16);
                    let tail = chunks.remainder();
                    for c in chunks {
                        for i in 0..16 {
                            acc[i] += c[i];
                        }
                    }
                    let mut s = acc.iter().sum::<f32>();
                    for &v in tail {
                        s += v;
                    }
                    if kind == ReduceKind::Mean { s / cols as f32 } else { s }
                }
                _ => row.iter().fold(kind.identity(), |a, &v| kind.combine(a, v)),
            };
        }
    }
}

/// `y[r] = reduce(x[r, 0..cols])` for `rows × cols` row-major `x`. Mean of an empty row is NaN.
pub fn reduce_last_axis(
    isa: Isa,
    kind: ReduceKind,
    rows: usize,
    cols: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    check_len("reduce input", x.len(), rows * cols)?;
    check_len("reduce output", y.len(), rows)?;
    if cols == 0 {
        let v = if kind == ReduceKind::Mean {
            f32::NAN
        } else {
            kind.identity()
        };
        y[..rows].fill(v);
        return Ok(());
    }
    reduce_rows(isa, kind, x, cols, &mut y[..rows]);
    Ok(())
}

/// Reduces `x` (row-major, `shape`) over `axes` (each `< shape.len()`, any order, duplicates
/// ignored). `y` holds the kept dims in order (reduced dims have size 1, so `keepdims` does not
/// change the layout).
pub fn reduce(
    isa: Isa,
    kind: ReduceKind,
    shape: &[usize],
    axes: &[usize],
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let rank = shape.len();
    let mut reduced = vec![false; rank];
    for &a in axes {
        if a >= rank {
            return Err(bad_shape(
                "reduce",
                format!("axis {a} out of range for rank {rank}"),
            ));
        }
        reduced[a] = true;
    }
    let total: usize = shape.iter().product();
    let out_len: usize = shape
        .iter()
        .zip(&reduced)
        .map(|(&d, &r)| if r { 1 } else { d })
        .product();
    let count = total.checked_div(out_len).unwrap_or(0);
    check_len("reduce input", x.len(), total)?;
    check_len("reduce output", y.len(), out_len)?;
    // Trailing reduced axes (after dropping size-1 dims) → contiguous rows.
    let first_reduced = (0..rank).find(|&d| reduced[d] && shape[d] != 1);
    let trailing = match first_reduced {
        None => true,
        Some(f) => (f..rank).all(|d| reduced[d] || shape[d] == 1),
    };
    if trailing || total == 0 {
        return reduce_last_axis(isa, kind, out_len, count, x, y);
    }
    // General case: output strides with 0 on reduced axes.
    let mut out_strides = vec![0usize; rank];
    let mut acc = 1;
    for d in (0..rank).rev() {
        if !reduced[d] {
            out_strides[d] = acc;
            acc *= shape[d];
        }
    }
    let y = &mut y[..out_len];
    y.fill(kind.identity());
    let last = rank - 1;
    let (inner, inner_stride) = (shape[last], out_strides[last]);
    let mut idx = vec![0usize; rank];
    for row in x.chunks_exact(inner) {
        let base: usize = idx.iter().zip(&out_strides).map(|(i, s)| i * s).sum();
        if inner_stride == 0 {
            let mut a = y[base];
            for &v in row {
                a = kind.combine(a, v);
            }
            y[base] = a;
        } else {
            for (o, &v) in y[base..base + inner].iter_mut().zip(row) {
                *o = kind.combine(*o, v);
            }
        }
        for d in (0..last).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    if kind == ReduceKind::Mean {
        let inv = 1.0 / count as f32;
        y.iter_mut().for_each(|v| *v *= inv);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::tests::rand_vec;

    fn reference(kind: ReduceKind, shape: &[usize], axes: &[usize], x: &[f32]) -> Vec<f64> {
        let rank = shape.len();
        let out_shape: Vec<usize> = (0..rank)
            .map(|d| if axes.contains(&d) { 1 } else { shape[d] })
            .collect();
        let out_len: usize = out_shape.iter().product();
        let mut vals: Vec<Vec<f64>> = vec![vec![]; out_len];
        for (flat, &v) in x.iter().enumerate() {
            let mut rem = flat;
            let mut o = 0;
            let mut mul = 1;
            for d in (0..rank).rev() {
                let i = rem % shape[d];
                rem /= shape[d];
                if !axes.contains(&d) {
                    o += i * mul;
                }
                mul *= out_shape[d];
            }
            vals[o].push(v as f64);
        }
        vals.iter()
            .map(|v| match kind {
                ReduceKind::Sum => v.iter().sum(),
                ReduceKind::Mean => v.iter().sum::<f64>() / v.len() as f64,
                ReduceKind::Max => v.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
                ReduceKind::Min => v.iter().cloned().fold(f64::INFINITY, f64::min),
                ReduceKind::Prod => v.iter().product(),
            })
            .collect()
    }

    #[test]
    fn reduce_matches_reference_every_isa() {
        let cases: [(&[usize], &[usize]); 7] = [
            (&[4, 5, 6], &[2]),
            (&[4, 5, 6], &[1]),
            (&[4, 5, 6], &[0, 2]),
            (&[3, 1, 7], &[1, 2]),
            (&[2, 3, 4, 5], &[1, 2]),
            (&[100, 33], &[1]),
            (&[2, 8, 9], &[0]),
        ];
        for isa in Isa::supported() {
            for (shape, axes) in cases {
                let n: usize = shape.iter().product();
                let x: Vec<f32> = rand_vec(n, n as u64)
                    .iter()
                    .map(|v| v * 0.5 + 1.0)
                    .collect();
                for kind in [
                    ReduceKind::Sum,
                    ReduceKind::Mean,
                    ReduceKind::Max,
                    ReduceKind::Min,
                    ReduceKind::Prod,
                ] {
                    let want = reference(kind, shape, axes, &x);
                    let mut y = vec![0.0; want.len()];
                    reduce(isa, kind, shape, axes, &x, &mut y).unwrap();
                    for (g, w) in y.iter().zip(&want) {
                        assert!(
                            (*g as f64 - w).abs() <= 1e-5 * w.abs().max(1.0),
                            "{isa} {kind:?} {shape:?} {axes:?}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn reduce_errors() {
        let mut y = [0.0; 2];
        let err = reduce(
            Isa::best(),
            ReduceKind::Sum,
            &[2, 2],
            &[2],
            &[0.0; 4],
            &mut y,
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "reduce: axis 2 out of range for rank 2");
        assert!(reduce(
            Isa::best(),
            ReduceKind::Sum,
            &[2, 3],
            &[1],
            &[0.0; 5],
            &mut y
        )
        .is_err());
    }
}
