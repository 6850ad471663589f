//! Fused ops made by passes: `Gelu`, `FusedConv`, `FusedMatMul`, `SkipLayerNorm`, `Attention`.
//!
//! Each is evaluated as the composition of the unfused reference ops it replaces, rounding to f32
//! between stages exactly as the unfused graph would, so a fusion pass can be checked against the
//! unfused graph bit for bit and an optimised fused kernel against this composition.
//! Gelu itself is computed in f64: `0.5·x·(1 + erf(x/√2))` or `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.

use crate::access::{tensor, view, OpResult};
use crate::{conv, elementwise as ew, matmul, norm, shape_ops as sh};
use infc_ir::{BinaryOp, ConvAttrs, DType, Epilogue, Tensor, UnaryOp};

pub(crate) fn gelu(tanh: bool, x: &Tensor) -> OpResult<Tensor> {
    if x.dtype != DType::F32 {
        return Err(format!("needs a float tensor, got {}", x.dtype));
    }
    let xs = view::<f32>(x)?;
    let f = |v: f64| {
        if tanh {
            let c = (2.0 / std::f64::consts::PI).sqrt();
            0.5 * v * (1.0 + (c * (v + 0.044715 * v * v * v)).tanh())
        } else {
            0.5 * v * (1.0 + crate::erf::erf(v / std::f64::consts::SQRT_2))
        }
    };
    tensor(x.shape.clone(), xs.iter().map(|&v| f(v as f64) as f32).collect())
}

/// Apply `epilogue` stages to `y`; `Bias`/`Residual` consume `extras` in order. `channel_axis` is the
/// axis a bias runs along (1 for NCHW conv, the last axis for matmul).
fn apply_epilogue(mut y: Tensor, epilogue: &[Epilogue], extras: &[&Tensor], channel_axis: usize) -> OpResult<Tensor> {
    let mut extras = extras.iter();
    for (i, stage) in epilogue.iter().enumerate() {
        let mut next = || extras.next().copied().ok_or_else(|| format!("epilogue stage {i} ({}) has no input", stage.name()));
        y = match stage {
            Epilogue::Bias => {
                let b = next()?;
                let c = y.shape.get(channel_axis).copied().unwrap_or(0);
                if b.shape != [c] {
                    return Err(format!("bias must have shape [{c}], got {:?}", b.shape));
                }
                // [C] → [C, 1, …] so it broadcasts along `channel_axis`.
                let mut shape = vec![c];
                shape.resize(y.shape.len() - channel_axis, 1);
                let b = Tensor { dtype: b.dtype, shape, data: b.data.clone() };
                ew::binary(BinaryOp::Add, &y, &b)?
            }
            Epilogue::Residual => {
                let r = next()?;
                if r.shape != y.shape {
                    return Err(format!("residual must have the output shape {:?}, got {:?}", y.shape, r.shape));
                }
                ew::binary(BinaryOp::Add, &y, r)?
            }
            Epilogue::Relu => ew::unary(UnaryOp::Relu, &y)?,
            Epilogue::GeluErf => gelu(false, &y)?,
            Epilogue::GeluTanh => gelu(true, &y)?,
        };
    }
    Ok(y)
}

pub(crate) fn fused_conv(attrs: &ConvAttrs, epilogue: &[Epilogue], x: &[&Tensor]) -> OpResult<Tensor> {
    let y = conv::conv(attrs, x[0], x[1], None)?;
    apply_epilogue(y, epilogue, &x[2..], 1)
}

pub(crate) fn fused_matmul(epilogue: &[Epilogue], x: &[&Tensor]) -> OpResult<Tensor> {
    let y = matmul::matmul(x[0], x[1])?;
    let last = y.shape.len().checked_sub(1).ok_or("a bias needs an output of rank ≥ 1")?;
    apply_epilogue(y, epilogue, &x[2..], last)
}

/// `(x, skip, scale, bias) -> (LayerNorm(x + skip), x + skip)` over the last axis.
pub(crate) fn skip_layer_norm(epsilon: f32, x: &[&Tensor]) -> OpResult<Vec<Tensor>> {
    if x[0].shape != x[1].shape {
        return Err(format!("x {:?} and skip {:?} must have the same shape", x[0].shape, x[1].shape));
    }
    let sum = ew::binary(BinaryOp::Add, x[0], x[1])?;
    let c = sum.shape.last().copied().ok_or("x must have rank ≥ 1")?;
    for (t, what) in [(x[2], "scale"), (x[3], "bias")] {
        if t.shape != [c] {
            return Err(format!("{what} must have shape [{c}], got {:?}", t.shape));
        }
    }
    let y = norm::layer_norm(-1, epsilon, &sum, x[2], Some(x[3]))?;
    Ok(vec![y, sum])
}

/// Multi-head attention, composed as the exporters' unfused graph computes it:
/// split heads, `scale·Q·Kᵀ`, + mask, causal fill with `f32::MIN`, softmax, `·V`, merge heads.
pub(crate) fn attention(num_heads: usize, scale: f32, causal: bool, x: &[&Tensor]) -> OpResult<Tensor> {
    let (q, k, v) = (x[0], x[1], x[2]);
    let rank3 = |t: &Tensor, what: &str| -> OpResult<(usize, usize, usize)> {
        match t.shape[..] {
            [b, s, e] => Ok((b, s, e)),
            _ => Err(format!("{what} must be [batch, seq, heads·dim], got {:?}", t.shape)),
        }
    };
    let (b, sq, e) = rank3(q, "q")?;
    let (bk, sk, ek) = rank3(k, "k")?;
    if k.shape != v.shape || bk != b || ek != e {
        return Err(format!("q {:?}, k {:?}, v {:?} do not fit together", q.shape, k.shape, v.shape));
    }
    if num_heads == 0 || e % num_heads != 0 {
        return Err(format!("hidden size {e} is not divisible by num_heads {num_heads}"));
    }
    let d = e / num_heads;
    let heads = |t: &Tensor, s: usize, perm: &[usize]| -> OpResult<Tensor> {
        let shape = crate::access::tensor(vec![4], vec![b as i64, s as i64, num_heads as i64, d as i64])?;
        sh::transpose(perm, &sh::reshape(false, t, &shape)?)
    };
    let qh = heads(q, sq, &[0, 2, 1, 3])?; // [B,H,Sq,D]
    let kt = heads(k, sk, &[0, 2, 3, 1])?; // [B,H,D,Sk]
    let vh = heads(v, sk, &[0, 2, 1, 3])?; // [B,H,Sk,D]
    let mut s = ew::binary(BinaryOp::Mul, &matmul::matmul(&qh, &kt)?, &Tensor::scalar(scale))?;
    if let Some(mask) = x.get(3) {
        if crate::broadcast::broadcast_shapes(&[&mask.shape, &s.shape]).ok().as_deref() != Some(&s.shape[..]) {
            return Err(format!("mask {:?} does not broadcast to [B, H, Sq, Sk] = {:?}", mask.shape, s.shape));
        }
        s = ew::binary(BinaryOp::Add, &s, mask)?;
    }
    if causal {
        let mut sv = view::<f32>(&s)?.into_owned();
        for (n, row) in sv.chunks_exact_mut(sk.max(1)).enumerate() {
            let i = n % sq.max(1);
            for (j, val) in row.iter_mut().enumerate() {
                if j + sq > i + sk {
                    *val = f32::MIN;
                }
            }
        }
        s = tensor(s.shape.clone(), sv)?;
    }
    let p = norm::softmax(-1, &s)?;
    let o = sh::transpose(&[0, 2, 1, 3], &matmul::matmul(&p, &vh)?)?; // [B,Sq,H,D]
    let shape = crate::access::tensor(vec![3], vec![b as i64, sq as i64, e as i64])?;
    sh::reshape(false, &o, &shape)
}
