//! Elementwise ops: unary math (Relu, Sqrt, Erf, Tanh, …), binary arithmetic (Add, Sub, Mul, Div, Mod,
//! Pow), variadic Max/Min/Sum/Mean (chained binary ops), Cast/CastLike, Clip (opset < 11 attributes or
//! ≥ 11 optional inputs, absent bounds materialised as the dtype's extremes), Identity, Dropout
//! (inference mode; the optional mask output is a constant-true tensor), and Gelu (opset 20).

use crate::import::NodeCx;
use crate::tensor::dtype_from_onnx;
use crate::OnnxError;
use infc_ir::{BinaryOp, DType, Op, UnaryOp};

pub(super) fn unary(cx: &mut NodeCx) -> Result<(), OnnxError> {
    // The IR's unary names are the ONNX op types; `translator` routes only those here.
    let op_type = cx.proto.op_type.as_str();
    let u = UnaryOp::from_name(op_type)
        .unwrap_or_else(|| unreachable!("dispatched {op_type} to unary"));
    let x = cx.req(0)?;
    let y = cx.emit1(Op::Unary(u), vec![x])?;
    cx.finish(&[y])
}

pub(super) fn binary_op(op_type: &str) -> Option<BinaryOp> {
    Some(match op_type {
        "Add" | "Sum" | "Mean" => BinaryOp::Add,
        "Sub" => BinaryOp::Sub,
        "Mul" => BinaryOp::Mul,
        "Div" => BinaryOp::Div,
        "Pow" => BinaryOp::Pow,
        "Max" => BinaryOp::Max,
        "Min" => BinaryOp::Min,
        "Equal" => BinaryOp::Equal,
        "Less" => BinaryOp::Less,
        "LessOrEqual" => BinaryOp::LessOrEqual,
        "Greater" => BinaryOp::Greater,
        "GreaterOrEqual" => BinaryOp::GreaterOrEqual,
        "And" => BinaryOp::And,
        "Or" => BinaryOp::Or,
        "Xor" => BinaryOp::Xor,
        _ => return None,
    })
}

/// ONNX Mod: `fmod=0` (integers, the divisor's sign) or `fmod=1` (C fmod).
pub(super) fn modulo(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let op = match cx.attr(cx.attrs.int("fmod"))?.unwrap_or(0) {
        0 => BinaryOp::Mod,
        1 => BinaryOp::FMod,
        v => return Err(cx.err(format!("attribute 'fmod' must be 0 or 1, got {v}"))),
    };
    let (a, b) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::Binary(op), vec![a, b])?;
    cx.finish(&[y])
}

pub(super) fn binary(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let op = binary_op(&cx.proto.op_type).expect("dispatched a binary op");
    let (a, b) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::Binary(op), vec![a, b])?;
    cx.finish(&[y])
}

/// Max/Min/Sum/Mean over 1..n inputs: a left-to-right chain of binary ops (Mean divides at the end).
pub(super) fn variadic(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let op = binary_op(&cx.proto.op_type).expect("dispatched a variadic op");
    let inputs = cx.all_inputs(1)?;
    let mut acc = inputs[0];
    if inputs.len() == 1 {
        acc = cx.emit1(Op::Identity, vec![acc])?;
    }
    for &v in &inputs[1..] {
        acc = cx.emit1(Op::Binary(op), vec![acc, v])?;
    }
    if cx.proto.op_type == "Mean" && inputs.len() > 1 {
        let dtype = cx.ty(acc).dtype;
        let n = cx.scalar("count", dtype, inputs.len() as f64)?;
        acc = cx.emit1(Op::Binary(BinaryOp::Div), vec![acc, n])?;
    }
    cx.finish(&[acc])
}

pub(super) fn cast(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let to = if cx.proto.op_type == "CastLike" {
        cx.ty(cx.req(1)?).dtype
    } else {
        let code = cx
            .attr(cx.attrs.int("to"))?
            .ok_or_else(|| cx.err("attribute 'to' is missing"))?;
        let code = i32::try_from(code)
            .map_err(|_| cx.err(format!("attribute 'to' = {code} is not a data type")))?;
        dtype_from_onnx(code).map_err(|t| cx.err(format!("cast to unsupported data type {t}")))?
    };
    let y = cx.emit1(Op::Cast { to }, vec![x])?;
    cx.finish(&[y])
}

/// Lowest and highest value of a dtype, as f64 (±inf for floats).
fn dtype_bounds(d: DType) -> (f64, f64) {
    match d {
        DType::F32 | DType::F16 => (f64::NEG_INFINITY, f64::INFINITY),
        DType::I64 => (i64::MIN as f64, i64::MAX as f64),
        DType::I32 => (i32::MIN as f64, i32::MAX as f64),
        DType::I8 => (i8::MIN as f64, i8::MAX as f64),
        DType::U8 => (0.0, 255.0),
        DType::Bool => (0.0, 1.0),
    }
}

pub(super) fn clip(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let dtype = cx.ty(x).dtype;
    let (lo, hi) = dtype_bounds(dtype);
    let (min, max) = if cx.opset < 11 {
        let min = cx.attr(cx.attrs.float("min"))?.map_or(lo, f64::from);
        let max = cx.attr(cx.attrs.float("max"))?.map_or(hi, f64::from);
        (cx.scalar("min", dtype, min)?, cx.scalar("max", dtype, max)?)
    } else {
        let min = match cx.input(1) {
            Some(v) => v,
            None => cx.scalar("min", dtype, lo)?,
        };
        let max = match cx.input(2) {
            Some(v) => v,
            None => cx.scalar("max", dtype, hi)?,
        };
        (min, max)
    };
    let y = cx.emit1(Op::Clip, vec![x, min, max])?;
    cx.finish(&[y])
}

pub(super) fn identity(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let y = cx.emit1(Op::Identity, vec![x])?;
    cx.finish(&[y])
}

pub(super) fn dropout(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let training = if cx.opset >= 12 {
        match cx.input(2) {
            None => false,
            Some(v) => {
                let t = cx
                    .graph()
                    .const_of(v)
                    .ok_or_else(|| cx.err("input 2 (training_mode) must be a constant"))?;
                t.to_f64_vec()
                    .map_err(|e| cx.err(e.to_string()))?
                    .iter()
                    .any(|&b| b != 0.0)
            }
        }
    } else {
        !cx.attr(cx.attrs.flag("is_test", true))?
    };
    if training {
        return Err(cx.err("training-mode Dropout is not supported (inference only)"));
    }
    let y = cx.emit1(Op::Dropout, vec![x])?;
    let mut outs = vec![y];
    if cx.wants_output(1) {
        let shape = cx.emit1(
            Op::Shape {
                start: 0,
                end: None,
            },
            vec![x],
        )?;
        let mask = cx.emit1(
            Op::ConstantOfShape {
                dtype: DType::Bool,
                value_bits: 1f64.to_bits(),
            },
            vec![shape],
        )?;
        outs.push(mask);
    }
    cx.finish(&outs)
}

/// Gelu (opset 20): `approximate="none"` (erf form) or `"tanh"`, straight to the IR's Gelu op.
pub(super) fn gelu(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let approx = cx
        .attr(cx.attrs.string("approximate"))?
        .unwrap_or_else(|| "none".into());
    let tanh = match approx.as_str() {
        "none" => false,
        "tanh" => true,
        other => {
            return Err(cx.err(format!(
                "attribute 'approximate' must be \"none\" or \"tanh\", got \"{other}\""
            )))
        }
    };
    let y = cx.emit1(Op::Gelu { tanh }, vec![x])?;
    cx.finish(&[y])
}
