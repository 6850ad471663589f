//! INT8 lowering of the nodes marked `@int8` / `@int8_per_row` (pass `mark-int8`): MatMul,
//! FusedMatMul and Gemm with a constant 2-D right-hand side → `QuantMatMul`; Conv and FusedConv with
//! constant weights → `QuantConv`; blocked `NchwcConv` → `QuantNchwcConv` (module `quant_nchwc`). Weights are quantized here, symmetric s8 per output channel,
//! and packed with their column sums and scales (`infc_kernels::int8::quantize_pack_b_s8`) into
//! the constants blob as `[s8 panels | i32 column sums | f32 scales]`. Activations are quantized
//! by the step at run time into a scratch buffer the memory planner reserves for the node
//! ([`scratch_bytes`]); a LayerNorm marked `@in_reader` (pass `absorb-layernorm`) becomes the step's
//! `pre_norm`, applied row by row while A is quantized. Epilogue stages that do not fit
//! `act(acc + bias + residual)` run as separate in-place steps, exactly as for the f32 fused ops.

use super::conv::{geometry, nchw};
use super::fused::{emit_post, split_epilogue};
use super::norm::row_param;
use super::Lowerer;
use crate::error::CompileError;
use infc_ir::{ConvAttrs, DType, Graph, Node, Op, ValueId};
use infc_kernels::int8::{quant_a_len, quantize_pack_b_s8, PackedB8, K_MAX};
use infc_plan::{Activation, PackedRef, PreNorm, QuantConvStep, QuantMatMulStep, Step, TensorRef};

/// Serialise packed s8 weights as the runtime reads them.
fn weight_bytes(p: &PackedB8, out: &mut Vec<u8>) {
    out.extend(p.data().iter().map(|&v| v as u8));
    out.extend(p.col_sums().iter().flat_map(|v| v.to_le_bytes()));
    out.extend(p.scales().iter().flat_map(|v| v.to_le_bytes()));
}

/// Constant f32 contents of `v`, or an "unsupported" error naming `what`.
fn const_f32<'g>(lw: &Lowerer<'g>, v: ValueId, what: &str) -> Result<Vec<f32>, CompileError> {
    let t = lw
        .const_tensor(v)
        .filter(|t| t.dtype == DType::F32 && !t.is_opaque())
        .ok_or_else(|| lw.unsupported(format!("int8: {what} must be a constant f32 tensor")))?;
    t.view::<f32>()
        .map(|v| v.to_vec())
        .map_err(|e| lw.malformed(format!("{what}: {e}")))
}

/// Lower the current node (selected for INT8) to a quantized step.
pub(crate) fn lower(lw: &mut Lowerer<'_>, per_row: bool) -> Result<(), CompileError> {
    let op = &lw.cur().op;
    let relu = Activation::None;
    match op {
        Op::MatMul => matmul(lw, None, None, relu, false, per_row),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => {
            if *trans_a || alpha.get() != 1.0 || (lw.has_input(2) && beta.get() != 1.0) {
                return Err(lw.unsupported("int8 Gemm needs alpha = beta = 1 and no transA"));
            }
            let bias = if lw.has_input(2) {
                Some(lw.input(2)?)
            } else {
                None
            };
            matmul(lw, bias, None, relu, *trans_b, per_row)
        }
        Op::FusedMatMul {
            epilogue,
            trans_a,
            trans_b,
        } => {
            if *trans_a {
                return Err(lw.unsupported("int8 FusedMatMul reading A transposed"));
            }
            let sp = split_epilogue(lw, epilogue)?;
            matmul(lw, sp.bias, sp.residual, sp.act, *trans_b, per_row)?;
            let ys = lw.shape(lw.output(0)?);
            emit_post(lw, &sp.post, ys.last().copied().unwrap_or(1), 1)
        }
        Op::Conv(attrs) => {
            let bias = if lw.has_input(2) {
                Some(lw.input(2)?)
            } else {
                None
            };
            conv(lw, attrs, bias, None, relu)
        }
        Op::FusedConv { attrs, epilogue } => {
            let sp = split_epilogue(lw, epilogue)?;
            conv(lw, attrs, sp.bias, sp.residual, sp.act)?;
            let ys = lw.shape(lw.output(0)?);
            let channels = ys.get(1).copied().unwrap_or(1);
            emit_post(lw, &sp.post, channels, ys.iter().skip(2).product())
        }
        Op::NchwcConv {
            attrs,
            epilogue,
            block,
        } => super::quant_nchwc::conv(lw, attrs, epilogue, *block),
        _ => Err(lw.unsupported("int8 lowering handles MatMul, Gemm and Conv only")),
    }
}

/// `(m, k, n)` of a matmul-like node whose B is a 2-D constant (`trans_b`: B is `n × k`).
fn matmul_dims(g: &Graph, node: &Node) -> Option<(u64, u64, u64)> {
    let dims = |v: ValueId| g.ty(v).shape.as_known();
    let (a, b) = (dims(*node.inputs.first()?)?, dims(*node.inputs.get(1)?)?);
    let trans_b = matches!(
        node.op,
        Op::Gemm { trans_b: true, .. } | Op::FusedMatMul { trans_b: true, .. }
    );
    let (&k, [b0, b1]) = (a.last()?, b.as_slice()) else {
        return None;
    };
    let n = if trans_b { *b0 } else { *b1 };
    let m: usize = a[..a.len() - 1].iter().product();
    Some((m as u64, k as u64, n as u64))
}

fn matmul(
    lw: &mut Lowerer<'_>,
    bias: Option<ValueId>,
    residual: Option<ValueId>,
    act: Activation,
    trans_b: bool,
    per_row: bool,
) -> Result<(), CompileError> {
    let (a, b, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    if lw.ir_dtype(a) != DType::F32 {
        return Err(lw.unsupported(format!("int8: {} activations (only f32)", lw.ir_dtype(a))));
    }
    let (m, k, n) = matmul_dims(lw.g, lw.cur())
        .ok_or_else(|| lw.unsupported("int8 MatMul needs a 2-D constant right-hand side"))?;
    // A LayerNorm marked `@in_reader`: read its input, normalise while quantizing.
    let (a, pre_norm) = match lw.an.pre_norm[lw.node] {
        Some(i) => {
            let ln = &lw.g.nodes[i];
            let Op::LayerNorm { epsilon, .. } = ln.op else {
                return Err(lw.malformed("absorbed node is not a LayerNorm"));
            };
            let (Some(&x), Some(&scale)) = (ln.inputs.first(), ln.inputs.get(1)) else {
                return Err(lw.malformed("absorbed LayerNorm has fewer than two inputs"));
            };
            let bias = ln.inputs.get(2).copied();
            let scale = row_param(lw, scale, &[k])?;
            let bias = bias.map(|v| row_param(lw, v, &[k])).transpose()?;
            let pn = PreNorm {
                epsilon: epsilon.get(),
                scale,
                bias,
            };
            (x, Some(pn))
        }
        None => (a, None),
    };
    let sb = lw.shape(b);
    let kb = if trans_b { sb[1] } else { sb[0] };
    if kb != k || lw.numel(y) != m * n {
        return Err(lw.malformed(format!(
            "A {:?} and B {sb:?} do not multiply into {:?}",
            lw.shape(a),
            lw.shape(y)
        )));
    }
    if k as usize > K_MAX {
        return Err(lw.unsupported(format!("int8: k = {k} exceeds {K_MAX}")));
    }
    let w = const_f32(lw, b, "B")?;
    let ld = if trans_b { k } else { n } as usize;
    let packed = quantize_pack_b_s8(k as usize, n as usize, &w, ld, trans_b)
        .map_err(|e| lw.malformed(format!("quantizing B: {e}")))?;
    let mut bytes = Vec::new();
    weight_bytes(&packed, &mut bytes);
    let offset = lw.push_bytes(&bytes);
    if let Some(bv) = bias {
        if lw.numel(bv) != n || lw.ir_dtype(bv) != DType::F32 {
            return Err(lw.malformed(format!("bias {} must be f32[{n}]", lw.g.ty(bv))));
        }
    }
    if let Some(r) = residual {
        if lw.numel(r) != m * n {
            return Err(lw.malformed("residual must have the output's shape"));
        }
    }
    let (scratch, _) =
        lw.an.scratch[lw.node].ok_or_else(|| lw.malformed("int8 scratch was not planned"))?;
    let step = QuantMatMulStep {
        m,
        n,
        k,
        a: lw.at(a)?,
        pre_norm,
        weights: PackedRef {
            offset,
            bytes: bytes.len() as u64,
        },
        per_row,
        bias: bias.map(|v| lw.at(v)).transpose()?,
        residual: residual.map(|v| lw.at(v)).transpose()?,
        act,
        y: lw.at(y)?,
        scratch: TensorRef::arena(scratch),
    };
    lw.emit(Step::QuantMatMul(step));
    Ok(())
}

/// The step's geometry from the IR node, with placeholder buffer references.
fn conv_shape(g: &Graph, node: &Node, attrs: &ConvAttrs) -> Option<QuantConvStep> {
    let dims = |v: ValueId| -> Option<Vec<u64>> {
        Some(
            g.ty(v)
                .shape
                .as_known()?
                .into_iter()
                .map(|d| d as u64)
                .collect(),
        )
    };
    let window = geometry(&attrs.kernel, &attrs.strides, &attrs.pads, &attrs.dilations)?;
    let xs = nchw(&dims(*node.inputs.first()?)?)?;
    let ys = nchw(&dims(*node.outputs.first()?)?)?;
    let group = attrs.group as u64;
    if group == 0 || xs[1] % group != 0 || ys[1] % group != 0 {
        return None;
    }
    let none = TensorRef::arena(0);
    Some(QuantConvStep {
        n: xs[0],
        c_in: xs[1],
        h: xs[2],
        w: xs[3],
        c_out: ys[1],
        group,
        window,
        oh: ys[2],
        ow: ys[3],
        x: none,
        weights: PackedRef {
            offset: 0,
            bytes: 0,
        },
        bias: None,
        residual: None,
        act: Activation::None,
        y: none,
        scratch: none,
    })
}

fn conv(
    lw: &mut Lowerer<'_>,
    attrs: &ConvAttrs,
    bias: Option<ValueId>,
    residual: Option<ValueId>,
    act: Activation,
) -> Result<(), CompileError> {
    let (x, w, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("int8: {} input (only f32)", lw.ir_dtype(x))));
    }
    let mut step = conv_shape(lw.g, lw.cur(), attrs)
        .ok_or_else(|| lw.unsupported("int8 conv must be 1-D or 2-D NCHW with a valid group"))?;
    let (kg, cog) = step
        .group_dims()
        .ok_or_else(|| lw.malformed("zero group"))?;
    if kg as usize > K_MAX {
        return Err(lw.unsupported(format!("int8: reduction {kg} exceeds {K_MAX}")));
    }
    let wdata = const_f32(lw, w, "weights")?;
    let (cig, kh, kw) = (
        (step.c_in / step.group) as usize,
        step.window.kernel[0] as usize,
        step.window.kernel[1] as usize,
    );
    let (kg, cog) = (kg as usize, cog as usize);
    if wdata.len() != step.c_out as usize * kg {
        return Err(lw.malformed(format!(
            "weights have {} elements, expected {}",
            wdata.len(),
            step.c_out as usize * kg
        )));
    }
    let mut bytes = Vec::new();
    let mut bmat = vec![0f32; kg * cog];
    for g in 0..step.group as usize {
        // B_g[(ky·kw + kx)·cig + ci, co] = W[g·cog + co, ci, ky, kx]: rows in the (ky, kx, channel)
        // order of the runtime's NHWC im2col.
        for co in 0..cog {
            let wo = &wdata[(g * cog + co) * kg..(g * cog + co + 1) * kg];
            for ci in 0..cig {
                for t in 0..kh * kw {
                    bmat[(t * cig + ci) * cog + co] = wo[ci * kh * kw + t];
                }
            }
        }
        let packed = quantize_pack_b_s8(kg, cog, &bmat, cog, false)
            .map_err(|e| lw.malformed(format!("quantizing weights: {e}")))?;
        weight_bytes(&packed, &mut bytes);
    }
    let offset = lw.push_bytes(&bytes);
    if let Some(bv) = bias {
        if lw.numel(bv) != step.c_out || lw.ir_dtype(bv) != DType::F32 {
            return Err(lw.malformed(format!("bias {} must be f32[{}]", lw.g.ty(bv), step.c_out)));
        }
    }
    if let Some(r) = residual {
        if lw.numel(r) != lw.numel(y) {
            return Err(lw.malformed("residual must have the output's shape"));
        }
    }
    let (scratch, _) =
        lw.an.scratch[lw.node].ok_or_else(|| lw.malformed("int8 scratch was not planned"))?;
    step.x = lw.at(x)?;
    step.weights = PackedRef {
        offset,
        bytes: bytes.len() as u64,
    };
    step.bias = bias.map(|v| lw.at(v)).transpose()?;
    step.residual = residual.map(|v| lw.at(v)).transpose()?;
    step.act = act;
    step.y = lw.at(y)?;
    step.scratch = TensorRef::arena(scratch);
    lw.emit(Step::QuantConv(step));
    Ok(())
}

/// Arena scratch a quantized node needs (quantized activations; for conv also the NHWC copy,
/// the unfolded input and the pixel-major product). 0 for nodes that cannot be quantized.
pub(crate) fn scratch_bytes(g: &Graph, node: &Node) -> u64 {
    match &node.op {
        Op::MatMul | Op::Gemm { .. } | Op::FusedMatMul { .. } => matmul_dims(g, node)
            .and_then(|(m, k, _)| quant_a_len(m as usize, k as usize))
            .map_or(0, |b| b as u64),
        Op::Conv(attrs) | Op::FusedConv { attrs, .. } => conv_shape(g, node, attrs)
            .and_then(|s| s.scratch_layout())
            .map_or(0, |l| l.bytes),
        Op::NchwcConv { .. } => super::quant_nchwc::scratch_bytes(g, node),
        _ => 0,
    }
}
