//! Channel-blocked (NCHWc) steps: direct f32 conv, dynamically quantized conv, layout reorder and
//! max pooling. Each kind's fields, encoding, kernel-owned sizes and descriptor table.

use super::{int8, psize, Activation, PackedRef};
use crate::describe::{
    blocked_channels, conv_weights, count, need, packed_len, sized, Describe, Tensors,
};
use crate::types::{DType, Region, TensorRef};
use crate::window::Window2d;
use crate::wire::wire_struct;

/// Direct 2-D convolution on channel-blocked activations (`infc_kernels::conv2d_nchwc`): x is
/// `[n][c_in/block][h][w][block]` (or plain NCHW when `!input_blocked`), y and residual are
/// `[n][c_out/block][oh][ow][block]` (channel counts rounded up to the block), group 1. Weights are
/// prepacked by `infc_kernels::pack_nchwc_weights`; `act` is `None` or `Relu`.
#[derive(Clone, Debug, PartialEq)]
pub struct NchwcConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub block: u64,
    pub input_blocked: bool,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
}
wire_struct!(NchwcConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    block,
    input_blocked,
    window,
    oh,
    ow,
    x,
    weights,
    bias,
    residual,
    act,
    y
});

/// Dynamically quantized direct 2-D convolution on channel-blocked activations
/// (`infc_kernels::int8::qconv_nchwc`), group 1, block 16: x is `[n][c_in/16][h][w][16]` f32 (or
/// plain NCHW with `c_in ≤ 16` when `!input_blocked`), y and residual `[n][c_out/16][oh][ow][16]`.
/// The step quantizes x per tensor to u8 into `scratch` (the zero-point-padded buffer of
/// [`QuantNchwcConvStep::scratch_bytes`]), multiplies by the s8 weights packed at compile time
/// (`weights`: [`QuantNchwcConvStep::weights_bytes`] bytes `[s8 | i32 sums | f32 scales | f32
/// bias]`, bias folded in) and writes `act(deq(acc) + bias + residual)` with `act` none or ReLU.
#[derive(Clone, Debug, PartialEq)]
pub struct QuantNchwcConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub input_blocked: bool,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
    pub scratch: TensorRef,
}
wire_struct!(QuantNchwcConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    input_blocked,
    window,
    oh,
    ow,
    x,
    weights,
    residual,
    act,
    y,
    scratch
});

impl QuantNchwcConvStep {
    /// Channel block of the blocked tensors (`infc_kernels::int8::QCONV_BLOCK`).
    pub const BLOCK: u64 = int8::QCONV_BLOCK as u64;

    /// The kernel's parameters (`None` when a dim exceeds `usize`), whose size functions give
    /// the step's scratch and weight sizes. Not validated.
    pub fn kernel_params(&self) -> Option<int8::QConvNchwcParams> {
        let input = [self.n, self.c_in, self.h, self.w];
        Some(int8::QConvNchwcParams {
            conv: self.window.conv2d_params(input, self.c_out, 1)?,
            input_blocked: self.input_blocked,
        })
    }

    /// Bytes of the zero-point-padded u8 input `[n][in_blocks][h+pt+pb][w+pl+pr][lanes]`
    /// (`QConvNchwcParams::quant_input_len`); `None` on overflow.
    pub fn scratch_bytes(&self) -> Option<u64> {
        psize(self.kernel_params()?.quant_input_len()?)
    }

    /// Bytes of the packed weights: `c_out/16` blocks of `in_blocks·kh·kw·lanes·16` s8, then
    /// `round_up(c_out, 16)` i32 sums, f32 scales and f32 bias (`QConvNchwcParams::packed_bytes`);
    /// `None` on overflow.
    pub fn weights_bytes(&self) -> Option<u64> {
        psize(self.kernel_params()?.packed_bytes()?)
    }
}

/// Layout conversion between plain `[n][c][hw]` and blocked `[n][c/block][hw][block]`
/// (`to_blocked` says which way; padding channels are written as zero).
#[derive(Clone, Debug, PartialEq)]
pub struct ReorderStep {
    pub to_blocked: bool,
    pub n: u64,
    pub c: u64,
    pub hw: u64,
    pub block: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(ReorderStep {
    to_blocked,
    n,
    c,
    hw,
    block,
    x,
    y
});

/// 2-D max pooling of a blocked `[n][c/block][h][w][block]` tensor (ceil mode is implied by the
/// output size).
#[derive(Clone, Debug, PartialEq)]
pub struct NchwcMaxPoolStep {
    pub n: u64,
    pub c: u64,
    pub h: u64,
    pub w: u64,
    pub block: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(NchwcMaxPoolStep {
    n,
    c,
    h,
    w,
    block,
    window,
    oh,
    ow,
    x,
    y
});

/// A channel block the NCHWc kernels have.
fn nchwc_block(block: u64) -> Result<(), String> {
    need(block == 8 || block == 16, || {
        format!("block {block} is not 8 or 16")
    })
}

/// The fused activation of an NCHWc conv: none or ReLU.
fn none_or_relu(act: Activation) -> Result<(), String> {
    need(matches!(act, Activation::None | Activation::Relu), || {
        format!("activation {act:?} (only none or relu)")
    })
}

impl Describe for NchwcConvStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        let s = self;
        nchwc_block(s.block)?;
        none_or_relu(s.act)?;
        s.window.check("conv", [s.h, s.w], [s.oh, s.ow], true)?;
        let c_in = if s.input_blocked {
            blocked_channels(s.c_in, s.block)?
        } else {
            s.c_in
        };
        t.read("x", s.x, F32, count("input", &[s.n, c_in, s.h, s.w])?);
        conv_weights(c_in, s.c_out, s.window.kernel, [s.oh, s.ow])?;
        t.packed("weights", s.weights);
        t.read_opt("bias", s.bias, F32, s.c_out);
        let c_out = blocked_channels(s.c_out, s.block)?;
        let yn = count("output", &[s.n, c_out, s.oh, s.ow])?;
        t.read_opt("residual", s.residual, F32, yn);
        t.write("y", s.y, F32, yn);
        Ok(())
    }
}

impl Describe for QuantNchwcConvStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        let s = self;
        let block = Self::BLOCK;
        none_or_relu(s.act)?;
        need(s.c_in >= 1 && s.c_out >= 1, || "zero channels".into())?;
        need(s.input_blocked || s.c_in <= block, || {
            format!("plain input with {} channels (at most {block})", s.c_in)
        })?;
        s.window.check("conv", [s.h, s.w], [s.oh, s.ow], true)?;
        let c_in = if s.input_blocked {
            blocked_channels(s.c_in, block)?
        } else {
            s.c_in
        };
        t.read("x", s.x, F32, count("input", &[s.n, c_in, s.h, s.w])?);
        let p = s.kernel_params().ok_or("a dim exceeds the address space")?;
        let lanes = [p.in_blocks() as u64, p.lanes() as u64];
        let in_lanes = count("input lanes", &lanes)?;
        conv_weights(in_lanes, s.c_out, s.window.kernel, [s.oh, s.ow])?;
        let padded = sized(s.window.padded([s.h, s.w]), "padding")?;
        count(
            "padded input",
            &[s.n, lanes[0], lanes[1], padded[0], padded[1]],
        )?;
        let wb = sized(s.weights_bytes(), "quantized weights")?;
        packed_len("quantized weights", s.weights.bytes, wb)?;
        t.packed("weights", s.weights);
        let yn = count(
            "output",
            &[s.n, blocked_channels(s.c_out, block)?, s.oh, s.ow],
        )?;
        t.read_opt("residual", s.residual, F32, yn);
        t.write("y", s.y, F32, yn);
        let sb = sized(s.scratch_bytes(), "scratch")?;
        need(s.scratch.region == Region::Arena, || {
            "scratch must live in the arena".into()
        })?;
        t.write("scratch", s.scratch, DType::U8, sb);
        Ok(())
    }
}

impl Describe for ReorderStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        nchwc_block(self.block)?;
        let plain = count("plain tensor", &[self.n, self.c, self.hw])?;
        let cb = blocked_channels(self.c, self.block)?;
        let blocked = count("blocked tensor", &[self.n, cb, self.hw])?;
        let (xn, yn) = if self.to_blocked {
            (plain, blocked)
        } else {
            (blocked, plain)
        };
        t.read("x", self.x, DType::F32, xn);
        t.write("y", self.y, DType::F32, yn);
        Ok(())
    }
}

impl Describe for NchwcMaxPoolStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let s = self;
        nchwc_block(s.block)?;
        s.window.check("pool", [s.h, s.w], [s.oh, s.ow], false)?;
        let cb = blocked_channels(s.c, s.block)?;
        t.read("x", s.x, DType::F32, count("input", &[s.n, cb, s.h, s.w])?);
        t.write(
            "y",
            s.y,
            DType::F32,
            count("output", &[s.n, cb, s.oh, s.ow])?,
        );
        Ok(())
    }
}
