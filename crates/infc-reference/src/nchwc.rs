//! Channel-blocked (NCHWc) ops made by the -O3 layout pass: `Reorder`, `NchwcConv`,
//! `NchwcMaxPool`. Each is evaluated by unblocking its blocked operands, running the plain
//! reference op, and blocking the result (padding channels zero), so the blocked graph is checked
//! against exactly the arithmetic of the plain one.

use crate::access::{tensor, view, OpResult};
use crate::{fused, pool};
use infc_ir::{ConvAttrs, DType, Epilogue, PoolAttrs, Tensor};

/// `[N, C, H, W]` → `[N, ceil(C/block), H, W, block]`, padding channels zero.
pub(crate) fn to_blocked(x: &Tensor, block: usize) -> OpResult<Tensor> {
    let (n, c, h, w) = match (x.dtype, x.shape.as_slice()) {
        (DType::F32, &[n, c, h, w]) if block > 0 => (n, c, h, w),
        _ => {
            return Err(format!(
                "reorder to blocked needs f32[N, C, H, W] and block > 0, got {}{:?} block {block}",
                x.dtype, x.shape
            ))
        }
    };
    let xs = view::<f32>(x)?;
    let (cb, plane) = (c.div_ceil(block), h * w);
    let mut out = vec![0f32; n * cb * plane * block];
    for img in 0..n {
        for ch in 0..c {
            for p in 0..plane {
                let dst = ((img * cb + ch / block) * plane + p) * block + ch % block;
                out[dst] = xs[(img * c + ch) * plane + p];
            }
        }
    }
    tensor(vec![n, cb, h, w, block], out)
}

/// `[N, CB, H, W, block]` → `[N, channels, H, W]` (channels ≤ CB·block).
pub(crate) fn from_blocked(x: &Tensor, channels: usize) -> OpResult<Tensor> {
    let (n, cb, h, w, block) = match (x.dtype, x.shape.as_slice()) {
        (DType::F32, &[n, cb, h, w, b]) if channels <= cb * b => (n, cb, h, w, b),
        _ => {
            return Err(format!(
                "reorder from blocked needs f32[N, CB, H, W, c] holding {channels} channels, got {}{:?}",
                x.dtype, x.shape
            ))
        }
    };
    let xs = view::<f32>(x)?;
    let plane = h * w;
    let mut out = vec![0f32; n * channels * plane];
    for img in 0..n {
        for ch in 0..channels {
            for p in 0..plane {
                out[(img * channels + ch) * plane + p] =
                    xs[((img * cb + ch / block) * plane + p) * block + ch % block];
            }
        }
    }
    tensor(vec![n, channels, h, w], out)
}

/// `NchwcConv`: x blocked (or plain), w `[C_out, C_in, kh, kw]`, extras per `epilogue`.
pub(crate) fn conv(
    attrs: &ConvAttrs,
    epilogue: &[Epilogue],
    block: usize,
    x: &[&Tensor],
) -> OpResult<Tensor> {
    let w = x[1];
    let (cout, cin) = match w.shape.as_slice() {
        &[co, ci, _, _] => (co, ci),
        s => return Err(format!("weights must be [C_out, C_in, kh, kw], got {s:?}")),
    };
    let plain_x = if x[0].shape.len() == 5 {
        from_blocked(x[0], cin)?
    } else {
        x[0].clone()
    };
    let mut plain: Vec<Tensor> = vec![plain_x, w.clone()];
    let mut extra = x[2..].iter();
    for st in epilogue.iter().filter(|s| s.takes_input()) {
        let t = extra
            .next()
            .ok_or_else(|| format!("epilogue stage {} has no input", st.name()))?;
        plain.push(match st {
            Epilogue::Residual => from_blocked(t, cout)?,
            _ => (*t).clone(),
        });
    }
    let refs: Vec<&Tensor> = plain.iter().collect();
    to_blocked(&fused::fused_conv(attrs, epilogue, &refs)?, block)
}

/// `NchwcMaxPool`: every lane of every block pooled as a channel (padding lanes stay zero).
pub(crate) fn max_pool(attrs: &PoolAttrs, x: &Tensor) -> OpResult<Tensor> {
    let (cb, block) = match x.shape.as_slice() {
        &[_, cb, _, _, b] => (cb, b),
        s => return Err(format!("input must be blocked [N, CB, H, W, c], got {s:?}")),
    };
    let y = pool::max_pool(attrs, &from_blocked(x, cb * block)?)?;
    to_blocked(&y, block)
}
