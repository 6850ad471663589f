//! [`eval_op`]: evaluate one IR op on concrete tensors. Checks arity and data availability, widens f16
//! to f32 around the op (rounding float results back to f16), then dispatches to the op family's file
//! with an exhaustive match.

use crate::access::OpResult;
use crate::cast::cast;
use crate::RefError;
use crate::{
    conv, elementwise as ew, fused, gather, generate, matmul, nchwc, norm, pool, reduce, scan,
    shape_ops as sh,
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
        Op::GatherElements { axis } => one(gather::gather_elements(*axis, x[0], x[1])),
        Op::Unsqueeze { axes } => one(sh::unsqueeze(axes, x[0])),
        Op::Squeeze { axes } => one(sh::squeeze(axes.as_deref(), x[0])),
        Op::Shape { start, end } => one(sh::shape_of(*start, *end, x[0])),
        Op::Range => one(generate::range(x[0], x[1], x[2])),
        Op::Expand => one(sh::expand(x[0], x[1])),
        Op::ConstantOfShape { dtype, value_bits } => {
            one(generate::constant_of_shape(*dtype, *value_bits, x[0]))
        }
        Op::Trilu { upper } => one(generate::trilu(*upper, x[0], opt(1))),
        Op::CumSum { exclusive, reverse } => one(scan::cumsum(*exclusive, *reverse, x[0], x[1])),
        Op::Gelu { tanh } => one(fused::gelu(*tanh, x[0])),
        Op::FusedConv { attrs, epilogue } => one(fused::fused_conv(attrs, epilogue, x)),
        Op::FusedMatMul {
            epilogue,
            trans_a,
            trans_b,
        } => one(fused::fused_matmul(epilogue, *trans_a, *trans_b, x)),
        Op::SkipLayerNorm { epsilon } => fused::skip_layer_norm(epsilon.get(), x),
        Op::RmsNorm { epsilon } => one(fused::rms_norm(epsilon.get(), x[0], x[1])),
        Op::Attention {
            num_heads,
            scale,
            causal,
            masking,
        } => one(fused::attention(
            *num_heads,
            scale.get(),
            *causal,
            *masking,
            x,
        )),
        Op::Reorder {
            to_blocked: true,
            block,
            ..
        } => one(nchwc::to_blocked(x[0], *block)),
        Op::Reorder {
            to_blocked: false,
            channels,
            ..
        } => one(nchwc::from_blocked(x[0], *channels)),
        Op::NchwcConv {
            attrs,
            epilogue,
            block,
        } => one(nchwc::conv(attrs, epilogue, *block, x)),
        Op::NchwcMaxPool(attrs) => one(nchwc::max_pool(attrs, x[0])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use half::f16;
    use infc_ir::{BinaryOp, ConvAttrs, Float, ReduceOp, UnaryOp};

    fn msg(r: Result<Vec<Tensor>, RefError>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn arity_and_opaque_errors_name_the_op() {
        let x = f32t(&[2], &[1., 2.]);
        assert_eq!(
            msg(eval_op(&Op::MatMul, &[&x])),
            "MatMul: expects 2 inputs, got 1"
        );
        assert_eq!(
            msg(eval_op(&Op::Concat { axis: 0 }, &[])),
            "Concat: expects at least 1 inputs, got 0"
        );
        assert_eq!(
            msg(eval_op(&Op::Trilu { upper: true }, &[&x, &x, &x])),
            "Trilu: expects 1 to 2 inputs, got 3"
        );
        let opaque = Tensor::opaque(DType::F32, vec![2, 3], 1);
        let e = msg(eval_op(&Op::Binary(BinaryOp::Add), &[&x, &opaque]));
        assert_eq!(e, "Add: input 1 has no data (opaque constant)");
        let s = eval_op(
            &Op::Shape {
                start: 0,
                end: None,
            },
            &[&opaque],
        )
        .unwrap();
        assert_eq!(i64s(&s[0]), vec![2, 3]);
        let e = msg(eval_op(&Op::Gather { axis: 0 }, &[&x, &i64t(&[1], &[2])]));
        assert_eq!(e, "Gather: index 2 is out of range for axis 0 of size 2");
    }

    fn f16t(v: &[f32]) -> Tensor {
        Tensor::from_vec(vec![v.len()], v.iter().map(|&x| f16::from_f32(x)).collect()).unwrap()
    }

    fn f16s(t: &Tensor) -> Vec<f32> {
        assert_eq!(t.dtype, DType::F16);
        t.view::<f16>()
            .unwrap()
            .iter()
            .map(|v| v.to_f32())
            .collect()
    }

    #[test]
    fn f16_is_computed_in_f32_and_rounded_back() {
        let a = f16t(&[1.0, 2048.0]);
        let b = f16t(&[1.0 / 1024.0, 1.0]);
        // 1 + 2^-10 is representable in f16; 2048 + 1 is not (spacing 2): ties to even → 2048.
        let y = eval_op(&Op::Binary(BinaryOp::Add), &[&a, &b]).unwrap();
        assert_eq!(f16s(&y[0]), vec![1.0 + 1.0 / 1024.0, 2048.0]);
        let y = eval_op(&Op::Unary(UnaryOp::Sqrt), &[&f16t(&[4.0, 2.0])]).unwrap();
        assert_eq!(f16s(&y[0]), vec![2.0, f16::from_f32(2f32.sqrt()).to_f32()]);
        let c = boolt(&[2], &[true, false]);
        let y = eval_op(&Op::Where, &[&c, &a, &b]).unwrap();
        assert_eq!(f16s(&y[0]), vec![1.0, 1.0]);
        let y = eval_op(&Op::Binary(BinaryOp::Less), &[&a, &b]).unwrap();
        assert_eq!(boolv(&y[0]), vec![false, false]);
        // f32 data with an f16 parameter stays f32.
        let x = f32t(&[1, 2], &[1., 2.]);
        let y = eval_op(
            &Op::LayerNorm {
                axis: -1,
                epsilon: Float::new(0.0),
            },
            &[&x, &f16t(&[1.0, 1.0])],
        )
        .unwrap();
        assert_eq!(y[0].dtype, DType::F32);
        let y = eval_op(
            &Op::Shape {
                start: 0,
                end: None,
            },
            &[&a],
        )
        .unwrap();
        assert_eq!(i64s(&y[0]), vec![2]);
    }

    #[test]
    fn dispatch_passes_optional_and_multiple_inputs() {
        let x = f32t(&[1, 1, 2, 2], &[1., 2., 3., 4.]);
        let w = f32t(&[1, 1, 1, 1], &[2.]);
        let b = f32t(&[1], &[0.5]);
        let conv = Op::Conv(ConvAttrs {
            kernel: vec![1, 1],
            strides: vec![],
            pads: vec![],
            dilations: vec![],
            group: 1,
        });
        assert_eq!(
            f32s(&eval_op(&conv, &[&x, &w, &b]).unwrap()[0]),
            vec![2.5, 4.5, 6.5, 8.5]
        );
        assert_eq!(
            f32s(&eval_op(&conv, &[&x, &w]).unwrap()[0]),
            vec![2., 4., 6., 8.]
        );
        let m = f32t(&[2, 2], &[1., 2., 3., 4.]);
        let gemm = Op::Gemm {
            alpha: Float::new(1.0),
            beta: Float::new(1.0),
            trans_a: false,
            trans_b: true,
        };
        assert_eq!(
            f32s(&eval_op(&gemm, &[&m, &m, &f32t(&[], &[1.])]).unwrap()[0]),
            vec![6., 12., 12., 26.]
        );
        let split = Op::Split {
            axis: 0,
            splits: vec![1, 1],
        };
        let parts = eval_op(&split, &[&m]).unwrap();
        assert_eq!(
            (f32s(&parts[0]), f32s(&parts[1])),
            (vec![1., 2.], vec![3., 4.])
        );
        let clip = eval_op(&Op::Clip, &[&m, &f32t(&[], &[2.]), &f32t(&[], &[3.])]).unwrap();
        assert_eq!(f32s(&clip[0]), vec![2., 2., 3., 3.]);
        let one = i64t(&[1], &[1]);
        let sl = eval_op(&Op::Slice, &[&m, &one, &i64t(&[1], &[2]), &one, &one]).unwrap();
        assert_eq!(f32s(&sl[0]), vec![2., 4.]);
        let mean = Op::Reduce {
            op: ReduceOp::Mean,
            axes: Some(vec![-1]),
            keepdims: false,
        };
        assert_eq!(f32s(&eval_op(&mean, &[&m]).unwrap()[0]), vec![1.5, 3.5]);
        let tri = eval_op(&Op::Trilu { upper: false }, &[&m, &i64t(&[], &[-1])]).unwrap();
        assert_eq!(f32s(&tri[0]), vec![0., 0., 3., 0.]);
        let skip = Op::SkipLayerNorm {
            epsilon: Float::new(0.0),
        };
        let two = f32t(&[2], &[1., 1.]);
        let outs = eval_op(&skip, &[&m, &m, &two, &f32t(&[2], &[0., 0.])]).unwrap();
        assert_eq!(outs.len(), 2);
        assert_eq!(f32s(&outs[1]), vec![2., 4., 6., 8.]);
        let id = eval_op(&Op::Dropout, &[&m]).unwrap();
        assert_eq!(f32s(&id[0]), f32s(&m));
    }
}
