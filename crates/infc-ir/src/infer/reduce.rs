//! Inference for reductions (ReduceMean/Sum/Max/Min/Prod) over a set of axes.
//!
//! `axes: None` reduces every axis. `axes: Some([])` reduces nothing (the importer maps ONNX
//! `noop_with_empty_axes=1` with no axes to Identity, so it never produces this, but it is well defined).

use super::Cx;
use crate::{Dim, IrError, TensorType};

pub(super) fn reduce(
    cx: &Cx,
    axes: Option<&[i64]>,
    keepdims: bool,
) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let r = x.rank();
    let mut reduced = vec![axes.is_none(); r];
    for &a in axes.unwrap_or(&[]) {
        let i = cx.axis(a, r)?;
        if reduced[i] {
            return Err(cx.err(format!("axis {a} listed twice")));
        }
        reduced[i] = true;
    }
    let dims: Vec<Dim> = x
        .shape
        .0
        .iter()
        .zip(&reduced)
        .filter_map(|(d, &red)| match (red, keepdims) {
            (false, _) => Some(d.clone()),
            (true, true) => Some(Dim::Known(1)),
            (true, false) => None,
        })
        .collect();
    Ok(vec![TensorType::new(x.dtype, dims)])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::{Op, ReduceOp};

    fn mean(axes: Option<Vec<i64>>, keepdims: bool) -> Op {
        Op::Reduce {
            op: ReduceOp::Mean,
            axes,
            keepdims,
        }
    }

    #[test]
    fn reduce_shapes() {
        let b = Builder::new().input("f32[b,s,768]");
        assert_eq!(b.one(mean(Some(vec![-1]), true)), "f32[b,s,1]");
        assert_eq!(b.one(mean(Some(vec![0, 2]), false)), "f32[s]");
        assert_eq!(b.one(mean(None, false)), "f32[]");
        assert_eq!(b.one(mean(None, true)), "f32[1,1,1]");
        assert_eq!(b.one(mean(Some(vec![]), false)), "f32[b,s,768]");
        assert_eq!(
            b.one(mean(Some(vec![1, -2]), true)),
            "error: shape inference: node 'n' (ReduceMean): axis -2 listed twice"
        );
        assert_eq!(
            b.one(mean(Some(vec![3]), true)),
            "error: shape inference: node 'n' (ReduceMean): axis 3 out of range for rank 3"
        );
    }
}
