//! Comparison and logic ops (Equal, Less[OrEqual], Greater[OrEqual], And, Or, Xor, Not, IsNaN), Where,
//! and Trilu (triangle masks).

use super::elementwise::binary_op;
use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{Op, UnaryOp};

pub(super) fn compare(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let op = binary_op(&cx.proto.op_type).expect("dispatched a comparison");
    let (a, b) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::Binary(op), vec![a, b])?;
    cx.finish(&[y])
}

pub(super) fn unary(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let u = if cx.proto.op_type == "Not" {
        UnaryOp::Not
    } else {
        UnaryOp::IsNaN
    };
    let x = cx.req(0)?;
    let y = cx.emit1(Op::Unary(u), vec![x])?;
    cx.finish(&[y])
}

pub(super) fn where_(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let ins = vec![cx.req(0)?, cx.req(1)?, cx.req(2)?];
    let y = cx.emit1(Op::Where, ins)?;
    cx.finish(&[y])
}

pub(super) fn trilu(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let upper = cx.attr(cx.attrs.flag("upper", true))?;
    let mut ins = vec![cx.req(0)?];
    ins.extend(cx.input(1));
    let y = cx.emit1(Op::Trilu { upper }, ins)?;
    cx.finish(&[y])
}
