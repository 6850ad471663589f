//! CumSum: running sums along an axis given as a scalar input (`exclusive`, `reverse` flags).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::Op;

pub(super) fn cumsum(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let exclusive = cx.attr(cx.attrs.flag("exclusive", false))?;
    let reverse = cx.attr(cx.attrs.flag("reverse", false))?;
    let (x, axis) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::CumSum { exclusive, reverse }, vec![x, axis])?;
    cx.finish(&[y])
}
