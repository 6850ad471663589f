//! Constants and shape producers: Constant (`value`, `value_float(s)`, `value_int(s)`; strings and
//! sparse tensors refused), ConstantOfShape (`value` attribute, default f32 0), Shape (`start`/`end`,
//! opset 15), Size (Shape → ReduceProd) and Range.

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{DType, Op, ReduceOp, Tensor};

pub(super) fn constant(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let present: Vec<&str> = cx
        .attrs
        .names()
        .filter(|n| n.starts_with("value") || *n == "sparse_value")
        .collect();
    let [which] = present.as_slice() else {
        return Err(cx.err(format!(
            "needs exactly one value attribute, got {present:?}"
        )));
    };
    let which = which.to_string();
    let t = match which.as_str() {
        "value" => {
            let p = cx
                .attr(cx.attrs.tensor("value"))?
                .ok_or_else(|| cx.err("attribute 'value' holds no tensor"))?;
            cx.attr_tensor(p)?
        }
        "value_float" => {
            Tensor::scalar(cx.attr(cx.attrs.float("value_float"))?.unwrap_or_default())
        }
        "value_int" => Tensor::scalar(cx.attr(cx.attrs.int("value_int"))?.unwrap_or_default()),
        "value_floats" => {
            let v = cx
                .attr(cx.attrs.floats("value_floats"))?
                .unwrap_or_default();
            Tensor::from_vec(vec![v.len()], v).map_err(|e| cx.err(e.to_string()))?
        }
        "value_ints" => {
            let v = cx.attr(cx.attrs.ints("value_ints"))?.unwrap_or_default();
            Tensor::from_vec(vec![v.len()], v).map_err(|e| cx.err(e.to_string()))?
        }
        other => {
            return Err(cx.err(format!(
                "attribute '{other}' is not supported (string or sparse constant)"
            )))
        }
    };
    let name = cx
        .proto
        .output
        .first()
        .filter(|n| !n.is_empty())
        .cloned()
        .ok_or_else(|| cx.err("has no output"))?;
    let v = cx.named_const(&name, t);
    cx.finish(&[v])
}

pub(super) fn constant_of_shape(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let shape = cx.req(0)?;
    let (dtype, value) = match cx.attr(cx.attrs.tensor("value"))? {
        None => (DType::F32, 0.0),
        Some(p) => {
            let t = cx.attr_tensor(p)?;
            if t.numel() != 1 {
                return Err(cx.err(format!(
                    "attribute 'value' must hold one element, has {}",
                    t.numel()
                )));
            }
            let v = t.to_f64_vec().map_err(|e| cx.err(e.to_string()))?[0];
            (t.dtype, v)
        }
    };
    let y = cx.emit1(
        Op::ConstantOfShape {
            dtype,
            value_bits: value.to_bits(),
        },
        vec![shape],
    )?;
    cx.finish(&[y])
}

pub(super) fn shape(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let start = cx.attr(cx.attrs.int_or("start", 0))?;
    let end = cx.attr(cx.attrs.int("end"))?;
    let y = cx.emit1(Op::Shape { start, end }, vec![x])?;
    cx.finish(&[y])
}

pub(super) fn size(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let x = cx.req(0)?;
    let s = cx.emit1(
        Op::Shape {
            start: 0,
            end: None,
        },
        vec![x],
    )?;
    let y = cx.emit1(
        Op::Reduce {
            op: ReduceOp::Prod,
            axes: None,
            keepdims: false,
        },
        vec![s],
    )?;
    cx.finish(&[y])
}

pub(super) fn range(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let ins = vec![cx.req(0)?, cx.req(1)?, cx.req(2)?];
    let y = cx.emit1(Op::Range, ins)?;
    cx.finish(&[y])
}
