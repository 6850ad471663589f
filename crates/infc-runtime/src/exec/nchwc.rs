//! Executors of the channel-blocked (NCHWc) steps: the direct blocked conv with fused
//! bias/residual/ReLU, the layout reorders and blocked max pooling. Kernel parameters are checked
//! once at load ([`nchwc_conv_params`], [`max_pool_params`]).

use super::ke;
use super::linalg::{conv_io, ConvRefs};
use super::nn::window_params;
use crate::fault::{fault, StepFault};
use crate::mem::{f32s, f32s_mut, rd, Mem};
use infc_kernels::{
    blocked_len, conv2d_nchwc, from_blocked, max_pool2d_nchwc, packed_nchwc_weights_len,
    to_blocked, Isa, NchwcConvParams, Pool2dParams,
};
use infc_plan::{Activation, NchwcConvStep, NchwcMaxPoolStep, ReorderStep};

/// Kernel parameters of a blocked conv step, checked against the planned output size, the
/// packed weight size and the supported activations.
pub(crate) fn nchwc_conv_params(s: &NchwcConvStep) -> Result<NchwcConvParams, StepFault> {
    let p = NchwcConvParams {
        conv: s
            .window
            .conv2d_params([s.n, s.c_in, s.h, s.w], s.c_out, 1)
            .ok_or(super::linalg::DIMS_PAST_USIZE)?,
        block: s.block as usize,
        input_blocked: s.input_blocked,
    };
    p.validate().map_err(ke)?;
    super::linalg::check_conv_output(&p.conv, s.oh, s.ow)?;
    let want = packed_nchwc_weights_len(&p) as u64 * 4;
    if s.weights.bytes != want {
        return Err(fault!(
            "packed weights have {} bytes, the kernel needs {want}",
            s.weights.bytes
        ));
    }
    if !matches!(s.act, Activation::None | Activation::Relu) {
        return Err(fault!("activation {:?} is not fused by this kernel", s.act));
    }
    Ok(p)
}

pub(crate) fn conv(s: &NchwcConvStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let p = nchwc_conv_params(s)?;
    let refs = ConvRefs {
        x: s.x,
        x_bytes: p.input_len() * 4,
        weights: s.weights,
        bias: s.bias,
        residual: s.residual,
        c_out: s.c_out as usize,
        y: s.y,
        y_bytes: p.output_len() * 4,
    };
    let io = conv_io(&refs, mem)?;
    let relu = s.act == Activation::Relu;
    conv2d_nchwc(isa, &p, io.x, io.w, io.bias, io.res, relu, io.y).map_err(ke)
}

pub(crate) fn reorder(s: &ReorderStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let (n, c, hw, b) = (s.n as usize, s.c as usize, s.hw as usize, s.block as usize);
    let (plain, blocked) = (n * c * hw * 4, blocked_len(n, c, hw, b) * 4);
    let (xn, yn) = if s.to_blocked {
        (plain, blocked)
    } else {
        (blocked, plain)
    };
    let (y, [x]) = mem.io((s.y.offset, yn), [rd(s.x, xn)])?;
    let (x, y) = (f32s(x.ok_or("input aliases the output")?)?, f32s_mut(y)?);
    if s.to_blocked {
        to_blocked(isa, n, c, hw, b, x, y)
    } else {
        from_blocked(isa, n, c, hw, b, x, y)
    }
    .map_err(ke)
}

/// Kernel parameters of a blocked max pool (the plain pool's rules, with `c` the lane count).
pub(crate) fn max_pool_params(s: &NchwcMaxPoolStep) -> Result<Pool2dParams, StepFault> {
    if s.block != 8 && s.block != 16 {
        return Err(fault!("block {} is not 8 or 16", s.block));
    }
    window_params([s.n, s.c, s.h, s.w], &s.window, [s.oh, s.ow])
}

pub(crate) fn max_pool(s: &NchwcMaxPoolStep, mem: &mut Mem<'_>, isa: Isa) -> Result<(), StepFault> {
    let p = max_pool_params(s)?;
    let b = s.block as usize;
    let xn = blocked_len(p.batch, p.channels, p.in_h * p.in_w, b) * 4;
    let yn = blocked_len(p.batch, p.channels, p.out_h() * p.out_w(), b) * 4;
    let (y, [x]) = mem.io((s.y.offset, yn), [rd(s.x, xn)])?;
    let (x, y) = (f32s(x.ok_or("input aliases the output")?)?, f32s_mut(y)?);
    max_pool2d_nchwc(isa, &p, b, x, y).map_err(ke)
}
