//! Packed single-precision GEMM, BLIS style: `C[m×n] = epilogue(alpha · A[m×k] · B[k×n])`.
//!
//! * Operands: A and B are either described by strides ([`MatRef`], any row/column stride, so
//!   transposed operands cost nothing extra) and packed on the fly per cache block, or given
//!   pre-packed ([`AOperand::Packed`], [`BOperand::Packed`]; layouts in [`pack_b`] / [`pack_a`]).
//!   Weights are packed once at compile time; the packed layouts do not depend on the ISA.
//! * C is row-major with leading dimension `ldc ≥ n`.
//! * Blocking: `NC` columns × `KC` depth × `MC` rows, then register tiles of `MR × NR`
//!   (AVX-512 12×32, AVX2+FMA 6×16, portable 4×16). Edge tiles run the same microkernel with a
//!   smaller compile-time row count and masked column stores, so no work is wasted on padding rows.
//! * Parallelism: when `2·m·n·k` exceeds [`PARALLEL_MIN_FLOPS`] (or B holds
//!   [`PARALLEL_MIN_B_BYTES`]: a few-row product is bound by reading B) and the current rayon pool has more
//!   than one thread, the problem is split over M (tall problems) or N (wide ones) into one part per
//!   thread. Run inside a one-thread pool for single-threaded execution.
//! * Epilogue ([`Epilogue`]) is applied in the store of the last k-block:
//!   `C = act(alpha·A·B + [C if accumulate] + bias + residual)`.

mod batched;
mod driver;
#[cfg(target_arch = "x86_64")]
mod kernel_avx2;
#[cfg(target_arch = "x86_64")]
mod kernel_avx512;
mod kernel_portable;
mod pack;
mod tile;

pub use batched::{sgemm_batched, BatchLayout};
pub(crate) use driver::{gemm_unchecked, ASrc, BSrc, PackB};
pub use driver::{reserve_pack_buffers, with_pack_buffers, PackBuffers};
#[cfg(test)]
pub(crate) use kernel_portable::activate as kernel_activate;
pub(crate) use pack::pack_a_block;
pub use pack::{pack_a, pack_b, packed_a_len, packed_b_len, packed_b_len_checked};

use crate::error::{bad_shape, check_len, strided_extent, Result};
use crate::Isa;

/// Width in columns of one packed-B panel.
pub const B_PANEL: usize = 16;
/// Height in rows of one packed-A panel.
pub const A_PANEL: usize = 12;
/// Problems with fewer FLOPs (`2·m·n·k`) than this, and a B smaller than
/// [`PARALLEL_MIN_B_BYTES`], run on the calling thread only.
pub const PARALLEL_MIN_FLOPS: usize = 1 << 22;
/// A B operand of this many bytes or more is split over threads whatever the FLOPs: a product of
/// few rows (a sequence of one token, a batch of one image's classifier) is bound by reading B
/// from memory, and two cores read it faster than one (DistilBERT at sequence 1: every weight
/// matrix is 2.4–9.4 MB against 1.2–4.7 MFLOP).
pub const PARALLEL_MIN_B_BYTES: usize = 1 << 19;

/// Whether a GEMM of `m × n × k` with `b_elem`-byte B elements is worth splitting over threads.
pub(crate) fn worth_splitting(m: usize, n: usize, k: usize, b_elem: usize) -> bool {
    let flops = 2usize.saturating_mul(m).saturating_mul(n).saturating_mul(k);
    let b_bytes = k.saturating_mul(n).saturating_mul(b_elem);
    flops >= PARALLEL_MIN_FLOPS || b_bytes >= PARALLEL_MIN_B_BYTES
}

/// A read-only strided matrix view: element `(i, j)` is `data[i*row_stride + j*col_stride]`.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    pub data: &'a [f32],
    pub row_stride: usize,
    pub col_stride: usize,
}

impl<'a> MatRef<'a> {
    /// General strided view.
    pub fn new(data: &'a [f32], row_stride: usize, col_stride: usize) -> MatRef<'a> {
        MatRef {
            data,
            row_stride,
            col_stride,
        }
    }
    /// Row-major view with leading dimension `ld`: `(i, j) → data[i*ld + j]`.
    pub fn row_major(data: &'a [f32], ld: usize) -> MatRef<'a> {
        MatRef {
            data,
            row_stride: ld,
            col_stride: 1,
        }
    }
    /// Column-major view (i.e. the transpose of a row-major buffer): `(i, j) → data[j*ld + i]`.
    pub fn col_major(data: &'a [f32], ld: usize) -> MatRef<'a> {
        MatRef {
            data,
            row_stride: 1,
            col_stride: ld,
        }
    }
    /// Checks that a `rows × cols` matrix fits in `data`.
    pub(crate) fn check(&self, what: &'static str, rows: usize, cols: usize) -> Result<()> {
        let need = strided_extent(&[rows, cols], &[self.row_stride, self.col_stride])
            .ok_or_else(|| bad_shape(what, "strides overflow usize"))?;
        check_len(what, self.data.len(), need)
    }
}

/// The left operand A (`m × k`).
#[derive(Clone, Copy, Debug)]
pub enum AOperand<'a> {
    /// Strided A, packed on the fly.
    Strided(MatRef<'a>),
    /// A pre-packed with [`pack_a`] (length ≥ [`packed_a_len`]`(m, k)`).
    Packed(&'a [f32]),
}

/// The right operand B (`k × n`).
#[derive(Clone, Copy, Debug)]
pub enum BOperand<'a> {
    /// Strided B, packed on the fly (activations, e.g. Kᵀ in attention via [`MatRef::col_major`]).
    Strided(MatRef<'a>),
    /// B pre-packed with [`pack_b`] (length ≥ [`packed_b_len`]`(k, n)`), e.g. weights.
    /// 64-byte alignment of the buffer is recommended (unaligned works, slower).
    Packed(&'a [f32]),
    /// The first `k` rows of a B packed with [`pack_b`] for `depth ≥ k` rows (length ≥
    /// [`packed_b_len`]`(depth, n)`): a k-prefix without repacking, e.g. the keys a causal
    /// attention block can see of a head's packed V.
    PackedPrefix { data: &'a [f32], depth: usize },
}

/// Activation applied last in the epilogue.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Activation {
    #[default]
    None,
    Relu,
    /// `0.5·x·(1 + erf(x/√2))`.
    GeluErf,
    /// `0.5·x·(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    GeluTanh,
}

/// A bias broadcast over the output.
#[derive(Clone, Copy, Debug)]
pub enum Bias<'a> {
    /// One value per column (`len ≥ n`): `C[i, j] += bias[j]` (MatMul/Gemm bias).
    PerColumn(&'a [f32]),
    /// One value per row (`len ≥ m`): `C[i, j] += bias[i]` (conv bias, channel-major output).
    PerRow(&'a [f32]),
}

/// What the store does after the product: `C = act(alpha·A·B + [C] + bias + residual)`.
#[derive(Clone, Copy, Debug)]
pub struct Epilogue<'a> {
    /// Scale of the product (1.0 for plain matmul; e.g. `1/√d` for attention scores, Gemm's alpha).
    pub alpha: f32,
    /// Add the product onto C's previous contents (`beta = 1`) instead of overwriting C.
    pub accumulate: bool,
    pub bias: Option<Bias<'a>>,
    /// A matrix added to the result, `(data, ld)` row-major with `ld ≥ n` (a skip connection).
    pub residual: Option<(&'a [f32], usize)>,
    pub activation: Activation,
}

impl Default for Epilogue<'_> {
    fn default() -> Self {
        Epilogue {
            alpha: 1.0,
            accumulate: false,
            bias: None,
            residual: None,
            activation: Activation::None,
        }
    }
}

impl<'a> Epilogue<'a> {
    /// Plain `C = A·B`.
    pub fn none() -> Epilogue<'a> {
        Epilogue::default()
    }
    /// Checks bias/residual lengths for an `m × n` output.
    pub(crate) fn check(&self, m: usize, n: usize) -> Result<()> {
        match self.bias {
            Some(Bias::PerColumn(b)) => check_len("bias (per column)", b.len(), n)?,
            Some(Bias::PerRow(b)) => check_len("bias (per row)", b.len(), m)?,
            None => {}
        }
        if let Some((r, ld)) = self.residual {
            if ld < n && m > 1 {
                return Err(bad_shape(
                    "residual",
                    format!("ld {ld} is smaller than n {n}"),
                ));
            }
            let need = strided_extent(&[m, n], &[ld, 1])
                .ok_or_else(|| bad_shape("residual", "overflow"))?;
            check_len("residual", r.len(), need)?;
        }
        Ok(())
    }
}

/// `C = epilogue(alpha · A · B)` for `A: m × k`, `B: k × n`, `C: m × n` row-major (`ldc ≥ n`).
///
/// `isa` is capped to what the CPU supports. Errors name the operand whose buffer is too short or
/// whose stride is inconsistent; nothing is written to `c` in that case.
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    a: AOperand<'_>,
    b: BOperand<'_>,
    c: &mut [f32],
    ldc: usize,
    epi: &Epilogue<'_>,
) -> Result<()> {
    let a_src = match a {
        AOperand::Strided(mat) => {
            mat.check("A", m, k)?;
            ASrc::Strided(mat)
        }
        AOperand::Packed(p) => {
            check_len("A (packed)", p.len(), packed_a_len(m, k))?;
            ASrc::Packed(p)
        }
    };
    let b_src = match b {
        BOperand::Strided(mat) => {
            mat.check("B", k, n)?;
            BSrc::Strided(mat)
        }
        BOperand::Packed(p) => {
            check_len("B (packed)", p.len(), packed_b_len(k, n))?;
            BSrc::Packed(p, k)
        }
        BOperand::PackedPrefix { data, depth } => {
            if depth < k {
                return Err(bad_shape(
                    "B (packed prefix)",
                    format!("packed depth {depth} is smaller than k {k}"),
                ));
            }
            check_len("B (packed prefix)", data.len(), packed_b_len(depth, n))?;
            BSrc::Packed(data, depth)
        }
    };
    check_c(m, n, c.len(), ldc)?;
    epi.check(m, n)?;
    gemm_unchecked(isa, m, n, k, a_src, b_src, c, ldc, epi);
    Ok(())
}

/// Checks a row-major `m × n` output with leading dimension `ldc`.
pub(crate) fn check_c(m: usize, n: usize, len: usize, ldc: usize) -> Result<()> {
    if ldc < n && m > 1 {
        return Err(bad_shape("C", format!("ldc {ldc} is smaller than n {n}")));
    }
    let need = strided_extent(&[m, n], &[ldc, 1]).ok_or_else(|| bad_shape("C", "overflow"))?;
    check_len("C", len, need)
}

#[cfg(test)]
pub(crate) mod tests;
