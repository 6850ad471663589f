//! Elementwise lowerings: Unary, Binary (broadcast → strides), Where, Cast, Clip. Dtype support is
//! checked here so the runtime only ever sees combinations it implements.

use super::strides::{broadcast, contiguous, simplify, unsigned};
use super::Lowerer;
use crate::error::CompileError;
use infc_ir::{BinaryOp, DType, UnaryOp};
use infc_plan::{
    BinaryKind, BinaryStep, CastStep, ClipStep, Step, UnaryKind, UnaryStep, WhereStep, MAX_RANK,
};

pub(crate) fn unary_kind(u: UnaryOp) -> UnaryKind {
    match u {
        UnaryOp::Relu => UnaryKind::Relu,
        UnaryOp::Sqrt => UnaryKind::Sqrt,
        UnaryOp::Erf => UnaryKind::Erf,
        UnaryOp::Tanh => UnaryKind::Tanh,
        UnaryOp::Sigmoid => UnaryKind::Sigmoid,
        UnaryOp::Exp => UnaryKind::Exp,
        UnaryOp::Log => UnaryKind::Log,
        UnaryOp::Neg => UnaryKind::Neg,
        UnaryOp::Abs => UnaryKind::Abs,
        UnaryOp::Reciprocal => UnaryKind::Reciprocal,
        UnaryOp::Floor => UnaryKind::Floor,
        UnaryOp::Ceil => UnaryKind::Ceil,
        UnaryOp::Sin => UnaryKind::Sin,
        UnaryOp::Cos => UnaryKind::Cos,
        UnaryOp::IsNaN => UnaryKind::IsNaN,
        UnaryOp::Not => UnaryKind::Not,
    }
}

/// The plan's kind of a binary op (`None`: no kernel; the op must fold away).
pub(crate) fn binary_kind(b: BinaryOp) -> Option<BinaryKind> {
    Some(match b {
        BinaryOp::Add => BinaryKind::Add,
        BinaryOp::Sub => BinaryKind::Sub,
        BinaryOp::Mul => BinaryKind::Mul,
        BinaryOp::Div => BinaryKind::Div,
        BinaryOp::Pow => BinaryKind::Pow,
        BinaryOp::Max => BinaryKind::Max,
        BinaryOp::Min => BinaryKind::Min,
        BinaryOp::Equal => BinaryKind::Equal,
        BinaryOp::Less => BinaryKind::Less,
        BinaryOp::LessOrEqual => BinaryKind::LessOrEqual,
        BinaryOp::Greater => BinaryKind::Greater,
        BinaryOp::GreaterOrEqual => BinaryKind::GreaterOrEqual,
        BinaryOp::And => BinaryKind::And,
        BinaryOp::Or => BinaryKind::Or,
        BinaryOp::Xor => BinaryKind::Xor,
        BinaryOp::Mod | BinaryOp::FMod => return None,
    })
}

fn unary_supported(u: UnaryOp, d: DType) -> bool {
    match u {
        UnaryOp::Not => d == DType::Bool,
        UnaryOp::IsNaN => d == DType::F32,
        UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Relu => {
            matches!(d, DType::F32 | DType::I64 | DType::I32 | DType::I8)
        }
        _ => d == DType::F32,
    }
}

fn binary_supported(b: BinaryOp, d: DType) -> bool {
    use BinaryOp::*;
    match b {
        And | Or | Xor => d == DType::Bool,
        Equal => matches!(d, DType::F32 | DType::I64 | DType::I32 | DType::Bool),
        _ => matches!(d, DType::F32 | DType::I64 | DType::I32),
    }
}

pub(crate) fn unary(lw: &mut Lowerer<'_>, u: UnaryOp) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let d = lw.ir_dtype(x);
    if !unary_supported(u, d) {
        return Err(lw.unsupported(format!("{} on {d} tensors", lw.cur().op.name())));
    }
    let step = UnaryStep {
        op: unary_kind(u),
        dtype: lw.dtype(x),
        len: lw.numel(y),
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Unary(step));
    Ok(())
}

/// Emit a broadcasting binary step `y = a op b`.
pub(crate) fn emit_binary(
    lw: &mut Lowerer<'_>,
    op: BinaryOp,
    a: infc_ir::ValueId,
    b: infc_ir::ValueId,
    y: infc_ir::ValueId,
) -> Result<(), CompileError> {
    let d = lw.ir_dtype(a);
    let Some(kind) = binary_kind(op) else {
        return Err(lw.unsupported(format!(
            "{} has no kernel: it must fold away, so its inputs must be constants once the \
             input shapes are bound",
            op.name()
        )));
    };
    if !binary_supported(op, d) || lw.ir_dtype(b) != d {
        return Err(lw.unsupported(format!("{op:?} on {d} and {} tensors", lw.ir_dtype(b))));
    }
    let out = lw.shape(y);
    let (shape, s) = simplify(
        &out,
        &[
            broadcast(&lw.shape(a), &out),
            broadcast(&lw.shape(b), &out),
            contiguous(&out),
        ],
    );
    if shape.len() > MAX_RANK {
        return Err(lw.unsupported(format!(
            "broadcast needs rank {} (max {MAX_RANK})",
            shape.len()
        )));
    }
    let step = BinaryStep {
        op: kind,
        dtype: lw.dtype(a),
        a_strides: unsigned(&s[0]),
        b_strides: unsigned(&s[1]),
        shape,
        a: lw.at(a)?,
        b: lw.at(b)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Binary(step));
    Ok(())
}

pub(crate) fn binary(lw: &mut Lowerer<'_>, op: BinaryOp) -> Result<(), CompileError> {
    let (a, b, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    emit_binary(lw, op, a, b, y)
}

pub(crate) fn where_(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let (c, a, b, y) = (lw.input(0)?, lw.input(1)?, lw.input(2)?, lw.output(0)?);
    if lw.ir_dtype(c) != DType::Bool {
        return Err(lw.malformed(format!("condition is {}, expected bool", lw.ir_dtype(c))));
    }
    let out = lw.shape(y);
    let (shape, s) = simplify(
        &out,
        &[
            broadcast(&lw.shape(c), &out),
            broadcast(&lw.shape(a), &out),
            broadcast(&lw.shape(b), &out),
            contiguous(&out),
        ],
    );
    if shape.len() > MAX_RANK {
        return Err(lw.unsupported(format!(
            "broadcast needs rank {} (max {MAX_RANK})",
            shape.len()
        )));
    }
    let step = WhereStep {
        dtype: lw.dtype(y),
        cond_strides: unsigned(&s[0]),
        a_strides: unsigned(&s[1]),
        b_strides: unsigned(&s[2]),
        shape,
        cond: lw.at(c)?,
        a: lw.at(a)?,
        b: lw.at(b)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Where(step));
    Ok(())
}

pub(crate) fn cast(lw: &mut Lowerer<'_>, to: DType) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let step = CastStep {
        from: lw.dtype(x),
        to: super::plan_dtype(to),
        len: lw.numel(y),
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Cast(step));
    Ok(())
}

/// Clip with constant scalar bounds on f32 is one step; otherwise `Max` then `Min` (in place).
pub(crate) fn clip(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let (x, lo, hi, y) = (lw.input(0)?, lw.input(1)?, lw.input(2)?, lw.output(0)?);
    let scalar = |v: Option<Vec<f32>>| v.filter(|v| v.len() == 1).map(|v| v[0]);
    if lw.ir_dtype(x) == DType::F32 {
        if let (Some(min), Some(max)) = (scalar(lw.const_f32(lo)?), scalar(lw.const_f32(hi)?)) {
            let step = ClipStep {
                len: lw.numel(y),
                min,
                max,
                x: lw.at(x)?,
                y: lw.at(y)?,
            };
            lw.emit(Step::Clip(step));
            return Ok(());
        }
    }
    emit_binary(lw, BinaryOp::Max, x, lo, y)?;
    emit_binary(lw, BinaryOp::Min, y, hi, y)
}
