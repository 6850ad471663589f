//! `Conv`: direct N-D convolution (1-, 2- or 3-D, NCHW layout) with groups, strides, dilations and
//! asymmetric pads. Products are accumulated in f64 per output plane and rounded once to f32.
//!
//! Loop order: for each (batch, output channel), for each input channel of its group and kernel tap,
//! add `w · x_row` into the output rows — the innermost loop walks one output row contiguously.

use crate::access::{view, OpResult};
use crate::window::{spatial_axes, to_3d};
use infc_ir::{ConvAttrs, DType, Tensor};

pub(crate) fn conv(
    attrs: &ConvAttrs,
    x: &Tensor,
    w: &Tensor,
    bias: Option<&Tensor>,
) -> OpResult<Tensor> {
    for (t, what) in [(x, "X"), (w, "W")]
        .into_iter()
        .chain(bias.map(|b| (b, "B")))
    {
        if t.dtype != DType::F32 {
            return Err(format!("{what} must be float, got {}", t.dtype));
        }
    }
    if x.shape.len() < 3 {
        return Err(format!("X must be N×C×spatial…, got shape {:?}", x.shape));
    }
    if w.shape.len() != x.shape.len() {
        return Err(format!(
            "W has rank {} but X has rank {}",
            w.shape.len(),
            x.shape.len()
        ));
    }
    let (n, c) = (x.shape[0], x.shape[1]);
    let (m, cg) = (w.shape[0], w.shape[1]);
    let group = attrs.group;
    if group == 0 || m % group != 0 || cg * group != c {
        return Err(format!(
            "group {group} does not fit X channels {c} and W shape {:?} (need W[1]·group = C and group | W[0])",
            w.shape
        ));
    }
    let kernel = if attrs.kernel.is_empty() {
        &w.shape[2..]
    } else {
        &attrs.kernel[..]
    };
    if kernel != &w.shape[2..] {
        return Err(format!(
            "kernel_shape {kernel:?} does not match W shape {:?}",
            w.shape
        ));
    }
    if let Some(b) = bias {
        if b.shape != [m] {
            return Err(format!("B must have shape [{m}], got {:?}", b.shape));
        }
    }
    let axes = spatial_axes(
        &x.shape[2..],
        kernel,
        &attrs.strides,
        &attrs.pads,
        &attrs.dilations,
        false,
    )?;
    let [ad, ah, aw] = to_3d(&axes)?;
    let xs = view::<f32>(x)?;
    let ws = view::<f32>(w)?;
    let bs = bias.map(view::<f32>).transpose()?;

    let in_plane = ad.input * ah.input * aw.input;
    let out_plane = ad.output * ah.output * aw.output;
    let taps = ad.kernel * ah.kernel * aw.kernel;
    let m_per_group = m / group;
    let mut out = vec![0f32; n * m * out_plane];
    let mut acc = vec![0f64; out_plane];
    for b in 0..n {
        for oc in 0..m {
            acc.fill(0.0);
            let g = oc / m_per_group;
            for ic in 0..cg {
                let plane = &xs[(b * c + g * cg + ic) * in_plane..][..in_plane];
                let wk = &ws[(oc * cg + ic) * taps..][..taps];
                for kd in 0..ad.kernel {
                    for kh in 0..ah.kernel {
                        for kw in 0..aw.kernel {
                            let wv = wk[(kd * ah.kernel + kh) * aw.kernel + kw] as f64;
                            let (lo, hi) = valid_outputs(&aw, kw);
                            for od in 0..ad.output {
                                let Some(id) = ad.input_at(od, kd) else {
                                    continue;
                                };
                                for oh in 0..ah.output {
                                    let Some(ih) = ah.input_at(oh, kh) else {
                                        continue;
                                    };
                                    let row = &plane[(id * ah.input + ih) * aw.input..][..aw.input];
                                    let acc_row =
                                        &mut acc[(od * ah.output + oh) * aw.output..][..aw.output];
                                    for (ow, a) in acc_row.iter_mut().enumerate().take(hi).skip(lo)
                                    {
                                        let iw = ow * aw.stride + kw * aw.dilation - aw.pad_begin;
                                        *a += wv * row[iw] as f64;
                                    }
                                }
                            }
                        }
                    }
                }
            }
            let bv = bs.as_ref().map_or(0.0, |bs| bs[oc] as f64);
            for (o, a) in out[(b * m + oc) * out_plane..][..out_plane]
                .iter_mut()
                .zip(&acc)
            {
                *o = (a + bv) as f32;
            }
        }
    }
    let mut shape = vec![n, m];
    shape.extend(axes.iter().map(|a| a.output));
    crate::access::tensor(shape, out)
}

/// Range of outputs `o` on the innermost axis whose tap `k` reads inside the input.
fn valid_outputs(a: &crate::window::Axis, k: usize) -> (usize, usize) {
    let off = (k * a.dilation) as i64 - a.pad_begin as i64;
    let s = a.stride as i64;
    let lo = if off >= 0 { 0 } else { (-off + s - 1) / s };
    let end = a.input as i64 - off;
    let hi = if end <= 0 { 0 } else { (end + s - 1) / s };
    (lo as usize, (hi as usize).min(a.output).max(lo as usize))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;

    fn attrs(
        kernel: &[usize],
        strides: &[usize],
        pads: &[usize],
        dilations: &[usize],
        group: usize,
    ) -> ConvAttrs {
        ConvAttrs {
            kernel: kernel.to_vec(),
            strides: strides.to_vec(),
            pads: pads.to_vec(),
            dilations: dilations.to_vec(),
            group,
        }
    }

    #[test]
    fn conv2d_3x3_pad1_by_hand() {
        // 1×1×3×3 input 1..9, all-ones 3×3 kernel, pad 1: each output is the sum of its neighbourhood.
        let x = f32t(&[1, 1, 3, 3], &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        let w = f32t(&[1, 1, 3, 3], &[1.; 9]);
        let y = conv(
            &attrs(&[3, 3], &[1, 1], &[1, 1, 1, 1], &[1, 1], 1),
            &x,
            &w,
            None,
        )
        .unwrap();
        assert_eq!(y.shape, vec![1, 1, 3, 3]);
        assert_eq!(f32s(&y), vec![12., 21., 16., 27., 45., 33., 24., 39., 28.]);
    }

    #[test]
    fn stride_asymmetric_pads_and_bias() {
        // 1×1×1×5 input, kernel 1×2, stride 2, pads left 1 right 0, bias 0.5.
        let x = f32t(&[1, 1, 1, 5], &[1., 2., 3., 4., 5.]);
        let w = f32t(&[1, 1, 1, 2], &[10., 1.]);
        let b = f32t(&[1], &[0.5]);
        let y = conv(
            &attrs(&[1, 2], &[1, 2], &[0, 1, 0, 0], &[], 1),
            &x,
            &w,
            Some(&b),
        )
        .unwrap();
        // padded row: 0 1 2 3 4 5 → windows (0,1) (2,3) (4,5)
        assert_eq!(y.shape, vec![1, 1, 1, 3]);
        assert_eq!(f32s(&y), vec![1.5, 23.5, 45.5]);
    }

    #[test]
    fn depthwise_group_equals_channels() {
        // 2 channels, group 2: each channel convolved with its own 1×2 kernel.
        let x = f32t(&[1, 2, 1, 3], &[1., 2., 3., 10., 20., 30.]);
        let w = f32t(&[2, 1, 1, 2], &[1., -1., 2., 0.5]);
        let y = conv(&attrs(&[1, 2], &[], &[], &[], 2), &x, &w, None).unwrap();
        assert_eq!(y.shape, vec![1, 2, 1, 2]);
        assert_eq!(f32s(&y), vec![-1., -1., 30., 55.]);
    }

    #[test]
    fn dilation_and_1d() {
        let x = f32t(&[1, 1, 6], &iota(6));
        let w = f32t(&[1, 1, 2], &[1., 1.]);
        let y = conv(&attrs(&[2], &[1], &[0, 0], &[3], 1), &x, &w, None).unwrap();
        assert_eq!(f32s(&y), vec![3., 5., 7.]);
    }

    /// Values computed once with torch.nn.functional.conv2d (python3), pasted as literals.
    #[test]
    fn grouped_strided_against_torch() {
        // x = arange(2*4*4*4).reshape(2,4,4,4)/10, w = (arange(4*2*3*3)%7 - 3).reshape(4,2,3,3)/4,
        // bias [0.1,-0.2,0.3,-0.4], stride 2, padding 1, groups 2.
        let x = f32t(
            &[2, 4, 4, 4],
            &iota(128).iter().map(|v| v / 10.).collect::<Vec<_>>(),
        );
        let wv: Vec<f32> = (0..72).map(|i| ((i % 7) as f32 - 3.) / 4.).collect();
        let w = f32t(&[4, 2, 3, 3], &wv);
        let b = f32t(&[4], &[0.1, -0.2, 0.3, -0.4]);
        let y = conv(
            &attrs(&[3, 3], &[2, 2], &[1, 1, 1, 1], &[1, 1], 2),
            &x,
            &w,
            Some(&b),
        )
        .unwrap();
        assert_eq!(y.shape, vec![2, 4, 2, 2]);
        assert_close(&f32s(&y), &TORCH_GROUPED, 1e-4);
    }

    #[rustfmt::skip]
    const TORCH_GROUPED: [f32; 32] = [
        -0.975, -0.95, -1.375, -1.75, 0.475, 1.075, -1.3, 0.6, -3.075, -2.775, -0.425, -1.875, 0.475, 3.825, -3.125, -1.65, -5.775, -0.95, -9.375, -11.35, 2.075, -0.525, 0.3, 5.4, -6.275, -5.975, -0.425, -5.075, 3.675, 10.225, -4.725, -1.65,
    ];

    #[test]
    fn shape_errors() {
        let x = f32t(&[1, 3, 4, 4], &[0.; 48]);
        let w = f32t(&[2, 2, 3, 3], &[0.; 36]);
        let e = conv(&attrs(&[3, 3], &[], &[], &[], 1), &x, &w, None).unwrap_err();
        assert_eq!(e, "group 1 does not fit X channels 3 and W shape [2, 2, 3, 3] (need W[1]·group = C and group | W[0])");
        let w = f32t(&[2, 3, 5, 5], &[0.; 150]);
        let e = conv(&attrs(&[5, 5], &[], &[], &[], 1), &x, &w, None).unwrap_err();
        assert_eq!(
            e,
            "spatial axis 0: window of 5 exceeds the padded input of 4 (4 + pads 0, 0)"
        );
        let e = conv(
            &attrs(&[5, 5], &[], &[], &[], 1),
            &i64t(&[1], &[1]),
            &w,
            None,
        )
        .unwrap_err();
        assert_eq!(e, "X must be float, got i64");
    }

    #[test]
    fn empty_batch() {
        let x = f32t(&[0, 1, 3, 3], &[]);
        let w = f32t(&[2, 1, 2, 2], &[1.; 8]);
        let y = conv(&attrs(&[2, 2], &[], &[], &[], 1), &x, &w, None).unwrap();
        assert_eq!(y.shape, vec![0, 2, 2, 2]);
    }
}
