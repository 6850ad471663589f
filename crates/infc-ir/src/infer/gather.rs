//! Inference for Gather (index one axis), GatherND (index leading axes with index tuples) and
//! GatherElements (index one axis element by element: the output has the indices' shape).

use super::Cx;
use crate::{Dim, IrError, TensorType};

pub(super) fn gather(cx: &Cx, axis: i64) -> Result<Vec<TensorType>, IrError> {
    let (data, idx) = (cx.ty(0), cx.ty(1));
    cx.expect_int(1)?;
    let a = cx.axis(axis, data.rank())?;
    if let (Some(ix), Dim::Known(d)) = (cx.const_ints(1)?, &data.shape.0[a]) {
        let d = *d as i64;
        if let Some(bad) = ix.iter().find(|&&i| i < -d || i >= d) {
            return Err(cx.err(format!(
                "index {bad} out of range for axis {axis} of {data}"
            )));
        }
    }
    let mut dims = data.shape.0[..a].to_vec();
    dims.extend(idx.shape.0.iter().cloned());
    dims.extend(data.shape.0[a + 1..].iter().cloned());
    Ok(vec![TensorType::new(data.dtype, dims)])
}

pub(super) fn gather_nd(cx: &Cx, batch_dims: usize) -> Result<Vec<TensorType>, IrError> {
    let (data, idx) = (cx.ty(0), cx.ty(1));
    cx.expect_int(1)?;
    let q = idx.rank();
    if q == 0 {
        return Err(cx.err("indices must have rank ≥ 1"));
    }
    let Dim::Known(k) = idx.shape.0[q - 1] else {
        return Err(cx.err(format!("the last dim of indices {idx} must be known")));
    };
    if batch_dims >= q || batch_dims + k > data.rank() {
        return Err(cx.err(format!(
            "batch_dims {batch_dims} and index depth {k} do not fit data {data} and indices {idx}"
        )));
    }
    let mut dims = idx.shape.0[..q - 1].to_vec();
    dims.extend(data.shape.0[batch_dims + k..].iter().cloned());
    Ok(vec![TensorType::new(data.dtype, dims)])
}

pub(super) fn gather_elements(cx: &Cx, axis: i64) -> Result<Vec<TensorType>, IrError> {
    let (data, idx) = (cx.ty(0), cx.ty(1));
    cx.expect_int(1)?;
    if data.rank() != idx.rank() || data.rank() == 0 {
        return Err(cx.err(format!(
            "data {data} and indices {idx} must have the same rank ≥ 1"
        )));
    }
    cx.axis(axis, data.rank())?;
    Ok(vec![TensorType::new(data.dtype, idx.shape.0.clone())])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::Op;

    #[test]
    fn gather_shapes() {
        let b = Builder::new().input("f32[50257,768]").input("i64[b,s]");
        assert_eq!(b.one(Op::Gather { axis: 0 }), "f32[b,s,768]");
        let b = Builder::new().input("i64[4]").scalar_i64(0);
        assert_eq!(b.one(Op::Gather { axis: 0 }), "i64[]");
        assert!(b
            .one(Op::Gather { axis: 1 })
            .contains("axis 1 out of range"));
        let b = Builder::new().input("i64[4]").scalar_i64(4);
        assert_eq!(
            b.one(Op::Gather { axis: 0 }),
            "error: shape inference: node 'n' (Gather): index 4 out of range for axis 0 of i64[4]"
        );
        let b = Builder::new().input("f32[4]").input("f32[2]");
        assert!(b
            .one(Op::Gather { axis: 0 })
            .contains("must be an integer tensor"));
    }

    #[test]
    fn gather_nd_shapes() {
        let b = Builder::new().input("f32[b,s,768]").input("i64[b,2]");
        assert_eq!(b.one(Op::GatherND { batch_dims: 0 }), "f32[b,768]");
        let b = Builder::new().input("f32[b,s,768]").input("i64[b,1]");
        assert_eq!(b.one(Op::GatherND { batch_dims: 1 }), "f32[b,768]");
        let b = Builder::new().input("f32[2,2]").input("i64[2,3]");
        assert!(b.one(Op::GatherND { batch_dims: 0 }).contains("do not fit"));
    }
}
