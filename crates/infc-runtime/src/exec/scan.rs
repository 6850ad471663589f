//! Scan executors: CumSum over f32, i32 or i64 (the kernel in `infc_kernels::scan`).

use crate::fault::StepFault;
use crate::mem::{rd, view, view_mut, Mem};
use infc_kernels::scan::{cumsum as kernel, CumSumParams, ScanElem};
use infc_plan::{CumSumStep, DType};

pub(crate) fn cumsum(s: &CumSumStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let p = CumSumParams {
        outer: s.outer as usize,
        len: s.len as usize,
        inner: s.inner as usize,
        exclusive: s.exclusive,
        reverse: s.reverse,
    };
    let bytes = p.outer * p.len * p.inner * s.dtype.size();
    let (y, [x]) = m.io((s.y.offset, bytes), [rd(s.x, bytes)])?;
    let x = x.ok_or("CumSum input aliases its output")?;
    fn typed<T: ScanElem + bytemuck::Pod>(
        p: &CumSumParams,
        x: &[u8],
        y: &mut [u8],
    ) -> Result<(), StepFault> {
        kernel(p, view::<T>(x)?, view_mut::<T>(y)?).map_err(StepFault::Kernel)
    }
    match s.dtype {
        DType::F32 => typed::<f32>(&p, x, y),
        DType::I32 => typed::<i32>(&p, x, y),
        DType::I64 => typed::<i64>(&p, x, y),
        d => Err(StepFault::Unsupported(format!("CumSum of {d}"))),
    }
}
