//! Sliding-window geometry shared by Conv and pooling: per spatial axis the input size, kernel,
//! stride, dilation, pads and the resulting output size (floor or ceil mode).

use crate::access::OpResult;

/// One spatial axis of a convolution or pooling window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Axis {
    pub input: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_begin: usize,
    pub pad_end: usize,
    pub output: usize,
}

impl Axis {
    /// An axis that does nothing (size 1, kernel 1): used to lift 1-D/2-D problems to 3-D.
    const TRIVIAL: Axis = Axis {
        input: 1,
        kernel: 1,
        stride: 1,
        dilation: 1,
        pad_begin: 0,
        pad_end: 0,
        output: 1,
    };

    /// Input coordinate read by output position `o` at kernel tap `k`; `None` when it falls in padding.
    pub fn input_at(&self, o: usize, k: usize) -> Option<usize> {
        let i = (o * self.stride + k * self.dilation) as i64 - self.pad_begin as i64;
        (i >= 0 && (i as usize) < self.input).then_some(i as usize)
    }

    /// True when kernel tap `k` of output `o` lies inside the input or its declared padding (not in
    /// the extra region a ceil-mode window may reach past the end padding). The per-tap definition
    /// [`Axis::taps`] is tested against.
    #[cfg(test)]
    pub fn within_padded(&self, o: usize, k: usize) -> bool {
        o * self.stride + k * self.dilation < self.pad_begin + self.input + self.pad_end
    }

    /// The kernel taps of output `o` that [`Axis::input_at`] maps inside the input (a range of
    /// `k`), and how many taps [`Axis::within_padded`] accepts: the same answers as asking every
    /// tap, without a walk over the kernel (whose size comes from the model).
    pub fn taps(&self, o: usize) -> (std::ops::Range<usize>, usize) {
        let (start, d) = ((o * self.stride) as i128, self.dilation.max(1) as i128);
        let kernel = self.kernel as i128;
        // Taps k ≥ 0 with `start + k·d < limit`, capped at the kernel.
        let below = |limit: i128| {
            if limit <= start {
                0
            } else {
                ((limit - start + d - 1) / d).min(kernel)
            }
        };
        let begin = self.pad_begin as i128;
        let lo = if start >= begin {
            0
        } else {
            ((begin - start + d - 1) / d).min(kernel)
        };
        let hi = below(begin + self.input as i128).max(lo);
        let padded = below(begin + self.input as i128 + self.pad_end as i128);
        (lo as usize..hi as usize, padded as usize)
    }
}

/// Geometry of every spatial axis. `strides`/`dilations` may be empty (all 1) and `pads` empty (all 0);
/// otherwise they must have one entry per spatial axis (`pads`: begins then ends).
///
/// Output size: `floor((in + pads − dilation·(kernel−1) − 1) / stride) + 1`, or with `ceil_mode` the
/// ceiling, minus one when the last window would start inside the end padding (PyTorch's and
/// onnxruntime's rule).
pub(crate) fn spatial_axes(
    input: &[usize],
    kernel: &[usize],
    strides: &[usize],
    pads: &[usize],
    dilations: &[usize],
    ceil_mode: bool,
) -> OpResult<Vec<Axis>> {
    let n = input.len();
    let check = |name: &str, len: usize, want: usize| {
        if len != want {
            Err(format!(
                "{name} has {len} entries, expected {want} for {n} spatial axes"
            ))
        } else {
            Ok(())
        }
    };
    check("kernel", kernel.len(), n)?;
    if !strides.is_empty() {
        check("strides", strides.len(), n)?;
    }
    if !dilations.is_empty() {
        check("dilations", dilations.len(), n)?;
    }
    if !pads.is_empty() {
        check("pads", pads.len(), 2 * n)?;
    }
    (0..n)
        .map(|i| {
            let stride = strides.get(i).copied().unwrap_or(1);
            let dilation = dilations.get(i).copied().unwrap_or(1);
            let (pad_begin, pad_end) = (pads.get(i).copied().unwrap_or(0), pads.get(n + i).copied().unwrap_or(0));
            let k = kernel[i];
            if stride == 0 || dilation == 0 || k == 0 {
                return Err(format!("spatial axis {i}: kernel, stride and dilation must be positive"));
            }
            let span = dilation * (k - 1) + 1;
            let padded = input[i] + pad_begin + pad_end;
            if padded < span {
                return Err(format!(
                    "spatial axis {i}: window of {span} exceeds the padded input of {padded} ({} + pads {pad_begin}, {pad_end})",
                    input[i]
                ));
            }
            let mut output = if ceil_mode { (padded - span).div_ceil(stride) + 1 } else { (padded - span) / stride + 1 };
            if ceil_mode && (output - 1) * stride >= input[i] + pad_begin {
                output -= 1;
            }
            Ok(Axis { input: input[i], kernel: k, stride, dilation, pad_begin, pad_end, output })
        })
        .collect()
}

/// Lift 1-, 2- or 3-D geometry to exactly three axes by prepending trivial ones.
pub(crate) fn to_3d(axes: &[Axis]) -> OpResult<[Axis; 3]> {
    if axes.len() > 3 {
        return Err(format!(
            "{} spatial axes are not supported (at most 3)",
            axes.len()
        ));
    }
    let mut out = [Axis::TRIVIAL; 3];
    out[3 - axes.len()..].copy_from_slice(axes);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_ceil_output_sizes() {
        // 5 wide, kernel 2, stride 2: floor 2, ceil 3.
        assert_eq!(
            spatial_axes(&[5], &[2], &[2], &[], &[], false).unwrap()[0].output,
            2
        );
        assert_eq!(
            spatial_axes(&[5], &[2], &[2], &[], &[], true).unwrap()[0].output,
            3
        );
        // Ceil window starting in the end padding is dropped: in 4, k 2, s 2, pads (1, 1).
        // padded 6 → ceil((6-2)/2)+1 = 3; last start 4 ≥ 4+1? no → 3 stays.
        assert_eq!(
            spatial_axes(&[4], &[2], &[2], &[1, 1], &[], true).unwrap()[0].output,
            3
        );
        // in 3, k 1, s 2, pads (0, 1): ceil((4-1)/2)+1 = 3, last start 4 ≥ 3 → 2.
        assert_eq!(
            spatial_axes(&[3], &[1], &[2], &[0, 1], &[], true).unwrap()[0].output,
            2
        );
        // Dilation 2, kernel 3 spans 5.
        assert_eq!(
            spatial_axes(&[7], &[3], &[1], &[], &[2], false).unwrap()[0].output,
            3
        );
    }

    #[test]
    fn bad_geometry_errors() {
        let e = spatial_axes(&[2], &[3], &[], &[], &[], false).unwrap_err();
        assert_eq!(
            e,
            "spatial axis 0: window of 3 exceeds the padded input of 2 (2 + pads 0, 0)"
        );
        let e = spatial_axes(&[4, 4], &[3, 3], &[1], &[], &[], false).unwrap_err();
        assert_eq!(e, "strides has 1 entries, expected 2 for 2 spatial axes");
        let e = spatial_axes(&[4], &[3], &[0], &[], &[], false).unwrap_err();
        assert_eq!(
            e,
            "spatial axis 0: kernel, stride and dilation must be positive"
        );
    }

    #[test]
    fn input_at_skips_padding() {
        let a = spatial_axes(&[4], &[3], &[1], &[1, 1], &[], false).unwrap()[0];
        assert_eq!(a.output, 4);
        assert_eq!(a.input_at(0, 0), None);
        assert_eq!(a.input_at(0, 1), Some(0));
        assert_eq!(a.input_at(3, 2), None);
    }

    /// `Axis::taps` answers what asking `input_at` / `within_padded` of every tap answers.
    #[test]
    fn taps_match_every_tap() {
        for input in 0..6 {
            for kernel in 1..6 {
                for dilation in 1..4 {
                    for stride in 1..3 {
                        for (pad_begin, pad_end) in [(0, 0), (2, 0), (0, 1), (3, 3)] {
                            let a = Axis {
                                input,
                                kernel,
                                stride,
                                dilation,
                                pad_begin,
                                pad_end,
                                output: 8,
                            };
                            for o in 0..8 {
                                let inside: Vec<usize> = (0..kernel)
                                    .filter(|&k| a.input_at(o, k).is_some())
                                    .collect();
                                let padded = (0..kernel).filter(|&k| a.within_padded(o, k)).count();
                                let (range, p) = a.taps(o);
                                assert_eq!(range.collect::<Vec<_>>(), inside, "{a:?} o {o}");
                                assert_eq!(p, padded, "{a:?} o {o}");
                            }
                        }
                    }
                }
            }
        }
    }
}
