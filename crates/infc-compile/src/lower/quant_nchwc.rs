//! INT8 lowering of a blocked conv (`NchwcConv` from the -O3 layout pass, block 16) chosen by the
//! quantization pass → `QuantNchwcConv`. Weights are quantized here, s8 symmetric per output
//! channel, and packed with their sums, scales and the (constant) bias by
//! `infc_kernels::int8::pack_qconv_nchwc`. The residual (blocked like the output) and ReLU are
//! fused in the step; the padded u8 input lives in the node's arena scratch ([`scratch_bytes`]).

use super::conv::geometry;
use super::Lowerer;
use crate::error::CompileError;
use infc_ir::{ConvAttrs, DType, Epilogue, Graph, Node, Op, ValueId};
use infc_kernels::int8::{pack_qconv_nchwc, QCONV_BLOCK};
use infc_plan::{Activation, PackedRef, QuantNchwcConvStep, Step, TensorRef};

/// The step's geometry from the IR node (placeholder buffer references), or `None` when the node
/// is not a 2-D block-16 conv with known shapes.
fn step_shape(g: &Graph, node: &Node) -> Option<QuantNchwcConvStep> {
    let Op::NchwcConv { attrs, block, .. } = &node.op else {
        return None;
    };
    if *block != QCONV_BLOCK || attrs.kernel.len() != 2 || attrs.group != 1 {
        return None;
    }
    let dims = |v: ValueId| g.ty(v).shape.as_known();
    let (xs, ws, ys) = (
        dims(*node.inputs.first()?)?,
        dims(*node.inputs.get(1)?)?,
        dims(*node.outputs.first()?)?,
    );
    let window = geometry(&attrs.kernel, &attrs.strides, &attrs.pads, &attrs.dilations)?;
    let (&[n, _, h, w, ..], &[c_out, c_in, _, _], &[_, _, oh, ow, _]) =
        (xs.as_slice(), ws.as_slice(), ys.as_slice())
    else {
        return None;
    };
    let none = TensorRef::arena(0);
    Some(QuantNchwcConvStep {
        n: n as u64,
        c_in: c_in as u64,
        h: h as u64,
        w: w as u64,
        c_out: c_out as u64,
        input_blocked: xs.len() == 5,
        window,
        oh: oh as u64,
        ow: ow as u64,
        x: none,
        weights: PackedRef {
            offset: 0,
            bytes: 0,
        },
        residual: None,
        act: Activation::None,
        y: none,
        scratch: none,
    })
}

/// Constant f32 contents of `v`.
fn const_f32(lw: &Lowerer<'_>, v: ValueId, what: &str) -> Result<Vec<f32>, CompileError> {
    let t = lw
        .const_tensor(v)
        .filter(|t| t.dtype == DType::F32 && !t.is_opaque())
        .ok_or_else(|| lw.unsupported(format!("int8 blocked conv: {what} must be constant f32")))?;
    t.view::<f32>()
        .map(|v| v.to_vec())
        .map_err(|e| lw.malformed(format!("{what}: {e}")))
}

/// Lower the current node (an `NchwcConv` selected for INT8) to `QuantNchwcConv`.
pub(crate) fn conv(
    lw: &mut Lowerer<'_>,
    attrs: &ConvAttrs,
    epilogue: &[Epilogue],
    block: usize,
) -> Result<(), CompileError> {
    if block != QCONV_BLOCK || attrs.group != 1 {
        return Err(lw.unsupported(format!(
            "int8 blocked conv needs block {QCONV_BLOCK} and group 1 (block {block}, group {})",
            attrs.group
        )));
    }
    let mut step = step_shape(lw.g, lw.cur())
        .ok_or_else(|| lw.unsupported("int8 blocked conv must be 2-D with known shapes"))?;
    let p = step
        .kernel_params()
        .ok_or_else(|| lw.unsupported("int8 blocked conv dims exceed the address space"))?;
    p.validate()
        .map_err(|e| lw.unsupported(format!("int8 blocked conv: {e}")))?;
    let (x, w, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("int8: {} input (only f32)", lw.ir_dtype(x))));
    }
    let wdata = const_f32(lw, w, "weights")?;
    let (mut bias, mut residual, mut act) = (None, None, Activation::None);
    let mut next = 2;
    for st in epilogue {
        match st {
            Epilogue::Bias => bias = Some(const_f32(lw, lw.input(next)?, "bias")?),
            Epilogue::Residual => residual = Some(lw.at(lw.input(next)?)?),
            Epilogue::Relu => act = Activation::Relu,
            other => {
                return Err(lw.unsupported(format!(
                    "epilogue stage '{}' on an int8 blocked conv",
                    other.name()
                )))
            }
        }
        next += usize::from(st.takes_input());
    }
    let packed = pack_qconv_nchwc(&p, &wdata, bias.as_deref())
        .map_err(|e| lw.malformed(format!("quantizing weights: {e}")))?;
    let bytes = packed.to_bytes();
    let offset = lw.push_bytes(&bytes);
    let (scratch, _) =
        lw.an.scratch[lw.node].ok_or_else(|| lw.malformed("int8 scratch was not planned"))?;
    step.x = lw.at(x)?;
    step.weights = PackedRef {
        offset,
        bytes: bytes.len() as u64,
    };
    step.residual = residual;
    step.act = act;
    step.y = lw.at(y)?;
    step.scratch = TensorRef::arena(scratch);
    lw.emit(Step::QuantNchwcConv(step));
    Ok(())
}

/// Arena scratch of a quantized blocked conv (its padded u8 input); 0 when not applicable.
pub(crate) fn scratch_bytes(g: &Graph, node: &Node) -> u64 {
    step_shape(g, node)
        .and_then(|s| s.scratch_bytes())
        .unwrap_or(0)
}
