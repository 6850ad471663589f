//! Inference for elementwise ops: Unary, Binary (broadcasting, bool-valued comparisons), Where,
//! Cast, Clip, and the shape-preserving ops (Identity, Dropout, BatchNorm, Trilu).

use super::{broadcast_shapes, Cx};
use crate::{BinaryOp, DType, IrError, TensorType, UnaryOp};

fn broadcast(cx: &Cx, idx: &[usize]) -> Result<crate::Shape, IrError> {
    let shapes: Vec<&crate::Shape> = idx.iter().map(|&i| &cx.ty(i).shape).collect();
    broadcast_shapes(&shapes).map_err(|(pos, a, b)| {
        let tys: Vec<String> = idx.iter().map(|&i| cx.ty(i).to_string()).collect();
        cx.err(format!(
            "cannot broadcast {} (output dim {pos}: {a} vs {b})",
            tys.join(" with ")
        ))
    })
}

pub(super) fn unary(cx: &Cx, op: UnaryOp) -> Result<Vec<TensorType>, IrError> {
    let t = cx.ty(0);
    let dtype = match op {
        UnaryOp::IsNaN => {
            if !t.dtype.is_float() {
                return Err(cx.err(format!("input must be a float tensor, got {}", t.dtype)));
            }
            DType::Bool
        }
        UnaryOp::Not => {
            cx.expect_dtype(0, DType::Bool)?;
            DType::Bool
        }
        UnaryOp::Relu | UnaryOp::Neg | UnaryOp::Abs => t.dtype,
        _ => {
            if !t.dtype.is_float() {
                return Err(cx.err(format!("input must be a float tensor, got {}", t.dtype)));
            }
            t.dtype
        }
    };
    Ok(vec![TensorType::new(dtype, t.shape.clone())])
}

pub(super) fn binary(cx: &Cx, op: BinaryOp) -> Result<Vec<TensorType>, IrError> {
    let dtype = match op {
        // ONNX Pow allows an exponent of another numeric type; the result has the base's type.
        BinaryOp::Pow => cx.ty(0).dtype,
        BinaryOp::And | BinaryOp::Or | BinaryOp::Xor => {
            cx.expect_dtype(0, DType::Bool)?;
            cx.expect_dtype(1, DType::Bool)?;
            DType::Bool
        }
        _ if op.is_comparison() => {
            cx.same_dtype(0, 1)?;
            DType::Bool
        }
        _ => cx.same_dtype(0, 1)?,
    };
    Ok(vec![TensorType::new(dtype, broadcast(cx, &[0, 1])?)])
}

pub(super) fn where_(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    cx.expect_dtype(0, DType::Bool)?;
    let dtype = cx.same_dtype(1, 2)?;
    Ok(vec![TensorType::new(dtype, broadcast(cx, &[0, 1, 2])?)])
}

pub(super) fn cast(cx: &Cx, to: DType) -> Result<Vec<TensorType>, IrError> {
    Ok(vec![TensorType::new(to, cx.ty(0).shape.clone())])
}

pub(super) fn clip(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    for i in 1..3 {
        cx.same_dtype(0, i)?;
        if cx.ty(i).shape.numel() != Some(1) {
            return Err(cx.err(format!(
                "bound input {i} must be a single element, got {}",
                cx.ty(i)
            )));
        }
    }
    Ok(vec![cx.ty(0).clone()])
}

/// Output 0 has exactly input 0's type.
pub(super) fn same(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    Ok(vec![cx.ty(0).clone()])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::{BinaryOp, DType, Op, UnaryOp};

    #[test]
    fn binary_broadcasts_and_checks_dtypes() {
        let b = Builder::new().input("f32[batch,1,seq]").input("f32[12,1]");
        assert_eq!(b.one(Op::Binary(BinaryOp::Add)), "f32[batch,12,seq]");
        assert_eq!(b.one(Op::Binary(BinaryOp::Less)), "bool[batch,12,seq]");
        let b = Builder::new().input("f32[3]").input("i64[3]");
        assert_eq!(
            b.one(Op::Binary(BinaryOp::Mul)),
            "error: shape inference: node 'n' (Mul): inputs 0 and 1 differ in dtype (f32 vs i64)"
        );
        assert_eq!(b.one(Op::Binary(BinaryOp::Pow)), "f32[3]");
        let b = Builder::new().input("f32[3,4]").input("f32[2,4]");
        assert_eq!(
            b.one(Op::Binary(BinaryOp::Sub)),
            "error: shape inference: node 'n' (Sub): cannot broadcast f32[3,4] with f32[2,4] (output dim 0: 3 vs 2)"
        );
    }

    #[test]
    fn unary_where_cast_clip() {
        let b = Builder::new().input("f32[n,2]");
        assert_eq!(b.one(Op::Unary(UnaryOp::IsNaN)), "bool[n,2]");
        assert_eq!(b.one(Op::Unary(UnaryOp::Erf)), "f32[n,2]");
        assert_eq!(b.one(Op::Cast { to: DType::I64 }), "i64[n,2]");
        assert!(b.one(Op::Unary(UnaryOp::Not)).starts_with("error"));
        let b = Builder::new()
            .input("bool[1,1,s,s]")
            .input("f32[b,12,s,s]")
            .input("f32[]");
        assert_eq!(b.one(Op::Where), "f32[b,12,s,s]");
        let b = Builder::new()
            .input("f32[4]")
            .scalar_f32(0.0)
            .scalar_f32(6.0);
        assert_eq!(b.one(Op::Clip), "f32[4]");
        let b = Builder::new().input("i64[4]");
        assert!(b
            .one(Op::Unary(UnaryOp::Sqrt))
            .contains("must be a float tensor"));
    }
}
