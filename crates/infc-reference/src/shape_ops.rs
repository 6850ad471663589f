//! Shape and data-movement ops, dtype-agnostic (they move element bytes): `Reshape` (0 / −1 /
//! allowzero), `Flatten`, `Transpose`, `Concat`, `Split`, `Slice` (negative and clamped starts/ends,
//! negative steps), `Squeeze`, `Unsqueeze`, `Expand`, `Shape` (start/end).
//!
//! Ops that only change the shape (Reshape, Flatten, Squeeze, Unsqueeze) share the input's bytes.

use crate::access::{alloc_numel, bytes_tensor, dim_from_i64, ints, norm_axis, numel, raw, strides, tensor, OpResult};
use crate::broadcast::{broadcast_shapes, for_each_offset, for_each_strided};
use infc_ir::Tensor;

/// `x` with a new shape of the same element count, sharing its bytes.
fn with_shape(x: &Tensor, shape: Vec<usize>) -> Tensor {
    Tensor { dtype: x.dtype, shape, data: x.data.clone() }
}

pub(crate) fn reshape(allowzero: bool, x: &Tensor, shape: &Tensor) -> OpResult<Tensor> {
    if shape.shape.len() != 1 {
        return Err(format!("shape input must be 1-D, got shape {:?}", shape.shape));
    }
    let spec = ints(shape, "shape")?;
    let mut out = Vec::with_capacity(spec.len());
    let mut infer = None;
    for (i, &d) in spec.iter().enumerate() {
        match d {
            -1 if infer.is_some() => return Err(format!("more than one -1 in shape {spec:?}")),
            -1 => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allowzero => {
                let &keep = x.shape.get(i).ok_or_else(|| {
                    format!("shape {spec:?} copies dim {i} (0) but the input {:?} has rank {}", x.shape, x.shape.len())
                })?;
                out.push(keep);
            }
            d if d < 0 => return Err(format!("invalid dim {d} in shape {spec:?}")),
            d => out.push(d as usize),
        }
    }
    let total = x.numel();
    if let Some(i) = infer {
        let known = numel(&out)?;
        if known == 0 || total % known != 0 {
            return Err(format!("cannot infer the -1 in {spec:?} for an input of shape {:?}", x.shape));
        }
        out[i] = total / known;
    }
    if numel(&out)? != total {
        return Err(format!("cannot reshape {:?} ({total} elements) to {spec:?}", x.shape));
    }
    Ok(with_shape(x, out))
}

pub(crate) fn flatten(axis: i64, x: &Tensor) -> OpResult<Tensor> {
    let r = x.shape.len() as i64;
    if axis < -r || axis > r {
        return Err(format!("axis {axis} is out of range for rank {r}"));
    }
    let a = if axis < 0 { axis + r } else { axis } as usize;
    let shape = vec![x.shape[..a].iter().product(), x.shape[a..].iter().product()];
    Ok(with_shape(x, shape))
}

/// An empty `perm` reverses the dims (ONNX's default).
pub(crate) fn transpose(perm: &[usize], x: &Tensor) -> OpResult<Tensor> {
    let r = x.shape.len();
    let perm: Vec<usize> = if perm.is_empty() { (0..r).rev().collect() } else { perm.to_vec() };
    let mut seen = vec![false; r];
    if perm.len() != r || perm.iter().any(|&p| p >= r || std::mem::replace(&mut seen[p], true)) {
        return Err(format!("perm {perm:?} is not a permutation of the {r} input dims"));
    }
    let st = strides(&x.shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let out_strides: Vec<isize> = perm.iter().map(|&p| st[p] as isize).collect();
    gather_strided(x, out_shape, 0, &out_strides)
}

/// Copy the elements of `x` at `base + Σ i[d]·strides[d]` for every index `i` of `out_shape`.
fn gather_strided(x: &Tensor, out_shape: Vec<usize>, base: isize, strides: &[isize]) -> OpResult<Tensor> {
    let size = x.dtype.size();
    let src = raw(x)?;
    let mut out = Vec::with_capacity(numel(&out_shape)? * size);
    for_each_strided(&out_shape, [base], [strides], |[o]| out.extend_from_slice(&src[o * size..][..size]));
    bytes_tensor(x.dtype, out_shape, &out)
}

pub(crate) fn concat(axis: i64, xs: &[&Tensor]) -> OpResult<Tensor> {
    let first = xs.first().ok_or("needs at least one input")?;
    let r = first.shape.len();
    if r == 0 {
        return Err("inputs must have rank ≥ 1".into());
    }
    let a = norm_axis(axis, r)?;
    let mut shape = first.shape.clone();
    shape[a] = 0;
    for (i, t) in xs.iter().enumerate() {
        let same_other_dims = t.shape.len() == r && (0..r).all(|d| d == a || t.shape[d] == first.shape[d]);
        if t.dtype != first.dtype || !same_other_dims {
            return Err(format!(
                "input {i} is {}{:?}, which does not concatenate with input 0 {}{:?} on axis {a}",
                t.dtype, t.shape, first.dtype, first.shape
            ));
        }
        shape[a] += t.shape[a];
    }
    let size = first.dtype.size();
    let outer: usize = shape[..a].iter().product();
    let inner: usize = shape[a + 1..].iter().product::<usize>() * size;
    let srcs = xs.iter().map(|t| raw(t)).collect::<OpResult<Vec<_>>>()?;
    let mut out = Vec::with_capacity(numel(&shape)? * size);
    for o in 0..outer {
        for (t, src) in xs.iter().zip(&srcs) {
            let chunk = t.shape[a] * inner;
            out.extend_from_slice(&src[o * chunk..][..chunk]);
        }
    }
    bytes_tensor(first.dtype, shape, &out)
}

pub(crate) fn split(axis: i64, splits: &[usize], x: &Tensor) -> OpResult<Vec<Tensor>> {
    let a = norm_axis(axis, x.shape.len())?;
    if splits.iter().sum::<usize>() != x.shape[a] {
        return Err(format!("splits {splits:?} do not add up to dim {a} of {:?}", x.shape));
    }
    let size = x.dtype.size();
    let outer: usize = x.shape[..a].iter().product();
    let inner: usize = x.shape[a + 1..].iter().product::<usize>() * size;
    let src = raw(x)?;
    let row = x.shape[a] * inner;
    let mut start = 0;
    splits
        .iter()
        .map(|&len| {
            let mut shape = x.shape.clone();
            shape[a] = len;
            let mut out = Vec::with_capacity(outer * len * inner);
            for o in 0..outer {
                out.extend_from_slice(&src[o * row + start * inner..][..len * inner]);
            }
            start += len;
            bytes_tensor(x.dtype, shape, &out)
        })
        .collect()
}

/// `(x, starts, ends, axes, steps)` with ONNX clamping: negative starts/ends count from the end,
/// then clamp to `[0, dim]` (step > 0) or `[0, dim−1]` / `[−1, dim−1]` (step < 0).
pub(crate) fn slice(x: &Tensor, starts: &Tensor, ends: &Tensor, axes: &Tensor, steps: &Tensor) -> OpResult<Tensor> {
    let [starts, ends, axes, steps] =
        [(starts, "starts"), (ends, "ends"), (axes, "axes"), (steps, "steps")].map(|(t, what)| {
            if t.shape.len() != 1 {
                return Err(format!("{what} must be 1-D, got shape {:?}", t.shape));
            }
            ints(t, what)
        });
    let (starts, ends, axes, steps) = (starts?, ends?, axes?, steps?);
    let n = starts.len();
    if ends.len() != n || axes.len() != n || steps.len() != n {
        return Err(format!(
            "starts, ends, axes and steps must have the same length, got {}, {}, {}, {}",
            n,
            ends.len(),
            axes.len(),
            steps.len()
        ));
    }
    let r = x.shape.len();
    let mut out_shape = x.shape.clone();
    let mut first = vec![0i64; r];
    let mut step = vec![1i64; r];
    let mut seen = vec![false; r];
    for i in 0..n {
        let a = norm_axis(axes[i], r)?;
        if std::mem::replace(&mut seen[a], true) {
            return Err(format!("axis {a} is sliced twice"));
        }
        let (s, e, st) = (starts[i], ends[i], steps[i]);
        if st == 0 {
            return Err(format!("step on axis {a} is 0"));
        }
        let dim = x.shape[a] as i64;
        let wrap = |v: i64| if v < 0 { v.saturating_add(dim) } else { v };
        let (s, e) = (wrap(s), wrap(e));
        let len = if dim == 0 {
            0
        } else if st > 0 {
            let (s, e) = (s.clamp(0, dim), e.clamp(0, dim));
            first[a] = s;
            if e > s { (e - s - 1) / st + 1 } else { 0 }
        } else {
            let (s, e) = (s.clamp(0, dim - 1), e.clamp(-1, dim - 1));
            first[a] = s;
            // (s − e − 1)/|st| + 1 computed without negating st (it may be i64::MIN).
            if s > e { ((s - e - 1) as u64 / st.unsigned_abs()) as i64 + 1 } else { 0 }
        };
        step[a] = st;
        out_shape[a] = len as usize;
    }
    let st = strides(&x.shape);
    if out_shape.contains(&0) {
        return bytes_tensor(x.dtype, out_shape, &[]);
    }
    let base: isize = (0..r).map(|d| first[d] as isize * st[d] as isize).sum();
    // Steps beyond the dim only matter for the first element (len is then 1): clamp them to stay in isize.
    let walk: Vec<isize> = (0..r).map(|d| step[d].clamp(-(x.shape[d] as i64), x.shape[d] as i64) as isize * st[d] as isize).collect();
    gather_strided(x, out_shape, base, &walk)
}

/// `None` removes every dim of size 1; listed axes must have size 1.
pub(crate) fn squeeze(axes: Option<&[i64]>, x: &Tensor) -> OpResult<Tensor> {
    let r = x.shape.len();
    let mut drop = vec![false; r];
    match axes {
        None => x.shape.iter().zip(drop.iter_mut()).for_each(|(&d, k)| *k = d == 1),
        Some(axes) => {
            for &a in axes {
                let a = norm_axis(a, r)?;
                if x.shape[a] != 1 {
                    return Err(format!("cannot squeeze axis {a} of size {} (shape {:?})", x.shape[a], x.shape));
                }
                drop[a] = true;
            }
        }
    }
    let shape = x.shape.iter().zip(&drop).filter(|(_, &k)| !k).map(|(&d, _)| d).collect();
    Ok(with_shape(x, shape))
}

/// Axes index the output (rank = input rank + number of axes).
pub(crate) fn unsqueeze(axes: &[i64], x: &Tensor) -> OpResult<Tensor> {
    let out_rank = x.shape.len() + axes.len();
    let mut new = vec![false; out_rank];
    for &a in axes {
        let a = norm_axis(a, out_rank)?;
        if std::mem::replace(&mut new[a], true) {
            return Err(format!("axis {a} is listed twice"));
        }
    }
    let mut dims = x.shape.iter();
    let shape = new.iter().map(|&n| if n { 1 } else { *dims.next().expect("out_rank − axes = input rank") }).collect();
    Ok(with_shape(x, shape))
}

/// `(x, shape)`: numpy-broadcast `x` against `shape` (dims of 1 in `shape` keep x's dim).
pub(crate) fn expand(x: &Tensor, shape: &Tensor) -> OpResult<Tensor> {
    if shape.shape.len() != 1 {
        return Err(format!("shape input must be 1-D, got shape {:?}", shape.shape));
    }
    let target = ints(shape, "shape")?.into_iter().map(|d| dim_from_i64(d, "shape")).collect::<OpResult<Vec<_>>>()?;
    let out = broadcast_shapes(&[&x.shape, &target]).map_err(|_| format!("cannot expand {:?} to {target:?}", x.shape))?;
    let size = x.dtype.size();
    let total = alloc_numel(&out, size)?;
    let src = raw(x)?;
    let mut bytes = Vec::with_capacity(total * size);
    for_each_offset(&out, [&x.shape], |[i]| bytes.extend_from_slice(&src[i * size..][..size]));
    bytes_tensor(x.dtype, out, &bytes)
}

/// Dims `start..end` of x's shape as i64; out-of-range bounds clamp (ONNX Shape-15).
pub(crate) fn shape_of(start: i64, end: Option<i64>, x: &Tensor) -> OpResult<Tensor> {
    let r = x.shape.len() as i64;
    let clamp = |a: i64| if a < 0 { (a + r).max(0) } else { a.min(r) } as usize;
    let (s, e) = (clamp(start), clamp(end.unwrap_or(r)));
    let dims: Vec<i64> = x.shape.get(s..e.max(s)).unwrap_or(&[]).iter().map(|&d| d as i64).collect();
    tensor(vec![dims.len()], dims)
}
