//! Integer-kernel tests: every supported path against an exact integer reference bit for bit
//! (odd shapes, extreme values, garbage in A's padding, parallel split), the dequantize epilogue
//! against an f64 evaluation of its formula, end-to-end error vs f32 matmul within the
//! quantization bound, quantizer paths bit-identical to the portable one, packing layout and
//! validation, and error messages.

use super::pack::{packed_b8_bytes, packed_b8_len, packed_cols_len};
use super::*;
use crate::gemm::{Activation, Bias};
use crate::math::tests::erf64;
use proptest::prelude::*;

/// Deterministic pseudo-random u64 stream.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn u8s(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
    fn s8s(&mut self, len: usize) -> Vec<i8> {
        (0..len)
            .map(|_| ((self.next() % 255) as i32 - 127) as i8)
            .collect()
    }
    fn f32s(&mut self, len: usize, lo: f32, hi: f32) -> Vec<f32> {
        (0..len)
            .map(|_| lo + (hi - lo) * (self.next() as f32 / (1u64 << 31) as f32))
            .collect()
    }
}

/// Exact `A·B` in i64 (asserted to fit i32) for row-major u8 A and row-major s8 B (`k × n`).
fn reference_s32(m: usize, n: usize, k: usize, a: &[u8], lda: usize, w: &[i8]) -> Vec<i32> {
    let mut c = vec![0i32; m * n];
    for i in 0..m {
        for j in 0..n {
            let s: i64 = (0..k)
                .map(|kk| a[i * lda + kk] as i64 * w[kk * n + j] as i64)
                .sum();
            c[i * n + j] = i32::try_from(s).expect("reference fits i32");
        }
    }
    c
}

fn pack_ones(k: usize, n: usize, w: &[i8]) -> PackedB8 {
    pack_b_s8(k, n, w, n, false, &vec![1.0; n]).unwrap()
}

/// Runs the raw GEMM with padded `lda`/`ldc`, garbage in A's padding and a C sentinel.
fn raw_case(isa: Int8Isa, m: usize, n: usize, k: usize, a: &[u8], lda: usize, w: &[i8]) {
    let packed = pack_ones(k, n, w);
    let ldc = n + 2;
    let mut c = vec![i32::MIN; m * ldc];
    gemm_u8s8_s32(isa, m, n, k, a, lda, &packed.as_ref(), &mut c, ldc).unwrap();
    let want = reference_s32(m, n, k, a, lda, w);
    for i in 0..m {
        assert_eq!(
            &c[i * ldc..i * ldc + n],
            &want[i * n..(i + 1) * n],
            "{isa} m {m} n {n} k {k}: row {i}"
        );
        assert_eq!(
            &c[i * ldc + n..(i + 1) * ldc],
            &[i32::MIN; 2],
            "{isa}: wrote C padding"
        );
    }
}

#[test]
fn raw_every_path_bit_exact_on_odd_shapes() {
    let mut rng = Lcg(1);
    for isa in Int8Isa::supported() {
        for &m in &[1, 3, 17, 33, 100] {
            for &n in &[1, 3, 17, 33, 65, 100] {
                for &k in &[1, 3, 17, 65, 100] {
                    let lda = a_row_len(k) + 3;
                    // The bytes past k are garbage on purpose: packed B is zero there.
                    let a = rng.u8s(m * lda);
                    let w = rng.s8s(k * n);
                    raw_case(isa, m, n, k, &a, lda, &w);
                }
            }
        }
    }
}

#[test]
fn raw_extreme_values_up_to_k_max() {
    for isa in Int8Isa::supported() {
        for &(m, n, k) in &[(3, 17, 1), (9, 49, 100), (2, 20, 4097), (1, 16, K_MAX)] {
            let a = vec![255u8; m * a_row_len(k)];
            for v in [127i8, -127] {
                let packed = pack_ones(k, n, &vec![v; k * n]);
                let mut c = vec![0; m * n];
                gemm_u8s8_s32(isa, m, n, k, &a, a_row_len(k), &packed.as_ref(), &mut c, n).unwrap();
                let want = 255 * v as i64 * k as i64;
                assert!(
                    c.iter().all(|&x| x as i64 == want),
                    "{isa} k {k} v {v}: {} != {want}",
                    c[0]
                );
            }
        }
        // Alternating signs within each 4-group and pair: exercises every lane pairing.
        let (m, n, k) = (5, 33, 67);
        let a = vec![255u8; m * a_row_len(k)];
        let w: Vec<i8> = (0..k * n)
            .map(|i| if (i / n + i % n) % 2 == 0 { 127 } else { -127 })
            .collect();
        raw_case(isa, m, n, k, &a, a_row_len(k), &w);
    }
}

#[test]
fn raw_parallel_split_matches_reference() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    let mut rng = Lcg(7);
    for isa in Int8Isa::supported() {
        // (130, 300, 3072): columns split over three row blocks of depth 3072.
        for &(m, n, k) in &[
            (300, 70, 130),
            (20, 700, 300),
            (1, 2000, 64),
            (130, 300, 3072),
        ] {
            let lda = a_row_len(k);
            let a = rng.u8s(m * lda);
            let w = rng.s8s(k * n);
            pool.install(|| raw_case(isa, m, n, k, &a, lda, &w));
        }
    }
}

#[test]
fn zero_k_gives_zero_and_epilogue_only() {
    let packed = pack_ones(0, 3, &[]);
    // Weights read from a plan are re-validated: k = 0 has no data, only zero sums (it panicked
    // with `chunk size must be non-zero`), and nonzero sums are refused.
    let view = PackedB8Ref::new(0, 3, packed.data(), packed.col_sums(), packed.scales()).unwrap();
    assert_eq!((view.k(), view.n(), packed.data().len()), (0, 3, 0));
    let bad_sums = [1; 16];
    let err = PackedB8Ref::new(0, 3, &[], &bad_sums, packed.scales()).unwrap_err();
    assert!(err.to_string().contains("column 0 sum is 1"), "{err}");
    for isa in Int8Isa::supported() {
        let mut c = vec![7; 6];
        gemm_u8s8_s32(isa, 2, 3, 0, &[], 0, &packed.as_ref(), &mut c, 3).unwrap();
        assert_eq!(c, [0; 6]);
        let bias = [1.0, -2.0, 3.0];
        let mut cf = vec![9.0; 6];
        let epi = Epilogue {
            bias: Some(Bias::PerColumn(&bias)),
            activation: Activation::Relu,
            ..Epilogue::none()
        };
        let qa = QuantizedA {
            data: &[],
            ld: 0,
            params: AQuant::PerTensor(QParams::from_range(-1.0, 1.0)),
        };
        gemm_u8s8_f32(isa, 2, 3, 0, &qa, &packed.as_ref(), &mut cf, 3, &epi).unwrap();
        assert_eq!(cf, [1.0, 0.0, 3.0, 1.0, 0.0, 3.0]);
    }
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

/// Every epilogue ingredient, per-row and per-tensor A parameters (zero points 0, 255, mixed), on
/// every path: vs the formula in f64, and `None`/`Relu` results bit-identical across paths.
#[test]
fn dequant_epilogue_matches_formula_and_paths_agree() {
    let (m, n, k) = (19, 37, 45);
    let mut rng = Lcg(3);
    let lda = a_row_len(k);
    let a = rng.u8s(m * lda);
    let w = rng.s8s(k * n);
    let scales = rng.f32s(n, 0.001, 0.02);
    let packed = pack_b_s8(k, n, &w, n, false, &scales).unwrap();
    let raw = reference_s32(m, n, k, &a, lda, &w);
    let colsum: Vec<i64> = (0..n)
        .map(|j| (0..k).map(|kk| w[kk * n + j] as i64).sum())
        .collect();
    let row_params: Vec<QParams> = (0..m)
        .map(|i| QParams {
            scale: 0.01 + i as f32 * 0.003,
            zero_point: [0u8, 255, 128, 3][i % 4],
        })
        .collect();
    let bias_c = rng.f32s(n, -1.0, 1.0);
    let bias_r = rng.f32s(m, -1.0, 1.0);
    let ldc = n + 1;
    let res = rng.f32s(m * ldc, -1.0, 1.0);
    let c0 = rng.f32s(m * ldc, -1.0, 1.0);
    for case in 0..8 {
        let params = match case % 3 {
            0 => AQuant::PerRow(&row_params),
            1 => AQuant::PerTensor(QParams {
                scale: 0.02,
                zero_point: 255,
            }),
            _ => AQuant::PerTensor(QParams {
                scale: 0.03,
                zero_point: 0,
            }),
        };
        let mut epi = Epilogue::none();
        match case {
            1 => epi.activation = Activation::Relu,
            2 => {
                epi.bias = Some(Bias::PerColumn(&bias_c));
                epi.residual = Some((&res, ldc));
                epi.activation = Activation::GeluErf;
            }
            3 => {
                epi.bias = Some(Bias::PerRow(&bias_r));
                epi.activation = Activation::GeluTanh;
            }
            4 => {
                epi.alpha = 0.125;
                epi.accumulate = true;
                epi.activation = Activation::Relu;
            }
            5 => epi.residual = Some((&res, ldc)),
            6 => epi.bias = Some(Bias::PerColumn(&bias_c)),
            _ => {}
        }
        let mut outs = vec![];
        for isa in Int8Isa::supported() {
            let mut c = c0.clone();
            let qa = QuantizedA {
                data: &a,
                ld: lda,
                params,
            };
            gemm_u8s8_f32(isa, m, n, k, &qa, &packed.as_ref(), &mut c, ldc, &epi).unwrap();
            for i in 0..m {
                let p = match params {
                    AQuant::PerRow(ps) => ps[i],
                    AQuant::PerTensor(p) => p,
                };
                for j in 0..n {
                    let exact = raw[i * n + j] as i64 - p.zero_point as i64 * colsum[j];
                    let mut v = exact as f64 * p.scale as f64 * scales[j] as f64 * epi.alpha as f64;
                    if epi.accumulate {
                        v += c0[i * ldc + j] as f64;
                    }
                    match epi.bias {
                        Some(Bias::PerColumn(b)) => v += b[j] as f64,
                        Some(Bias::PerRow(b)) => v += b[i] as f64,
                        None => {}
                    }
                    if let Some((r, ld)) = epi.residual {
                        v += r[i * ld + j] as f64;
                    }
                    let want = act64(v, epi.activation);
                    let got = c[i * ldc + j] as f64;
                    assert!(
                        (got - want).abs() <= 1e-5 * want.abs().max(1.0),
                        "{isa} case {case} ({i},{j}): {got} vs {want}"
                    );
                }
                assert_eq!(c[i * ldc + n], c0[i * ldc + n], "{isa}: wrote C padding");
            }
            outs.push((isa, c));
        }
        if matches!(epi.activation, Activation::None | Activation::Relu) {
            for (isa, c) in &outs[1..] {
                assert_eq!(
                    c, &outs[0].1,
                    "{isa} case {case}: not bit-identical to portable"
                );
            }
        }
    }
}

/// f32 activations and weights → quantize → int8 GEMM, vs the f32 product: the error of every
/// element stays within the rounding bound `Σ |x|·sw/2 + sa/2·|w| + sa·sw/4` (plus f32 slack).
#[test]
fn end_to_end_error_within_quantization_bound() {
    let (m, n, k) = (13, 29, 77);
    let mut rng = Lcg(11);
    let x = rng.f32s(m * k, -2.0, 3.0);
    let w = rng.f32s(n * k, -0.5, 0.5); // nn.Linear layout: n × k
    let packed = quantize_pack_b_s8(k, n, &w, k, true).unwrap();
    let lda = a_row_len(k);
    for isa in Int8Isa::supported() {
        for per_row in [true, false] {
            let mut qa = vec![0u8; m * lda];
            let mut params = vec![QParams::from_range(0.0, 0.0); m];
            let aq = if per_row {
                quantize_rows_u8(isa, &x, m, k, k, &mut qa, lda, &mut params).unwrap();
                AQuant::PerRow(&params)
            } else {
                AQuant::PerTensor(quantize_tensor_u8(isa, &x, m, k, k, &mut qa, lda).unwrap())
            };
            let mut c = vec![0f32; m * n];
            let a_op = QuantizedA {
                data: &qa,
                ld: lda,
                params: aq,
            };
            gemm_u8s8_f32(
                isa,
                m,
                n,
                k,
                &a_op,
                &packed.as_ref(),
                &mut c,
                n,
                &Epilogue::none(),
            )
            .unwrap();
            for i in 0..m {
                let sa = match aq {
                    AQuant::PerRow(p) => p[i].scale,
                    AQuant::PerTensor(p) => p.scale,
                } as f64;
                for j in 0..n {
                    let sw = packed.scales()[j] as f64;
                    let (mut exact, mut bound) = (0f64, 0f64);
                    for kk in 0..k {
                        let (xv, wv) = (x[i * k + kk] as f64, w[j * k + kk] as f64);
                        exact += xv * wv;
                        bound += xv.abs() * sw / 2.0 + sa / 2.0 * wv.abs() + sa * sw / 4.0;
                    }
                    let err = (c[i * n + j] as f64 - exact).abs();
                    assert!(
                        err <= bound * 1.001 + 1e-5,
                        "{isa} per_row {per_row} ({i},{j}): err {err} > bound {bound}"
                    );
                }
            }
        }
    }
}

#[test]
fn quantizer_paths_bit_identical_to_portable() {
    let mut rng = Lcg(5);
    for cols in [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 257] {
        let rows = 3;
        let mut x = rng.f32s(rows * cols, -5.0, 2.0);
        x[0] = f32::NAN;
        if cols > 4 {
            x[3] = -0.0;
            x[cols + 1] = 1e-30;
            // Exact ties of x/scale (values on the half-step grid) exercise half-to-even rounding.
            x[2] = 0.0;
        }
        let mut want = vec![0u8; rows * cols];
        let mut want_p = vec![QParams::from_range(0.0, 0.0); rows];
        quantize_rows_u8(
            Int8Isa::Portable,
            &x,
            rows,
            cols,
            cols,
            &mut want,
            cols,
            &mut want_p,
        )
        .unwrap();
        let mut want_t = vec![0u8; rows * cols];
        let pt =
            quantize_tensor_u8(Int8Isa::Portable, &x, rows, cols, cols, &mut want_t, cols).unwrap();
        for isa in Int8Isa::supported() {
            let mut got = vec![0u8; rows * cols];
            let mut got_p = want_p.clone();
            quantize_rows_u8(isa, &x, rows, cols, cols, &mut got, cols, &mut got_p).unwrap();
            assert_eq!(got, want, "{isa} cols {cols}");
            assert_eq!(got_p, want_p, "{isa} cols {cols}");
            let mut got_t = vec![0u8; rows * cols];
            assert_eq!(
                quantize_tensor_u8(isa, &x, rows, cols, cols, &mut got_t, cols).unwrap(),
                pt
            );
            assert_eq!(got_t, want_t, "{isa} cols {cols} (per tensor)");
        }
    }
}

/// Every quantizer path against the scalar definition (true division, half-to-even) on values
/// at, just beside and far from every half-step tie, at the clamp bounds, on subnormal, tiny and
/// huge scales, and on non-finite inputs (guards any shortcut such as a reciprocal multiply).
#[test]
fn quantizer_paths_match_the_division_at_ties_and_extremes() {
    let mut rng = Lcg(11);
    let scales = [
        5.0 / 255.0,
        0.019_607_844,
        1.0,
        3.7e-3,
        123.4,
        1e-39, // subnormal: its reciprocal overflows
        3e-38,
        1e37,
    ];
    for &scale in &scales {
        for zero_point in [0u8, 1, 77, 128, 254, 255] {
            let p = QParams { scale, zero_point };
            let mut x = Vec::new();
            for k in -300..300 {
                let tie = (k as f32 + 0.5) * scale;
                let on = k as f32 * scale;
                x.extend([
                    tie,
                    f32::from_bits(tie.to_bits() + 1),
                    f32::from_bits(tie.to_bits().wrapping_sub(1)),
                    on,
                ]);
            }
            x.extend(rng.f32s(997, -300.0 * scale, 300.0 * scale));
            x.extend([
                f32::NAN,
                f32::INFINITY,
                f32::NEG_INFINITY,
                0.0,
                -0.0,
                1e-45,
                f32::MAX,
                f32::MIN,
            ]);
            let want: Vec<u8> = x.iter().map(|&v| p.quantize(v)).collect();
            for isa in Int8Isa::supported() {
                let mut got = vec![0u8; x.len()];
                super::quantize::quantize_slice(isa, &x, &mut got, p);
                let bad = got.iter().zip(&want).position(|(g, w)| g != w);
                assert!(
                    bad.is_none(),
                    "{isa} scale {scale} zp {zero_point}: x = {:?}",
                    bad.map(|i| x[i])
                );
            }
        }
    }
}

#[test]
fn quantizer_ties_round_half_to_even_and_saturate() {
    // scale = 255/255 = 1 with min -100, max 155 → zp 100.
    let p = QParams::from_range(-100.0, 155.0);
    assert_eq!(
        p,
        QParams {
            scale: 1.0,
            zero_point: 100
        }
    );
    let x = [
        0.5f32,
        1.5,
        2.5,
        -0.5,
        -1.5,
        155.0,
        1000.0,
        -1000.0,
        f32::NAN,
        154.5,
    ];
    let mut out = [0u8; 10];
    for (o, &v) in out.iter_mut().zip(&x) {
        *o = p.quantize(v);
    }
    assert_eq!(out, [100, 102, 102, 100, 98, 255, 255, 0, 0, 254]);
    // The vector paths reproduce the scalar rule (per tensor over a row with range [-100, 155]).
    let mut xs = x.to_vec();
    xs.extend([-100.0, 155.0]);
    xs[6] = 155.0;
    xs[7] = -100.0;
    for isa in Int8Isa::supported() {
        let mut o = vec![0u8; 12];
        assert_eq!(
            quantize_tensor_u8(isa, &xs, 1, 12, 12, &mut o, 12).unwrap(),
            p,
            "{isa}"
        );
        assert_eq!(
            &o[..10],
            &[100, 102, 102, 100, 98, 255, 255, 0, 0, 254],
            "{isa}"
        );
    }
    // The ONNX DynamicQuantizeLinear example [0, 2, -3, -2.5, 1.34, 0.5] → scale 5/255, zp 153.
    // onnxruntime 1.x returns 179 for 0.5 (f32 0.5/scale rounds to exactly 25.5, a tie → 26);
    // the spec text's 178 comes from a float64 evaluation. We match onnxruntime.
    let p = QParams::from_range(-3.0, 2.0);
    assert_eq!(p.zero_point, 153);
    assert!((p.scale - 0.019_607_844).abs() < 1e-9);
    let q: Vec<u8> = [0.0, 2.0, -3.0, -2.5, 1.34, 0.5]
        .iter()
        .map(|&v| p.quantize(v))
        .collect();
    assert_eq!(q, [153, 255, 0, 26, 221, 179]);
    // All-zero input: scale 1, zp 0 (onnxruntime's rule for max == min).
    assert_eq!(
        QParams::from_range(0.0, 0.0),
        QParams {
            scale: 1.0,
            zero_point: 0
        }
    );
    // Positive-only and negative-only ranges give zero points 0 and 255.
    assert_eq!(QParams::from_range(1.0, 5.1).zero_point, 0);
    assert_eq!(QParams::from_range(-4.0, -1.0).zero_point, 255);
}

#[test]
fn weight_packing_layout_sums_and_transpose() {
    let (k, n) = (7, 19);
    let mut rng = Lcg(9);
    let w = rng.f32s(k * n, -1.0, 1.0);
    let p = quantize_pack_b_s8(k, n, &w, n, false).unwrap();
    assert_eq!(Some(p.data().len()), packed_b8_len(k, n));
    assert_eq!(p.data().len(), 2 * 2 * 64);
    assert_eq!(Some(p.col_sums().len()), packed_cols_len(n));
    assert_eq!(packed_b8_bytes(k, n), Some(2 * 2 * 64 + 32 * 8));
    for j in 0..n {
        let amax = (0..k).map(|kk| w[kk * n + j].abs()).fold(0f32, f32::max);
        assert_eq!(p.scales()[j], amax / 127.0);
        let mut sum = 0;
        for kk in 0..k {
            let q = p.get(kk, j).unwrap();
            assert!((-127..=127).contains(&q));
            assert!(
                (q as f32 * p.scales()[j] - w[kk * n + j]).abs() <= p.scales()[j] / 2.0 * 1.0001
            );
            sum += q as i32;
        }
        assert_eq!(p.col_sums()[j], sum);
        // The largest magnitude maps to ±127 exactly.
        assert!((0..k).any(|kk| p.get(kk, j).unwrap().unsigned_abs() == 127));
    }
    assert_eq!(&p.col_sums()[n..], &[0; 13]);
    // Padding k-rows (7 → 8) and columns (19 → 32) are zero.
    assert_eq!(p.data()[64 + 3], 0, "k pad (k 7) of column 0");
    for g in 0..2 {
        // Panel 1 (columns 16..32) starts at byte 128; its columns 19..32 are padding.
        assert!(
            p.data()[128 + g * 64 + 3 * 4..128 + (g + 1) * 64]
                .iter()
                .all(|&v| v == 0),
            "column pad, group {g}"
        );
    }
    let wt: Vec<f32> = (0..n * k).map(|i| w[(i % k) * n + i / k]).collect();
    assert_eq!(quantize_pack_b_s8(k, n, &wt, k, true).unwrap(), p);
    // Re-validating the packed bytes through the borrowed view accepts them.
    let view = PackedB8Ref::new(k, n, p.data(), p.col_sums(), p.scales()).unwrap();
    assert_eq!((view.k(), view.n()), (k, n));
}

#[test]
fn errors_name_the_operand() {
    let packed = pack_ones(5, 3, &[1; 15]);
    let b = packed.as_ref();
    let a = vec![0u8; 16];
    let mut c = vec![0i32; 6];
    let isa = Int8Isa::Portable;
    let err = gemm_u8s8_s32(isa, 2, 3, 5, &a, 7, &b, &mut c, 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "A (u8): lda 7 is smaller than round_up(k, 4) = 8"
    );
    let err = gemm_u8s8_s32(isa, 3, 3, 5, &a, 8, &b, &mut c, 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "A (u8): buffer holds 16 elements but the shape and strides need 24"
    );
    let err = gemm_u8s8_s32(isa, 2, 3, 4, &a, 8, &b, &mut c, 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "B (packed s8): packed for k = 5, n = 3 but the product needs k = 4, n = 3"
    );
    let err = gemm_u8s8_s32(isa, 2, 3, 5, &a, 8, &b, &mut c[..5], 3).unwrap_err();
    assert_eq!(
        err.to_string(),
        "C: buffer holds 5 elements but the shape and strides need 6"
    );
    let big = pack_ones(K_MAX + 1, 1, &vec![0; K_MAX + 1]);
    let err = gemm_u8s8_s32(isa, 0, 1, K_MAX + 1, &[], 0, &big.as_ref(), &mut c, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "int8 gemm: k = 65537 exceeds K_MAX = 65536 (i32 accumulators could overflow)"
    );
    let err = pack_b_s8(1, 2, &[3, -128], 2, false, &[1.0, 1.0]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "pack_b_s8 input: value -128 at k 0, column 1 (range is -127..=127)"
    );
    let err = quantize_pack_b_s8(2, 1, &[1.0, f32::NAN], 1, false).unwrap_err();
    assert_eq!(
        err.to_string(),
        "quantize_pack_b_s8 input: weight at k 1, column 0 is NaN"
    );
    let mut sums = packed.col_sums().to_vec();
    sums[1] += 1;
    let err = PackedB8Ref::new(5, 3, packed.data(), &sums, packed.scales()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "packed s8 column sums: column 1 sum is 6 but the weights sum to 5"
    );
    let mut data = packed.data().to_vec();
    data[5] = -128;
    let err = PackedB8Ref::new(5, 3, &data, packed.col_sums(), packed.scales()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "packed s8 weights: value -128 at k 1, column 1 (range is -127..=127)"
    );
    let mut params = [QParams::from_range(0.0, 0.0); 1];
    let mut out = [0u8; 4];
    let err = quantize_rows_u8(isa, &[0.0; 4], 2, 2, 2, &mut out, 2, &mut params).unwrap_err();
    assert_eq!(
        err.to_string(),
        "quantize params: buffer holds 1 elements but the shape and strides need 2"
    );
    let qa = QuantizedA {
        data: &a,
        ld: 8,
        params: AQuant::PerRow(&params),
    };
    let mut cf = vec![0f32; 6];
    let err = gemm_u8s8_f32(isa, 2, 3, 5, &qa, &b, &mut cf, 3, &Epilogue::none()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "A quantization params (per row): buffer holds 1 elements but the shape and strides need 2"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Round trip: every value inside the range comes back within half a step, 0 is exact,
    /// codes are monotone in x, and every path returns the portable bytes.
    #[test]
    fn quantize_round_trip(xs in prop::collection::vec(-1e3f32..1e3, 1..80), scale_pow in -6i32..3) {
        let f = 10f32.powi(scale_pow);
        let x: Vec<f32> = xs.iter().map(|v| v * f).collect();
        let cols = x.len();
        let mut q = vec![0u8; cols];
        let mut p = [QParams::from_range(0.0, 0.0)];
        quantize_rows_u8(Int8Isa::Portable, &x, 1, cols, cols, &mut q, cols, &mut p).unwrap();
        let p = p[0];
        prop_assert_eq!(p.dequantize(p.quantize(0.0)), 0.0);
        for (&v, &c) in x.iter().zip(&q) {
            let back = p.dequantize(c);
            prop_assert!((back - v).abs() <= p.scale * 0.5 * 1.001 + 1e-6 * v.abs(), "x {} back {} scale {}", v, back, p.scale);
        }
        let mut order: Vec<usize> = (0..cols).collect();
        order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
        for w in order.windows(2) {
            prop_assert!(q[w[0]] <= q[w[1]]);
        }
        for isa in Int8Isa::supported() {
            let mut q2 = vec![0u8; cols];
            let mut p2 = [QParams::from_range(0.0, 0.0)];
            quantize_rows_u8(isa, &x, 1, cols, cols, &mut q2, cols, &mut p2).unwrap();
            prop_assert_eq!(&q2, &q);
            prop_assert_eq!(p2[0], p);
        }
    }

    /// Random shapes and values: every path bit-exact against the integer reference.
    #[test]
    fn raw_random_shapes(m in 1usize..40, n in 1usize..70, k in 0usize..90, seed in 0u64..1000) {
        let mut rng = Lcg(seed);
        let lda = a_row_len(k) + (seed % 3) as usize;
        let a = rng.u8s(m * lda.max(1));
        let w = rng.s8s(k * n);
        for isa in Int8Isa::supported() {
            raw_case(isa, m, n, k, &a, lda, &w);
        }
    }
}

#[test]
fn packed_sizes_are_checked() {
    assert_eq!(quant_a_len(3, 5), Some(24));
    assert_eq!(quant_a_len(usize::MAX, 5), None);
    assert_eq!(quant_a_len(1, usize::MAX), None);
    assert_eq!(packed_b8_len(usize::MAX, 16), None);
    assert_eq!(packed_cols_len(usize::MAX), None);
    assert_eq!(packed_b8_bytes(4, usize::MAX - 3), None);
    assert_eq!(packed_b8_bytes(1 << 40, 1 << 30), None);
}
