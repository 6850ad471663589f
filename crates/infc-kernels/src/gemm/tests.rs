//! GEMM tests: every supported ISA against a naive f64 reference, odd sizes, edge tiles, packed and
//! strided operands, every epilogue, batched, errors, and a proptest over random shapes.

use super::*;
use crate::math::tests::erf64;
use proptest::prelude::*;

/// Deterministic pseudo-random values in [-1, 1).
pub(crate) fn rand_vec(len: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

fn act64(v: f64, act: Activation) -> f64 {
    match act {
        Activation::None => v,
        Activation::Relu => v.max(0.0),
        Activation::GeluErf => 0.5 * v * (1.0 + erf64(v / 2f64.sqrt())),
        Activation::GeluTanh => {
            0.5 * v
                * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (v + 0.044715 * v * v * v)).tanh())
        }
    }
}

/// Naive reference: `act(alpha·A·B + [C0] + bias + residual)` in f64.
#[allow(clippy::too_many_arguments)]
fn reference(
    m: usize,
    n: usize,
    k: usize,
    a: &MatRef<'_>,
    b: &MatRef<'_>,
    c0: &[f32],
    ldc: usize,
    epi: &Epilogue<'_>,
) -> Vec<f32> {
    let mut c = c0.to_vec();
    for i in 0..m {
        for j in 0..n {
            let mut s = 0f64;
            for p in 0..k {
                s += a.data[i * a.row_stride + p * a.col_stride] as f64
                    * b.data[p * b.row_stride + j * b.col_stride] as f64;
            }
            let mut v = epi.alpha as f64 * s;
            if epi.accumulate {
                v += c0[i * ldc + j] as f64;
            }
            match epi.bias {
                Some(Bias::PerColumn(bb)) => v += bb[j] as f64,
                Some(Bias::PerRow(bb)) => v += bb[i] as f64,
                None => {}
            }
            if let Some((r, ld)) = epi.residual {
                v += r[i * ld + j] as f64;
            }
            c[i * ldc + j] = act64(v, epi.activation) as f32;
        }
    }
    c
}

fn assert_close(got: &[f32], want: &[f32], k: usize, what: &str) {
    let tol = 1e-5 * (k as f32 + 1.0).sqrt() * 4.0 + 1e-6;
    for (idx, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs() / w.abs().max(1.0);
        assert!(
            err <= tol,
            "{what}: index {idx}: got {g}, want {w} (tol {tol})"
        );
    }
}

#[derive(Clone, Copy, Debug)]
struct Case {
    m: usize,
    n: usize,
    k: usize,
    trans_a: bool,
    trans_b: bool,
    packed_a: bool,
    packed_b: bool,
}

fn run_case(isa: Isa, cs: Case, epi_kind: usize, seed: u64) {
    let Case {
        m,
        n,
        k,
        trans_a,
        trans_b,
        packed_a,
        packed_b,
    } = cs;
    let a_buf = rand_vec(m * k + 3, seed);
    let b_buf = rand_vec(k * n + 5, seed + 1);
    let a = if trans_a {
        MatRef::col_major(&a_buf, m)
    } else {
        MatRef::row_major(&a_buf, k)
    };
    let b = if trans_b {
        MatRef::col_major(&b_buf, k)
    } else {
        MatRef::row_major(&b_buf, n)
    };
    let ldc = n + 3;
    let c0 = rand_vec(m * ldc, seed + 2);
    let bias_c = rand_vec(n, seed + 3);
    let bias_r = rand_vec(m, seed + 4);
    let res = rand_vec(m * (n + 1), seed + 5);
    let mut epi = Epilogue::none();
    match epi_kind {
        0 => {}
        1 => {
            epi.bias = Some(Bias::PerColumn(&bias_c));
            epi.activation = Activation::Relu;
        }
        2 => {
            epi.bias = Some(Bias::PerRow(&bias_r));
            epi.residual = Some((&res, n + 1));
            epi.activation = Activation::Relu;
        }
        3 => {
            epi.bias = Some(Bias::PerColumn(&bias_c));
            epi.activation = Activation::GeluErf;
        }
        4 => {
            epi.alpha = 0.125;
            epi.accumulate = true;
            epi.activation = Activation::GeluTanh;
        }
        _ => {
            epi.residual = Some((&res, n + 1));
        }
    }
    let mut pa = vec![0.0; packed_a_len(m, k)];
    let mut pb = vec![0.0; packed_b_len(k, n)];
    let a_op = if packed_a {
        pack_a(m, k, &a_buf, if trans_a { m } else { k }, trans_a, &mut pa).unwrap();
        AOperand::Packed(&pa)
    } else {
        AOperand::Strided(a)
    };
    let b_op = if packed_b {
        pack_b(k, n, &b_buf, if trans_b { k } else { n }, trans_b, &mut pb).unwrap();
        BOperand::Packed(&pb)
    } else {
        BOperand::Strided(b)
    };
    let mut c = c0.clone();
    sgemm(isa, m, n, k, a_op, b_op, &mut c, ldc, &epi).unwrap();
    let want = reference(m, n, k, &a, &b, &c0, ldc, &epi);
    // Padding columns of C (j ≥ n) must be untouched.
    for i in 0..m {
        for j in n..ldc {
            assert_eq!(
                c[i * ldc + j],
                c0[i * ldc + j],
                "{isa} {cs:?}: wrote padding ({i},{j})"
            );
        }
    }
    assert_close(&c, &want, k, &format!("{isa} {cs:?} epi {epi_kind}"));
}

#[test]
fn odd_sizes_every_isa_and_layout() {
    let sizes = [1, 7, 17, 33, 100];
    for isa in Isa::supported() {
        let mut seed = 0;
        for &m in &sizes {
            for &n in &sizes {
                for &k in &[1, 17, 100] {
                    seed += 1;
                    let flags = seed as usize;
                    let cs = Case {
                        m,
                        n,
                        k,
                        trans_a: flags & 1 != 0,
                        trans_b: flags & 2 != 0,
                        packed_a: flags & 4 != 0,
                        packed_b: flags & 8 != 0,
                    };
                    run_case(isa, cs, flags % 6, seed);
                }
            }
        }
    }
}

#[test]
fn every_epilogue_on_edge_tiles() {
    for isa in Isa::supported() {
        for epi in 0..6 {
            for (m, n) in [(13, 31), (12, 32), (25, 47), (5, 16), (1, 1)] {
                let cs = Case {
                    m,
                    n,
                    k: 9,
                    trans_a: false,
                    trans_b: false,
                    packed_a: false,
                    packed_b: true,
                };
                run_case(isa, cs, epi, (m * n + epi) as u64);
            }
        }
    }
}

#[test]
fn blocking_boundaries_and_parallel_split() {
    // k > KC, m > MC, n > NC exercise every block loop; large enough to go parallel.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    for isa in Isa::supported() {
        for (m, n, k) in [(250, 70, 300), (30, 3100, 20), (61, 200, 520)] {
            let cs = Case {
                m,
                n,
                k,
                trans_a: false,
                trans_b: false,
                packed_a: false,
                packed_b: true,
            };
            pool.install(|| run_case(isa, cs, 2, 7));
            let cs = Case {
                packed_a: true,
                packed_b: false,
                trans_b: true,
                ..cs
            };
            pool.install(|| run_case(isa, cs, 1, 8));
        }
    }
}

#[test]
fn zero_k_applies_epilogue_only() {
    for isa in Isa::supported() {
        let bias = [1.0, -2.0, 3.0];
        let mut c = vec![9.0; 6];
        let epi = Epilogue {
            bias: Some(Bias::PerColumn(&bias)),
            activation: Activation::Relu,
            ..Epilogue::none()
        };
        sgemm(
            isa,
            2,
            3,
            0,
            AOperand::Strided(MatRef::row_major(&[], 0)),
            BOperand::Packed(&[]),
            &mut c,
            3,
            &epi,
        )
        .unwrap();
        assert_eq!(c, [1.0, 0.0, 3.0, 1.0, 0.0, 3.0]);
    }
}

#[test]
fn isas_agree_closely() {
    let (m, n, k) = (37, 45, 129);
    let a = rand_vec(m * k, 1);
    let b = rand_vec(k * n, 2);
    let mut outs = vec![];
    for isa in Isa::supported() {
        let mut c = vec![0.0; m * n];
        let epi = Epilogue {
            activation: Activation::GeluErf,
            ..Epilogue::none()
        };
        sgemm(
            isa,
            m,
            n,
            k,
            AOperand::Strided(MatRef::row_major(&a, k)),
            BOperand::Strided(MatRef::row_major(&b, n)),
            &mut c,
            n,
            &epi,
        )
        .unwrap();
        outs.push(c);
    }
    for o in &outs[1..] {
        assert_close(o, &outs[0], k, "isa vs portable");
    }
}

#[test]
fn errors_name_the_operand() {
    let a = vec![0.0; 6];
    let b = vec![0.0; 6];
    let mut c = vec![0.0; 4];
    let isa = Isa::Portable;
    let a_op = AOperand::Strided(MatRef::row_major(&a, 3));
    let b_op = BOperand::Strided(MatRef::row_major(&b, 2));
    let err = sgemm(isa, 3, 2, 3, a_op, b_op, &mut c, 2, &Epilogue::none()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "A: buffer holds 6 elements but the shape and strides need 9"
    );
    let err = sgemm(isa, 2, 2, 3, a_op, b_op, &mut c[..3], 2, &Epilogue::none()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "C: buffer holds 3 elements but the shape and strides need 4"
    );
    let err = sgemm(
        isa,
        2,
        2,
        3,
        a_op,
        BOperand::Packed(&b),
        &mut c,
        2,
        &Epilogue::none(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "B (packed): buffer holds 6 elements but the shape and strides need 48"
    );
    let epi = Epilogue {
        bias: Some(Bias::PerColumn(&[1.0])),
        ..Epilogue::none()
    };
    let err = sgemm(isa, 2, 2, 3, a_op, b_op, &mut c, 2, &epi).unwrap_err();
    assert_eq!(
        err.to_string(),
        "bias (per column): buffer holds 1 elements but the shape and strides need 2"
    );
    let err = sgemm(isa, 2, 2, 3, a_op, b_op, &mut c, 1, &Epilogue::none()).unwrap_err();
    assert_eq!(err.to_string(), "C: ldc 1 is smaller than n 2");
}

#[test]
fn batched_with_broadcast_and_residual() {
    // A: [2, 3, m, k], B broadcast over dim 0: [1, 3, k, n] (transposed storage), residual [2,3,m,n].
    let (m, n, k) = (5, 7, 6);
    let shape = [2, 3];
    let a = rand_vec(6 * m * k, 11);
    let b = rand_vec(3 * n * k, 12);
    let res = rand_vec(6 * m * n, 13);
    for isa in Isa::supported() {
        let mut c = vec![0.0; 6 * m * n];
        let layout = BatchLayout {
            shape: &shape,
            a_strides: &[3 * m * k, m * k],
            b_strides: &[0, n * k],
            residual_strides: &[3 * m * n, m * n],
            c_stride: m * n,
        };
        let epi = Epilogue {
            alpha: 0.5,
            residual: Some((&res, n)),
            ..Epilogue::none()
        };
        sgemm_batched(
            isa,
            &layout,
            m,
            n,
            k,
            AOperand::Strided(MatRef::row_major(&a, k)),
            BOperand::Strided(MatRef::col_major(&b, k)),
            &mut c,
            n,
            &epi,
        )
        .unwrap();
        for bi in 0..6 {
            let am = MatRef::row_major(&a[bi * m * k..], k);
            let bm = MatRef::col_major(&b[(bi % 3) * n * k..], k);
            let e = Epilogue {
                alpha: 0.5,
                residual: Some((&res[bi * m * n..], n)),
                ..Epilogue::none()
            };
            let want = reference(m, n, k, &am, &bm, &vec![0.0; m * n], n, &e);
            assert_close(&c[bi * m * n..(bi + 1) * m * n], &want, k, "batched");
        }
        let bad = BatchLayout {
            a_strides: &[3 * m * k],
            ..layout
        };
        let err = sgemm_batched(
            isa,
            &bad,
            m,
            n,
            k,
            AOperand::Strided(MatRef::row_major(&a, k)),
            BOperand::Packed(&b),
            &mut c,
            n,
            &Epilogue::none(),
        );
        assert!(err.is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn random_shapes_match_reference(
        m in 1usize..70, n in 1usize..80, k in 0usize..90, flags in 0usize..16, epi in 0usize..6, seed in 0u64..1000
    ) {
        let isas = Isa::supported();
        let isa = isas[(seed as usize) % isas.len()];
        let cs = Case { m, n, k, trans_a: flags & 1 != 0, trans_b: flags & 2 != 0, packed_a: flags & 4 != 0, packed_b: flags & 8 != 0 };
        run_case(isa, cs, epi, seed);
    }
}
