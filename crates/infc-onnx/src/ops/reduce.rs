//! ReduceMean/Sum/Max/Min/Prod: axes from the attribute (older opsets) or the constant second input
//! (ReduceSum from opset 13, the others from 18), `keepdims`, and `noop_with_empty_axes` (which turns
//! an axis-less reduction into Identity).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{Op, ReduceOp};

pub(super) fn reduce(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let op = match cx.proto.op_type.as_str() {
        "ReduceMean" => ReduceOp::Mean,
        "ReduceSum" => ReduceOp::Sum,
        "ReduceMax" => ReduceOp::Max,
        "ReduceMin" => ReduceOp::Min,
        "ReduceProd" => ReduceOp::Prod,
        other => unreachable!("dispatched {other} to reduce"),
    };
    let x = cx.req(0)?;
    let axes = match cx.const_ints_input(1, "axes")? {
        Some(a) => Some(a),
        None => cx.attr(cx.attrs.ints("axes"))?,
    };
    let keepdims = cx.attr(cx.attrs.flag("keepdims", true))?;
    let noop = cx.attr(cx.attrs.flag("noop_with_empty_axes", false))?;
    let axes = axes.filter(|a| !a.is_empty());
    let y = if axes.is_none() && noop {
        cx.emit1(Op::Identity, vec![x])?
    } else {
        cx.emit1(Op::Reduce { op, axes, keepdims }, vec![x])?
    };
    cx.finish(&[y])
}
