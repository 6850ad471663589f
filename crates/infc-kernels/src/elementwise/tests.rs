//! Elementwise tests: broadcasting binary ops on every ISA against a scalar f64 reference (same
//! shape, scalar, row, column and general broadcasts, odd lengths), unary ops including the vector
//! transcendentals, clip and the per-channel affine transform.

use super::*;
use crate::gemm::tests::rand_vec;
use crate::math::tests::erf64;
use crate::Isa;

fn numel(s: &[usize]) -> usize {
    s.iter().product()
}

fn reference(
    op: BinaryKind,
    out: &[usize],
    a: &[f32],
    sa: &[usize],
    b: &[f32],
    sb: &[usize],
) -> Vec<f32> {
    (0..numel(out))
        .map(|flat| {
            let (mut rem, mut oa, mut ob) = (flat, 0, 0);
            for d in (0..out.len()).rev() {
                let i = rem % out[d];
                rem /= out[d];
                oa += i * sa[d];
                ob += i * sb[d];
            }
            let (x, z) = (a[oa] as f64, b[ob] as f64);
            (match op {
                BinaryKind::Add => x + z,
                BinaryKind::Sub => x - z,
                BinaryKind::Mul => x * z,
                BinaryKind::Div => x / z,
                BinaryKind::Pow => x.powf(z),
                BinaryKind::Max => x.max(z),
                BinaryKind::Min => x.min(z),
            }) as f32
        })
        .collect()
}

#[test]
fn broadcast_strides_follow_numpy() {
    assert_eq!(broadcast_strides(&[3, 1], &[2, 3, 4]).unwrap(), [0, 1, 0]);
    assert_eq!(broadcast_strides(&[4], &[2, 3, 4]).unwrap(), [0, 0, 1]);
    assert_eq!(
        broadcast_strides(&[2, 3, 4], &[2, 3, 4]).unwrap(),
        [12, 4, 1]
    );
    assert_eq!(broadcast_strides(&[], &[5]).unwrap(), [0]);
    assert_eq!(
        broadcast_strides(&[3], &[4]).unwrap_err().to_string(),
        "broadcast: input shape [3] does not broadcast to [4]"
    );
}

#[test]
fn binary_matches_reference_every_isa() {
    // The last three run in parallel: one coalesced row (split by columns), and few long rows with
    // a per-row scalar or a shared row as `b` (columns split per row, broadcast offsets).
    let shapes: [(&[usize], &[usize], &[usize]); 10] = [
        (&[37], &[37], &[37]),
        (&[2, 3, 33], &[2, 3, 33], &[1]),
        (&[2, 3, 33], &[], &[2, 3, 33]),
        (&[4, 17], &[4, 17], &[17]),
        (&[4, 17], &[4, 1], &[4, 17]),
        (&[2, 5, 3], &[5, 1], &[2, 1, 3]),
        (&[128, 768], &[128, 768], &[768]),
        (&[300, 300], &[300, 300], &[300, 300]),
        (&[2, 70001], &[2, 70001], &[2, 1]),
        (&[3, 40000], &[3, 40000], &[40000]),
    ];
    let ops = [
        BinaryKind::Add,
        BinaryKind::Sub,
        BinaryKind::Mul,
        BinaryKind::Div,
        BinaryKind::Pow,
        BinaryKind::Max,
        BinaryKind::Min,
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for isa in Isa::supported() {
        for (out, sa_shape, sb_shape) in shapes {
            let sa = broadcast_strides(sa_shape, out).unwrap();
            let sb = broadcast_strides(sb_shape, out).unwrap();
            let a: Vec<f32> = rand_vec(numel(sa_shape).max(1), 1)
                .iter()
                .map(|v| v.abs() + 0.5)
                .collect();
            let b: Vec<f32> = rand_vec(numel(sb_shape).max(1), 2)
                .iter()
                .map(|v| v * 2.0 + 0.1)
                .collect();
            for op in ops {
                let mut y = vec![f32::NAN; numel(out)];
                pool.install(|| binary(isa, op, out, &a, &sa, &b, &sb, &mut y))
                    .unwrap();
                let want = reference(op, out, &a, &sa, &b, &sb);
                for (i, (g, w)) in y.iter().zip(&want).enumerate() {
                    assert!(
                        (g - w).abs() <= 2e-6 * w.abs().max(1.0),
                        "{isa} {op:?} {out:?} at {i}: {g} vs {w}"
                    );
                }
            }
        }
    }
}

#[test]
fn pow_fast_paths_and_nan_propagation() {
    let a = [-2.0f32, 0.5, 3.0, 4.0];
    for isa in Isa::supported() {
        for (e, f) in [
            (2.0f32, (|x: f32| x * x) as fn(f32) -> f32),
            (3.0, |x| x * x * x),
            (0.5, f32::sqrt),
            (-1.0, |x| 1.0 / x),
            (1.0, |x| x),
        ] {
            let mut y = [0.0; 4];
            binary(isa, BinaryKind::Pow, &[4], &a, &[1], &[e], &[0], &mut y).unwrap();
            for (g, x) in y.iter().zip(&a) {
                let w = f(*x);
                assert!(g == &w || (g.is_nan() && w.is_nan()), "pow {e}: {g} vs {w}");
            }
        }
        let mut y = [0.0; 2];
        binary(
            isa,
            BinaryKind::Max,
            &[2],
            &[f32::NAN, 1.0],
            &[1],
            &[0.0, f32::NAN],
            &[1],
            &mut y,
        )
        .unwrap();
        assert!(y[0].is_nan() && y[1].is_nan());
    }
}

#[test]
fn binary_errors() {
    let mut y = [0.0; 4];
    let err = binary(
        Isa::best(),
        BinaryKind::Add,
        &[4],
        &[0.0; 3],
        &[1],
        &[0.0],
        &[0],
        &mut y,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary input a: buffer holds 3 elements but the shape and strides need 4"
    );
    let err = binary(
        Isa::best(),
        BinaryKind::Add,
        &[2, 2],
        &[0.0; 4],
        &[1],
        &[0.0],
        &[0],
        &mut y,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "binary: stride lists must have 2 entries (the output rank)"
    );
}

fn unary64(op: UnaryKind, x: f64) -> f64 {
    match op {
        UnaryKind::Relu => x.max(0.0),
        UnaryKind::Sqrt => x.sqrt(),
        UnaryKind::Erf => erf64(x),
        UnaryKind::Tanh => x.tanh(),
        UnaryKind::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        UnaryKind::Exp => x.exp(),
        UnaryKind::Log => x.ln(),
        UnaryKind::Neg => -x,
        UnaryKind::Abs => x.abs(),
        UnaryKind::Reciprocal => 1.0 / x,
        UnaryKind::Floor => x.floor(),
        UnaryKind::Ceil => x.ceil(),
        UnaryKind::Sin => x.sin(),
        UnaryKind::Cos => x.cos(),
        UnaryKind::GeluErf => 0.5 * x * (1.0 + erf64(x / 2f64.sqrt())),
        UnaryKind::GeluTanh => {
            0.5 * x
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh())
        }
    }
}

#[test]
fn unary_matches_reference_every_isa() {
    use UnaryKind::*;
    let ops = [
        Relu, Sqrt, Erf, Tanh, Sigmoid, Exp, Log, Neg, Abs, Reciprocal, Floor, Ceil, Sin, Cos,
        GeluErf, GeluTanh,
    ];
    for isa in Isa::supported() {
        for len in [1, 7, 16, 33, 1000] {
            let x: Vec<f32> = rand_vec(len, len as u64).iter().map(|v| v * 8.0).collect();
            for op in ops {
                let input: Vec<f32> = if matches!(op, Sqrt | Log) {
                    x.iter().map(|v| v.abs() + 1e-3).collect()
                } else {
                    x.clone()
                };
                let mut y = vec![0.0; len];
                unary(isa, op, &input, &mut y).unwrap();
                let mut z = input.clone();
                unary_inplace(isa, op, &mut z);
                assert_eq!(y, z, "{isa} {op:?}: in-place differs");
                for (i, (&g, &xi)) in y.iter().zip(&input).enumerate() {
                    let w = unary64(op, xi as f64);
                    // GELU loses relative precision for x ≪ 0 (1 + erf cancels); compare to max(|y|, 1).
                    let floor = if matches!(op, GeluErf | GeluTanh) {
                        1.0
                    } else {
                        1e-30
                    };
                    let err = (g as f64 - w).abs() / w.abs().max(floor);
                    assert!(err < 2e-6, "{isa} {op:?} at {i} (x={xi}): {g} vs {w}");
                }
            }
        }
    }
    assert!(unary(Isa::best(), Exp, &[0.0; 3], &mut [0.0; 2]).is_err());
}

/// What the unfused graph gives at the ends, on every path (whole vectors and tails): erf is ±1
/// exactly from |x| = 4 on, so `0.5·x·(1 + erf(x/√2))` is 0 for large negative x and NaN for −∞
/// (`−∞·0`); the tanh form alike. Before, erf(±4) was ±(1 − 2⁻²³): GELU gave −6e-4 at −1e4 and
/// −∞ at −∞ (found by `fusion_fuzz`).
#[test]
fn erf_and_gelu_saturate_as_the_unfused_graph_every_isa() {
    use UnaryKind::*;
    let ends = [
        f32::NEG_INFINITY,
        -f32::MAX,
        -1e30,
        -1e4,
        -20.0,
        f32::INFINITY,
        f32::MAX,
        1e30,
        1e4,
        20.0,
        f32::NAN,
    ];
    for isa in Isa::supported() {
        for len in [ends.len(), 16, 37] {
            let x: Vec<f32> = (0..len).map(|i| ends[i % ends.len()]).collect();
            for op in [Erf, GeluErf, GeluTanh] {
                let mut y = vec![0.0; len];
                unary(isa, op, &x, &mut y).unwrap();
                for (&xi, &g) in x.iter().zip(&y) {
                    let want = match op {
                        _ if xi.is_nan() || xi == f32::NEG_INFINITY && op != Erf => f32::NAN,
                        Erf => xi.signum(),
                        _ if xi > 0.0 => xi,
                        _ => 0.0,
                    };
                    let ok = if want.is_nan() { g.is_nan() } else { g == want };
                    assert!(ok, "{isa} {op:?}({xi}) = {g}, want {want}");
                }
            }
        }
    }
}

#[test]
fn vector_paths_match_portable_bit_for_bit_on_cheap_ops_and_closely_on_transcendentals() {
    let x: Vec<f32> = rand_vec(4096, 9).iter().map(|v| v * 30.0).collect();
    for op in [
        UnaryKind::Exp,
        UnaryKind::Tanh,
        UnaryKind::Erf,
        UnaryKind::Sigmoid,
    ] {
        let mut base = vec![0.0; x.len()];
        unary(Isa::Portable, op, &x, &mut base).unwrap();
        for isa in Isa::supported() {
            let mut y = vec![0.0; x.len()];
            unary(isa, op, &x, &mut y).unwrap();
            for (g, w) in y.iter().zip(&base) {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1e-30),
                    "{isa} {op:?}: {g} vs {w}"
                );
            }
        }
    }
}

#[test]
fn clip_and_affine() {
    for isa in Isa::supported() {
        let x = [-3.0, -0.5, 0.0, 2.0, 7.0, f32::NAN];
        let mut y = [0.0; 6];
        clip(isa, &x, -1.0, 6.0, &mut y).unwrap();
        assert_eq!(&y[..5], &[-1.0, -0.5, 0.0, 2.0, 6.0]);
        assert!(y[5].is_nan());
        // [outer 2, channels 3, inner 2]
        let x: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let mut y = vec![0.0; 12];
        affine_channels(
            isa,
            &x,
            &[1.0, 2.0, 3.0],
            &[0.5, 0.0, -1.0],
            2,
            3,
            2,
            &mut y,
        )
        .unwrap();
        assert_eq!(
            y,
            [0.5, 1.5, 4.0, 6.0, 11.0, 14.0, 6.5, 7.5, 16.0, 18.0, 29.0, 32.0]
        );
        assert!(affine_channels(isa, &x, &[1.0; 2], &[0.0; 3], 2, 3, 2, &mut y).is_err());
    }
}
