//! INT8 direct convolution on channel-blocked activations (NCHW16c): the quantized counterpart of
//! `conv_nchwc`, so a `-O3 --int8` network stays blocked end to end.
//!
//! * **Input** ([`quantize_input_qconv`]): the f32 input (blocked `[N][C/16][H][W][16]`, or plain
//!   NCHW with at most 16 channels — the ResNet stem) is quantized per tensor to u8 (the
//!   `DynamicQuantizeLinear` rule of [`QParams`]) into a *padded* u8 buffer
//!   `[N][in_blocks][H+pt+pb][W+pl+pr][lanes]` whose border holds the zero point, i.e. exactly 0.0.
//!   So every output pixel is interior for the kernel (no clipped windows) and the zero-point
//!   compensation is one per-channel constant. `lanes` is 16 for a blocked input, `round_up(C, 4)`
//!   for a plain one (the lanes past C hold the zero point; their weights are 0).
//! * **Weights** ([`pack_qconv_nchwc`]): s8 symmetric per output channel (the rule of
//!   [`super::quantize_pack_b_s8`]), packed `[C_out/16][in_blocks][kh][kw][lanes/4][16 cout][4 cin]`
//!   — each 64-byte group is one `vpdpbusd` operand — plus per-channel i32 weight sums, f32 scales
//!   and f32 bias, all padded with zeros to whole blocks.
//! * **Kernel** ([`qconv_nchwc`]): register tiles of up to `P` consecutive output pixels of one
//!   output row (a 1×1 stride-1 unpadded conv runs its whole plane as one row) × one or two output
//!   blocks; per 4 input lanes of a tap it loads the weight group of each block once and
//!   broadcasts the 4 input bytes of each pixel. Paths: AVX-512 VNNI (12 pixels × 2 blocks of
//!   `zmm`), AVX2 (widening to i16 + `vpmaddwd`, no `vpmaddubsw` saturation; 3 pixels × 1 block),
//!   portable. Accumulation is exact i32 (reduction ≤ [`K_MAX`]).
//! * **Epilogue** (every path performs the same f32 operations in the same order, so all paths
//!   agree bit for bit): `v = f32(acc − zp·Σw[co])·(sa·sw[co]) + bias[co]`, then `+ residual`
//!   (blocked like the output), then ReLU (`v > 0 ? v : 0`). Padding lanes of the last output
//!   block come out 0.

use super::isa::VectorCode;
use super::pack::GROUP_BYTES;
use super::quantize::{min_max, quantize_slice, RowSource};
use super::{quantize_pack_b_s8, Int8Isa, QParams, K_MAX};
use crate::conv::Conv2dParams;
use crate::error::{bad_shape, check_len, KernelError, Result};
use rayon::prelude::*;

/// Channel block of the blocked tensors this kernel reads and writes.
pub const QCONV_BLOCK: usize = 16;

fn overflow() -> KernelError {
    bad_shape("int8 nchwc conv", "a size overflows usize")
}

/// A quantized 2-D convolution on NCHW16c activations (group 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QConvNchwcParams {
    /// Shape and attributes (`groups` must be 1).
    pub conv: Conv2dParams,
    /// The input is blocked `[N][C/16][H][W][16]`; otherwise plain NCHW with `C ≤ 16`.
    pub input_blocked: bool,
}

impl QConvNchwcParams {
    /// Checks the attributes, group 1, the plain-input channel limit and the reduction length.
    pub fn validate(&self) -> Result<()> {
        let c = &self.conv;
        c.validate()?;
        if c.groups != 1 {
            return Err(bad_shape(
                "int8 nchwc conv",
                format!("groups {} (only 1)", c.groups),
            ));
        }
        if c.in_channels == 0 || c.out_channels == 0 {
            return Err(bad_shape("int8 nchwc conv", "zero channels"));
        }
        if !self.input_blocked && c.in_channels > QCONV_BLOCK {
            return Err(bad_shape(
                "int8 nchwc conv",
                format!(
                    "plain input with {} channels (at most {QCONV_BLOCK})",
                    c.in_channels
                ),
            ));
        }
        match self.reduction() {
            Some(r) if r <= K_MAX => Ok(()),
            r => Err(bad_shape(
                "int8 nchwc conv",
                format!(
                    "reduction {} exceeds K_MAX = {K_MAX}",
                    r.map_or("beyond usize".to_string(), |r| r.to_string())
                ),
            )),
        }
    }
    /// Bytes per pixel of one input block in the quantized buffer (16, or `round_up(c_in, 4)` for
    /// a plain input; `usize::MAX` when that overflows, so every size built on it overflows too).
    pub fn lanes(&self) -> usize {
        if self.input_blocked {
            QCONV_BLOCK
        } else {
            self.conv.in_channels.div_ceil(4).saturating_mul(4)
        }
    }
    /// Input channel blocks (1 for a plain input).
    pub fn in_blocks(&self) -> usize {
        if self.input_blocked {
            self.conv.in_channels.div_ceil(QCONV_BLOCK)
        } else {
            1
        }
    }
    /// Output channel blocks.
    pub fn out_blocks(&self) -> usize {
        self.conv.out_channels.div_ceil(QCONV_BLOCK)
    }
    /// Height and width of the padded quantized input; `None` on overflow.
    pub fn padded_hw(&self) -> Option<(usize, usize)> {
        let c = &self.conv;
        Some((
            c.in_h.checked_add(c.pad_top)?.checked_add(c.pad_bottom)?,
            c.in_w.checked_add(c.pad_left)?.checked_add(c.pad_right)?,
        ))
    }
    /// Reduction length including padding lanes (`in_blocks·kh·kw·lanes`); `None` on overflow
    /// (after [`QConvNchwcParams::validate`] it is at most [`K_MAX`]).
    pub fn reduction(&self) -> Option<usize> {
        self.in_blocks()
            .checked_mul(self.conv.kernel_h)?
            .checked_mul(self.conv.kernel_w)?
            .checked_mul(self.lanes())
    }
    /// Floats of the f32 input.
    pub fn input_len(&self) -> usize {
        let c = &self.conv;
        let channels = if self.input_blocked {
            self.in_blocks() * QCONV_BLOCK
        } else {
            c.in_channels
        };
        c.batch * channels * c.in_h * c.in_w
    }
    /// Bytes of the padded quantized input `[N][in_blocks][H+pt+pb][W+pl+pr][lanes]` (the arena
    /// scratch a plan's `QuantNchwcConv` step plans for it); `None` on overflow.
    pub fn quant_input_len(&self) -> Option<usize> {
        let (ph, pw) = self.padded_hw()?;
        self.conv
            .batch
            .checked_mul(self.in_blocks())?
            .checked_mul(ph)?
            .checked_mul(pw)?
            .checked_mul(self.lanes())
    }
    /// Floats of the blocked output (and residual).
    pub fn output_len(&self) -> usize {
        let c = &self.conv;
        c.batch * self.out_blocks() * c.out_h() * c.out_w() * QCONV_BLOCK
    }
    /// Bytes of packed s8 weights of one output block: a 64-byte group (4 lanes × 16 channels)
    /// per 4 of the reduction; `None` on overflow.
    pub fn weight_block_bytes(&self) -> Option<usize> {
        (self.reduction()? / 4).checked_mul(GROUP_BYTES)
    }
    /// Entries of each per-channel vector (sums, scales, bias): `out_blocks·16` (saturating).
    pub fn channel_len(&self) -> usize {
        self.out_blocks().saturating_mul(QCONV_BLOCK)
    }
    /// Bytes of the serialised packed weights `[s8 data | i32 sums | f32 scales | f32 bias]`
    /// (`out_blocks` blocks of `reduction·16` bytes, then 12 bytes per channel of
    /// [`QConvNchwcParams::channel_len`]); `None` on overflow.
    pub fn packed_bytes(&self) -> Option<usize> {
        let blocks = self.out_blocks();
        let data = blocks
            .checked_mul(self.reduction()?)?
            .checked_mul(GROUP_BYTES / 4)?;
        data.checked_add(blocks.checked_mul(QCONV_BLOCK * 12)?)
    }
}

/// Owned packed weights of one quantized blocked conv (layout in the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct PackedQConv {
    pub data: Vec<i8>,
    pub sums: Vec<i32>,
    pub scales: Vec<f32>,
    pub bias: Vec<f32>,
}

impl PackedQConv {
    /// Borrowed view for [`qconv_nchwc`].
    pub fn as_ref(&self) -> QConvWeights<'_> {
        QConvWeights {
            data: &self.data,
            sums: &self.sums,
            scales: &self.scales,
            bias: &self.bias,
        }
    }
    /// `[s8 data | i32 sums | f32 scales | f32 bias]`, little endian (the plan's constants).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + self.sums.len() * 12);
        out.extend(self.data.iter().map(|&v| v as u8));
        out.extend(self.sums.iter().flat_map(|v| v.to_le_bytes()));
        out.extend(self.scales.iter().flat_map(|v| v.to_le_bytes()));
        out.extend(self.bias.iter().flat_map(|v| v.to_le_bytes()));
        out
    }
}

/// Borrowed packed weights.
#[derive(Clone, Copy, Debug)]
pub struct QConvWeights<'a> {
    pub data: &'a [i8],
    pub sums: &'a [i32],
    pub scales: &'a [f32],
    pub bias: &'a [f32],
}

impl QConvWeights<'_> {
    /// Lengths for `p`.
    pub fn check_lengths(&self, p: &QConvNchwcParams) -> Result<()> {
        let data = p
            .weight_block_bytes()
            .and_then(|wb| wb.checked_mul(p.out_blocks()))
            .ok_or_else(|| bad_shape("int8 nchwc weights", "size overflows usize"))?;
        check_len("int8 nchwc weights", self.data.len(), data)?;
        check_len("int8 nchwc weight sums", self.sums.len(), p.channel_len())?;
        check_len(
            "int8 nchwc weight scales",
            self.scales.len(),
            p.channel_len(),
        )?;
        check_len("int8 nchwc bias", self.bias.len(), p.channel_len())
    }

    /// Full check (at plan load): lengths, and every channel's sum equals its packed weights' sum.
    pub fn validate(&self, p: &QConvNchwcParams) -> Result<()> {
        self.check_lengths(p)?;
        let wb = p.weight_block_bytes().ok_or_else(overflow)?;
        for ob in 0..p.out_blocks() {
            let mut sums = [0i32; QCONV_BLOCK];
            for group in self.data[ob * wb..(ob + 1) * wb].chunks_exact(GROUP_BYTES) {
                for (j, s) in sums.iter_mut().enumerate() {
                    *s += group[j * 4..j * 4 + 4]
                        .iter()
                        .map(|&v| v as i32)
                        .sum::<i32>();
                }
            }
            let stored = &self.sums[ob * QCONV_BLOCK..(ob + 1) * QCONV_BLOCK];
            if let Some(j) = (0..QCONV_BLOCK).find(|&j| stored[j] != sums[j]) {
                return Err(bad_shape(
                    "int8 nchwc weight sums",
                    format!(
                        "channel {} stores sum {} but its weights sum to {}",
                        ob * QCONV_BLOCK + j,
                        stored[j],
                        sums[j]
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Quantizes `w` (`[C_out][C_in][kh][kw]` f32) per output channel and packs it with `bias`
/// (`C_out` values, or none = zeros). Non-finite weights are refused.
pub fn pack_qconv_nchwc(
    p: &QConvNchwcParams,
    w: &[f32],
    bias: Option<&[f32]>,
) -> Result<PackedQConv> {
    p.validate()?;
    let c = &p.conv;
    let (kh, kw) = (c.kernel_h, c.kernel_w);
    let k = c.in_channels * kh * kw;
    check_len("int8 nchwc conv weights", w.len(), c.out_channels * k)?;
    if let Some(b) = bias {
        check_len("int8 nchwc conv bias", b.len(), c.out_channels)?;
    }
    // Row co of `w` is column co of B (k × C_out), so B is w transposed.
    let q = quantize_pack_b_s8(k, c.out_channels, w, k, true)?;
    let wb = p.weight_block_bytes().ok_or_else(overflow)?;
    let (lanes, ib_n) = (p.lanes(), p.in_blocks());
    let mut packed = PackedQConv {
        data: vec![0i8; p.out_blocks() * wb],
        sums: vec![0; p.channel_len()],
        scales: vec![0.0; p.channel_len()],
        bias: vec![0.0; p.channel_len()],
    };
    let mut at = 0;
    for ob in 0..p.out_blocks() {
        for ib in 0..ib_n {
            for ky in 0..kh {
                for kx in 0..kw {
                    for g in 0..lanes / 4 {
                        for j in 0..QCONV_BLOCK {
                            let co = ob * QCONV_BLOCK + j;
                            for t in 0..4 {
                                let ci = ib * lanes + 4 * g + t;
                                if co < c.out_channels && ci < c.in_channels {
                                    let kk = (ci * kh + ky) * kw + kx;
                                    let v = q.get(kk, co).unwrap_or(0);
                                    packed.data[at + j * 4 + t] = v;
                                    packed.sums[co] += v as i32;
                                }
                            }
                        }
                        at += GROUP_BYTES;
                    }
                }
            }
        }
    }
    packed.scales[..c.out_channels].copy_from_slice(&q.scales()[..c.out_channels]);
    if let Some(b) = bias {
        packed.bias[..c.out_channels].copy_from_slice(b);
    }
    Ok(packed)
}

/// Elements below which the input is quantized on the calling thread.
const PARALLEL_MIN_ELEMS: usize = 1 << 15;

/// Quantizes the f32 input into the padded u8 buffer `xq` (see the module docs) and returns the
/// per-tensor parameters. Every ISA path writes the same bytes.
pub fn quantize_input_qconv(
    isa: Int8Isa,
    p: &QConvNchwcParams,
    x: &[f32],
    xq: &mut [u8],
) -> Result<QParams> {
    p.validate()?;
    check_len("int8 nchwc conv input", x.len(), p.input_len())?;
    let xq_len = p.quant_input_len().ok_or_else(overflow)?;
    check_len("int8 nchwc quantized input", xq.len(), xq_len)?;
    let isa = isa.capped();
    let parallel = x.len() >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1;
    let merge = |a: (f32, f32), b: (f32, f32)| {
        (
            if b.0 < a.0 { b.0 } else { a.0 },
            if b.1 > a.1 { b.1 } else { a.1 },
        )
    };
    let (mn, mx) = if parallel {
        x.par_chunks(PARALLEL_MIN_ELEMS / 4)
            .map(|c| min_max(isa, RowSource::Plain(c)))
            .reduce(|| (0.0, 0.0), merge)
    } else {
        min_max(isa, RowSource::Plain(x))
    };
    let qp = QParams::from_range(mn, mx);
    let c = &p.conv;
    let (ph, pw) = p.padded_hw().ok_or_else(overflow)?;
    let lanes = p.lanes();
    let (h, w) = (c.in_h, c.in_w);
    let plane_q = ph * pw * lanes;
    let zp = qp.zero_point;
    let one_plane = |(idx, dst): (usize, &mut [u8])| {
        // Top and bottom border rows, then each interior row's left/right border.
        dst[..c.pad_top * pw * lanes].fill(zp);
        dst[(c.pad_top + h) * pw * lanes..].fill(zp);
        for iy in 0..h {
            let row = &mut dst[(c.pad_top + iy) * pw * lanes..(c.pad_top + iy + 1) * pw * lanes];
            row[..c.pad_left * lanes].fill(zp);
            row[(c.pad_left + w) * lanes..].fill(zp);
            let body = &mut row[c.pad_left * lanes..(c.pad_left + w) * lanes];
            if p.input_blocked {
                let src = &x[(idx * h + iy) * w * lanes..(idx * h + iy + 1) * w * lanes];
                quantize_slice(isa, src, body, qp);
            } else {
                interleave_plain_row(isa, x, c.in_channels, idx, h, w, iy, lanes, qp, body);
            }
        }
    };
    if parallel {
        xq.par_chunks_mut(plane_q).enumerate().for_each(one_plane);
    } else {
        xq.chunks_mut(plane_q).enumerate().for_each(one_plane);
    }
    Ok(qp)
}

/// Row `iy` of image `n` of a plain NCHW input, quantized and interleaved into `lanes` bytes per
/// pixel (lanes past the channels get the zero point).
#[allow(clippy::too_many_arguments)]
fn interleave_plain_row(
    isa: Int8Isa,
    x: &[f32],
    channels: usize,
    n: usize,
    h: usize,
    w: usize,
    iy: usize,
    lanes: usize,
    qp: QParams,
    body: &mut [u8],
) {
    const CHUNK: usize = 64;
    let mut tmp = [[0u8; CHUNK]; QCONV_BLOCK];
    for x0 in (0..w).step_by(CHUNK) {
        let len = CHUNK.min(w - x0);
        for (ch, t) in tmp.iter_mut().enumerate().take(channels) {
            let at = ((n * channels + ch) * h + iy) * w + x0;
            quantize_slice(isa, &x[at..at + len], &mut t[..len], qp);
        }
        for i in 0..len {
            let px = &mut body[(x0 + i) * lanes..(x0 + i + 1) * lanes];
            for (l, v) in px.iter_mut().enumerate() {
                *v = if l < channels {
                    tmp[l][i]
                } else {
                    qp.zero_point
                };
            }
        }
    }
}

/// One register tile: `pixels` consecutive output pixels of a row × `nb` output blocks.
/// Pointers are valid for everything the loops below address (the driver checked all lengths).
pub(super) struct QTile {
    /// Input byte of pixel 0, input block 0, tap (0, 0), lane 0.
    pub x: *const u8,
    /// Bytes between consecutive pixels' windows (`stride_w·lanes`).
    pub sx: usize,
    pub in_blocks: usize,
    /// Bytes per input block plane, per kernel row, per kernel column.
    pub s_ib: usize,
    pub kh: usize,
    pub s_ky: usize,
    pub kw: usize,
    pub s_kx: usize,
    /// 4-lane groups per tap (`lanes/4`).
    pub g4: usize,
    /// Packed weights of the first output block; the second is `w_ob` bytes further.
    pub w: *const i8,
    pub w_ob: usize,
    pub pixels: usize,
    pub nb: usize,
    pub zp: i32,
    pub sa: f32,
    /// Per-channel vectors at the first output block.
    pub sums: *const i32,
    pub scales: *const f32,
    pub bias: *const f32,
    /// Residual at the tile's first pixel and block (null: none); same layout as `y`.
    pub res: *const f32,
    pub y: *mut f32,
    /// Floats between output blocks (`oh·ow·16`).
    pub y_ob: usize,
    pub relu: bool,
}

/// The scalar epilogue every path reproduces operation for operation.
#[inline(always)]
pub(super) fn dequant_one(acc: i32, zp: i32, sum: i32, scale: f32, bias: f32) -> f32 {
    (acc.wrapping_sub(zp.wrapping_mul(sum))) as f32 * scale + bias
}

type TileFn = unsafe fn(&QTile);

/// `(max pixels, max blocks, tile selector)` of a path.
struct PathInfo {
    pmax: usize,
    nbmax: usize,
    select: fn(pixels: usize, nb: usize, sx: usize, g4: usize) -> TileFn,
}

fn path(isa: Int8Isa) -> PathInfo {
    match isa.vector_code() {
        #[cfg(target_arch = "x86_64")]
        VectorCode::Avx512 => PathInfo {
            pmax: 12,
            nbmax: 2,
            select: super::qconv_nchwc_vnni::select,
        },
        #[cfg(target_arch = "x86_64")]
        VectorCode::Avx2 => PathInfo {
            pmax: 3,
            nbmax: 1,
            select: super::qconv_nchwc_avx2::select,
        },
        _ => PathInfo {
            pmax: 4,
            nbmax: 2,
            select: |_, _, _, _| tile_portable,
        },
    }
}

/// # Safety
/// The [`QTile`] contract holds.
unsafe fn tile_portable(t: &QTile) {
    let mut acc = [[0i32; 2 * QCONV_BLOCK]; 12];
    let mut w = t.w;
    for ib in 0..t.in_blocks {
        for ky in 0..t.kh {
            for kx in 0..t.kw {
                let xt = t.x.wrapping_add(ib * t.s_ib + ky * t.s_ky + kx * t.s_kx);
                for g in 0..t.g4 {
                    for (p, row) in acc.iter_mut().enumerate().take(t.pixels) {
                        // SAFETY: 4 input bytes of pixel p at this tap and group.
                        let a = unsafe { std::slice::from_raw_parts(xt.add(p * t.sx + 4 * g), 4) };
                        for b in 0..t.nb {
                            // SAFETY: one 64-byte weight group of block b.
                            let wg = unsafe {
                                std::slice::from_raw_parts(w.add(b * t.w_ob), GROUP_BYTES)
                            };
                            for j in 0..QCONV_BLOCK {
                                let mut s = 0i32;
                                for (tt, &av) in a.iter().enumerate() {
                                    s += av as i32 * wg[j * 4 + tt] as i32;
                                }
                                row[b * QCONV_BLOCK + j] += s;
                            }
                        }
                    }
                    w = w.wrapping_add(GROUP_BYTES);
                }
            }
        }
    }
    for b in 0..t.nb {
        for (p, row) in acc.iter().enumerate().take(t.pixels) {
            for j in 0..QCONV_BLOCK {
                let c = b * QCONV_BLOCK + j;
                let at = b * t.y_ob + p * QCONV_BLOCK + j;
                // SAFETY: per-channel vectors cover the tile's blocks; `at` is inside the tile.
                unsafe {
                    let scale = t.sa * *t.scales.add(c);
                    let mut v = dequant_one(row[c], t.zp, *t.sums.add(c), scale, *t.bias.add(c));
                    if !t.res.is_null() {
                        v += *t.res.add(at);
                    }
                    if t.relu {
                        v = if v > 0.0 { v } else { 0.0 };
                    }
                    *t.y.add(at) = v;
                }
            }
        }
    }
}

/// The output (written by disjoint work items) and the optional residual (read only).
#[derive(Clone, Copy)]
struct Shared {
    y: *mut f32,
    res: *const f32,
}
// SAFETY: every work item writes a disjoint set of output elements; the residual is only read.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    /// `(y + off, residual + off or null)`.
    fn at(&self, off: usize) -> (*mut f32, *const f32) {
        let res = if self.res.is_null() {
            self.res
        } else {
            self.res.wrapping_add(off)
        };
        (self.y.wrapping_add(off), res)
    }
}

/// Tiles per work item (one work item = one image × ≤ 2 output blocks × a run of tiles of a row).
const TILES_PER_ITEM: usize = 4;

/// `y = act(deq(conv(xq, w)) + bias + residual)`: `xq` from [`quantize_input_qconv`] with
/// parameters `qp`, `w` from [`pack_qconv_nchwc`], `residual` blocked like `y` (may not alias it).
#[allow(clippy::too_many_arguments)]
pub fn qconv_nchwc(
    isa: Int8Isa,
    p: &QConvNchwcParams,
    xq: &[u8],
    qp: QParams,
    w: &QConvWeights<'_>,
    residual: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) -> Result<()> {
    p.validate()?;
    let xq_len = p.quant_input_len().ok_or_else(overflow)?;
    check_len("int8 nchwc quantized input", xq.len(), xq_len)?;
    w.check_lengths(p)?;
    check_len("int8 nchwc conv output", y.len(), p.output_len())?;
    if let Some(r) = residual {
        check_len("int8 nchwc conv residual", r.len(), p.output_len())?;
    }
    let info = path(isa.capped());
    let c = &p.conv;
    let (ph, pw) = p.padded_hw().ok_or_else(overflow)?;
    let lanes = p.lanes();
    let pointwise = c.kernel_h == 1
        && c.kernel_w == 1
        && c.stride_h == 1
        && c.stride_w == 1
        && c.pad_top + c.pad_left + c.pad_bottom + c.pad_right == 0;
    let (oh, ow) = (c.out_h(), c.out_w());
    // A pointwise conv's rows are contiguous: one row of oh·ow pixels.
    let (rows, row_len) = if pointwise { (1, oh * ow) } else { (oh, ow) };
    if rows * row_len == 0 {
        return Ok(());
    }
    let ntiles = row_len.div_ceil(info.pmax);
    let chunks = ntiles.div_ceil(TILES_PER_ITEM);
    let obs = p.out_blocks();
    let ob_groups = obs.div_ceil(info.nbmax);
    let items = c.batch * ob_groups * rows * chunks;
    let image_q = p.in_blocks() * ph * pw * lanes;
    let wb = p.weight_block_bytes().ok_or_else(overflow)?;
    let y_ob = oh * ow * QCONV_BLOCK;
    let shared = Shared {
        y: y.as_mut_ptr(),
        res: residual.map_or(std::ptr::null(), |r| r.as_ptr()),
    };
    let run_item = |item: usize| {
        let chunk = item % chunks;
        let row = item / chunks % rows;
        let og = item / chunks / rows % ob_groups;
        let n = item / chunks / rows / ob_groups;
        let ob0 = og * info.nbmax;
        let nb = info.nbmax.min(obs - ob0);
        let x_img = xq.as_ptr().wrapping_add(n * image_q);
        let y0 = (n * obs + ob0) * y_ob;
        for tile in chunk * TILES_PER_ITEM..((chunk + 1) * TILES_PER_ITEM).min(ntiles) {
            // Near-equal tiles: the first `row_len % ntiles` get one extra pixel.
            let (base, extra) = (row_len / ntiles, row_len % ntiles);
            let x0 = tile * base + tile.min(extra);
            let pixels = base + usize::from(tile < extra);
            let x_off = (row * c.stride_h * pw + x0 * c.stride_w) * lanes;
            let pix = (row * row_len + x0) * QCONV_BLOCK;
            let (yt, rt) = shared.at(y0 + pix);
            let t = QTile {
                x: x_img.wrapping_add(x_off),
                sx: c.stride_w * lanes,
                in_blocks: p.in_blocks(),
                s_ib: ph * pw * lanes,
                kh: c.kernel_h,
                s_ky: c.dilation_h * pw * lanes,
                kw: c.kernel_w,
                s_kx: c.dilation_w * lanes,
                g4: lanes / 4,
                w: w.data.as_ptr().wrapping_add(ob0 * wb),
                w_ob: wb,
                pixels,
                nb,
                zp: qp.zero_point as i32,
                sa: qp.scale,
                sums: w.sums.as_ptr().wrapping_add(ob0 * QCONV_BLOCK),
                scales: w.scales.as_ptr().wrapping_add(ob0 * QCONV_BLOCK),
                bias: w.bias.as_ptr().wrapping_add(ob0 * QCONV_BLOCK),
                res: rt,
                y: yt,
                y_ob,
                relu,
            };
            let f = (info.select)(pixels, nb, t.sx, t.g4);
            // SAFETY: all lengths were checked above, so every pointer the tile derives stays
            // inside its buffer; tiles of distinct items write disjoint outputs; the ISA was
            // capped to the CPU.
            unsafe { f(&t) };
        }
    };
    let ops = 2 * p.output_len() * p.reduction().unwrap_or(K_MAX);
    if ops >= super::PARALLEL_MIN_OPS && crate::parallelism::threads() > 1 {
        (0..items).into_par_iter().for_each(run_item);
    } else {
        (0..items).for_each(run_item);
    }
    Ok(())
}
