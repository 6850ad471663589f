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
        DType::F16 => f32_to_f16_bits(value as f32) as u64,
        DType::I64 => value as i64 as u64,
        DType::I32 => value as i32 as u32 as u64,
        DType::I8 => value as i8 as u8 as u64,
        DType::U8 => value as u8 as u64,
        DType::Bool => (value != 0.0) as u64,
    }
}

/// Round-to-nearest-even f32 → f16 bits (enough for fill values).
fn f32_to_f16_bits(v: f32) -> u16 {
    let b = v.to_bits();
    let sign = ((b >> 16) & 0x8000) as u16;
    let exp = ((b >> 23) & 0xff) as i32;
    let man = b & 0x7f_ffff;
    if exp == 0xff {
        return sign | 0x7c00 | if man != 0 { 0x200 } else { 0 };
    }
    let e = exp - 127 + 15;
    if e >= 0x1f {
        return sign | 0x7c00;
    }
    if e <= 0 {
        if e < -10 {
            return sign;
        }
        let m = (man | 0x80_0000) >> (1 - e);
        return sign | ((m + 0x1000) >> 13) as u16;
    }
    let half = sign | ((e as u16) << 10) | (man >> 13) as u16;
    let rest = man & 0x1fff;
    if rest > 0x1000 || (rest == 0x1000 && half & 1 == 1) {
        half + 1
    } else {
        half
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
}
