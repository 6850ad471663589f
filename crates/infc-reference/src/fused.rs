//! Fused ops made by passes: `Gelu`, `FusedConv`, `FusedMatMul`, `SkipLayerNorm`, `RmsNorm`,
//! `Attention`.
//!
//! Each is evaluated as the composition of the unfused reference ops it replaces, rounding to f32
//! between stages exactly as the unfused graph would, so a fusion pass can be checked against the
//! unfused graph bit for bit and an optimised fused kernel against this composition.
//! Gelu itself is computed in f64: `0.5·x·(1 + erf(x/√2))` or `0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`.

use crate::access::{tensor, view, OpResult};
use crate::{conv, elementwise as ew, matmul, norm, shape_ops as sh};
use infc_ir::{AttentionMasking, BinaryOp, ConvAttrs, DType, Epilogue, Tensor, UnaryOp};

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
    tensor(
        x.shape.clone(),
        xs.iter().map(|&v| f(v as f64) as f32).collect(),
    )
}

/// Apply `epilogue` stages to `y`; `Bias`/`Residual` consume `extras` in order. `channel_axis` is the
/// axis a bias runs along (1 for NCHW conv, the last axis for matmul).
fn apply_epilogue(
    mut y: Tensor,
    epilogue: &[Epilogue],
    extras: &[&Tensor],
    channel_axis: usize,
) -> OpResult<Tensor> {
    let mut extras = extras.iter();
    for (i, stage) in epilogue.iter().enumerate() {
        let mut next = || {
            extras
                .next()
                .copied()
                .ok_or_else(|| format!("epilogue stage {i} ({}) has no input", stage.name()))
        };
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
                let b = Tensor {
                    dtype: b.dtype,
                    shape,
                    data: b.data.clone(),
                };
                ew::binary(BinaryOp::Add, &y, &b)?
            }
            Epilogue::Residual => {
                let r = next()?;
                if r.shape != y.shape {
                    return Err(format!(
                        "residual must have the output shape {:?}, got {:?}",
                        y.shape, r.shape
                    ));
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

pub(crate) fn fused_conv(
    attrs: &ConvAttrs,
    epilogue: &[Epilogue],
    x: &[&Tensor],
) -> OpResult<Tensor> {
    let y = conv::conv(attrs, x[0], x[1], None)?;
    apply_epilogue(y, epilogue, &x[2..], 1)
}

/// `x` with its last two axes swapped (a `Transpose`), for operands a FusedMatMul reads transposed.
fn swap_last_two(x: &Tensor, which: &str) -> OpResult<Tensor> {
    let r = x.shape.len();
    if r < 2 {
        return Err(format!(
            "{which} is read transposed, so it needs rank ≥ 2, got {:?}",
            x.shape
        ));
    }
    let mut perm: Vec<usize> = (0..r).collect();
    perm.swap(r - 2, r - 1);
    sh::transpose(&perm, x)
}

pub(crate) fn fused_matmul(
    epilogue: &[Epilogue],
    trans_a: bool,
    trans_b: bool,
    x: &[&Tensor],
) -> OpResult<Tensor> {
    let a = if trans_a {
        std::borrow::Cow::Owned(swap_last_two(x[0], "A")?)
    } else {
        std::borrow::Cow::Borrowed(x[0])
    };
    let b = if trans_b {
        std::borrow::Cow::Owned(swap_last_two(x[1], "B")?)
    } else {
        std::borrow::Cow::Borrowed(x[1])
    };
    let y = matmul::matmul(&a, &b)?;
    let last = y
        .shape
        .len()
        .checked_sub(1)
        .ok_or("a bias needs an output of rank ≥ 1")?;
    apply_epilogue(y, epilogue, &x[2..], last)
}

/// `(x, skip, scale, bias) -> (LayerNorm(x + skip), x + skip)` over the last axis.
pub(crate) fn skip_layer_norm(epsilon: f32, x: &[&Tensor]) -> OpResult<Vec<Tensor>> {
    if x[0].shape != x[1].shape {
        return Err(format!(
            "x {:?} and skip {:?} must have the same shape",
            x[0].shape, x[1].shape
        ));
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

/// `x / √(mean(x²) + ε) · scale` over the last axis (f64 accumulation, one rounding).
pub(crate) fn rms_norm(epsilon: f32, x: &Tensor, scale: &Tensor) -> OpResult<Tensor> {
    let c = *x.shape.last().ok_or("x must have rank ≥ 1")?;
    if scale.shape != [c] {
        return Err(format!(
            "scale must have shape [{c}], got {:?}",
            scale.shape
        ));
    }
    let xs = crate::access::view::<f32>(x)?;
    let g = crate::access::view::<f32>(scale)?;
    let mut out = Vec::with_capacity(xs.len());
    if c > 0 {
        for row in xs.chunks_exact(c) {
            let ms = row.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / c as f64;
            let inv = 1.0 / (ms + epsilon as f64).sqrt();
            out.extend(
                row.iter()
                    .zip(g.iter())
                    .map(|(&v, &w)| (v as f64 * inv * w as f64) as f32),
            );
        }
    }
    crate::access::tensor(x.shape.clone(), out)
}

/// Multi-head attention, composed as the exporters' unfused graph computes it:
/// split heads, `scale·Q·Kᵀ`, + mask, causal fill with `f32::MIN`, softmax, `·V`, merge heads.
pub(crate) fn attention(
    num_heads: usize,
    scale: f32,
    causal: bool,
    masking: AttentionMasking,
    x: &[&Tensor],
) -> OpResult<Tensor> {
    let (q, k, v) = (x[0], x[1], x[2]);
    let rank3 = |t: &Tensor, what: &str| -> OpResult<(usize, usize, usize)> {
        match t.shape[..] {
            [b, s, e] => Ok((b, s, e)),
            _ => Err(format!(
                "{what} must be [batch, seq, heads·dim], got {:?}",
                t.shape
            )),
        }
    };
    let (b, sq, e) = rank3(q, "q")?;
    let (bk, sk, ek) = rank3(k, "k")?;
    if k.shape != v.shape || bk != b || ek != e {
        return Err(format!(
            "q {:?}, k {:?}, v {:?} do not fit together",
            q.shape, k.shape, v.shape
        ));
    }
    if num_heads == 0 || e % num_heads != 0 {
        return Err(format!(
            "hidden size {e} is not divisible by num_heads {num_heads}"
        ));
    }
    let d = e / num_heads;
    let heads = |t: &Tensor, s: usize, perm: &[usize]| -> OpResult<Tensor> {
        let shape = crate::access::tensor(
            vec![4],
            vec![b as i64, s as i64, num_heads as i64, d as i64],
        )?;
        sh::transpose(perm, &sh::reshape(false, t, &shape)?)
    };
    let qh = heads(q, sq, &[0, 2, 1, 3])?; // [B,H,Sq,D]
    let kt = heads(k, sk, &[0, 2, 3, 1])?; // [B,H,D,Sk]
    let vh = heads(v, sk, &[0, 2, 1, 3])?; // [B,H,Sk,D]
    let s = ew::binary(
        BinaryOp::Mul,
        &matmul::matmul(&qh, &kt)?,
        &Tensor::scalar(scale),
    )?;
    let mask = match x.get(3) {
        Some(mask) => {
            if crate::broadcast::broadcast_shapes(&[&mask.shape, &s.shape])
                .ok()
                .as_deref()
                != Some(&s.shape[..])
            {
                return Err(format!(
                    "mask {:?} does not broadcast to [B, H, Sq, Sk] = {:?}",
                    mask.shape, s.shape
                ));
            }
            Some(*mask)
        }
        None => None,
    };
    let add_mask = |t: &Tensor| -> OpResult<Tensor> {
        match mask {
            Some(m) => ew::binary(BinaryOp::Add, t, m),
            None => Ok(t.clone()),
        }
    };
    // The graphs this op replaces: `Where(tril, s + mask, fill)`, or `Where(tril, s, fill) + mask`
    // when the mask also reaches hidden keys.
    let logits = if causal {
        let hidden = |n: usize, j: usize| j + sq > n % sq.max(1) + sk;
        let fill = masking.hidden_fill.get();
        let with_mask = if masking.mask_hidden {
            s.clone()
        } else {
            add_mask(&s)?
        };
        let mut sv = view::<f32>(&with_mask)?.into_owned();
        for (n, row) in sv.chunks_exact_mut(sk.max(1)).enumerate() {
            for (j, val) in row.iter_mut().enumerate() {
                if hidden(n, j) {
                    *val = fill;
                }
            }
        }
        let filled = tensor(s.shape.clone(), sv)?;
        if masking.mask_hidden {
            add_mask(&filled)?
        } else {
            filled
        }
    } else {
        add_mask(&s)?
    };
    let mut p = norm::softmax(-1, &logits)?;
    if masking.zero_nan_rows {
        // `Where(IsNaN(p), 0, p)`.
        let pv = view::<f32>(&p)?
            .iter()
            .map(|&v| if v.is_nan() { 0.0 } else { v })
            .collect();
        p = tensor(p.shape.clone(), pv)?;
    }
    let o = sh::transpose(&[0, 2, 1, 3], &matmul::matmul(&p, &vh)?)?; // [B,Sq,H,D]
    let shape = crate::access::tensor(vec![3], vec![b as i64, sq as i64, e as i64])?;
    sh::reshape(false, &o, &shape)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    /// torch.nn.functional.gelu(x) and gelu(x, approximate='tanh') in float64, rounded to f32 (python3, once).
    #[test]
    fn gelu_against_torch() {
        let x = f32t(&[5], &[-3.0, -0.5, 0.0, 0.7, 2.5]);
        assert_close(&f32s(&gelu(false, &x).unwrap()), &TORCH_GELU, 1e-7);
        assert_close(&f32s(&gelu(true, &x).unwrap()), &TORCH_GELU_TANH, 1e-7);
    }

    const TORCH_GELU: [f32; 5] = [-0.004_049_694, -0.15426877, 0.0, 0.53062546, 2.4844759];
    const TORCH_GELU_TANH: [f32; 5] = [-0.003_637_392, -0.154286, 0.0, 0.53057015, 2.4849157];

    #[test]
    fn fused_conv_equals_composition() {
        let attrs = ConvAttrs {
            kernel: vec![1, 1],
            strides: vec![],
            pads: vec![],
            dilations: vec![],
            group: 1,
        };
        let x = f32t(&[1, 2, 1, 2], &[1., -2., 3., 4.]);
        let w = f32t(&[2, 2, 1, 1], &[1., 1., 1., -1.]);
        let bias = f32t(&[2], &[0.5, -10.]);
        let res = f32t(&[1, 2, 1, 2], &[100., 200., 300., 400.]);
        let y = fused_conv(
            &attrs,
            &[Epilogue::Bias, Epilogue::Relu, Epilogue::Residual],
            &[&x, &w, &bias, &res],
        )
        .unwrap();
        // conv: ch0 = x0 + x1 = [4, 2]; ch1 = x0 - x1 = [-2, -6]; +bias → [4.5, 2.5], [-12, -16]; relu; + res
        assert_eq!(f32s(&y), vec![104.5, 202.5, 300., 400.]);
        let e =
            fused_conv(&attrs, &[Epilogue::Bias], &[&x, &w, &f32t(&[3], &[0.; 3])]).unwrap_err();
        assert_eq!(e, "bias must have shape [2], got [3]");
    }

    #[test]
    fn fused_matmul_bias_gelu() {
        let a = f32t(&[1, 2], &[1., 2.]);
        let b = f32t(&[2, 2], &[1., 0., 0., -1.]);
        let bias = f32t(&[2], &[1., 0.]);
        let y = fused_matmul(
            &[Epilogue::Bias, Epilogue::GeluErf],
            false,
            false,
            &[&a, &b, &bias],
        )
        .unwrap();
        let plain = gelu(false, &f32t(&[1, 2], &[2., -2.])).unwrap();
        assert_eq!(f32s(&y), f32s(&plain));
    }

    #[test]
    fn fused_matmul_reads_transposed_operands() {
        // a = [[1, 2, 3]] (1×3), b = [[1, 0], [0, 1], [1, 1]] (3×2): a·b = [[4, 5]].
        let a_t = f32t(&[1, 3, 1], &[1., 2., 3.]);
        let b_t = f32t(&[2, 3], &[1., 0., 1., 0., 1., 1.]);
        let y = fused_matmul(&[], true, true, &[&a_t, &b_t]).unwrap();
        assert_eq!(y.shape, vec![1, 1, 2]);
        assert_eq!(f32s(&y), vec![4., 5.]);
        let a = f32t(&[1, 3], &[1., 2., 3.]);
        let y = fused_matmul(&[], false, true, &[&a, &b_t]).unwrap();
        assert_eq!(f32s(&y), vec![4., 5.]);
        let v = f32t(&[3], &[1., 2., 3.]);
        let err = fused_matmul(&[], true, false, &[&v, &b_t]).unwrap_err();
        assert!(err.contains("A is read transposed"), "{err}");
    }

    #[test]
    fn skip_layer_norm_outputs_both() {
        let x = f32t(&[1, 2], &[1., 2.]);
        let skip = f32t(&[1, 2], &[0., 2.]);
        let out = skip_layer_norm(
            0.0,
            &[&x, &skip, &f32t(&[2], &[1., 1.]), &f32t(&[2], &[0., 0.])],
        )
        .unwrap();
        assert_eq!(f32s(&out[1]), vec![1., 4.]);
        assert_close(&f32s(&out[0]), &[-1., 1.], 1e-6);
    }

    /// Attention against a hand-written per-head loop (two heads, causal, with an additive mask).
    #[test]
    fn attention_matches_per_head_loop() {
        let (b, s, h, d) = (1, 3, 2, 2);
        let e = h * d;
        let q: Vec<f32> = (0..b * s * e)
            .map(|i| ((i * 7 % 5) as f32 - 2.) / 3.)
            .collect();
        let k: Vec<f32> = (0..b * s * e)
            .map(|i| ((i * 3 % 7) as f32 - 3.) / 4.)
            .collect();
        let v: Vec<f32> = (0..b * s * e).map(|i| i as f32 / 10.).collect();
        let mask = [0f32, 0., -1e9]; // key 2 is padding
        let scale = 0.7;
        let (qt, kt, vt) = (
            f32t(&[b, s, e], &q),
            f32t(&[b, s, e], &k),
            f32t(&[b, s, e], &v),
        );
        let y = attention(
            h,
            scale,
            true,
            AttentionMasking::default(),
            &[&qt, &kt, &vt, &f32t(&[1, 1, 1, 3], &mask)],
        )
        .unwrap();
        assert_eq!(y.shape, vec![1, 3, 4]);
        let mut want = vec![0f32; s * e];
        for hh in 0..h {
            for i in 0..s {
                let scores: Vec<f64> = (0..s)
                    .map(|j| {
                        let dot: f64 = (0..d)
                            .map(|c| q[i * e + hh * d + c] as f64 * k[j * e + hh * d + c] as f64)
                            .sum();
                        if j > i {
                            f64::NEG_INFINITY
                        } else {
                            dot * scale as f64 + mask[j] as f64
                        }
                    })
                    .collect();
                let m = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = scores.iter().map(|x| (x - m).exp()).sum();
                for c in 0..d {
                    let o: f64 = (0..s)
                        .map(|j| (scores[j] - m).exp() / z * v[j * e + hh * d + c] as f64)
                        .sum();
                    want[i * e + hh * d + c] = o as f32;
                }
            }
        }
        assert_close(&f32s(&y), &want, 1e-6);
        let e =
            attention(3, 1.0, false, AttentionMasking::default(), &[&qt, &kt, &vt]).unwrap_err();
        assert_eq!(e, "hidden size 4 is not divisible by num_heads 3");
    }

    /// One head, one key dimension, q = k = 0 (every score 0), v = [1, 2, 3]: the output of each
    /// query row shows which keys its softmax weighed. The masking variants give the graph's
    /// answer for fully masked rows: uniform over equal `f32::MIN` scores, NaN under `−∞`, zeros
    /// behind the NaN guard, and with the mask on hidden keys only the keys whose sum stays finite.
    #[test]
    fn attention_masking_matches_the_graph_semantics() {
        let zeros = f32t(&[1, 3, 1], &[0.0; 3]);
        let v = f32t(&[1, 3, 1], &[1.0, 2.0, 4.0]);
        let run = |mask: &[f32], masking: AttentionMasking| {
            let m = f32t(&[1, 1, 1, 3], mask);
            f32s(&attention(1, 1.0, true, masking, &[&zeros, &zeros, &v, &m]).unwrap())
        };
        let min = f32::MIN;
        let inf = f32::NEG_INFINITY;
        // Key 0 padded: row 0 sees nothing; with the default f32::MIN fill it is uniform over all.
        let y = run(&[min, 0.0, 0.0], AttentionMasking::default());
        assert_close(&y, &[7.0 / 3.0, 2.0, 3.0], 1e-6);
        let neg_inf = AttentionMasking {
            hidden_fill: infc_ir::Float::new(inf),
            ..AttentionMasking::default()
        };
        let y = run(&[inf, 0.0, 0.0], neg_inf);
        assert!(y[0].is_nan(), "{y:?}");
        assert_close(&y[1..], &[2.0, 3.0], 1e-6);
        let guarded = AttentionMasking {
            zero_nan_rows: true,
            ..neg_inf
        };
        assert_close(&run(&[inf, 0.0, 0.0], guarded), &[0.0, 2.0, 3.0], 1e-6);
        // `Where(tril, s, MIN) + mask`: hidden keys 1 and 2 of row 0 are MIN + 0, key 0 is
        // 0 + MIN: all equal, uniform. With key 1 padded too, MIN + MIN = −∞ drops it.
        let after = AttentionMasking {
            mask_hidden: true,
            ..AttentionMasking::default()
        };
        assert_close(&run(&[min, 0.0, 0.0], after), &[7.0 / 3.0, 2.0, 3.0], 1e-6);
        assert_close(&run(&[min, min, 0.0], after), &[2.5, 7.0 / 3.0, 4.0], 1e-6);
        assert_close(
            &run(&[min, min, 0.0], AttentionMasking::default()),
            &[7.0 / 3.0, 7.0 / 3.0, 4.0],
            1e-6,
        );
    }
}
