//! Lowering of CumSum: the input viewed as `[outer, len, inner]` around its (constant) axis.

use super::{norm_axis, Lowerer};
use crate::error::CompileError;
use infc_plan::{CumSumStep, DType, Step};

pub(crate) fn cumsum(
    lw: &mut Lowerer<'_>,
    exclusive: bool,
    reverse: bool,
) -> Result<(), CompileError> {
    let (x, axis, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    let axis = match lw.const_i64(axis)?.as_deref() {
        Some(&[a]) => a,
        _ => {
            return Err(lw
                .unsupported("CumSum's axis must be a constant (it is computed at run time here)"))
        }
    };
    let dtype = lw.dtype(x);
    if !matches!(dtype, DType::F32 | DType::I32 | DType::I64) {
        return Err(lw.unsupported(format!("CumSum of {dtype} (f32, i32 or i64 only)")));
    }
    let s = lw.shape(x);
    let a = norm_axis(lw, axis, s.len())?;
    let step = CumSumStep {
        dtype,
        exclusive,
        reverse,
        outer: s[..a].iter().product(),
        len: s[a],
        inner: s[a + 1..].iter().product(),
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::CumSum(step));
    Ok(())
}
