//! Conv tests: every supported ISA vs a direct 7-loop reference, with groups, strides, pads,
//! dilations, batch, 1×1 fast path, and the fused epilogue.

use super::*;
use crate::gemm::tests::rand_vec;

fn reference(
    p: &Conv2dParams,
    x: &[f32],
    w: &[f32],
    bias: Option<&[f32]>,
    res: Option<&[f32]>,
    act: Activation,
) -> Vec<f32> {
    let (oh, ow) = (p.out_h(), p.out_w());
    let (cin_g, cout_g) = (p.in_channels / p.groups, p.out_channels / p.groups);
    let mut y = vec![0f32; p.batch * p.out_channels * oh * ow];
    for n in 0..p.batch {
        for co in 0..p.out_channels {
            let g = co / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut s = bias.map_or(0.0, |b| b[co] as f64);
                    for ci in 0..cin_g {
                        for ky in 0..p.kernel_h {
                            for kx in 0..p.kernel_w {
                                let iy = (oy * p.stride_h + ky * p.dilation_h) as isize
                                    - p.pad_top as isize;
                                let ix = (ox * p.stride_w + kx * p.dilation_w) as isize
                                    - p.pad_left as isize;
                                if iy < 0
                                    || ix < 0
                                    || iy >= p.in_h as isize
                                    || ix >= p.in_w as isize
                                {
                                    continue;
                                }
                                let xv = x[((n * p.in_channels + g * cin_g + ci) * p.in_h
                                    + iy as usize)
                                    * p.in_w
                                    + ix as usize];
                                let wv = w[((co * cin_g + ci) * p.kernel_h + ky) * p.kernel_w + kx];
                                s += xv as f64 * wv as f64;
                            }
                        }
                    }
                    let idx = ((n * p.out_channels + co) * oh + oy) * ow + ox;
                    if let Some(r) = res {
                        s += r[idx] as f64;
                    }
                    let v = s as f32;
                    y[idx] = match act {
                        Activation::Relu => v.max(0.0),
                        Activation::None => v,
                        _ => crate::gemm::kernel_activate(v, act),
                    };
                }
            }
        }
    }
    y
}

#[allow(clippy::too_many_arguments)]
fn params(
    batch: usize,
    cin: usize,
    hw: (usize, usize),
    cout: usize,
    k: (usize, usize),
    s: (usize, usize),
    pad: [usize; 4],
    d: (usize, usize),
    groups: usize,
) -> Conv2dParams {
    Conv2dParams {
        batch,
        in_channels: cin,
        in_h: hw.0,
        in_w: hw.1,
        out_channels: cout,
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
        groups,
    }
}

#[test]
fn conv_matches_reference_on_every_isa() {
    let cases = [
        params(1, 3, (9, 11), 5, (3, 3), (1, 1), [1, 1, 1, 1], (1, 1), 1),
        params(2, 4, (8, 8), 6, (3, 3), (2, 2), [1, 0, 1, 2], (1, 1), 2),
        params(1, 8, (7, 7), 8, (1, 1), (1, 1), [0; 4], (1, 1), 1),
        params(1, 6, (10, 9), 6, (3, 2), (1, 2), [2, 1, 0, 1], (2, 1), 3),
        params(1, 3, (23, 23), 16, (7, 7), (2, 2), [3, 3, 3, 3], (1, 1), 1),
        params(2, 16, (5, 6), 13, (1, 1), (2, 2), [0; 4], (1, 1), 1),
        params(1, 2, (1, 20), 3, (1, 5), (1, 1), [0, 2, 0, 2], (1, 1), 1),
        params(1, 33, (18, 18), 20, (3, 3), (1, 1), [1, 1, 1, 1], (1, 1), 1),
    ];
    for (ci, p) in cases.iter().enumerate() {
        let x = rand_vec(p.batch * p.in_channels * p.in_h * p.in_w, ci as u64);
        let w = rand_vec(p.out_channels * p.k_per_group(), 100 + ci as u64);
        let bias = rand_vec(p.out_channels, 200 + ci as u64);
        let ylen = p.batch * p.out_channels * p.out_h() * p.out_w();
        let res = rand_vec(ylen, 300 + ci as u64);
        let mut pw = vec![0.0; packed_conv_weights_len(p)];
        pack_conv_weights(p, &w, &mut pw).unwrap();
        for isa in Isa::supported() {
            for (bias_on, res_on, act) in [
                (false, false, Activation::None),
                (true, true, Activation::Relu),
                (true, false, Activation::GeluErf),
            ] {
                let b = bias_on.then_some(&bias[..]);
                let r = res_on.then_some(&res[..]);
                let mut y = vec![f32::NAN; ylen];
                conv2d(isa, p, &x, &pw, b, r, act, &mut y).unwrap();
                let want = reference(p, &x, &w, b, r, act);
                let tol = 1e-5 * (p.k_per_group() as f32).sqrt() * 4.0;
                for (i, (g, wv)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (g - wv).abs() <= tol * wv.abs().max(1.0),
                        "case {ci} {isa} {act:?} at {i}: {g} vs {wv}"
                    );
                }
            }
        }
    }
}

#[test]
fn conv_rejects_bad_params() {
    let p = params(1, 3, (4, 4), 4, (3, 3), (1, 1), [0; 4], (1, 1), 2);
    assert_eq!(
        p.validate().unwrap_err().to_string(),
        "conv: channels in 3 / out 4 not divisible by groups 2"
    );
    let p = params(1, 2, (2, 2), 2, (5, 5), (1, 1), [0; 4], (1, 1), 1);
    assert!(p.validate().is_err());
    let p = params(1, 2, (4, 4), 2, (3, 3), (1, 1), [0; 4], (1, 1), 1);
    let x = vec![0.0; 31];
    let mut pw = vec![0.0; packed_conv_weights_len(&p)];
    pack_conv_weights(&p, &[0.0; 36], &mut pw).unwrap();
    let mut y = vec![0.0; 8];
    let err = conv2d(
        Isa::Portable,
        &p,
        &x,
        &pw,
        None,
        None,
        Activation::None,
        &mut y,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "conv input: buffer holds 31 elements but the shape and strides need 32"
    );
}
