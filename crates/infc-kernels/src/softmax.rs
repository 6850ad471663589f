//! Softmax and log-softmax along one axis of a tensor viewed as `[outer, axis_len, inner]`
//! (`inner = 1` for the last axis, the fast contiguous path). Rows split over rayon when large.
//! The exponentials use the vectorised `exp` of the selected ISA.

use crate::elementwise::{unary_inplace, UnaryKind};
use crate::error::{check_len, Result};
use crate::simd::{lanes, multiversion, PARALLEL_MIN_ELEMS};
use crate::Isa;
use rayon::prelude::*;

multiversion! {
    fn row_max(x: &[f32], out: &mut f32) {
        *out = lanes::max(x);
    }
}

multiversion! {
    fn sub_scalar(x: &[f32], s: f32, y: &mut [f32]) {
        let x = &x[..y.len()];
        for i in 0..y.len() {
            y[i] = x[i] - s;
        }
    }
}

multiversion! {
    /// Scales `y` to sum to 1.
    fn sum_scale(y: &mut [f32]) {
        let inv = 1.0 / lanes::sum(y);
        for v in y.iter_mut() {
            *v *= inv;
        }
    }
}

/// One contiguous row: `y = softmax(x)` (or `log_softmax`).
fn row(isa: Isa, x: &[f32], y: &mut [f32], log: bool) {
    let mut m = 0.0;
    row_max(isa, x, &mut m);
    if m == f32::NEG_INFINITY {
        // Every entry is -inf: ONNX Runtime yields NaN (0/0); keep that.
        y.fill(f32::NAN);
        return;
    }
    sub_scalar(isa, x, m, y);
    if log {
        // Σ exp(x − m) through a stack buffer (no allocation), then subtract its log.
        let mut buf = [0f32; 256];
        let mut s = 0f32;
        for chunk in y.chunks(256) {
            let e = &mut buf[..chunk.len()];
            e.copy_from_slice(chunk);
            unary_inplace(isa, UnaryKind::Exp, e);
            s += e.iter().sum::<f32>();
        }
        let lse = s.ln();
        y.iter_mut().for_each(|v| *v -= lse);
    } else {
        unary_inplace_serial(isa, y);
        sum_scale(isa, y);
    }
}

/// `exp` in place without re-entering rayon (rows are already parallel).
fn unary_inplace_serial(isa: Isa, y: &mut [f32]) {
    for chunk in y.chunks_mut(PARALLEL_MIN_ELEMS - 1) {
        unary_inplace(isa, UnaryKind::Exp, chunk);
    }
}

/// Softmax along a strided axis, 64 inner columns at a time with stack accumulators
/// (scalar `exp`; the transformer and CNN models only use the last axis).
fn strided(x: &[f32], y: &mut [f32], len: usize, inner: usize, log: bool) {
    const W: usize = 64;
    for i0 in (0..inner).step_by(W) {
        let w = W.min(inner - i0);
        let mut m = [f32::NEG_INFINITY; W];
        for a in 0..len {
            for (i, mi) in m[..w].iter_mut().enumerate() {
                let v = x[a * inner + i0 + i];
                *mi = if v > *mi { v } else { *mi };
            }
        }
        let mut s = [0f32; W];
        for a in 0..len {
            for i in 0..w {
                let at = a * inner + i0 + i;
                let e = crate::math::exp(x[at] - m[i]);
                s[i] += e;
                y[at] = if log { x[at] - m[i] } else { e };
            }
        }
        for a in 0..len {
            for i in 0..w {
                let at = a * inner + i0 + i;
                y[at] = if m[i] == f32::NEG_INFINITY {
                    f32::NAN
                } else if log {
                    y[at] - s[i].ln()
                } else {
                    y[at] / s[i]
                };
            }
        }
    }
}

fn run(
    isa: Isa,
    x: &[f32],
    y: &mut [f32],
    outer: usize,
    axis_len: usize,
    inner: usize,
    log: bool,
) -> Result<()> {
    let total = outer * axis_len * inner;
    check_len("softmax input", x.len(), total)?;
    check_len("softmax output", y.len(), total)?;
    if total == 0 {
        return Ok(());
    }
    let block = axis_len * inner;
    let body = |o: usize, out: &mut [f32]| {
        let xs = &x[o * block..(o + 1) * block];
        if inner == 1 {
            row(isa, xs, out, log);
        } else {
            strided(xs, out, axis_len, inner, log);
        }
    };
    let y = &mut y[..total];
    if total >= PARALLEL_MIN_ELEMS && outer > 1 && crate::parallelism::threads() > 1 {
        y.par_chunks_mut(block)
            .enumerate()
            .for_each(|(o, out)| body(o, out));
    } else {
        y.chunks_mut(block)
            .enumerate()
            .for_each(|(o, out)| body(o, out));
    }
    Ok(())
}

/// Softmax over the middle axis of `x: [outer, axis_len, inner]` (row-major), into `y` (same shape,
/// not aliased). `inner = 1` is the last-axis case.
pub fn softmax(
    isa: Isa,
    x: &[f32],
    y: &mut [f32],
    outer: usize,
    axis_len: usize,
    inner: usize,
) -> Result<()> {
    run(isa, x, y, outer, axis_len, inner, false)
}

/// Log-softmax over the middle axis of `x: [outer, axis_len, inner]`.
pub fn log_softmax(
    isa: Isa,
    x: &[f32],
    y: &mut [f32],
    outer: usize,
    axis_len: usize,
    inner: usize,
) -> Result<()> {
    run(isa, x, y, outer, axis_len, inner, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::tests::rand_vec;

    fn reference(x: &[f32], outer: usize, len: usize, inner: usize, log: bool) -> Vec<f32> {
        let mut y = vec![0f32; x.len()];
        for o in 0..outer {
            for i in 0..inner {
                let at = |a: usize| o * len * inner + a * inner + i;
                let m = (0..len)
                    .map(|a| x[at(a)] as f64)
                    .fold(f64::NEG_INFINITY, f64::max);
                let s: f64 = (0..len).map(|a| (x[at(a)] as f64 - m).exp()).sum();
                for a in 0..len {
                    let v = x[at(a)] as f64 - m;
                    y[at(a)] = if log { v - s.ln() } else { v.exp() / s } as f32;
                }
            }
        }
        y
    }

    #[test]
    fn softmax_matches_reference_every_isa() {
        for isa in Isa::supported() {
            for (outer, len, inner) in [
                (3, 17, 1),
                (2, 1, 1),
                (5, 100, 1),
                (2, 7, 5),
                (1, 1000, 1),
                (128, 128, 1),
            ] {
                let x: Vec<f32> = rand_vec(outer * len * inner, (outer + len) as u64)
                    .iter()
                    .map(|v| v * 20.0)
                    .collect();
                for log in [false, true] {
                    let mut y = vec![0.0; x.len()];
                    run(isa, &x, &mut y, outer, len, inner, log).unwrap();
                    let want = reference(&x, outer, len, inner, log);
                    for (g, w) in y.iter().zip(&want) {
                        assert!(
                            (g - w).abs() <= 2e-6 * w.abs().max(1.0),
                            "{isa} {outer}x{len}x{inner} log {log}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn masked_rows_and_errors() {
        let x = [0.0, f32::NEG_INFINITY, 1.0, f32::NEG_INFINITY];
        let mut y = [0.0; 4];
        softmax(Isa::best(), &x, &mut y, 1, 4, 1).unwrap();
        assert!((y[0] - 0.268_941_43).abs() < 1e-6 && y[1] == 0.0 && y[3] == 0.0);
        assert!(softmax(Isa::best(), &x, &mut y, 2, 4, 1).is_err());
    }
}
