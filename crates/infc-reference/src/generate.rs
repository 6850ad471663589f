//! Ops that create data from scalars or shapes: `Range`, `ConstantOfShape`, `Trilu`.
//!
//! Float Range follows the ONNX definition `start + i·delta` with the count
//! `max(ceil((limit − start)/delta), 0)`, both evaluated in f64 and rounded once to f32 (not a
//! running sum, which drifts). Integer Range is exact.

use crate::access::{
    alloc_numel, bool_tensor, bytes_tensor, dim_from_i64, int_scalar, ints, raw, tensor, view,
    OpResult,
};
use crate::num::{dispatch_num, Num};
use half::f16;
use infc_ir::{DType, Tensor};

pub(crate) fn range(start: &Tensor, limit: &Tensor, delta: &Tensor) -> OpResult<Tensor> {
    for (t, what) in [(start, "start"), (limit, "limit"), (delta, "delta")] {
        if t.numel() != 1 {
            return Err(format!("{what} must be a scalar, got shape {:?}", t.shape));
        }
        if t.dtype != start.dtype {
            return Err(format!(
                "{what} is {} but start is {}",
                t.dtype, start.dtype
            ));
        }
    }
    dispatch_num!(start.dtype, "Range", |T| {
        let [s, l, d] = [start, limit, delta].map(|t| view::<T>(t).map(|v| v[0]));
        let (s, l, d) = (s?, l?, d?);
        if d == T::zero() {
            return Err("delta is 0".into());
        }
        let values: Vec<T> = if T::IS_FLOAT {
            let (s, l, d) = (s.to_f64(), l.to_f64(), d.to_f64());
            let n = ((l - s) / d).ceil();
            let n = if n.is_nan() { 0.0 } else { n.max(0.0) };
            if n > (isize::MAX / 8) as f64 {
                return Err(format!("{n} elements are too many"));
            }
            alloc_numel(&[n as usize], 4)?;
            (0..n as usize)
                .map(|i| T::from_f64(s + i as f64 * d))
                .collect()
        } else {
            let (s, l, d) = (s.to_i64() as i128, l.to_i64() as i128, d.to_i64() as i128);
            let span = l - s;
            let n = if (span > 0) == (d > 0) && span != 0 {
                (span.abs() + d.abs() - 1) / d.abs()
            } else {
                0
            };
            let n = usize::try_from(n).map_err(|_| format!("{n} elements are too many"))?;
            alloc_numel(&[n], 8)?;
            (0..n)
                .map(|i| T::from_i64_wrapping((s + i as i128 * d) as i64))
                .collect()
        };
        tensor(vec![values.len()], values)
    })
}

/// `(shape) -> dtype[shape]` filled with `f64::from_bits(value_bits)` converted to `dtype`.
pub(crate) fn constant_of_shape(dtype: DType, value_bits: u64, shape: &Tensor) -> OpResult<Tensor> {
    if shape.shape.len() != 1 {
        return Err(format!(
            "shape input must be 1-D, got shape {:?}",
            shape.shape
        ));
    }
    let dims = ints(shape, "shape")?
        .into_iter()
        .map(|d| dim_from_i64(d, "shape"))
        .collect::<OpResult<Vec<_>>>()?;
    let n = alloc_numel(&dims, dtype.size())?;
    let v = f64::from_bits(value_bits);
    match dtype {
        DType::F32 => tensor(dims, vec![v as f32; n]),
        DType::F16 => tensor(dims, vec![f16::from_f64(v); n]),
        DType::I64 => tensor(dims, vec![v as i64; n]),
        DType::I32 => tensor(dims, vec![v as i32; n]),
        DType::I8 => tensor(dims, vec![v as i8; n]),
        DType::U8 => tensor(dims, vec![v as u8; n]),
        DType::Bool => bool_tensor(dims, &vec![v != 0.0; n]),
    }
}

/// `(x, k?)`: keep elements with `col − row ≥ k` (upper) or `col − row ≤ k` (lower) in the last two
/// dims; the rest become zero. Any dtype (zero bytes are 0 / false in every IR dtype).
pub(crate) fn trilu(upper: bool, x: &Tensor, k: Option<&Tensor>) -> OpResult<Tensor> {
    let r = x.shape.len();
    if r < 2 {
        return Err(format!("input must have rank ≥ 2, got shape {:?}", x.shape));
    }
    let k = k.map(|t| int_scalar(t, "k")).transpose()?.unwrap_or(0) as i128;
    let (rows, cols) = (x.shape[r - 2], x.shape[r - 1]);
    let size = x.dtype.size();
    let mut out = raw(x)?.to_vec();
    for (e, chunk) in out.chunks_exact_mut(size).enumerate() {
        let (i, j) = (
            ((e / cols.max(1)) % rows.max(1)) as i128,
            (e % cols.max(1)) as i128,
        );
        let keep = if upper { j - i >= k } else { j - i <= k };
        if !keep {
            chunk.fill(0);
        }
    }
    bytes_tensor(x.dtype, x.shape.clone(), &out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn range_float_and_int() {
        let y = range(&f32t(&[], &[1.]), &f32t(&[], &[2.]), &f32t(&[], &[0.3])).unwrap();
        // start + i·delta with delta = f32(0.3), as torch.arange(1, 2, 0.3) gives.
        assert_eq!(f32s(&y), vec![1., 1.3, 1.6, 1.9000001]);
        let y = range(&i64t(&[], &[10]), &i64t(&[], &[4]), &i64t(&[], &[-3])).unwrap();
        assert_eq!(i64s(&y), vec![10, 7]);
        let y = range(&i32t(&[], &[0]), &i32t(&[], &[0]), &i32t(&[], &[1])).unwrap();
        assert_eq!(y.shape, vec![0]);
        let y = range(&i64t(&[], &[0]), &i64t(&[], &[5]), &i64t(&[], &[-1])).unwrap();
        assert_eq!(y.shape, vec![0]);
        let e = range(&i64t(&[], &[0]), &i64t(&[], &[5]), &i64t(&[], &[0])).unwrap_err();
        assert_eq!(e, "delta is 0");
        let e = range(&i64t(&[], &[0]), &i32t(&[], &[5]), &i64t(&[], &[1])).unwrap_err();
        assert_eq!(e, "limit is i32 but start is i64");
        let e = range(
            &i64t(&[], &[i64::MIN]),
            &i64t(&[], &[i64::MAX]),
            &i64t(&[], &[1]),
        )
        .unwrap_err();
        assert!(e.contains("too large") || e.contains("too many"), "{e}");
    }

    #[test]
    fn constant_of_shape_dtypes() {
        let s = i64t(&[2], &[2, 3]);
        let y = constant_of_shape(DType::F32, 1.5f64.to_bits(), &s).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![2, 3], vec![1.5; 6]));
        let y = constant_of_shape(DType::I64, (-7f64).to_bits(), &i64t(&[0], &[])).unwrap();
        assert_eq!((y.shape.clone(), i64s(&y)), (vec![], vec![-7]));
        let y = constant_of_shape(DType::Bool, 1f64.to_bits(), &i64t(&[1], &[2])).unwrap();
        assert_eq!(boolv(&y), vec![true, true]);
        let y = constant_of_shape(DType::F16, 0f64.to_bits(), &i64t(&[1], &[0])).unwrap();
        assert_eq!((y.dtype, y.shape.clone()), (DType::F16, vec![0]));
        let e = constant_of_shape(DType::F32, 0, &i64t(&[1], &[-2])).unwrap_err();
        assert_eq!(e, "shape has a negative dimension -2");
    }

    #[test]
    fn trilu_upper_lower_with_k() {
        let x = f32t(&[3, 3], &iota(9).iter().map(|v| v + 1.).collect::<Vec<_>>());
        let y = trilu(true, &x, None).unwrap();
        assert_eq!(f32s(&y), vec![1., 2., 3., 0., 5., 6., 0., 0., 9.]);
        let y = trilu(false, &x, Some(&i64t(&[], &[-1]))).unwrap();
        assert_eq!(f32s(&y), vec![0., 0., 0., 4., 0., 0., 7., 8., 0.]);
        let y = trilu(true, &x, Some(&i64t(&[], &[1]))).unwrap();
        assert_eq!(f32s(&y), vec![0., 2., 3., 0., 0., 6., 0., 0., 0.]);
        // Batched, non-square, bool.
        let b = boolt(&[2, 2, 3], &[true; 12]);
        let y = boolv(&trilu(false, &b, None).unwrap());
        assert_eq!(y[..6], [true, false, false, true, true, false]);
        assert_eq!(y[6..], y[..6]);
        assert_eq!(
            trilu(true, &f32t(&[3], &[0.; 3]), None).unwrap_err(),
            "input must have rank ≥ 2, got shape [3]"
        );
    }
}
