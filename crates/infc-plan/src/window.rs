//! The 2-D sliding window shared by the conv and pooling steps (`Conv`, `Pool`, `QuantConv`,
//! `NchwcConv`, `QuantNchwcConv`, `NchwcMaxPool`): kernel size, strides, pads and dilations, the
//! output size they give and the checks a plan's window must pass.
//!
//! On the wire a [`Window2d`] is its four arrays in order (`kernel`, `strides`, `pads`,
//! `dilations`: ten little-endian u64), exactly the bytes the steps wrote when they held the arrays
//! as separate fields, so the format did not change.

use crate::validate::MAX_ELEMENTS;
use crate::wire::wire_struct;
use infc_kernels::Conv2dParams;

/// Geometry of a 2-D conv or pooling window, height axis first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Window2d {
    /// `[kh, kw]`.
    pub kernel: [u64; 2],
    /// `[sh, sw]`.
    pub strides: [u64; 2],
    /// top, left, bottom, right.
    pub pads: [u64; 4],
    /// `[dh, dw]`.
    pub dilations: [u64; 2],
}
wire_struct!(Window2d {
    kernel,
    strides,
    pads,
    dilations
});

impl Window2d {
    /// Both pads of spatial axis `axis` (0 = height, 1 = width); `None` on overflow.
    pub fn pad_sum(&self, axis: usize) -> Option<u64> {
        self.pads[axis].checked_add(self.pads[axis + 2])
    }

    /// `[h, w]` grown by their pads; `None` on overflow.
    pub fn padded(&self, input: [u64; 2]) -> Option<[u64; 2]> {
        Some([
            input[0].checked_add(self.pad_sum(0)?)?,
            input[1].checked_add(self.pad_sum(1)?)?,
        ])
    }

    /// Output length along spatial axis `axis` of an input `len` long, the last window start
    /// rounded down (up when `ceil`); `None` when the window never fits the padded input, a
    /// stride or kernel is 0, or the arithmetic overflows.
    pub fn out_len(&self, axis: usize, len: u64, ceil: bool) -> Option<u64> {
        let (kernel, stride, dil) = (self.kernel[axis], self.strides[axis], self.dilations[axis]);
        let padded = len.checked_add(self.pad_sum(axis)?)?;
        let span = dil.checked_mul(kernel.checked_sub(1)?)?.checked_add(1)?;
        let room = padded.checked_sub(span)?;
        if stride == 0 {
            return None;
        }
        let steps = if ceil {
            room.div_ceil(stride)
        } else {
            room / stride
        };
        steps.checked_add(1)
    }

    /// Checks the window of a `what` step ("conv", "pool") from input `[h, w]` to output
    /// `[oh, ow]`: every attribute at most [`MAX_ELEMENTS`], kernel, strides and dilations ≥ 1, and
    /// the output size the window gives (rounded down; rounded up also passes unless `exact`). An
    /// empty axis may give an empty output. The error is the message.
    pub fn check(
        &self,
        what: &str,
        input: [u64; 2],
        out: [u64; 2],
        exact: bool,
    ) -> Result<(), String> {
        let Window2d {
            kernel,
            strides,
            pads,
            dilations: dil,
        } = self;
        let attrs = kernel.iter().chain(strides).chain(pads).chain(dil);
        if let Some(v) = attrs.copied().find(|&v| v > MAX_ELEMENTS) {
            return Err(format!(
                "{what} kernel, stride, pad or dilation {v} exceeds {MAX_ELEMENTS}"
            ));
        }
        for ax in 0..2 {
            if kernel[ax] < 1 || strides[ax] < 1 || dil[ax] < 1 {
                return Err(format!(
                    "{what} kernel/stride/dilation must be ≥ 1, got {kernel:?}/{strides:?}/{dil:?}"
                ));
            }
            if self.pad_sum(ax).is_none() {
                return Err("padding overflows".into());
            }
            let floor = self.out_len(ax, input[ax], false);
            let ceil = self.out_len(ax, input[ax], true);
            let ok = floor == Some(out[ax]) || (!exact && ceil == Some(out[ax]));
            if !(ok || (input[ax] == 0 && out[ax] == 0)) {
                return Err(format!("{what} output size {} on spatial axis {ax} does not follow from input {} (kernel {}, stride {}, pads {}+{}, dilation {})",
                    out[ax], input[ax], kernel[ax], strides[ax], pads[ax], pads[ax + 2], dil[ax]));
            }
        }
        Ok(())
    }

    /// The conv kernels' parameters for an NCHW input `[n, c, h, w]`, `c_out` output channels and
    /// `groups` (`None` when a value exceeds `usize`). Not validated:
    /// [`Conv2dParams::validate`] them.
    pub fn conv2d_params(&self, input: [u64; 4], c_out: u64, groups: u64) -> Option<Conv2dParams> {
        let u = |v: u64| usize::try_from(v).ok();
        Some(Conv2dParams {
            batch: u(input[0])?,
            in_channels: u(input[1])?,
            in_h: u(input[2])?,
            in_w: u(input[3])?,
            out_channels: u(c_out)?,
            kernel_h: u(self.kernel[0])?,
            kernel_w: u(self.kernel[1])?,
            stride_h: u(self.strides[0])?,
            stride_w: u(self.strides[1])?,
            pad_top: u(self.pads[0])?,
            pad_left: u(self.pads[1])?,
            pad_bottom: u(self.pads[2])?,
            pad_right: u(self.pads[3])?,
            dilation_h: u(self.dilations[0])?,
            dilation_w: u(self.dilations[1])?,
            groups: u(groups)?,
        })
    }
}
