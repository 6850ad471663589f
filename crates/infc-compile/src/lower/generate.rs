//! Ops that generate data: Range (a step reading start/delta at run time) and ConstantOfShape
//! (a `Fill` step). `Shape` is folded to a constant during analysis.

use super::Lowerer;
use crate::error::CompileError;
use infc_ir::DType;
use infc_plan::{FillStep, RangeStep, Step};

pub(crate) fn range(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let (start, delta, y) = (lw.input(0)?, lw.input(2)?, lw.output(0)?);
    if !matches!(lw.ir_dtype(y), DType::F32 | DType::I64 | DType::I32) {
        return Err(lw.unsupported(format!(
            "{} range (f32, i64 and i32 are supported)",
            lw.ir_dtype(y)
        )));
    }
    if lw.ir_dtype(start) != lw.ir_dtype(y) || lw.ir_dtype(delta) != lw.ir_dtype(y) {
        return Err(lw.malformed("start, delta and output dtypes differ"));
    }
    let step = RangeStep {
        dtype: lw.dtype(y),
        len: lw.numel(y),
        start: lw.at(start)?,
        delta: lw.at(delta)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Range(step));
    Ok(())
}

/// The little-endian bits of `value` (an f64) converted to `dtype`.
fn scalar_bits(dtype: DType, value: f64) -> u64 {
    match dtype {
        DType::F32 => (value as f32).to_bits() as u64,
        // Through f32, not `f16::from_f64`: half's F16C path rounds an f64 to f32 first and its
        // software fallback does not. An imported f16 fill value is an exact f64 (and f32).
        DType::F16 => half::f16::from_f32(value as f32).to_bits() as u64,
        DType::I64 => value as i64 as u64,
        DType::I32 => value as i32 as u32 as u64,
        DType::I8 => value as i8 as u8 as u64,
        DType::U8 => value as u8 as u64,
        DType::Bool => (value != 0.0) as u64,
    }
}

pub(crate) fn constant_of_shape(
    lw: &mut Lowerer<'_>,
    dtype: DType,
    value_bits: u64,
) -> Result<(), CompileError> {
    let y = lw.output(0)?;
    let step = FillStep {
        dtype: super::plan_dtype(dtype),
        len: lw.numel(y),
        value: scalar_bits(dtype, f64::from_bits(value_bits)),
        y: lw.at(y)?,
    };
    lw.emit(Step::Fill(step));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_bits_per_dtype() {
        assert_eq!(scalar_bits(DType::F32, 1.5), 1.5f32.to_bits() as u64);
        assert_eq!(scalar_bits(DType::I64, -2.0), (-2i64) as u64);
        assert_eq!(scalar_bits(DType::I32, -1.0), 0xffff_ffff);
        assert_eq!(scalar_bits(DType::Bool, 3.0), 1);
        assert_eq!(scalar_bits(DType::F16, 1.0), 0x3c00);
        assert_eq!(scalar_bits(DType::F16, -2.5), 0xc100);
    }

    /// f16 fill values: ties to even in the subnormal range (the hand-written conversion this
    /// replaced rounded them up), NaN, ±inf, overflow to inf and the largest finite f16.
    #[test]
    fn f16_fill_bits_round_to_nearest_even() {
        let f16 = |v: f64| scalar_bits(DType::F16, v);
        let tiny = |k: f64| k * 2f64.powi(-24);
        assert_eq!(f16(tiny(0.5)), 0x0000);
        assert_eq!(f16(-tiny(0.5)), 0x8000);
        assert_eq!(f16(tiny(1.5)), 0x0002);
        assert_eq!(f16(tiny(2.5)), 0x0002);
        assert_eq!(f16(tiny(3.5)), 0x0004);
        assert_eq!(f16(tiny(1023.5)), 0x0400);
        assert_eq!(f16(1.0 + 2f64.powi(-11)), 0x3c00);
        assert_eq!(f16(1.0 + 3.0 * 2f64.powi(-11)), 0x3c02);
        let nan = f16(f64::NAN);
        assert!(nan & 0x7c00 == 0x7c00 && nan & 0x3ff != 0, "{nan:#x}");
        assert_eq!(f16(f64::INFINITY), 0x7c00);
        assert_eq!(f16(f64::NEG_INFINITY), 0xfc00);
        assert_eq!(f16(65504.0), 0x7bff);
        assert_eq!(f16(-65504.0), 0xfbff);
        assert_eq!(f16(65519.0), 0x7bff);
        assert_eq!(f16(65520.0), 0x7c00);
        assert_eq!(f16(1e10), 0x7c00);
        assert_eq!(f16(-1e10), 0xfc00);
    }
}
