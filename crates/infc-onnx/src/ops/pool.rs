//! Pooling: MaxPool / AveragePool (window attributes resolved like Conv's, `ceil_mode`,
//! `count_include_pad`), GlobalAveragePool, and GlobalMaxPool (as ReduceMax over the spatial axes).

use super::conv::window_attrs;
use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{Op, PoolAttrs, ReduceOp};

pub(super) fn pool(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let kernel = cx
        .attr(cx.attrs.usizes("kernel_shape"))?
        .ok_or_else(|| cx.err("attribute 'kernel_shape' is missing"))?;
    if kernel.contains(&0) {
        return Err(cx.err("attribute 'kernel_shape' contains 0"));
    }
    let win = window_attrs(cx, x, kernel)?;
    let ceil_mode = cx.attr(cx.attrs.flag("ceil_mode", false))?;
    let attrs = PoolAttrs {
        kernel: win.kernel,
        strides: win.strides,
        pads: win.pads,
        dilations: win.dilations,
        ceil_mode,
    };
    let op = if cx.proto.op_type == "MaxPool" {
        if cx.wants_output(1) {
            return Err(cx.err("MaxPool's Indices output is not supported"));
        }
        Op::MaxPool(attrs)
    } else {
        let count_include_pad = cx.attr(cx.attrs.flag("count_include_pad", false))?;
        Op::AveragePool {
            attrs,
            count_include_pad,
        }
    };
    let y = cx.emit1(op, vec![x])?;
    cx.finish(&[y])
}

pub(super) fn global(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let y = if cx.proto.op_type == "GlobalAveragePool" {
        cx.emit1(Op::GlobalAveragePool, vec![x])?
    } else {
        let rank = cx.ty(x).rank() as i64;
        if rank < 3 {
            return Err(cx.err(format!("input {} must have rank ≥ 3", cx.ty(x))));
        }
        cx.emit1(
            Op::Reduce {
                op: ReduceOp::Max,
                axes: Some((2..rank).collect()),
                keepdims: true,
            },
            vec![x],
        )?
    };
    cx.finish(&[y])
}
