//! Executor of `QuantNchwcConv`: the dynamically quantized direct conv on NCHW16c activations.
//! The step quantizes its f32 input per tensor into its arena scratch (the zero-point-padded u8
//! buffer of `infc_kernels::int8::quantize_input_qconv`), then runs
//! `infc_kernels::int8::qconv_nchwc` with the compile-time packed s8 weights; dequantize, bias,
//! residual and ReLU happen in the kernel's store. Packed weights are validated once at load
//! ([`check`]); runs only check lengths.

use crate::fault::{fault, StepFault};
use crate::mem::{f32s, f32s_mut, rd, Mem, NONE};
use infc_kernels::int8::{
    qconv_nchwc, quantize_input_qconv, Int8Isa, QConvNchwcParams, QConvWeights,
};
use infc_plan::{Activation, QuantNchwcConvStep, TensorRef};

fn ke(e: infc_kernels::KernelError) -> StepFault {
    StepFault::Kernel(e)
}

/// Kernel parameters of the step, checked against its output size, packed weight size and the
/// supported activations (the scratch size is the kernel's by construction:
/// `QuantNchwcConvStep::scratch_bytes`).
pub(crate) fn params(s: &QuantNchwcConvStep) -> Result<QConvNchwcParams, StepFault> {
    let p = s.kernel_params().ok_or(super::linalg::DIMS_PAST_USIZE)?;
    p.validate().map_err(ke)?;
    super::linalg::check_conv_output(&p.conv, s.oh, s.ow)?;
    let (w_bytes, _) = sizes(&p)?;
    if s.weights.bytes != w_bytes as u64 {
        return Err(fault!(
            "packed weights have {} bytes, the kernel needs {w_bytes}",
            s.weights.bytes
        ));
    }
    if !matches!(s.act, Activation::None | Activation::Relu) {
        return Err(fault!("activation {:?} is not fused by this kernel", s.act));
    }
    Ok(p)
}

/// Bytes of the packed weights and of the quantized input for `p`.
fn sizes(p: &QConvNchwcParams) -> Result<(usize, usize), StepFault> {
    p.packed_bytes()
        .zip(p.quant_input_len())
        .ok_or_else(|| StepFault::from("int8 blocked conv sizes overflow"))
}

/// View packed bytes `[s8 data | i32 sums | f32 scales | f32 bias]` (lengths from `p`).
fn weights<'a>(bytes: &'a [u8], p: &QConvNchwcParams) -> Result<QConvWeights<'a>, StepFault> {
    let (total, _) = sizes(p)?;
    if bytes.len() != total {
        return Err(fault!(
            "quantized weights have {} bytes, the kernel needs {total}",
            bytes.len()
        ));
    }
    // `[data | sums | scales | bias]`: three vectors of `channel_len` 4-byte values at the end.
    let cl = p.channel_len() * 4;
    let dl = total - 3 * cl;
    let cast = |e: bytemuck::PodCastError| format!("quantized weights: {e:?}");
    Ok(QConvWeights {
        data: bytemuck::try_cast_slice(&bytes[..dl]).map_err(cast)?,
        sums: bytemuck::try_cast_slice(&bytes[dl..dl + cl]).map_err(cast)?,
        scales: bytemuck::try_cast_slice(&bytes[dl + cl..dl + 2 * cl]).map_err(cast)?,
        bias: bytemuck::try_cast_slice(&bytes[dl + 2 * cl..]).map_err(cast)?,
    })
}

/// Load-time validation: geometry, and the packed weight sums against the weights.
pub(crate) fn check(s: &QuantNchwcConvStep, consts: &[u8]) -> Result<(), StepFault> {
    let p = params(s)?;
    let start = s.weights.offset as usize;
    let bytes = consts
        .get(start..start + s.weights.bytes as usize)
        .ok_or("quantized weights lie outside the constants")?;
    weights(bytes, &p)?.validate(&p).map_err(ke)
}

pub(crate) fn conv(
    s: &QuantNchwcConvStep,
    mem: &mut Mem<'_>,
    isa: Int8Isa,
) -> Result<(), StepFault> {
    let p = params(s)?;
    let (w_bytes, xq_bytes) = sizes(&p)?;
    let y_bytes = p.output_len() * 4;
    let (y, scratch, [x, w, res]) = mem.io2(
        (s.y.offset, y_bytes),
        (s.scratch.offset, xq_bytes),
        [
            rd(s.x, p.input_len() * 4),
            rd(TensorRef::konst(s.weights.offset), w_bytes),
            s.residual.map_or(NONE, |r| rd(r, y_bytes)),
        ],
    )?;
    let x = f32s(x.ok_or("x aliases an output")?)?;
    let w = weights(w.ok_or("weights alias an output")?, &p)?;
    let res = match (s.residual, res) {
        (Some(_), Some(r)) => Some(f32s(r)?),
        (Some(_), None) => return Err("residual aliases an output".into()),
        _ => None,
    };
    let y = f32s_mut(y)?;
    let qp = quantize_input_qconv(isa, &p, x, scratch).map_err(ke)?;
    let relu = s.act == Activation::Relu;
    qconv_nchwc(isa, &p, scratch, qp, &w, res, relu, y).map_err(ke)
}
