//! Inference for ops made by fusion passes: Gelu, FusedConv / FusedMatMul (base op then epilogue
//! stages, each Bias/Residual stage reading the next extra input; FusedMatMul operands may be read
//! with their last two axes swapped), SkipLayerNorm and Attention.

use super::{nn, unify_dim, Cx};
use crate::{ConvAttrs, Dim, Epilogue, IrError, TensorType};

pub(super) fn gelu(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    let x = cx.ty(0);
    if !x.dtype.is_float() {
        return Err(cx.err(format!("input must be a float tensor, got {}", x.dtype)));
    }
    Ok(vec![x.clone()])
}

/// Check epilogue extras (inputs from index 2 on) against the base output `y`; `channel` is the
/// axis a Bias runs along.
fn epilogue(cx: &Cx, y: &TensorType, stages: &[Epilogue], channel: usize) -> Result<(), IrError> {
    let mut next = 2;
    for &st in stages {
        if !st.takes_input() {
            continue;
        }
        if !cx.has_input(next) {
            return Err(cx.err(format!(
                "epilogue stage '{}' has no input {next}",
                st.name()
            )));
        }
        let t = cx.ty(next);
        cx.same_dtype(0, next)?;
        let ok = match st {
            Epilogue::Bias => {
                t.rank() == 1 && unify_dim(&t.shape.0[0], &y.shape.0[channel]).is_some()
            }
            _ => {
                t.rank() == y.rank()
                    && t.shape
                        .0
                        .iter()
                        .zip(&y.shape.0)
                        .all(|(a, b)| unify_dim(a, b).is_some())
            }
        };
        if !ok {
            return Err(cx.err(format!(
                "epilogue '{}' input {next} {t} does not fit output {y}",
                st.name()
            )));
        }
        next += 1;
    }
    if next != cx.inputs.len() {
        return Err(cx.err(format!(
            "epilogue reads {} extra inputs, node has {}",
            next - 2,
            cx.inputs.len() - 2
        )));
    }
    Ok(())
}

pub(super) fn fused_conv(
    cx: &Cx,
    a: &ConvAttrs,
    stages: &[Epilogue],
) -> Result<Vec<TensorType>, IrError> {
    let y = nn::conv_with_bias(cx, a, None)?;
    epilogue(cx, &y[0], stages, 1)?;
    Ok(y)
}

pub(super) fn fused_matmul(
    cx: &Cx,
    stages: &[Epilogue],
    trans_a: bool,
    trans_b: bool,
) -> Result<Vec<TensorType>, IrError> {
    let y = nn::matmul_transposed(cx, trans_a, trans_b)?;
    let r = y[0].rank();
    if r == 0 && stages.contains(&Epilogue::Bias) {
        return Err(cx.err("bias epilogue on a scalar matmul result"));
    }
    epilogue(cx, &y[0], stages, r.saturating_sub(1))?;
    Ok(y)
}

pub(super) fn skip_layer_norm(cx: &Cx) -> Result<Vec<TensorType>, IrError> {
    let (x, skip) = (cx.ty(0), cx.ty(1));
    cx.same_dtype(0, 1)?;
    if x.rank() == 0 || x.rank() != skip.rank() {
        return Err(cx.err(format!("x {x} and skip {skip} must have the same rank ≥ 1")));
    }
    let mut dims = Vec::with_capacity(x.rank());
    for (a, b) in x.shape.0.iter().zip(&skip.shape.0) {
        dims.push(unify_dim(a, b).ok_or_else(|| cx.err(format!("x {x} and skip {skip} differ")))?);
    }
    let last = dims[dims.len() - 1].clone();
    for i in 2..4 {
        cx.same_dtype(0, i)?;
        let p = cx.ty(i);
        if p.rank() != 1 || unify_dim(&p.shape.0[0], &last).is_none() {
            return Err(cx.err(format!("parameter {i} {p} must be 1-D of size {last}")));
        }
    }
    let t = TensorType::new(x.dtype, dims);
    Ok(vec![t.clone(), t])
}

pub(super) fn attention(cx: &Cx, num_heads: usize) -> Result<Vec<TensorType>, IrError> {
    let q = cx.ty(0);
    for i in 0..3 {
        cx.expect_rank(i, 3)?;
        cx.same_dtype(0, i)?;
    }
    let (k, v) = (cx.ty(1), cx.ty(2));
    let bad = |what: &str| cx.err(format!("{what}: q {q}, k {k}, v {v}"));
    if unify_dim(&q.shape.0[0], &k.shape.0[0]).is_none()
        || unify_dim(&k.shape.0[0], &v.shape.0[0]).is_none()
    {
        return Err(bad("batch dims differ"));
    }
    if unify_dim(&k.shape.0[1], &v.shape.0[1]).is_none() {
        return Err(bad("k and v sequence lengths differ"));
    }
    let hd = unify_dim(&q.shape.0[2], &k.shape.0[2])
        .and_then(|d| unify_dim(&d, &v.shape.0[2]))
        .ok_or_else(|| bad("hidden sizes differ"))?;
    if num_heads == 0 {
        return Err(cx.err("num_heads is 0"));
    }
    if let Dim::Known(h) = hd {
        if h % num_heads != 0 {
            return Err(cx.err(format!(
                "hidden size {h} is not divisible by {num_heads} heads"
            )));
        }
    }
    if cx.has_input(3) && !cx.ty(3).dtype.is_float() {
        return Err(cx.err(format!(
            "mask must be an additive float tensor, got {}",
            cx.ty(3)
        )));
    }
    Ok(vec![q.clone()])
}

#[cfg(test)]
mod tests {
    use crate::infer::test_util::Builder;
    use crate::{AttentionMasking, ConvAttrs, Epilogue, Float, Op};

    #[test]
    fn fused_ops() {
        let b = Builder::new()
            .input("f32[b,s,768]")
            .input("f32[768,3072]")
            .input("f32[3072]");
        assert_eq!(
            b.one(Op::FusedMatMul {
                epilogue: vec![Epilogue::Bias, Epilogue::GeluErf],
                trans_a: false,
                trans_b: false,
            }),
            "f32[b,s,3072]"
        );
        assert!(b
            .one(Op::FusedMatMul {
                epilogue: vec![Epilogue::Residual],
                trans_a: false,
                trans_b: false,
            })
            .contains("does not fit"));
        assert!(b
            .one(Op::FusedMatMul {
                epilogue: vec![],
                trans_a: false,
                trans_b: false,
            })
            .contains("takes 2 inputs, got 3"));
        // Transposed operands: a is [k, m] per batch, b is [n, k].
        let t = Builder::new().input("f32[2,5,3]").input("f32[5,4]");
        let fm = |trans_a, trans_b| Op::FusedMatMul {
            epilogue: vec![],
            trans_a,
            trans_b,
        };
        assert_eq!(t.one(fm(true, false)), "f32[2,3,4]");
        assert!(t.one(fm(false, false)).contains("inner dims differ"));
        let t = Builder::new().input("f32[2,3,5]").input("f32[4,5]");
        assert_eq!(t.one(fm(false, true)), "f32[2,3,4]");
        let t = Builder::new().input("f32[5]").input("f32[4,5]");
        assert!(t.one(fm(true, true)).contains("needs rank ≥ 2"));
        let conv = ConvAttrs {
            kernel: vec![1, 1],
            strides: vec![1, 1],
            pads: vec![0; 4],
            dilations: vec![1, 1],
            group: 1,
        };
        let b = Builder::new()
            .input("f32[N,64,56,56]")
            .input("f32[256,64,1,1]")
            .input("f32[256]")
            .input("f32[N,256,56,56]");
        let op = Op::FusedConv {
            attrs: conv,
            epilogue: vec![Epilogue::Bias, Epilogue::Residual, Epilogue::Relu],
        };
        assert_eq!(b.one(op), "f32[N,256,56,56]");
        let b = Builder::new()
            .input("f32[b,s,768]")
            .input("f32[b,s,768]")
            .input("f32[768]")
            .input("f32[768]");
        assert_eq!(
            b.run(Op::SkipLayerNorm {
                epsilon: Float::new(1e-5)
            })
            .unwrap(),
            vec!["f32[b,s,768]"; 2]
        );
        let b = Builder::new()
            .input("f32[b,s,768]")
            .input("f32[b,t,768]")
            .input("f32[b,t,768]")
            .input("f32[b,1,1,t]");
        let att = |h| Op::Attention {
            num_heads: h,
            scale: Float::new(0.125),
            causal: true,
            masking: AttentionMasking::default(),
        };
        assert_eq!(b.one(att(12)), "f32[b,s,768]");
        assert!(b.one(att(7)).contains("not divisible"));
        let b = Builder::new().input("i64[4]");
        assert!(b.one(Op::Gelu { tanh: false }).contains("float"));
    }
}
