//! MatMul (numpy semantics) and Gemm (alpha, beta, transA, transB, optional C).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{Float, Op};

pub(super) fn matmul(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let (a, b) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::MatMul, vec![a, b])?;
    cx.finish(&[y])
}

pub(super) fn gemm(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let op = Op::Gemm {
        alpha: Float::new(cx.attr(cx.attrs.float_or("alpha", 1.0))?),
        beta: Float::new(cx.attr(cx.attrs.float_or("beta", 1.0))?),
        trans_a: cx.attr(cx.attrs.flag("transA", false))?,
        trans_b: cx.attr(cx.attrs.flag("transB", false))?,
    };
    let mut ins = vec![cx.req(0)?, cx.req(1)?];
    ins.extend(cx.input(2));
    let y = cx.emit1(op, ins)?;
    cx.finish(&[y])
}
