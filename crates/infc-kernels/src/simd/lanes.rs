//! Horizontal reductions written so the compiler can vectorise them: 16 independent partial
//! accumulators (one AVX-512 register, two AVX2 ones) instead of one serial chain, whose latency
//! bound (4 cycles per add) made row sums and maxima the slowest part of LayerNorm and softmax.
//! `#[inline(always)]` so each `multiversion!` copy inlines them at its own vector width. The
//! summation order differs from a left fold, within f32 rounding.

const LANES: usize = 16;

/// `Σ x`.
#[inline(always)]
pub(crate) fn sum(x: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l];
        }
    }
    fold_sum(acc) + tail.iter().sum::<f32>()
}

/// `Σ (x − shift)`.
#[inline(always)]
pub(crate) fn sum_dev(x: &[f32], shift: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += c[l] - shift;
        }
    }
    fold_sum(acc) + tail.iter().map(|&v| v - shift).sum::<f32>()
}

/// `Σ (x − mean)²`.
#[inline(always)]
pub(crate) fn sum_sq_dev(x: &[f32], mean: f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            let d = c[l] - mean;
            acc[l] += d * d;
        }
    }
    fold_sum(acc) + tail.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>()
}

/// `max x` (−∞ for an empty slice; NaN entries are ignored).
#[inline(always)]
pub(crate) fn max(x: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for c in chunks {
        for l in 0..LANES {
            acc[l] = if c[l] > acc[l] { c[l] } else { acc[l] };
        }
    }
    let mut m = tail
        .iter()
        .fold(f32::NEG_INFINITY, |m, &v| if v > m { v } else { m });
    for v in acc {
        m = if v > m { v } else { m };
    }
    m
}

#[inline(always)]
fn fold_sum(acc: [f32; LANES]) -> f32 {
    // Pairwise, like the vector reduction the compiler emits.
    let mut w = acc;
    let mut n = LANES;
    while n > 1 {
        n /= 2;
        for l in 0..n {
            w[l] += w[l + n];
        }
    }
    w[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_reductions_match_serial_folds() {
        for len in [0usize, 1, 15, 16, 17, 100, 768] {
            let x: Vec<f32> = (0..len)
                .map(|i| ((i * 37 % 101) as f32) * 0.25 - 7.0)
                .collect();
            let serial: f32 = x.iter().sum();
            assert!(
                (sum(&x) - serial).abs() <= 1e-4 * serial.abs().max(1.0),
                "sum {len}"
            );
            let mean = if len > 0 { serial / len as f32 } else { 0.0 };
            let sq: f32 = x.iter().map(|v| (v - mean) * (v - mean)).sum();
            assert!(
                (sum_sq_dev(&x, mean) - sq).abs() <= 1e-4 * sq.max(1.0),
                "sq {len}"
            );
            let m = x.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
            assert_eq!(max(&x), m, "max {len}");
        }
    }
}
