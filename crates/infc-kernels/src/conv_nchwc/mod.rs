//! NCHWc ("blocked") convolution: activations stored as `[N][C/c][H][W][c]` with `c` = the block
//! (16 for AVX-512 targets, 8 for AVX2; any path runs any block), channels padded with zeros up to
//! a multiple of `c`.
//!
//! * [`conv2d_nchwc`]: direct convolution. Register tile = up to two output-channel blocks × a row
//!   of output pixels (AVX-512 c=16: 2 × 12 `zmm` accumulators; AVX2: c=16 as two `ymm` × 6 pixels,
//!   or c=8 × 2 blocks × 6 pixels; portable: 8-lane arrays × 4 pixels). Each step of the reduction
//!   loads the weight vectors of one input channel once and broadcasts one input value per pixel.
//!   Windows that cut the padding are handled per edge pixel with a clipped tap range; a 1×1
//!   stride-1 unpadded conv runs over the whole plane as one row. Bias, residual (blocked like the
//!   output) and ReLU are applied in the store. The input may be blocked, or plain NCHW
//!   ([`NchwcConvParams::input_blocked`] false: the ResNet stem with 3 input channels reads the
//!   image directly and writes a blocked output, so no channel padding is wasted).
//! * Weights are packed at compile time by [`pack_nchwc_weights`] as
//!   `[C_out/c][C_in/c][kh][kw][c_in][c_out]` (plain input: one input "block" of all `C_in`).
//! * [`to_blocked`] / [`from_blocked`]: the reorders at the ends of a blocked region.
//! * [`max_pool2d_nchwc`]: max pooling directly on the blocked layout.
//!
//! Invariant kept by every kernel here: padding lanes (channels ≥ C of the last block) are zero on
//! output, given zero padding lanes on input (weights and bias are zero-padded).

mod direct;
mod lanes;
mod pack;
mod pool;
mod reorder;

pub use pack::{pack_nchwc_weights, packed_nchwc_weights_len};
pub use pool::max_pool2d_nchwc;
pub use reorder::{from_blocked, to_blocked};

use crate::conv::Conv2dParams;
use crate::error::{bad_shape, check_len, Result};
use crate::Isa;

/// Block sizes the kernels support.
pub const NCHWC_BLOCKS: [usize; 2] = [8, 16];

/// Floats of a blocked tensor `[batch][ceil(channels/block)][plane][block]`.
pub fn blocked_len(batch: usize, channels: usize, plane: usize, block: usize) -> usize {
    batch * channels.div_ceil(block.max(1)) * plane * block
}

/// A 2-D convolution on blocked activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NchwcConvParams {
    /// Shape and attributes (`groups` must be 1).
    pub conv: Conv2dParams,
    /// Channel block `c` of the blocked tensors (8 or 16).
    pub block: usize,
    /// The input is blocked (`[N][C_in/c][H][W][c]`); otherwise plain NCHW.
    pub input_blocked: bool,
}

impl NchwcConvParams {
    /// Checks the conv attributes, `groups == 1` and the block size.
    pub fn validate(&self) -> Result<()> {
        self.conv.validate()?;
        if self.conv.groups != 1 {
            return Err(bad_shape(
                "nchwc conv",
                format!("groups {} (only 1 is supported)", self.conv.groups),
            ));
        }
        if !NCHWC_BLOCKS.contains(&self.block) {
            return Err(bad_shape(
                "nchwc conv",
                format!("block {} (supported: 8, 16)", self.block),
            ));
        }
        Ok(())
    }
    /// Input channel blocks of the packed weights (1 for a plain input).
    pub fn in_blocks(&self) -> usize {
        if self.input_blocked {
            self.conv.in_channels.div_ceil(self.block)
        } else {
            1
        }
    }
    /// Input channels per input block (`block`, or `in_channels` for a plain input).
    pub fn in_lanes(&self) -> usize {
        if self.input_blocked {
            self.block
        } else {
            self.conv.in_channels
        }
    }
    /// Output channel blocks.
    pub fn out_blocks(&self) -> usize {
        self.conv.out_channels.div_ceil(self.block)
    }
    /// Floats of the input tensor.
    pub fn input_len(&self) -> usize {
        let c = &self.conv;
        c.batch * self.in_blocks() * self.in_lanes() * c.in_h * c.in_w
    }
    /// Floats of the (blocked) output tensor.
    pub fn output_len(&self) -> usize {
        let c = &self.conv;
        blocked_len(c.batch, c.out_channels, c.out_h() * c.out_w(), self.block)
    }
    /// Multiply-accumulates of the real (unpadded) convolution, times two.
    pub fn flops(&self) -> f64 {
        let c = &self.conv;
        2.0 * (c.batch * c.out_channels * c.out_h() * c.out_w() * c.k_per_group()) as f64
    }
}

/// `y = act(conv(x, w) + bias + residual)` on blocked tensors. `packed_w` from
/// [`pack_nchwc_weights`]; `bias` has `out_channels` entries; `residual` is blocked like `y` and
/// may not alias it; `relu` applies ReLU last.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_nchwc(
    isa: Isa,
    p: &NchwcConvParams,
    x: &[f32],
    packed_w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) -> Result<()> {
    p.validate()?;
    check_len("nchwc conv input", x.len(), p.input_len())?;
    check_len(
        "nchwc packed weights",
        packed_w.len(),
        packed_nchwc_weights_len(p),
    )?;
    check_len("nchwc conv output", y.len(), p.output_len())?;
    if let Some(b) = bias {
        check_len("nchwc conv bias", b.len(), p.conv.out_channels)?;
    }
    if let Some(r) = residual {
        check_len("nchwc conv residual", r.len(), p.output_len())?;
    }
    direct::run(isa, p, x, packed_w, bias, residual, relu, y);
    Ok(())
}

#[cfg(test)]
mod tests;
