//! Shape and data-movement ops, dtype-agnostic (they move element bytes): `Reshape` (0 / −1 /
//! allowzero), `Flatten`, `Transpose`, `Concat`, `Split`, `Slice` (negative and clamped starts/ends,
//! negative steps), `Squeeze`, `Unsqueeze`, `Expand`, `Shape` (start/end).
//!
//! Ops that only change the shape (Reshape, Flatten, Squeeze, Unsqueeze) share the input's bytes.

use crate::access::{
    alloc_numel, bytes_tensor, dim_from_i64, ints, norm_axis, numel, raw, strides, tensor, OpResult,
};
use crate::broadcast::{broadcast_shapes, for_each_offset, for_each_strided};
use infc_ir::Tensor;

/// `x` with a new shape of the same element count, sharing its bytes.
fn with_shape(x: &Tensor, shape: Vec<usize>) -> Tensor {
    Tensor {
        dtype: x.dtype,
        shape,
        data: x.data.clone(),
    }
}

pub(crate) fn reshape(allowzero: bool, x: &Tensor, shape: &Tensor) -> OpResult<Tensor> {
    if shape.shape.len() != 1 {
        return Err(format!(
            "shape input must be 1-D, got shape {:?}",
            shape.shape
        ));
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
                    format!(
                        "shape {spec:?} copies dim {i} (0) but the input {:?} has rank {}",
                        x.shape,
                        x.shape.len()
                    )
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
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!(
                "cannot infer the -1 in {spec:?} for an input of shape {:?}",
                x.shape
            ));
        }
        out[i] = total / known;
    }
    if numel(&out)? != total {
        return Err(format!(
            "cannot reshape {:?} ({total} elements) to {spec:?}",
            x.shape
        ));
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
    let perm: Vec<usize> = if perm.is_empty() {
        (0..r).rev().collect()
    } else {
        perm.to_vec()
    };
    let mut seen = vec![false; r];
    if perm.len() != r
        || perm
            .iter()
            .any(|&p| p >= r || std::mem::replace(&mut seen[p], true))
    {
        return Err(format!(
            "perm {perm:?} is not a permutation of the {r} input dims"
        ));
    }
    let st = strides(&x.shape);
    let out_shape: Vec<usize> = perm.iter().map(|&p| x.shape[p]).collect();
    let out_strides: Vec<isize> = perm.iter().map(|&p| st[p] as isize).collect();
    gather_strided(x, out_shape, 0, &out_strides)
}

/// Copy the elements of `x` at `base + Σ i[d]·strides[d]` for every index `i` of `out_shape`.
fn gather_strided(
    x: &Tensor,
    out_shape: Vec<usize>,
    base: isize,
    strides: &[isize],
) -> OpResult<Tensor> {
    let size = x.dtype.size();
    let src = raw(x)?;
    let mut out = Vec::with_capacity(numel(&out_shape)? * size);
    for_each_strided(&out_shape, [base], [strides], |[o]| {
        out.extend_from_slice(&src[o * size..][..size])
    });
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
        let same_other_dims =
            t.shape.len() == r && (0..r).all(|d| d == a || t.shape[d] == first.shape[d]);
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
        return Err(format!(
            "splits {splits:?} do not add up to dim {a} of {:?}",
            x.shape
        ));
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
pub(crate) fn slice(
    x: &Tensor,
    starts: &Tensor,
    ends: &Tensor,
    axes: &Tensor,
    steps: &Tensor,
) -> OpResult<Tensor> {
    let [starts, ends, axes, steps] = [
        (starts, "starts"),
        (ends, "ends"),
        (axes, "axes"),
        (steps, "steps"),
    ]
    .map(|(t, what)| {
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
            if e > s {
                (e - s - 1) / st + 1
            } else {
                0
            }
        } else {
            let (s, e) = (s.clamp(0, dim - 1), e.clamp(-1, dim - 1));
            first[a] = s;
            // (s − e − 1)/|st| + 1 computed without negating st (it may be i64::MIN).
            if s > e {
                ((s - e - 1) as u64 / st.unsigned_abs()) as i64 + 1
            } else {
                0
            }
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
    let walk: Vec<isize> = (0..r)
        .map(|d| step[d].clamp(-(x.shape[d] as i64), x.shape[d] as i64) as isize * st[d] as isize)
        .collect();
    gather_strided(x, out_shape, base, &walk)
}

/// `None` removes every dim of size 1; listed axes must have size 1.
pub(crate) fn squeeze(axes: Option<&[i64]>, x: &Tensor) -> OpResult<Tensor> {
    let r = x.shape.len();
    let mut drop = vec![false; r];
    match axes {
        None => x
            .shape
            .iter()
            .zip(drop.iter_mut())
            .for_each(|(&d, k)| *k = d == 1),
        Some(axes) => {
            for &a in axes {
                let a = norm_axis(a, r)?;
                if x.shape[a] != 1 {
                    return Err(format!(
                        "cannot squeeze axis {a} of size {} (shape {:?})",
                        x.shape[a], x.shape
                    ));
                }
                drop[a] = true;
            }
        }
    }
    let shape = x
        .shape
        .iter()
        .zip(&drop)
        .filter(|(_, &k)| !k)
        .map(|(&d, _)| d)
        .collect();
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
    let shape = new
        .iter()
        .map(|&n| {
            if n {
                1
            } else {
                *dims.next().expect("out_rank − axes = input rank")
            }
        })
        .collect();
    Ok(with_shape(x, shape))
}

/// `(x, shape)`: numpy-broadcast `x` against `shape` (dims of 1 in `shape` keep x's dim).
pub(crate) fn expand(x: &Tensor, shape: &Tensor) -> OpResult<Tensor> {
    if shape.shape.len() != 1 {
        return Err(format!(
            "shape input must be 1-D, got shape {:?}",
            shape.shape
        ));
    }
    let target = ints(shape, "shape")?
        .into_iter()
        .map(|d| dim_from_i64(d, "shape"))
        .collect::<OpResult<Vec<_>>>()?;
    let out = broadcast_shapes(&[&x.shape, &target])
        .map_err(|_| format!("cannot expand {:?} to {target:?}", x.shape))?;
    let size = x.dtype.size();
    let total = alloc_numel(&out, size)?;
    let src = raw(x)?;
    let mut bytes = Vec::with_capacity(total * size);
    for_each_offset(&out, [&x.shape], |[i]| {
        bytes.extend_from_slice(&src[i * size..][..size])
    });
    bytes_tensor(x.dtype, out, &bytes)
}

/// Dims `start..end` of x's shape as i64; out-of-range bounds clamp (ONNX Shape-15).
pub(crate) fn shape_of(start: i64, end: Option<i64>, x: &Tensor) -> OpResult<Tensor> {
    let r = x.shape.len() as i64;
    let clamp = |a: i64| if a < 0 { (a + r).max(0) } else { a.min(r) } as usize;
    let (s, e) = (clamp(start), clamp(end.unwrap_or(r)));
    let dims: Vec<i64> = x
        .shape
        .get(s..e.max(s))
        .unwrap_or(&[])
        .iter()
        .map(|&d| d as i64)
        .collect();
    tensor(vec![dims.len()], dims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn x23() -> Tensor {
        f32t(&[2, 3], &iota(6))
    }

    #[test]
    fn reshape_zero_minus_one_allowzero() {
        let x = f32t(&[2, 3, 4], &iota(24));
        let y = reshape(false, &x, &i64t(&[3], &[0, -1, 2])).unwrap();
        assert_eq!(y.shape, vec![2, 6, 2]);
        assert!(
            matches!((&y.data, &x.data), (infc_ir::TensorData::Bytes(a), infc_ir::TensorData::Bytes(b)) if a.shares_storage_with(b))
        );
        let y = reshape(false, &x, &i64t(&[1], &[-1])).unwrap();
        assert_eq!(y.shape, vec![24]);
        let e = f32t(&[0, 3], &[]);
        assert_eq!(
            reshape(true, &e, &i64t(&[2], &[3, 0])).unwrap().shape,
            vec![3, 0]
        );
        assert_eq!(
            reshape(false, &e, &i64t(&[2], &[0, 3])).unwrap().shape,
            vec![0, 3]
        );
        assert_eq!(
            reshape(false, &e, &i64t(&[2], &[-1, 0])).unwrap().shape,
            vec![0, 3]
        );
        assert_eq!(
            reshape(true, &e, &i64t(&[2], &[-1, 0])).unwrap_err(),
            "cannot infer the -1 in [-1, 0] for an input of shape [0, 3]"
        );
        assert_eq!(
            reshape(false, &x, &i64t(&[2], &[-1, -1])).unwrap_err(),
            "more than one -1 in shape [-1, -1]"
        );
        assert_eq!(
            reshape(false, &x, &i64t(&[2], &[5, 5])).unwrap_err(),
            "cannot reshape [2, 3, 4] (24 elements) to [5, 5]"
        );
        assert_eq!(
            reshape(false, &x, &i64t(&[1], &[-2])).unwrap_err(),
            "invalid dim -2 in shape [-2]"
        );
    }

    #[test]
    fn flatten_axes() {
        let x = f32t(&[2, 3, 4], &iota(24));
        assert_eq!(flatten(1, &x).unwrap().shape, vec![2, 12]);
        assert_eq!(flatten(0, &x).unwrap().shape, vec![1, 24]);
        assert_eq!(flatten(3, &x).unwrap().shape, vec![24, 1]);
        assert_eq!(flatten(-1, &x).unwrap().shape, vec![6, 4]);
        assert_eq!(
            flatten(4, &x).unwrap_err(),
            "axis 4 is out of range for rank 3"
        );
    }

    #[test]
    fn transpose_perms() {
        let y = transpose(&[1, 0], &x23()).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![3, 2], vec![0., 3., 1., 4., 2., 5.])
        );
        let y = transpose(&[], &x23()).unwrap();
        assert_eq!(f32s(&y), vec![0., 3., 1., 4., 2., 5.]);
        let x = i64t(&[2, 1, 3], &[0, 1, 2, 3, 4, 5]);
        let y = transpose(&[2, 0, 1], &x).unwrap();
        assert_eq!(
            (y.shape.clone(), i64s(&y)),
            (vec![3, 2, 1], vec![0, 3, 1, 4, 2, 5])
        );
        assert_eq!(
            transpose(&[0, 0], &x23()).unwrap_err(),
            "perm [0, 0] is not a permutation of the 2 input dims"
        );
    }

    #[test]
    fn concat_and_split() {
        let a = x23();
        let b = f32t(&[2, 1], &[10., 11.]);
        let y = concat(-1, &[&a, &b]).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![2, 4], vec![0., 1., 2., 10., 3., 4., 5., 11.])
        );
        let empty = f32t(&[2, 0], &[]);
        assert_eq!(f32s(&concat(1, &[&empty, &b]).unwrap()), vec![10., 11.]);
        let e = concat(0, &[&a, &b]).unwrap_err();
        assert_eq!(
            e,
            "input 1 is f32[2, 1], which does not concatenate with input 0 f32[2, 3] on axis 0"
        );
        let parts = split(1, &[1, 2], &a).unwrap();
        assert_eq!(
            (parts[0].shape.clone(), f32s(&parts[0])),
            (vec![2, 1], vec![0., 3.])
        );
        assert_eq!(
            (parts[1].shape.clone(), f32s(&parts[1])),
            (vec![2, 2], vec![1., 2., 4., 5.])
        );
        let parts = split(0, &[0, 2], &a).unwrap();
        assert_eq!(parts[0].shape, vec![0, 3]);
        assert_eq!(
            split(1, &[1, 1], &a).unwrap_err(),
            "splits [1, 1] do not add up to dim 1 of [2, 3]"
        );
    }

    fn sl(x: &Tensor, s: &[i64], e: &[i64], a: &[i64], st: &[i64]) -> OpResult<Tensor> {
        let n = s.len();
        slice(
            x,
            &i64t(&[n], s),
            &i64t(&[n], e),
            &i64t(&[n], a),
            &i64t(&[n], st),
        )
    }

    #[test]
    fn slice_positive_negative_clamped() {
        let x = f32t(&[10], &iota(10));
        assert_eq!(f32s(&sl(&x, &[2], &[8], &[0], &[3]).unwrap()), vec![2., 5.]);
        assert_eq!(
            f32s(&sl(&x, &[-3], &[i64::MAX], &[0], &[1]).unwrap()),
            vec![7., 8., 9.]
        );
        assert_eq!(
            f32s(&sl(&x, &[-100], &[2], &[-1], &[1]).unwrap()),
            vec![0., 1.]
        );
        assert_eq!(sl(&x, &[5], &[2], &[0], &[1]).unwrap().shape, vec![0]);
        assert_eq!(
            f32s(&sl(&x, &[0], &[1], &[0], &[i64::MAX]).unwrap()),
            vec![0.]
        );
    }

    #[test]
    fn slice_negative_steps() {
        let x = f32t(&[10], &iota(10));
        // numpy x[::-1], x[8:2:-2], x[-1:-4:-1], x[i64::MAX:i64::MIN:-3]
        assert_eq!(
            f32s(&sl(&x, &[-1], &[i64::MIN], &[0], &[-1]).unwrap()),
            vec![9., 8., 7., 6., 5., 4., 3., 2., 1., 0.]
        );
        assert_eq!(
            f32s(&sl(&x, &[8], &[2], &[0], &[-2]).unwrap()),
            vec![8., 6., 4.]
        );
        assert_eq!(
            f32s(&sl(&x, &[-1], &[-4], &[0], &[-1]).unwrap()),
            vec![9., 8., 7.]
        );
        assert_eq!(
            f32s(&sl(&x, &[i64::MAX], &[i64::MIN], &[0], &[-3]).unwrap()),
            vec![9., 6., 3., 0.]
        );
        assert_eq!(
            f32s(&sl(&x, &[5], &[-11], &[0], &[i64::MIN]).unwrap()),
            vec![5.]
        );
        assert_eq!(sl(&x, &[0], &[-1], &[0], &[-1]).unwrap().shape, vec![0]);
    }

    #[test]
    fn slice_2d_subset_of_axes() {
        let x = f32t(&[3, 4], &iota(12));
        // numpy x[:, ::-2] and x[1:, 1:3]
        let y = sl(&x, &[-1], &[i64::MIN], &[1], &[-2]).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![3, 2], vec![3., 1., 7., 5., 11., 9.])
        );
        let y = sl(&x, &[1, 1], &[3, 3], &[0, 1], &[1, 1]).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![2, 2], vec![5., 6., 9., 10.])
        );
        assert_eq!(
            sl(&x, &[0, 0], &[1, 1], &[1, -1], &[1, 1]).unwrap_err(),
            "axis 1 is sliced twice"
        );
        assert_eq!(
            sl(&x, &[0], &[1], &[0], &[0]).unwrap_err(),
            "step on axis 0 is 0"
        );
        let e = slice(
            &x,
            &i64t(&[1], &[0]),
            &i64t(&[2], &[1, 1]),
            &i64t(&[1], &[0]),
            &i64t(&[1], &[1]),
        )
        .unwrap_err();
        assert_eq!(
            e,
            "starts, ends, axes and steps must have the same length, got 1, 2, 1, 1"
        );
        let empty = f32t(&[0, 2], &[]);
        assert_eq!(
            sl(&empty, &[-1], &[i64::MIN], &[0], &[-1]).unwrap().shape,
            vec![0, 2]
        );
    }

    #[test]
    fn squeeze_unsqueeze() {
        let x = f32t(&[1, 3, 1], &[1., 2., 3.]);
        assert_eq!(squeeze(None, &x).unwrap().shape, vec![3]);
        assert_eq!(squeeze(Some(&[-1]), &x).unwrap().shape, vec![1, 3]);
        assert_eq!(
            squeeze(Some(&[1]), &x).unwrap_err(),
            "cannot squeeze axis 1 of size 3 (shape [1, 3, 1])"
        );
        assert_eq!(unsqueeze(&[0, -1], &x23()).unwrap().shape, vec![1, 2, 3, 1]);
        assert_eq!(unsqueeze(&[1], &x23()).unwrap().shape, vec![2, 1, 3]);
        assert_eq!(unsqueeze(&[0], &f32t(&[], &[5.])).unwrap().shape, vec![1]);
        assert_eq!(
            unsqueeze(&[3], &x23()).unwrap_err(),
            "axis 3 is out of range for rank 3"
        );
        assert_eq!(
            unsqueeze(&[1, 1], &x23()).unwrap_err(),
            "axis 1 is listed twice"
        );
    }

    #[test]
    fn expand_bidirectional() {
        let x = f32t(&[3, 1], &[1., 2., 3.]);
        let y = expand(&x, &i64t(&[2], &[1, 2])).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![3, 2], vec![1., 1., 2., 2., 3., 3.])
        );
        let y = expand(&x, &i64t(&[3], &[2, 1, 1])).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![2, 3, 1], vec![1., 2., 3., 1., 2., 3.])
        );
        let y = expand(&f32t(&[], &[7.]), &i64t(&[1], &[3])).unwrap();
        assert_eq!(f32s(&y), vec![7.; 3]);
        assert_eq!(
            expand(&x, &i64t(&[2], &[2, 1])).unwrap_err(),
            "cannot expand [3, 1] to [2, 1]"
        );
    }

    #[test]
    fn shape_with_start_end() {
        let x = f32t(&[2, 3, 4], &iota(24));
        assert_eq!(i64s(&shape_of(0, None, &x).unwrap()), vec![2, 3, 4]);
        assert_eq!(i64s(&shape_of(-2, None, &x).unwrap()), vec![3, 4]);
        assert_eq!(i64s(&shape_of(1, Some(-1), &x).unwrap()), vec![3]);
        assert_eq!(i64s(&shape_of(-10, Some(10), &x).unwrap()), vec![2, 3, 4]);
        assert_eq!(shape_of(2, Some(1), &x).unwrap().shape, vec![0]);
        assert_eq!(shape_of(0, None, &f32t(&[], &[1.])).unwrap().shape, vec![0]);
    }
}
