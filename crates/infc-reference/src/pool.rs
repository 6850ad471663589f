//! Pooling: `MaxPool` (f32, i8, u8; NaN propagates), `AveragePool` (f32, sums in f64, with or without
//! pads counted), `GlobalAveragePool`. Pads, strides, dilations and `ceil_mode` follow
//! [`crate::window::spatial_axes`]; taps in padding are skipped. With `count_include_pad` the divisor
//! counts taps inside input + declared pads (not the extra ceil-mode overhang), as PyTorch and
//! onnxruntime do.

use crate::access::{tensor, view, OpResult};
use crate::num::{dispatch_num, Num};
use crate::window::{spatial_axes, to_3d, Axis};
use infc_ir::{DType, PoolAttrs, Tensor};

/// Geometry of a pooling op on `x` (N×C×spatial…): per-axis windows lifted to 3-D and the output shape.
fn geometry(attrs: &PoolAttrs, x: &Tensor) -> OpResult<([Axis; 3], Vec<usize>)> {
    if x.shape.len() < 3 {
        return Err(format!("X must be N×C×spatial…, got shape {:?}", x.shape));
    }
    let axes = spatial_axes(
        &x.shape[2..],
        &attrs.kernel,
        &attrs.strides,
        &attrs.pads,
        &attrs.dilations,
        attrs.ceil_mode,
    )?;
    let mut shape = x.shape[..2].to_vec();
    shape.extend(axes.iter().map(|a| a.output));
    Ok((to_3d(&axes)?, shape))
}

/// Visit every output position of one N×C plane: `f(output index, taps, padded)` where `taps`
/// holds the input offsets (within the plane) of the taps inside the input, and `padded` counts
/// the taps inside input + pads (as f64: with hostile pads the count can pass `usize`). Only the
/// taps inside the input are visited (per axis, [`Axis::taps`]), so the kernel size costs nothing.
fn for_each_window(ax: &[Axis; 3], mut f: impl FnMut(usize, &[usize], f64)) {
    let [ad, ah, aw] = ax;
    let mut taps = Vec::new();
    let mut o = 0;
    for od in 0..ad.output {
        let (kd, pd) = ad.taps(od);
        for oh in 0..ah.output {
            let (kh, ph) = ah.taps(oh);
            for ow in 0..aw.output {
                let (kw, pw) = aw.taps(ow);
                taps.clear();
                for d in kd.clone() {
                    for h in kh.clone() {
                        for w in kw.clone() {
                            if let (Some(id), Some(ih), Some(iw)) =
                                (ad.input_at(od, d), ah.input_at(oh, h), aw.input_at(ow, w))
                            {
                                taps.push((id * ah.input + ih) * aw.input + iw);
                            }
                        }
                    }
                }
                f(o, &taps, pd as f64 * ph as f64 * pw as f64);
                o += 1;
            }
        }
    }
}

pub(crate) fn max_pool(attrs: &PoolAttrs, x: &Tensor) -> OpResult<Tensor> {
    let (ax, shape) = geometry(attrs, x)?;
    if !matches!(x.dtype, DType::F32 | DType::I8 | DType::U8) {
        return Err(format!("X must be f32, i8 or u8, got {}", x.dtype));
    }
    dispatch_num!(x.dtype, "MaxPool", |T| {
        let xs = view::<T>(x)?;
        let planes = x.shape[0] * x.shape[1];
        let (in_plane, out_plane) = (
            x.numel() / planes.max(1),
            shape[2..].iter().product::<usize>(),
        );
        let mut out = vec![T::zero(); planes * out_plane];
        for p in 0..planes {
            let src = &xs[p * in_plane..][..in_plane];
            let dst = &mut out[p * out_plane..][..out_plane];
            for_each_window(&ax, |o, taps, _| {
                dst[o] = taps.iter().fold(T::lowest(), |m: T, &t| {
                    let v = src[t];
                    if m.is_nan() || !(v.is_nan() || v > m) {
                        m
                    } else {
                        v
                    }
                });
            });
        }
        tensor(shape, out)
    })
}

pub(crate) fn average_pool(
    attrs: &PoolAttrs,
    count_include_pad: bool,
    x: &Tensor,
) -> OpResult<Tensor> {
    let (ax, shape) = geometry(attrs, x)?;
    if x.dtype != DType::F32 {
        return Err(format!("X must be float, got {}", x.dtype));
    }
    let xs = view::<f32>(x)?;
    let planes = x.shape[0] * x.shape[1];
    let (in_plane, out_plane) = (
        x.numel() / planes.max(1),
        shape[2..].iter().product::<usize>(),
    );
    let mut out = vec![0f32; planes * out_plane];
    for p in 0..planes {
        let src = &xs[p * in_plane..][..in_plane];
        let dst = &mut out[p * out_plane..][..out_plane];
        for_each_window(&ax, |o, taps, padded| {
            let sum: f64 = taps.iter().map(|&t| src[t] as f64).sum();
            let count = if count_include_pad {
                padded
            } else {
                taps.len() as f64
            };
            dst[o] = (sum / count) as f32;
        });
    }
    tensor(shape, out)
}

pub(crate) fn global_average_pool(x: &Tensor) -> OpResult<Tensor> {
    if x.dtype != DType::F32 {
        return Err(format!("X must be float, got {}", x.dtype));
    }
    if x.shape.len() < 3 {
        return Err(format!("X must be N×C×spatial…, got shape {:?}", x.shape));
    }
    let xs = view::<f32>(x)?;
    let plane: usize = x.shape[2..].iter().product();
    let planes = x.shape[0] * x.shape[1];
    let out: Vec<f32> = (0..planes)
        .map(|p| {
            (xs[p * plane..][..plane]
                .iter()
                .map(|&v| v as f64)
                .sum::<f64>()
                / plane as f64) as f32
        })
        .collect();
    let mut shape = x.shape[..2].to_vec();
    shape.extend(std::iter::repeat_n(1, x.shape.len() - 2));
    tensor(shape, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn attrs(kernel: &[usize], strides: &[usize], pads: &[usize], ceil_mode: bool) -> PoolAttrs {
        PoolAttrs {
            kernel: kernel.to_vec(),
            strides: strides.to_vec(),
            pads: pads.to_vec(),
            dilations: vec![],
            ceil_mode,
        }
    }

    #[test]
    fn maxpool_resnet_stem_shape() {
        // kernel 3, stride 2, pad 1 on 4×4 (ResNet stem shape rule): 2×2 output.
        let x = f32t(&[1, 1, 4, 4], &iota(16));
        let y = max_pool(&attrs(&[3, 3], &[2, 2], &[1, 1, 1, 1], false), &x).unwrap();
        assert_eq!(y.shape, vec![1, 1, 2, 2]);
        assert_eq!(f32s(&y), vec![5., 7., 13., 15.]);
    }

    #[test]
    fn maxpool_ceil_mode() {
        let x = f32t(&[1, 1, 1, 5], &[1., 5., 2., 4., 3.]);
        let floor = max_pool(&attrs(&[1, 2], &[1, 2], &[], false), &x).unwrap();
        assert_eq!(f32s(&floor), vec![5., 4.]);
        let ceil = max_pool(&attrs(&[1, 2], &[1, 2], &[], true), &x).unwrap();
        assert_eq!(ceil.shape, vec![1, 1, 1, 3]);
        assert_eq!(f32s(&ceil), vec![5., 4., 3.]);
    }

    #[test]
    fn maxpool_nan_and_int8() {
        let x = f32t(&[1, 1, 1, 4], &[1., f32::NAN, 3., 2.]);
        let y = f32s(&max_pool(&attrs(&[1, 2], &[1, 2], &[], false), &x).unwrap());
        assert!(y[0].is_nan() && y[1] == 3.);
        let x = i8t(&[1, 1, 1, 4], &[-5, -7, 3, -128]);
        assert_eq!(
            i8s(&max_pool(&attrs(&[1, 2], &[1, 2], &[], false), &x).unwrap()),
            vec![-5, 3]
        );
    }

    #[test]
    fn averagepool_pads_counted_or_not() {
        let x = f32t(&[1, 1, 1, 3], &[3., 6., 9.]);
        let a = attrs(&[1, 2], &[1, 2], &[0, 1, 0, 1], false);
        // padded row: 0 3 6 9 0 → windows (pad,3) (6,9)
        assert_eq!(f32s(&average_pool(&a, false, &x).unwrap()), vec![3., 7.5]);
        assert_eq!(f32s(&average_pool(&a, true, &x).unwrap()), vec![1.5, 7.5]);
    }

    #[test]
    fn averagepool_ceil_overhang_not_counted() {
        // 5 wide, kernel 2, stride 2, ceil: last window holds only element 4 (overhang is not padding).
        let x = f32t(&[1, 1, 1, 5], &[1., 2., 3., 4., 5.]);
        let a = attrs(&[1, 2], &[1, 2], &[], true);
        assert_eq!(
            f32s(&average_pool(&a, true, &x).unwrap()),
            vec![1.5, 3.5, 5.]
        );
        assert_eq!(
            f32s(&average_pool(&a, false, &x).unwrap()),
            vec![1.5, 3.5, 5.]
        );
    }

    /// torch.nn.functional.{avg,max}_pool2d(x, 3, stride=2, padding=1, ceil_mode=True) on
    /// x = arange(36).reshape(1,1,6,6), computed once with python3. The last window overhangs the pads.
    #[test]
    fn ceil_mode_pooling_against_torch() {
        let x = f32t(&[1, 1, 6, 6], &iota(36));
        let a = attrs(&[3, 3], &[2, 2], &[1, 1, 1, 1], true);
        let with_pad = average_pool(&a, true, &x).unwrap();
        assert_eq!(with_pad.shape, vec![1, 1, 4, 4]);
        assert_close(&f32s(&with_pad), &TORCH_AVG_WITH_PAD, 1e-5);
        assert_close(
            &f32s(&average_pool(&a, false, &x).unwrap()),
            &TORCH_AVG_NO_PAD,
            1e-5,
        );
        assert_close(&f32s(&max_pool(&a, &x).unwrap()), &TORCH_MAX, 0.0);
    }

    #[rustfmt::skip]
    const TORCH_AVG_WITH_PAD: [f32; 16] = [
        1.555556, 3.333333, 4.666667, 2.666667, 8.333333, 14.0, 16.0, 8.5,
        16.333334, 26.0, 28.0, 14.5, 10.166667, 16.0, 17.0, 8.75,
    ];
    #[rustfmt::skip]
    const TORCH_AVG_NO_PAD: [f32; 16] = [
        3.5, 5.0, 7.0, 8.0, 12.5, 14.0, 16.0, 17.0, 24.5, 26.0, 28.0, 29.0, 30.5, 32.0, 34.0, 35.0,
    ];
    #[rustfmt::skip]
    const TORCH_MAX: [f32; 16] = [
        7.0, 9.0, 11.0, 11.0, 19.0, 21.0, 23.0, 23.0, 31.0, 33.0, 35.0, 35.0, 31.0, 33.0, 35.0, 35.0,
    ];

    #[test]
    fn global_average() {
        let x = f32t(&[1, 2, 2, 2], &iota(8));
        let y = global_average_pool(&x).unwrap();
        assert_eq!(y.shape, vec![1, 2, 1, 1]);
        assert_eq!(f32s(&y), vec![1.5, 5.5]);
        assert_eq!(
            global_average_pool(&f32t(&[2], &[1., 2.])).unwrap_err(),
            "X must be N×C×spatial…, got shape [2]"
        );
    }

    /// Issue 19, row 1: a window of 2^40 rows with matching pads (valid ONNX; constant folding
    /// evaluates it) is computed at once, nothing sized by the kernel.
    #[test]
    fn huge_windows_cost_nothing() {
        let k = 1usize << 40;
        let attrs = PoolAttrs {
            kernel: vec![k, 1],
            strides: vec![1, 1],
            pads: vec![k - 1, 0, 0, 0],
            dilations: vec![1, 1],
            ceil_mode: false,
        };
        let x = f32t(&[1, 1, 3, 2], &[1.0, -2.0, 5.0, 4.0, 3.0, 0.5]);
        assert_eq!(
            f32s(&max_pool(&attrs, &x).unwrap()),
            [1.0, -2.0, 5.0, 4.0, 5.0, 4.0]
        );
        assert_eq!(
            f32s(&average_pool(&attrs, false, &x).unwrap()),
            [1.0, -2.0, 3.0, 1.0, 3.0, 2.5 / 3.0]
        );
    }
}
