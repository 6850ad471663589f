//! Scan steps: CumSum (running sums along one axis). Fields, encoding and descriptor table.

use crate::describe::{count, need, Describe, Tensors};
use crate::types::{DType, TensorRef};
use crate::wire::wire_struct;

/// Running sums of `x` viewed as `[outer, len, inner]` along the middle axis: `y[o, k, i]` sums
/// `x[o, j, i]` for `j ≤ k` (`j < k` when `exclusive`; `j ≥ k` / `j > k` when `reverse`). Floats
/// accumulate in f32 in order, integers wrap.
#[derive(Clone, Debug, PartialEq)]
pub struct CumSumStep {
    pub dtype: DType,
    pub exclusive: bool,
    pub reverse: bool,
    pub outer: u64,
    pub len: u64,
    pub inner: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(CumSumStep {
    dtype,
    exclusive,
    reverse,
    outer,
    len,
    inner,
    x,
    y
});

impl Describe for CumSumStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let s = self;
        need(
            matches!(s.dtype, DType::F32 | DType::I32 | DType::I64),
            || format!("CumSum of {} (f32, i32 or i64 only)", s.dtype),
        )?;
        let n = count("shape", &[s.outer, s.len, s.inner])?;
        t.read("x", s.x, s.dtype, n);
        t.write("y", s.y, s.dtype, n);
        Ok(())
    }
}
