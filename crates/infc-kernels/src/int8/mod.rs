//! Integer kernels for dynamic INT8 quantization: u8 activations × s8 weights → s32, with
//! zero-point compensation and a dequantize epilogue into f32.
//!
//! * [`quantize_rows_u8`] / [`quantize_tensor_u8`]: asymmetric u8 quantization of f32 activations,
//!   per row or per tensor, with the scale/zero-point rule of ONNX `DynamicQuantizeLinear`
//!   (module [`quantize`]). Every ISA path is bit-identical to the portable one.
//! * [`quantize_pack_b_s8`] / [`pack_b_s8`]: symmetric per-output-channel s8 weights (values in
//!   `-127..=127`) in the ISA-independent packed layout the microkernels read, plus per-column
//!   sums and scales ([`PackedB8`], layout in module [`pack`]).
//! * [`gemm_u8s8_s32`]: the raw integer product `C_s32 = A_u8 · B_s8` (tests compare every path
//!   against an exact reference bit for bit).
//! * [`fn@qconv_nchwc`]: direct INT8 convolution on NCHW16c activations (module [`mod@qconv_nchwc`]).
//! * [`gemm_u8s8_f32`]: the product with the dequantize epilogue
//!   `C[i,j] = act(alpha·(acc[i,j] − za_i·colsum_j)·sa_i·sw_j + [C] + bias + residual)`
//!   (the same [`Epilogue`] type as the f32 GEMM, so lowering can share it).
//! * [`quantize_rows_gemm_u8s8_f32`]: per-row quantization of f32 A and that product in one
//!   parallel region (module [`quant_gemm`]), bit-identical to the two calls in sequence.
//!
//! **Operand A** (activations, `m × k`) is row-major u8 with leading dimension
//! `lda ≥ round_up(k, 4)` ([`a_row_len`]); the bytes between `k` and `round_up(k, 4)` must exist but
//! their values do not matter (packed B is zero there). A is read in place, never packed.
//!
//! **Dispatch**: [`Int8Isa`] (`Portable < Avx2 < Avx512Vnni`), forced with `INFC_INT8_ISA`, capped
//! to the CPU like [`crate::Isa`]. AMX-INT8 is not implemented (see [`isa`]).
//!
//! **Overflow**: every path accumulates exactly in i32: `|Σ a·w| ≤ k·255·127`, which fits in i32
//! for `k ≤` [`K_MAX`]; longer reductions are refused.

pub(crate) mod amx;
mod driver;
pub mod isa;
#[cfg(target_arch = "x86_64")]
mod kernel_amx;
#[cfg(target_arch = "x86_64")]
mod kernel_avx2;
#[cfg(target_arch = "x86_64")]
mod kernel_avxvnni;
mod kernel_portable;
#[cfg(target_arch = "x86_64")]
mod kernel_vnni;
pub mod pack;
pub mod peak;
pub mod qconv_nchwc;
#[cfg(target_arch = "x86_64")]
mod qconv_nchwc_avx2;
#[cfg(target_arch = "x86_64")]
mod qconv_nchwc_vnni;
pub mod quant_gemm;
pub mod quantize;
mod tile;

pub use isa::{Int8Isa, INT8_ISA_ENV_VAR};
pub use pack::{pack_b_s8, packed_b8_bytes, quantize_pack_b_s8, PackedB8, PackedB8Ref};
pub use qconv_nchwc::{
    pack_qconv_nchwc, qconv_nchwc, quantize_input_qconv, PackedQConv, QConvNchwcParams,
    QConvWeights, QCONV_BLOCK,
};
pub use quant_gemm::quantize_rows_gemm_u8s8_f32;
pub use quantize::{quantize_rows_u8, quantize_tensor_u8, QParams};

use crate::error::{bad_shape, check_len, strided_extent, Result};
use crate::gemm::{check_c, Epilogue};

/// Longest reduction accepted: `65536·255·127 < 2³¹`, so no i32 accumulator can overflow.
pub const K_MAX: usize = 1 << 16;

/// Minimum leading dimension (bytes per row) of a quantized A for reduction length `k`:
/// `round_up(k, 4)` — the microkernels read A four bytes (one `vpdpbusd` group) at a time.
pub fn a_row_len(k: usize) -> usize {
    k.div_ceil(4) * 4
}

/// Bytes of a quantized A of `rows` rows at the minimum stride: `rows ·` [`a_row_len`]`(k)`
/// (the arena scratch a plan's quantized steps plan for it). `None` on overflow.
pub fn quant_a_len(rows: usize, k: usize) -> Option<usize> {
    rows.checked_mul(k.checked_next_multiple_of(4)?)
}

/// Quantization parameters of operand A: one pair for the whole tensor or one per row.
#[derive(Clone, Copy, Debug)]
pub enum AQuant<'a> {
    PerTensor(QParams),
    /// `params[i]` quantizes row `i` (`len ≥ m`).
    PerRow(&'a [QParams]),
}

/// A quantized activation matrix: `A[i, kk] = data[i*ld + kk]` with its quantization parameters.
#[derive(Clone, Copy, Debug)]
pub struct QuantizedA<'a> {
    pub data: &'a [u8],
    /// Row stride, `≥` [`a_row_len`]`(k)`.
    pub ld: usize,
    pub params: AQuant<'a>,
}

/// Problems with fewer integer ops (`2·m·n·k`) than this run on the calling thread only.
pub const PARALLEL_MIN_OPS: usize = 1 << 22;

/// Checks the shape-independent operand constraints shared by both GEMM entry points.
pub(super) fn check_operands(
    m: usize,
    n: usize,
    k: usize,
    a: &[u8],
    lda: usize,
    b: &PackedB8Ref<'_>,
) -> Result<()> {
    if k > K_MAX {
        return Err(bad_shape(
            "int8 gemm",
            format!("k = {k} exceeds K_MAX = {K_MAX} (i32 accumulators could overflow)"),
        ));
    }
    if b.k() != k || b.n() != n {
        return Err(bad_shape(
            "B (packed s8)",
            format!(
                "packed for k = {}, n = {} but the product needs k = {k}, n = {n}",
                b.k(),
                b.n()
            ),
        ));
    }
    let row = a_row_len(k);
    if m > 0 && k > 0 {
        if lda < row {
            return Err(bad_shape(
                "A (u8)",
                format!("lda {lda} is smaller than round_up(k, 4) = {row}"),
            ));
        }
        let need =
            strided_extent(&[m, row], &[lda, 1]).ok_or_else(|| bad_shape("A (u8)", "overflow"))?;
        check_len("A (u8)", a.len(), need)?;
    }
    Ok(())
}

/// Raw integer product `C[i, j] = Σ_kk A[i, kk]·B[kk, j]` in i32 (no zero-point compensation).
///
/// A is row-major u8 (`lda ≥` [`a_row_len`]`(k)`, see the module docs), B packed s8, C row-major
/// i32 with `ldc ≥ n`. `isa` is capped to the CPU. Every path returns the same bits.
#[allow(clippy::too_many_arguments)]
pub fn gemm_u8s8_s32(
    isa: Int8Isa,
    m: usize,
    n: usize,
    k: usize,
    a: &[u8],
    lda: usize,
    b: &PackedB8Ref<'_>,
    c: &mut [i32],
    ldc: usize,
) -> Result<()> {
    check_operands(m, n, k, a, lda, b)?;
    check_c(m, n, c.len(), ldc)?;
    driver::run(
        isa,
        m,
        n,
        k,
        a,
        lda,
        b,
        driver::Output::Raw {
            c: c.as_mut_ptr(),
            ldc,
        },
    );
    Ok(())
}

/// Quantized product with the dequantize epilogue:
/// `C[i, j] = act(alpha·(acc[i,j] − za_i·colsum_j)·sa_i·sw_j + [C if accumulate] + bias + residual)`
/// where `acc = A_u8 · B_s8` exactly, `(sa_i, za_i)` are A's parameters for row `i` and
/// `(sw_j, colsum_j)` come from the packed weights. C is row-major f32 with `ldc ≥ n`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_u8s8_f32(
    isa: Int8Isa,
    m: usize,
    n: usize,
    k: usize,
    a: &QuantizedA<'_>,
    b: &PackedB8Ref<'_>,
    c: &mut [f32],
    ldc: usize,
    epi: &Epilogue<'_>,
) -> Result<()> {
    check_operands(m, n, k, a.data, a.ld, b)?;
    if let AQuant::PerRow(p) = a.params {
        check_len("A quantization params (per row)", p.len(), m)?;
    }
    check_c(m, n, c.len(), ldc)?;
    epi.check(m, n)?;
    driver::run(
        isa,
        m,
        n,
        k,
        a.data,
        a.ld,
        b,
        driver::Output::Dequant {
            c: c.as_mut_ptr(),
            ldc,
            a_params: a.params,
            epi,
        },
    );
    Ok(())
}

#[cfg(test)]
mod qconv_nchwc_tests;
#[cfg(test)]
mod tests;
