//! MatMul (kernel `sgemm` / `sgemm_batched` with prepacked or strided B and a fused
//! bias/residual/activation epilogue) and Conv (kernel `conv2d`).

use super::ke;
use crate::fault::{fault, StepFault};
use crate::mem::{f32s, f32s_mut, rd, Mem, NONE};
use infc_kernels::{
    conv2d, packed_b_len_checked, packed_conv_weights_len, sgemm, sgemm_batched, unary_inplace,
    AOperand, Activation as KAct, BOperand, BatchLayout, Bias as KBias, Conv2dParams, Epilogue,
    Isa, MatRef, UnaryKind,
};
use infc_plan::{Activation, BiasKind, ConvStep, MatB, MatMulStep, PackedRef, TensorRef, MAX_RANK};

fn act(a: Activation) -> KAct {
    match a {
        Activation::None => KAct::None,
        Activation::Relu => KAct::Relu,
        Activation::GeluErf => KAct::GeluErf,
        Activation::GeluTanh => KAct::GeluTanh,
    }
}

fn act_unary(a: Activation) -> Option<UnaryKind> {
    match a {
        Activation::None => None,
        Activation::Relu => Some(UnaryKind::Relu),
        Activation::GeluErf => Some(UnaryKind::GeluErf),
        Activation::GeluTanh => Some(UnaryKind::GeluTanh),
    }
}

pub(crate) fn check_matmul(s: &MatMulStep) -> Result<(), StepFault> {
    if let MatB::Packed(p) = &s.b {
        // Checked: a hostile k·n panicked here once (found by the plan_run fuzzer).
        let want = usize::try_from(s.k)
            .ok()
            .zip(usize::try_from(s.n).ok())
            .and_then(|(k, n)| packed_b_len_checked(k, n)?.checked_mul(4))
            .map(|b| b as u64);
        if want != Some(p.bytes) {
            let want = want.map_or("more than 2^64".to_string(), |w| w.to_string());
            return Err(fault!(
                "packed B has {} bytes, the kernel layout for k={} n={} needs {want}",
                p.bytes,
                s.k,
                s.n
            ));
        }
    }
    Ok(())
}

fn usizes(v: &[u64], out: &mut [usize; MAX_RANK]) -> usize {
    for (o, &x) in out.iter_mut().zip(v) {
        *o = x as usize;
    }
    v.len()
}

fn batch_extent(shape: &[u64], strides: &[u64], mat: usize) -> usize {
    if shape.contains(&0) || mat == 0 {
        return 0;
    }
    shape
        .iter()
        .zip(strides)
        .map(|(&d, &s)| (d as usize - 1) * s as usize)
        .sum::<usize>()
        + mat
}

pub(crate) fn matmul(s: &MatMulStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let (m, n, k) = (s.m as usize, s.n as usize, s.k as usize);
    let batch: usize = s.batch_shape.iter().product::<u64>() as usize;
    let total = batch * m * n;
    let a_len = batch_extent(&s.batch_shape, &s.a_batch_strides, m * k) * 4;
    let b_read = match &s.b {
        MatB::Packed(p) => rd(infc_plan::TensorRef::konst(p.offset), p.bytes as usize),
        MatB::Plain { at, .. } => rd(
            *at,
            batch_extent(&s.batch_shape, &s.b_batch_strides, k * n) * 4,
        ),
    };
    let bias_read = match &s.bias {
        Some(b) => rd(b.at, b.kind.len(s.m, s.n).unwrap_or(0) as usize * 4),
        None => NONE,
    };
    let res_read = match s.residual {
        Some(r) => rd(r, total * 4),
        None => NONE,
    };
    let (y, [a, b, bias, res]) = mem.io(
        (s.y.offset, total * 4),
        [rd(s.a, a_len), b_read, bias_read, res_read],
    )?;
    let (a, b) = (
        f32s(a.ok_or("A aliases the output")?)?,
        f32s(b.ok_or("B aliases the output")?)?,
    );
    let y = f32s_mut(y)?;
    let bias = match bias {
        Some(b) if s.bias.is_some() => Some(f32s(b)?),
        _ => None,
    };
    let res = match res {
        Some(r) if s.residual.is_some() => Some(f32s(r)?),
        Some(_) => None,
        None => return Err("residual aliases the output".into()),
    };
    let a_op = if s.trans_a {
        AOperand::Strided(MatRef::col_major(a, m))
    } else {
        AOperand::Strided(MatRef::row_major(a, k))
    };
    let b_op = match &s.b {
        MatB::Packed(_) => BOperand::Packed(b),
        MatB::Plain { trans: true, .. } => BOperand::Strided(MatRef::col_major(b, k)),
        MatB::Plain { trans: false, .. } => BOperand::Strided(MatRef::row_major(b, n)),
    };
    // Bias forms the kernel fuses; anything else is added after the product.
    let mut epi = Epilogue {
        alpha: s.alpha,
        residual: res.map(|r| (r, n)),
        activation: act(s.act),
        ..Epilogue::default()
    };
    let mut post_bias = None;
    if let (Some(bv), Some(bd)) = (bias, &s.bias) {
        match bd.kind {
            BiasKind::Row if bd.beta == 1.0 => epi.bias = Some(KBias::PerColumn(bv)),
            BiasKind::Col if bd.beta == 1.0 => epi.bias = Some(KBias::PerRow(bv)),
            _ => post_bias = Some((bv, bd.kind, bd.beta)),
        }
    }
    if post_bias.is_some() {
        epi.activation = KAct::None;
    }
    if s.batch_shape.is_empty() {
        sgemm(isa, m, n, k, a_op, b_op, y, n, &epi).map_err(ke)?;
    } else {
        let (mut shape, mut sa, mut sb, mut sr) = (
            [0usize; MAX_RANK],
            [0usize; MAX_RANK],
            [0usize; MAX_RANK],
            [0usize; MAX_RANK],
        );
        let r = usizes(&s.batch_shape, &mut shape);
        usizes(&s.a_batch_strides, &mut sa);
        usizes(&s.b_batch_strides, &mut sb);
        let mut acc = m * n;
        for d in (0..r).rev() {
            sr[d] = acc;
            acc *= shape[d];
        }
        let layout = BatchLayout {
            shape: &shape[..r],
            a_strides: &sa[..r],
            b_strides: &sb[..r],
            residual_strides: &sr[..r],
            c_stride: m * n,
        };
        sgemm_batched(isa, &layout, m, n, k, a_op, b_op, y, n, &epi).map_err(ke)?;
    }
    if let Some((bv, kind, beta)) = post_bias {
        if m * n > 0 {
            for (e, v) in y.iter_mut().enumerate() {
                let (i, j) = ((e / n) % m, e % n);
                let bias = match kind {
                    BiasKind::Scalar => bv[0],
                    BiasKind::Row => bv[j],
                    BiasKind::Col => bv[i],
                    BiasKind::Full => bv[i * n + j],
                };
                *v += beta * bias;
            }
        }
        if let Some(u) = act_unary(s.act) {
            unary_inplace(isa, u, y);
        }
    }
    Ok(())
}

/// The error of a conv step whose dims do not fit `usize` (never on a 64-bit target).
pub(crate) const DIMS_PAST_USIZE: &str = "conv dims exceed the address space";

/// Checks that the kernel's output size for `p` is the `oh × ow` the plan recorded.
pub(crate) fn check_conv_output(p: &Conv2dParams, oh: u64, ow: u64) -> Result<(), StepFault> {
    if (p.out_h(), p.out_w()) != (oh as usize, ow as usize) {
        return Err(fault!(
            "kernel computes a {}×{} output, plan says {oh}×{ow}",
            p.out_h(),
            p.out_w()
        ));
    }
    Ok(())
}

pub(crate) fn conv_params(s: &ConvStep) -> Result<Conv2dParams, StepFault> {
    let p = s
        .window
        .conv2d_params([s.n, s.c_in, s.h, s.w], s.c_out, s.group)
        .ok_or(DIMS_PAST_USIZE)?;
    p.validate().map_err(ke)?;
    check_conv_output(&p, s.oh, s.ow)?;
    let want = packed_conv_weights_len(&p) as u64 * 4;
    if s.weights.bytes != want {
        return Err(fault!(
            "packed weights have {} bytes, the kernel layout needs {want}",
            s.weights.bytes
        ));
    }
    Ok(p)
}

/// Where a conv step's operands live (plain and NCHWc convs share this), with byte lengths of the
/// input and output and the output channel count (bias length).
pub(crate) struct ConvRefs {
    pub x: TensorRef,
    pub x_bytes: usize,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    pub residual: Option<TensorRef>,
    pub c_out: usize,
    pub y: TensorRef,
    pub y_bytes: usize,
}

/// A conv step's operands as f32 slices: input, packed weights, optional bias and residual, output.
pub(crate) struct ConvIo<'m> {
    pub x: &'m [f32],
    pub w: &'m [f32],
    pub bias: Option<&'m [f32]>,
    pub res: Option<&'m [f32]>,
    pub y: &'m mut [f32],
}

/// Split the arena and constants into a conv step's operands; errors when one aliases the output.
pub(crate) fn conv_io<'m>(r: &ConvRefs, mem: &'m mut Mem<'_>) -> Result<ConvIo<'m>, StepFault> {
    let bias_read = r.bias.map(|b| rd(b, r.c_out * 4)).unwrap_or(NONE);
    let res_read = r.residual.map(|t| rd(t, r.y_bytes)).unwrap_or(NONE);
    let w_read = rd(TensorRef::konst(r.weights.offset), r.weights.bytes as usize);
    let (y, [x, w, bias, res]) = mem.io(
        (r.y.offset, r.y_bytes),
        [rd(r.x, r.x_bytes), w_read, bias_read, res_read],
    )?;
    let x = f32s(x.ok_or("input aliases the output")?)?;
    let w = f32s(w.ok_or("weights alias the output")?)?;
    let bias = match bias {
        Some(b) if r.bias.is_some() => Some(f32s(b)?),
        _ => None,
    };
    let res = match res {
        Some(t) if r.residual.is_some() => Some(f32s(t)?),
        Some(_) => None,
        None => return Err("residual aliases the output".into()),
    };
    Ok(ConvIo {
        x,
        w,
        bias,
        res,
        y: f32s_mut(y)?,
    })
}

pub(crate) fn conv(s: &ConvStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let p = conv_params(s)?;
    let refs = ConvRefs {
        x: s.x,
        x_bytes: (s.n * s.c_in * s.h * s.w) as usize * 4,
        weights: s.weights,
        bias: s.bias,
        residual: s.residual,
        c_out: s.c_out as usize,
        y: s.y,
        y_bytes: (s.n * s.c_out * s.oh * s.ow) as usize * 4,
    };
    let io = conv_io(&refs, mem)?;
    conv2d(isa, &p, io.x, io.w, io.bias, io.res, act(s.act), io.y).map_err(ke)
}
