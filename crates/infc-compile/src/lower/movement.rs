//! Data movement: Transpose, Concat, Split, Slice and Expand become strided `Copy` steps (Concat
//! and Split one per part, writing/reading a sub-block of the whole); Gather, GatherND and Trilu
//! have their own steps.

use super::strides::{broadcast, contiguous, simplify};
use super::{norm_axis, Lowerer};
use crate::error::CompileError;
use infc_ir::DType;
use infc_plan::{CopyStep, GatherNdStep, GatherStep, Step, TensorRef, TriluStep, MAX_RANK};

fn shifted(t: TensorRef, bytes: i64) -> TensorRef {
    TensorRef {
        region: t.region,
        offset: (t.offset as i64 + bytes) as u64,
    }
}

#[allow(clippy::too_many_arguments)]
fn emit_copy(
    lw: &mut Lowerer<'_>,
    dtype: infc_plan::DType,
    shape: &[u64],
    src: TensorRef,
    src_strides: Vec<i64>,
    dst: TensorRef,
    dst_strides: Vec<i64>,
) -> Result<(), CompileError> {
    let (shape, s) = simplify(shape, &[src_strides, dst_strides]);
    if shape.len() > MAX_RANK {
        return Err(lw.unsupported(format!("copy needs rank {} (max {MAX_RANK})", shape.len())));
    }
    let mut s = s.into_iter();
    let (src_strides, dst_strides) = (s.next().unwrap_or_default(), s.next().unwrap_or_default());
    lw.emit(Step::Copy(CopyStep {
        dtype,
        shape,
        src,
        src_strides,
        dst,
        dst_strides,
    }));
    Ok(())
}

pub(crate) fn transpose(lw: &mut Lowerer<'_>, perm: &[usize]) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let s = lw.shape(x);
    if perm.len() != s.len() || perm.iter().any(|&p| p >= s.len()) {
        return Err(lw.malformed(format!("perm {perm:?} does not fit rank {}", s.len())));
    }
    let xs = contiguous(&s);
    let shape: Vec<u64> = perm.iter().map(|&p| s[p]).collect();
    let src_strides: Vec<i64> = perm.iter().map(|&p| xs[p]).collect();
    let (src, dst) = (lw.at(x)?, lw.at(y)?);
    emit_copy(
        lw,
        lw.dtype(x),
        &shape,
        src,
        src_strides,
        dst,
        contiguous(&shape),
    )
}

pub(crate) fn concat(lw: &mut Lowerer<'_>, axis: i64) -> Result<(), CompileError> {
    let y = lw.output(0)?;
    let ys = lw.shape(y);
    let a = norm_axis(lw, axis, ys.len())?;
    let ystr = contiguous(&ys);
    let esize = lw.dtype(y).size() as i64;
    let dst = lw.at(y)?;
    let mut along = 0i64;
    for i in 0..lw.cur().inputs.len() {
        let x = lw.input(i)?;
        let s = lw.shape(x);
        if s.len() != ys.len() {
            return Err(lw.malformed(format!(
                "input {i} has rank {}, output {}",
                s.len(),
                ys.len()
            )));
        }
        if s.iter().product::<u64>() > 0 {
            let src = lw.at(x)?;
            emit_copy(
                lw,
                lw.dtype(y),
                &s,
                src,
                contiguous(&s),
                shifted(dst, along * ystr[a] * esize),
                ystr.clone(),
            )?;
        }
        along += s[a] as i64;
    }
    if along as u64 != ys[a] {
        return Err(lw.malformed(format!(
            "parts sum to {along} along axis {a}, output has {}",
            ys[a]
        )));
    }
    Ok(())
}

pub(crate) fn split(lw: &mut Lowerer<'_>, axis: i64, splits: &[usize]) -> Result<(), CompileError> {
    let x = lw.input(0)?;
    let xs = lw.shape(x);
    let a = norm_axis(lw, axis, xs.len())?;
    let xstr = contiguous(&xs);
    let esize = lw.dtype(x).size() as i64;
    let src = lw.at(x)?;
    let mut along = 0i64;
    for (i, &len) in splits.iter().enumerate() {
        let y = lw.output(i)?;
        let s = lw.shape(y);
        if s.len() != xs.len() || s[a] != len as u64 {
            return Err(lw.malformed(format!(
                "output {i} shape {s:?} does not match split {len} on axis {a}"
            )));
        }
        if s.iter().product::<u64>() > 0 {
            let dst = lw.at(y)?;
            emit_copy(
                lw,
                lw.dtype(x),
                &s,
                shifted(src, along * xstr[a] * esize),
                xstr.clone(),
                dst,
                contiguous(&s),
            )?;
        }
        along += len as i64;
    }
    Ok(())
}

/// ONNX Slice: (start, step, count) per axis from constant starts/ends/axes/steps.
pub(crate) fn slice(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let xs = lw.shape(x);
    let ys = lw.shape(y);
    let mut params = Vec::with_capacity(4);
    for i in 1..5 {
        match lw.const_i64(lw.input(i)?)? {
            Some(v) => params.push(v),
            None => {
                return Err(lw.unsupported(format!(
                    "non-constant Slice input {i} (fold constants first)"
                )))
            }
        }
    }
    let (starts, ends, axes, steps) = (&params[0], &params[1], &params[2], &params[3]);
    if starts.len() != ends.len() || axes.len() != starts.len() || steps.len() != starts.len() {
        return Err(lw.malformed("starts/ends/axes/steps lengths differ"));
    }
    let xstr = contiguous(&xs);
    let mut src_strides = xstr.clone();
    let mut shape = xs.clone();
    let mut offset = 0i64;
    for i in 0..starts.len() {
        let a = norm_axis(lw, axes[i], xs.len())?;
        let dim = xs[a] as i128;
        let step = steps[i] as i128;
        if step == 0 {
            return Err(lw.malformed(format!("step for axis {a} is 0")));
        }
        let fix = |v: i64| {
            if (v as i128) < 0 {
                v as i128 + dim
            } else {
                v as i128
            }
        };
        let (start, end, count) = if step > 0 {
            let s = fix(starts[i]).clamp(0, dim);
            let e = fix(ends[i]).clamp(0, dim);
            (s, e, if e > s { (e - s + step - 1) / step } else { 0 })
        } else {
            let s = fix(starts[i]).clamp(0, dim - 1);
            let e = fix(ends[i]).clamp(-1, dim - 1);
            (
                s,
                e,
                if s > e {
                    (s - e + (-step) - 1) / (-step)
                } else {
                    0
                },
            )
        };
        let _ = end;
        shape[a] = count as u64;
        if count > 0 {
            offset += start as i64 * xstr[a];
        }
        src_strides[a] = xstr[a] * step as i64;
    }
    if shape != ys {
        return Err(lw.malformed(format!(
            "slice gives shape {shape:?}, output type says {ys:?}"
        )));
    }
    if shape.iter().product::<u64>() == 0 {
        return Ok(());
    }
    let esize = lw.dtype(x).size() as i64;
    let (src, dst) = (lw.at(x)?, lw.at(y)?);
    emit_copy(
        lw,
        lw.dtype(x),
        &shape,
        shifted(src, offset * esize),
        src_strides,
        dst,
        contiguous(&shape),
    )
}

pub(crate) fn expand(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let (xs, ys) = (lw.shape(x), lw.shape(y));
    if xs.len() > ys.len() {
        return Err(lw.malformed(format!("cannot expand {xs:?} to {ys:?}")));
    }
    if ys.iter().product::<u64>() == 0 {
        return Ok(());
    }
    let (src, dst) = (lw.at(x)?, lw.at(y)?);
    emit_copy(
        lw,
        lw.dtype(x),
        &ys,
        src,
        broadcast(&xs, &ys),
        dst,
        contiguous(&ys),
    )
}

fn index_dtype(lw: &Lowerer<'_>, v: infc_ir::ValueId) -> Result<infc_plan::DType, CompileError> {
    match lw.ir_dtype(v) {
        DType::I64 | DType::I32 => Ok(lw.dtype(v)),
        d => Err(lw.unsupported(format!("{d} indices (i64 and i32 are supported)"))),
    }
}

pub(crate) fn gather(lw: &mut Lowerer<'_>, axis: i64) -> Result<(), CompileError> {
    let (data, idx, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    let ds = lw.shape(data);
    let a = norm_axis(lw, axis, ds.len())?;
    let step = GatherStep {
        dtype: lw.dtype(data),
        idx_dtype: index_dtype(lw, idx)?,
        outer: ds[..a].iter().product(),
        axis_len: ds[a],
        inner: ds[a + 1..].iter().product(),
        n_idx: lw.numel(idx),
        data: lw.at(data)?,
        indices: lw.at(idx)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Gather(step));
    Ok(())
}

pub(crate) fn gather_nd(lw: &mut Lowerer<'_>, batch_dims: usize) -> Result<(), CompileError> {
    let (data, idx, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    let (ds, is) = (lw.shape(data), lw.shape(idx));
    let depth = *is
        .last()
        .ok_or_else(|| lw.malformed("indices must have rank ≥ 1"))? as usize;
    if batch_dims + depth > ds.len() || batch_dims >= is.len() {
        return Err(lw.malformed(format!(
            "batch_dims {batch_dims} and depth {depth} do not fit data {ds:?}, indices {is:?}"
        )));
    }
    let step = GatherNdStep {
        dtype: lw.dtype(data),
        idx_dtype: index_dtype(lw, idx)?,
        batch: ds[..batch_dims].iter().product(),
        n_per_batch: is[batch_dims..is.len() - 1].iter().product(),
        index_dims: ds[batch_dims..batch_dims + depth].to_vec(),
        slice_len: ds[batch_dims + depth..].iter().product(),
        data: lw.at(data)?,
        indices: lw.at(idx)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::GatherNd(step));
    Ok(())
}

pub(crate) fn trilu(lw: &mut Lowerer<'_>, upper: bool) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let s = lw.shape(x);
    if s.len() < 2 {
        return Err(lw.malformed("Trilu needs rank ≥ 2"));
    }
    let (mut k, mut k_at) = (0i64, None);
    if lw.has_input(1) {
        let kv = lw.input(1)?;
        match lw.const_i64(kv)? {
            Some(v) if v.len() == 1 => k = v[0],
            _ if lw.ir_dtype(kv) == DType::I64 && lw.numel(kv) == 1 => k_at = Some(lw.at(kv)?),
            _ => return Err(lw.malformed("k must be a one-element i64 tensor")),
        }
    }
    let r = s.len();
    let step = TriluStep {
        dtype: lw.dtype(x),
        upper,
        k,
        k_at,
        batch: s[..r - 2].iter().product(),
        rows: s[r - 2],
        cols: s[r - 1],
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Trilu(step));
    Ok(())
}
