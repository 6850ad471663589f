//! NCHW 2-D convolution as im2col + packed GEMM.
//!
//! Per image and group: `Y[g] (cout_g × oh·ow) = W[g] (cout_g × cin_g·kh·kw) · im2col(X[g])`, with
//! the weights as the GEMM's A operand, pre-packed once by [`pack_conv_weights`] (packed-A layout,
//! ISA-independent, one block per group), and im2col written straight into packed-B panels block by
//! block inside the GEMM's cache blocking (never materialised whole). A 1×1, stride-1, unpadded
//! convolution reads X directly as a strided B. Bias (per output channel), residual (same shape as
//! Y) and activation are fused in the GEMM store: `Y = act(conv(X) + bias + residual)`.
//! 1-D convolutions map onto this with `in_h = kernel_h = 1`.

use crate::error::{bad_shape, check_len, Result};
use crate::gemm::pack_a_block;
use crate::gemm::{
    gemm_unchecked, packed_a_len, ASrc, Activation, BSrc, Bias, Epilogue, MatRef, PackB, B_PANEL,
};
use crate::Isa;

/// Shape and attributes of a 2-D convolution (ONNX `Conv` with resolved pads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Conv2dParams {
    pub batch: usize,
    pub in_channels: usize,
    pub in_h: usize,
    pub in_w: usize,
    pub out_channels: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride_h: usize,
    pub stride_w: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub pad_bottom: usize,
    pub pad_right: usize,
    pub dilation_h: usize,
    pub dilation_w: usize,
    pub groups: usize,
}

impl Conv2dParams {
    /// Builds the parameters from the fields of a conv plan step: input `[n, c_in, h, w]`, `c_out`,
    /// `[kh, kw]`, `[sh, sw]`, pads `[top, left, bottom, right]`, `[dh, dw]` and the group count.
    /// Callers still [`validate`](Self::validate) the result.
    pub fn from_step_fields(
        input: [u64; 4],
        out_channels: u64,
        kernel: [u64; 2],
        strides: [u64; 2],
        pads: [u64; 4],
        dilations: [u64; 2],
        groups: u64,
    ) -> Conv2dParams {
        let u = |v: u64| v as usize;
        Conv2dParams {
            batch: u(input[0]),
            in_channels: u(input[1]),
            in_h: u(input[2]),
            in_w: u(input[3]),
            out_channels: u(out_channels),
            kernel_h: u(kernel[0]),
            kernel_w: u(kernel[1]),
            stride_h: u(strides[0]),
            stride_w: u(strides[1]),
            pad_top: u(pads[0]),
            pad_left: u(pads[1]),
            pad_bottom: u(pads[2]),
            pad_right: u(pads[3]),
            dilation_h: u(dilations[0]),
            dilation_w: u(dilations[1]),
            groups: u(groups),
        }
    }

    /// Checks the attributes: non-zero strides/dilations/kernel/groups, channels divisible by
    /// groups, and a window that fits the padded input.
    pub fn validate(&self) -> Result<()> {
        let p = self;
        if p.stride_h == 0 || p.stride_w == 0 || p.dilation_h == 0 || p.dilation_w == 0 {
            return Err(bad_shape("conv", "strides and dilations must be ≥ 1"));
        }
        if p.kernel_h == 0 || p.kernel_w == 0 || p.groups == 0 {
            return Err(bad_shape("conv", "kernel size and groups must be ≥ 1"));
        }
        if !p.in_channels.is_multiple_of(p.groups) || !p.out_channels.is_multiple_of(p.groups) {
            return Err(bad_shape(
                "conv",
                format!(
                    "channels in {} / out {} not divisible by groups {}",
                    p.in_channels, p.out_channels, p.groups
                ),
            ));
        }
        let eff_h = p.dilation_h * (p.kernel_h - 1) + 1;
        let eff_w = p.dilation_w * (p.kernel_w - 1) + 1;
        if p.in_h + p.pad_top + p.pad_bottom < eff_h || p.in_w + p.pad_left + p.pad_right < eff_w {
            return Err(bad_shape(
                "conv",
                format!("dilated kernel {eff_h}×{eff_w} exceeds the padded input"),
            ));
        }
        Ok(())
    }
    /// Output height (call [`Conv2dParams::validate`] first).
    pub fn out_h(&self) -> usize {
        (self.in_h + self.pad_top + self.pad_bottom - self.dilation_h * (self.kernel_h - 1) - 1)
            / self.stride_h
            + 1
    }
    /// Output width (call [`Conv2dParams::validate`] first).
    pub fn out_w(&self) -> usize {
        (self.in_w + self.pad_left + self.pad_right - self.dilation_w * (self.kernel_w - 1) - 1)
            / self.stride_w
            + 1
    }
    /// GEMM depth per group: `in_channels/groups · kernel_h · kernel_w`.
    pub fn k_per_group(&self) -> usize {
        self.in_channels / self.groups * self.kernel_h * self.kernel_w
    }
    fn is_pointwise(&self) -> bool {
        self.kernel_h == 1
            && self.kernel_w == 1
            && self.stride_h == 1
            && self.stride_w == 1
            && self.pad_top + self.pad_left + self.pad_bottom + self.pad_right == 0
    }
}

/// Length in floats of the packed weights for `p`.
pub fn packed_conv_weights_len(p: &Conv2dParams) -> usize {
    p.groups * packed_a_len(p.out_channels / p.groups.max(1), p.k_per_group())
}

/// Packs ONNX conv weights `[out_channels, in_channels/groups, kernel_h, kernel_w]` into the layout
/// [`conv2d`] reads: for each group, the `cout_g × k_g` block in packed-A layout
/// ([`crate::gemm::pack_a`]), groups back to back.
pub fn pack_conv_weights(p: &Conv2dParams, w: &[f32], out: &mut [f32]) -> Result<()> {
    p.validate()?;
    let (cout_g, k_g) = (p.out_channels / p.groups, p.k_per_group());
    check_len("conv weights", w.len(), p.out_channels * k_g)?;
    check_len("packed conv weights", out.len(), packed_conv_weights_len(p))?;
    let per = packed_a_len(cout_g, k_g);
    for g in 0..p.groups {
        let mat = MatRef::row_major(&w[g * cout_g * k_g..], k_g);
        pack_a_block(&mat, 0, cout_g, 0, k_g, &mut out[g * per..(g + 1) * per]);
    }
    Ok(())
}

/// `y = act(conv(x, w) + bias + residual)` for NCHW `x: [batch, in_channels, in_h, in_w]`,
/// `y: [batch, out_channels, out_h, out_w]`; `packed_w` from [`pack_conv_weights`]; `bias` has
/// `out_channels` entries; `residual` has the shape of `y` and may not alias it.
#[allow(clippy::too_many_arguments)]
pub fn conv2d(
    isa: Isa,
    p: &Conv2dParams,
    x: &[f32],
    packed_w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    activation: Activation,
    y: &mut [f32],
) -> Result<()> {
    p.validate()?;
    let (oh, ow) = (p.out_h(), p.out_w());
    let (cin_g, cout_g, k_g) = (
        p.in_channels / p.groups,
        p.out_channels / p.groups,
        p.k_per_group(),
    );
    let (in_plane, out_plane) = (p.in_h * p.in_w, oh * ow);
    check_len("conv input", x.len(), p.batch * p.in_channels * in_plane)?;
    check_len(
        "packed conv weights",
        packed_w.len(),
        packed_conv_weights_len(p),
    )?;
    let y_len = p.batch * p.out_channels * out_plane;
    check_len("conv output", y.len(), y_len)?;
    if let Some(b) = bias {
        check_len("conv bias", b.len(), p.out_channels)?;
    }
    if let Some(r) = residual {
        check_len("conv residual", r.len(), y_len)?;
    }
    let w_per = packed_a_len(cout_g, k_g);
    for img in 0..p.batch {
        for g in 0..p.groups {
            let x_off = (img * p.in_channels + g * cin_g) * in_plane;
            let y_off = (img * p.out_channels + g * cout_g) * out_plane;
            let xs = &x[x_off..x_off + cin_g * in_plane];
            let im2col = Im2col { x: xs, p, ow };
            let strided = MatRef::row_major(xs, in_plane);
            let b_src = if p.is_pointwise() {
                BSrc::Strided(strided)
            } else {
                BSrc::Custom(&im2col)
            };
            let epi = Epilogue {
                bias: bias.map(|b| Bias::PerRow(&b[g * cout_g..])),
                residual: residual.map(|r| (&r[y_off..], out_plane)),
                activation,
                ..Epilogue::none()
            };
            gemm_unchecked(
                isa,
                cout_g,
                out_plane,
                k_g,
                ASrc::Packed(&packed_w[g * w_per..]),
                b_src,
                &mut y[y_off..y_off + cout_g * out_plane],
                out_plane,
                &epi,
            );
        }
    }
    Ok(())
}

/// im2col of one image and group, produced block by block in packed-B layout.
/// Row `kk = (ci, ky, kx)` and column `j = (oy, ox)` of B hold
/// `x[ci, oy·sh − pt + ky·dh, ox·sw − pl + kx·dw]`, or 0 in the padding.
struct Im2col<'a> {
    x: &'a [f32],
    p: &'a Conv2dParams,
    ow: usize,
}

impl PackB for Im2col<'_> {
    fn pack(&self, k0: usize, kc: usize, j0: usize, nc: usize, out: &mut [f32]) {
        if kc == 0 {
            return;
        }
        let p = self.p;
        let (h, w) = (p.in_h as isize, p.in_w as isize);
        let khw = p.kernel_h * p.kernel_w;
        let panels = nc.div_ceil(B_PANEL);
        for (pi, panel) in out[..panels * kc * B_PANEL]
            .chunks_exact_mut(kc * B_PANEL)
            .enumerate()
        {
            let jb = j0 + pi * B_PANEL;
            let width = (nc - pi * B_PANEL).min(B_PANEL);
            // Top-left input coordinate of each column's window.
            let mut base_y = [0isize; B_PANEL];
            let mut base_x = [0isize; B_PANEL];
            for jj in 0..width {
                let j = jb + jj;
                base_y[jj] = ((j / self.ow) * p.stride_h) as isize - p.pad_top as isize;
                base_x[jj] = ((j % self.ow) * p.stride_w) as isize - p.pad_left as isize;
            }
            let same_row = width == B_PANEL && base_y[0] == base_y[B_PANEL - 1] && p.stride_w == 1;
            for (kk, dst) in panel.chunks_exact_mut(B_PANEL).enumerate() {
                let kidx = k0 + kk;
                let ci = kidx / khw;
                let ky = ((kidx / p.kernel_w) % p.kernel_h * p.dilation_h) as isize;
                let kx = (kidx % p.kernel_w * p.dilation_w) as isize;
                let plane = &self.x[ci * p.in_plane()..(ci + 1) * p.in_plane()];
                if same_row {
                    let iy = base_y[0] + ky;
                    let ix0 = base_x[0] + kx;
                    if iy >= 0 && iy < h && ix0 >= 0 && ix0 + B_PANEL as isize <= w {
                        let s = (iy * w + ix0) as usize;
                        dst.copy_from_slice(&plane[s..s + B_PANEL]);
                        continue;
                    }
                }
                for jj in 0..B_PANEL {
                    let iy = base_y[jj] + ky;
                    let ix = base_x[jj] + kx;
                    dst[jj] = if jj < width && iy >= 0 && iy < h && ix >= 0 && ix < w {
                        plane[(iy * w + ix) as usize]
                    } else {
                        0.0
                    };
                }
            }
        }
    }
}

impl Conv2dParams {
    fn in_plane(&self) -> usize {
        self.in_h * self.in_w
    }
}

#[cfg(test)]
mod tests;
