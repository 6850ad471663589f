//! NN executors: pooling, global average pooling, batch norm, softmax, layer norm (kernels) and
//! strided reductions (kernel `reduce_last_axis` for trailing contiguous reductions, an odometer
//! walk otherwise; i64 sums for shape arithmetic).

use super::ke;
use crate::fault::{fault, StepFault};
use crate::mem::{extent, f32s, f32s_mut, for_rows, rd, signed, view, view_mut, Mem};
use infc_kernels::{
    avg_pool2d, global_avg_pool as gap, layer_norm as ln, max_pool2d, reduce_last_axis, Isa,
    Pool2dParams,
};
use infc_plan::{
    BatchNormStep, DType, GlobalAvgPoolStep, LayerNormStep, PoolKind, PoolStep, ReduceKind,
    ReduceStep, RmsNormStep, SoftmaxStep, Window2d,
};

/// Kernel parameters for a pool step.
pub(crate) fn pool_params(s: &PoolStep) -> Result<Pool2dParams, StepFault> {
    window_params([s.n, s.c, s.h, s.w], &s.window, [s.oh, s.ow])
}

/// Kernel parameters of a pooling window over an NCHW input `[n, c, h, w]`; `ceil_mode` is
/// whichever rounding reproduces the planned output size `[oh, ow]`.
pub(crate) fn window_params(
    input: [u64; 4],
    win: &Window2d,
    out: [u64; 2],
) -> Result<Pool2dParams, StepFault> {
    let u = |v: u64| v as usize;
    let mut p = Pool2dParams {
        batch: u(input[0]),
        channels: u(input[1]),
        in_h: u(input[2]),
        in_w: u(input[3]),
        kernel_h: u(win.kernel[0]),
        kernel_w: u(win.kernel[1]),
        stride_h: u(win.strides[0]),
        stride_w: u(win.strides[1]),
        pad_top: u(win.pads[0]),
        pad_left: u(win.pads[1]),
        pad_bottom: u(win.pads[2]),
        pad_right: u(win.pads[3]),
        dilation_h: u(win.dilations[0]),
        dilation_w: u(win.dilations[1]),
        ceil_mode: false,
    };
    p.validate().map_err(ke)?;
    let want = (u(out[0]), u(out[1]));
    if (p.out_h(), p.out_w()) != want {
        p.ceil_mode = true;
        if (p.out_h(), p.out_w()) != want {
            return Err(fault!(
                "kernel computes a {}×{} output, plan says {}×{}",
                p.out_h(),
                p.out_w(),
                out[0],
                out[1]
            ));
        }
    }
    Ok(p)
}

pub(crate) fn pool(s: &PoolStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let p = pool_params(s)?;
    let xn = (s.n * s.c * s.h * s.w) as usize * 4;
    let yn = (s.n * s.c * s.oh * s.ow) as usize * 4;
    let (y, [x]) = m.io((s.y.offset, yn), [rd(s.x, xn)])?;
    let (x, y) = (f32s(x.ok_or("input aliases the output")?)?, f32s_mut(y)?);
    match s.kind {
        PoolKind::Max => max_pool2d(isa, &p, x, y),
        PoolKind::AvgIncludePad => avg_pool2d(isa, &p, true, x, y),
        PoolKind::AvgExcludePad => avg_pool2d(isa, &p, false, x, y),
    }
    .map_err(ke)
}

pub(crate) fn global_avg_pool(
    s: &GlobalAvgPoolStep,
    m: &mut Mem<'_>,
    isa: Isa,
) -> Result<(), StepFault> {
    let (nc, hw) = (s.nc as usize, s.hw as usize);
    let (y, [x]) = m.io((s.y.offset, nc * 4), [rd(s.x, nc * hw * 4)])?;
    gap(
        isa,
        nc,
        hw,
        f32s(x.ok_or("input aliases the output")?)?,
        f32s_mut(y)?,
    )
    .map_err(ke)
}

fn param(v: Option<&[u8]>) -> Result<&[f32], StepFault> {
    f32s(v.ok_or("parameter aliases the output")?)
}

pub(crate) fn batch_norm(s: &BatchNormStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let (n, c, inner) = (s.n as usize, s.c as usize, s.inner as usize);
    let total = n * c * inner * 4;
    let p = |t| rd(t, c * 4);
    let (y, [x, sc, bi, me, va]) = m.io(
        (s.y.offset, total),
        [rd(s.x, total), p(s.scale), p(s.bias), p(s.mean), p(s.var)],
    )?;
    let (sc, bi, me, va) = (param(sc)?, param(bi)?, param(me)?, param(va)?);
    let x = x.map(f32s).transpose()?;
    let y = f32s_mut(y)?;
    if inner == 0 {
        return Ok(());
    }
    for (r, out) in y.chunks_exact_mut(inner).enumerate() {
        let ch = r % c;
        let scale = sc[ch] / (va[ch] + s.epsilon).sqrt();
        let shift = bi[ch] - me[ch] * scale;
        match x {
            Some(x) => {
                for (o, &v) in out.iter_mut().zip(&x[r * inner..(r + 1) * inner]) {
                    *o = v * scale + shift;
                }
            }
            None => {
                for o in out.iter_mut() {
                    *o = *o * scale + shift;
                }
            }
        }
    }
    Ok(())
}

pub(crate) fn softmax(s: &SoftmaxStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let total = (s.outer * s.axis * s.inner) as usize * 4;
    let (y, [x]) = m.io((s.y.offset, total), [rd(s.x, total)])?;
    let x = f32s(x.ok_or("input aliases the output")?)?;
    infc_kernels::softmax(
        isa,
        x,
        f32s_mut(y)?,
        s.outer as usize,
        s.axis as usize,
        s.inner as usize,
    )
    .map_err(ke)
}

pub(crate) fn layer_norm(s: &LayerNormStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let (rows, cols) = (s.rows as usize, s.cols as usize);
    let total = rows * cols * 4;
    let bias_read = s.bias.map(|b| rd(b, cols * 4)).unwrap_or(crate::mem::NONE);
    let (y, [x, scale, bias]) = m.io(
        (s.y.offset, total),
        [rd(s.x, total), rd(s.scale, cols * 4), bias_read],
    )?;
    let x = f32s(x.ok_or("input aliases the output")?)?;
    let scale = f32s(scale.ok_or("scale aliases the output")?)?;
    let bias = match bias {
        Some(b) if s.bias.is_some() => Some(f32s(b)?),
        _ => None,
    };
    ln(isa, x, scale, bias, s.epsilon, rows, cols, f32s_mut(y)?).map_err(ke)
}

pub(crate) fn rms_norm(s: &RmsNormStep, m: &mut Mem<'_>) -> Result<(), StepFault> {
    let (rows, cols) = (s.rows as usize, s.cols as usize);
    let total = rows * cols * 4;
    let (y, [x, scale]) = m.io((s.y.offset, total), [rd(s.x, total), rd(s.scale, cols * 4)])?;
    let x = f32s(x.ok_or("input aliases the output")?)?;
    let scale = f32s(scale.ok_or("scale aliases the output")?)?;
    infc_kernels::rms_norm(x, scale, s.epsilon, rows, cols, f32s_mut(y)?).map_err(ke)
}

fn kernel_reduce(k: ReduceKind) -> infc_kernels::ReduceKind {
    match k {
        ReduceKind::Mean => infc_kernels::ReduceKind::Mean,
        ReduceKind::Sum => infc_kernels::ReduceKind::Sum,
        ReduceKind::Max => infc_kernels::ReduceKind::Max,
        ReduceKind::Min => infc_kernels::ReduceKind::Min,
        ReduceKind::Prod => infc_kernels::ReduceKind::Prod,
    }
}

pub(crate) fn reduce(s: &ReduceStep, m: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let es = s.dtype.size();
    let out_n: usize = s.out_shape.iter().product::<u64>() as usize;
    let red_n: usize = s.red_shape.iter().product::<u64>() as usize;
    let x_len =
        extent(&s.out_shape, &s.out_strides).max(1) - 1 + extent(&s.red_shape, &s.red_strides);
    // An empty output or an empty reduction reads nothing (validation checked no range then).
    let x_bytes = if red_n == 0 || out_n == 0 {
        0
    } else {
        x_len * es
    };
    let (y, [x]) = m.io((s.y.offset, out_n * es), [rd(s.x, x_bytes)])?;
    let x = x.ok_or("input aliases the output")?;
    // Trailing contiguous reduction of a contiguous input: rows × cols.
    let trailing = s.red_strides.len() <= 1
        && s.red_strides.first().is_none_or(|&v| v == 1)
        && s.out_strides.last().is_none_or(|&v| v as usize == red_n)
        && s.out_shape.len() <= 1;
    match s.dtype {
        DType::F32 if trailing && red_n > 0 => reduce_last_axis(
            isa,
            kernel_reduce(s.op),
            out_n,
            red_n,
            &f32s(x)?[..out_n * red_n],
            f32s_mut(y)?,
        )
        .map_err(ke),
        DType::F32 => generic(s, f32s(x)?, f32s_mut(y)?, |v| v as f64, |v| v as f32),
        DType::I64 => {
            let (x, y) = (view::<i64>(x)?, view_mut::<i64>(y)?);
            generic(s, x, y, |v| v as f64, |v| v as i64)
        }
        d => Err(StepFault::Unsupported(format!("{d} reductions"))),
    }
}

/// Odometer reduction in f64.
fn generic<T: Copy>(
    s: &ReduceStep,
    x: &[T],
    y: &mut [T],
    to: impl Fn(T) -> f64,
    from: impl Fn(f64) -> T,
) -> Result<(), StepFault> {
    let (os, rs) = (signed(&s.out_strides), signed(&s.red_strides));
    let (ro, rr) = (s.out_shape.len(), s.red_shape.len());
    let red_n: usize = s.red_shape.iter().product::<u64>() as usize;
    let mut bad = false;
    let mut out_index = 0usize;
    for_rows(&s.out_shape, [&os[..ro]], |_, [base], len| {
        let step = if ro == 0 { 0 } else { os[ro - 1] };
        for j in 0..len as i64 {
            let start = base + j * step;
            let mut acc: f64 = match s.op {
                ReduceKind::Max => f64::NEG_INFINITY,
                ReduceKind::Min => f64::INFINITY,
                ReduceKind::Prod => 1.0,
                _ => 0.0,
            };
            let inner_step = if rr == 0 { 0 } else { rs[rr - 1] };
            for_rows(&s.red_shape, [&rs[..rr]], |_, [rb], rlen| {
                for t in 0..rlen as i64 {
                    match x.get((start + rb + t * inner_step) as usize) {
                        Some(&v) => {
                            let v = to(v);
                            acc = match s.op {
                                ReduceKind::Sum | ReduceKind::Mean => acc + v,
                                // NaN, once seen, sticks (as in the kernel and the reference).
                                ReduceKind::Max if acc.is_nan() || v <= acc => acc,
                                ReduceKind::Min if acc.is_nan() || v >= acc => acc,
                                ReduceKind::Max | ReduceKind::Min => v,
                                ReduceKind::Prod => acc * v,
                            };
                        }
                        None => bad = true,
                    }
                }
            });
            if s.op == ReduceKind::Mean {
                // The mean of nothing is NaN (0/0), as in the kernel and the reference.
                acc /= red_n as f64;
            }
            match y.get_mut(out_index) {
                Some(o) => *o = from(acc),
                None => bad = true,
            }
            out_index += 1;
        }
    });
    if bad {
        return Err("strided access out of range".into());
    }
    Ok(())
}
