//! `Gather` (negative indices count from the end), `GatherND` (with `batch_dims`) and
//! `GatherElements` (one axis, element by element). All move
//! element bytes, so every dtype is supported; an index outside its dim is an error naming it.

use crate::access::{bytes_tensor, ints, norm_axis, numel, raw, strides, OpResult};
use infc_ir::Tensor;

/// Resolve a possibly negative index against `dim`.
fn resolve(i: i64, dim: usize, what: &str) -> OpResult<usize> {
    let d = dim as i64;
    let r = if i < 0 { i + d } else { i };
    if r < 0 || r >= d {
        return Err(format!(
            "index {i} is out of range for {what} of size {dim}"
        ));
    }
    Ok(r as usize)
}

pub(crate) fn gather(axis: i64, data: &Tensor, indices: &Tensor) -> OpResult<Tensor> {
    let r = data.shape.len();
    if r == 0 {
        return Err("data must have rank ≥ 1".into());
    }
    let a = norm_axis(axis, r)?;
    let dim = data.shape[a];
    let what = format!("axis {a}");
    let idx = ints(indices, "indices")?
        .into_iter()
        .map(|i| resolve(i, dim, &what))
        .collect::<OpResult<Vec<_>>>()?;
    let size = data.dtype.size();
    let outer: usize = data.shape[..a].iter().product();
    let inner: usize = data.shape[a + 1..].iter().product::<usize>() * size;
    let mut shape = data.shape[..a].to_vec();
    shape.extend_from_slice(&indices.shape);
    shape.extend_from_slice(&data.shape[a + 1..]);
    let src = raw(data)?;
    let mut out = Vec::with_capacity(numel(&shape)? * size);
    for o in 0..outer {
        for &i in &idx {
            out.extend_from_slice(&src[(o * dim + i) * inner..][..inner]);
        }
    }
    bytes_tensor(data.dtype, shape, &out)
}

pub(crate) fn gather_nd(batch_dims: usize, data: &Tensor, indices: &Tensor) -> OpResult<Tensor> {
    let (r, q) = (data.shape.len(), indices.shape.len());
    let b = batch_dims;
    if r == 0 || q == 0 {
        return Err(format!(
            "data and indices must have rank ≥ 1, got {r} and {q}"
        ));
    }
    if b >= r.min(q) {
        return Err(format!(
            "batch_dims {b} must be less than both ranks ({r} and {q})"
        ));
    }
    if data.shape[..b] != indices.shape[..b] {
        return Err(format!(
            "the first {b} dims of data {:?} and indices {:?} must match",
            data.shape, indices.shape
        ));
    }
    let k = indices.shape[q - 1];
    if k > r - b {
        return Err(format!(
            "index tuples of length {k} exceed the {} indexable dims of data {:?}",
            r - b,
            data.shape
        ));
    }
    let idx = ints(indices, "indices")?;
    let size = data.dtype.size();
    let batch: usize = data.shape[..b].iter().product();
    let block: usize = data.shape[b..].iter().product();
    let tuples: usize = indices.shape[b..q - 1].iter().product();
    let slice: usize = data.shape[b + k..].iter().product::<usize>() * size;
    let st = strides(&data.shape[b..]);
    let mut shape = indices.shape[..q - 1].to_vec();
    shape.extend_from_slice(&data.shape[b + k..]);
    let src = raw(data)?;
    let mut out = Vec::with_capacity(numel(&shape)? * size);
    for bi in 0..batch {
        for t in 0..tuples {
            let tuple = &idx[(bi * tuples + t) * k..][..k];
            let mut off = bi * block;
            for (j, &i) in tuple.iter().enumerate() {
                off += resolve(i, data.shape[b + j], &format!("data dim {}", b + j))? * st[j];
            }
            out.extend_from_slice(&src[off * size..][..slice]);
        }
    }
    bytes_tensor(data.dtype, shape, &out)
}

/// `y[i₀…iₐ…] = data[i₀…idx[i₀…iₐ…]…]` with `a` = `axis`: the output has the indices' shape,
/// whose other dims may be smaller than the data's.
pub(crate) fn gather_elements(axis: i64, data: &Tensor, indices: &Tensor) -> OpResult<Tensor> {
    let r = data.shape.len();
    if r == 0 || indices.shape.len() != r {
        return Err(format!(
            "data {:?} and indices {:?} must have the same rank ≥ 1",
            data.shape, indices.shape
        ));
    }
    let a = norm_axis(axis, r)?;
    for (d, (&n, &i)) in data.shape.iter().zip(&indices.shape).enumerate() {
        if d != a && i > n {
            return Err(format!(
                "indices {:?} exceed data {:?} on dim {d}",
                indices.shape, data.shape
            ));
        }
    }
    let idx = ints(indices, "indices")?;
    let size = data.dtype.size();
    let st = strides(&data.shape);
    let ist = strides(&indices.shape);
    let src = raw(data)?;
    let n = numel(&indices.shape)?;
    let mut out = Vec::with_capacity(n * size);
    for (k, &i) in idx.iter().enumerate() {
        let mut off = 0;
        for d in 0..r {
            let c = (k / ist[d]) % indices.shape[d];
            let c = if d == a {
                resolve(i, data.shape[a], &format!("axis {a}"))?
            } else {
                c
            };
            off += c * st[d];
        }
        out.extend_from_slice(&src[off * size..][..size]);
    }
    bytes_tensor(data.dtype, indices.shape.clone(), &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn gather_rows_negative_and_scalar_index() {
        let d = f32t(&[3, 2], &iota(6));
        let y = gather(0, &d, &i64t(&[2], &[-1, 0])).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![2, 2], vec![4., 5., 0., 1.])
        );
        let y = gather(-1, &d, &i64t(&[], &[1])).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![3], vec![1., 3., 5.]));
        let y = gather(1, &d, &i32t(&[2, 2], &[0, 1, 1, 0])).unwrap();
        assert_eq!(y.shape, vec![3, 2, 2]);
        assert_eq!(
            f32s(&y),
            vec![0., 1., 1., 0., 2., 3., 3., 2., 4., 5., 5., 4.]
        );
        assert_eq!(
            gather(0, &d, &i64t(&[1], &[3])).unwrap_err(),
            "index 3 is out of range for axis 0 of size 3"
        );
        assert_eq!(
            gather(0, &d, &i64t(&[1], &[-4])).unwrap_err(),
            "index -4 is out of range for axis 0 of size 3"
        );
        assert_eq!(
            gather(0, &d, &f32t(&[1], &[0.])).unwrap_err(),
            "indices must be an integer tensor, got f32"
        );
    }

    #[test]
    fn gather_empty_indices_and_bool_data() {
        let d = boolt(&[2, 2], &[true, false, false, true]);
        let y = gather(0, &d, &i64t(&[0], &[])).unwrap();
        assert_eq!(y.shape, vec![0, 2]);
        assert_eq!(
            boolv(&gather(1, &d, &i64t(&[1], &[1])).unwrap()),
            vec![false, true]
        );
    }

    #[test]
    fn gather_elements_examples_from_the_onnx_spec() {
        // axis 1: data [[1,2],[3,4]], indices [[0,0],[1,0]] → [[1,1],[4,3]]
        let d = i64t(&[2, 2], &[1, 2, 3, 4]);
        let y = gather_elements(1, &d, &i64t(&[2, 2], &[0, 0, 1, 0])).unwrap();
        assert_eq!((y.shape.clone(), i64s(&y)), (vec![2, 2], vec![1, 1, 4, 3]));
        // axis 0, indices smaller than the data: [[1,2,0],[2,0,0]] → [[4,8,3],[7,2,3]]
        let d = i64t(&[3, 3], &[1, 2, 3, 4, 5, 6, 7, 8, 9]);
        let y = gather_elements(0, &d, &i64t(&[2, 3], &[1, 2, 0, 2, 0, 0])).unwrap();
        assert_eq!(
            (y.shape.clone(), i64s(&y)),
            (vec![2, 3], vec![4, 8, 3, 7, 2, 3])
        );
        // Negative indices: [[-1,-2,0],[-2,0,0]] → [[7,5,3],[4,2,3]]
        let y = gather_elements(0, &d, &i64t(&[2, 3], &[-1, -2, 0, -2, 0, 0])).unwrap();
        assert_eq!(i64s(&y), vec![7, 5, 3, 4, 2, 3]);
        // Out of range, and a rank mismatch, are errors.
        assert!(gather_elements(0, &d, &i64t(&[1, 1], &[3])).is_err());
        assert!(gather_elements(0, &d, &i64t(&[3], &[0, 1, 2])).is_err());
    }

    #[test]
    fn gather_nd_examples_from_the_onnx_spec() {
        // Example 1: data [[0,1],[2,3]], indices [[0,0],[1,1]] → [0,3]
        let d = i64t(&[2, 2], &[0, 1, 2, 3]);
        let y = gather_nd(0, &d, &i64t(&[2, 2], &[0, 0, 1, 1])).unwrap();
        assert_eq!((y.shape.clone(), i64s(&y)), (vec![2], vec![0, 3]));
        // Example 2: indices [[1],[0]] → [[2,3],[0,1]]
        let y = gather_nd(0, &d, &i64t(&[2, 1], &[1, 0])).unwrap();
        assert_eq!((y.shape.clone(), i64s(&y)), (vec![2, 2], vec![2, 3, 0, 1]));
        // Example 5: batch_dims 1, data [[[0,1],[2,3]],[[4,5],[6,7]]], indices [[1],[0]] → [[2,3],[4,5]]
        let d3 = i64t(&[2, 2, 2], &[0, 1, 2, 3, 4, 5, 6, 7]);
        let y = gather_nd(1, &d3, &i64t(&[2, 1], &[1, 0])).unwrap();
        assert_eq!((y.shape.clone(), i64s(&y)), (vec![2, 2], vec![2, 3, 4, 5]));
        // Negative index and the error for one out of range.
        let y = gather_nd(0, &d, &i64t(&[1, 2], &[-1, -2])).unwrap();
        assert_eq!(i64s(&y), vec![2]);
        let e = gather_nd(0, &d, &i64t(&[1, 2], &[0, 2])).unwrap_err();
        assert_eq!(e, "index 2 is out of range for data dim 1 of size 2");
        let e = gather_nd(1, &d3, &i64t(&[3, 1], &[0, 0, 0])).unwrap_err();
        assert_eq!(
            e,
            "the first 1 dims of data [2, 2, 2] and indices [3, 1] must match"
        );
    }
}
