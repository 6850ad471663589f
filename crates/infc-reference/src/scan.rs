//! Prefix sums along one axis: `CumSum` (inclusive or `exclusive`, forward or `reverse`). Floats
//! accumulate in f64 and each output is rounded once; integers wrap (two's complement).

use crate::access::{int_scalar, norm_axis, tensor, view, OpResult};
use crate::num::{dispatch_num, Num};
use infc_ir::Tensor;

pub(crate) fn cumsum(
    exclusive: bool,
    reverse: bool,
    x: &Tensor,
    axis: &Tensor,
) -> OpResult<Tensor> {
    let rank = x.shape.len();
    if rank == 0 {
        return Err("CumSum needs an input of rank ≥ 1".into());
    }
    let a = norm_axis(int_scalar(axis, "axis")?, rank)?;
    let len = x.shape[a];
    let inner: usize = x.shape[a + 1..].iter().product();
    let outer: usize = x.shape[..a].iter().product();
    dispatch_num!(x.dtype, "CumSum", |T| {
        let xs = view::<T>(x)?;
        let mut out = vec![T::zero(); xs.len()];
        for o in 0..outer {
            for i in 0..inner {
                // The `j`-th element of the walk: from the start, or from the end when reversed.
                let at = |j: usize| (o * len + if reverse { len - 1 - j } else { j }) * inner + i;
                let (mut f, mut n) = (0f64, 0i64);
                for k in 0..len {
                    let v = xs[at(k)];
                    if !exclusive {
                        (f, n) = (f + v.to_f64(), n.wrapping_add(v.to_i64()));
                    }
                    out[at(k)] = if T::IS_FLOAT {
                        T::from_f64(f)
                    } else {
                        T::from_i64_wrapping(n)
                    };
                    if exclusive {
                        (f, n) = (f + v.to_f64(), n.wrapping_add(v.to_i64()));
                    }
                }
            }
        }
        tensor(x.shape.clone(), out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn f32s_of(t: &Tensor) -> Vec<f32> {
        view::<f32>(t).unwrap().into_owned()
    }

    // The ONNX node tests for CumSum (onnx/backend/test/case/node/cumsum.py).
    #[test]
    fn onnx_node_tests() {
        let x = f32t(&[5], &[1., 2., 3., 4., 5.]);
        let ax = i64t(&[], &[0]);
        let run = |e, r, x: &Tensor, a: &Tensor| f32s_of(&cumsum(e, r, x, a).unwrap());
        assert_eq!(run(false, false, &x, &ax), [1., 3., 6., 10., 15.]);
        assert_eq!(run(true, false, &x, &ax), [0., 1., 3., 6., 10.]);
        assert_eq!(run(false, true, &x, &ax), [15., 14., 12., 9., 5.]);
        assert_eq!(run(true, true, &x, &ax), [14., 12., 9., 5., 0.]);
        let x2 = f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.]);
        assert_eq!(run(false, false, &x2, &ax), [1., 2., 3., 5., 7., 9.]);
        let ax1 = i64t(&[], &[1]);
        assert_eq!(run(false, false, &x2, &ax1), [1., 3., 6., 4., 9., 15.]);
        let axm1 = i32t(&[], &[-1]);
        assert_eq!(run(false, false, &x2, &axm1), [1., 3., 6., 4., 9., 15.]);
        // test_cumsum_2d_int32 and test_cumsum_1d_int32_exclusive.
        let xi = i32t(&[2, 3], &[1, 2, 3, 4, 5, 6]);
        let y = cumsum(false, false, &xi, &ax).unwrap();
        assert_eq!(view::<i32>(&y).unwrap().into_owned(), [1, 2, 3, 5, 7, 9]);
        let xi = i32t(&[5], &[1, 2, 3, 4, 5]);
        let y = cumsum(true, false, &xi, &ax).unwrap();
        assert_eq!(view::<i32>(&y).unwrap().into_owned(), [0, 1, 3, 6, 10]);
    }

    #[test]
    fn integers_wrap_and_bad_axes_are_errors() {
        let x = i64t(&[2], &[i64::MAX, 1]);
        let y = cumsum(false, false, &x, &i64t(&[], &[0])).unwrap();
        assert_eq!(i64s(&y), [i64::MAX, i64::MIN]);
        let e = cumsum(false, false, &x, &i64t(&[], &[1])).unwrap_err();
        assert!(e.contains("axis"), "{e}");
        let e = cumsum(false, false, &x, &i64t(&[2], &[0, 0])).unwrap_err();
        assert!(e.contains("axis"), "{e}");
    }
}
