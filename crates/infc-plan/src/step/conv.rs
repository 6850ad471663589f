//! NCHW convolution and pooling steps: f32 conv (im2col + packed GEMM), max/average pooling,
//! global average pooling and the dynamically quantized conv. Each kind's fields, encoding,
//! kernel-owned sizes and descriptor table.

use super::{packed_b8_bytes, quant_a_bytes, Activation, PackedRef, PoolKind};
use crate::describe::{
    conv_weights, count, group_divides, need, packed_len, sized, Describe, Tensors,
};
use crate::types::{DType, Region, TensorRef};
use crate::window::Window2d;
use crate::wire::wire_struct;

/// 2-D NCHW convolution (1-D convs run with `h = kh = 1`). Weights are prepacked for the conv
/// kernel (`infc_kernels::pack_conv_weights`: packed-A blocks per group).
#[derive(Clone, Debug, PartialEq)]
pub struct ConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub group: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    /// Added before the activation: a tensor shaped like `y` (a skip connection).
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
}
wire_struct!(ConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    group,
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

/// 2-D NCHW max/average pooling.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolStep {
    pub kind: PoolKind,
    pub n: u64,
    pub c: u64,
    pub h: u64,
    pub w: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(PoolStep {
    kind,
    n,
    c,
    h,
    w,
    window,
    oh,
    ow,
    x,
    y
});

/// Mean over the `hw` trailing elements of each of `nc` rows.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalAvgPoolStep {
    pub nc: u64,
    pub hw: u64,
    pub x: TensorRef,
    pub y: TensorRef,
}
wire_struct!(GlobalAvgPoolStep { nc, hw, x, y });

/// Dynamically quantized 2-D NCHW convolution (geometry as [`ConvStep`]): the input is quantized
/// to u8 with one scale for the whole tensor, copied to NHWC, unfolded (im2col with rows ordered
/// `(ky, kx, channel)`, padding = the zero point) and multiplied per group by s8 weights (`group`
/// consecutive `infc_kernels::int8::packed_b8_bytes(kh·kw·c_in/group, c_out/group)` blocks whose
/// reduction index is `(ky·kw + kx)·c_in/group + channel`, [`QuantConvStep::weights_bytes`] in
/// all), then dequantized with bias, residual and activation into `y`. `scratch` layout: see
/// [`QuantConvStep::scratch_layout`].
#[derive(Clone, Debug, PartialEq)]
pub struct QuantConvStep {
    pub n: u64,
    pub c_in: u64,
    pub h: u64,
    pub w: u64,
    pub c_out: u64,
    pub group: u64,
    pub window: Window2d,
    pub oh: u64,
    pub ow: u64,
    pub x: TensorRef,
    pub weights: PackedRef,
    pub bias: Option<TensorRef>,
    pub residual: Option<TensorRef>,
    pub act: Activation,
    pub y: TensorRef,
    pub scratch: TensorRef,
}
wire_struct!(QuantConvStep {
    n,
    c_in,
    h,
    w,
    c_out,
    group,
    window,
    oh,
    ow,
    x,
    weights,
    bias,
    residual,
    act,
    y,
    scratch
});

/// Byte offsets inside a [`QuantConvStep`]'s scratch, each 64-byte aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuantConvScratch {
    /// The whole input quantized to u8, NCHW (`n·c_in·h·w` bytes).
    pub xq: u64,
    /// The same bytes NHWC with each pixel's channels padded to `round_up(c_in, 4)`.
    pub xt: u64,
    /// One group's unfolded input for one image: `oh·ow` rows of `round_up(kh·kw·c_in/group, 4)`
    /// u8, each row ordered `(ky, kx, channel)`.
    pub cols: u64,
    /// One group's product for one image, `oh·ow × c_out/group` f32 (pixel-major, transposed
    /// into `y`).
    pub tmp: u64,
    /// Total bytes.
    pub bytes: u64,
}

impl QuantConvStep {
    /// Reduction length and output channels of one group (`None` on a zero group).
    pub fn group_dims(&self) -> Option<(u64, u64)> {
        let cig = self.c_in.checked_div(self.group)?;
        let cog = self.c_out.checked_div(self.group)?;
        Some((
            cig.checked_mul(self.window.kernel[0])?
                .checked_mul(self.window.kernel[1])?,
            cog,
        ))
    }

    /// Bytes of the packed weights: `group` blocks of `packed_b8_bytes(kg, cog)` ([`group_dims`]);
    /// `None` on overflow.
    ///
    /// [`group_dims`]: QuantConvStep::group_dims
    pub fn weights_bytes(&self) -> Option<u64> {
        let (kg, cog) = self.group_dims()?;
        packed_b8_bytes(kg, cog)?.checked_mul(self.group)
    }

    /// Where the parts of the scratch live (`None` when a size overflows).
    pub fn scratch_layout(&self) -> Option<QuantConvScratch> {
        let up = |x: u64| x.checked_next_multiple_of(64);
        let (kg, cog) = self.group_dims()?;
        let pixels = self.oh.checked_mul(self.ow)?;
        let images = self.n.checked_mul(self.h)?.checked_mul(self.w)?;
        let xq_len = images.checked_mul(self.c_in)?;
        let xt = up(xq_len)?;
        let cols = xt.checked_add(up(quant_a_bytes(images, self.c_in)?)?)?;
        let tmp = cols.checked_add(up(quant_a_bytes(pixels, kg)?)?)?;
        let bytes = tmp.checked_add(pixels.checked_mul(cog)?.checked_mul(4)?)?;
        Some(QuantConvScratch {
            xq: 0,
            xt,
            cols,
            tmp,
            bytes,
        })
    }
}

impl Describe for ConvStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        let s = self;
        group_divides(s.group, s.c_in, s.c_out)?;
        s.window.check("conv", [s.h, s.w], [s.oh, s.ow], true)?;
        t.read("x", s.x, F32, count("input", &[s.n, s.c_in, s.h, s.w])?);
        conv_weights(s.c_in / s.group, s.c_out, s.window.kernel, [s.oh, s.ow])?;
        t.packed("weights", s.weights);
        t.read_opt("bias", s.bias, F32, s.c_out);
        let yn = count("output", &[s.n, s.c_out, s.oh, s.ow])?;
        t.read_opt("residual", s.residual, F32, yn);
        t.write("y", s.y, F32, yn);
        Ok(())
    }
}

impl Describe for PoolStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        let s = self;
        s.window.check("pool", [s.h, s.w], [s.oh, s.ow], false)?;
        t.read("x", s.x, DType::F32, count("input", &[s.n, s.c, s.h, s.w])?);
        t.write(
            "y",
            s.y,
            DType::F32,
            count("output", &[s.n, s.c, s.oh, s.ow])?,
        );
        Ok(())
    }
}

impl Describe for GlobalAvgPoolStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        t.read(
            "x",
            self.x,
            DType::F32,
            count("input", &[self.nc, self.hw])?,
        );
        t.write("y", self.y, DType::F32, self.nc);
        Ok(())
    }
}

impl Describe for QuantConvStep {
    fn describe(&self, t: &mut Tensors) -> Result<(), String> {
        use DType::F32;
        let s = self;
        group_divides(s.group, s.c_in, s.c_out)?;
        s.window.check("conv", [s.h, s.w], [s.oh, s.ow], true)?;
        t.read("x", s.x, F32, count("input", &[s.n, s.c_in, s.h, s.w])?);
        conv_weights(s.c_in / s.group, s.c_out, s.window.kernel, [s.oh, s.ow])?;
        let wb = sized(s.weights_bytes(), "quantized weights")?;
        packed_len("quantized weights", s.weights.bytes, wb)?;
        t.packed("weights", s.weights);
        t.read_opt("bias", s.bias, F32, s.c_out);
        let yn = count("output", &[s.n, s.c_out, s.oh, s.ow])?;
        t.read_opt("residual", s.residual, F32, yn);
        t.write("y", s.y, F32, yn);
        let layout = sized(s.scratch_layout(), "scratch")?;
        need(
            s.scratch.region == Region::Arena && s.scratch.offset.is_multiple_of(64),
            || "scratch must be 64-byte aligned in the arena".into(),
        )?;
        t.write("scratch", s.scratch, DType::U8, layout.bytes);
        Ok(())
    }
}
