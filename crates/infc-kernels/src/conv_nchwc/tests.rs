//! Every path (each ISA this CPU has, blocks 8 and 16, blocked and plain input) against the NCHW
//! im2col conv and the plain max pool, through the reorders.

use super::*;
use crate::{conv2d, max_pool2d, pack_conv_weights, packed_conv_weights_len, Activation};
use crate::{KernelError, Pool2dParams};

fn values(n: usize, seed: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.5 - 1.0) * 0.5)
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn params(
    cin: usize,
    hw: (usize, usize),
    cout: usize,
    k: usize,
    s: usize,
    pad: usize,
) -> Conv2dParams {
    Conv2dParams {
        batch: 2,
        in_channels: cin,
        in_h: hw.0,
        in_w: hw.1,
        out_channels: cout,
        kernel_h: k,
        kernel_w: k,
        stride_h: s,
        stride_w: s,
        pad_top: pad,
        pad_left: pad,
        pad_bottom: pad,
        pad_right: pad,
        dilation_h: 1,
        dilation_w: 1,
        groups: 1,
    }
}

/// Plain-layout result of the NCHW im2col conv.
fn expected(p: &Conv2dParams, x: &[f32], w: &[f32], b: &[f32], r: &[f32], relu: bool) -> Vec<f32> {
    let mut packed = vec![0.0; packed_conv_weights_len(p)];
    pack_conv_weights(p, w, &mut packed).unwrap();
    let mut y = vec![0.0; p.batch * p.out_channels * p.out_h() * p.out_w()];
    let act = if relu {
        Activation::Relu
    } else {
        Activation::None
    };
    conv2d(Isa::Portable, p, x, &packed, Some(b), Some(r), act, &mut y).unwrap();
    y
}

fn close(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-4 * w.abs().max(1.0),
            "{what}: element {i}: {g} vs {w}"
        );
    }
}

fn check_conv(c: Conv2dParams, relu: bool) {
    let plane_in = c.in_h * c.in_w;
    let plane_out = c.out_h() * c.out_w();
    let x = values(c.batch * c.in_channels * plane_in, 1);
    let w = values(c.out_channels * c.in_channels * c.kernel_h * c.kernel_w, 2);
    let b = values(c.out_channels, 3);
    let r = values(c.batch * c.out_channels * plane_out, 4);
    let want = expected(&c, &x, &w, &b, &r, relu);
    for isa in Isa::supported() {
        for block in NCHWC_BLOCKS {
            for input_blocked in [true, false] {
                let p = NchwcConvParams {
                    conv: c,
                    block,
                    input_blocked,
                };
                let what = format!("{isa} c={block} blocked_in={input_blocked} {c:?}");
                let xin = if input_blocked {
                    let mut xb = vec![f32::NAN; p.input_len()];
                    to_blocked(isa, c.batch, c.in_channels, plane_in, block, &x, &mut xb).unwrap();
                    xb
                } else {
                    x.clone()
                };
                let mut rb = vec![0.0; p.output_len()];
                to_blocked(isa, c.batch, c.out_channels, plane_out, block, &r, &mut rb).unwrap();
                let mut pw = vec![0.0; packed_nchwc_weights_len(&p)];
                pack_nchwc_weights(&p, &w, &mut pw).unwrap();
                let mut yb = vec![f32::NAN; p.output_len()];
                conv2d_nchwc(isa, &p, &xin, &pw, Some(&b), Some(&rb), relu, &mut yb).unwrap();
                // Padding lanes of the last block are zero.
                let cbo = p.out_blocks();
                for img in 0..c.batch {
                    for pix in 0..plane_out {
                        for l in c.out_channels - (cbo - 1) * block..block {
                            let i = ((img * cbo + cbo - 1) * plane_out + pix) * block + l;
                            assert_eq!(yb[i], 0.0, "{what}: padding lane {l}");
                        }
                    }
                }
                let mut y = vec![0.0; want.len()];
                from_blocked(isa, c.batch, c.out_channels, plane_out, block, &yb, &mut y).unwrap();
                close(&what, &y, &want);
            }
        }
    }
}

#[test]
fn pointwise_convs_match_im2col() {
    check_conv(params(32, (7, 9), 48, 1, 1, 0), true);
    check_conv(params(20, (5, 5), 12, 1, 1, 0), false);
    // Strided 1×1 (ResNet downsample).
    check_conv(params(16, (8, 8), 40, 1, 2, 0), false);
}

#[test]
fn three_by_three_convs_match_im2col() {
    check_conv(params(16, (14, 14), 32, 3, 1, 1), true);
    check_conv(params(24, (9, 17), 16, 3, 2, 1), true);
    check_conv(params(8, (3, 3), 5, 3, 1, 1), false);
    // Several row tiles and several column tiles per plane.
    check_conv(params(16, (31, 29), 24, 3, 1, 1), true);
}

#[test]
fn stem_seven_by_seven_stride_two_matches_im2col() {
    check_conv(params(3, (30, 30), 16, 7, 2, 3), true);
    check_conv(params(3, (21, 19), 24, 7, 2, 3), false);
}

#[test]
fn dilated_and_asymmetric_padding_match_im2col() {
    let mut c = params(16, (12, 11), 16, 3, 1, 2);
    c.dilation_h = 2;
    c.dilation_w = 2;
    c.pad_bottom = 1;
    check_conv(c, true);
}

#[test]
fn max_pool_on_blocks_matches_plain() {
    for (channels, ceil) in [(16, false), (20, true), (5, false)] {
        let p = Pool2dParams {
            batch: 2,
            channels,
            in_h: 11,
            in_w: 10,
            kernel_h: 3,
            kernel_w: 3,
            stride_h: 2,
            stride_w: 2,
            pad_top: 1,
            pad_left: 1,
            pad_bottom: 1,
            pad_right: 1,
            dilation_h: 1,
            dilation_w: 1,
            ceil_mode: ceil,
        };
        let (ip, op) = (p.in_h * p.in_w, p.out_h() * p.out_w());
        let x = values(p.batch * channels * ip, 5);
        let mut want = vec![0.0; p.batch * channels * op];
        max_pool2d(Isa::Portable, &p, &x, &mut want).unwrap();
        for isa in Isa::supported() {
            for block in NCHWC_BLOCKS {
                let mut xb = vec![0.0; blocked_len(p.batch, channels, ip, block)];
                to_blocked(isa, p.batch, channels, ip, block, &x, &mut xb).unwrap();
                let mut yb = vec![f32::NAN; blocked_len(p.batch, channels, op, block)];
                max_pool2d_nchwc(isa, &p, block, &xb, &mut yb).unwrap();
                let mut y = vec![0.0; want.len()];
                from_blocked(isa, p.batch, channels, op, block, &yb, &mut y).unwrap();
                assert_eq!(y, want, "{isa} c={block} C={channels}");
            }
        }
    }
}

#[test]
fn reorder_round_trips_and_zero_pads() {
    let x = values(2 * 19 * 6, 6);
    for block in NCHWC_BLOCKS {
        let mut xb = vec![f32::NAN; blocked_len(2, 19, 6, block)];
        to_blocked(Isa::best(), 2, 19, 6, block, &x, &mut xb).unwrap();
        let cbn = 19usize.div_ceil(block);
        assert!(xb.chunks(block).enumerate().all(|(i, lanes)| {
            let cb = (i / 6) % cbn;
            lanes
                .iter()
                .enumerate()
                .all(|(l, v)| cb * block + l < 19 || *v == 0.0)
        }));
        let mut back = vec![0.0; x.len()];
        from_blocked(Isa::best(), 2, 19, 6, block, &xb, &mut back).unwrap();
        assert_eq!(back, x);
    }
}

#[test]
fn bad_inputs_are_errors() {
    let c = params(16, (8, 8), 16, 3, 1, 1);
    let p = NchwcConvParams {
        conv: c,
        block: 16,
        input_blocked: true,
    };
    let (x, w) = (
        vec![0.0; p.input_len()],
        vec![0.0; packed_nchwc_weights_len(&p)],
    );
    let mut y = vec![0.0; p.output_len() - 1];
    let err = conv2d_nchwc(Isa::best(), &p, &x, &w, None, None, false, &mut y).unwrap_err();
    assert!(matches!(
        err,
        KernelError::BufferTooSmall {
            what: "nchwc conv output",
            ..
        }
    ));
    let bad = NchwcConvParams { block: 4, ..p };
    assert!(bad.validate().unwrap_err().to_string().contains("block 4"));
    let grouped = NchwcConvParams {
        conv: Conv2dParams { groups: 2, ..c },
        ..p
    };
    assert!(grouped
        .validate()
        .unwrap_err()
        .to_string()
        .contains("groups 2"));
    let mut yb = vec![0.0; 10];
    assert!(to_blocked(Isa::best(), 1, 3, 4, 12, &[0.0; 12], &mut yb).is_err());
}

/// An input of height or width 0 whose padding still gives output pixels (every tap is padding):
/// the output is the epilogue on zero, as the im2col conv gives. The interior window's bound
/// underflowed (`input - 1`), found by the plan fuzzer.
#[test]
fn empty_inputs_with_padding_match_im2col() {
    for (hw, k) in [((0, 3), 1), ((3, 0), 2), ((0, 0), 1)] {
        check_conv(params(5, hw, 20, k, 1, 1), false);
        check_conv(params(16, hw, 3, k, 1, 1), true);
    }
}
