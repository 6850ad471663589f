//! Element-type rules per op: which inputs must share a dtype, which must be float, integer or bool,
//! and what the output dtype is (comparisons give bool, `Cast` gives `to`, `Shape` gives i64, …).

use super::NodeCx;
use crate::{BinaryOp, DType, Op, UnaryOp};

fn dtype_in(cx: &NodeCx, i: usize) -> DType {
    cx.ty_in(i).dtype
}

/// Input `i` (if present) has dtype `want`.
fn input_is(cx: &NodeCx, i: usize, want: DType) -> Result<(), String> {
    match cx.node.inputs.get(i) {
        Some(_) if dtype_in(cx, i) != want => Err(format!(
            "{} is {}, expected {want}",
            cx.in_desc(i),
            dtype_in(cx, i)
        )),
        _ => Ok(()),
    }
}

/// Input `i` (if present) satisfies `pred`, described as `what` ("float", "integer", …).
fn input_kind(cx: &NodeCx, i: usize, what: &str, pred: fn(DType) -> bool) -> Result<(), String> {
    match cx.node.inputs.get(i) {
        Some(_) if !pred(dtype_in(cx, i)) => Err(format!(
            "{} is {}, expected {what}",
            cx.in_desc(i),
            dtype_in(cx, i)
        )),
        _ => Ok(()),
    }
}

fn is_index(d: DType) -> bool {
    matches!(d, DType::I64 | DType::I32)
}

fn is_numeric(d: DType) -> bool {
    d != DType::Bool
}

/// Every listed input (those present) has the dtype of the first one listed.
fn same_inputs(cx: &NodeCx, idx: &[usize]) -> Result<(), String> {
    let present: Vec<usize> = idx.iter().copied().filter(|&i| i < cx.n_in()).collect();
    let Some((&first, rest)) = present.split_first() else {
        return Ok(());
    };
    for &i in rest {
        if dtype_in(cx, i) != dtype_in(cx, first) {
            return Err(format!(
                "{} is {} but {} is {}",
                cx.in_desc(i),
                dtype_in(cx, i),
                cx.in_desc(first),
                dtype_in(cx, first)
            ));
        }
    }
    Ok(())
}

/// Every output has dtype `want`.
fn outputs_are(cx: &NodeCx, want: DType) -> Result<(), String> {
    for i in 0..cx.node.outputs.len() {
        let got = cx.ty_out(i).dtype;
        if got != want {
            return Err(format!("{} is {got}, expected {want}", cx.out_desc(i)));
        }
    }
    Ok(())
}

/// Outputs have the dtype of input 0.
fn outputs_like_input0(cx: &NodeCx) -> Result<(), String> {
    outputs_are(cx, dtype_in(cx, 0))
}

fn float_in_out(cx: &NodeCx, inputs: &[usize]) -> Result<(), String> {
    input_kind(cx, 0, "a float type", DType::is_float)?;
    same_inputs(cx, inputs)?;
    outputs_like_input0(cx)
}

pub(super) fn check(cx: &NodeCx) -> Result<(), String> {
    match &cx.node.op {
        Op::Unary(u) => match u {
            UnaryOp::IsNaN => {
                input_kind(cx, 0, "a float type", DType::is_float)?;
                outputs_are(cx, DType::Bool)
            }
            UnaryOp::Not => {
                input_is(cx, 0, DType::Bool)?;
                outputs_are(cx, DType::Bool)
            }
            UnaryOp::Relu | UnaryOp::Neg | UnaryOp::Abs => {
                input_kind(cx, 0, "a numeric type", is_numeric)?;
                outputs_like_input0(cx)
            }
            UnaryOp::Sqrt
            | UnaryOp::Erf
            | UnaryOp::Tanh
            | UnaryOp::Sigmoid
            | UnaryOp::Exp
            | UnaryOp::Log
            | UnaryOp::Reciprocal
            | UnaryOp::Floor
            | UnaryOp::Ceil
            | UnaryOp::Sin
            | UnaryOp::Cos => float_in_out(cx, &[0]),
        },
        Op::Binary(b) => {
            same_inputs(cx, &[0, 1])?;
            match b {
                BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
                    input_is(cx, 0, DType::Bool)?;
                    outputs_are(cx, DType::Bool)
                }
                BinaryOp::Equal
                | BinaryOp::Less
                | BinaryOp::LessOrEqual
                | BinaryOp::Greater
                | BinaryOp::GreaterOrEqual => outputs_are(cx, DType::Bool),
                BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Pow
                | BinaryOp::Max
                | BinaryOp::Min
                | BinaryOp::Mod
                | BinaryOp::FMod => {
                    input_kind(cx, 0, "a numeric type", is_numeric)?;
                    outputs_like_input0(cx)
                }
            }
        }
        Op::Where => {
            input_is(cx, 0, DType::Bool)?;
            same_inputs(cx, &[1, 2])?;
            outputs_are(cx, dtype_in(cx, 1))
        }
        Op::Cast { to } => outputs_are(cx, *to),
        Op::Clip => {
            input_kind(cx, 0, "a numeric type", is_numeric)?;
            same_inputs(cx, &[0, 1, 2])?;
            outputs_like_input0(cx)
        }
        Op::Identity | Op::Dropout => outputs_like_input0(cx),
        Op::Conv(_) => float_in_out(cx, &[0, 1, 2]),
        Op::BatchNorm { .. } => float_in_out(cx, &[0, 1, 2, 3, 4]),
        Op::MaxPool(_) => {
            input_kind(cx, 0, "a numeric type", is_numeric)?;
            outputs_like_input0(cx)
        }
        Op::AveragePool { .. } | Op::GlobalAveragePool => float_in_out(cx, &[0]),
        Op::Gemm { .. } | Op::MatMul => {
            input_kind(cx, 0, "a numeric type", is_numeric)?;
            same_inputs(cx, &[0, 1, 2])?;
            outputs_like_input0(cx)
        }
        Op::Softmax { .. } => float_in_out(cx, &[0]),
        Op::LayerNorm { .. } => float_in_out(cx, &[0, 1, 2]),
        Op::RmsNorm { .. } => float_in_out(cx, &[0, 1]),
        Op::Reduce { .. } => {
            input_kind(cx, 0, "a numeric type", is_numeric)?;
            outputs_like_input0(cx)
        }
        Op::Reshape { .. } | Op::Expand => {
            input_is(cx, 1, DType::I64)?;
            outputs_like_input0(cx)
        }
        Op::Flatten { .. } | Op::Transpose { .. } | Op::Unsqueeze { .. } | Op::Squeeze { .. } => {
            outputs_like_input0(cx)
        }
        Op::Concat { .. } => {
            let all: Vec<usize> = (0..cx.n_in()).collect();
            same_inputs(cx, &all)?;
            outputs_like_input0(cx)
        }
        Op::Split { .. } => outputs_like_input0(cx),
        Op::Slice => {
            for i in 1..5 {
                input_kind(cx, i, "i64 or i32", is_index)?;
            }
            same_inputs(cx, &[1, 2, 3, 4])?;
            outputs_like_input0(cx)
        }
        Op::Gather { .. } | Op::GatherND { .. } | Op::GatherElements { .. } => {
            input_kind(cx, 1, "i64 or i32", is_index)?;
            outputs_like_input0(cx)
        }
        Op::Shape { .. } => outputs_are(cx, DType::I64),
        Op::Range => {
            input_kind(cx, 0, "a numeric type", is_numeric)?;
            same_inputs(cx, &[0, 1, 2])?;
            outputs_like_input0(cx)
        }
        Op::ConstantOfShape { dtype, .. } => {
            input_is(cx, 0, DType::I64)?;
            outputs_are(cx, *dtype)
        }
        Op::Trilu { .. } => {
            input_is(cx, 1, DType::I64)?;
            outputs_like_input0(cx)
        }
        Op::CumSum { .. } => {
            input_kind(cx, 0, "f32, f16, i64 or i32", |d| {
                matches!(d, DType::F32 | DType::F16 | DType::I64 | DType::I32)
            })?;
            input_kind(cx, 1, "i64 or i32", is_index)?;
            outputs_like_input0(cx)
        }
        Op::Gelu { .. } => float_in_out(cx, &[0]),
        Op::Reorder { .. } | Op::NchwcMaxPool(_) => {
            input_is(cx, 0, DType::F32)?;
            outputs_are(cx, DType::F32)
        }
        Op::FusedConv { .. }
        | Op::SkipLayerNorm { .. }
        | Op::Attention { .. }
        | Op::NchwcConv { .. } => {
            let all: Vec<usize> = (0..cx.n_in()).collect();
            float_in_out(cx, &all)
        }
        Op::FusedMatMul { .. } => {
            input_kind(cx, 0, "a numeric type", is_numeric)?;
            let all: Vec<usize> = (0..cx.n_in()).collect();
            same_inputs(cx, &all)?;
            outputs_like_input0(cx)
        }
    }
}
