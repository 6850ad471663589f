//! Fused ops made by the optimisation passes: Gelu, FusedConv, FusedMatMul (epilogue stages
//! mapped onto the kernel's `act(acc + bias + residual)` store, stages that do not fit that order
//! become in-place steps on the output), SkipLayerNorm (Add + LayerNorm) and Attention.

use super::strides::{broadcast, unsigned};
use super::{conv, linalg, Lowerer};
use crate::error::CompileError;
use infc_ir::{ConvAttrs, DType, Epilogue, ValueId};
use infc_plan::{
    Activation, AttentionStep, BinaryKind, BinaryStep, LayerNormStep, Step, TensorRef, UnaryKind,
    UnaryStep,
};

pub(crate) fn gelu(lw: &mut Lowerer<'_>, tanh: bool) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("{} input (only f32)", lw.ir_dtype(x))));
    }
    let op = if tanh {
        UnaryKind::GeluTanh
    } else {
        UnaryKind::GeluErf
    };
    let step = UnaryStep {
        op,
        dtype: infc_plan::DType::F32,
        len: lw.numel(y),
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Unary(step));
    Ok(())
}

/// A stage that runs after the main kernel, in place on the output.
pub(crate) enum Post {
    Bias(ValueId),
    Residual(ValueId),
    Act(UnaryKind),
}

pub(crate) struct Split {
    pub bias: Option<ValueId>,
    pub residual: Option<ValueId>,
    pub act: Activation,
    pub post: Vec<Post>,
}

/// Map epilogue stages onto `act(acc + bias + residual)`; the first stage out of that order and
/// everything after it run as separate steps.
pub(crate) fn split_epilogue(lw: &Lowerer<'_>, stages: &[Epilogue]) -> Result<Split, CompileError> {
    let mut sp = Split {
        bias: None,
        residual: None,
        act: Activation::None,
        post: Vec::new(),
    };
    let mut extra = 2;
    let mut phase = 0;
    let mut spilled = false;
    for &st in stages {
        let input = if st.takes_input() {
            let v = lw.input(extra)?;
            extra += 1;
            Some(v)
        } else {
            None
        };
        let (want, act) = match st {
            Epilogue::Bias => (0, None),
            Epilogue::Residual => (1, None),
            Epilogue::Relu => (2, Some((Activation::Relu, UnaryKind::Relu))),
            Epilogue::GeluErf => (2, Some((Activation::GeluErf, UnaryKind::GeluErf))),
            Epilogue::GeluTanh => (2, Some((Activation::GeluTanh, UnaryKind::GeluTanh))),
        };
        spilled |= want < phase;
        if !spilled {
            phase = want + 1;
            match (st, input, act) {
                (Epilogue::Bias, Some(v), _) => sp.bias = Some(v),
                (Epilogue::Residual, Some(v), _) => sp.residual = Some(v),
                (_, _, Some((a, _))) => sp.act = a,
                _ => return Err(lw.malformed("epilogue stage without its input")),
            }
        } else {
            sp.post.push(match (st, input, act) {
                (Epilogue::Bias, Some(v), _) => Post::Bias(v),
                (Epilogue::Residual, Some(v), _) => Post::Residual(v),
                (_, _, Some((_, u))) => Post::Act(u),
                _ => return Err(lw.malformed("epilogue stage without its input")),
            });
        }
    }
    Ok(sp)
}

/// Emit post stages in place on `y`. `channels_inner` is `(channels, inner)`: the bias dimension
/// and how many contiguous elements share one bias value (conv: hw; matmul: 1).
pub(crate) fn emit_post(
    lw: &mut Lowerer<'_>,
    post: &[Post],
    channels: u64,
    inner: u64,
) -> Result<(), CompileError> {
    let y = lw.output(0)?;
    let len = lw.numel(y);
    let yat = lw.at(y)?;
    for p in post {
        let step = match p {
            Post::Act(op) => Step::Unary(UnaryStep {
                op: *op,
                dtype: infc_plan::DType::F32,
                len,
                x: yat,
                y: yat,
            }),
            Post::Residual(r) => {
                if lw.numel(*r) != len {
                    return Err(lw.malformed("residual must have the output's shape"));
                }
                Step::Binary(BinaryStep {
                    op: BinaryKind::Add,
                    dtype: infc_plan::DType::F32,
                    shape: vec![len],
                    a: yat,
                    a_strides: vec![1],
                    b: lw.at(*r)?,
                    b_strides: vec![1],
                    y: yat,
                })
            }
            Post::Bias(b) => {
                let outer = len / (channels * inner).max(1);
                Step::Binary(BinaryStep {
                    op: BinaryKind::Add,
                    dtype: infc_plan::DType::F32,
                    shape: vec![outer, channels, inner],
                    a: yat,
                    a_strides: vec![channels * inner, inner, 1],
                    b: lw.at(*b)?,
                    b_strides: vec![0, 1, 0],
                    y: yat,
                })
            }
        };
        lw.emit(step);
    }
    Ok(())
}

pub(crate) fn fused_conv(
    lw: &mut Lowerer<'_>,
    attrs: &ConvAttrs,
    stages: &[Epilogue],
) -> Result<(), CompileError> {
    let sp = split_epilogue(lw, stages)?;
    if let Some(r) = sp.residual {
        if lw.numel(r) != lw.numel(lw.output(0)?) {
            return Err(lw.malformed("residual must have the output's shape"));
        }
    }
    conv::conv_with(lw, attrs, sp.bias, sp.residual, sp.act)?;
    let ys = lw.shape(lw.output(0)?);
    let channels = ys.get(1).copied().unwrap_or(1);
    emit_post(lw, &sp.post, channels, ys.iter().skip(2).product())
}

pub(crate) fn fused_matmul(
    lw: &mut Lowerer<'_>,
    stages: &[Epilogue],
    trans: linalg::Transposed,
) -> Result<(), CompileError> {
    let sp = split_epilogue(lw, stages)?;
    if let Some(r) = sp.residual {
        if lw.numel(r) != lw.numel(lw.output(0)?) {
            return Err(lw.malformed("residual must have the output's shape"));
        }
    }
    linalg::matmul_with(lw, trans, sp.bias, sp.residual, sp.act)?;
    let ys = lw.shape(lw.output(0)?);
    emit_post(lw, &sp.post, ys.last().copied().unwrap_or(1), 1)
}

pub(crate) fn skip_layer_norm(lw: &mut Lowerer<'_>, epsilon: f32) -> Result<(), CompileError> {
    let (x, skip, scale, bias) = (lw.input(0)?, lw.input(1)?, lw.input(2)?, lw.input(3)?);
    let (y, sum) = (lw.output(0)?, lw.output(1)?);
    let s = lw.shape(x);
    if lw.shape(skip) != s || lw.ir_dtype(x) != DType::F32 {
        return Err(lw.malformed(format!(
            "x {} and skip {} must be the same f32 shape",
            lw.g.ty(x),
            lw.g.ty(skip)
        )));
    }
    let cols = *s.last().unwrap_or(&1);
    if lw.numel(scale) != cols || lw.numel(bias) != cols {
        return Err(lw.malformed(format!("scale/bias must have {cols} elements")));
    }
    let len = lw.numel(x);
    let sum_at = lw.at(sum)?;
    let add = BinaryStep {
        op: BinaryKind::Add,
        dtype: infc_plan::DType::F32,
        shape: vec![len],
        a: lw.at(x)?,
        a_strides: vec![1],
        b: lw.at(skip)?,
        b_strides: vec![1],
        y: sum_at,
    };
    lw.emit(Step::Binary(add));
    let ln = LayerNormStep {
        rows: len / cols.max(1),
        cols,
        epsilon,
        x: sum_at,
        scale: lw.at(scale)?,
        bias: Some(lw.at(bias)?),
        y: lw.at(y)?,
    };
    lw.emit(Step::LayerNorm(ln));
    Ok(())
}

pub(crate) fn attention(
    lw: &mut Lowerer<'_>,
    heads: usize,
    scale: f32,
    causal: bool,
    masking: infc_ir::AttentionMasking,
) -> Result<(), CompileError> {
    let (q, k, v, y) = (lw.input(0)?, lw.input(1)?, lw.input(2)?, lw.output(0)?);
    let (qs, ks) = (lw.shape(q), lw.shape(k));
    let heads = heads as u64;
    let (&[b, sq, hd], &[bk, sk, hdk]) = (qs.as_slice(), ks.as_slice()) else {
        return Err(lw.malformed(format!(
            "q {qs:?} and k {ks:?} must be [batch, seq, heads·d]"
        )));
    };
    if heads == 0 || hd % heads != 0 || bk != b || hdk != hd || lw.shape(v) != ks {
        return Err(lw.malformed(format!(
            "q {qs:?}, k {ks:?}, v {:?} do not fit {heads} heads",
            lw.shape(v)
        )));
    }
    for t in [q, k, v] {
        if lw.ir_dtype(t) != DType::F32 {
            return Err(lw.unsupported(format!("{} inputs (only f32)", lw.ir_dtype(t))));
        }
    }
    let (mask, mask_strides) = if lw.has_input(3) {
        let m = lw.input(3)?;
        let ms = lw.shape(m);
        if ms.len() > 4 || lw.ir_dtype(m) != DType::F32 {
            return Err(lw.malformed(format!(
                "mask {} must be f32 broadcastable to [B, H, Sq, Sk]",
                lw.g.ty(m)
            )));
        }
        let st = unsigned(&broadcast(&ms, &[b, heads, sq, sk]));
        (Some(lw.at(m)?), [st[0], st[1], st[2], st[3]])
    } else {
        (None, [0; 4])
    };
    let (scratch, _) =
        lw.an.scratch[lw.node].ok_or_else(|| lw.malformed("attention scratch was not planned"))?;
    let ((q_at, ldq), (k_at, ldk), (v_at, ldv)) = (lw.rows_at(q)?, lw.rows_at(k)?, lw.rows_at(v)?);
    let step = AttentionStep {
        batch: b,
        heads,
        sq,
        sk,
        d: hd / heads,
        scale,
        causal,
        hidden_fill: masking.hidden_fill.get(),
        mask_hidden: masking.mask_hidden,
        zero_nan_rows: masking.zero_nan_rows,
        bf16: lw.cur().precision == infc_ir::Precision::Bf16,
        q: q_at,
        k: k_at,
        v: v_at,
        qkv_row_strides: [ldq, ldk, ldv],
        mask,
        mask_strides,
        y: lw.at(y)?,
        scratch: TensorRef::arena(scratch),
    };
    lw.emit(Step::Attention(step));
    Ok(())
}

/// Scratch bytes of an Attention node: what [`infc_kernels::attention`] needs (every head's packed
/// `kᵀ` and `v`, one `sq × sk` score matrix per batch).
pub(crate) fn attention_scratch_bytes(g: &infc_ir::Graph, node: &infc_ir::Node) -> u64 {
    let infc_ir::Op::Attention { num_heads, .. } = node.op else {
        return 0;
    };
    let dims = |v: ValueId| g.ty(v).shape.as_known().unwrap_or_default();
    let (q, k) = (dims(node.inputs[0]), dims(node.inputs[1]));
    match (q.as_slice(), k.as_slice()) {
        // On overflow no scratch is planned, and lowering reports the node as malformed.
        ([b, sq, hd], [_, sk, _]) if num_heads > 0 => {
            // The polynomial bound: a range plan's per-shape arena sizes this buffer by an
            // expression of the dims (the step still reads and writes only the exact length).
            infc_kernels::attention_scratch_floats_bound(*b, num_heads, *sq, *sk, *hd / num_heads)
                .and_then(|f| (f as u64).checked_mul(4))
                .unwrap_or(0)
        }
        _ => 0,
    }
}
