//! Broadcasting binary ops over precomputed strides.
//!
//! The caller gives the output shape and, per input, one stride per output dim (0 where the input
//! is broadcast; see [`broadcast_strides`]). Dims are coalesced first (adjacent dims that are
//! contiguous in both inputs merge, size-1 dims drop), so same-shape, scalar and row/column
//! broadcasts all reduce to a long innermost loop with input strides in `{0, 1}`, which runs
//! vectorised per ISA; other strides take a scalar loop. Large outputs split over rayon.

use crate::error::{bad_shape, check_len, strided_extent, Result};
use crate::simd::{multiversion, PARALLEL_MIN_ELEMS};
use crate::Isa;
use rayon::prelude::*;

/// Binary operation on `f32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
    /// `a^b` (`powf`; exponents 0.5, 1, 2, 3 and -1 of a broadcast scalar take exact fast paths).
    Pow,
    /// NaN-propagating maximum (ONNX `Max`).
    Max,
    /// NaN-propagating minimum (ONNX `Min`).
    Min,
}

/// Numpy broadcasting: strides (in elements, row-major contiguous input) that address an input of
/// shape `in_shape` from an output index of shape `out_shape`; broadcast dims get stride 0.
/// Errors if `in_shape` cannot broadcast to `out_shape`.
pub fn broadcast_strides(in_shape: &[usize], out_shape: &[usize]) -> Result<Vec<usize>> {
    if in_shape.len() > out_shape.len() {
        return Err(bad_shape(
            "broadcast",
            format!(
                "input rank {} exceeds output rank {}",
                in_shape.len(),
                out_shape.len()
            ),
        ));
    }
    let lead = out_shape.len() - in_shape.len();
    let mut strides = vec![0; out_shape.len()];
    let mut acc = 1usize;
    for d in (0..in_shape.len()).rev() {
        let (i, o) = (in_shape[d], out_shape[lead + d]);
        if i == o && i != 1 {
            strides[lead + d] = acc;
        } else if i != 1 {
            return Err(bad_shape(
                "broadcast",
                format!("input shape {in_shape:?} does not broadcast to {out_shape:?}"),
            ));
        }
        acc = acc.saturating_mul(i);
    }
    Ok(strides)
}

/// `y[idx] = op(a[idx·a_strides], b[idx·b_strides])` for every index of `out_shape`
/// (`y` row-major contiguous).
#[allow(clippy::too_many_arguments)]
pub fn binary(
    isa: Isa,
    op: BinaryKind,
    out_shape: &[usize],
    a: &[f32],
    a_strides: &[usize],
    b: &[f32],
    b_strides: &[usize],
    y: &mut [f32],
) -> Result<()> {
    let rank = out_shape.len();
    if a_strides.len() != rank || b_strides.len() != rank {
        return Err(bad_shape(
            "binary",
            format!("stride lists must have {rank} entries (the output rank)"),
        ));
    }
    let total: usize = out_shape.iter().product();
    check_len("binary output", y.len(), total)?;
    if total == 0 {
        return Ok(());
    }
    let ovf = || bad_shape("binary", "strides overflow usize");
    check_len(
        "binary input a",
        a.len(),
        strided_extent(out_shape, a_strides).ok_or_else(ovf)?,
    )?;
    check_len(
        "binary input b",
        b.len(),
        strided_extent(out_shape, b_strides).ok_or_else(ovf)?,
    )?;
    if rank > MAX_BINARY_RANK {
        return Err(bad_shape(
            "binary",
            format!("rank {rank} exceeds {MAX_BINARY_RANK}"),
        ));
    }
    let coalesced = coalesce(out_shape, a_strides, b_strides);
    let dims = coalesced.as_slice();
    let (inner, sa, sb) = dims.last().copied().unwrap_or((1, 0, 0));
    let outer = &dims[..dims.len().saturating_sub(1)];
    let rows = total / inner;
    let y = &mut y[..total];
    let run_rows = |first_row: usize, chunk: &mut [f32]| {
        for (r, out) in chunk.chunks_exact_mut(inner).enumerate() {
            let (oa, ob) = row_offsets(outer, first_row + r);
            row(isa, op, &a[oa..], sa, &b[ob..], sb, out);
        }
    };
    let threads = crate::parallelism::threads();
    if total < PARALLEL_MIN_ELEMS || threads <= 1 {
        run_rows(0, y);
    } else if rows >= 2 * threads {
        let rows_per = rows.div_ceil(threads * 4).max(1);
        y.par_chunks_mut(rows_per * inner)
            .enumerate()
            .for_each(|(ci, chunk)| run_rows(ci * rows_per, chunk));
    } else {
        // Few long rows (two same-shape tensors coalesce into one row): split each row's columns
        // into about four chunks per thread.
        let cols_per = inner
            .div_ceil((threads * 4).div_ceil(rows))
            .next_multiple_of(16);
        y.par_chunks_mut(inner).enumerate().for_each(|(r, out)| {
            let (oa, ob) = row_offsets(outer, r);
            out.par_chunks_mut(cols_per)
                .enumerate()
                .for_each(|(ci, part)| {
                    let c0 = ci * cols_per;
                    row(
                        isa,
                        op,
                        &a[oa + c0 * sa..],
                        sa,
                        &b[ob + c0 * sb..],
                        sb,
                        part,
                    );
                });
        });
    }
    Ok(())
}

/// Highest output rank `binary` accepts (plans use at most 8).
pub const MAX_BINARY_RANK: usize = 8;

/// `(len, a_stride, b_stride)` per dim after merging contiguous neighbours and dropping 1-dims,
/// in a fixed array: the run loop must not allocate.
struct Coalesced {
    dims: [(usize, usize, usize); MAX_BINARY_RANK],
    len: usize,
}

impl Coalesced {
    fn as_slice(&self) -> &[(usize, usize, usize)] {
        &self.dims[..self.len]
    }
}

/// Requires `shape.len() <= MAX_BINARY_RANK` (checked by the caller).
fn coalesce(shape: &[usize], sa: &[usize], sb: &[usize]) -> Coalesced {
    let mut out = Coalesced {
        dims: [(0, 0, 0); MAX_BINARY_RANK],
        len: 0,
    };
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let cur = (shape[d], sa[d], sb[d]);
        if out.len > 0 {
            let prev = &mut out.dims[out.len - 1];
            if prev.1 == cur.1 * cur.0 && prev.2 == cur.2 * cur.0 {
                *prev = (prev.0 * cur.0, cur.1, cur.2);
                continue;
            }
        }
        out.dims[out.len] = cur;
        out.len += 1;
    }
    out
}

/// Input offsets of outer row `r` (row-major over `outer` dims).
fn row_offsets(outer: &[(usize, usize, usize)], mut r: usize) -> (usize, usize) {
    let (mut oa, mut ob) = (0, 0);
    for &(len, sa, sb) in outer.iter().rev() {
        let i = r % len;
        r /= len;
        oa += i * sa;
        ob += i * sb;
    }
    (oa, ob)
}

#[inline(always)]
fn apply(op: BinaryKind, x: f32, z: f32) -> f32 {
    match op {
        BinaryKind::Add => x + z,
        BinaryKind::Sub => x - z,
        BinaryKind::Mul => x * z,
        BinaryKind::Div => x / z,
        BinaryKind::Pow => x.powf(z),
        BinaryKind::Max => {
            if x.is_nan() || z.is_nan() {
                f32::NAN
            } else {
                x.max(z)
            }
        }
        BinaryKind::Min => {
            if x.is_nan() || z.is_nan() {
                f32::NAN
            } else {
                x.min(z)
            }
        }
    }
}

/// Expands `$body` once per op with `$f` bound to a statically known `fn(f32, f32) -> f32`, so
/// each arm is its own loop that the compiler can inline and vectorise.
macro_rules! each_op {
    ($op:expr, $f:ident => $body:expr) => {
        match $op {
            BinaryKind::Add => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    x + z
                }
                $body
            }
            BinaryKind::Sub => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    x - z
                }
                $body
            }
            BinaryKind::Mul => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    x * z
                }
                $body
            }
            BinaryKind::Div => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    x / z
                }
                $body
            }
            BinaryKind::Pow => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    x.powf(z)
                }
                $body
            }
            BinaryKind::Max => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    apply(BinaryKind::Max, x, z)
                }
                $body
            }
            BinaryKind::Min => {
                #[inline(always)]
                fn $f(x: f32, z: f32) -> f32 {
                    apply(BinaryKind::Min, x, z)
                }
                $body
            }
        }
    };
}

multiversion! {
    fn row(op: BinaryKind, a: &[f32], sa: usize, b: &[f32], sb: usize, out: &mut [f32]) {
        let n = out.len();
        match (sa, sb) {
            (1, 1) => {
                let (a, b) = (&a[..n], &b[..n]);
                each_op!(op, f => for i in 0..n { out[i] = f(a[i], b[i]) })
            }
            (1, 0) => {
                let (a, s) = (&a[..n], b[0]);
                if op == BinaryKind::Pow {
                    pow_scalar_exponent(a, s, out);
                } else {
                    each_op!(op, f => for i in 0..n { out[i] = f(a[i], s) })
                }
            }
            (0, 1) => {
                let (s, b) = (a[0], &b[..n]);
                each_op!(op, f => for i in 0..n { out[i] = f(s, b[i]) })
            }
            _ => {
                for (i, o) in out.iter_mut().enumerate() {
                    *o = apply(op, a[i * sa], b[i * sb]);
                }
            }
        }
    }
}

/// `a^s` for a broadcast scalar exponent, with exact fast paths for common exponents.
#[inline(always)]
fn pow_scalar_exponent(a: &[f32], s: f32, out: &mut [f32]) {
    let n = out.len();
    if s == 2.0 {
        for i in 0..n {
            out[i] = a[i] * a[i];
        }
    } else if s == 3.0 {
        for i in 0..n {
            out[i] = a[i] * a[i] * a[i];
        }
    } else if s == 1.0 {
        out.copy_from_slice(a);
    } else if s == 0.5 {
        for i in 0..n {
            out[i] = a[i].sqrt();
        }
    } else if s == -1.0 {
        for i in 0..n {
            out[i] = 1.0 / a[i];
        }
    } else {
        for i in 0..n {
            out[i] = a[i].powf(s);
        }
    }
}
