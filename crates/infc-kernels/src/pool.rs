//! NCHW pooling: [`max_pool2d`], [`avg_pool2d`] (pads, `ceil_mode`, dilations, both
//! `count_include_pad` conventions) and [`global_avg_pool`]. Each output plane is independent, so
//! large inputs split over rayon by (image, channel).

use crate::error::{bad_shape, check_len, Result};
use crate::simd::PARALLEL_MIN_ELEMS;
use crate::Isa;
use rayon::prelude::*;

/// Shape and attributes of a 2-D pooling (ONNX `MaxPool`/`AveragePool` with resolved pads).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pool2dParams {
    pub batch: usize,
    pub channels: usize,
    pub in_h: usize,
    pub in_w: usize,
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
    /// Round the output size up (ONNX `ceil_mode`); a window may then start in the end padding only
    /// if it starts inside the input or the begin padding (the PyTorch/ONNX rule).
    pub ceil_mode: bool,
}

/// Output length along one axis.
fn out_len(
    input: usize,
    pad_begin: usize,
    pad_end: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    ceil: bool,
) -> usize {
    let eff = dilation * (kernel - 1) + 1;
    let span = input + pad_begin + pad_end - eff;
    let mut out = if ceil {
        span.div_ceil(stride)
    } else {
        span / stride
    } + 1;
    if ceil && (out - 1) * stride >= input + pad_begin {
        out -= 1;
    }
    out
}

impl Pool2dParams {
    /// Checks non-zero kernel/strides/dilations and that the window fits the padded input.
    pub fn validate(&self) -> Result<()> {
        if self.kernel_h == 0 || self.kernel_w == 0 || self.stride_h == 0 || self.stride_w == 0 {
            return Err(bad_shape("pool", "kernel size and strides must be ≥ 1"));
        }
        if self.dilation_h == 0 || self.dilation_w == 0 {
            return Err(bad_shape("pool", "dilations must be ≥ 1"));
        }
        let extent = |d: usize, k: usize| d.checked_mul(k - 1)?.checked_add(1);
        let padded = |i: usize, a: usize, b: usize| i.checked_add(a)?.checked_add(b);
        let (Some(eff_h), Some(eff_w), Some(ph), Some(pw)) = (
            extent(self.dilation_h, self.kernel_h),
            extent(self.dilation_w, self.kernel_w),
            padded(self.in_h, self.pad_top, self.pad_bottom),
            padded(self.in_w, self.pad_left, self.pad_right),
        ) else {
            return Err(bad_shape(
                "pool",
                "window or padded input size overflows usize",
            ));
        };
        if ph < eff_h || pw < eff_w {
            return Err(bad_shape(
                "pool",
                format!("window {eff_h}×{eff_w} exceeds the padded input"),
            ));
        }
        Ok(())
    }
    /// Output height (after [`Pool2dParams::validate`]).
    pub fn out_h(&self) -> usize {
        out_len(
            self.in_h,
            self.pad_top,
            self.pad_bottom,
            self.kernel_h,
            self.stride_h,
            self.dilation_h,
            self.ceil_mode,
        )
    }
    /// Output width (after [`Pool2dParams::validate`]).
    pub fn out_w(&self) -> usize {
        out_len(
            self.in_w,
            self.pad_left,
            self.pad_right,
            self.kernel_w,
            self.stride_w,
            self.dilation_w,
            self.ceil_mode,
        )
    }
    fn check(&self, x: usize, y: usize) -> Result<(usize, usize)> {
        self.validate()?;
        let out = (self.out_h(), self.out_w());
        // Checked: an empty tensor (a zero dim) may carry huge other dims.
        let count = |dims: [usize; 4]| {
            dims.iter()
                .try_fold(1usize, |a, &d| a.checked_mul(d))
                .ok_or_else(|| bad_shape("pool", format!("tensor {dims:?} overflows usize")))
        };
        let (n, c) = (self.batch, self.channels);
        check_len("pool input", x, count([n, c, self.in_h, self.in_w])?)?;
        check_len("pool output", y, count([n, c, out.0, out.1])?)?;
        Ok(out)
    }
}

/// The taps of one axis for one output position: the window positions inside the input are
/// `first + i·dilation` for `i < count`; `padded` counts the positions inside
/// `[-pad_begin, input + pad_end)` (for `count_include_pad`). Computed in O(1) from the window's
/// bounds, so a kernel attribute of any size costs neither memory nor a loop over the window.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Taps {
    first: usize,
    count: usize,
    dilation: usize,
    padded: usize,
}

impl Taps {
    fn iter(self) -> impl Iterator<Item = usize> {
        (0..self.count).map(move |i| self.first + i * self.dilation)
    }
}

/// Taps of output position `o` (see [`Taps`]); `dilation ≥ 1`.
fn taps(
    o: usize,
    stride: usize,
    pad_begin: usize,
    kernel: usize,
    dilation: usize,
    input: usize,
    pad_end: usize,
) -> Taps {
    // Window position k is `start + k·d`; i128 holds every product of two usizes' worth here.
    let (start, d, kernel) = (
        o as i128 * stride as i128 - pad_begin as i128,
        dilation.max(1) as i128,
        kernel as i128,
    );
    // Number of positions k ≥ 0 with `start + k·d < limit`, capped at the kernel.
    let below = |limit: i128| {
        if limit <= start {
            0
        } else {
            ((limit - start + d - 1) / d).min(kernel)
        }
    };
    // First k with `start + k·d ≥ 0`.
    let lo = if start >= 0 {
        0
    } else {
        ((-start + d - 1) / d).min(kernel)
    };
    let hi = below(input as i128).max(lo);
    Taps {
        first: (start + lo * d).max(0) as usize,
        count: (hi - lo) as usize,
        dilation: d as usize,
        padded: below(input as i128 + pad_end as i128) as usize,
    }
}

/// The taps of one output position per axis, computed where they are used (no table sized by the
/// output: an empty tensor may declare any output size).
#[derive(Clone, Copy)]
struct Windows<'a>(&'a Pool2dParams);

impl Windows<'_> {
    fn row(&self, o: usize) -> Taps {
        let p = self.0;
        taps(
            o,
            p.stride_h,
            p.pad_top,
            p.kernel_h,
            p.dilation_h,
            p.in_h,
            p.pad_bottom,
        )
    }

    fn col(&self, o: usize) -> Taps {
        let p = self.0;
        taps(
            o,
            p.stride_w,
            p.pad_left,
            p.kernel_w,
            p.dilation_w,
            p.in_w,
            p.pad_right,
        )
    }
}

fn for_planes(
    p: &Pool2dParams,
    x: &[f32],
    y: &mut [f32],
    oh: usize,
    ow: usize,
    f: impl Fn(&[f32], &mut [f32]) + Sync,
) {
    // No planes: nothing to do, whatever the (then unchecked) plane sizes are.
    let planes = p.batch * p.channels;
    if planes == 0 {
        return;
    }
    // `check` counted planes × plane for both tensors, so these do not overflow.
    let (ip, op) = (p.in_h * p.in_w, oh * ow);
    if op == 0 {
        return;
    }
    let y = &mut y[..planes * op];
    if planes * ip >= PARALLEL_MIN_ELEMS && crate::parallelism::threads() > 1 {
        y.par_chunks_mut(op)
            .enumerate()
            .for_each(|(i, out)| f(&x[i * ip..(i + 1) * ip], out));
    } else {
        y.chunks_mut(op)
            .enumerate()
            .for_each(|(i, out)| f(&x[i * ip..(i + 1) * ip], out));
    }
}

/// Max pooling; padding never wins (a window entirely in padding yields `-inf`). NaN propagates.
pub fn max_pool2d(_isa: Isa, p: &Pool2dParams, x: &[f32], y: &mut [f32]) -> Result<()> {
    let (oh, ow) = p.check(x.len(), y.len())?;
    let win = Windows(p);
    let w = p.in_w;
    for_planes(p, x, y, oh, ow, |plane, out| {
        for oy in 0..oh {
            let rows = win.row(oy);
            for ox in 0..ow {
                let cols = win.col(ox);
                let mut m = f32::NEG_INFINITY;
                for r in rows.iter() {
                    let line = &plane[r * w..(r + 1) * w];
                    for c in cols.iter() {
                        let v = line[c];
                        if v > m || v.is_nan() {
                            m = v;
                        }
                    }
                }
                out[oy * ow + ox] = m;
            }
        }
    });
    Ok(())
}

/// Average pooling. `count_include_pad`: divide by the number of window positions inside the
/// padded input (`[-pad_begin, in + pad_end)` per axis); otherwise by the positions inside the input.
pub fn avg_pool2d(
    _isa: Isa,
    p: &Pool2dParams,
    count_include_pad: bool,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    let (oh, ow) = p.check(x.len(), y.len())?;
    let win = Windows(p);
    let w = p.in_w;
    for_planes(p, x, y, oh, ow, |plane, out| {
        for oy in 0..oh {
            let rows = win.row(oy);
            for ox in 0..ow {
                let cols = win.col(ox);
                let mut s = 0f32;
                for r in rows.iter() {
                    let line = &plane[r * w..(r + 1) * w];
                    for c in cols.iter() {
                        s += line[c];
                    }
                }
                // In f64: hostile pads can make the padded window larger than usize products.
                let count = if count_include_pad {
                    rows.padded as f64 * cols.padded as f64
                } else {
                    (rows.count * cols.count) as f64
                };
                out[oy * ow + ox] = if count == 0.0 {
                    0.0
                } else {
                    (s as f64 / count) as f32
                };
            }
        }
    });
    Ok(())
}

/// Global average pooling: `y[p] = mean(x[p, 0..plane])` for each of `planes` (= N·C) planes of
/// `plane` (= H·W) elements.
pub fn global_avg_pool(
    _isa: Isa,
    planes: usize,
    plane: usize,
    x: &[f32],
    y: &mut [f32],
) -> Result<()> {
    check_len("global pool input", x.len(), planes * plane)?;
    check_len("global pool output", y.len(), planes)?;
    if plane == 0 {
        y[..planes].fill(f32::NAN);
        return Ok(());
    }
    for (o, chunk) in y[..planes].iter_mut().zip(x.chunks_exact(plane)) {
        *o = chunk.iter().sum::<f32>() / plane as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemm::tests::rand_vec;

    #[allow(clippy::too_many_arguments)]
    fn params(
        hw: (usize, usize),
        k: (usize, usize),
        s: (usize, usize),
        pad: [usize; 4],
        d: (usize, usize),
        ceil: bool,
    ) -> Pool2dParams {
        Pool2dParams {
            batch: 2,
            channels: 3,
            in_h: hw.0,
            in_w: hw.1,
            kernel_h: k.0,
            kernel_w: k.1,
            stride_h: s.0,
            stride_w: s.1,
            pad_top: pad[0],
            pad_left: pad[1],
            pad_bottom: pad[2],
            pad_right: pad[3],
            dilation_h: d.0,
            dilation_w: d.1,
            ceil_mode: ceil,
        }
    }

    /// Direct reference over padded coordinates.
    fn reference(p: &Pool2dParams, x: &[f32], max: bool, include_pad: bool) -> Vec<f32> {
        let (oh, ow) = (p.out_h(), p.out_w());
        let mut y = vec![];
        for plane in x.chunks(p.in_h * p.in_w).take(p.batch * p.channels) {
            for oy in 0..oh {
                for ox in 0..ow {
                    let (mut m, mut s, mut n_in, mut n_pad) = (f32::NEG_INFINITY, 0f64, 0, 0);
                    for ky in 0..p.kernel_h {
                        for kx in 0..p.kernel_w {
                            let iy =
                                (oy * p.stride_h + ky * p.dilation_h) as isize - p.pad_top as isize;
                            let ix = (ox * p.stride_w + kx * p.dilation_w) as isize
                                - p.pad_left as isize;
                            if iy < (p.in_h + p.pad_bottom) as isize
                                && ix < (p.in_w + p.pad_right) as isize
                            {
                                n_pad += 1;
                            }
                            if iy >= 0
                                && ix >= 0
                                && (iy as usize) < p.in_h
                                && (ix as usize) < p.in_w
                            {
                                let v = plane[iy as usize * p.in_w + ix as usize];
                                m = m.max(v);
                                s += v as f64;
                                n_in += 1;
                            }
                        }
                    }
                    y.push(if max {
                        m
                    } else {
                        (s / if include_pad { n_pad } else { n_in } as f64) as f32
                    });
                }
            }
        }
        y
    }

    #[test]
    fn pools_match_reference() {
        let cases = [
            params((8, 8), (3, 3), (2, 2), [1, 1, 1, 1], (1, 1), false),
            params((7, 9), (3, 2), (2, 2), [1, 0, 1, 1], (1, 1), true),
            params((6, 6), (2, 2), (2, 2), [0; 4], (1, 1), false),
            params((9, 7), (3, 3), (1, 2), [0, 1, 2, 0], (2, 1), true),
            params((5, 5), (5, 5), (1, 1), [0; 4], (1, 1), false),
            params((112, 112), (3, 3), (2, 2), [1, 1, 1, 1], (1, 1), false),
        ];
        for (ci, p) in cases.iter().enumerate() {
            let x = rand_vec(p.batch * p.channels * p.in_h * p.in_w, ci as u64);
            let n = p.batch * p.channels * p.out_h() * p.out_w();
            for isa in Isa::supported() {
                let mut y = vec![0.0; n];
                max_pool2d(isa, p, &x, &mut y).unwrap();
                assert_eq!(y, reference(p, &x, true, false), "max case {ci}");
                for include in [false, true] {
                    avg_pool2d(isa, p, include, &x, &mut y).unwrap();
                    let want = reference(p, &x, false, include);
                    for (g, w) in y.iter().zip(&want) {
                        assert!(
                            (g - w).abs() < 1e-5,
                            "avg case {ci} include {include}: {g} vs {w}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn ceil_mode_output_size_follows_onnx() {
        // ONNX MaxPool example: 4×4 input, 3×3 kernel, stride 2, ceil → 2×2 (floor → 1×1).
        let p = params((4, 4), (3, 3), (2, 2), [0; 4], (1, 1), true);
        assert_eq!((p.out_h(), p.out_w()), (2, 2));
        let p = Pool2dParams {
            ceil_mode: false,
            ..p
        };
        assert_eq!((p.out_h(), p.out_w()), (1, 1));
        // A window may not start entirely in the end padding.
        let p = params((5, 5), (2, 2), (2, 2), [0, 0, 1, 1], (1, 1), true);
        assert_eq!(p.out_h(), 3);
    }

    #[test]
    fn global_avg_and_errors() {
        let x: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut y = vec![0.0; 3];
        global_avg_pool(Isa::best(), 3, 4, &x, &mut y).unwrap();
        assert_eq!(y, [1.5, 5.5, 9.5]);
        assert!(global_avg_pool(Isa::best(), 4, 4, &x, &mut y).is_err());
        let p = params((4, 4), (0, 3), (1, 1), [0; 4], (1, 1), false);
        assert_eq!(
            p.validate().unwrap_err().to_string(),
            "pool: kernel size and strides must be ≥ 1"
        );
        let p = params((4, 4), (2, 2), (1, 1), [0; 4], (1, 1), false);
        let mut y = vec![0.0; 5];
        let err = max_pool2d(Isa::best(), &p, &vec![0.0; 96], &mut y).unwrap_err();
        assert_eq!(
            err.to_string(),
            "pool output: buffer holds 5 elements but the shape and strides need 54"
        );
    }

    /// The O(1) taps equal a walk over every window position (the old per-window buffer), for
    /// every small geometry.
    #[test]
    fn taps_match_a_walk_over_the_window() {
        for input in 0..7 {
            for kernel in 1..6 {
                for dilation in 1..4 {
                    for stride in 1..4 {
                        for (pb, pe) in [(0, 0), (1, 0), (0, 2), (3, 3)] {
                            for o in 0..8 {
                                let mut inside = vec![];
                                let mut padded = 0;
                                for k in 0..kernel {
                                    let pos = (o * stride + k * dilation) as isize - pb as isize;
                                    if pos < (input + pe) as isize {
                                        padded += 1;
                                    }
                                    if pos >= 0 && (pos as usize) < input {
                                        inside.push(pos as usize);
                                    }
                                }
                                let t = taps(o, stride, pb, kernel, dilation, input, pe);
                                let got: Vec<usize> = t.iter().collect();
                                assert_eq!(got, inside, "{t:?} o {o} in {input} k {kernel}");
                                assert_eq!(t.padded, padded, "{t:?} o {o} in {input} k {kernel}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// Issue 19, row 1: a window of 2^40 rows with matching pads (valid ONNX) runs at once and
    /// allocates nothing sized by the kernel: every window holds the whole column, so max is the
    /// column's max, and the average counts the taps inside (or all 2^40 + 3 padded positions).
    #[test]
    fn huge_windows_cost_nothing() {
        let k = 1usize << 40;
        let mut p = params((3, 2), (k, 1), (1, 1), [k - 1, 0, 0, 0], (1, 1), false);
        p.batch = 1;
        p.channels = 1;
        assert_eq!((p.out_h(), p.out_w()), (3, 2));
        let x = [1.0, -2.0, 5.0, 4.0, 3.0, 0.5];
        let mut y = vec![0.0; 6];
        max_pool2d(Isa::best(), &p, &x, &mut y).unwrap();
        assert_eq!(y, [1.0, -2.0, 5.0, 4.0, 5.0, 4.0]);
        avg_pool2d(Isa::best(), &p, false, &x, &mut y).unwrap();
        assert_eq!(y, [1.0, -2.0, 3.0, 1.0, 3.0, 2.5 / 3.0]);
        // Overflowing geometry is an error, not a panic.
        let mut bad = p;
        bad.dilation_h = usize::MAX;
        assert!(max_pool2d(Isa::best(), &bad, &x, &mut y).is_err());
    }

    /// No planes and a 2^61-wide output: nothing to do, and no tap table sized by the width (a
    /// capacity overflow, found by the plan fuzzer); a product of the dims past usize is an error.
    #[test]
    fn empty_planes_with_huge_outputs_cost_nothing() {
        let w = (1usize << 61) + 1;
        let mut p = params((1, 1), (1, 1), (1, 1), [0, 0, 0, w - 1], (1, 1), false);
        p.channels = 0;
        assert_eq!(p.out_w(), w);
        max_pool2d(Isa::best(), &p, &[], &mut []).unwrap();
        avg_pool2d(Isa::best(), &p, true, &[], &mut []).unwrap();
        p.batch = usize::MAX;
        p.channels = 2;
        assert!(max_pool2d(Isa::best(), &p, &[], &mut []).is_err());
    }
}
