//! Conv: kernel shape from the attribute or the weight, default strides/dilations, and `auto_pad`
//! resolved into explicit pads (shared with pooling via [`window_attrs`]).

use crate::import::NodeCx;
use crate::OnnxError;
use infc_ir::{ConvAttrs, Dim, Op, ValueId};

/// Resolved sliding-window attributes.
pub(super) struct Window {
    pub kernel: Vec<usize>,
    pub strides: Vec<usize>,
    pub pads: Vec<usize>,
    pub dilations: Vec<usize>,
}

/// Read strides/dilations/pads/auto_pad for a window of `kernel` over input `x` (NCHW…).
pub(super) fn window_attrs(
    cx: &NodeCx,
    x: ValueId,
    kernel: Vec<usize>,
) -> Result<Window, OnnxError> {
    let n = kernel.len();
    let get = |name: &str| -> Result<Vec<usize>, OnnxError> {
        let v = cx
            .attr(cx.attrs.usizes(name))?
            .unwrap_or_else(|| vec![1; n]);
        if v.len() != n {
            return Err(cx.err(format!(
                "attribute '{name}' has {} entries for a {n}-D kernel",
                v.len()
            )));
        }
        if v.contains(&0) {
            return Err(cx.err(format!("attribute '{name}' contains 0")));
        }
        Ok(v)
    };
    let strides = get("strides")?;
    let dilations = get("dilations")?;
    let auto_pad = cx
        .attr(cx.attrs.string("auto_pad"))?
        .unwrap_or_else(|| "NOTSET".into());
    let pads = match auto_pad.as_str() {
        "NOTSET" => {
            let p = cx
                .attr(cx.attrs.usizes("pads"))?
                .unwrap_or_else(|| vec![0; 2 * n]);
            if p.len() != 2 * n {
                return Err(cx.err(format!(
                    "attribute 'pads' has {} entries, expected {}",
                    p.len(),
                    2 * n
                )));
            }
            p
        }
        "VALID" => vec![0; 2 * n],
        "SAME_UPPER" | "SAME_LOWER" => {
            let xt = cx.ty(x).clone();
            if xt.rank() != n + 2 {
                return Err(cx.err(format!(
                    "input {xt} must have rank {} for a {n}-D kernel",
                    n + 2
                )));
            }
            let mut pads = vec![0; 2 * n];
            for i in 0..n {
                let eff = dilations[i] * (kernel[i].max(1) - 1) + 1;
                let total = if strides[i] == 1 {
                    eff - 1
                } else {
                    let Dim::Known(d) = xt.shape.0[2 + i] else {
                        return Err(cx.err(format!(
                            "auto_pad {auto_pad} with stride {} needs spatial dim {i} of {xt} to be known",
                            strides[i]
                        )));
                    };
                    let out = d.div_ceil(strides[i]);
                    ((out.max(1) - 1) * strides[i] + eff).saturating_sub(d)
                };
                let small = total / 2;
                let (begin, end) = if auto_pad == "SAME_UPPER" {
                    (small, total - small)
                } else {
                    (total - small, small)
                };
                pads[i] = begin;
                pads[n + i] = end;
            }
            pads
        }
        other => return Err(cx.err(format!("unknown auto_pad '{other}'"))),
    };
    Ok(Window {
        kernel,
        strides,
        pads,
        dilations,
    })
}

pub(super) fn conv(cx: &mut NodeCx) -> Result<(), OnnxError> {
    let (x, w) = (cx.req(0)?, cx.req(1)?);
    let wt = cx.ty(w).clone();
    if wt.rank() < 3 {
        return Err(cx.err(format!("weight {wt} must have rank ≥ 3")));
    }
    let kernel = match cx.attr(cx.attrs.usizes("kernel_shape"))? {
        Some(k) => k,
        None => wt.shape.0[2..]
            .iter()
            .map(|d| {
                d.known().ok_or_else(|| {
                    cx.err(format!(
                        "kernel_shape is absent and weight {wt} has symbolic dims"
                    ))
                })
            })
            .collect::<Result<_, _>>()?,
    };
    let win = window_attrs(cx, x, kernel)?;
    let group = cx.attr(cx.attrs.int_or("group", 1))?;
    let group = usize::try_from(group)
        .ok()
        .filter(|&g| g > 0)
        .ok_or_else(|| cx.err(format!("group {group} must be positive")))?;
    let mut ins = vec![x, w];
    ins.extend(cx.input(2));
    let attrs = ConvAttrs {
        kernel: win.kernel,
        strides: win.strides,
        pads: win.pads,
        dilations: win.dilations,
        group,
    };
    let y = cx.emit1(Op::Conv(attrs), ins)?;
    cx.finish(&[y])
}
