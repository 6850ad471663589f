//! Normalisation ops: BatchNormalization (inference mode only), LayerNormalization (opset 17;
//! the optional Mean/InvStdDev outputs are refused), InstanceNormalization (decomposed into
//! reductions and elementwise ops: the TorchScript exporter writes GroupNorm, e.g. Wav2Vec2's
//! feature extractor, as one on a reshaped tensor), and Softmax (opset ≥ 13 semantics directly;
//! older opsets' "flatten to 2-D at axis" semantics are decomposed as Flatten → Softmax → Reshape
//! when the axis is not the last one).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{BinaryOp, Float, Op, ReduceOp, UnaryOp};

pub(super) fn batch_norm(cx: &mut NodeCx) -> Result<(), OnnxError> {
    if cx.attr(cx.attrs.flag("training_mode", false))? {
        return Err(cx.err("training-mode BatchNormalization is not supported (inference only)"));
    }
    if (1..5).any(|i| cx.wants_output(i)) {
        return Err(cx.err(
            "BatchNormalization's running mean/var outputs are not supported (inference only)",
        ));
    }
    let epsilon = Float::new(cx.attr(cx.attrs.float_or("epsilon", 1e-5))?);
    let ins = (0..5).map(|i| cx.req(i)).collect::<Result<Vec<_>, _>>()?;
    let y = cx.emit1(Op::BatchNorm { epsilon }, ins)?;
    cx.finish(&[y])
}

pub(super) fn layer_norm(cx: &mut NodeCx) -> Result<(), OnnxError> {
    if cx.wants_output(1) || cx.wants_output(2) {
        return Err(cx.err("LayerNormalization's Mean/InvStdDev outputs are not supported"));
    }
    let axis = cx.attr(cx.attrs.int_or("axis", -1))?;
    let epsilon = Float::new(cx.attr(cx.attrs.float_or("epsilon", 1e-5))?);
    let mut ins = vec![cx.req(0)?, cx.req(1)?];
    ins.extend(cx.input(2));
    let y = cx.emit1(Op::LayerNorm { axis, epsilon }, ins)?;
    cx.finish(&[y])
}

/// `y = scale[c] · (x − mean) / sqrt(var + ε) + B[c]`, mean and (biased) variance over every dim
/// after the channel dim of `x: [N, C, D1, …]`, as ReduceMean, Sub, Mul, Add, Sqrt and Div nodes.
pub(super) fn instance_norm(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let epsilon = cx.attr(cx.attrs.float_or("epsilon", 1e-5))?;
    let (x, scale, bias) = (cx.req(0)?, cx.req(1)?, cx.req(2)?);
    let rank = cx.ty(x).rank();
    if rank < 3 {
        return Err(cx.err(format!(
            "InstanceNormalization needs an input of rank ≥ 3 ([N, C, D1, …]), got rank {rank}"
        )));
    }
    let dtype = cx.ty(x).dtype;
    let axes: Vec<i64> = (2..rank as i64).collect();
    let mean_of = |cx: &mut NodeCx, v| {
        cx.emit1(
            Op::Reduce {
                op: ReduceOp::Mean,
                axes: Some(axes.clone()),
                keepdims: true,
            },
            vec![v],
        )
    };
    let bin = |cx: &mut NodeCx, op, a, b| cx.emit1(Op::Binary(op), vec![a, b]);
    let mean = mean_of(cx, x)?;
    let centred = bin(cx, BinaryOp::Sub, x, mean)?;
    let squares = bin(cx, BinaryOp::Mul, centred, centred)?;
    let var = mean_of(cx, squares)?;
    let eps = cx.scalar("epsilon", dtype, epsilon as f64)?;
    let var_eps = bin(cx, BinaryOp::Add, var, eps)?;
    let std = cx.emit1(Op::Unary(UnaryOp::Sqrt), vec![var_eps])?;
    let normed = bin(cx, BinaryOp::Div, centred, std)?;
    // scale and B as [C, 1, …, 1], to broadcast over the spatial dims.
    let mut per_channel = vec![-1i64];
    per_channel.resize(rank - 1, 1);
    let shape = cx.ints("per_channel", &per_channel);
    let reshape = Op::Reshape { allowzero: false };
    let scale = cx.emit1(reshape.clone(), vec![scale, shape])?;
    let bias = cx.emit1(reshape, vec![bias, shape])?;
    let scaled = bin(cx, BinaryOp::Mul, normed, scale)?;
    let y = bin(cx, BinaryOp::Add, scaled, bias)?;
    cx.finish(&[y])
}

pub(super) fn softmax(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let rank = cx.ty(x).rank() as i64;
    let y = if cx.opset >= 13 {
        let axis = cx.attr(cx.attrs.int_or("axis", -1))?;
        cx.emit1(Op::Softmax { axis }, vec![x])?
    } else {
        let axis = cx.attr(cx.attrs.int_or("axis", 1))?;
        let a = if axis < 0 { axis + rank } else { axis };
        if !(0..rank.max(1)).contains(&a) {
            return Err(cx.err(format!("axis {axis} out of range for rank {rank}")));
        }
        if a == rank - 1 {
            cx.emit1(Op::Softmax { axis: -1 }, vec![x])?
        } else {
            let flat = cx.emit1(Op::Flatten { axis: a }, vec![x])?;
            let s = cx.emit1(Op::Softmax { axis: 1 }, vec![flat])?;
            let shape = cx.emit1(
                Op::Shape {
                    start: 0,
                    end: None,
                },
                vec![x],
            )?;
            cx.emit1(Op::Reshape { allowzero: false }, vec![s, shape])?
        }
    };
    cx.finish(&[y])
}
