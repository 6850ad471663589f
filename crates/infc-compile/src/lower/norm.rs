//! Softmax, LayerNorm and reductions. Softmax becomes `[outer, axis, inner]`; LayerNorm rows ×
//! cols (a constant scale/bias that broadcasts is expanded to `cols` at compile time); reductions a
//! strided `Reduce` over kept and reduced dims, each group simplified independently.

use super::strides::{broadcast, contiguous, simplify, unsigned};
use super::{norm_axis, Lowerer};
use crate::error::CompileError;
use infc_ir::{DType, ReduceOp, ValueId};
use infc_plan::{
    LayerNormStep, ReduceKind, ReduceStep, RmsNormStep, SoftmaxStep, Step, TensorRef, MAX_RANK,
};

pub(crate) fn softmax(lw: &mut Lowerer<'_>, axis: i64) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("{} input (only f32)", lw.ir_dtype(x))));
    }
    let s = lw.shape(x);
    if s.is_empty() {
        return Err(lw.unsupported("softmax of a scalar"));
    }
    let a = norm_axis(lw, axis, s.len())?;
    let step = SoftmaxStep {
        outer: s[..a].iter().product(),
        axis: s[a],
        inner: s[a + 1..].iter().product(),
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Softmax(step));
    Ok(())
}

/// A per-column parameter of `cols` elements: the value itself, or a broadcast constant expanded.
pub(crate) fn row_param(
    lw: &mut Lowerer<'_>,
    v: ValueId,
    norm_shape: &[u64],
) -> Result<TensorRef, CompileError> {
    let cols: u64 = norm_shape.iter().product();
    if lw.ir_dtype(v) != DType::F32 {
        return Err(lw.unsupported(format!("{} scale/bias (only f32)", lw.ir_dtype(v))));
    }
    if lw.numel(v) == cols {
        return lw.at(v);
    }
    let Some(vals) = lw.const_f32(v)? else {
        return Err(lw.unsupported(format!(
            "non-constant scale/bias of shape {:?} broadcast to {norm_shape:?}",
            lw.shape(v)
        )));
    };
    let vs = lw.shape(v);
    if vs.len() > norm_shape.len() {
        return Err(lw.malformed(format!(
            "scale/bias shape {vs:?} does not broadcast to {norm_shape:?}"
        )));
    }
    let strides = broadcast(&vs, norm_shape);
    let out_strides = contiguous(norm_shape);
    let mut expanded = Vec::with_capacity(cols as usize);
    for flat in 0..cols as i64 {
        let mut rem = flat;
        let mut src = 0i64;
        for (os, is) in out_strides.iter().zip(&strides) {
            src += (rem / os) * is;
            rem %= os;
        }
        expanded.push(
            *vals
                .get(src as usize)
                .ok_or_else(|| lw.malformed("scale/bias broadcast out of range"))?,
        );
    }
    Ok(TensorRef::konst(lw.push_f32(&expanded)))
}

pub(crate) fn layer_norm(
    lw: &mut Lowerer<'_>,
    axis: i64,
    epsilon: f32,
) -> Result<(), CompileError> {
    let (x, scale, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("{} input (only f32)", lw.ir_dtype(x))));
    }
    let s = lw.shape(x);
    let a = norm_axis(lw, axis, s.len())?;
    let norm_shape = s[a..].to_vec();
    let scale = row_param(lw, scale, &norm_shape)?;
    let bias = if lw.has_input(2) {
        Some(row_param(lw, lw.input(2)?, &norm_shape)?)
    } else {
        None
    };
    let step = LayerNormStep {
        rows: s[..a].iter().product(),
        cols: norm_shape.iter().product(),
        epsilon,
        x: lw.at(x)?,
        scale,
        bias,
        y: lw.at(y)?,
    };
    lw.emit(Step::LayerNorm(step));
    Ok(())
}

pub(crate) fn rms_norm(lw: &mut Lowerer<'_>, epsilon: f32) -> Result<(), CompileError> {
    let (x, scale, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("{} input (only f32)", lw.ir_dtype(x))));
    }
    let s = lw.shape(x);
    let Some(&cols) = s.last() else {
        return Err(lw.malformed("RmsNorm needs rank ≥ 1"));
    };
    let scale = row_param(lw, scale, &[cols])?;
    let step = RmsNormStep {
        rows: s[..s.len() - 1].iter().product(),
        cols,
        epsilon,
        x: lw.at(x)?,
        scale,
        y: lw.at(y)?,
    };
    lw.emit(Step::RmsNorm(step));
    Ok(())
}

pub(crate) fn reduce(
    lw: &mut Lowerer<'_>,
    op: ReduceOp,
    axes: Option<&[i64]>,
) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    if !matches!(lw.ir_dtype(x), DType::F32 | DType::I64) {
        return Err(lw.unsupported(format!(
            "{} input (f32 and i64 reductions are supported)",
            lw.ir_dtype(x)
        )));
    }
    let s = lw.shape(x);
    let mut reduced = vec![axes.is_none(); s.len()];
    for &a in axes.unwrap_or(&[]) {
        reduced[norm_axis(lw, a, s.len())?] = true;
    }
    let xs = contiguous(&s);
    let (mut out_shape, mut out_strides, mut red_shape, mut red_strides) =
        (vec![], vec![], vec![], vec![]);
    for i in 0..s.len() {
        if reduced[i] {
            red_shape.push(s[i]);
            red_strides.push(xs[i]);
        } else {
            out_shape.push(s[i]);
            out_strides.push(xs[i]);
        }
    }
    let yc = contiguous(&out_shape);
    let (out_shape, os) = simplify(&out_shape, &[out_strides, yc]);
    let (red_shape, rs) = simplify(&red_shape, &[red_strides]);
    if out_shape.len() + red_shape.len() > MAX_RANK {
        return Err(lw.unsupported(format!(
            "reduction needs rank {} (max {MAX_RANK})",
            out_shape.len() + red_shape.len()
        )));
    }
    let kind = match op {
        ReduceOp::Mean => ReduceKind::Mean,
        ReduceOp::Sum => ReduceKind::Sum,
        ReduceOp::Max => ReduceKind::Max,
        ReduceOp::Min => ReduceKind::Min,
        ReduceOp::Prod => ReduceKind::Prod,
    };
    let step = ReduceStep {
        op: kind,
        dtype: lw.dtype(x),
        out_strides: unsigned(&os[0]),
        out_shape,
        red_strides: unsigned(&rs[0]),
        red_shape,
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Reduce(step));
    Ok(())
}
