//! Inference for neural-network ops: Conv, MaxPool/AveragePool, GlobalAveragePool, Gemm, MatMul
//! (numpy semantics), and the axis-parameterised shape-preserving ops Softmax and LayerNorm.

use super::{broadcast_shapes, unify_dim, Cx};
use crate::{ConvAttrs, Dim, IrError, PoolAttrs, TensorType};

/// Checks that `len` matches the number of spatial axes for an attribute list.
fn check_len(cx: &Cx, what: &str, len: usize, want: usize) -> Result<(), IrError> {
    if len != want {
        return Err(cx.err(format!("{what} has {len} entries, expected {want}")));
    }
    Ok(())
}

/// Output size of one sliding-window axis, or None if it is not a positive integer.
fn window_out(
    input: usize,
    k: usize,
    stride: usize,
    pb: usize,
    pe: usize,
    dil: usize,
    ceil: bool,
) -> Option<usize> {
    let eff = dil.checked_mul(k.checked_sub(1)?)?.checked_add(1)?;
    let padded = input.checked_add(pb)?.checked_add(pe)?;
    let span = padded.checked_sub(eff)?;
    if stride == 0 {
        return None;
    }
    let mut out = if ceil {
        span.div_ceil(stride) + 1
    } else {
        span / stride + 1
    };
    // PyTorch/ONNX rule: the last window must start inside the input or the begin padding.
    if ceil && (out - 1) * stride >= input + pb {
        out -= 1;
    }
    Some(out)
}

#[allow(clippy::too_many_arguments)]
pub(super) fn spatial(
    cx: &Cx,
    x: &TensorType,
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    dilations: &[usize],
    ceil: bool,
) -> Result<Vec<Dim>, IrError> {
    let n = kernel.len();
    check_len(cx, "strides", strides.len(), n)?;
    check_len(cx, "pads", pads.len(), 2 * n)?;
    check_len(cx, "dilations", dilations.len(), n)?;
    if x.rank() != n + 2 {
        return Err(cx.err(format!(
            "input {x} must have rank {} for a {n}-D kernel",
            n + 2
        )));
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(match &x.shape.0[2 + i] {
            Dim::Sym(_) => cx.fresh(2 + i),
            Dim::Known(d) => {
                let o = window_out(*d, kernel[i], strides[i], pads[i], pads[n + i], dilations[i], ceil)
                    .ok_or_else(|| {
                        cx.err(format!(
                            "window (kernel {}, stride {}, dilation {}, pads {}+{}) does not fit spatial dim {i} of {x}",
                            kernel[i], strides[i], dilations[i], pads[i], pads[n + i]
                        ))
                    })?;
                Dim::Known(o)
            }
        });
    }
    Ok(out)
}

pub(super) fn conv(cx: &Cx, a: &ConvAttrs) -> Result<Vec<TensorType>, IrError> {
    conv_with_bias(cx, a, cx.has_input(2).then_some(2))
}

/// Conv over inputs 0 (x) and 1 (w), with an optional bias input index checked against `C_out`.
pub(super) fn conv_with_bias(
    cx: &Cx,
    a: &ConvAttrs,
    bias: Option<usize>,
) -> Result<Vec<TensorType>, IrError> {
    let (x, w) = (cx.ty(0), cx.ty(1));
    cx.same_dtype(0, 1)?;
    if w.rank() != a.kernel.len() + 2 {
        return Err(cx.err(format!("weight {w} must have rank {}", a.kernel.len() + 2)));
    }
    for (i, &k) in a.kernel.iter().enumerate() {
        if let Dim::Known(wk) = w.shape.0[2 + i] {
            if wk != k {
                return Err(cx.err(format!(
                    "kernel attribute {:?} disagrees with weight {w}",
                    a.kernel
                )));
            }
        }
    }
    if a.group == 0 {
        return Err(cx.err("group is 0"));
    }
    let sp = spatial(cx, x, &a.kernel, &a.strides, &a.pads, &a.dilations, false)?;
    if let (Dim::Known(c), Dim::Known(wc)) = (&x.shape.0[1], &w.shape.0[1]) {
        if *c != wc * a.group {
            return Err(cx.err(format!(
                "input {x} has {c} channels, weight {w} with group {} expects {}",
                a.group,
                wc * a.group
            )));
        }
    }
    let m = w.shape.0[0].clone();
    if let Dim::Known(m) = m {
        if m % a.group != 0 {
            return Err(cx.err(format!(
                "{m} output channels not divisible by group {}",
                a.group
            )));
        }
    }
    if let Some(bi) = bias {
        let b = cx.ty(bi);
        if b.rank() != 1 || unify_dim(&b.shape.0[0], &m).is_none() {
            return Err(cx.err(format!("bias {b} must be 1-D of size {m}")));
        }
    }
    let mut dims = vec![x.shape.0[0].clone(), m];
    dims.extend(sp);
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn pool(cx: &Cx, a: &PoolAttrs) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let sp = spatial(
        cx,
        x,
        &a.kernel,
        &a.strides,
        &a.pads,
        &a.dilations,
        a.ceil_mode,
    )?;
    let mut dims = x.shape.0[..2].to_vec();
    dims.extend(sp);
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn global_pool(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    if x.rank() < 3 {
        return Err(cx.err(format!("input {x} must have rank ≥ 3 (N, C, spatial...)")));
    }
    let mut dims = x.shape.0[..2].to_vec();
    dims.resize(x.rank(), Dim::Known(1));
    Ok(vec![TensorType::new(x.dtype, dims)])
}

pub(super) fn gemm(cx: &Cx, trans_a: bool, trans_b: bool) -> Result<Vec<TensorType>, IrError> {
    cx.expect_rank(0, 2)?;
    cx.expect_rank(1, 2)?;
    let dtype = cx.same_dtype(0, 1)?;
    let (a, b) = (&cx.ty(0).shape.0, &cx.ty(1).shape.0);
    let (m, ka) = if trans_a {
        (&a[1], &a[0])
    } else {
        (&a[0], &a[1])
    };
    let (kb, n) = if trans_b {
        (&b[1], &b[0])
    } else {
        (&b[0], &b[1])
    };
    if unify_dim(ka, kb).is_none() {
        return Err(cx.err(format!(
            "inner dims differ: {} (trans_a={trans_a}) × {} (trans_b={trans_b})",
            cx.ty(0),
            cx.ty(1)
        )));
    }
    let out = crate::Shape(vec![m.clone(), n.clone()]);
    if cx.has_input(2) {
        cx.same_dtype(0, 2)?;
        let c = &cx.ty(2).shape;
        match broadcast_shapes(&[&out, c]) {
            Ok(s) if s == out => {}
            _ => return Err(cx.err(format!("C {} does not broadcast to {out}", cx.ty(2)))),
        }
    }
    Ok(vec![TensorType::new(dtype, out)])
}

pub(super) fn matmul(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    matmul_transposed(cx, false, false)
}

/// The last two axes of operand `i` swapped when `trans` (the operand must then have rank ≥ 2).
fn operand_dims(cx: &Cx, i: usize, trans: bool) -> Result<Vec<Dim>, IrError> {
    let mut dims = cx.ty(i).shape.0.clone();
    if trans {
        let r = dims.len();
        if r < 2 {
            return Err(cx.err(format!(
                "a transposed operand needs rank ≥ 2, input {i} is {}",
                cx.ty(i)
            )));
        }
        dims.swap(r - 2, r - 1);
    }
    Ok(dims)
}

/// MatMul (numpy semantics) reading input 0 and/or input 1 with their last two axes swapped.
pub(super) fn matmul_transposed(
    cx: &Cx,
    trans_a: bool,
    trans_b: bool,
) -> Result<Vec<TensorType>, IrError> {
    let dtype = cx.same_dtype(0, 1)?;
    let (a, b) = (
        &operand_dims(cx, 0, trans_a)?,
        &operand_dims(cx, 1, trans_b)?,
    );
    if a.is_empty() || b.is_empty() {
        return Err(cx.err("MatMul inputs must have rank ≥ 1"));
    }
    let a2: Vec<Dim> = if a.len() == 1 {
        vec![Dim::Known(1), a[0].clone()]
    } else {
        a.clone()
    };
    let b2: Vec<Dim> = if b.len() == 1 {
        vec![b[0].clone(), Dim::Known(1)]
    } else {
        b.clone()
    };
    let (ka, kb) = (&a2[a2.len() - 1], &b2[b2.len() - 2]);
    if unify_dim(ka, kb).is_none() {
        return Err(cx.err(format!("inner dims differ: {} × {}", cx.ty(0), cx.ty(1))));
    }
    let batch_a = crate::Shape(a2[..a2.len() - 2].to_vec());
    let batch_b = crate::Shape(b2[..b2.len() - 2].to_vec());
    let mut dims = broadcast_shapes(&[&batch_a, &batch_b])
        .map_err(|(i, x, y)| {
            cx.err(format!(
                "batch dims do not broadcast: {} × {} (batch dim {i}: {x} vs {y})",
                cx.ty(0),
                cx.ty(1)
            ))
        })?
        .0;
    if a.len() > 1 {
        dims.push(a2[a2.len() - 2].clone());
    }
    if b.len() > 1 {
        dims.push(b2[b2.len() - 1].clone());
    }
    Ok(vec![TensorType::new(dtype, dims)])
}

/// Softmax / LayerNorm: output is input 0's type; the axis must be valid. LayerNorm's scale/bias
/// must be float of the same dtype and broadcast to the normalised part of the input
/// (`x.shape[axis..]`: each dim equal or 1, right-aligned).
pub(super) fn along_axis(cx: &Cx, axis: i64) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    let a = cx.axis(axis, x.rank())?;
    if !x.dtype.is_float() {
        return Err(cx.err(format!("input must be a float tensor, got {}", x.dtype)));
    }
    let normalised = &x.shape.0[a..];
    for i in 1..cx.inputs.len() {
        cx.same_dtype(0, i)?;
        let p = cx.ty(i);
        if p.rank() > normalised.len() {
            return Err(cx.err(format!(
                "parameter {i} {p} has more dims than the normalised part of {x}"
            )));
        }
        let fits = p.shape.0.iter().rev().zip(normalised.iter().rev());
        if !fits
            .into_iter()
            .all(|(pd, xd)| *pd == Dim::Known(1) || unify_dim(pd, xd).is_some())
        {
            return Err(cx.err(format!(
                "parameter {i} {p} does not broadcast to the normalised part of {x} (axis {axis})"
            )));
        }
    }
    Ok(vec![x.clone()])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::{ConvAttrs, Float, Op, PoolAttrs};

    fn conv(k: usize, s: usize, p: usize, group: usize) -> Op {
        Op::Conv(ConvAttrs {
            kernel: vec![k, k],
            strides: vec![s, s],
            pads: vec![p; 4],
            dilations: vec![1, 1],
            group,
        })
    }

    #[test]
    fn conv_shapes() {
        let b = Builder::new()
            .input("f32[N,3,224,224]")
            .input("f32[64,3,7,7]")
            .input("f32[64]");
        assert_eq!(b.one(conv(7, 2, 3, 1)), "f32[N,64,112,112]");
        let b = Builder::new().input("f32[1,3,H,W]").input("f32[64,3,3,3]");
        assert_eq!(b.one(conv(3, 1, 1, 1)), "f32[1,64,n:d2,n:d3]");
        let b = Builder::new().input("f32[1,4,8,8]").input("f32[64,3,3,3]");
        assert_eq!(
            b.one(conv(3, 1, 1, 1)),
            "error: shape inference: node 'n' (Conv): input f32[1,4,8,8] has 4 channels, weight f32[64,3,3,3] with group 1 expects 3"
        );
        let b = Builder::new().input("f32[1,8,8,8]").input("f32[8,1,3,3]");
        assert_eq!(b.one(conv(3, 1, 1, 8)), "f32[1,8,8,8]");
        let b = Builder::new().input("f32[1,3,2,2]").input("f32[4,3,5,5]");
        assert!(b.one(conv(5, 1, 0, 1)).contains("does not fit"));
    }

    #[test]
    fn pool_shapes() {
        let mp = |ceil| {
            Op::MaxPool(PoolAttrs {
                kernel: vec![3, 3],
                strides: vec![2, 2],
                pads: vec![1; 4],
                dilations: vec![1, 1],
                ceil_mode: ceil,
            })
        };
        let b = Builder::new().input("f32[N,64,112,112]");
        assert_eq!(b.one(mp(false)), "f32[N,64,56,56]");
        let b = Builder::new().input("f32[1,1,6,6]");
        assert_eq!(b.one(mp(false)), "f32[1,1,3,3]");
        assert_eq!(b.one(mp(true)), "f32[1,1,4,4]");
        let b = Builder::new().input("f32[1,1,5,5]");
        let p2 = Op::MaxPool(PoolAttrs {
            kernel: vec![2, 2],
            strides: vec![2, 2],
            pads: vec![0; 4],
            dilations: vec![1, 1],
            ceil_mode: true,
        });
        assert_eq!(b.one(p2), "f32[1,1,3,3]");
        let b = Builder::new().input("f32[N,2048,7,7]");
        assert_eq!(b.one(Op::GlobalAveragePool), "f32[N,2048,1,1]");
    }

    #[test]
    fn gemm_and_matmul() {
        let g = Op::Gemm {
            alpha: Float::new(1.0),
            beta: Float::new(1.0),
            trans_a: false,
            trans_b: true,
        };
        let b = Builder::new()
            .input("f32[N,2048]")
            .input("f32[1000,2048]")
            .input("f32[1000]");
        assert_eq!(b.one(g.clone()), "f32[N,1000]");
        let b = Builder::new().input("f32[N,2048]").input("f32[2048,1000]");
        assert!(b.one(g).contains("inner dims differ"));
        let b = Builder::new()
            .input("f32[b,12,s,64]")
            .input("f32[b,12,64,t]");
        assert_eq!(b.one(Op::MatMul), "f32[b,12,s,t]");
        let b = Builder::new().input("f32[b,s,768]").input("f32[768,2304]");
        assert_eq!(b.one(Op::MatMul), "f32[b,s,2304]");
        let b = Builder::new().input("f32[4]").input("f32[4]");
        assert_eq!(b.one(Op::MatMul), "f32[]");
        let b = Builder::new().input("f32[3,4]").input("f32[4]");
        assert_eq!(b.one(Op::MatMul), "f32[3]");
        let b = Builder::new().input("f32[2,3,4]").input("f32[5,4,6]");
        assert!(b.one(Op::MatMul).contains("batch dims do not broadcast"));
    }

    #[test]
    fn softmax_and_layernorm_axes() {
        let b = Builder::new()
            .input("f32[b,s,768]")
            .input("f32[768]")
            .input("f32[768]");
        assert_eq!(
            b.one(Op::LayerNorm {
                axis: -1,
                epsilon: Float::new(1e-5)
            }),
            "f32[b,s,768]"
        );
        let b = Builder::new().input("f32[b,s,768]");
        assert_eq!(b.one(Op::Softmax { axis: -1 }), "f32[b,s,768]");
        assert_eq!(
            b.one(Op::Softmax { axis: 3 }),
            "error: shape inference: node 'n' (Softmax): axis 3 out of range for rank 3"
        );
    }

    /// A scale or bias that does not broadcast to the normalised part (7 elements for a last dim
    /// of 3) is the model's fault, named at import; size-1 dims and symbolic dims broadcast.
    #[test]
    fn layernorm_parameters_must_fit_the_normalised_shape() {
        let ln = |axis| Op::LayerNorm {
            axis,
            epsilon: Float::new(1e-5),
        };
        let b = Builder::new().input("f32[2,3]").input("f32[7]");
        assert_eq!(
            b.one(ln(-1)),
            "error: shape inference: node 'n' (LayerNormalization): parameter 1 f32[7] does not broadcast to \
             the normalised part of f32[2,3] (axis -1)"
        );
        let b = Builder::new()
            .input("f32[2,4,3]")
            .input("f32[4,3]")
            .input("f32[3,4]");
        assert!(b
            .one(ln(1))
            .contains("parameter 2 f32[3,4] does not broadcast"));
        let b = Builder::new()
            .input("f32[2,4,3]")
            .input("f32[1,3]")
            .input("f32[n]");
        assert_eq!(b.one(ln(1)), "f32[2,4,3]");
    }
}
