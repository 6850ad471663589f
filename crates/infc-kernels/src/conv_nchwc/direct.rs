//! The direct NCHWc convolution driver and microkernel (see the module doc of `conv_nchwc`).
//!
//! Work is split by (image, group of output blocks); each group computes every output pixel of up
//! to two output-channel blocks, in register tiles of at most `PXMAX` pixels split into near-equal
//! sizes (so no tile degenerates to a latency-bound sliver): interior pixels in row tiles, the
//! left/right edge columns in column tiles down the interior rows (their clipped taps are the
//! same for the whole column), the top/bottom edge rows in row tiles with clipped rows, and only
//! the corners one pixel at a time. All lengths were validated by `conv2d_nchwc`, which makes
//! the raw-pointer arithmetic below stay in bounds.

use super::lanes::{Lanes, Portable8};
use super::NchwcConvParams;
use crate::gemm::PARALLEL_MIN_FLOPS;
use crate::Isa;
use rayon::prelude::*;

/// Geometry of one call, in elements (input strides are within one image).
#[derive(Clone, Copy)]
struct Geom {
    in_blocks: usize,
    in_lanes: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    dh: usize,
    dw: usize,
    pt: usize,
    pl: usize,
    h: usize,
    w: usize,
    oh: usize,
    ow: usize,
    block: usize,
    /// Input stride per input block, per lane within a block, per row, per pixel.
    s_cb: usize,
    s_c: usize,
    s_y: usize,
    s_x: usize,
    /// Floats of packed weights per output block.
    w_ob: usize,
    /// Floats of output per output block (`oh·ow·block`).
    y_ob: usize,
    /// 1×1, stride 1, unpadded: the plane runs as one row (`h = oh = 1`).
    pointwise: bool,
}

impl Geom {
    fn new(p: &NchwcConvParams) -> Geom {
        let c = &p.conv;
        let (mut h, mut w, mut oh, mut ow) = (c.in_h, c.in_w, c.out_h(), c.out_w());
        let pointwise = c.kernel_h == 1
            && c.kernel_w == 1
            && c.stride_h == 1
            && c.stride_w == 1
            && c.pad_top + c.pad_left + c.pad_bottom + c.pad_right == 0;
        if pointwise {
            // Rows are contiguous: run the plane as one long row.
            (w, ow) = (h * w, oh * ow);
            (h, oh) = (1, 1);
        }
        let (s_cb, s_c, s_y, s_x) = if p.input_blocked {
            (h * w * p.block, 1, w * p.block, p.block)
        } else {
            (0, h * w, w, 1)
        };
        Geom {
            in_blocks: p.in_blocks(),
            in_lanes: p.in_lanes(),
            kh: c.kernel_h,
            kw: c.kernel_w,
            sh: c.stride_h,
            sw: c.stride_w,
            dh: c.dilation_h,
            dw: c.dilation_w,
            pt: c.pad_top,
            pl: c.pad_left,
            h,
            w,
            oh,
            ow,
            block: p.block,
            s_cb,
            s_c,
            s_y,
            s_x,
            w_ob: super::packed_nchwc_weights_len(p) / p.out_blocks().max(1),
            y_ob: oh * ow * p.block,
            pointwise,
        }
    }

    /// Taps `[lo, hi)` of a window starting at `start` (may be negative) that fall inside `0..len`.
    fn taps(start: isize, k: usize, d: usize, len: usize) -> (usize, usize) {
        let lo = if start >= 0 {
            0
        } else {
            ((-start) as usize).div_ceil(d)
        };
        let hi = if start >= len as isize {
            0
        } else {
            ((len as isize - start) as usize).div_ceil(d).min(k)
        };
        (lo.min(hi), hi)
    }
}

/// Pointers of one work item: one image, `ocb` consecutive output blocks starting at `ob0`.
#[derive(Clone, Copy)]
struct Item {
    x: *const f32,
    w: *const f32,
    /// `ocb·block` bias values (zero-padded).
    bias: *const f32,
    /// Residual at the item's first output block, or null.
    res: *const f32,
    y: *mut f32,
    relu: bool,
}

/// `y` of one image shared by the tasks of a pointwise conv; each task writes a disjoint pixel
/// range of every output block.
struct SharedOut(*mut f32);
// SAFETY: tasks write disjoint elements (distinct pixel ranges), and the borrow of `y` outlives
// the parallel loop.
unsafe impl Send for SharedOut {}
// SAFETY: as above.
unsafe impl Sync for SharedOut {}
impl SharedOut {
    fn at(&self, off: usize) -> *mut f32 {
        self.0.wrapping_add(off)
    }
}

/// Pixels per task of a pointwise conv: a few register tiles, so the input tile stays in L1
/// while every output block's weights stream past it.
const POINTWISE_CHUNK: usize = 48;

#[allow(clippy::too_many_arguments)]
pub(super) fn run(
    isa: Isa,
    p: &NchwcConvParams,
    x: &[f32],
    packed_w: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    relu: bool,
    y: &mut [f32],
) {
    let g = Geom::new(p);
    let isa = isa.capped();
    let ocb_max = if isa == Isa::Avx512 || (isa == Isa::Avx2Fma && g.block == 8) {
        2
    } else {
        1
    };
    let cbo = p.out_blocks();
    let groups = cbo.div_ceil(ocb_max);
    let in_img = p.input_len() / p.conv.batch.max(1);
    let out_img = cbo * g.y_ob;
    let parallel = p.flops() >= PARALLEL_MIN_FLOPS as f64 && crate::parallelism::threads() > 1;
    // Output blocks `ob0..ob0+ocb` of group `gi`, their bias (zero-padded) and weights/residual.
    let group = |gi: usize| {
        let ob0 = gi * ocb_max;
        let ocb = (cbo - ob0).min(ocb_max);
        let mut bias_pad = [0f32; 32];
        if let Some(b) = bias {
            let lo = ob0 * g.block;
            let hi = ((ob0 + ocb) * g.block).min(b.len());
            bias_pad[..hi - lo].copy_from_slice(&b[lo..hi]);
        }
        (ob0, ocb, bias_pad)
    };
    for img in 0..p.conv.batch {
        let xi = &x[img * in_img..(img + 1) * in_img];
        let yi = &mut y[img * out_img..(img + 1) * out_img];
        let ri = residual.map(|r| &r[img * out_img..(img + 1) * out_img]);
        let res_at = |ob0: usize| ri.map_or(std::ptr::null(), |r| r[ob0 * g.y_ob..].as_ptr());
        if g.pointwise {
            // Pixel chunks outermost: each chunk's input is reused by every output block.
            let out = SharedOut(yi.as_mut_ptr());
            let chunk = |c: usize| {
                let cols = (c * POINTWISE_CHUNK, ((c + 1) * POINTWISE_CHUNK).min(g.ow));
                for gi in 0..groups {
                    let (ob0, ocb, bias_pad) = group(gi);
                    let it = Item {
                        x: xi.as_ptr(),
                        w: packed_w[ob0 * g.w_ob..].as_ptr(),
                        bias: bias_pad.as_ptr(),
                        res: res_at(ob0),
                        y: out.at(ob0 * g.y_ob),
                        relu,
                    };
                    // SAFETY: `conv2d_nchwc` checked every buffer against the shape; this task
                    // writes only pixels `cols` of blocks `ob0..ob0+ocb`.
                    unsafe { dispatch(isa, &g, ocb, &it, cols) }
                }
            };
            let chunks = g.ow.div_ceil(POINTWISE_CHUNK);
            if parallel {
                (0..chunks).into_par_iter().for_each(chunk);
            } else {
                (0..chunks).for_each(chunk);
            }
            continue;
        }
        let item = |(gi, yc): (usize, &mut [f32])| {
            let (ob0, ocb, bias_pad) = group(gi);
            let it = Item {
                x: xi.as_ptr(),
                w: packed_w[ob0 * g.w_ob..].as_ptr(),
                bias: bias_pad.as_ptr(),
                res: res_at(ob0),
                y: yc.as_mut_ptr(),
                relu,
            };
            // SAFETY: `conv2d_nchwc` checked every buffer against the shape; the item covers
            // output blocks `ob0..ob0+ocb` of this image, exactly `yc`, and its weights/bias/residual.
            unsafe { dispatch(isa, &g, ocb, &it, (0, g.ow)) }
        };
        let chunk = ocb_max * g.y_ob;
        if parallel && cbo > 1 {
            yi.par_chunks_mut(chunk).enumerate().for_each(item);
        } else {
            yi.chunks_mut(chunk).enumerate().for_each(item);
        }
    }
}

/// Runs output columns `cols` of one item on the best path `isa` allows (already capped).
unsafe fn dispatch(isa: Isa, g: &Geom, ocb: usize, it: &Item, cols: (usize, usize)) {
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `isa` was capped, so the CPU has the features.
        Isa::Avx512 => unsafe { x86::item_avx512(g, ocb, it, cols) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as above.
        Isa::Avx2Fma => unsafe { x86::item_avx2(g, ocb, it, cols) },
        _ => unsafe {
            match g.block {
                16 => rows::<Portable8, 2, 2, 4>(g, it, cols),
                _ => rows::<Portable8, 1, 1, 4>(g, it, cols),
            }
        },
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{rows, Geom, Item};
    use std::arch::x86_64::{__m256, __m512};

    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
    pub(super) unsafe fn item_avx512(g: &Geom, ocb: usize, it: &Item, cols: (usize, usize)) {
        // SAFETY: forwarded from the caller; the tile shapes keep ≤ 27 zmm live.
        unsafe {
            match (g.block, ocb) {
                (16, 2) => rows::<__m512, 1, 2, 12>(g, it, cols),
                (16, _) => rows::<__m512, 1, 1, 14>(g, it, cols),
                (_, 2) => rows::<__m256, 1, 2, 12>(g, it, cols),
                _ => rows::<__m256, 1, 1, 14>(g, it, cols),
            }
        }
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn item_avx2(g: &Geom, ocb: usize, it: &Item, cols: (usize, usize)) {
        // SAFETY: forwarded from the caller; ≤ 12 ymm accumulators + weights + broadcast.
        unsafe {
            match (g.block, ocb) {
                (16, _) => rows::<__m256, 2, 2, 6>(g, it, cols),
                (_, 2) => rows::<__m256, 1, 2, 6>(g, it, cols),
                _ => rows::<__m256, 1, 1, 12>(g, it, cols),
            }
        }
    }
}

/// Interior output positions `[a, b)` along one axis: windows entirely inside the input.
fn interior(out: usize, input: usize, pad: usize, k: usize, s: usize, d: usize) -> (usize, usize) {
    let a = pad.div_ceil(s).min(out);
    // The last window start whose last tap `start + (k-1)·d` is inside the input: none when the
    // window reaches past `input + pad - 1` from output 0 (an empty input has no interior).
    let reach = (k - 1) * d;
    let b = match (input + pad).checked_sub(reach + 1) {
        Some(last) if input > 0 => (last / s + 1).min(out),
        _ => 0,
    };
    (a, b.max(a))
}

/// `n` pixels split into the fewest tiles of at most `max`, of near-equal sizes: `(start, len)`.
fn balanced(n: usize, max: usize) -> impl Iterator<Item = (usize, usize)> {
    let tiles = n.div_ceil(max.max(1));
    let base = n.checked_div(tiles).unwrap_or(0);
    let extra = n.checked_rem(tiles).unwrap_or(0);
    (0..tiles).map(move |t| (t * base + t.min(extra), base + usize::from(t < extra)))
}

/// A run of pixels for [`tile`]: where it starts and how it steps in input and output.
#[derive(Clone, Copy)]
struct Run {
    /// Output offset (elements, within one output block) of the first pixel.
    out: usize,
    /// Window origin of the first pixel.
    iy0: isize,
    ix0: isize,
    /// Window-origin step from one pixel to the next (rows, columns) and output element step.
    dy: usize,
    dx: usize,
    step_out: usize,
    ky: (usize, usize),
    kx: (usize, usize),
}

/// Every output pixel in columns `cols` of one item. Interior rows: interior columns as row tiles, edge columns as
/// column tiles (down the interior rows, with that column's clipped taps); edge rows: interior
/// columns as row tiles with clipped rows, corners one pixel at a time. `NVB` vectors per block,
/// `NV = ocb·NVB` vectors per pixel, tiles of at most `PXMAX` pixels.
#[inline(always)]
unsafe fn rows<V: Lanes, const NVB: usize, const NV: usize, const PXMAX: usize>(
    g: &Geom,
    it: &Item,
    cols: (usize, usize),
) {
    let b = g.block;
    let (ox_a, ox_b) = interior(g.ow, g.w, g.pl, g.kw, g.sw, g.dw);
    // Only output columns `cols` are computed.
    let (ox_a, ox_b) = (ox_a.max(cols.0), ox_b.min(cols.1).max(ox_a.max(cols.0)));
    let edge_cols = || {
        (0..ox_a)
            .chain(ox_b..g.ow)
            .filter(|ox| (cols.0..cols.1).contains(ox))
    };
    let (oy_a, oy_b) = interior(g.oh, g.h, g.pt, g.kh, g.sh, g.dh);
    let origin = |oy: usize, ox: usize| {
        (
            (oy * g.sh) as isize - g.pt as isize,
            (ox * g.sw) as isize - g.pl as isize,
        )
    };
    for oy in 0..g.oh {
        let (iy0, _) = origin(oy, 0);
        let ky = Geom::taps(iy0, g.kh, g.dh, g.h);
        for (start, len) in balanced(ox_b - ox_a, PXMAX) {
            let ox = ox_a + start;
            let run = Run {
                out: (oy * g.ow + ox) * b,
                iy0,
                ix0: origin(oy, ox).1,
                dy: 0,
                dx: g.sw,
                step_out: b,
                ky,
                kx: (0, g.kw),
            };
            // SAFETY: interior columns, rows clipped to the input.
            unsafe { sized::<V, NVB, NV>(len, g, it, run) };
        }
        if (oy_a..oy_b).contains(&oy) {
            continue;
        }
        for ox in edge_cols() {
            let (_, ix0) = origin(oy, ox);
            let run = Run {
                out: (oy * g.ow + ox) * b,
                iy0,
                ix0,
                dy: 0,
                dx: 0,
                step_out: 0,
                ky,
                kx: Geom::taps(ix0, g.kw, g.dw, g.w),
            };
            // SAFETY: one pixel, taps clipped to the input.
            unsafe { tile::<V, NVB, NV, 1, 0>(g, it, run) };
        }
    }
    for ox in edge_cols() {
        let (_, ix0) = origin(0, ox);
        let kx = Geom::taps(ix0, g.kw, g.dw, g.w);
        for (start, len) in balanced(oy_b - oy_a, PXMAX) {
            let oy = oy_a + start;
            let run = Run {
                out: (oy * g.ow + ox) * b,
                iy0: origin(oy, 0).0,
                ix0,
                dy: g.sh,
                dx: 0,
                step_out: g.ow * b,
                ky: (0, g.kh),
                kx,
            };
            // SAFETY: interior rows, this column's taps clipped to the input.
            unsafe { sized::<V, NVB, NV>(len, g, it, run) };
        }
    }
}

/// One tile of `n` ≤ 16 pixels with the tile width as a compile-time constant.
#[inline(always)]
unsafe fn sized<V: Lanes, const NVB: usize, const NV: usize>(
    n: usize,
    g: &Geom,
    it: &Item,
    run: Run,
) {
    // Blocked input walked one pixel at a time: the step is the block, a constant 16 or 8.
    let step = run.dy * g.s_y + run.dx * g.s_x;
    macro_rules! arms {
        ($($k:literal)*) => {
            match n {
                0 => {}
                // SAFETY (all arms): forwarded from the caller.
                $($k if step == 16 => unsafe { tile::<V, NVB, NV, $k, 16>(g, it, run) },)*
                $($k if step == 8 => unsafe { tile::<V, NVB, NV, $k, 8>(g, it, run) },)*
                $($k => unsafe { tile::<V, NVB, NV, $k, 0>(g, it, run) },)*
                _ => {
                    for j in 0..n {
                        let one = Run {
                            out: run.out + j * run.step_out,
                            iy0: run.iy0 + (j * run.dy) as isize,
                            ix0: run.ix0 + (j * run.dx) as isize,
                            ..run
                        };
                        // SAFETY: as above, one pixel at a time.
                        unsafe { tile::<V, NVB, NV, 1, 0>(g, it, one) }
                    }
                }
            }
        };
    }
    arms!(1 2 3 4 5 6 7 8 9 10 11 12 13 14)
}

/// `PX` output pixels of the item's output blocks, the first at `run.out`, pixel `j`'s window
/// starting at `(run.iy0 + j·run.dy, run.ix0 + j·run.dx)`; only taps
/// `run.ky`×`run.kx` are read (the caller clipped them to the input for every pixel of the tile).
#[inline(always)]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<V: Lanes, const NVB: usize, const NV: usize, const PX: usize, const STEP: usize>(
    g: &Geom,
    it: &Item,
    run: Run,
) {
    let l = V::L;
    let b = g.block;
    // A compile-time pixel step (the common blocked stride-1 row) frees a register per pixel.
    let step_in = if STEP != 0 {
        STEP
    } else {
        run.dy * g.s_y + run.dx * g.s_x
    };
    // SAFETY (whole body): offsets stay inside the buffers validated by `conv2d_nchwc`.
    unsafe {
        let mut acc = [[V::zero(); NV]; PX];
        for v in 0..NV {
            let bv = V::load(it.bias.add((v / NVB) * b + (v % NVB) * l));
            for a in acc.iter_mut() {
                a[v] = bv;
            }
        }
        for cb in 0..g.in_blocks {
            for ky in run.ky.0..run.ky.1 {
                let iy = (run.iy0 + (ky * g.dh) as isize) as usize;
                for kx in run.kx.0..run.kx.1 {
                    let ix = (run.ix0 + (kx * g.dw) as isize) as usize;
                    let xp = it.x.add(cb * g.s_cb + iy * g.s_y + ix * g.s_x);
                    let wp = it.w.add(((cb * g.kh + ky) * g.kw + kx) * g.in_lanes * b);
                    for ci in 0..g.in_lanes {
                        let mut wv = [V::zero(); NV];
                        for v in 0..NV {
                            wv[v] = V::load(wp.add(ci * b + (v / NVB) * g.w_ob + (v % NVB) * l));
                        }
                        let xc = xp.add(ci * g.s_c);
                        for j in 0..PX {
                            let xb = V::splat(*xc.add(j * step_in));
                            for v in 0..NV {
                                acc[j][v] = acc[j][v].fma(xb, wv[v]);
                            }
                        }
                    }
                }
            }
        }
        for j in 0..PX {
            for v in 0..NV {
                let off = (v / NVB) * g.y_ob + run.out + j * run.step_out + (v % NVB) * l;
                let mut r = acc[j][v];
                if !it.res.is_null() {
                    r = r.add(V::load(it.res.add(off)));
                }
                if it.relu {
                    r = r.relu();
                }
                r.store(it.y.add(off));
            }
        }
    }
}
