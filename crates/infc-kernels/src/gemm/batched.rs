//! Batched matmul: `C[b] = epilogue(alpha · A[b] · B[b])` over a (possibly multi-dimensional,
//! broadcasting) batch described by per-operand strides, e.g. attention `[B, H, S, D] × [B, H, D, S]`.

use super::driver::{gemm_unchecked, ASrc, BSrc};
use super::{check_c, packed_a_len, packed_b_len, AOperand, BOperand, Epilogue, MatRef};
use crate::error::{bad_shape, check_len, strided_extent, Result};
use crate::Isa;
use rayon::prelude::*;

/// How the batch dimensions address each operand. All stride slices have `shape.len()` entries,
/// in elements; a stride of 0 broadcasts that operand along the dim.
#[derive(Clone, Copy, Debug)]
pub struct BatchLayout<'s> {
    /// Batch dims, outermost first (empty = a single matmul).
    pub shape: &'s [usize],
    /// Offset of A per unit of each batch dim (in floats of the strided data, or of the packed
    /// buffer for [`AOperand::Packed`]).
    pub a_strides: &'s [usize],
    /// Offset of B per unit of each batch dim (same convention).
    pub b_strides: &'s [usize],
    /// Offset of the residual per unit of each batch dim (ignored without a residual).
    pub residual_strides: &'s [usize],
    /// Offset of C between consecutive batch entries (row-major flattening of `shape`); must be at
    /// least the extent of one `m × n` output so batches do not overlap.
    pub c_stride: usize,
}

fn offset(flat: usize, shape: &[usize], strides: &[usize]) -> usize {
    let mut rem = flat;
    let mut off = 0;
    for (&d, &s) in shape.iter().zip(strides).rev() {
        off += (rem % d) * s;
        rem /= d;
    }
    off
}

/// Batched `C[b] = epilogue(alpha · A[b] · B[b])`; each batch entry is an `m × n × k` [`super::sgemm`].
/// Bias is shared by all entries; the residual is offset per entry by `layout.residual_strides`.
/// Parallel over batch entries when there are several, else inside the GEMM.
#[allow(clippy::too_many_arguments)]
pub fn sgemm_batched(
    isa: Isa,
    layout: &BatchLayout<'_>,
    m: usize,
    n: usize,
    k: usize,
    a: AOperand<'_>,
    b: BOperand<'_>,
    c: &mut [f32],
    ldc: usize,
    epi: &Epilogue<'_>,
) -> Result<()> {
    let rank = layout.shape.len();
    if layout.a_strides.len() != rank
        || layout.b_strides.len() != rank
        || (epi.residual.is_some() && layout.residual_strides.len() != rank)
    {
        return Err(bad_shape(
            "sgemm_batched",
            format!("stride lists must have {rank} entries (the batch rank)"),
        ));
    }
    let count: usize = layout.shape.iter().product();
    if count == 0 || m == 0 || n == 0 {
        return Ok(());
    }
    let max_off = |strides: &[usize]| strided_extent(layout.shape, strides).map(|e| e - 1);
    let overflow = || bad_shape("sgemm_batched", "batch strides overflow usize");
    let a_max = max_off(layout.a_strides).ok_or_else(overflow)?;
    let b_max = max_off(layout.b_strides).ok_or_else(overflow)?;
    // Validate the last-reaching batch entry of each operand; all others lie below it.
    match a {
        AOperand::Strided(mat) => MatRef {
            data: mat.data.get(a_max..).unwrap_or(&[]),
            ..mat
        }
        .check("A", m, k)?,
        AOperand::Packed(p) => check_len("A (packed)", p.len(), a_max + packed_a_len(m, k))?,
    }
    match b {
        BOperand::Strided(mat) => MatRef {
            data: mat.data.get(b_max..).unwrap_or(&[]),
            ..mat
        }
        .check("B", k, n)?,
        BOperand::Packed(p) => check_len("B (packed)", p.len(), b_max + packed_b_len(k, n))?,
        BOperand::PackedPrefix { data, depth } => {
            if depth < k {
                return Err(bad_shape(
                    "B (packed prefix)",
                    format!("packed depth {depth} is smaller than k {k}"),
                ));
            }
            check_len(
                "B (packed prefix)",
                data.len(),
                b_max + packed_b_len(depth, n),
            )?
        }
    }
    let c_extent = strided_extent(&[m, n], &[ldc, 1]).ok_or_else(overflow)?;
    check_c(m, n, c_extent, ldc)?;
    if count > 1 && layout.c_stride < c_extent {
        return Err(bad_shape(
            "C",
            format!(
                "batch stride {} is smaller than one output ({c_extent})",
                layout.c_stride
            ),
        ));
    }
    check_len("C", c.len(), (count - 1) * layout.c_stride + c_extent)?;
    if let Some((r, ld)) = epi.residual {
        let r_max = max_off(layout.residual_strides).ok_or_else(overflow)?;
        Epilogue {
            residual: Some((r.get(r_max..).unwrap_or(&[]), ld)),
            ..*epi
        }
        .check(m, n)?;
    }
    epi.check(m, n)?;

    let run_one = |idx: usize, c_part: &mut [f32]| {
        let ao = offset(idx, layout.shape, layout.a_strides);
        let bo = offset(idx, layout.shape, layout.b_strides);
        let a_src = match a {
            AOperand::Strided(mat) => ASrc::Strided(MatRef {
                data: &mat.data[ao..],
                ..mat
            }),
            AOperand::Packed(p) => ASrc::Packed(&p[ao..]),
        };
        let b_src = match b {
            BOperand::Strided(mat) => BSrc::Strided(MatRef {
                data: &mat.data[bo..],
                ..mat
            }),
            BOperand::Packed(p) => BSrc::Packed(&p[bo..], k),
            BOperand::PackedPrefix { data, depth } => BSrc::Packed(&data[bo..], depth),
        };
        let residual = epi
            .residual
            .map(|(r, ld)| (&r[offset(idx, layout.shape, layout.residual_strides)..], ld));
        let e = Epilogue { residual, ..*epi };
        gemm_unchecked(isa, m, n, k, a_src, b_src, c_part, ldc, &e);
    };
    if count == 1 {
        run_one(0, &mut c[..c_extent]);
    } else if crate::parallelism::threads() > 1 {
        c.par_chunks_mut(layout.c_stride)
            .take(count)
            .enumerate()
            .for_each(|(i, part)| run_one(i, part));
    } else {
        c.chunks_mut(layout.c_stride)
            .take(count)
            .enumerate()
            .for_each(|(i, part)| run_one(i, part));
    }
    Ok(())
}
