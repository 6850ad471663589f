//! Conv, pooling and batch norm (NCHW; 1-D variants run as 2-D with height 1). Conv weights are
//! packed at compile time with `infc_kernels::pack_conv_weights`, the layout `conv2d` reads.

use super::Lowerer;
use crate::error::CompileError;
use infc_ir::{ConvAttrs, DType, PoolAttrs};
use infc_kernels::{pack_conv_weights, packed_conv_weights_len};
use infc_plan::{
    Activation, BatchNormStep, ConvStep, GlobalAvgPoolStep, PackedRef, PoolKind, PoolStep, Step,
    TensorRef, Window2d,
};

/// The 2-D window of a conv or pool's attributes (a 1-D one as height 1), or `None` for other
/// ranks.
pub(crate) fn geometry(
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    dil: &[usize],
) -> Option<Window2d> {
    let at = |v: &[usize], i: usize, d: usize| v.get(i).copied().unwrap_or(d) as u64;
    match kernel.len() {
        2 => Some(Window2d {
            kernel: [at(kernel, 0, 1), at(kernel, 1, 1)],
            strides: [at(strides, 0, 1), at(strides, 1, 1)],
            pads: [
                at(pads, 0, 0),
                at(pads, 1, 0),
                at(pads, 2, 0),
                at(pads, 3, 0),
            ],
            dilations: [at(dil, 0, 1), at(dil, 1, 1)],
        }),
        1 => Some(Window2d {
            kernel: [1, at(kernel, 0, 1)],
            strides: [1, at(strides, 0, 1)],
            pads: [0, at(pads, 0, 0), 0, at(pads, 1, 0)],
            dilations: [1, at(dil, 0, 1)],
        }),
        _ => None,
    }
}

/// `[n, c, h, w]` of an NCHW (or NCL) shape.
pub(crate) fn nchw(shape: &[u64]) -> Option<[u64; 4]> {
    match *shape {
        [n, c, h, w] => Some([n, c, h, w]),
        [n, c, l] => Some([n, c, 1, l]),
        _ => None,
    }
}

pub(crate) fn conv(lw: &mut Lowerer<'_>, attrs: &ConvAttrs) -> Result<(), CompileError> {
    let bias = if lw.has_input(2) {
        Some(lw.input(2)?)
    } else {
        None
    };
    conv_with(lw, attrs, bias, None, Activation::None)
}

/// Conv `y = act(conv(x, w) + bias + residual)` from inputs 0 (x) and 1 (w).
pub(crate) fn conv_with(
    lw: &mut Lowerer<'_>,
    attrs: &ConvAttrs,
    bias: Option<infc_ir::ValueId>,
    residual: Option<infc_ir::ValueId>,
    act: Activation,
) -> Result<(), CompileError> {
    let (x, w, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!(
            "{} input (only f32 conv is supported)",
            lw.ir_dtype(x)
        )));
    }
    let Some(window) = geometry(&attrs.kernel, &attrs.strides, &attrs.pads, &attrs.dilations)
    else {
        return Err(lw.unsupported(format!(
            "{}-D convolution (1-D and 2-D are supported)",
            attrs.kernel.len()
        )));
    };
    let (Some(xs), Some(ys)) = (nchw(&lw.shape(x)), nchw(&lw.shape(y))) else {
        return Err(lw.malformed("input and output must be NCHW or NCL"));
    };
    let group = attrs.group as u64;
    let (c_in, c_out) = (xs[1], ys[1]);
    if group == 0 || c_in % group != 0 || c_out % group != 0 {
        return Err(lw.malformed(format!(
            "group {group} does not divide channels {c_in} → {c_out}"
        )));
    }
    let Some(wt) = lw
        .const_tensor(w)
        .filter(|t| t.dtype == DType::F32 && !t.is_opaque())
    else {
        return Err(lw.unsupported("non-constant (or non-f32) conv weights"));
    };
    let wdata = wt
        .view::<f32>()
        .map_err(|e| lw.malformed(format!("weights: {e}")))?;
    let params = window
        .conv2d_params(xs, c_out, group)
        .ok_or_else(|| lw.unsupported("conv dims exceed the address space"))?;
    let expected = params.out_channels * params.k_per_group();
    if wdata.len() != expected {
        return Err(lw.malformed(format!(
            "weights have {} elements, expected {expected}",
            wdata.len()
        )));
    }
    let mut packed = vec![0f32; packed_conv_weights_len(&params)];
    pack_conv_weights(&params, &wdata, &mut packed)
        .map_err(|e| lw.malformed(format!("packing weights: {e}")))?;
    let offset = lw.push_f32(&packed);
    let bias = match bias {
        Some(b) => Some(lw.at(b)?),
        None => None,
    };
    let residual = match residual {
        Some(r) => Some(lw.at(r)?),
        None => None,
    };
    let step = ConvStep {
        n: xs[0],
        c_in,
        h: xs[2],
        w: xs[3],
        c_out,
        group,
        window,
        oh: ys[2],
        ow: ys[3],
        x: lw.at(x)?,
        weights: PackedRef {
            offset,
            bytes: packed.len() as u64 * 4,
        },
        bias,
        residual,
        act,
        y: lw.at(y)?,
    };
    lw.emit(Step::Conv(step));
    Ok(())
}

pub(crate) fn pool(
    lw: &mut Lowerer<'_>,
    attrs: &PoolAttrs,
    kind: PoolKind,
) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    if lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!(
            "{} input (only f32 pooling is supported)",
            lw.ir_dtype(x)
        )));
    }
    let Some(window) = geometry(&attrs.kernel, &attrs.strides, &attrs.pads, &attrs.dilations)
    else {
        return Err(lw.unsupported(format!(
            "{}-D pooling (1-D and 2-D are supported)",
            attrs.kernel.len()
        )));
    };
    let (Some(xs), Some(ys)) = (nchw(&lw.shape(x)), nchw(&lw.shape(y))) else {
        return Err(lw.malformed("input and output must be NCHW or NCL"));
    };
    let step = PoolStep {
        kind,
        n: xs[0],
        c: xs[1],
        h: xs[2],
        w: xs[3],
        window,
        oh: ys[2],
        ow: ys[3],
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Pool(step));
    Ok(())
}

pub(crate) fn global_avg_pool(lw: &mut Lowerer<'_>) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let s = lw.shape(x);
    if s.len() < 2 || lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("input {} (need f32 with rank ≥ 2)", lw.g.ty(x))));
    }
    let step = GlobalAvgPoolStep {
        nc: s[0] * s[1],
        hw: s[2..].iter().product(),
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::GlobalAvgPool(step));
    Ok(())
}

pub(crate) fn batch_norm(lw: &mut Lowerer<'_>, epsilon: f32) -> Result<(), CompileError> {
    let x = lw.input(0)?;
    let y = lw.output(0)?;
    let s = lw.shape(x);
    if s.len() < 2 || lw.ir_dtype(x) != DType::F32 {
        return Err(lw.unsupported(format!("input {} (need f32 with rank ≥ 2)", lw.g.ty(x))));
    }
    let mut params = [TensorRef::arena(0); 4];
    for (i, p) in params.iter_mut().enumerate() {
        let v = lw.input(i + 1)?;
        if lw.numel(v) != s[1] || lw.ir_dtype(v) != DType::F32 {
            return Err(lw.malformed(format!(
                "parameter {} is {}, expected f32[{}]",
                i + 1,
                lw.g.ty(v),
                s[1]
            )));
        }
        *p = lw.at(v)?;
    }
    let step = BatchNormStep {
        n: s[0],
        c: s[1],
        inner: s[2..].iter().product(),
        epsilon,
        x: lw.at(x)?,
        scale: params[0],
        bias: params[1],
        mean: params[2],
        var: params[3],
        y: lw.at(y)?,
    };
    lw.emit(Step::BatchNorm(step));
    Ok(())
}
