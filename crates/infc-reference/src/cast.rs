//! `Cast` between every pair of IR dtypes, with ONNX semantics:
//!
//! - float → integer truncates toward zero; out-of-range values saturate and NaN becomes 0 (ONNX
//!   leaves these undefined; saturation is Rust's `as` and what most runtimes produce).
//! - float → bool and integer → bool are `x != 0` (NaN → true); bool → anything is 0 / 1.
//! - integer → integer wraps (two's complement), as numpy's `astype` and C casts do.
//! - integer → float rounds to nearest; f32 → f16 rounds to nearest even (via `half`); f16 → f32 is exact.
//!
//! Floats travel as f64 and integers as i64, which hold every source value exactly (f16/f32 ⊂ f64,
//! all IR integers ⊂ i64), so each conversion rounds at most once.

use crate::access::{bool_tensor, bools, tensor, view, OpResult};
use half::f16;
use infc_ir::{DType, Tensor};

/// Source elements, each held exactly.
enum Source {
    Float(Vec<f64>),
    Int(Vec<i64>),
}

pub(crate) fn cast(x: &Tensor, to: DType) -> OpResult<Tensor> {
    if x.dtype == to {
        return Ok(x.clone());
    }
    let src = match x.dtype {
        DType::F32 => Source::Float(view::<f32>(x)?.iter().map(|&v| v as f64).collect()),
        DType::F16 => Source::Float(view::<f16>(x)?.iter().map(|v| v.to_f64()).collect()),
        DType::Bool => Source::Int(bools(x, "input")?.into_iter().map(i64::from).collect()),
        DType::I64 | DType::I32 | DType::I8 | DType::U8 => {
            Source::Int(x.to_i64_vec().map_err(|e| e.to_string())?)
        }
    };
    let shape = x.shape.clone();
    match src {
        Source::Float(v) => match to {
            DType::F32 => tensor(shape, v.iter().map(|&f| f as f32).collect()),
            DType::F16 => tensor(shape, v.iter().map(|&f| f16::from_f64(f)).collect()),
            DType::I64 => tensor(shape, v.iter().map(|&f| f as i64).collect()),
            DType::I32 => tensor(shape, v.iter().map(|&f| f as i32).collect()),
            DType::I8 => tensor(shape, v.iter().map(|&f| f as i8).collect()),
            DType::U8 => tensor(shape, v.iter().map(|&f| f as u8).collect()),
            DType::Bool => bool_tensor(shape, &v.iter().map(|&f| f != 0.0).collect::<Vec<_>>()),
        },
        Source::Int(v) => match to {
            DType::F32 => tensor(shape, v.iter().map(|&i| i as f32).collect()),
            // i64 → f64 may round above 2^53, but such values overflow f16 to ±inf either way.
            DType::F16 => tensor(shape, v.iter().map(|&i| f16::from_f64(i as f64)).collect()),
            DType::I64 => tensor(shape, v),
            DType::I32 => tensor(shape, v.iter().map(|&i| i as i32).collect()),
            DType::I8 => tensor(shape, v.iter().map(|&i| i as i8).collect()),
            DType::U8 => tensor(shape, v.iter().map(|&i| i as u8).collect()),
            DType::Bool => bool_tensor(shape, &v.iter().map(|&i| i != 0).collect::<Vec<_>>()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    #[test]
    fn float_to_int_truncates_toward_zero() {
        let x = f32t(&[6], &[2.7, -2.7, 0.5, -0.5, 1e20, f32::NAN]);
        assert_eq!(
            i64s(&cast(&x, DType::I64).unwrap()),
            vec![2, -2, 0, 0, i64::MAX, 0]
        );
        assert_eq!(
            i32s(&cast(&x, DType::I32).unwrap()),
            vec![2, -2, 0, 0, i32::MAX, 0]
        );
        assert_eq!(
            i8s(&cast(&f32t(&[2], &[-300., 127.9]), DType::I8).unwrap()),
            vec![-128, 127]
        );
        assert_eq!(
            u8s(&cast(&f32t(&[2], &[-1., 255.9]), DType::U8).unwrap()),
            vec![0, 255]
        );
    }

    #[test]
    fn bool_conversions() {
        let x = f32t(&[4], &[0., -0., 0.1, f32::NAN]);
        assert_eq!(
            boolv(&cast(&x, DType::Bool).unwrap()),
            vec![false, false, true, true]
        );
        let b = boolt(&[2], &[true, false]);
        assert_eq!(f32s(&cast(&b, DType::F32).unwrap()), vec![1., 0.]);
        assert_eq!(i64s(&cast(&b, DType::I64).unwrap()), vec![1, 0]);
        assert_eq!(
            boolv(&cast(&i64t(&[3], &[0, 2, -1]), DType::Bool).unwrap()),
            vec![false, true, true]
        );
    }

    #[test]
    fn integer_narrowing_wraps() {
        let x = i64t(&[3], &[300, -129, 1 << 40]);
        assert_eq!(i8s(&cast(&x, DType::I8).unwrap()), vec![44, 127, 0]);
        assert_eq!(u8s(&cast(&x, DType::U8).unwrap()), vec![44, 127, 0]);
        assert_eq!(i32s(&cast(&x, DType::I32).unwrap()), vec![300, -129, 0]);
        assert_eq!(
            i64s(&cast(&u8t(&[1], &[200]), DType::I64).unwrap()),
            vec![200]
        );
    }

    #[test]
    fn f16_round_trip_and_rounding() {
        let x = f32t(&[4], &[1.0, 65504.0, 70000.0, 1.0 + 1.0 / 4096.0]);
        let h = cast(&x, DType::F16).unwrap();
        assert_eq!(h.dtype, DType::F16);
        let back = f32s(&cast(&h, DType::F32).unwrap());
        // f16 spacing at 1 is 2^-10: 1 + 2^-12 rounds down to 1; 70000 overflows to +inf.
        assert_eq!(back, vec![1.0, 65504.0, f32::INFINITY, 1.0]);
        assert_eq!(i64s(&cast(&h, DType::I64).unwrap())[..2], [1, 65504]);
        let from_int = cast(&i64t(&[2], &[3, -2049]), DType::F16).unwrap();
        // f16 spacing at 2048 is 2: -2049 is a tie, rounded to the even mantissa (-2048).
        assert_eq!(
            f32s(&cast(&from_int, DType::F32).unwrap()),
            vec![3.0, -2048.0]
        );
    }

    #[test]
    fn same_dtype_is_identity() {
        let x = i32t(&[2], &[1, 2]);
        assert_eq!(i32s(&cast(&x, DType::I32).unwrap()), vec![1, 2]);
    }
}
