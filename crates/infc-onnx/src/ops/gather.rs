//! Gather (one axis), GatherND (`batch_dims`) and GatherElements (one axis, element-wise).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::Op;

pub(super) fn gather(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let axis = cx.attr(cx.attrs.int_or("axis", 0))?;
    let (d, i) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::Gather { axis }, vec![d, i])?;
    cx.finish(&[y])
}

pub(super) fn gather_nd(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let b = cx.attr(cx.attrs.int_or("batch_dims", 0))?;
    let batch_dims =
        usize::try_from(b).map_err(|_| cx.err(format!("batch_dims {b} must be ≥ 0")))?;
    let (d, i) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::GatherND { batch_dims }, vec![d, i])?;
    cx.finish(&[y])
}

pub(super) fn gather_elements(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let axis = cx.attr(cx.attrs.int_or("axis", 0))?;
    let (d, i) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::GatherElements { axis }, vec![d, i])?;
    cx.finish(&[y])
}
