//! Compile-time weight packing for [`super::conv2d_nchwc`]: ONNX `[C_out][C_in][kh][kw]` →
//! `[C_out/c][C_in blocks][kh][kw][c_in][c_out]`, zero-padded in both channel dimensions, so the
//! microkernel reads the `c` output channels of one (input channel, tap) as contiguous vectors.

use super::NchwcConvParams;
use crate::error::{check_len, Result};

/// Floats of the packed weights of `p`.
pub fn packed_nchwc_weights_len(p: &NchwcConvParams) -> usize {
    let c = &p.conv;
    p.out_blocks() * p.in_blocks() * c.kernel_h * c.kernel_w * p.in_lanes() * p.block
}

/// Packs ONNX conv weights `w: [out_channels][in_channels][kh][kw]` into `out`
/// (length [`packed_nchwc_weights_len`]).
pub fn pack_nchwc_weights(p: &NchwcConvParams, w: &[f32], out: &mut [f32]) -> Result<()> {
    p.validate()?;
    let c = &p.conv;
    let (cin, cout, kh, kw) = (c.in_channels, c.out_channels, c.kernel_h, c.kernel_w);
    check_len("nchwc conv weights", w.len(), cout * cin * kh * kw)?;
    check_len(
        "nchwc packed weights",
        out.len(),
        packed_nchwc_weights_len(p),
    )?;
    let (b, bi, cbi) = (p.block, p.in_lanes(), p.in_blocks());
    let mut i = 0;
    for ob in 0..p.out_blocks() {
        for ib in 0..cbi {
            for ky in 0..kh {
                for kx in 0..kw {
                    for ci in 0..bi {
                        let ic = ib * bi + ci;
                        for co in 0..b {
                            let oc = ob * b + co;
                            out[i] = if oc < cout && ic < cin {
                                w[((oc * cin + ic) * kh + ky) * kw + kx]
                            } else {
                                0.0
                            };
                            i += 1;
                        }
                    }
                }
            }
        }
    }
    Ok(())
}
