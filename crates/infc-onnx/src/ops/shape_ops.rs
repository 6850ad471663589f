//! Shape and data-movement ops: Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Concat, Split,
//! Slice, Expand. Constant "attribute inputs" (Squeeze/Unsqueeze axes, Split sizes) are lifted into
//! op fields whatever the opset wrote them as; Slice always gets all five inputs (absent axes/steps
//! are materialised as constants; opset < 10 attributes become constants too).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{Dim, Op, ValueId};

pub(super) fn reshape(cx: &mut NodeCx) -> Result<(), OnnxError> {
    if cx.opset < 5 {
        return Err(cx.err("Reshape with a 'shape' attribute (opset < 5) is not supported"));
    }
    let allowzero = cx.attr(cx.attrs.flag("allowzero", false))?;
    let (x, s) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::Reshape { allowzero }, vec![x, s])?;
    cx.finish(&[y])
}

pub(super) fn flatten(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let axis = cx.attr(cx.attrs.int_or("axis", 1))?;
    let x = cx.req(0)?;
    let y = cx.emit1(Op::Flatten { axis }, vec![x])?;
    cx.finish(&[y])
}

pub(super) fn transpose(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let rank = cx.ty(x).rank();
    let perm = match cx.attr(cx.attrs.usizes("perm"))? {
        Some(p) => p,
        None => (0..rank).rev().collect(),
    };
    let y = cx.emit1(Op::Transpose { perm }, vec![x])?;
    cx.finish(&[y])
}

/// Axes from input 1 (opset ≥ 13) or the `axes` attribute (older opsets).
fn axes(cx: &NodeCx) -> Result<Option<Vec<i64>>, OnnxError> {
    if cx.opset >= 13 {
        cx.const_ints_input(1, "axes")
    } else {
        cx.attr(cx.attrs.ints("axes"))
    }
}

pub(super) fn squeeze(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let axes = axes(cx)?;
    let y = cx.emit1(Op::Squeeze { axes }, vec![x])?;
    cx.finish(&[y])
}

pub(super) fn unsqueeze(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let axes = axes(cx)?.ok_or_else(|| cx.err("axes are missing"))?;
    let y = cx.emit1(Op::Unsqueeze { axes }, vec![x])?;
    cx.finish(&[y])
}

pub(super) fn concat(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let axis = cx
        .attr(cx.attrs.int("axis"))?
        .ok_or_else(|| cx.err("attribute 'axis' is missing"))?;
    let ins = cx.all_inputs(1)?;
    let y = cx.emit1(Op::Concat { axis }, ins)?;
    cx.finish(&[y])
}

pub(super) fn split(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let axis = cx.attr(cx.attrs.int_or("axis", 0))?;
    let sizes = if cx.opset >= 13 {
        cx.const_ints_input(1, "split")?
    } else {
        cx.attr(cx.attrs.ints("split"))?
    };
    let n_out = cx.proto.output.len();
    let splits: Vec<usize> = match sizes {
        Some(s) => s
            .iter()
            .map(|&v| {
                usize::try_from(v)
                    .map_err(|_| cx.err(format!("split sizes {s:?} contain a negative entry")))
            })
            .collect::<Result<_, _>>()?,
        None => {
            let n = match cx.attr(cx.attrs.int("num_outputs"))? {
                Some(n) => usize::try_from(n)
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| cx.err(format!("num_outputs {n} must be positive")))?,
                None => n_out,
            };
            let xt = cx.ty(x);
            let a = infc_ir::infer::normalize_axis(axis, xt.rank())
                .ok_or_else(|| cx.err(format!("axis {axis} out of range for {xt}")))?;
            let Dim::Known(d) = xt.shape.0[a] else {
                return Err(cx.err(format!(
                    "splitting dim {a} of {xt} into {n} equal parts needs it to be known"
                )));
            };
            let chunk = d.div_ceil(n);
            if cx.opset < 18 && d % n != 0 {
                return Err(cx.err(format!(
                    "dim {a} of {xt} ({d}) does not split evenly into {n} parts"
                )));
            }
            let mut v = vec![chunk; n - 1];
            v.push(
                d.checked_sub(chunk * (n - 1))
                    .ok_or_else(|| cx.err(format!("dim {d} cannot be split into {n} parts")))?,
            );
            v
        }
    };
    if splits.len() != n_out {
        return Err(cx.err(format!("{} split sizes but {n_out} outputs", splits.len())));
    }
    let outs = cx.emit(Op::Split { axis, splits }, vec![x])?;
    cx.finish(&outs)
}

pub(super) fn slice(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let (starts, ends, axes, steps): (ValueId, ValueId, Option<ValueId>, Option<ValueId>) =
        if cx.opset < 10 {
            let get = |name: &str| cx.attr(cx.attrs.ints(name));
            let s = get("starts")?.ok_or_else(|| cx.err("attribute 'starts' is missing"))?;
            let e = get("ends")?.ok_or_else(|| cx.err("attribute 'ends' is missing"))?;
            let a = get("axes")?;
            (
                cx.ints("starts", &s),
                cx.ints("ends", &e),
                a.map(|a| cx.ints("axes", &a)),
                None,
            )
        } else {
            (cx.req(1)?, cx.req(2)?, cx.input(3), cx.input(4))
        };
    let st = cx.ty(starts).clone();
    let n = match st.shape.0.as_slice() {
        [Dim::Known(n)] => *n,
        _ => return Err(cx.err(format!("starts {st} must be 1-D with a known length"))),
    };
    let axes = match axes {
        Some(a) => a,
        None => cx.ints("axes", &(0..n as i64).collect::<Vec<_>>()),
    };
    let steps = match steps {
        Some(s) => s,
        None => cx.ints("steps", &vec![1; n]),
    };
    let y = cx.emit1(Op::Slice, vec![x, starts, ends, axes, steps])?;
    cx.finish(&[y])
}

pub(super) fn expand(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let (x, s) = (cx.req(0)?, cx.req(1)?);
    let y = cx.emit1(Op::Expand, vec![x, s])?;
    cx.finish(&[y])
}
