//! Prefix sums along the middle axis of `[outer, len, inner]` (CumSum). Each output row is the
//! previous output row plus one input row, so the inner loop runs over `inner` contiguous elements
//! and vectorises; floats accumulate in the element type in order (as onnxruntime does), integers
//! wrap.

use crate::error::{bad_shape, Result};

/// An element type CumSum runs on.
pub trait ScanElem: Copy + Default {
    /// `self + o` (wrapping for integers).
    fn plus(self, o: Self) -> Self;
}

impl ScanElem for f32 {
    #[inline(always)]
    fn plus(self, o: Self) -> Self {
        self + o
    }
}

impl ScanElem for i32 {
    #[inline(always)]
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
}

impl ScanElem for i64 {
    #[inline(always)]
    fn plus(self, o: Self) -> Self {
        self.wrapping_add(o)
    }
}

/// Shape and flags of one CumSum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CumSumParams {
    pub outer: usize,
    pub len: usize,
    pub inner: usize,
    /// Leave the current element out of its own sum.
    pub exclusive: bool,
    /// Sum from the end of the axis.
    pub reverse: bool,
}

/// `y` = the running sums of `x` (both `outer × len × inner`, row-major), see [`CumSumParams`].
pub fn cumsum<T: ScanElem>(p: &CumSumParams, x: &[T], y: &mut [T]) -> Result<()> {
    let n = p
        .outer
        .checked_mul(p.len)
        .and_then(|v| v.checked_mul(p.inner))
        .ok_or_else(|| bad_shape("CumSum", "shape overflows"))?;
    if x.len() != n || y.len() != n {
        return Err(bad_shape(
            "CumSum",
            format!(
                "CumSum of {}×{}×{} needs {n} elements, got x {} and y {}",
                p.outer,
                p.len,
                p.inner,
                x.len(),
                y.len()
            ),
        ));
    }
    if n == 0 {
        return Ok(());
    }
    let (len, inner) = (p.len, p.inner);
    for (xs, ys) in x
        .chunks_exact(len * inner)
        .zip(y.chunks_exact_mut(len * inner))
    {
        // Row `k` of the walk: `k`-th from the start, or from the end when reversed.
        let row = |k: usize| if p.reverse { len - 1 - k } else { k } * inner;
        let first = row(0);
        if p.exclusive {
            ys[first..first + inner].fill(T::default());
        } else {
            ys[first..first + inner].copy_from_slice(&xs[first..first + inner]);
        }
        for k in 1..len {
            let (prev, cur) = (row(k - 1), row(k));
            // The input row added: the current one, or the previous one when exclusive.
            let add = if p.exclusive { prev } else { cur };
            for i in 0..inner {
                ys[cur + i] = ys[prev + i].plus(xs[add + i]);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(exclusive: bool, reverse: bool, shape: [usize; 3], x: &[f32]) -> Vec<f32> {
        let p = CumSumParams {
            outer: shape[0],
            len: shape[1],
            inner: shape[2],
            exclusive,
            reverse,
        };
        let mut y = vec![0.0; x.len()];
        cumsum(&p, x, &mut y).unwrap();
        y
    }

    #[test]
    fn onnx_node_test_values() {
        let x = [1., 2., 3., 4., 5.];
        assert_eq!(run(false, false, [1, 5, 1], &x), [1., 3., 6., 10., 15.]);
        assert_eq!(run(true, false, [1, 5, 1], &x), [0., 1., 3., 6., 10.]);
        assert_eq!(run(false, true, [1, 5, 1], &x), [15., 14., 12., 9., 5.]);
        assert_eq!(run(true, true, [1, 5, 1], &x), [14., 12., 9., 5., 0.]);
        let x2 = [1., 2., 3., 4., 5., 6.];
        // [2,3] along axis 0 (inner 3) and axis 1 (outer 2).
        assert_eq!(run(false, false, [1, 2, 3], &x2), [1., 2., 3., 5., 7., 9.]);
        assert_eq!(run(false, false, [2, 3, 1], &x2), [1., 3., 6., 4., 9., 15.]);
    }

    #[test]
    fn integers_wrap_and_sizes_are_checked() {
        let p = CumSumParams {
            outer: 1,
            len: 2,
            inner: 1,
            exclusive: false,
            reverse: false,
        };
        let mut y = [0i64; 2];
        cumsum(&p, &[i64::MAX, 1], &mut y).unwrap();
        assert_eq!(y, [i64::MAX, i64::MIN]);
        assert!(cumsum(&p, &[1i64], &mut y).is_err());
        let empty = CumSumParams { len: 0, ..p };
        cumsum::<i32>(&empty, &[], &mut []).unwrap();
    }
}
