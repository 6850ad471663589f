//! Channel-blocked (NCHWc) ops from the -O3 layout pass: `NchwcConv` (weights packed at compile
//! time with `infc_kernels::pack_nchwc_weights`, epilogue bias/residual/relu fused in the step),
//! `Reorder` and `NchwcMaxPool`.

use super::conv::geometry;
use super::Lowerer;
use crate::error::CompileError;
use infc_ir::{ConvAttrs, DType, Epilogue, PoolAttrs};
use infc_kernels::{pack_nchwc_weights, packed_nchwc_weights_len, NchwcConvParams};
use infc_plan::{Activation, NchwcConvStep, NchwcMaxPoolStep, PackedRef, ReorderStep, Step};

pub(crate) fn conv(
    lw: &mut Lowerer<'_>,
    attrs: &ConvAttrs,
    epilogue: &[Epilogue],
    block: usize,
) -> Result<(), CompileError> {
    let (x, w, y) = (lw.input(0)?, lw.input(1)?, lw.output(0)?);
    let Some(window) = geometry(&attrs.kernel, &attrs.strides, &attrs.pads, &attrs.dilations)
        .filter(|_| attrs.kernel.len() == 2 && attrs.group == 1)
    else {
        return Err(lw.unsupported("blocked conv that is not 2-D with group 1"));
    };
    let (xs, ys) = (lw.shape(x), lw.shape(y));
    let input_blocked = xs.len() == 5;
    let (&[n, _, h, wd, ..], &[_, _, oh, ow, _]) = (xs.as_slice(), ys.as_slice()) else {
        return Err(lw.malformed("input must be [N,C,H,W] or blocked, output blocked"));
    };
    if !(xs.len() == 4 || input_blocked) {
        return Err(lw.malformed("input must be [N,C,H,W] or blocked [N,CB,H,W,c]"));
    }
    let Some(wt) = lw
        .const_tensor(w)
        .filter(|t| t.dtype == DType::F32 && !t.is_opaque() && t.shape.len() == 4)
    else {
        return Err(lw.unsupported("non-constant (or non-f32) conv weights"));
    };
    let (c_out, c_in) = (wt.shape[0], wt.shape[1]);
    let wdata = wt
        .view::<f32>()
        .map_err(|e| lw.malformed(format!("weights: {e}")))?;
    let params = NchwcConvParams {
        conv: window
            .conv2d_params([n, c_in as u64, h, wd], c_out as u64, 1)
            .ok_or_else(|| lw.unsupported("conv dims exceed the address space"))?,
        block,
        input_blocked,
    };
    let mut packed = vec![0f32; packed_nchwc_weights_len(&params)];
    pack_nchwc_weights(&params, &wdata, &mut packed)
        .map_err(|e| lw.malformed(format!("packing weights: {e}")))?;
    let offset = lw.push_f32(&packed);
    let (mut bias, mut residual, mut act) = (None, None, Activation::None);
    let mut next = 2;
    for st in epilogue {
        match st {
            Epilogue::Bias => bias = Some(lw.at(lw.input(next)?)?),
            Epilogue::Residual => residual = Some(lw.at(lw.input(next)?)?),
            Epilogue::Relu => act = Activation::Relu,
            other => {
                return Err(lw.unsupported(format!(
                    "epilogue stage '{}' on a blocked conv",
                    other.name()
                )))
            }
        }
        next += usize::from(st.takes_input());
    }
    let step = NchwcConvStep {
        n,
        c_in: c_in as u64,
        h,
        w: wd,
        c_out: c_out as u64,
        block: block as u64,
        input_blocked,
        window,
        oh,
        ow,
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
    lw.emit(Step::NchwcConv(step));
    Ok(())
}

pub(crate) fn reorder(
    lw: &mut Lowerer<'_>,
    to_blocked: bool,
    block: usize,
    channels: usize,
) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let plain = if to_blocked { lw.shape(x) } else { lw.shape(y) };
    let &[n, c, h, w] = plain.as_slice() else {
        return Err(lw.malformed("plain side must be [N, C, H, W]"));
    };
    if c != channels as u64 {
        return Err(lw.malformed(format!("plain side has {c} channels, op says {channels}")));
    }
    let step = ReorderStep {
        to_blocked,
        n,
        c,
        hw: h * w,
        block: block as u64,
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::Reorder(step));
    Ok(())
}

pub(crate) fn max_pool(lw: &mut Lowerer<'_>, attrs: &PoolAttrs) -> Result<(), CompileError> {
    let (x, y) = (lw.input(0)?, lw.output(0)?);
    let Some(window) = geometry(&attrs.kernel, &attrs.strides, &attrs.pads, &attrs.dilations)
        .filter(|_| attrs.kernel.len() == 2)
    else {
        return Err(lw.unsupported("blocked pooling that is not 2-D"));
    };
    let (xs, ys) = (lw.shape(x), lw.shape(y));
    let (&[n, cb, h, w, b], &[_, _, oh, ow, _]) = (xs.as_slice(), ys.as_slice()) else {
        return Err(lw.malformed("input and output must be blocked [N, CB, H, W, c]"));
    };
    let step = NchwcMaxPoolStep {
        n,
        // Every lane is pooled; padding lanes hold zeros and stay zero.
        c: cb * b,
        h,
        w,
        block: b,
        window,
        oh,
        ow,
        x: lw.at(x)?,
        y: lw.at(y)?,
    };
    lw.emit(Step::NchwcMaxPool(step));
    Ok(())
}
