//! `Reduce` (Mean, Sum, Max, Min, Prod) over a set of axes, with or without keepdims.
//!
//! `axes: None` reduces every axis; `Some(list)` reduces exactly the listed axes (negative allowed,
//! duplicates rejected), so `Some([])` reduces nothing. Floats accumulate in f64; integers
//! accumulate exactly in i64 with wrap, and integer Mean truncates toward zero. Max/Min propagate
//! NaN. Reducing an empty set gives 0 (Sum), 1 (Prod), −∞/type minimum (Max), +∞/type maximum (Min),
//! NaN for a float Mean and an error for an integer Mean.

use crate::access::{norm_axis, tensor, view, OpResult};
use crate::broadcast::for_each_offset;
use crate::num::{dispatch_num, Num};
use infc_ir::{ReduceOp, Tensor};

pub(crate) fn reduce(
    op: ReduceOp,
    axes: Option<&[i64]>,
    keepdims: bool,
    x: &Tensor,
) -> OpResult<Tensor> {
    let rank = x.shape.len();
    let mut reduced = vec![axes.is_none(); rank];
    for &a in axes.unwrap_or(&[]) {
        let a = norm_axis(a, rank)?;
        if std::mem::replace(&mut reduced[a], true) {
            return Err(format!("axis {a} is listed twice"));
        }
    }
    // Shape with reduced dims kept as 1: every input element maps to one offset in it.
    let kept: Vec<usize> = x
        .shape
        .iter()
        .zip(&reduced)
        .map(|(&d, &r)| if r { 1 } else { d })
        .collect();
    let out_shape: Vec<usize> = if keepdims {
        kept.clone()
    } else {
        x.shape
            .iter()
            .zip(&reduced)
            .filter(|(_, &r)| !r)
            .map(|(&d, _)| d)
            .collect()
    };
    let groups: usize = kept.iter().product();
    let count = x.numel() / groups.max(1);
    let name = infc_ir::Op::Reduce {
        op,
        axes: None,
        keepdims,
    }
    .name();
    dispatch_num!(x.dtype, name, |T| {
        let xs = view::<T>(x)?;
        let out: Vec<T> = if T::IS_FLOAT {
            let init = match op {
                ReduceOp::Sum | ReduceOp::Mean => 0.0,
                ReduceOp::Prod => 1.0,
                ReduceOp::Max => f64::NEG_INFINITY,
                ReduceOp::Min => f64::INFINITY,
            };
            let mut acc = vec![init; groups];
            for_each_offset(&x.shape, [&x.shape, &kept], |[i, o]| {
                let (a, v) = (acc[o], xs[i].to_f64());
                acc[o] = match op {
                    ReduceOp::Sum | ReduceOp::Mean => a + v,
                    ReduceOp::Prod => a * v,
                    // NaN, once seen, sticks.
                    ReduceOp::Max if a.is_nan() || !(v.is_nan() || v > a) => a,
                    ReduceOp::Min if a.is_nan() || !(v.is_nan() || v < a) => a,
                    ReduceOp::Max | ReduceOp::Min => v,
                };
            });
            if op == ReduceOp::Mean {
                acc.iter_mut().for_each(|a| *a /= count as f64);
            }
            acc.into_iter().map(T::from_f64).collect()
        } else {
            let init = match op {
                ReduceOp::Sum | ReduceOp::Mean => 0,
                ReduceOp::Prod => 1,
                ReduceOp::Max => T::lowest().to_i64(),
                ReduceOp::Min => T::highest().to_i64(),
            };
            let mut acc = vec![init; groups];
            for_each_offset(&x.shape, [&x.shape, &kept], |[i, o]| {
                let (a, v) = (acc[o], xs[i].to_i64());
                acc[o] = match op {
                    ReduceOp::Sum | ReduceOp::Mean => a.wrapping_add(v),
                    ReduceOp::Prod => a.wrapping_mul(v),
                    ReduceOp::Max => a.max(v),
                    ReduceOp::Min => a.min(v),
                };
            });
            if op == ReduceOp::Mean {
                if count == 0 {
                    return Err("integer mean of an empty set".into());
                }
                acc.iter_mut().for_each(|a| *a /= count as i64);
            }
            acc.into_iter().map(T::from_i64_wrapping).collect()
        };
        tensor(out_shape, out)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn x() -> Tensor {
        f32t(&[2, 3], &[1., 2., 3., 4., 5., 6.])
    }

    #[test]
    fn axes_and_keepdims() {
        let y = reduce(ReduceOp::Sum, Some(&[1]), false, &x()).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![2], vec![6., 15.]));
        let y = reduce(ReduceOp::Mean, Some(&[-2]), true, &x()).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![1, 3], vec![2.5, 3.5, 4.5])
        );
        let y = reduce(ReduceOp::Max, None, false, &x()).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![], vec![6.]));
        let y = reduce(ReduceOp::Prod, None, true, &x()).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![1, 1], vec![720.]));
        let y = reduce(ReduceOp::Min, Some(&[]), true, &x()).unwrap();
        assert_eq!((y.shape.clone(), f32s(&y)), (vec![2, 3], f32s(&x())));
        assert_eq!(
            reduce(ReduceOp::Sum, Some(&[1, -1]), true, &x()).unwrap_err(),
            "axis 1 is listed twice"
        );
        assert_eq!(
            reduce(ReduceOp::Sum, Some(&[2]), true, &x()).unwrap_err(),
            "axis 2 is out of range for rank 2"
        );
    }

    #[test]
    fn middle_axis_of_rank3() {
        let x = f32t(&[2, 2, 2], &iota(8));
        let y = reduce(ReduceOp::Mean, Some(&[1]), true, &x).unwrap();
        assert_eq!(
            (y.shape.clone(), f32s(&y)),
            (vec![2, 1, 2], vec![1., 2., 5., 6.])
        );
    }

    #[test]
    fn integers_exact() {
        let x = i64t(&[3], &[i64::MAX, 1, -1]);
        assert_eq!(
            i64s(&reduce(ReduceOp::Sum, None, false, &x).unwrap()),
            vec![i64::MAX]
        );
        assert_eq!(
            i64s(&reduce(ReduceOp::Min, None, false, &x).unwrap()),
            vec![-1]
        );
        let y = i32t(&[2], &[-7, 2]);
        assert_eq!(
            i32s(&reduce(ReduceOp::Mean, None, false, &y).unwrap()),
            vec![-2]
        );
        assert_eq!(
            u8s(&reduce(ReduceOp::Max, None, false, &u8t(&[2], &[7, 200])).unwrap()),
            vec![200]
        );
    }

    #[test]
    fn empty_and_nan() {
        let e = f32t(&[0, 2], &[]);
        assert_eq!(
            f32s(&reduce(ReduceOp::Sum, Some(&[0]), false, &e).unwrap()),
            vec![0., 0.]
        );
        assert_eq!(
            f32s(&reduce(ReduceOp::Prod, Some(&[0]), false, &e).unwrap()),
            vec![1., 1.]
        );
        assert_eq!(
            f32s(&reduce(ReduceOp::Max, Some(&[0]), false, &e).unwrap()),
            vec![f32::NEG_INFINITY; 2]
        );
        assert!(f32s(&reduce(ReduceOp::Mean, Some(&[0]), false, &e).unwrap())[0].is_nan());
        let y = reduce(ReduceOp::Sum, Some(&[1]), true, &e).unwrap();
        assert_eq!(y.shape, vec![0, 1]);
        let ie = i64t(&[0], &[]);
        assert_eq!(
            reduce(ReduceOp::Mean, None, false, &ie).unwrap_err(),
            "integer mean of an empty set"
        );
        let n = f32t(&[3], &[1., f32::NAN, 3.]);
        assert!(f32s(&reduce(ReduceOp::Max, None, false, &n).unwrap())[0].is_nan());
        assert!(f32s(&reduce(ReduceOp::Min, None, false, &n).unwrap())[0].is_nan());
        assert!(reduce(ReduceOp::Sum, None, false, &boolt(&[1], &[true])).is_err());
    }
}
