//! [`eval_op`]: evaluate one IR op on concrete tensors. Checks arity and data availability, widens f16
//! to f32 around the op (rounding float results back to f16), then dispatches to the op family's file
//! with an exhaustive match.

use crate::access::OpResult;
use crate::cast::cast;
use crate::RefError;
use crate::{
    conv, elementwise as ew, fused, gather, generate, matmul, norm, pool, reduce, shape_ops as sh,
};
use infc_ir::{DType, Op, Tensor};

/// Evaluate `op` on `inputs`. Output shapes are computed from the concrete inputs alone.
///
/// f16 inputs are widened exactly to f32, the f32 path runs, and f32 outputs are rounded back to f16
/// when the op's data input was f16 (so f16 math is "f32 math, rounded once at the end").
/// `Cast`, `ConstantOfShape` and `Shape` handle every dtype natively. Opaque tensors (constants read
/// back from text IR without data) are rejected, except by `Shape`, which needs only the shape.
pub fn eval_op(op: &Op, inputs: &[&Tensor]) -> Result<Vec<Tensor>, RefError> {
    let name = op.name();
    let err = |msg: String| RefError::Op { op: name, msg };
    let arity = op.arity();
    if inputs.len() < arity.min_inputs || inputs.len() > arity.max_inputs {
        let want = match (arity.min_inputs, arity.max_inputs) {
            (a, b) if a == b => format!("{a}"),
            (a, usize::MAX) => format!("at least {a}"),
            (a, b) => format!("{a} to {b}"),
        };
        return Err(err(format!("expects {want} inputs, got {}", inputs.len())));
    }
    if !matches!(op, Op::Shape { .. }) {
        if let Some(i) = inputs.iter().position(|t| t.is_opaque()) {
            return Err(err(format!("input {i} has no data (opaque constant)")));
        }
    }
    let data_input = match op {
        Op::Cast { .. } | Op::ConstantOfShape { .. } | Op::Shape { .. } => None,
        Op::Where => Some(1),
        _ => Some(0),
    };
    let outputs = match data_input {
        Some(d) if inputs.iter().any(|t| t.dtype == DType::F16) => {
            let wide = inputs
                .iter()
                .map(|t| {
                    if t.dtype == DType::F16 {
                        cast(t, DType::F32)
                    } else {
                        Ok((*t).clone())
                    }
                })
                .collect::<OpResult<Vec<_>>>()
                .map_err(err)?;
            let refs: Vec<&Tensor> = wide.iter().collect();
            let outs = eval_native(op, &refs).map_err(err)?;
            if inputs[d].dtype == DType::F16 {
                outs.iter()
                    .map(|t| {
                        if t.dtype == DType::F32 {
                            cast(t, DType::F16)
                        } else {
                            Ok(t.clone())
                        }
                    })
                    .collect::<OpResult<Vec<_>>>()
                    .map_err(err)?
            } else {
                outs
            }
        }
        _ => eval_native(op, inputs).map_err(err)?,
    };
    debug_assert_eq!(
        outputs.len(),
        arity.outputs,
        "{name} produced the wrong number of outputs"
    );
    Ok(outputs)
}

/// Dispatch with arity already checked.
fn eval_native(op: &Op, x: &[&Tensor]) -> OpResult<Vec<Tensor>> {
    let opt = |i: usize| x.get(i).copied();
    let one = |r: OpResult<Tensor>| r.map(|t| vec![t]);
    match op {
        Op::Unary(u) => one(ew::unary(*u, x[0])),
        Op::Binary(b) => one(ew::binary(*b, x[0], x[1])),
        Op::Where => one(ew::where_(x[0], x[1], x[2])),
        Op::Cast { to } => one(cast(x[0], *to)),
        Op::Clip => one(ew::clip(x[0], x[1], x[2])),
        Op::Identity | Op::Dropout => Ok(vec![x[0].clone()]),
        Op::Conv(attrs) => one(conv::conv(attrs, x[0], x[1], opt(2))),
        Op::BatchNorm { epsilon } => one(norm::batch_norm(
            epsilon.get(),
            [x[0], x[1], x[2], x[3], x[4]],
        )),
        Op::MaxPool(attrs) => one(pool::max_pool(attrs, x[0])),
        Op::AveragePool {
            attrs,
            count_include_pad,
        } => one(pool::average_pool(attrs, *count_include_pad, x[0])),
        Op::GlobalAveragePool => one(pool::global_average_pool(x[0])),
        Op::Gemm {
            alpha,
            beta,
            trans_a,
            trans_b,
        } => one(matmul::gemm(
            alpha.get(),
            beta.get(),
            *trans_a,
            *trans_b,
            x[0],
            x[1],
            opt(2),
        )),
        Op::MatMul => one(matmul::matmul(x[0], x[1])),
        Op::Softmax { axis } => one(norm::softmax(*axis, x[0])),
        Op::LayerNorm { axis, epsilon } => {
            one(norm::layer_norm(*axis, epsilon.get(), x[0], x[1], opt(2)))
        }
        Op::Reduce { op, axes, keepdims } => {
            one(reduce::reduce(*op, axes.as_deref(), *keepdims, x[0]))
        }
        Op::Reshape { allowzero } => one(sh::reshape(*allowzero, x[0], x[1])),
        Op::Flatten { axis } => one(sh::flatten(*axis, x[0])),
        Op::Transpose { perm } => one(sh::transpose(perm, x[0])),
        Op::Concat { axis } => one(sh::concat(*axis, x)),
        Op::Split { axis, splits } => sh::split(*axis, splits, x[0]),
        Op::Slice => one(sh::slice(x[0], x[1], x[2], x[3], x[4])),
        Op::Gather { axis } => one(gather::gather(*axis, x[0], x[1])),
        Op::GatherND { batch_dims } => one(gather::gather_nd(*batch_dims, x[0], x[1])),
        Op::Unsqueeze { axes } => one(sh::unsqueeze(axes, x[0])),
        Op::Squeeze { axes } => one(sh::squeeze(axes.as_deref(), x[0])),
        Op::Shape { start, end } => one(sh::shape_of(*start, *end, x[0])),
        Op::Range => one(generate::range(x[0], x[1], x[2])),
        Op::Expand => one(sh::expand(x[0], x[1])),
        Op::ConstantOfShape { dtype, value_bits } => {
            one(generate::constant_of_shape(*dtype, *value_bits, x[0]))
        }
        Op::Trilu { upper } => one(generate::trilu(*upper, x[0], opt(1))),
        Op::Gelu { tanh } => one(fused::gelu(*tanh, x[0])),
        Op::FusedConv { attrs, epilogue } => one(fused::fused_conv(attrs, epilogue, x)),
        Op::FusedMatMul { epilogue } => one(fused::fused_matmul(epilogue, x)),
        Op::SkipLayerNorm { epsilon } => fused::skip_layer_norm(epsilon.get(), x),
        Op::Attention {
            num_heads,
            scale,
            causal,
        } => one(fused::attention(*num_heads, scale.get(), *causal, x)),
    }
}
