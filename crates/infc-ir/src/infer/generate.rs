//! Inference for ops that produce shapes or fresh tensors: Shape, Range, ConstantOfShape.

use super::values::fmt_elems;
use super::{Cx, SymInt};
use crate::{DType, Dim, IrError, TensorType};

pub(super) fn shape(cx: &Cx, start: i64, end: Option<i64>) -> Result<Vec<TensorType>, IrError> {
    let r = cx.ty(0).rank() as i64;
    let clamp = |v: i64| (if v < 0 { v + r } else { v }).clamp(0, r);
    let (s, e) = (clamp(start), clamp(end.unwrap_or(r)));
    Ok(vec![TensorType::known(
        DType::I64,
        &[(e - s).max(0) as usize],
    )])
}

pub(super) fn range(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    let dtype = cx.ty(0).dtype;
    for i in 0..3 {
        cx.same_dtype(0, i)?;
        if cx.ty(i).shape.numel() != Some(1) {
            return Err(cx.err(format!("input {i} must be a scalar, got {}", cx.ty(i))));
        }
    }
    if dtype == DType::Bool {
        return Err(cx.err("Range over bool"));
    }
    let first = |v: Option<Vec<SymInt>>| v.and_then(|v| v.into_iter().next());
    let ints = if dtype.is_integer() {
        (
            first(cx.sym_ints(0)?),
            first(cx.sym_ints(1)?),
            first(cx.sym_ints(2)?),
        )
    } else {
        (None, None, None)
    };
    let len = match ints {
        (Some(SymInt::Int(0)), Some(SymInt::Sym(l)), Some(SymInt::Int(1))) => Dim::Sym(l),
        (Some(SymInt::Int(s)), Some(SymInt::Int(l)), Some(SymInt::Int(d))) => {
            if d == 0 {
                return Err(cx.err("delta is 0"));
            }
            let (num, d) = (l as i128 - s as i128, d as i128);
            let n = if (num > 0) == (d > 0) && num != 0 {
                (num.abs() + d.abs() - 1) / d.abs()
            } else {
                0
            };
            Dim::Known(usize::try_from(n).map_err(|_| cx.err("range too long"))?)
        }
        _ => match (cx.const_f64(0)?, cx.const_f64(1)?, cx.const_f64(2)?) {
            (Some(s), Some(l), Some(d)) => {
                let (s, l, d) = (s[0], l[0], d[0]);
                if d == 0.0 {
                    return Err(cx.err("delta is 0"));
                }
                let n = ((l - s) / d).ceil();
                if !n.is_finite() || n > usize::MAX as f64 / 2.0 {
                    return Err(cx.err(format!("range {s}..{l} step {d} has no finite length")));
                }
                Dim::Known(n.max(0.0) as usize)
            }
            _ => cx.fresh(0),
        },
    };
    Ok(vec![TensorType::new(dtype, vec![len])])
}

pub(super) fn constant_of_shape(cx: &Cx, dtype: DType) -> Result<Vec<TensorType>, IrError> {
    cx.expect_dtype(0, DType::I64)?;
    let n = cx.shape_input_len(0)?;
    let dims: Vec<Dim> = match cx.sym_ints(0)? {
        Some(v) => v
            .iter()
            .enumerate()
            .map(|(i, e)| match e {
                SymInt::Int(d) if *d < 0 => {
                    Err(cx.err(format!("shape {} has negative entry {d}", fmt_elems(&v))))
                }
                SymInt::Int(d) => Ok(Dim::Known(*d as usize)),
                SymInt::Sym(s) => Ok(Dim::Sym(s.clone())),
                SymInt::Unknown => Ok(cx.fresh(i)),
            })
            .collect::<Result<_, _>>()?,
        None => (0..n).map(|i| cx.fresh(i)).collect(),
    };
    Ok(vec![TensorType::new(dtype, dims)])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::{DType, Op};

    #[test]
    fn shape_op() {
        let b = Builder::new().input("f32[b,s,768]");
        assert_eq!(
            b.one(Op::Shape {
                start: 0,
                end: None
            }),
            "i64[3]"
        );
        assert_eq!(
            b.one(Op::Shape {
                start: -2,
                end: Some(-1)
            }),
            "i64[1]"
        );
        assert_eq!(
            b.one(Op::Shape {
                start: 2,
                end: Some(1)
            }),
            "i64[0]"
        );
    }

    #[test]
    fn range_op() {
        let b = Builder::new().scalar_i64(0).scalar_i64(10).scalar_i64(3);
        assert_eq!(b.one(Op::Range), "i64[4]");
        let b = Builder::new().scalar_i64(0).input("i64[]").scalar_i64(1);
        assert_eq!(b.one(Op::Range), "i64[n:d0]");
        let b = Builder::new()
            .scalar_f32(0.0)
            .scalar_f32(1.0)
            .scalar_f32(0.25);
        assert_eq!(b.one(Op::Range), "f32[4]");
        let b = Builder::new().scalar_i64(5).scalar_i64(0).scalar_i64(1);
        assert_eq!(b.one(Op::Range), "i64[0]");
        let b = Builder::new().scalar_i64(0).scalar_i64(5).scalar_i64(0);
        assert_eq!(
            b.one(Op::Range),
            "error: shape inference: node 'n' (Range): delta is 0"
        );
        let b = Builder::new().scalar_i64(0).scalar_f32(5.0).scalar_i64(1);
        assert!(b.one(Op::Range).contains("differ in dtype"));
    }

    #[test]
    fn constant_of_shape_op() {
        let op = Op::ConstantOfShape {
            dtype: DType::F32,
            value_bits: 0,
        };
        let b = Builder::new().ints(&[2, 3]);
        assert_eq!(b.one(op.clone()), "f32[2,3]");
        let b = Builder::new().input("i64[2]");
        assert_eq!(b.one(op.clone()), "f32[n:d0,n:d1]");
        let b = Builder::new().ints(&[2, -3]);
        assert!(b.one(op).contains("negative entry -3"));
    }
}
